"""Markdown → segments, with markdown-it-py (CommonMark + tables).

Each top-level block becomes one segment with its kind, its words and its original
Markdown (the block's source lines). Only ordinary paragraphs can be prose; code,
tables, images, raw HTML, template tags and link-only lines never are.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

from engine.corpus import parsed
from engine.corpus.blocks import classify_paragraph
from engine.corpus.cleanup import BREAK_MARK, fold_spaces, join_lines

_FOOTNOTE_REF = re.compile(r"^\^\S+$")
_WIKI_EMBED = re.compile(r"!\[\[[^\]]*\]\]")  # Obsidian ![[image.png]]
_WIKI_LINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")  # [[Page|shown text]]
_FOOTNOTE_DEFINITION = re.compile(r"^\[\^[^\]\s]+\]:")
_HTML_COMMENT = re.compile(r"^\s*<!--.*?-->\s*$", re.DOTALL)
_MATH_FENCES = {"math", "latex", "tex", "katex"}
# Footnote references left as text ([^1]), heading ids ({#my-id}), kramdown's {:toc}.
_LEFTOVER_MARKUP = re.compile(r"\[\^[^\]\s]+\]|\s*\{#[^}]*\}|\s*\{:[^}]*\}")
_NO_SPACE_BEFORE = set(",.;:!?)]…。，、；：！？）」』")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def segments(body: str) -> list[parsed.Segment]:
    body = _WIKI_LINK.sub(r"\1", _WIKI_EMBED.sub("", body))
    lines = body.split("\n")
    tokens = _parser().parse(body)
    out: list[parsed.Segment] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        close = _closing_index(tokens, i)
        block = tokens[i:close + 1]
        source = _source(lines, token)
        segment = _block_segment(token, block, source)
        if segment is not None:
            out.append(segment)
        i = close + 1
    return out


def _closing_index(tokens: list[Token], start: int) -> int:
    """Index of the token that closes the block opened at `start` (itself if self-contained)."""
    if tokens[start].nesting != 1:
        return start
    depth = 0
    for j in range(start, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


def _source(lines: list[str], token: Token) -> str:
    if not token.map:
        return token.content
    start, end = token.map
    return "\n".join(lines[start:end]).strip("\n")


def _block_segment(token: Token, block: list[Token], source: str) -> parsed.Segment | None:
    kind = token.type
    if kind == "heading_open":
        return _words_segment(parsed.HEADING, block, source)
    if kind == "paragraph_open":
        return _paragraph(block[1], source)
    if kind in ("bullet_list_open", "ordered_list_open"):
        return _words_segment(parsed.LIST, block, source)
    if kind == "blockquote_open":
        return _words_segment(parsed.QUOTE, block, source)
    if kind == "fence":
        lang = (token.info or "").strip().split(" ")[0].lower()
        kind_ = parsed.MATH if lang in _MATH_FENCES else parsed.CODE
        return parsed.Segment(kind_, token.content.rstrip("\n"), source)
    if kind == "code_block":
        return parsed.Segment(parsed.CODE, token.content.rstrip("\n"), source)
    if kind == "table_open":
        return parsed.Segment(parsed.TABLE, _table_text(block), source)
    if kind == "html_block":
        if _HTML_COMMENT.match(token.content):  # <!--more--> and friends
            return None
        return parsed.Segment(parsed.HTML, _html_text(token.content), source)
    return None  # hr, and anything a plugin might add


def _words_segment(kind: str, block: list[Token], source: str) -> parsed.Segment | None:
    texts = [_inline_words(t)[0] for t in block if t.type == "inline"]
    text = fold_spaces("\n".join(t for t in texts if t.strip()))
    return parsed.Segment(kind, text, source) if text else None


def _paragraph(inline: Token, source: str) -> parsed.Segment | None:
    text, outside, images, links, had_html = _inline_words(inline)
    if _FOOTNOTE_DEFINITION.match(source):
        return parsed.Segment(parsed.FOOTNOTE, text.lstrip(": "), source)
    return classify_paragraph(text=text, text_outside_links=outside, images=images, links=links,
                              raw=source, had_html=had_html)


def _inline_words(inline: Token) -> tuple[str, str, int, int, bool]:
    """Reduce inline Markdown to its words: (text, text outside links, #images, #links, html?)."""
    lines: list[list[str]] = [[]]  # text pieces per source line, for CJK-aware joining
    outside: list[list[str]] = [[]]
    images = links = 0
    had_html = False
    link_depth = 0
    drop_link_text = False
    dropped = False  # something between words was removed: mind the spaces around it

    def add(content: str, *, in_link: bool) -> None:
        nonlocal dropped
        for target in (lines, outside) if not in_link else (lines,):
            if dropped and content[:1] not in _NO_SPACE_BEFORE and not content[:1].isspace() \
                    and target[-1]:
                target[-1].append(" ")
            target[-1].append(content)
        dropped = False

    def drop() -> None:
        nonlocal dropped
        for target in (lines, outside):
            if target[-1]:
                target[-1][-1] = target[-1][-1].rstrip()
        dropped = True

    def new_line(*, hard: bool) -> None:
        for target in (lines, outside):
            if hard:
                target.append([BREAK_MARK])
            target.append([])

    for child in inline.children or []:
        t = child.type
        if t in ("text", "code_inline"):
            content = child.content
            if link_depth and (drop_link_text or _FOOTNOTE_REF.match(content)):
                drop()
                continue
            if content:
                add(content, in_link=bool(link_depth))
        elif t == "softbreak":
            new_line(hard=False)
        elif t == "hardbreak":
            new_line(hard=True)
        elif t == "link_open":
            link_depth += 1
            links += 1
            # Autolinks (<https://…>) show the URL itself: drop it.
            drop_link_text = child.markup in ("autolink", "linkify")
        elif t == "link_close":
            link_depth = max(0, link_depth - 1)
            drop_link_text = False
        elif t == "image":
            images += 1
            drop()
        elif t == "html_inline":
            had_html = True
            if re.match(r"<br\s*/?>", child.content, re.IGNORECASE):
                new_line(hard=True)
            else:
                drop()
    return _join(lines), _join(outside), images, links, had_html


def _join(lines: list[list[str]]) -> str:
    text = join_lines(["".join(pieces) for pieces in lines])
    text = _LEFTOVER_MARKUP.sub("", text)
    return re.sub(rf"\s*{BREAK_MARK}\s*", "\n", text).strip()


def _table_text(block: list[Token]) -> str:
    rows: list[list[str]] = []
    for t in block:
        if t.type == "tr_open":
            rows.append([])
        elif t.type == "inline" and rows:
            rows[-1].append(_inline_words(t)[0])
    return "\n".join(" | ".join(cells) for cells in rows)


def _html_text(html: str) -> str:
    return fold_spaces(re.sub(r"<[^>]+>", " ", html))
