"""What in a Markdown file is never prose, line by line: headers, site-generator markup,
code held by template tags, comments, MDX statements and components.

One set of recognisers for the two readers of a writer's Markdown: the corpus
(engine.corpus.markdown), where these lines never become prose segments, and translation
(engine.translation.document), where they are copied verbatim, never translated. Also
what inside a line is a site's output rather than the writer's words (inline template
tags, MDX expressions), the words a tag does show (a link's text, an image's caption), and
what an MDX component holds.
"""

from __future__ import annotations

import re
import textwrap
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
    # An MDX comment over several lines: `{/*` on a line of its own … `*/}`.
    (re.compile(r"[ \t]*(\{/\*)(?:(?!\*/\}).)*"), lambda _: re.compile(r".*\*/\}[ \t]*")),
]
_BLOCK_KINDS = {"raw": RAW, "highlight": CODE, "codeblock": CODE, "code": CODE,
                "mermaid": CODE, "math": MATH, "katex": MATH, "comment": COMMENT, "%%": COMMENT,
                "{/*": COMMENT, "blockquote": QUOTE, "quote": QUOTE}


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
    at = _opening_tag_end(text)
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


def _opening_tag_end(text: str) -> int:
    """Where the JSX tag that opens `text` (after white space) ends: the index of its `>`
    (braces and quotes in attributes skipped), or len(text) when it never ends."""
    at = text.index("<") + 1
    braces, quote = 0, None
    while at < len(text):
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
    return at


def component_children(lines: list[str]) -> tuple[str, str]:
    """The name of the JSX element on `lines` (a COMPONENT region) and what it holds: the
    Markdown between its opening and closing tags, dedented (MDX reads no indented code);
    "" for a self-closing element. Inner components keep their tags: the caller reads the
    children as Markdown again, so they are regions of their own."""
    text = "\n".join(lines)
    name = JSX_OPEN.match(text).group(1)
    at = _opening_tag_end(text)
    if at >= len(text) or text[at - 1] == "/":
        return name, ""
    children = text[at + 1:]
    closing = re.search(r"</" + ("" if name == ">" else re.escape(name)) + r">[ \t]*\Z",
                        children)
    if closing:
        children = children[:closing.start()]
    first, _, rest = children.partition("\n")
    return name, (first.strip() + "\n" + textwrap.dedent(rest)).strip("\n")


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


# --- inline template output ----------------------------------------------------------------
# A template tag inside a sentence stands for words the site fills in when it is built
# (`Welcome to {{ site.title }}`): without them the sentence has a hole. Only tags whose
# shown words are written in the tag itself, or that stand for a URL, leave none.

_TAG = r"(?:\{\{.*?\}\}|\{%.*?%\})"
TEMPLATE_TAG = re.compile(_TAG)
# A link whose destination is built by a tag: Jekyll `[text]({% post_url x %})`,
# `[text]({{ site.baseurl }}/about)`, Hugo `[text]({{< ref "x" >}})`, Zola
# `[text]({{ ref(path="@/x.md") }})`; and a reference definition `[x]: {% link a.md %}`.
_DESTINATION_OPEN = re.compile(r"\]\([ \t]*")
_DEFINITION_OPEN = re.compile(r"[ \t]{0,3}\[[^\]]+\]:[ \t]*")
_DESTINATION_REST = re.compile(r"[ \t]*(?:\"[^\"]*\"|'[^']*')?[ \t]*\)")
# Hexo's link to a post or an asset, with the words it shows: `{% post_link slug 'Text' %}`.
_POST_LINK = re.compile(r"\{%-?\s*(?:post_link|asset_link)\s+\S+\s+(.+?)\s*-?%\}")
# An MDX comment inside a line: `A line {/* note */} with a comment.`
INLINE_JSX_COMMENT = re.compile(r"\{/\*.*?\*/\}")
# An MDX (JSX) expression in running text: `{props.answer}`, `{year}`, `{t('hi')}`. Not
# LaTeX's `\frac{a}{b}` or `x^{2}`, a URL's `/users/{id}`, kramdown's `{:toc}` / `{#id}`,
# Pandoc's `{.class}` or a set `{a, b}`.
JSX_EXPRESSION = re.compile(
    r"(?<![\w\\^_$/#%{}])\{(?![\s,]*\w+(?:\s*,\s*\w+)+\s*\})\s*[A-Za-z_$][^{}\n]*\}(?!\})")
# A string in braces is literal text (`{" "}` keeps a space in JSX).
JSX_STRING = re.compile(r"\{\s*([\"'])(.*?)\1\s*\}")
# Hugo's paired shortcode inside a line (`{{< mark >}}words{{< /mark >}}`): its words stay.
_PAIRED_CLOSING = re.compile(r"\{\{[<%]\s*/\s*([\w-]+)\s*[%>]\}\}")


def linkable(line: str) -> str:
    """`line` with the links whose text a tag writes or whose URL a tag builds made plain
    Markdown links (their URL `#`), and MDX comments inside it taken out, so that the
    Markdown parser sees the words the reader sees. Code spans are left as they are."""
    opening = _DEFINITION_OPEN.match(line)
    if opening:  # [label]: {% post_url x %}
        end, tagged = _destination_end(line, opening.end())
        if tagged:
            line = line[:opening.end()] + "#" + line[end:]
    only_comments = not INLINE_JSX_COMMENT.sub("", line).strip()  # a line of markup
    parts = re.split(r"(`+[^`]*`+)", line)
    for i in range(0, len(parts), 2):
        part = _tagged_destinations(parts[i])
        part = _POST_LINK.sub(lambda m: _post_link(m.group(1)), part)
        parts[i] = part if only_comments else INLINE_JSX_COMMENT.sub("", part)
    return "".join(parts)


def _tagged_destinations(text: str) -> str:
    """`text` with each inline link destination that a tag builds made `#`."""
    out, at = [], 0
    for opening in _DESTINATION_OPEN.finditer(text):
        if opening.start() < at:
            continue
        end, tagged = _destination_end(text, opening.end())
        if tagged and _DESTINATION_REST.match(text, end):
            out += [text[at:opening.end()], "#"]
            at = end
    return "".join(out) + text[at:]


def _destination_end(text: str, start: int) -> tuple[int, bool]:
    """Where a link destination starting at `start` ends (template tags inside it read
    whole), and whether it holds a tag."""
    at, tagged = start, False
    while at < len(text):
        closing = {"{{": "}}", "{%": "%}"}.get(text[at:at + 2])
        if closing:
            end = text.find(closing, at + 2)
            if end < 0:
                break
            at, tagged = end + 2, True
        elif text[at].isspace() or text[at] in "(){}":
            break
        else:
            at += 1
    return at, tagged


def _post_link(args: str) -> str:
    """`[Text](#)` for a post_link tag's arguments after its slug (`'Text' false`, `"Text"`,
    `Text in words`)."""
    words = re.sub(r"\s+(?:true|false)$", "", args.strip())
    if len(words) > 1 and words[0] in "\"'" and words[-1] == words[0]:
        words = words[1:-1]
    return "[" + re.sub(r"([\\`*_\[\]<>{}!])", r"\\\1", words) + "](#)"


def template_words(text: str, paired: set[str]) -> tuple[str, bool]:
    """A run of a paragraph's plain text (no code) read for inline template output: the
    text with what leaves no hole taken out (`{" "}`, the tags of a paired shortcode named
    in `paired`), and whether a tag or an MDX expression is left in it (a hole)."""
    text = JSX_STRING.sub(lambda m: m.group(2), text)
    if paired:
        text = re.sub(r"\{\{[<%]\s*/?\s*(?:" + "|".join(map(re.escape, sorted(paired))) +
                      r")\b.*?[%>]\}\}", "", text)
    return text, bool(TEMPLATE_TAG.search(text) or JSX_EXPRESSION.search(text))


def paired_shortcodes(content: str) -> set[str]:
    """The names of the Hugo shortcodes closed inside `content` (`{{< /mark >}}`)."""
    return set(_PAIRED_CLOSING.findall(content))


# --- an image tag's words ------------------------------------------------------------------

_TAG_INSIDE = re.compile(
    r"\{\{[<%]\s*(.*?)\s*[%>]\}\}|\{%-?\s*(.*?)\s*-?%\}|\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_ATTRIBUTE = re.compile(r"""\b(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# Tags that show a picture: Hugo/Zola `figure`, Hexo/Octopress `img` and `asset_img`,
# Eleventy `image`, Zola `resize_image`.
_IMAGE_TAG = re.compile(r"(?:\w+_)?(?:figure|fig|img|image|photo|picture|asset_img|asset_image)",
                        re.I)
_ARGUMENT = re.compile(r"\"([^\"]*)\"|'([^']*)'|([^\s,]+)")
_PATH = re.compile(r"\S*[/.]\S*|https?:\S+")
_SIZE = re.compile(r"\d+(?:px|%|em)?")


def tag_captions(text: str) -> list[tuple[str, str]]:
    """The words the template tags in `text` show under a picture, with where they come
    from, best first for each tag: ("caption", …) from any tag's `caption=`; ("title", …)
    and ("alt", …) from an image tag's attributes (Hugo/Zola `figure`) or arguments (Hexo
    `{% img /a.jpg 300 200 "Title" 'alt' %}`, `{% asset_img a.jpg Title words %}`)."""
    return [pair for match in _TAG_INSIDE.finditer(text)
            for pair in element_captions(next(g for g in match.groups() if g is not None))]


def element_captions(inside: str) -> list[tuple[str, str]]:
    """tag_captions for one tag or element, given what is inside its delimiters: its name
    and its attributes or arguments (`figure src="a.jpg" caption="…"`)."""
    name = re.match(r"[\w-]*", inside).group(0)
    attributes = {key.lower(): a or b for key, a, b in _ATTRIBUTE.findall(inside)}
    words = [("caption", attributes.get("caption", ""))]
    if _IMAGE_TAG.fullmatch(name):
        if "=" in inside:
            words += [("title", attributes.get("title", "")), ("alt", attributes.get("alt", ""))]
        else:
            words += _image_arguments(inside[len(name):])
    return [(where, said) for where, said in words if said.strip()]


def _image_arguments(arguments: str) -> list[tuple[str, str]]:
    """Title and alt text from an image tag's arguments: class names, the path, width and
    height, then the title and the alt text (quoted), or the title in plain words."""
    items = [(m.group(m.lastindex), m.lastindex < 3) for m in _ARGUMENT.finditer(arguments)]
    at = next((i for i, (item, _) in enumerate(items) if _PATH.fullmatch(item)), 0)
    rest = items[at + 1:]
    while rest and not rest[0][1] and _SIZE.fullmatch(rest[0][0]):
        rest = rest[1:]
    if len(rest) == 1 and rest[0][1] and re.search(r"[\"']", rest[0][0]):
        return _image_arguments("x/x " + rest[0][0])  # Hexo: '"title text" "alt text"'
    quoted = [item for item, was_quoted in rest if was_quoted]
    if quoted:
        return list(zip(("title", "alt"), quoted[:2], strict=False))
    return [("title", " ".join(item for item, _ in rest))] if rest else []
