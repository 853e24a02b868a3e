"""Plain text → segments: blank lines separate paragraphs; hard-wrapped lines are joined."""

from __future__ import annotations

import re

from engine.corpus import parsed
from engine.corpus.blocks import classify_paragraph
from engine.corpus.cleanup import join_lines

_LIST_ITEM = re.compile(r"^\s*(?:[-*•·]|\d+[.)、])\s+")


def segments(text: str) -> list[parsed.Segment]:
    out: list[parsed.Segment] = []
    for chunk in re.split(r"\n\s*\n", text):
        lines = [ln for ln in chunk.split("\n") if ln.strip()]
        if not lines:
            continue
        source = "\n".join(lines)
        if all(_LIST_ITEM.match(ln) for ln in lines) and len(lines) > 1:
            items = [_LIST_ITEM.sub("", ln).strip() for ln in lines]
            out.append(parsed.Segment(parsed.LIST, "\n".join(items), source))
            continue
        words = join_lines(lines)
        segment = classify_paragraph(text=words, text_outside_links=words, images=0, links=0,
                                     raw=source)
        if segment is not None:
            out.append(segment)
    return out
