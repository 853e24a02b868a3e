r"""Only prose goes to the model: the parts of a paragraph that must come back exactly are
replaced by numbered placeholders before translation and put back after it.

Protected spans (each one whole): inline code, link and image destinations with their
titles (`](url "title")`, `][ref]`) and the `[` / `![` that open them, collapsed and
shortcut reference links whole (`[label][]`, `[label]`: their text is their label),
backslash escapes (`\|`, `\*`), autolinks and bare URLs, footnote references (`[^1]`),
inline math (`$…$` with a formula in it), inline HTML tags (`<code>`, `<kbd>`, `<samp>`,
`<var>` with their content), character references (`&amp;`), Hugo shortcodes (`{{< … >}}`,
`{{% … %}}`), Liquid tags and output (`{% … %}`, `{{ … }}`), Obsidian comments (`%%…%%`),
callout markers (`[!tip]`) and wiki links (`[[target]]`; `[[target|` and `]]` around an
alias, which is translated), task-list boxes (`[ ]`), and attribute blocks / heading
anchors (`{#id}`).

The placeholder is `⟦n⟧` (U+27E6, U+27E7). Measured with `benchmarks/placeholders.py`
(2026-11-30; 12 English sentences with one or two spans, en → zh; a sentence counts when
every placeholder came back exactly once): SmolLM2-135M (chat) keeps `⟦n⟧` in 6/12, `[n]`
and `#n#` in 4/12, `{{n}}`, `<xn/>`, `@@n@@` in 1/12. The embedded Gemma 270M (few-shot)
kept `{{n}}` 10/12, `[n]` 8/12, `⟦n⟧` 7/12, the rest at most 5/12 with the plain few-shot
prompt; with one of its examples carrying `⟦1⟧…⟦2⟧` (what prompts.completion_prompt does
when the text has placeholders) it keeps `⟦n⟧` in 12/12. `⟦n⟧` is the best over both, and
no Markdown, HTML or template syntax uses it (`{{n}}` is Hugo's and Liquid's). What a model
loses is never lost silently: `restore` says which span is missing, and the Translator
retries once, strictly, then keeps the source paragraph with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPEN, CLOSE = "⟦", "⟧"
_PLACEHOLDER = re.compile(f"{OPEN}(\\d+){CLOSE}")

# Order matters: earlier patterns win where spans overlap (a shortcode inside a link
# destination is protected as part of the destination).
_SPANS = re.compile("|".join(f"(?:{p})" for p in [
    r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)",                      # inline code
    r"\{\{[<%].*?[%>]\}\}",                                  # Hugo shortcodes
    r"\{%.*?%\}", r"\{\{.*?\}\}",                            # Liquid tags and output
    r"%%.*?%%",                                              # Obsidian comments
    r"\]\((?:\{\{.*?\}\}|[^()\s]|\([^()]*\))*"                   # ](dest "title")
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)",
    r"\]\[[^\]]*\]",                                         # ][reference]
    r"!?\[(?=[^\]]*\](?:\(|\[[^\]]))",                      # the [ or ![ of a link / image
    r"!?\[[^\[\]\n]+\](?:\[\])?(?![(\[:])",                    # [label] / [label][]: whole
    r"\\[!-/:-@\[-`{-~]",                                     # backslash escapes (`\|`, `\*`)
    r"\[\^[^\]\s]+\]",                                       # footnote references
    r"!?\[\[[^\]|\n]*\]\]", r"!?\[\[[^\]|\n]*\|", r"\]\]",           # [[wiki|alias]] links
    r"^\[![\w-]+\][+-]?",                                    # an Obsidian callout marker
    r"^\[[ xX]\](?= )",                                       # a task list's box
    r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z]\w*);",              # character references
    r"<(?:https?|mailto|ftp):[^>\s]+>",                      # autolinks
    r"<(code|kbd|samp|var)\b[^<>]*>.*?</\2>",                # code in HTML, whole
    r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>",             # inline HTML tags
    r"\$\$[^$]+\$\$",                                        # inline $$math$$
    r"(?<![\w$])\$(?=\S)[^$\n]*?[\\^_={}][^$\n]*?(?<=\S)\$(?![\w$])",  # inline math
    r"\{[#.:][^{}\s][^{}]*\}",                               # {#id} {.class} attributes
    r"https?://[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\"]",        # bare URLs
    r"⟦\d+⟧",                                                # our own marks, if the text has some
]))


@dataclass
class Masked:
    """A paragraph with its protected spans replaced by ⟦1⟧, ⟦2⟧…"""

    text: str  # what the model translates
    spans: list[str]  # spans[i] is what ⟦i+1⟧ stands for

    @property
    def prose(self) -> bool:
        """Whether anything but placeholders, spaces and punctuation is left to translate."""
        return any(ch.isalpha() for ch in _PLACEHOLDER.sub("", self.text))


def mask(text: str) -> Masked:
    """`text` with every protected span replaced by a numbered placeholder."""
    spans: list[str] = []

    def replace(match: re.Match) -> str:
        spans.append(match.group(0))
        return f"{OPEN}{len(spans)}{CLOSE}"

    return Masked(_SPANS.sub(replace, text), spans)


class LostSpans(ValueError):
    """The translation does not carry every placeholder exactly once."""


def restore(output: str, masked: Masked) -> str:
    """The translation with each placeholder replaced by its span. Raises LostSpans naming
    what is missing, doubled or invented (the caller retries, then keeps the source)."""
    found = [int(n) for n in _PLACEHOLDER.findall(output)]
    wanted = range(1, len(masked.spans) + 1)
    missing = [n for n in wanted if found.count(n) == 0]
    doubled = [n for n in wanted if found.count(n) > 1]
    invented = sorted({n for n in found if n not in wanted})
    if missing or doubled or invented:
        parts = []
        if missing:
            parts.append("lost " + ", ".join(_show(masked.spans[n - 1]) for n in missing))
        if doubled:
            parts.append("repeated " + ", ".join(_show(masked.spans[n - 1]) for n in doubled))
        if invented:
            parts.append("invented markers " + ", ".join(f"⟦{n}⟧" for n in invented))
        raise LostSpans("; ".join(parts))
    for n, span in enumerate(masked.spans[:-1], 1):  # a link's text: ⟦n⟧ text ⟦n+1⟧
        if span in ("[", "![") and masked.spans[n].startswith("]"):
            before, inside = _link_text_share(masked.text, n), _link_text_share(output, n)
            if inside is None:
                raise LostSpans(f"turned around the link that starts with {_show(span)}")
            if before is not None and before <= 0.5 and inside >= 0.9:
                raise LostSpans("stretched a link over the whole sentence")
    return _PLACEHOLDER.sub(lambda m: masked.spans[int(m.group(1)) - 1], output)


def _link_text_share(text: str, n: int) -> float | None:
    """How much of `text`'s words stand between ⟦n⟧ and ⟦n+1⟧ (0–1); None when ⟦n+1⟧ comes
    first."""
    start, end = text.find(f"{OPEN}{n}{CLOSE}"), text.find(f"{OPEN}{n + 1}{CLOSE}")
    if end < start:
        return None
    words = len(_PLACEHOLDER.sub("", text).strip()) or 1
    return len(_PLACEHOLDER.sub("", text[start:end]).strip()) / words


def _show(span: str) -> str:
    if span in ("[", "!["):
        return f"the {span!r} that opens a {'link' if span == '[' else 'image'}"
    return repr(span if len(span) <= 40 else span[:37] + "…")
