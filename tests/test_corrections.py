"""A correction is cut into paragraphs the way its translation was: HTML as HTML, plain text
as plain text; a `*` or `#` the user typed is their words, never Markdown's markup."""

from __future__ import annotations

from engine.pairs import corrections
from engine.translation import document
from engine.translation.translate import TranslationResult, UnitResult


def history_row(store, source: str, output: str, fmt: str) -> dict:
    """A translation of `source` in `fmt` saved in the history and read back, its units
    cut as the translator cuts them (the machine output given paragraph by paragraph)."""
    sources = [u.text for u in document.split(source, fmt).units]
    outputs = [u.text for u in document.split(output, fmt).units]
    result = TranslationResult(
        source_text=source, output=output, source_lang="de", target_lang="en",
        units=[UnitResult(s, o) for s, o in zip(sources, outputs, strict=True)], tokens_in=0,
        tokens_out=0, ttft_ms=None, total_ms=0.0, warnings=[], settings={})
    return store.translation(store.add_translation(model_id=None, model_name="test",
                                                   result=result))


def changed(pairs: list[dict]) -> list[tuple[str, str]]:
    return [(p["meta"].get("machine_output"), p["target_text"]) for p in pairs]


def test_a_plain_text_correction_keeps_its_hashes_stars_and_numbers(store):
    row = history_row(store, "Preis: *wichtig* ist es\n\n# kein Titel\n\n1. eins\n",
                      "Price: *important* it is\n\n# no title\n\n1. one\n", "text")
    assert corrections.format_of(row) == "text"
    pairs = corrections.correction_pairs(
        row, "Cost: *important* it is\n\n# not a title\n\n1. one")
    # Read as Markdown, "# not a title" lost its "#" and the untouched "1. one" became "one",
    # a change the user never made.
    assert changed(pairs) == [("Price: *important* it is", "Cost: *important* it is"),
                              ("# no title", "# not a title")]


def test_an_html_correction_is_read_as_html(store):
    source = "<div>\n<p>Erster Absatz hier.</p>\n<p>Zweiter Absatz, 5 * 3.</p>\n</div>\n"
    output = "<div>\n<p>First paragraph here.</p>\n<p>Second paragraph, 5 * 3.</p>\n</div>\n"
    row = history_row(store, source, output, "html")
    assert corrections.format_of(row) == "html"
    # Re-indented by the user's editor: as Markdown, indented lines are a code block and the
    # paragraphs vanish (then the whole text was one pair).
    corrected = ("<div>\n\n    <p>First paragraph, *rewritten* here.</p>\n\n"
                 "    <p>Second paragraph, 5 * 3.</p>\n\n</div>")
    assert changed(corrections.correction_pairs(row, corrected)) == [
        ("First paragraph here.", "First paragraph, *rewritten* here.")]


def test_markdown_stays_the_default(store):
    row = history_row(store, "Ein **fetter** Satz.\n\nNoch einer.\n",
                      "A **bold** sentence.\n\nAnother one.\n", "markdown")
    assert corrections.format_of(row) == "markdown"
    assert changed(corrections.correction_pairs(row, "A **bold** line.\n\nAnother one.")) == [
        ("A **bold** sentence.", "A **bold** line.")]
    assert corrections.format_of({**row, "settings": {"format": "text"}}) == "text"
