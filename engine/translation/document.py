"""Cut a document into the pieces to translate, put the translations back in its shape,
and verify that the shape survived.

A document is its text (LF line endings) and its *units*: the character ranges that hold
prose, each with its words on one line. Everything between units is *verbatim* and is
copied byte for byte: front matter, code, math, markup, list and quote markers, table
pipes, HTML tags.

- **Markdown** is parsed with markdown-it-py and mdit-py-plugins (front matter, footnotes,
  `$$` math, `:::` containers, `!!!` admonitions, `{…}` attributes, tables, definition
  lists). Each paragraph, heading, list item, table cell, footnote and admonition title is
  a unit; a hard line break, an Obsidian callout's `[!kind]` marker (its title is a unit of
  its own) and a line of generator markup (a Hugo shortcode or Liquid tag on its own line,
  `%%comment%%`, MDX `import`/`export`) end a unit. Regions that are never prose are hidden
  from the parser line by line (their lines stay verbatim; engine.corpus.markup recognises
  them, for the corpus too): JSON / TOML / YAML / Pelican headers, Jekyll `{% raw %}`,
  `{% highlight %}`, `{% codeblock %}` and `{% comment %}` blocks, Hugo's
  `highlight` / `code` / `math` shortcode blocks, and MDX JSX blocks (`<Tabs>…</Tabs>`).
  Raw HTML blocks are read as HTML (below).
- **HTML** (`.html` files, raw HTML blocks): each run of text and inline tags between
  block-level tags is a unit (its tags are protected spans, engine.translation.protect);
  `script`, `style`, `pre`, `code`, `textarea` and comments are verbatim.
- **Plain text** (`.txt`): paragraphs separated by blank lines.

`verify` re-reads a translation and checks what must not change (the same verbatim pieces
in the same order, the same block structure, every protected span as often as in the
source); `check_unit` does the same for one unit in its own lines, cheaply, while a
paragraph can still be retried.
"""

from __future__ import annotations

import codecs
import html.parser
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from markdown_it import MarkdownIt
from mdit_py_plugins.admon import admon_plugin
from mdit_py_plugins.attrs import attrs_block_plugin
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin

from engine.corpus import markup
from engine.corpus.cleanup import join_lines
from engine.translation import protect

FORMATS = ("markdown", "html", "text")


def format_of(path: Path | str | None) -> str:
    """The format a file is read as, from its extension: "html" for .html/.htm/.xhtml,
    "text" for .txt/.text, "markdown" for everything else (.md, .mdx, .markdown…)."""
    suffix = Path(path).suffix.lower() if path else ""
    if suffix in (".html", ".htm", ".xhtml"):
        return "html"
    if suffix in (".txt", ".text"):
        return "text"
    return "markdown"


@dataclass(frozen=True)
class Envelope:
    """What a file's text loses when it is decoded and normalised for translation (a UTF-8
    byte-order mark, CRLF line endings, the final newline or its absence), put back on
    the translation so it comes out in the source's shape."""

    bom: bool = False
    newline: str = "\n"
    final_newline: bool = True

    @classmethod
    def of(cls, data: bytes) -> Envelope:
        crlf = data.count(b"\r\n")
        return cls(bom=data.startswith(codecs.BOM_UTF8),
                   newline="\r\n" if crlf and crlf >= data.count(b"\n") - crlf else "\n",
                   final_newline=data.endswith(b"\n"))

    def apply(self, text: str) -> str:
        """`text` (LF line endings) in this envelope."""
        text = text.rstrip("\n") + ("\n" if self.final_newline else "")
        return ("\ufeff" if self.bom else "") + text.replace("\n", self.newline)


@dataclass(frozen=True)
class Unit:
    """Prose at `Document.text[start:end]` (character offsets)."""

    start: int
    end: int
    text: str  # the words to translate, on one line
    line: int  # the 0-based line it starts on, for messages
    escape: str = "markdown"  # how a translation is written here: markdown, cell, html, text


@dataclass
class Document:
    text: str  # the source, LF line endings
    units: list[Unit]
    format: str = "markdown"
    notes: list[str] = field(default_factory=list)  # prose that could not be placed: kept
    blocks: list[tuple] = field(default_factory=list)  # Markdown: each block's kind and nesting

    def pieces(self) -> Iterator[tuple[str, str | int]]:
        """The document in order: ("verbatim", text) and ("unit", index of the unit)."""
        at = 0
        for index, unit in enumerate(self.units):
            if unit.start > at:
                yield "verbatim", self.text[at:unit.start]
            yield "unit", index
            at = unit.end
        if at < len(self.text):
            yield "verbatim", self.text[at:]

    def render(self, index: int, translation: str) -> str:
        """What stands at unit `index` for `translation`: the source's own characters
        (line breaks included) when it is unchanged, else the translation on one line,
        escaped for where it stands (a `|` in a table cell, `<` and `&` in HTML)."""
        unit = self.units[index]
        if translation == unit.text:
            return self.text[unit.start:unit.end]
        return _escape(join_lines(translation.strip().split("\n")), unit.escape)

    def assemble(self, translations: list[str]) -> str:
        """The document with unit i replaced by translations[i]."""
        return "".join(item if kind == "verbatim" else self.render(item, translations[item])
                       for kind, item in self.pieces())

    def check_unit(self, index: int, translation: str) -> str | None:
        """What `translation` would break if it stood at unit `index` (None: nothing), read
        in the unit's own lines: a paragraph that would become a heading, a list, a table
        row, code or a new block; a protected span lost. Cheap; `verify` is the whole."""
        unit = self.units[index]
        if translation == unit.text:
            return None
        first = self.text.rfind("\n", 0, unit.start) + 1
        last = self.text.find("\n", unit.end)
        last = len(self.text) if last < 0 else last
        if self.format == "markdown" and _SETEXT.match(self.text, last + 1):
            last = self.text.find("\n", last + 1)
            last = len(self.text) if last < 0 else last
        source = self.text[first:last]
        rendered = (source[:unit.start - first] + self.render(index, translation)
                    + source[unit.end - first:])
        local = split(source, self.format)
        if not any(u.start == unit.start - first for u in local.units):
            return None  # not prose out of its context (a footnote without its reference)
        return compare(local, rendered)

    def verify(self, output: str) -> str | None:
        """What `output` (this document translated) broke, or None: see `compare`."""
        return compare(self, output)


def lost_emphasis(source: str, translation: str) -> str | None:
    """The emphasis (`*…*`, `**…**`, `~~…~~`) a Markdown unit's translation lacks, in words,
    or None. A warning, not a failure: the words are translated, the styling is the
    writer's to put back."""
    marks = [Counter(t.type for t in _parser().parseInline(text)[0].children or []
                     if t.type in _EMPHASIS) for text in (source, translation)]
    lost = marks[0] - marks[1]
    return ", ".join(f"{_EMPHASIS[kind]} ×{n}" for kind, n in lost.items()) or None


_EMPHASIS = {"em_open": "*emphasis*", "strong_open": "**bold**", "s_open": "~~strikethrough~~"}


def compare(source: Document, output: str) -> str | None:
    """None when `output` keeps `source`'s shape: the same verbatim pieces in the same
    order (front matter, code, math, markup, markers, tags, pipes), the same blocks, and
    every protected span as often; else what differs, in words."""
    translated = split(output, source.format)
    spans = [Counter(s for u in d.units for s in protect.mask(u.text).spans
                     if not _CHARACTER_REFERENCE.fullmatch(s))  # escaping adds those
             for d in (source, translated)]
    if spans[0] != spans[1]:
        lost, added = spans[0] - spans[1], spans[1] - spans[0]
        return "; ".join(f"{what} {', '.join(_show(s) for s in which)}"
                         for what, which in (("lost", lost), ("added", added)) if which)
    if len(translated.units) != len(source.units):
        return (f"it would split or merge text ({len(translated.units)} pieces where the "
                f"source has {len(source.units)})")
    theirs = [item for kind, item in translated.pieces() if kind == "verbatim"]
    ours = [item for kind, item in source.pieces() if kind == "verbatim"]
    if theirs != ours:
        was, now = next((a, b) for a, b in zip(ours + [""], theirs + [""], strict=False)
                        if a != b)
        if not was.strip():
            return f"the markup changed: {_show(now)} appeared"
        if not now.strip():
            return f"the markup changed: {_show(was)} went missing"
        return f"the markup changed: {_show(was)} became {_show(now)}"
    if source.blocks != translated.blocks:
        return "the block structure changed"
    return None


def split(text: str, format: str = "markdown") -> Document:
    """`text` as a Document in `format` (one of FORMATS)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if format == "html":
        return Document(text, _html_units(text, 0), "html")
    if format == "text":
        return Document(text, _text_units(text), "text")
    return _markdown(text)


# --- Markdown ------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return (MarkdownIt("commonmark").enable(["table", "strikethrough"])
            .use(footnote_plugin).use(dollarmath_plugin).use(deflist_plugin)
            .use(attrs_block_plugin).use(admon_plugin)
            .use(container_plugin, "any", validate=lambda *_: True))


_SETEXT = re.compile(r"[ ]{0,3}(?:=+|-+)[ \t]*(?:\n|$)")

_TRAILING_ATTRIBUTES = re.compile(r"\s*\{[#.:][^{}\s][^{}]*\}$")


def _markdown(text: str) -> Document:
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    hidden, kept = _hidden_lines(text.removeprefix("\ufeff"), lines)
    shadow = "\n".join("" if i in hidden else line for i, line in enumerate(lines))
    if shadow.startswith("\ufeff"):  # a byte-order mark is not text: a space keeps offsets
        shadow = " " + shadow[1:]
    tokens = _parser().parse(shadow)
    doc = Document(text, [], "markdown", notes=kept, blocks=[
        (t.type, t.tag, t.markup, t.level, t.attrs.get("start"))
        for t in tokens if t.type != "inline" and t.nesting >= 0])
    units: list[Unit] = []
    cells: dict[int, int] = {}  # table row line → where its next cell is looked for
    previous = None
    for token in tokens:
        kind, previous = previous, token.type
        if token.type == "html_block" and token.map and token.level == 0:
            start, end = token.map
            units += _html_units("\n".join(lines[start:end]), offsets[start], start)
            continue
        if token.type == "container_any_open" and token.map:
            words = markup.container_title(token.info)  # `:::tip Title`, `:::tip[Title]`
            if words:
                at = lines[token.map[0]].rfind(words)
                if at >= 0:
                    units.append(Unit(offsets[token.map[0]] + at,
                                      offsets[token.map[0]] + at + len(words), words,
                                      token.map[0]))
            continue
        if token.type != "inline" or not token.map or not token.content.strip():
            continue
        start = token.map[0]
        content = token.content.split("\n")
        if kind in ("th_open", "td_open"):
            words = token.content.strip()
            at = lines[start].find(words, cells.get(start, 0))
            if at < 0 and "|" in words:  # the cell's own pipes are escaped in the row
                words = words.replace("|", "\\|")
                at = lines[start].find(words, cells.get(start, 0))
            if at < 0:
                doc.notes.append(f"a table cell on line {start + 1} could not be placed; it "
                                 "stays as it was")
                continue
            cells[start] = at + len(words)
            units.append(Unit(offsets[start] + at, offsets[start] + cells[start], words, start,
                              "cell"))
            continue
        placed = _place(content, start, lines, offsets)
        if placed is None:
            doc.notes.append(f"the paragraph on line {start + 1} could not be placed; it "
                             "stays as it was")
            continue
        units += placed
    doc.units = sorted(units, key=lambda u: u.start)
    return doc


def _place(content: list[str], start: int, lines: list[str],
           offsets: list[int]) -> list[Unit] | None:
    """The units of one inline block whose content lines are `content`, starting on line
    `start`: one per run of lines between hard breaks, callout markers and markup lines."""
    units, run = [], []  # run: (line, start column, end column) of the unit being gathered

    def close() -> None:
        if run:
            words = join_lines([lines[i][a:b] for i, a, b in run])
            if words:
                (first, a, _), (last, _, b) = run[0], run[-1]
                units.append(Unit(offsets[first] + a, offsets[last] + b, words, first))
            run.clear()

    for i, piece in enumerate(content):
        line = start + i
        if line >= len(lines):
            return None
        if markup.MARKUP_LINE.fullmatch(piece):
            close()
            continue
        words = piece.strip()
        if i == len(content) - 1:  # a trailing `{#id .class}` stays where it is, verbatim
            words = _TRAILING_ATTRIBUTES.sub("", words)
        hard_break = i < len(content) - 1 and (piece.endswith("  ") or words.endswith("\\"))
        if hard_break and words.endswith("\\"):
            words = words[:-1].rstrip()
        if i == 0 and markup.CALLOUT.match(words):
            words = words[markup.CALLOUT.match(words).end():]
            at = lines[line].rfind(words) if words else -1
            if at >= 0 and words:
                run.append((line, at, at + len(words)))
            close()
            continue
        if not words:
            close()
            continue
        at = lines[line].rfind(words)
        if at < 0:
            return None
        run.append((line, at, at + len(words)))
        if hard_break:
            close()
    close()
    return units


def _hidden_lines(text: str, lines: list[str]) -> tuple[set[int], list[str]]:
    """Lines the parser must not see as Markdown (they stay verbatim): the front matter and
    engine.corpus.markup's regions (hidden blocks, MDX ESM statements and JSX blocks); and a
    note for each JSX block with words in it, which is kept untranslated (a component's
    text is code's business)."""
    hidden = set(range(markup.front_matter_lines(text)))
    kept = []
    for region in markup.regions(lines, len(hidden)):
        if region.kind == markup.QUOTE:  # a quotation is translated for the reader too
            continue
        hidden.update(range(region.start, region.end + 1))
        if region.kind == markup.COMPONENT and any(
                c.isalpha() for c in markup.component_words(lines[region.start:region.end + 1])):
            kept.append(f"the MDX component on line {region.start + 1} (its text is kept as "
                        "it is)")
    return hidden, kept


# --- HTML ----------------------------------------------------------------------------------

_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details",
    "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1",
    "h2", "h3", "h4", "h5", "h6", "head", "header", "hr", "html", "li", "main", "meta", "nav",
    "ol", "option", "p", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead",
    "title", "tr", "ul", "link", "base", "img", "iframe", "video", "audio", "source",
}
_VERBATIM_TAGS = {"script", "style", "pre", "textarea", "svg", "math", "template"}


class _Runs(html.parser.HTMLParser):
    """Character ranges of text-and-inline-tag runs between block-level tags."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=False)
        self.text = text
        self.offsets = [0]
        for line in text.split("\n"):
            self.offsets.append(self.offsets[-1] + len(line) + 1)
        self.runs: list[tuple[int, int]] = []
        self.open: int | None = None  # where the current run started
        self.last = 0  # where the last thing read ended
        self.verbatim = 0  # depth inside script, style, pre…

    def _at(self) -> int:
        line, column = self.getpos()
        return self.offsets[line - 1] + column

    def _boundary(self) -> None:
        if self.open is not None:
            self.runs.append((self.open, self.last))
            self.open = None

    def _inline(self, end: int) -> None:
        if self.verbatim:
            return
        if self.open is None:
            self.open = self._at()
        self.last = end

    def handle_starttag(self, tag, attrs):
        self._tag(tag, opening=True)

    def handle_startendtag(self, tag, attrs):
        self._tag(tag, opening=None)

    def handle_endtag(self, tag):
        self._tag(tag, opening=False)

    def _tag(self, tag: str, opening: bool | None) -> None:
        end = self._at() + len(self.get_starttag_text() or "") if opening is not False else (
            self.text.find(">", self._at()) + 1)
        if tag in _VERBATIM_TAGS:
            self._boundary()
            if opening is True:
                self.verbatim += 1
            elif opening is False:
                self.verbatim = max(0, self.verbatim - 1)
        elif tag in _BLOCK_TAGS:
            self._boundary()
        else:
            self._inline(end)

    def handle_data(self, data):
        self._inline(self._at() + len(data))

    def handle_entityref(self, name):
        self._inline(self.text.find(";", self._at()) + 1)

    handle_charref = handle_entityref

    def _other(self, *_):
        self._boundary()

    handle_comment = handle_decl = handle_pi = unknown_decl = _other


def _html_units(fragment: str, base: int, first_line: int = 0) -> list[Unit]:
    """The units of an HTML `fragment` that starts at character `base`, line `first_line`
    of its document."""
    runs = _Runs(fragment)
    runs.feed(fragment)
    runs.close()
    runs._boundary()
    units = []
    for start, end in runs.runs:
        piece = fragment[start:end]
        words = piece.strip()
        if not protect.mask(words).prose:
            continue
        start += len(piece) - len(piece.lstrip())
        end = start + len(words)
        line = first_line + fragment.count("\n", 0, start)
        units.append(Unit(base + start, base + end, join_lines(words.split("\n")), line, "html"))
    return units


# --- plain text ----------------------------------------------------------------------------

def _text_units(text: str) -> list[Unit]:
    units = []
    for match in re.finditer(r"\S(?:.|\n(?![ \t]*\n))*", text):
        words = match.group(0).rstrip()
        units.append(Unit(match.start(), match.start() + len(words),
                          join_lines(words.split("\n")), text.count("\n", 0, match.start()),
                          "text"))
    return units


# --- writing translations ------------------------------------------------------------------

_CHARACTER_REFERENCE = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z]\w*);")
_BARE_AMPERSAND = re.compile(r"&(?!#?\w+;)")


def _escape(text: str, where: str) -> str:
    """`text` written where a `where` unit stands; protected spans (tags, shortcodes, code)
    are the source's own and stay as they are."""
    if where not in ("cell", "html"):
        return text
    masked = protect.mask(text)
    return protect.restore(_escape_words(masked.text, where), masked)


def _escape_words(text: str, where: str) -> str:
    if where == "cell":
        return re.sub(r"(?<!\\)\|", r"\\|", text)
    if where == "html":
        return re.sub(r"<(?![A-Za-z/!])", "&lt;", _BARE_AMPERSAND.sub("&amp;", text))
    return text


def _show(text: str) -> str:
    text = text.strip() or text
    return repr(text if len(text) <= 40 else text[:37] + "…")
