"""Only prose goes to the model, and nothing comes back broken (issue #14, first part):
protected spans become ⟦n⟧ placeholders and are put back; a paragraph whose spans do not
all come back is retried once and then kept as it was, with a warning that says what was
lost. The documents are the handed cases 04–06 (tests/documents/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.translation import document, protect, source_file
from engine.translation.backends import Backend, Usage
from engine.translation.translate import Translator

DOCUMENTS = Path(__file__).parent / "documents"


class EchoBackend(Backend):
    """Returns the text it is asked to translate, or `rewrite` of it: the stand-in for a
    model whose only job here is to keep or lose placeholders."""

    prompt_style = "chat"

    def __init__(self, rewrite=lambda text: text):
        self.rewrite, self.asked = rewrite, []

    def stream(self, request):
        text = request.messages[-1]["content"]
        self.asked.append((text, request.messages[0]["content"]))
        yield self.rewrite(text)
        yield Usage(prompt_tokens=len(text), completion_tokens=len(text))


@pytest.mark.parametrize("text, spans", [
    ("Run `python stats.py --median` to print it.", ["`python stats.py --median`"]),
    ('Read the [notes](https://example.org/a.html "Notes") first.',
     ["[", '](https://example.org/a.html "Notes")']),
    ('![A histogram](/img/skew.png "Skewed")', ["![", '](/img/skew.png "Skewed")']),
    ("Pulled toward its largest values.[^1]", ["[^1]"]),
    ('See the [notes]({{< ref "watering.md" >}}) for it.', ["[", ']({{< ref "watering.md" >}})']),
    ("Planting the beds {#planting}", ["{#planting}"]),
    ("It costs $5 and $10, and $x^2$ is math.", ["$x^2$"]),
    ("Visit https://example.org/a/b, or <https://x.y/z>.", ["https://example.org/a/b",
                                                            "<https://x.y/z>"]),
    ("Press <kbd>Ctrl</kbd> now, {% raw %}{{ page }}{% endraw %}.",
     ["<kbd>Ctrl</kbd>", "{% raw %}", "{{ page }}", "{% endraw %}"]),
    ("A note %%hidden from readers%% here.", ["%%hidden from readers%%"]),
    # A collapsed or shortcut reference's text is its label: translated, the link is dead.
    ("Read the [manual][] or the [manual] today.", ["[manual][]", "[manual]"]),
    ("A [full reference][man] is text.", ["[", "][man]"]),
    ("prints more \\| verbose output", ["\\|"]),
])
def test_spans_are_masked_and_restored_exactly(text, spans):
    masked = protect.mask(text)
    assert masked.spans == spans
    assert not any(span in masked.text for span in spans)
    assert protect.restore(masked.text, masked) == text


def test_a_model_that_loses_doubles_or_invents_a_marker_is_caught():
    masked = protect.mask("Run `make` and `make test`.")
    with pytest.raises(protect.LostSpans, match="lost '`make test`'"):
        protect.restore("运行 ⟦1⟧。", masked)
    with pytest.raises(protect.LostSpans, match="repeated '`make`'"):
        protect.restore("⟦1⟧ ⟦1⟧ ⟦2⟧", masked)
    with pytest.raises(protect.LostSpans, match="invented markers ⟦3⟧"):
        protect.restore("⟦1⟧ ⟦2⟧ ⟦3⟧", masked)
    assert protect.restore("先 ⟦2⟧ 后 ⟦1⟧", masked) == "先 `make test` 后 `make`"  # order free


def test_a_link_turned_around_or_stretched_over_the_sentence_is_caught():
    """Trial finding: "Term with *emphasis* and a [link](http://a.b/c)." came back as one
    link around the whole sentence."""
    masked = protect.mask("Term with emphasis and a [link](http://a.b/c) here.")
    with pytest.raises(protect.LostSpans, match="whole sentence"):
        protect.restore("⟦1⟧我写这篇文章是为了表达我的观点。⟦2⟧", masked)
    with pytest.raises(protect.LostSpans, match="turned around"):
        protect.restore("一个⟦2⟧链接⟦1⟧在这里。", masked)
    assert protect.restore("这里有一个⟦1⟧链接⟦2⟧。", masked) == \
        "这里有一个[链接](http://a.b/c)。"
    whole = protect.mask("[The whole sentence is a link](http://a.b/c)")
    assert protect.restore("⟦1⟧整句话是一个链接⟦2⟧", whole) == "[整句话是一个链接](http://a.b/c)"


FIXTURES = sorted(p.name for p in DOCUMENTS.iterdir())


@pytest.mark.parametrize("name", FIXTURES)
def test_an_identity_model_gives_every_document_back_byte_for_byte(name):
    data = (DOCUMENTS / name).read_bytes()
    text, envelope = source_file.read_bytes(data, name)
    backend = EchoBackend()
    result = Translator(backend).translate(text, source="en", target="zh",
                                           format=document.format_of(name))
    assert envelope.apply(result.output).encode() == data
    assert not [w for w in result.warnings if "Kept" in w or (
        "Not translated" in w and "MDX component" not in w)]
    sent = " ".join(t for t, _ in backend.asked)
    for markup in ("{{<", "{{%", "$$", "title", "](", "`", "[^1]", "{#planting}", "+++",
                   "import ", "<p>", "<em>", "{%", "[!tip]", "[[", "console", "\\bar"):
        assert markup not in sent, markup  # only prose (and placeholders) reached the model


def _drop(text):
    return re.sub("⟦\\d+⟧", "", text, count=1)


def _double(text):
    return re.sub("(⟦\\d+⟧)", "\\1 \\1", text, count=1)


def _rewrite(text):
    return re.sub("⟦(\\d+)⟧", "[\\1]", text)


def _heading(text):
    return "# " + text


def _new_blocks(text):
    return text + "\n\n```\n" + text


def _list(text):
    return "1. " + text


@pytest.mark.parametrize("hostile", [_drop, _double, _rewrite, _heading, _new_blocks, _list])
@pytest.mark.parametrize("name", FIXTURES)
def test_a_hostile_model_never_breaks_a_document_silently(name, hostile):
    """Whatever a model does to placeholders or structure, the document comes back whole:
    each paragraph either passed its checks or stands in its source text with a warning
    naming it (and the hostile model only ever saw prose and placeholders)."""
    text, _ = source_file.read_bytes((DOCUMENTS / name).read_bytes(), name)
    format = document.format_of(name)
    doc = document.split(text, format)
    backend = EchoBackend(rewrite=hostile)
    result = Translator(backend).translate(text, source="en", target="zh", format=format)
    assert doc.verify(result.output) is None
    named = " ".join(w for w in result.warnings if "Kept untranslated" in w)
    for index, unit in enumerate(result.units):
        masked = protect.mask(unit.source)
        if unit.output != unit.source:  # changed: it passed every check
            assert doc.check_unit(index, unit.output) is None
            assert sorted(protect.mask(unit.output).spans) == sorted(masked.spans)
        elif masked.prose and masked.spans and hostile in (_drop, _double, _rewrite):
            assert f"Line {doc.units[index].line + 1} (“" in named
    if format == "markdown" and hostile in (_heading, _list):  # prose breaks the shape too
        assert named


def test_a_model_that_drops_placeholders_leaves_the_paragraph_as_it_was_and_says_so():
    text = "# Title\n\nRead the [notes](https://example.org/n.html) before `make` runs.\n"
    backend = EchoBackend(rewrite=lambda t: "读一下笔记。")
    result = Translator(backend).translate(text, source="en", target="zh")
    assert "[notes](https://example.org/n.html) before `make` runs." in result.output
    [warning] = [w for w in result.warnings if "Kept untranslated" in w]
    assert "https://example.org/n.html" in warning and "`make`" in warning
    assert len(backend.asked) == 3  # the title, and the paragraph twice: once strictly
    assert "Keep every marker" in backend.asked[-1][1]


def test_generator_markup_lines_and_math_blocks_never_reach_the_model():
    doc = document.split((DOCUMENTS / "garden-log.md").read_text())
    texts = [u.text for u in doc.units]
    assert "Water the seedlings in the morning, not at night." in texts
    assert not [t for t in texts if "{{% notice" in t or "figure" in t or "column-end" in t]
    math = document.split((DOCUMENTS / "averages.md").read_text())
    assert not [u for u in math.units if "\\bar" in u.text]


def test_the_envelope_keeps_bom_line_endings_and_the_last_newline():
    for data in (b"\xef\xbb\xbf---\r\na: 1\r\n---\r\n\r\nText.\r\n", b"Text\nmore", b"x\n"):
        envelope = document.Envelope.of(data)
        text = data.decode("utf-8-sig").replace("\r\n", "\n")
        assert envelope.apply(text).encode() == data


def test_a_paragraph_too_long_for_one_request_is_cut_at_sentence_ends():
    """Item 4 of issue #14: not refused — translated in pieces that fit, and joined."""
    sentences = [f"Sentence number {i} says one plain thing about the harbour." for i in range(8)]
    text = " ".join(sentences) + "\n"
    backend = EchoBackend()
    backend.context_tokens = 160  # about two sentences and their budget per request
    result = Translator(backend).translate(text, source="en", target="fr")
    assert result.output == text  # every sentence, in order, once
    assert 2 < len(backend.asked) <= 8
    assert any("translated in" in w and "pieces" in w for w in result.warnings)
    backend.asked.clear()
    chinese = "我们今天走到港口，看了很久的船，然后回家。" * 8
    output = Translator(backend).translate(chinese, source="zh", target="en").output
    assert len(backend.asked) > 1
    assert all(" " not in text for text, _ in backend.asked)  # Chinese pieces: no spaces
    assert output.replace(" ", "") == chinese  # English joins its pieces with spaces


@pytest.mark.parametrize("answer, why", [
    ("我写这篇文章是为了理清思路。", "answered with one of its prompt's examples"),
    ("⟦1⟧", "returned no words"),
    ("", "returned nothing"),
])
def test_an_answer_that_is_no_translation_is_retried_then_the_source_kept(answer, why):
    """Trial findings: "About the author" came back as a few-shot example's sentence; a
    heading came back as its anchor alone; a 2,000-character paragraph as "早上好。"."""
    text = "## About the author {#author}\n\nRead the `README` first, then write.\n"
    backend = EchoBackend(rewrite=lambda t: answer)
    result = Translator(backend).translate(text, source="en", target="zh")
    assert result.output == text
    assert len(backend.asked) == 4  # each paragraph twice: once more, strictly
    assert [u.source for u in result.units] == ["About the author", "Read the `README` "
                                                "first, then write."]
    kept = [w for w in result.warnings if "Kept untranslated" in w]
    assert len(kept) == 2 and all(why in w for w in kept)
    assert kept[0].startswith("Line 1 (“About the author”)")


def test_a_heading_anchor_stays_at_the_end_and_never_reaches_the_model():
    backend = EchoBackend(rewrite=lambda t: "关于作者")
    result = Translator(backend).translate("## About the author {#author}\n", source="en",
                                           target="zh")
    assert result.output == "## 关于作者 {#author}\n"
    assert "{#author}" not in backend.asked[0][0]


def test_lost_emphasis_is_a_warning():
    backend = EchoBackend(rewrite=lambda t: t.replace("*", ""))
    result = Translator(backend).translate("A *slow* morning, and **no** phone at all.\n",
                                           source="en", target="fr")
    assert result.output == "A slow morning, and no phone at all.\n"
    assert any("lost the source's *emphasis* ×1, **bold** ×1" in w for w in result.warnings)
