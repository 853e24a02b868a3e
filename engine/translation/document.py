"""Cut a document into the pieces to translate, and put the translations back in its shape.

Markdown (plain text is Markdown without markup) is parsed with markdown-it; every
paragraph, heading, list item and quoted paragraph is a unit to translate, with its
prefix (`## `, `- `, `> `, indentation) kept. Everything else — code blocks, tables,
raw HTML, front matter, blank lines — is copied as it is: code is never translated.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from engine.corpus import frontmatter
from engine.corpus.cleanup import join_lines
from engine.corpus.markdown import _parser


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


@dataclass
class Unit:
    prefix: str  # what stays in front of the translation: "## ", "- ", "> ", "   "
    text: str  # the words to translate, on one line
    first_line: int
    last_line: int  # exclusive


@dataclass
class Document:
    lines: list[str]
    units: list[Unit]

    def pieces(self):
        """The document in order: ("verbatim", text) and ("unit", index of the unit) items."""
        line = 0
        for index, unit in enumerate(self.units):
            if unit.first_line > line:
                yield "verbatim", "\n".join(self.lines[line:unit.first_line]) + "\n"
            yield "unit", index
            line = unit.last_line
        if line < len(self.lines):
            rest = "\n".join(self.lines[line:])
            if rest:
                yield "verbatim", rest

    def assemble(self, translations: list[str]) -> str:
        """The document with each unit replaced by its translation."""
        out = []
        for kind, item in self.pieces():
            if kind == "verbatim":
                out.append(item)
            else:
                out.append(self.units[item].prefix + translations[item] + "\n")
        return "".join(out).rstrip("\n") + ("\n" if self.lines and self.lines[-1] == "" else "")


def split(text: str) -> Document:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    skip = _front_matter_lines(text)
    tokens = _parser().parse("\n".join([""] * skip + lines[skip:]))
    units: list[Unit] = []
    in_table = 0
    for token in tokens:
        if token.type == "table_open":
            in_table += 1
        elif token.type == "table_close":
            in_table -= 1
        elif token.type == "inline" and not in_table and token.map and token.content.strip():
            start, end = token.map
            content_lines = token.content.split("\n")
            if content_lines[0].strip().startswith("$$"):
                continue  # a display-math block: copied as it is
            if lines[start].lstrip().startswith("#") or _is_setext(lines, end):
                end = min(end, start + len(content_lines))
            units += _units(lines, content_lines, start, end)
    return Document(lines=lines, units=units)


# Lines that are markup of a site generator, never prose: a Hugo shortcode or a Liquid tag
# on a line of its own (a paired shortcode's opening and closing lines: the text between
# them is translated), an Obsidian comment, an MDX import/export.
_MARKUP_LINE = re.compile(
    r"\s*(?:\{\{[<%].*[%>]\}\}|\{%.*%\}|%%.*%%"
    r"|import\s.+\sfrom\s+['\"].*|export\s+(?:default|const|let|function|\{).*)\s*")


def _units(lines: list[str], content: list[str], start: int, end: int) -> list[Unit]:
    """The paragraph at lines[start:end] (its inline content lines `content`) as units: one,
    or several around lines of generator markup, which stay as they are."""
    units, run = [], []  # run: (line index, content line) of the unit being gathered

    def close(last: int) -> None:
        if run:
            line, first_content = run[0]
            at = lines[line].find(first_content)
            prefix = lines[line][:at] if at >= 0 else ""
            units.append(Unit(prefix=prefix, text=join_lines([c for _, c in run]),
                              first_line=line, last_line=last))
            run.clear()

    for offset, text in enumerate(content):
        line = start + offset
        if _MARKUP_LINE.fullmatch(text):
            close(line)
        else:
            run.append((line, text))
    close(end)
    return units


def _is_setext(lines: list[str], end: int) -> bool:
    return end - 1 < len(lines) and set(lines[end - 1].strip()) <= {"=", "-"} and bool(
        lines[end - 1].strip())


def _front_matter_lines(text: str) -> int:
    """How many lines at the top are front matter (kept as they are, never translated)."""
    first = text.split("\n", 1)[0].strip()
    if first not in ("---", "+++"):
        return 0
    header = frontmatter.parse(text)
    if not header.meta and header.warning is None:
        return 0
    return text.count("\n") - header.body.count("\n")
