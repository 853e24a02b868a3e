"""A user's correction of a translation becomes training data.

The corrected text is aligned with the translation paragraph by paragraph; each
paragraph the user changed becomes a pair (source = the text they translated, target =
their wording), weighted above synthetic pairs: it is the user's own voice, first hand.
The corrected text is cut into paragraphs the way the translated text was: as HTML, plain
text or Markdown (an HTML page's `*` or a text file's `# ` is the user's words, not
Markdown's markup; nor does an indented HTML line become a Markdown code block).
"""

from __future__ import annotations

import difflib
import re

from engine.translation import document

CORRECTION_WEIGHT = 3.0  # synthetic pairs weigh 1.0
# Words for diffing: a CJK character is a word; so is a run of letters/digits, a space run,
# or a punctuation mark.
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|\s+|[^\w\s]")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """[(op, text)] with op in equal / delete / insert, word by word."""
    a, b = _WORD.findall(old), _WORD.findall(new)
    ops: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append(("equal", "".join(a[i1:i2])))
            continue
        if tag in ("delete", "replace"):
            ops.append(("delete", "".join(a[i1:i2])))
        if tag in ("insert", "replace"):
            ops.append(("insert", "".join(b[j1:j2])))
    return ops


def render_diff(ops: list[tuple[str, str]]) -> str:
    """The diff as text: [-removed-]{+added+}, the convention of `git diff --word-diff`."""
    marks = {"equal": "{}", "delete": "[-{}-]", "insert": "{{+{}+}}"}
    return "".join(marks[op].format(text) for op, text in ops)


def format_of(translation: dict) -> str:
    """The format (document.FORMATS) a history translation's text was cut in: the one its
    settings name, else the one that cuts its source into the paragraphs it translated
    (HTML first for a text that starts with a tag, else Markdown: the translator's
    default)."""
    named = (translation.get("settings") or {}).get("format")
    if named in document.FORMATS:
        return named
    sources = [unit["source"] for unit in translation["units"]]
    tagged = translation["source_text"].lstrip().startswith("<")
    for fmt in ("html", "markdown", "text") if tagged else ("markdown", "html", "text"):
        if [u.text for u in document.split(translation["source_text"], fmt).units] == sources:
            return fmt
    return "markdown"


def correction_pairs(translation: dict, corrected: str) -> list[dict]:
    """Training pairs for the paragraphs the user changed (one pair for all if they no
    longer line up with the translation's paragraphs)."""
    units = translation["units"]
    corrected_units = [u.text for u in document.split(corrected, format_of(translation)).units]
    base = {"source_lang": translation["source_lang"], "target_lang": translation["target_lang"],
            "weight": CORRECTION_WEIGHT}
    if len(corrected_units) == len(units):
        return [{**base, "source_text": unit["source"], "target_text": new,
                 "meta": {"machine_output": unit["output"], "paragraph": i}}
                for i, (unit, new) in enumerate(zip(units, corrected_units, strict=True))
                if new.strip() != unit["output"].strip()]
    return [{**base, "source_text": translation["source_text"], "target_text": corrected.strip(),
             "meta": {"machine_output": translation["output_text"]}}]
