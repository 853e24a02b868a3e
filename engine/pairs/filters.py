"""Checks a synthetic translation must pass before it becomes a training pair.

Each returns None (fine) or the reason the pair is rejected, in words a user reads.
"""

from __future__ import annotations

import difflib
import re

from engine import languages
from engine.corpus import lang as langdetect
from engine.translation import guards

_REFUSAL = re.compile(
    r"^\s*(i'?m sorry|i am sorry|sorry,|i can(?:no|')t|i cannot|as an ai|unfortunately,? i|"
    r"抱歉|对不起|我无法|很抱歉)|(translation|翻译)\s*[:：]\s*$",
    re.IGNORECASE)
MIN_NUMBERS_KEPT = 0.9
LENGTH_RATIO = (0.4, 2.5)  # observed / expected characters
NEAR_DUPLICATE = 0.95


def check_numbers(original: str, output: str) -> str | None:
    wanted = guards.numbers(original)
    if not wanted:
        return None
    kept = len(wanted) - len(guards.missing_numbers(original, output))
    if kept / len(wanted) < MIN_NUMBERS_KEPT:
        return f"numbers not preserved (kept {kept} of {len(wanted)})"
    return None


def check_language(output: str, into: str) -> str | None:
    detected, confident = langdetect.detect(output, prefer=into)
    if detected is None:
        return "no words in the output"
    if detected != into and (confident or not langdetect.same_script(detected, into)):
        return f"wrong language ({languages.name(detected)}, not {languages.name(into)})"
    return None


def check_length(original: str, output: str, *, user_lang: str, into: str) -> str | None:
    expected = guards.expected_length_ratio(user_lang, into)
    ratio = len(output) / max(1, len(original)) / expected
    low, high = LENGTH_RATIO
    if len(original) >= 20 and not low <= ratio <= high:
        return f"length ratio out of range ({ratio:.2f}× the expected length)"
    return None


def check_chatter(raw: str) -> str | None:
    if _REFUSAL.search(raw.strip()[:200]):
        return "the model refused or chatted instead of translating"
    return None


def check_near_duplicate(output: str, others: dict[str, str]) -> str | None:
    """`others`: style → accepted output of the same paragraph."""
    for style, other in others.items():
        if difflib.SequenceMatcher(None, output, other, autojunk=False).ratio() >= NEAR_DUPLICATE:
            return f"near-duplicate of the {style} version"
    return None


def review(original: str, raw_output: str, *, user_lang: str, into: str,
           others: dict[str, str]) -> tuple[str, str | None]:
    """(the cleaned output, the reason to reject it or None)."""
    output = guards.strip_chatter(raw_output, original, target=into)
    for reason in ("empty output" if not output.strip() else None,
                   check_chatter(output),
                   check_language(output, into),
                   check_numbers(original, output),
                   check_length(original, output, user_lang=user_lang, into=into),
                   check_near_duplicate(output, others)):
        if reason:
            return output, reason
    return output, None
