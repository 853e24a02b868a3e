"""Language codes, their names, and the example sentences base models are prompted with.

A language is an ISO 639-1 code, except Chinese, which is two written languages: 'zh' is
Chinese in Simplified characters (the code corpora stored before Traditional was told apart
keep, and what a bare 'zh', 'zh-CN' or 'zh-SG' means) and 'zh-Hant' is Chinese in Traditional
characters ('zh-TW', 'zh-HK', 'zh-MO'). A writer's Traditional version of a post is often
OpenCC's conversion of their Simplified one: as two languages, it is a translation, not a
second original. What is the same for both (spacing, word counts, length ratios) asks
`family(code)`, which is 'zh' for both.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from engine.errors import OwnVoiceError

SIMPLIFIED_CHINESE = "zh"
TRADITIONAL_CHINESE = "zh-Hant"
NAMES = {
    "en": "English", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "fr": "French",
    "de": "German", "es": "Spanish", "pt": "Portuguese", "it": "Italian", "ru": "Russian",
    "nl": "Dutch", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish",
    "pl": "Polish", "cs": "Czech", "tr": "Turkish", "uk": "Ukrainian", "ar": "Arabic",
    "he": "Hebrew", "el": "Greek", "th": "Thai", "vi": "Vietnamese", "id": "Indonesian",
    "hi": "Hindi", "ro": "Romanian", "hu": "Hungarian",
    # 'zh' keeps the plain name: prompts name the language, and models trained on
    # "Chinese" keep reading the same words.
    TRADITIONAL_CHINESE: "Chinese (Traditional)",
}
# Scripts written without spaces: length is counted differently, lines join without one.
CJK = frozenset({"zh", "zh-Hant", "ja", "ko"})
# Subtags that make Chinese Traditional: the script, or a region that writes it.
_TRADITIONAL_TAGS = frozenset({"hant", "tw", "hk", "mo"})
_OTHER_NAMES = {"traditional chinese": "zh-Hant", "chinese traditional": "zh-Hant",
                "simplified chinese": "zh", "chinese simplified": "zh",
                "chinese (simplified)": "zh"}


# Han and kana characters: each one counts as a word (Chinese and Japanese are written
# without spaces, and a word is one or two characters). Hangul is spaced like English.
_CJK_CHAR = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff\u3040-\u30ff"
_WORDS = re.compile(f"[{_CJK_CHAR}]|[^\\W{_CJK_CHAR}]+")


def count_words(text: str) -> int:
    """Words in `text`: a Chinese or Japanese character is one, so is each run of letters or
    digits in other scripts. An English word is five characters and a Chinese one one or
    two: counted in characters, a Chinese writer who also writes English comes out English."""
    return len(_WORDS.findall(text))


def code(text) -> str | None:
    """The known language a code names, None for anything else: 'pt-BR' → 'pt', 'zh-CN',
    'zh-Hans' → 'zh', 'zh-TW', 'zh_hk', 'zh-Hant-TW' → 'zh-Hant'. Codes only, no names."""
    if not text:
        return None
    parts = str(text).strip().lower().replace("_", "-").split("-")
    if parts[0] == "zh":
        script = next((p for p in parts[1:] if p in ("hans", "hant")), None)
        if script == "hant" or (script is None and _TRADITIONAL_TAGS & set(parts[1:])):
            return TRADITIONAL_CHINESE
        return SIMPLIFIED_CHINESE
    return parts[0] if parts[0] in NAMES else None


def normalise(code_or_name: str) -> str:
    """'zh-CN', 'ZH', 'Chinese' → 'zh'; 'zh-TW', 'Chinese (Traditional)' → 'zh-Hant'.
    Unknown codes are an error that lists the known ones."""
    found = code(code_or_name)
    if found is not None:
        return found
    text = code_or_name.strip().lower()
    for known, name in NAMES.items():
        if name.lower() == text:
            return known
    if text in _OTHER_NAMES:
        return _OTHER_NAMES[text]
    raise OwnVoiceError(f"Unknown language {code_or_name!r}. Use a code such as "
                        f"{', '.join(sorted(NAMES)[:12])}…")


def family(code: str | None) -> str | None:
    """The language without its script: 'zh' for Simplified and Traditional Chinese alike
    (spaced, counted and measured the same way); any other code as it is."""
    return SIMPLIFIED_CHINESE if code == TRADITIONAL_CHINESE else code


def name(code_: str) -> str:
    return NAMES.get(code_) or NAMES.get(code(code_) or "", code_)


@lru_cache(maxsize=1)
def _examples() -> dict[str, list[str]]:
    text = resources.files("resources").joinpath("prompts/fewshot.json").read_text("utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def example_pairs(source: str, target: str) -> list[tuple[str, str]]:
    """Parallel sentences for a few-shot prompt; Chinese in the other script, then English,
    stands in for a missing language."""
    examples = _examples()
    src = examples.get(source) or examples.get(family(source), examples["en"])
    tgt = examples.get(target) or examples.get(family(target), examples["en"])
    return list(zip(src, tgt, strict=True))
