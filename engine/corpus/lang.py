"""Which language a piece of text is in.

Scripts decide first (Han → zh, kana → ja, Hangul → ko, …): it is exact and free,
and Chinese text full of English product names is still Chinese. Text in a script
several languages share (Latin, Cyrillic, Arabic, Devanagari) goes to py3langid,
restricted to the common languages of that script.
"""

from __future__ import annotations

import threading
from collections import Counter
from functools import lru_cache

# Languages py3langid may answer, by script.
_BY_SCRIPT = {
    "latin": ["en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs",
              "sk", "ro", "hu", "tr", "id", "ms", "vi", "ca", "hr", "sl", "et", "lt", "lv"],
    "cyrillic": ["ru", "uk", "bg", "sr", "mk", "be", "kk"],
    "arabic": ["ar", "fa", "ur"],
    "devanagari": ["hi", "mr", "ne"],
}
# Scripts that name their language outright.
_SCRIPT_LANG = {"han": "zh", "kana": "ja", "hangul": "ko", "greek": "el", "hebrew": "he",
                "thai": "th"}

# An English word is ~5 letters, a Chinese word ~1.5 characters: weigh Han accordingly,
# so "我们用 Docker 部署" is Chinese and "the word 火车 means train" is English.
_HAN_WEIGHT = 3
# Below this many letters, py3langid guesses; the caller may prefer the document's language.
MIN_CONFIDENT_LETTERS = 25


def _script(ch: str) -> str | None:
    o = ord(ch)
    if o < 0x250:
        return "latin" if ch.isalpha() else None
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF \
            or 0x20000 <= o <= 0x2FFFF:
        return "han"
    if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF:
        return "kana" if ch not in "・ー" else None
    if 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
        return "hangul"
    if 0x0400 <= o <= 0x04FF:
        return "cyrillic"
    if 0x0370 <= o <= 0x03FF:
        return "greek"
    if 0x0590 <= o <= 0x05FF:
        return "hebrew"
    if 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F:
        return "arabic"
    if 0x0E00 <= o <= 0x0E7F:
        return "thai"
    if 0x0900 <= o <= 0x097F:
        return "devanagari"
    if 0x1E00 <= o <= 0x1EFF:
        return "latin"  # Vietnamese and other extended Latin
    return None


def script_counts(text: str) -> Counter:
    return Counter(s for s in map(_script, text) if s)


def detect(text: str) -> tuple[str | None, bool]:
    """Return (ISO 639-1 code or None, confident)."""
    counts = script_counts(text)
    if not counts:
        return None, False
    han, kana = counts.get("han", 0), counts.get("kana", 0)
    if kana and kana * 10 >= han:  # Japanese mixes kana into Han text
        return "ja", kana + han >= 4
    if han:
        latin = counts.get("latin", 0)
        if han * _HAN_WEIGHT >= latin:
            return "zh", han >= 4
        counts.pop("han")
    script, letters = counts.most_common(1)[0]
    if script in _SCRIPT_LANG:
        return _SCRIPT_LANG[script], letters >= 4
    if script == "kana":
        return "ja", letters >= 4
    lang = _classify(text, script)
    return lang, letters >= MIN_CONFIDENT_LETTERS


def same_script(a: str, b: str) -> bool:
    """Whether two language codes are written in the same script family."""
    def family(code: str) -> str:
        for script, langs in _BY_SCRIPT.items():
            if code in langs:
                return script
        return code
    return family(a) == family(b)


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _identifier():
    """One py3langid model (1.4 s to load, mostly xz), restricted to the languages above."""
    with _lock:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
        identifier.set_languages(sorted({code for codes in _BY_SCRIPT.values() for code in codes}))
        return identifier


def _classify(text: str, script: str) -> str:
    """The best-ranked language among those written in `script`."""
    candidates = _BY_SCRIPT[script]
    for lang, _score in _identifier().rank(text):
        if lang in candidates:
            return lang
    return candidates[0]
