"""Guards against the ways translation models fail: running on, looping, chatting.

- a token budget derived from the input, so a model that never stops is cut off;
- a repetition detector that stops a loop as soon as it is certain;
- preamble stripping ("Here is the translation:") for models that chat;
- checks on the result: wrong language, much longer or shorter than expected;
- `StopReason`: why a paragraph's generation ended, the one fact every reader of "did the
  model stop?" uses (warnings are text for people, never parsed).
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Iterable
from enum import StrEnum

from engine import languages
from engine.corpus import lang as langdetect


class StopReason(StrEnum):
    """Why the generation of a paragraph ended. A `str`: it compares equal to, and is stored
    and serialised as, its value.

    - `stop`: the model ended its turn itself (end-of-turn token or a stop sequence);
    - `length`: cut at the token budget (`max_new_tokens`): the model ran on;
    - `repetition`: cut by the `RepetitionGuard`: the model was looping;
    - `cancelled`: the user stopped it (or it never started because they had).
    """

    STOP = "stop"
    LENGTH = "length"
    REPETITION = "repetition"
    CANCELLED = "cancelled"

    @classmethod
    def from_finish_reason(cls, finish_reason: str | None) -> StopReason:
        """A backend's `finish_reason` (llama.cpp, OpenAI-compatible servers) in these
        words: "length" is the token budget; "stop" — and anything else a server ends a
        turn with (content_filter, tool_calls, none given) — is the model or server ending
        the turn, not a run-on."""
        if finish_reason in (cls.LENGTH, cls.REPETITION, cls.CANCELLED):
            return cls(finish_reason)
        return cls.STOP


# Worst first: a document is as bad as its worst paragraph.
_SEVERITY = (StopReason.CANCELLED, StopReason.LENGTH, StopReason.REPETITION, StopReason.STOP)


def document_stop_reason(reasons: Iterable[StopReason]) -> StopReason:
    """A whole document's reason from its paragraphs': the worst of them — `cancelled` (the
    user stopped it), else `length` (some paragraph ran to the token budget), else
    `repetition` (some loop was cut), else `stop`."""
    found = {StopReason(r) for r in reasons}
    return next((r for r in _SEVERITY if r in found), StopReason.STOP)


# The most tokens one request to an endpoint may use, prompt and output together: OwnVoice's
# own ceiling (a paragraph that needs more is not a paragraph); a local model uses its context.
REQUEST_TOKEN_CEILING = 16384


def max_new_tokens(source_tokens: int) -> int:
    """Room for the longest honest translation, and not much more: about twice the input."""
    return int(source_tokens * 2.2) + 48


class RepetitionGuard:
    """Notices when the end of the output is one block repeated over and over.

    A block of p characters must repeat max(3, 48 / p) times in a row: "哈哈哈" is fine,
    forty of them are not; a sentence said three times in a row is a loop.
    """

    MAX_PERIOD = 200
    MIN_REPEATED_CHARS = 48

    def __init__(self) -> None:
        self.text = ""
        self.tripped = False
        self.keep = 0  # where the output should be cut when tripped

    def feed(self, piece: str) -> bool:
        self.text += piece
        if len(self.text) < self.MIN_REPEATED_CHARS:
            return False
        tail = self.text[-self.MAX_PERIOD * 3:]
        for period in range(1, self.MAX_PERIOD + 1):
            times = max(3, math.ceil(self.MIN_REPEATED_CHARS / period))
            span = period * times
            if span > len(tail):
                break
            block = tail[-period:]
            if not block.strip():
                continue
            if tail[-span:] == block * times:
                self.tripped = True
                # Keep the text before the loop plus one honest instance of the block.
                start = len(self.text) - span
                while start >= period and self.text[start - period:start] == block:
                    start -= period
                self.keep = start + period
                return True
        return False

    def trimmed(self) -> str:
        return self.text[: self.keep].rstrip() if self.tripped else self.text


_PREAMBLES = [
    r"(?:sure|okay|ok|certainly)[,!.]?\s*",
    r"here(?:'s| is) (?:the|your|my|a) (?:\w+ )?translation[^:：\n]*[:：]\s*",
    r"(?:the )?translation(?: (?:in|into|to) \w+)?\s*[:：]\s*",
    r"translated text\s*[:：]\s*",
    r"(?:以下是|下面是|这是)?(?:翻译|译文)(?:结果|如下)?[:：]\s*",
    r"(?:traduction|übersetzung|traducción|tradução|traduzione|перевод)\s*[:：]\s*",
]
_PREAMBLE = re.compile(r"^\s*(?:" + "|".join(_PREAMBLES) + r")+", re.IGNORECASE)
_TRAILING_NOTE = re.compile(r"\n+\s*[(（]?\s*(?:note|注|注意|備註)\s*[:：].*\Z",
                            re.IGNORECASE | re.DOTALL)
_QUOTES = [('"', '"'), ("“", "”"), ("「", "」"), ("'", "'"), ("«", "»")]


def strip_chatter(output: str, source: str, *, target: str | None = None) -> str:
    """Remove what a chatty model adds around the translation."""
    text = _PREAMBLE.sub("", output, count=1)
    if target:  # a few-shot echo of the label: "Chinese: …"
        text = re.sub(rf"^\s*{re.escape(languages.name(target))}\s*[:：]\s*", "", text)
    text = _TRAILING_NOTE.sub("", text).strip()
    for left, right in _QUOTES:
        if (text.startswith(left) and text.endswith(right) and len(text) > 2
                and not source.strip().startswith(left)):
            text = text[len(left):-len(right)].strip()
            break
    return text


_FINAL_STOP = "。．.！!？?"


def match_final_punctuation(source: str, output: str) -> str:
    """A heading or list item without a full stop keeps none in translation ("# 笔记。")."""
    if source.rstrip()[-1:] not in _FINAL_STOP and output[-1:] in "。．.":
        return output[:-1].rstrip()
    return output


def expected_length_ratio(source: str, target: str) -> float:
    """Characters of output per character of input, roughly, for this language pair."""
    cjk_source, cjk_target = source in languages.CJK, target in languages.CJK
    if cjk_source and not cjk_target:
        return 3.0
    if cjk_target and not cjk_source:
        return 1 / 3.0
    return 1.0


def wrong_language(output: str, target: str) -> str | None:
    """The language code the output confidently is, when that is not `target` (a script
    of its own, or any other language where the target is Chinese, Japanese or Korean);
    None when the output is in the target language or too short to tell."""
    detected, confident = langdetect.detect(output, prefer=target)
    if detected and confident and detected != target and (
            not langdetect.same_script(detected, target) or target in languages.CJK):
        return detected
    return None


# After 。！？ (no space in CJK text), or after . ! ? followed by a space ("3.5" stays whole).
_SENTENCE_END = re.compile(r"(?<=[。！？])(?=\S)|(?<=[.!?])\s+(?=\S)")


def sentences(text: str) -> list[str]:
    """`text` cut at its sentence ends (Chinese, Japanese and Latin punctuation), each
    sentence with its own final punctuation; a text without any is one sentence."""
    return [piece.strip() for piece in _SENTENCE_END.split(text) if piece.strip()]


_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")  # 3, 3.5, 1,000, 10:00


def numbers(text: str) -> list[str]:
    """The numbers in `text`, full-width digits read as ASCII, thousands commas dropped
    ("1,000" → "1000"); a time ("10:00") is one number."""
    normalised = unicodedata.normalize("NFKC", text)
    return [n.replace(",", "") for n in _NUMBER.findall(normalised)]


def missing_numbers(source_text: str, output: str) -> list[str]:
    """The source's numbers the output lacks (each occurrence counts once)."""
    have = numbers(output)
    missing = []
    for number in numbers(source_text):
        if number in have:
            have.remove(number)
        else:
            missing.append(number)
    return missing


def not_a_translation(source_text: str, output: str, *, source: str,
                      target: str) -> str | None:
    """Why `output` cannot stand for `source_text` at all (None: it can): nothing came
    back; the model answered with one of its few-shot examples (small base models do, for
    short or hard text); only markup came back, none of the words; or a sliver of a long
    paragraph. The Translator retries such a paragraph, then keeps its source text."""
    if not output.strip():
        return "returned nothing"
    words = _PLACEHOLDER_OR_SPACE.sub("", output)
    for example_source, example_target in languages.example_pairs(source, target):
        if _bare(output) == _bare(example_target) and difflib.SequenceMatcher(
                None, _bare(source_text), _bare(example_source)).ratio() < 0.6:
            return "answered with one of its prompt's examples instead of translating"
    if any(c.isalpha() for c in _PLACEHOLDER_OR_SPACE.sub("", source_text)) and not any(
            c.isalpha() for c in words):
        return "returned no words (only numbers, markup or punctuation)"
    ratio = len(output) / max(1, len(source_text)) / expected_length_ratio(source, target)
    if len(source_text) >= 200 and ratio < 0.1:
        return f"returned a sliver of the paragraph ({ratio:.2f}× the usual length)"
    return None


_PLACEHOLDER_OR_SPACE = re.compile(r"⟦\d+⟧|\s")


def _bare(text: str) -> str:
    """`text` without spaces and punctuation, casefolded: what two answers share."""
    return "".join(c for c in text.casefold() if c.isalnum())


def check_output(source_text: str, output: str, *, source: str, target: str) -> list[str]:
    """Warnings a user should see next to this translation (empty when all looks right)."""
    warnings = []
    if not output.strip():
        return ["The model returned nothing for this paragraph."]
    detected = wrong_language(output, target)
    if detected:
        warnings.append(f"The output looks like {languages.name(detected)}, not "
                        f"{languages.name(target)}.")
    ratio = len(output) / max(1, len(source_text)) / expected_length_ratio(source, target)
    if len(source_text) >= 20 and ratio > 2.5:
        warnings.append(f"The output is {ratio:.1f}× longer than a translation usually is: "
                        "the model may have added or repeated text.")
    elif len(source_text) >= 20 and ratio < 0.35:
        warnings.append(f"The output is much shorter than the input ({ratio:.2f}× the usual "
                        "length): part of it may be missing.")
    missing = missing_numbers(source_text, output)
    if missing:
        warnings.append(f"Not in the translation: {', '.join(missing)} (a number, date or "
                        "time of the source); check that nothing was dropped or changed.")
    added = missing_numbers(output, source_text)
    if added:
        warnings.append(f"Not in the source: {', '.join(added)} (a number the model added); "
                        "check it.")
    return warnings
