"""Cut a document into the pieces to translate, and put the translations back in its shape.

Markdown (plain text is Markdown without markup) is parsed with markdown-it; every
paragraph, heading, list item and quoted paragraph is a unit to translate, with its
prefix (`## `, `- `, `> `, indentation) kept. Everything else — code blocks, tables,
raw HTML, front matter, blank lines — is copied as it is: code is never translated.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.corpus import frontmatter
from engine.corpus.cleanup import join_lines
from engine.corpus.markdown import _parser


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
            first = lines[start]
            at = first.find(content_lines[0])
            prefix = first[:at] if at >= 0 else ""
            if prefix.strip().startswith("#") or _is_setext(lines, end):
                end = min(end, start + len(content_lines))
            units.append(Unit(prefix=prefix, text=join_lines(content_lines),
                              first_line=start, last_line=end))
    return Document(lines=lines, units=units)


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
