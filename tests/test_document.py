"""Documents keep their shape through translation: only prose units change."""

from __future__ import annotations

from engine.translation import document

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
| 1 | 2 |

<div>raw html stays</div>

Setext heading
--------------

Last line, with **bold** and a [link](https://example.com).
"""


def test_units_are_the_prose_parts_with_their_prefixes():
    doc = document.split(DOC)
    assert [(u.prefix, u.text) for u in doc.units] == [
        ("# ", "A heading"),
        ("", "First paragraph wrapped over two lines."),
        ("- ", "item one"),
        ("- ", "item two continued"),
        ("  1. ", "nested"),
        ("> ", "a quote over two lines"),
        ("", "Setext heading"),
        ("", "Last line, with **bold** and a [link](https://example.com)."),
    ]


def test_identity_translation_keeps_everything_but_line_wrapping():
    doc = document.split(DOC)
    out = doc.assemble([u.text for u in doc.units])
    for verbatim in ('---\ntitle: Notes\ntags: [a, b]\n---', '```python\nprint("never translated")'
                     '\n```', "    indented code stays", "| a | b |\n|---|---|\n| 1 | 2 |",
                     "<div>raw html stays</div>", "Setext heading\n--------------"):
        assert verbatim in out
    assert out.endswith("(https://example.com).\n")
    assert out.count("\n\n") == DOC.count("\n\n")


def test_translations_land_in_place():
    doc = document.split("# Title\n\nBody text.\n\n- one\n- two\n")
    assert doc.assemble(["标题", "正文。", "一", "二"]) == "# 标题\n\n正文。\n\n- 一\n- 二\n"


def test_pieces_stream_in_document_order():
    doc = document.split("Intro.\n\n```\ncode\n```\n\nOutro.")
    kinds = [kind for kind, _ in doc.pieces()]
    assert kinds == ["unit", "verbatim", "unit"]


def test_plain_text_and_chinese_wrapping():
    doc = document.split("第一行\n第二行\n\nsecond paragraph")
    assert [u.text for u in doc.units] == ["第一行第二行", "second paragraph"]
