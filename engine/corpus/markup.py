"""What in a Markdown file is never prose, line by line: headers, site-generator markup,
code held by template tags, comments, MDX statements and components.

One set of recognisers for the two readers of a writer's Markdown: the corpus
(engine.corpus.markdown), where these lines never become prose segments, and translation
(engine.translation.document), where they are copied verbatim, never translated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.corpus import frontmatter

# A code fence's opening (or closing) marker; nothing inside a fence is looked at.
FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")

# Lines of a site generator's markup, never prose: a Hugo shortcode or Liquid tag on a line
# of its own (a paired shortcode's opening and closing lines: the text between them is
# the writer's), an Obsidian comment, an MDX comment (`{/* … */}`) or import/export.
MARKUP_LINE = re.compile(
    r"[ \t]*(?:\{\{[<%].*[%>]\}\}|\{%.*%\}|%%.*%%|\{/\*.*\*/\}"
    r"|import\s.+\sfrom\s+['\"].*|export\s+(?:default|const|let|function|\{).*)[ \t]*")

# MDX: an ESM statement (`import …`, `export …`) runs to the next blank line.
ESM = re.compile(r"(?:import\s.+\sfrom\s+['\"]|import\s+['\"]|export\s+(?:default|const|let|var"
                 r"|function|async|class|\{|\*)).*")

# An MDX JSX block: a line starting with a capitalised tag or a fragment.
JSX_OPEN = re.compile(r"[ \t]*<([A-Z][\w.]*|>)")

# An Obsidian callout's marker at the start of a quote: `> [!note]`, `> [!tip]- Title`.
CALLOUT = re.compile(r"\[![\w-]+\][+-]?[ \t]*")

# What a block of lines is (Region.kind).
CODE = "code"
MATH = "math"
RAW = "raw"  # Jekyll's {% raw %}: literal text, template tags and all
COMMENT = "comment"  # the writer's notes to self: never published
STATEMENT = "esm"  # MDX import / export
COMPONENT = "jsx"  # an MDX JSX block
QUOTE = "quote"  # someone else's words in a template tag: never the writer's prose

# Blocks whose lines are never prose: (opening line, closing line for the opening's name).
# Jekyll's raw, highlight, codeblock (Octopress) and comment tags, Hugo's highlight / code /
# math shortcodes, and an Obsidian comment over several lines (blank ones included).
HIDDEN_BLOCKS = [
    (re.compile(r"[ \t]*\{%-?\s*(raw|highlight|codeblock|comment)\b.*%\}[ \t]*"),
     lambda name: re.compile(r".*\{%-?\s*end" + name + r"\s*-?%\}[ \t]*")),
    (re.compile(r"[ \t]*\{\{[<%]\s*(highlight|code|math|katex|mermaid|raw)\b.*[%>]\}\}[ \t]*"),
     lambda name: re.compile(r".*\{\{[<%]\s*/" + name + r"\s*[%>]\}\}[ \t]*")),
    (re.compile(r"[ \t]*(%%)[ \t]*"), lambda _: re.compile(r".*%%[ \t]*")),
    # Quotations: Octopress/Hexo `{% blockquote Author %}`, Zola `{% quote(author=…) %}`.
    (re.compile(r"[ \t]*\{%-?\s*(blockquote)\b.*%\}[ \t]*"),
     lambda name: re.compile(r".*\{%-?\s*end" + name + r"\s*-?%\}[ \t]*")),
    (re.compile(r"[ \t]*\{%-?\s*(quote)\s*\(.*\)\s*-?%\}[ \t]*"),
     lambda _: re.compile(r".*\{%-?\s*end\s*-?%\}[ \t]*")),
]
_BLOCK_KINDS = {"raw": RAW, "highlight": CODE, "codeblock": CODE, "code": CODE,
                "mermaid": CODE, "math": MATH, "katex": MATH, "comment": COMMENT, "%%": COMMENT,
                "blockquote": QUOTE, "quote": QUOTE}


@dataclass(frozen=True)
class Region:
    """Lines `start`…`end` (0-based, both included) that are never prose, and what they are:
    CODE, MATH, RAW, COMMENT, STATEMENT, COMPONENT or QUOTE."""

    start: int
    end: int
    kind: str


def regions(lines: list[str], start: int = 0) -> list[Region]:
    """The blocks from line `start` on that a Markdown parser must not read as Markdown:
    HIDDEN_BLOCKS, MDX ESM statements and JSX blocks; never inside a code fence. A block
    whose closing line is missing is not one (its opening line stays a line of markup)."""
    found: list[Region] = []
    i = start
    fence = None  # the open code fence: nothing inside it is looked at
    while i < len(lines):
        line = lines[i]
        marker = FENCE.match(line)
        if fence is not None:
            if marker and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(
                    fence) and not line[marker.end():].strip():
                fence = None
            i += 1
            continue
        if marker and not (marker.group(1)[0] == "`" and "`" in line[marker.end():]):
            fence = marker.group(1)
            i += 1
            continue
        if ESM.match(line) and (i == 0 or not lines[i - 1].strip()):
            end = next((j for j in range(i, len(lines)) if not lines[j].strip()), len(lines))
            found.append(Region(i, end - 1, STATEMENT))
            i = end
            continue
        for opening, closing in HIDDEN_BLOCKS:
            match = opening.fullmatch(line)
            if match:
                end_re = closing(match.group(1))
                if end_re.fullmatch(line[match.end(1):]):  # opened and closed on one line
                    end = i
                else:
                    end = next((j for j in range(i + 1, len(lines))
                                if end_re.fullmatch(lines[j])), None)
                if end is not None:
                    found.append(Region(i, end, _BLOCK_KINDS[match.group(1)]))
                    i = end
                break
        else:
            jsx = JSX_OPEN.match(line)
            end = jsx_end(lines, i, jsx.group(1)) if jsx else i
            if jsx and lines[end].rstrip().endswith(">"):  # not `<Em>x</Em> and prose`
                found.append(Region(i, end, COMPONENT))
                i = end
        i += 1
    return found


def jsx_end(lines: list[str], start: int, name: str) -> int:
    """The last line of the JSX element that opens on line `start`: the line of its opening
    tag's `/>`, or where its `</Name>` balances its openings (braces and quotes in
    attributes are skipped); an element left open ends before a blank line."""
    text = "\n".join(lines[start:])
    at = text.index("<") + 1
    braces, quote = 0, None
    while at < len(text):  # to the end of the opening tag
        char = text[at]
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'`":
            quote = char
        elif char == "{":
            braces += 1
        elif char == "}":
            braces -= 1
        elif char == ">" and braces <= 0:
            break
        at += 1
    line = start + text.count("\n", 0, at)
    if at >= len(text) or text[at - 1] == "/":
        return min(line, len(lines) - 1)
    tag = "" if name == ">" else re.escape(name)
    depth = 1
    for match in re.finditer(f"<{tag}(?=[\\s/>])[^>]*>|</{tag}>", text[at + 1:]):
        tag_text = match.group(0)
        depth += -1 if tag_text.startswith("</") else 0 if tag_text.endswith("/>") else 1
        if depth == 0:
            return line + text.count("\n", at, at + 1 + match.end())
    blank = next((j for j in range(line + 1, len(lines)) if not lines[j].strip()), len(lines))
    return blank - 1


def component_words(lines: list[str]) -> str:
    """The words inside JSX lines: their tags and `{expressions}` taken out."""
    return re.sub(r"<[^<>]*>|\{[^{}]*\}", " ", "\n".join(lines))


_ONE_LINE_BLOCK = re.compile(
    r"[ \t]*(?:\{%.*?%\}|\{\{[<%].*?[%>]\}\})(.*)(?:\{%.*?%\}|\{\{[<%].*?[%>]\}\})[ \t]*")


def inside(lines: list[str], region: Region) -> str:
    """What a HIDDEN_BLOCKS region holds, its opening and closing tags taken off."""
    if region.end == region.start:
        match = _ONE_LINE_BLOCK.fullmatch(lines[region.start])
        return match.group(1).strip() if match else lines[region.start].strip()
    return "\n".join(lines[region.start + 1:region.end]).strip("\n")


def front_matter_lines(text: str) -> int:
    """How many lines at the top are a header (never prose): YAML (`---`), TOML (`+++`),
    JSON (`{ … }`) or Pelican / MultiMarkdown `Key: value` lines, as
    engine.corpus.frontmatter reads them (leniently, when they do not parse)."""
    header = frontmatter.parse(text)
    if not header.meta and header.warning is None:
        return 0
    return text.count("\n") - header.body.count("\n")


# A container's title: `:::tip Keep it current` or Docusaurus's `:::tip[Keep it current]`.
_CONTAINER_TITLE = re.compile(r"[\w-]+(?:\[(.*)\]|\s+(.*))?(?:\s*\{.*\})?")


def container_title(info: str) -> str | None:
    """The title of a `:::` container from what follows its marker (`tip Keep it current`,
    `tip[Keep it current]`), or None when it has none."""
    match = _CONTAINER_TITLE.fullmatch(info.strip())
    title = match and (match.group(1) or match.group(2))
    return title.strip() if title and title.strip() else None
