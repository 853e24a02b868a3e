"""Language codes, their names, and the example sentences base models are prompted with."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from engine.errors import OwnVoiceError

NAMES = {
    "en": "English", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "fr": "French",
    "de": "German", "es": "Spanish", "pt": "Portuguese", "it": "Italian", "ru": "Russian",
    "nl": "Dutch", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish",
    "pl": "Polish", "cs": "Czech", "tr": "Turkish", "uk": "Ukrainian", "ar": "Arabic",
    "he": "Hebrew", "el": "Greek", "th": "Thai", "vi": "Vietnamese", "id": "Indonesian",
    "hi": "Hindi", "ro": "Romanian", "hu": "Hungarian",
}
# Scripts written without spaces: length is counted differently, lines join without one.
CJK = frozenset({"zh", "ja", "ko"})


# Han and kana characters: each one counts as a word (Chinese and Japanese are written
# without spaces, and a word is one or two characters). Hangul is spaced like English.
_CJK_CHAR = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff\u3040-\u30ff"
_WORDS = re.compile(f"[{_CJK_CHAR}]|[^\\W{_CJK_CHAR}]+")


def count_words(text: str) -> int:
    """Words in `text`: a Chinese or Japanese character is one, so is each run of letters or
    digits in other scripts. An English word is five characters and a Chinese one one or
    two: counted in characters, a Chinese writer who also writes English comes out English."""
    return len(_WORDS.findall(text))


def normalise(code: str) -> str:
    """'zh-CN', 'ZH', 'Chinese' → 'zh'. Unknown codes are an error that lists the known ones."""
    text = code.strip().lower().replace("_", "-")
    base = text.split("-")[0]
    if base in NAMES:
        return base
    for known, name in NAMES.items():
        if name.lower() == text:
            return known
    raise OwnVoiceError(f"Unknown language {code!r}. Use a code such as "
                        f"{', '.join(sorted(NAMES)[:12])}…")


def name(code: str) -> str:
    return NAMES.get(code, code)


@lru_cache(maxsize=1)
def _examples() -> dict[str, list[str]]:
    text = resources.files("resources").joinpath("prompts/fewshot.json").read_text("utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def example_pairs(source: str, target: str) -> list[tuple[str, str]]:
    """Parallel sentences for a few-shot prompt; English stands in for a missing language."""
    examples = _examples()
    src = examples.get(source, examples["en"])
    tgt = examples.get(target, examples["en"])
    return list(zip(src, tgt, strict=True))
