"""Documents keep their shape through translation: only prose units change, and a
translation that would change anything else is caught (issue #14: parse, protect, verify).

The fixtures in tests/documents/ are one per kind of document a writer translates: the
handed cases (BOM + CRLF, Hugo shortcodes, math and footnotes), MDX, Obsidian, Jekyll,
Pelican, JSON front matter with a table, an HTML page and a plain-text file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.translation import document, protect

DOCUMENTS = Path(__file__).parent / "documents"
FIXTURES = sorted(p.name for p in DOCUMENTS.iterdir())

DOC = """---
title: Notes
tags: [a, b]
---

# A heading

First paragraph
wrapped over two lines.

- item one
- item two
  continued
  1. nested

> a quote
> over two lines

```python
print("never translated")
```

    indented code stays

| a | b |
|---|---|
| one | 2 |

<div>raw html <b>text</b> is prose</div>

Setext heading
--------------

Last line, with **bold** and a [link](https://example.com).
"""


def prefixes(doc: document.Document) -> list[tuple[str, str]]:
    """(what stands before each unit on its line, the unit's words)."""
    return [(doc.text[doc.text.rfind("\n", 0, u.start) + 1:u.start], u.text) for u in doc.units]


def reworded(doc: document.Document) -> list[str]:
    """A 'translation' of every unit: its prose words replaced, its protected spans kept,
    what has no prose left alone (what a well-behaved model does)."""
    out = []
    for unit in doc.units:
        masked = protect.mask(unit.text)
        words = re.sub(r"[^\W\d_]+", "Wort", masked.text)
        out.append(protect.restore(words, masked) if masked.prose else unit.text)
    return out


def load(name: str) -> document.Document:
    return document.split((DOCUMENTS / name).read_text(encoding="utf-8"),
                          document.format_of(name))


def test_units_are_the_prose_parts_and_their_markers_stay():
    doc = document.split(DOC)
    assert prefixes(doc) == [
        ("# ", "A heading"),
        ("", "First paragraph wrapped over two lines."),
        ("- ", "item one"),
        ("- ", "item two continued"),
        ("  1. ", "nested"),
        ("> ", "a quote over two lines"),
        ("| ", "a"), ("| a | ", "b"), ("| ", "one"), ("| one | ", "2"),
        ("<div>", "raw html <b>text</b> is prose"),
        ("", "Setext heading"),
        ("", "Last line, with **bold** and a [link](https://example.com)."),
    ]
    assert [u.escape for u in doc.units][6:11] == ["cell"] * 4 + ["html"]


@pytest.mark.parametrize("name", FIXTURES)
def test_an_identity_translation_gives_back_every_byte(name):
    doc = load(name)
    assert doc.units and all("MDX component" in note for note in doc.notes)
    assert doc.assemble([u.text for u in doc.units]) == doc.text
    assert doc.verify(doc.text) is None


@pytest.mark.parametrize("name", FIXTURES)
def test_a_well_behaved_translation_passes_verification_and_keeps_the_markup(name):
    doc = load(name)
    output = doc.assemble(reworded(doc))
    assert output != doc.text
    assert doc.verify(output) is None
    for kind, item in doc.pieces():
        if kind == "verbatim":
            assert item in output


def test_translations_land_in_place():
    doc = document.split("# Title\n\nBody text.\n\n- one\n- two\n")
    assert doc.assemble(["标题", "正文。", "一", "二"]) == "# 标题\n\n正文。\n\n- 一\n- 二\n"


def test_pieces_stream_in_document_order():
    doc = document.split("Intro.\n\n```\ncode\n```\n\nOutro.")
    assert [kind for kind, _ in doc.pieces()] == ["unit", "verbatim", "unit"]


def test_plain_text_and_chinese_wrapping():
    doc = document.split("第一行\n第二行\n\nsecond paragraph")
    assert [u.text for u in doc.units] == ["第一行第二行", "second paragraph"]


@pytest.mark.parametrize("name, prose, never", [
    ("docusaurus.mdx", ["Pick the way that suits your machine.", "Keep it current",
                        "That is all there is to it.",
                        "The installer needs about two gigabytes of free space.",
                        "<Highlight>fast</Highlight> builds start in a second."],
     ["import Tabs", "export const", "Ann Lee", "TabItem", "Install it with Homebrew.", "brew",
      ":::"]),
    ("obsidian.md", ["What stayed with me", "Slow reading makes the book longer and the week "
                     "shorter.", "Spoilers", "one line,", "another line.", "And a last one.",
                     "A word that needs a definition.", "[ ] Finish the book"],
     ["[!tip]", "[!warning]", "private comment", "two paragraphs"]),
    ("jekyll.md", ["Liquid prints {{ page.title }} wherever you put it.",
                   "The last paragraph is plain prose."],
     ["layout", "include", "Write {{ this }}", "puts", "Nobody reads this."]),
    ("pelican.md", ["The harbour was empty at dawn.", "Only the gulls were working."],
     ["A quiet harbour", "Boats, gulls"]),
    ("hugo-json.md", ["Seeds go in when the soil is warm.", "Water them **every** morning.",
                      "Days to sprout", "Bean \\| pole", "Done for the season"],
     ['"title"', "fmt.Println", "notice", "frac"]),
    ("page.html", ["A walk by the river", "Tom &amp; Jerry came along; use <code>--fast</code> "
                   "to skip ahead.", "Coffee in a flask"],
     ["console.log", "river --level", "draft", "color"]),
    ("notes.txt", ["The first paragraph of a plain text file, wrapped over two lines.",
                   "# Not a heading in a text file, just a line.", "1. Nor is this a list."], []),
])
def test_each_kind_of_document_sends_its_prose_and_only_its_prose(name, prose, never):
    units = [u.text for u in load(name).units]
    for text in prose:
        assert text in units
    for text in never:
        assert not any(text in unit for unit in units), text


def test_a_paired_shortcode_keeps_its_lines_and_its_inner_text_is_translated():
    doc = load("garden-log.md")
    output = doc.assemble(reworded(doc))
    assert "{{% notice tip %}}" in output and "{{% /notice %}}" in output
    assert "Water the seedlings" not in output


@pytest.mark.parametrize("translation, problem", [
    ("# Wort", "'#' appeared"),
    ("1. Wort", "appeared"),
    ("Wort\n\n- Wort", None),  # a paragraph is one line: "Wort - Wort"
    ("Wort `code", None),  # an unclosed backtick stays inline: nothing breaks
    ("```\nWort", "0 pieces"),  # "``` Wort" opens a code block
    ("<div>Wort", "appeared"),
])
def test_a_translation_that_would_change_the_structure_is_caught(translation, problem):
    doc = document.split("Intro text here.\n\n- an item\n\nThe end.\n")
    found = doc.check_unit(0, translation)
    whole = doc.verify(doc.assemble([translation, "ein Punkt", "Ende."]))
    if problem is None:
        assert found is None and whole is None
    else:
        assert problem in found and whole is not None


def test_lost_or_doubled_protected_text_is_caught_by_the_whole_document_check():
    doc = load("averages.md")
    outputs = reworded(doc)
    index = next(i for i, u in enumerate(doc.units) if "[^1]" in u.text)
    outputs[index] = outputs[index].replace("[^1]", "")
    assert "lost '[^1]'" in doc.verify(doc.assemble(outputs))
    outputs[index] = "Wort [^1] [^1]"
    assert doc.verify(doc.assemble(outputs)) is not None


def test_a_pipe_in_a_cell_and_markup_in_html_are_escaped_where_they_land():
    doc = load("hugo-json.md")
    cell = next(i for i, u in enumerate(doc.units) if u.text == "Days to sprout")
    assert doc.render(cell, "Tage | bis") == "Tage \\| bis"
    html = load("page.html")
    assert html.render(4, "Stiefel & < Socken") == "Stiefel &amp; &lt; Socken"
    assert html.check_unit(4, "Stiefel & < Socken") is None


@pytest.mark.parametrize("header", [
    '{\n  "title": "x",\n  "tags": ["a"]\n}\n',
    "+++\ntitle = 'x'\n+++\n",
    "---\ntitle: x\n---\n",
    "Title: x\nDate: 2020-01-01\n",
])
def test_every_kind_of_front_matter_is_kept_byte_for_byte(header):
    doc = document.split(header + "\nBody text here.\n")
    assert [u.text for u in doc.units] == ["Body text here."]
    assert doc.assemble(["Text."]).startswith(header)


def test_a_byte_order_mark_does_not_hide_a_heading_or_a_header():
    assert prefixes(document.split("\ufeff# Title\n\nBody.")) == [("\ufeff# ", "Title"),
                                                                  ("", "Body.")]
    assert [u.text for u in document.split("\ufeff---\ntitle: x\n---\n\nBody.").units] == [
        "Body."]


def test_an_mdx_component_with_words_is_kept_and_said_so():
    doc = load("docusaurus.mdx")
    assert doc.notes == ["the MDX component on line 16 (its text is kept as it is)"]


def test_format_follows_the_extension():
    assert [document.format_of(n) for n in ("a.md", "b.mdx", "c.HTML", "d.txt", None)] == [
        "markdown", "markdown", "html", "text", "markdown"]


# --- property: any document built from the constructs survives any prose translation ------

_WORDS = st.lists(st.sampled_from(["slow", "river", "morning", "tea", "sehr", "花园", "quiet",
                                   "gulls", "bridge", "hand"]), min_size=1, max_size=6)
_SPANS = st.sampled_from(["`x = 1`", "[a link](https://e.org/a_b)", "[^1]", "$x^2$",
                          "<kbd>Ctrl</kbd>", "{{< ref \"a.md\" >}}", "https://e.org/x",
                          "![img](/i.png \"t\")", "**bold**", "[[page|alias]]", "&amp;"])


@st.composite
def sentence(draw) -> str:
    words = draw(_WORDS)
    if draw(st.booleans()):
        words.insert(draw(st.integers(0, len(words))), draw(_SPANS))
    return " ".join(words).capitalize() + "."


@st.composite
def block(draw) -> str:
    kind = draw(st.sampled_from(["para", "heading", "list", "olist", "quote", "fence", "math",
                                 "table", "shortcode", "container", "callout", "footnote",
                                 "html", "raw", "hr", "break", "esm", "comment", "jsx"]))
    s = draw(sentence())
    return {
        "para": s + "\n" + draw(sentence()),
        "heading": "#" * draw(st.integers(1, 4)) + " " + s,
        "list": "\n".join(f"- {draw(sentence())}" for _ in range(draw(st.integers(1, 3)))),
        "olist": "\n".join(f"{i}. {draw(sentence())}" for i in range(1, 3)),
        "quote": f"> {s}\n> {draw(sentence())}",
        "fence": f"```python\nprint({s!r})\n```",
        "math": "$$\n\\sum_i x_i\n$$",
        "table": f"| {s} | 2 |\n|---|---|\n| {draw(sentence())} | 3 |",
        "shortcode": f"{{{{% notice %}}}}\n{s}\n{{{{% /notice %}}}}",
        "container": f":::note\n{s}\n:::",
        "callout": f"> [!tip] {s}\n> {draw(sentence())}",
        "footnote": f"Text with a note.[^1]\n\n[^1]: {s}",
        "html": f"<p>{s}</p>",
        "raw": f"{{% raw %}}\n{s}\n{{% endraw %}}",
        "hr": "---",
        "break": f"{s}  \n{draw(sentence())}",
        "esm": f"export const meta = {{\n  title: {s!r},\n}};",
        "comment": f"%%\n{s}\n\n{draw(sentence())}\n%%",
        "jsx": f'<Note kind="tip">\n  {s}\n</Note>',
    }[kind]


@st.composite
def markdown_document(draw) -> str:
    header = draw(st.sampled_from(["", "---\ntitle: T\n---\n\n", "+++\ntitle = 'T'\n+++\n\n"]))
    blocks = draw(st.lists(block(), min_size=1, max_size=6))
    return header + "\n\n".join(blocks) + draw(st.sampled_from(["", "\n"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdown_document())
def test_property_identity_is_exact_and_reworded_prose_keeps_the_shape(text):
    doc = document.split(text)
    assert doc.assemble([u.text for u in doc.units]) == text
    output = doc.assemble(reworded(doc))
    assert doc.verify(output) is None, output
