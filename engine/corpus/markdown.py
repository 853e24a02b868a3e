"""Markdown → segments, with markdown-it-py (CommonMark + tables).

Each top-level block becomes one segment with its kind, its words and its original
Markdown (the block's source lines). Only ordinary paragraphs can be prose; code,
tables, images, template tags and link-only lines never are. What engine.corpus.markup
recognises is taken out before the parser reads the rest: Jekyll `{% highlight %}` /
`{% codeblock %}` and Hugo `highlight` blocks are code, `{% raw %}` is markup kept
literally, MDX `import`/`export` statements and JSX blocks are markup, `{% comment %}` and
Obsidian `%%…%%` comments are dropped. An Obsidian callout's `[!note]` marker is dropped
and its words are read like any others (its title as a heading). Raw HTML is read as HTML
(engine.corpus.html): its text as prose, a figure's caption or an image's alt text as a
caption, never its tags. An MDX component's tags are markup and its children are read as
Markdown (the writer's words: prose, unless the component is code or a quotation).

Inline template output: a tag or an MDX `{expression}` left in a block's words stands for
words the site fills in, so the block is markup (its text kept as written), never a
sentence with a hole. Words a tag writes itself are kept: Hexo `{% post_link slug 'Text' %}`
and links whose URL a tag builds (`[text]({% post_url x %})`) are links. An image alone in
a paragraph, or an image tag, gives its caption, title or alt text as a caption when it
says something (engine.corpus.cleanup.is_caption). A definition list's terms are headings
and its definitions paragraphs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import unescape
from typing import NamedTuple

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.deflist import deflist_plugin

from engine.corpus import html, markup, parsed
from engine.corpus.blocks import classify_paragraph
from engine.corpus.cleanup import (
    BREAK_MARK,
    fold_spaces,
    has_words,
    is_caption,
    join_lines,
    strip_template_tags,
)

_FOOTNOTE_REF = re.compile(r"^\^\S+$")
_WIKI_EMBED = re.compile(r"!\[\[[^\]]*\]\]")  # Obsidian ![[image.png]]
_WIKI_LINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")  # [[Page|shown text]]
_FOOTNOTE_DEFINITION = re.compile(r"^\[\^[^\]\s]+\]:")
_HTML_COMMENT = re.compile(r"^\s*<!--.*?-->\s*$", re.DOTALL)
_OBSIDIAN_COMMENT = re.compile(r"%%.*?%%", re.DOTALL)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_QUOTING_CALLOUT = re.compile(r"\[!(quote|cite)\]", re.I)  # Obsidian: a quotation
# Obsidian / Bear tags (`#motivation`) after a paragraph's words, or a line of them: metadata.
_TRAILING_TAGS = re.compile(r"(?:\s+|^)(?:#[^\W\d][\w/-]*\s*)+$")
_QUOTE_MARKER = re.compile(r"^[ \t]{0,3}> ?", re.MULTILINE)
_MATH_FENCES = {"math", "latex", "tex", "katex"}
# Footnote references left as text ([^1]), heading ids ({#my-id}), kramdown's {:toc}.
_LEFTOVER_MARKUP = re.compile(r"\[\^[^\]\s]+\]|\s*\{#[^}]*\}|\s*\{:[^}]*\}")
_INLINE_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}(.*?)\{%-?\s*endraw\s*-?%\}")
_NO_SPACE_BEFORE = set(",.;:!?)]…。，、；：！？）」』")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # `:::note` … `:::` (Docusaurus, MDX, VuePress admonitions): the markers are markup, the
    # words inside are the writer's.
    # `Term` / `: definition` (Pandoc, PHP Markdown Extra, kramdown): a definition list.
    return (MarkdownIt("commonmark").enable(["table", "strikethrough"])
            .use(container_plugin, "any", validate=lambda *_: True).use(deflist_plugin))


# Tokens of a definition list that only hold other blocks: step inside.
_STEP_INSIDE = {"dl_open", "dl_close", "dd_open", "dd_close"}
# MDX components whose children are not prose: code and diagrams, someone else's words.
# A name is matched by its CamelCase words: `CodeBlock`, `BlockMath`, `PullQuote`.
_CODE_COMPONENT = re.compile(r"(?:[\w.]*?[a-z.])?(?:Code|Math|Latex|LaTeX|KaTeX|TeX|Tex|Mermaid|"
                             r"Pre|Terminal|Shell|Snippet|Diagram)(?:[A-Z]\w*)?")
_QUOTE_COMPONENT = re.compile(r"(?:[\w.]*?[a-z.])?(?:Quote|Blockquote|Epigraph|Tweet|Cite|"
                              r"Testimonial)(?:[A-Z]\w*)?")


def segments(body: str) -> list[parsed.Segment]:
    body = _WIKI_LINK.sub(r"\1", _WIKI_EMBED.sub("", body))
    lines = body.split("\n")
    regions = markup.regions(lines)
    hidden = {i for region in regions for i in range(region.start, region.end + 1)}
    shadow = ["" if i in hidden else line for i, line in enumerate(lines)]
    tokens = _parser().parse("\n".join(shadow))
    verbatim = {i for token in tokens if token.map and token.type in (
        "fence", "code_block", "html_block") for i in range(*token.map)}
    readable = [line if i in verbatim else markup.linkable(line) for i, line in enumerate(shadow)]
    if readable != shadow:  # links a tag builds, MDX comments in a line
        tokens = _parser().parse("\n".join(readable))
    out: list[tuple[int, parsed.Segment]] = [  # (first line, segment), put in order below
        (region.start, segment) for region in regions
        for segment in _region_segments(lines, region)]
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type.startswith("container_"):  # step inside: its blocks are the writer's
            title = markup.container_title(token.info) if token.nesting == 1 else None
            if title:
                out.append((token.map[0], parsed.Segment(parsed.HEADING, title,
                                                         _source(lines, token))))
            i += 1
            continue
        if token.type in _STEP_INSIDE:
            i += 1
            continue
        close = _closing_index(tokens, i)
        block = tokens[i:close + 1]
        source = _source(lines, token)
        out += [(token.map[0] if token.map else 0, segment)
                for segment in _block_segments(token, block, source)]
        i = close + 1
    out.sort(key=lambda item: item[0])
    return [segment for _, segment in out]


def _region_segments(lines: list[str], region: markup.Region) -> list[parsed.Segment]:
    """The segments of a block the parser did not see (engine.corpus.markup.regions)."""
    source = "\n".join(lines[region.start:region.end + 1])
    if region.kind == markup.CODE:
        return [parsed.Segment(parsed.CODE, markup.inside(lines, region), source)]
    if region.kind == markup.MATH:
        return [parsed.Segment(parsed.MATH, markup.inside(lines, region), source)]
    if region.kind == markup.QUOTE:  # someone else's words
        return [parsed.Segment(parsed.QUOTE, fold_spaces(markup.inside(lines, region)),
                               source)]
    if region.kind == markup.RAW:  # literal text, template tags and all: never prose
        return [parsed.Segment(parsed.MARKUP, markup.inside(lines, region), source)]
    if region.kind == markup.COMPONENT:
        return _component(lines[region.start:region.end + 1], source)
    if region.kind == markup.STATEMENT:
        return [parsed.Segment(parsed.MARKUP, "", source)]
    return []  # comments: the writer's notes to self


def _component(lines: list[str], source: str) -> list[parsed.Segment]:
    """An MDX component: its tags are markup, the Markdown it holds is read like any other
    (the writer's words), unless it is code or a quotation; one without words is markup,
    or its `caption=` a caption."""
    name, children = markup.component_children(lines)
    if not has_words(markup.component_words(children.split("\n"))):
        caption = _best_caption(markup.element_captions("\n".join(lines).strip()[1:]))
        return [parsed.Segment(parsed.CAPTION, caption, source) if caption else
                parsed.Segment(parsed.MARKUP, "", source)]
    if _CODE_COMPONENT.fullmatch(name):
        return [parsed.Segment(parsed.CODE, children, source)]
    inner = segments(children)
    if _QUOTE_COMPONENT.fullmatch(name):
        inner = [parsed.Segment(parsed.QUOTE, s.text, s.source) if s.kind == parsed.PROSE
                 else s for s in inner]
    return inner or [parsed.Segment(parsed.MARKUP, "", source)]


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
    return "\n".join(lines[start:max(end, start + 1)]).strip("\n")  # a term's map is empty


def _block_segments(token: Token, block: list[Token], source: str) -> list[parsed.Segment]:
    if token.type == "blockquote_open" and _is_callout(block):
        return _callout(source)
    if token.type == "html_block":
        return _html_block(token.content, source)
    if token.type == "paragraph_open":
        return _paragraph(block[1], source)
    segment = _block_segment(token, block, source)
    return [segment] if segment is not None else []


def _block_segment(token: Token, block: list[Token], source: str) -> parsed.Segment | None:
    kind = token.type
    if kind in ("heading_open", "dt_open"):  # a definition list's term: a heading
        return _words_segment(parsed.HEADING, block, source)
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
    return None  # hr, and anything a plugin might add


def _is_callout(block: list[Token]) -> bool:
    first = next((t for t in block if t.type == "inline"), None)
    return first is not None and bool(markup.CALLOUT.match(first.content))


def _callout(source: str) -> list[parsed.Segment]:
    """An Obsidian callout (`> [!tip] Title` and the quote's lines): the writer's own
    words, read without the quote markers and the `[!tip]` marker; the title a heading."""
    lines = _QUOTE_MARKER.sub("", source).split("\n")
    first = lines[0].strip()
    marker = markup.CALLOUT.match(first)
    title = first[marker.end():]
    out = [parsed.Segment(parsed.HEADING, s.text, s.source) if s.kind == parsed.PROSE else s
           for s in segments(title)]
    body = segments("\n".join(lines[1:]))
    if _QUOTING_CALLOUT.match(marker.group(0)):  # `[!quote] Seneca`: someone else's words
        body = [parsed.Segment(parsed.QUOTE, s.text, s.source) if s.kind == parsed.PROSE
                else s for s in body]
    return out + body


def _html_block(content: str, source: str) -> list[parsed.Segment]:
    """Raw HTML inside Markdown, read as HTML: its paragraphs, figures, captions; an image
    without a caption gets its alt text as one, when it says something. Never its tags."""
    if _HTML_COMMENT.match(content):  # <!--more--> and friends
        return []
    out = html.fragment_segments(content)
    for i in range(len(out) - 1, -1, -1):
        image, after = out[i], out[i + 1] if i + 1 < len(out) else None
        if image.kind == parsed.IMAGE and not image.text and (
                after is None or after.kind != parsed.CAPTION):
            alt = fold_spaces(unescape(" ".join(a or b for a, b in _ALT.findall(image.source))))
            if is_caption(alt):
                out.insert(i + 1, parsed.Segment(parsed.CAPTION, alt, image.source))
    return out or [parsed.Segment(parsed.HTML, "", source)]


def _words_segment(kind: str, block: list[Token], source: str) -> parsed.Segment | None:
    read = [_inline_words(t) for t in block if t.type == "inline"]
    text = fold_spaces("\n".join(words.text for words in read if words.text.strip()))
    if any(words.holes for words in read):  # `- {{ post.data.title }}`: the site's words
        return parsed.Segment(parsed.MARKUP, text if has_words(strip_template_tags(text))
                              else "", source)
    return parsed.Segment(kind, text, source) if text else None


def _paragraph(inline: Token, source: str) -> list[parsed.Segment]:
    lines = inline.content.split("\n")
    if all(markup.MARKUP_LINE.fullmatch(line) for line in lines) or not (
            strip_template_tags(inline.content).strip()):  # template tags, ESM…
        if all(_OBSIDIAN_COMMENT.fullmatch(line.strip()) for line in lines):
            return []
        # {{< figure caption="…" >}}, {% img a.jpg "Title" %}: words under a picture
        captions = [caption for tag in markup.TEMPLATE_TAG.findall(inline.content)
                    if (caption := _best_caption(markup.tag_captions(tag)))]
        return [parsed.Segment(parsed.CAPTION, caption, source) for caption in captions] or [
            parsed.Segment(parsed.MARKUP, "", source)]
    words = _inline_words(inline)
    text, outside = words.text, words.outside
    if _TRAILING_TAGS.search(text):
        text = _TRAILING_TAGS.sub("", text)
        outside = _TRAILING_TAGS.sub("", outside)
        if not text:
            return [parsed.Segment(parsed.MARKUP, "", source)]
    if _FOOTNOTE_DEFINITION.match(source):
        return [parsed.Segment(parsed.FOOTNOTE, text.lstrip(": "), source)]
    segment = classify_paragraph(text=text, text_outside_links=outside, images=words.images,
                                 links=words.links, raw=source, had_html=words.had_html,
                                 holes=words.holes)
    if segment is None:
        return []
    if segment.kind == parsed.IMAGE:  # a picture alone: its title or alt text, a caption
        return [segment] + [parsed.Segment(parsed.CAPTION, caption, source)
                            for caption in words.captions]
    if segment.kind == parsed.PROSE and words.quoted:  # `<q>…</q>`: someone else's words
        return [parsed.Segment(parsed.QUOTE, segment.text, source)]
    return [segment]


def _best_caption(found: list[tuple[str, str]]) -> str:
    """The caption among an image tag's words: its caption as written, else its title or
    its alt text where it says something about the picture; "" when none does."""
    ranked = sorted(found, key=lambda pair: ("caption", "title", "alt").index(pair[0]))
    return next((fold_spaces(unescape(said)) for where, said in ranked
                 if is_caption(said) or where == "caption" and has_words(said)), "")


class _Words(NamedTuple):
    """An inline block reduced to its words."""

    text: str  # link text included
    outside: str  # without link text
    images: int
    links: int
    had_html: bool
    holes: bool  # a template tag or MDX expression stands for words the site fills in
    captions: list[str]  # each image's title or alt text, where it says something
    quoted: bool  # all its words are inside <q>…</q>


def _inline_words(inline: Token) -> _Words:
    """Reduce inline Markdown to its words."""
    lines: list[list[str]] = [[]]  # text pieces per source line, for CJK-aware joining
    outside: list[list[str]] = [[]]
    holes: set[int] = set()  # the lines (indexes into `lines`) with a hole
    captions: list[str] = []
    images = links = 0
    had_html = False
    link_depth = quote_depth = 0
    drop_link_text = False
    unquoted = False  # words outside <q>…</q>
    dropped = False  # something between words was removed: mind the spaces around it
    paired = markup.paired_shortcodes(inline.content)

    def add(content: str, *, in_link: bool) -> None:
        nonlocal dropped, unquoted
        unquoted = unquoted or (not quote_depth and has_words(content))
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
            if t == "text":
                content, hole = markup.template_words(content, paired)
                if hole:
                    holes.add(len(lines) - 1)
            else:  # Jekyll's `{% raw %}{{ x }}{% endraw %}` in code shows `{{ x }}`
                content = _INLINE_RAW.sub(r"\1", content)
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
            said = [str(child.attrs.get("title") or ""), child.content]
            captions += [fold_spaces(words) for words in said if is_caption(words)][:1]
            drop()
        elif t == "html_inline":
            had_html = True
            if re.match(r"<br\s*/?>", child.content, re.IGNORECASE):
                new_line(hard=True)
            else:
                quote_depth += (1 if re.match(r"<q[\s>]", child.content, re.I) else
                                -1 if re.match(r"</q\s*>", child.content, re.I) else 0)
                drop()
    kept = {i for i, pieces in enumerate(lines)
            if not markup.MARKUP_LINE.fullmatch("".join(pieces))}  # a line of markup: not words
    text = _join(lines)
    return _Words(text, _join(outside), images, links, had_html, bool(holes & kept), captions,
                  quoted=bool(text) and not unquoted)


def _join(lines: list[list[str]]) -> str:
    text = join_lines([line for line in ("".join(pieces) for pieces in lines)
                       if not markup.MARKUP_LINE.fullmatch(line)])  # a line of markup
    text = _LEFTOVER_MARKUP.sub("", _OBSIDIAN_COMMENT.sub("", text))
    return re.sub(rf"\s*{BREAK_MARK}\s*", "\n", text).strip()


def _table_text(block: list[Token]) -> str:
    rows: list[list[str]] = []
    for t in block:
        if t.type == "tr_open":
            rows.append([])
        elif t.type == "inline" and rows:
            rows[-1].append(_inline_words(t).text)
    return "\n".join(" | ".join(cells) for cells in rows)
