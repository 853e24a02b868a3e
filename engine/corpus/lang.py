"""Which language a piece of text is in.

Scripts decide first (Han → zh, kana → ja, Hangul → ko, …): it is exact and free,
and Chinese text full of English product names is still Chinese. Text in a script
several languages share (Latin, Cyrillic, Arabic, Devanagari) goes to py3langid,
restricted to the common languages of that script.

Chinese is Simplified ('zh') or Traditional ('zh-Hant', engine/languages.py): the characters
tell, by CC-CEDICT's lists (through `hanzidentifier`, pure Python): those only Traditional
writes (們, 這, 說) against those only Simplified writes (们, 这, 说). Most of the characters
are both (我, 的, 天): a text of those alone is Chinese of either script, which `prefer`
settles (the document's language, the one a translation was asked in), else Simplified.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
from collections import Counter
from functools import lru_cache

from engine import languages

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
# …and below this probability (lists of identifiers: "Default: null, Type: String").
MIN_CONFIDENT_PROBABILITY = 0.95


_SCRIPTS = {
    "latin": r"A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff",
    "han": r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff",
    "kana": r"\u3040-\u30fa\u30fd-\u30ff\u31f0-\u31ff",  # not ・ or ー, which Chinese uses too
    "hangul": r"\uac00-\ud7af\u1100-\u11ff\u3130-\u318f",
    "cyrillic": r"\u0400-\u04ff",
    "greek": r"\u0370-\u03ff",
    "hebrew": r"\u0590-\u05ff",
    "arabic": r"\u0600-\u06ff\u0750-\u077f",
    "thai": r"\u0e00-\u0e7f",
    "devanagari": r"\u0900-\u097f",
}
_SCRIPT_PATTERNS = {name: re.compile(f"[{chars}]") for name, chars in _SCRIPTS.items()}
# The start of a paragraph tells its language as well as the whole of it, for less work.
_SAMPLE_CHARS = 600
# A quotation (someone else's words, often in another language) inside a paragraph.
_QUOTED = re.compile(r'"[^"\n]{8,}"|“[^”\n]{8,}”|「[^」\n]{8,}」|『[^』\n]{8,}』|«[^»\n]{8,}»')


def script_counts(text: str) -> Counter:
    sample = text[:_SAMPLE_CHARS]
    return Counter({name: n for name, pattern in _SCRIPT_PATTERNS.items()
                    if (n := len(pattern.findall(sample)))})


@lru_cache(maxsize=1)
def _chinese_only() -> tuple[frozenset[str], frozenset[str]]:
    """(characters only Simplified writes, characters only Traditional writes)."""
    from hanzidentifier import helpers

    simplified, traditional = helpers.SIMPLIFIED_CHARACTERS, helpers.TRADITIONAL_CHARACTERS
    return frozenset(simplified - traditional), frozenset(traditional - simplified)


def chinese_script(text: str, *, sample: bool = True) -> str | None:
    """'zh-Hant' when more of the text's characters are written only in Traditional than
    only in Simplified, 'zh' for the reverse, None when its characters do not tell. Only
    the start of the text is read unless `sample` is False (a whole document's)."""
    simplified_only, traditional_only = _chinese_only()
    counts = Counter(text[:_SAMPLE_CHARS] if sample else text)  # counted in C, then looked up
    simplified = sum(n for ch, n in counts.items() if ch in simplified_only)
    traditional = sum(n for ch, n in counts.items() if ch in traditional_only)
    if simplified == traditional:
        return None
    return languages.TRADITIONAL_CHINESE if traditional > simplified else "zh"


def detect(text: str, *, prefer: str | None = None) -> tuple[str | None, bool]:
    """Return (language code or None, confident): an ISO 639-1 code, or 'zh-Hant' for
    Chinese in Traditional characters. Chinese whose characters do not tell its script is
    `prefer` when that is Chinese of either script, else 'zh'."""
    counts = script_counts(text)
    if not counts:
        return None, False
    han, kana = counts.get("han", 0), counts.get("kana", 0)
    if kana and kana * 10 >= han:  # Japanese mixes kana into Han text
        return "ja", kana + han >= 4
    if han:
        latin = counts.get("latin", 0)
        if han * _HAN_WEIGHT < latin and _QUOTED.search(text):
            # Chinese prose quoting an English sentence is Chinese: weigh it without quotes.
            rest = script_counts(_QUOTED.sub(" ", text))
            if rest.get("han", 0) >= 4 and rest["han"] * _HAN_WEIGHT >= rest.get("latin", 0):
                han, latin = rest["han"], rest.get("latin", 0)
        if han * _HAN_WEIGHT >= latin:
            fallback = prefer if languages.family(prefer) == "zh" else "zh"
            return chinese_script(text) or fallback, han >= 4
        counts.pop("han")
    script, letters = counts.most_common(1)[0]
    if script in _SCRIPT_LANG:
        return _SCRIPT_LANG[script], letters >= 4
    if script == "kana":
        return "ja", letters >= 4
    lang, probability = _classify(text[:_SAMPLE_CHARS], script)
    return lang, letters >= MIN_CONFIDENT_LETTERS and probability >= MIN_CONFIDENT_PROBABILITY


def same_script(a: str, b: str) -> bool:
    """Whether two language codes are written in the same script family (Simplified and
    Traditional Chinese are: Han)."""
    def family(code: str) -> str:
        for script, langs in _BY_SCRIPT.items():
            if code in langs:
                return script
        return languages.family(code)
    return family(a) == family(b)


_lock = threading.Lock()
_loaded = []  # the one py3langid identifier, once loaded


def _identifier():
    """One py3langid model (0.7–1.4 s to load, mostly xz), restricted to the languages above;
    loaded once per process, whichever thread asks first (warm_up's or a caller's)."""
    with _lock:
        if not _loaded:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
            identifier.set_languages(
                sorted({code for codes in _BY_SCRIPT.values() for code in codes}))
            _loaded.append(identifier)
        return _loaded[0]


def warm_up() -> None:
    """Start loading the language identifier in the background (its xz decompression runs
    outside the GIL), so that an import reading and parsing files meanwhile does not wait
    for it at its first Latin-script paragraph."""
    if not _loaded:
        threading.Thread(target=_warm, name="langid-load", daemon=True).start()


def _warm() -> None:
    # A failure here (a full disk: py3langid decompresses through a temporary file) is met
    # again by the caller's own load, in its thread, which reports it.
    with contextlib.suppress(Exception):
        _identifier()


def _classify(text: str, script: str) -> tuple[str, float]:
    """The most likely language among those written in `script`, and its probability."""
    candidates = set(_BY_SCRIPT[script])
    scores = [(lang, score) for lang, score in _identifier().rank(text) if lang in candidates]
    if not scores:
        return _BY_SCRIPT[script][0], 0.0
    best = max(score for _, score in scores)
    total = sum(math.exp(score - best) for _, score in scores)
    lang = max(scores, key=lambda item: item[1])[0]
    return lang, 1.0 / total
