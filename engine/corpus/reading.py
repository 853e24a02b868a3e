"""Turn a file's bytes into text: detect binary content and undeclared encodings.

Blogs written before UTF-8 won are stored in GB18030, Big5, Shift-JIS, Latin-1…
and say so nowhere. We try UTF-8 (and BOMs) first, then let charset-normalizer
pick among legacy encodings by how plausible the decoded text is.
"""

from __future__ import annotations

import codecs
import re
import unicodedata


class SkipFile(Exception):
    """This file is passed over; `str(error)` is the reason shown to the user."""


# Magic numbers of formats that sometimes hide behind a text extension.
_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or a Word/Office file)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program (ELF)"),
    (b"MZ", "a Windows program"),
    (b"ID3", "an MP3 file"),
    (b"OggS", "an Ogg media file"),
    (b"RIFF", "a RIFF media file (WAV/AVI/WebP)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office file"),
    (b"{\\rtf", "an RTF document"),
]

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]

# Legacy encodings worth considering; on a tie the earlier one wins.
_LEGACY = ["gb18030", "big5", "shift_jis", "euc_jp", "euc_kr", "cp1252", "latin_1", "cp1250",
           "iso8859_2", "cp1251", "koi8_r", "cp1253", "cp1254", "cp1255", "cp1256", "cp874"]
# Below this plausibility no legacy decoding is trusted.
_MIN_PLAUSIBLE = 0.6


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Return (text, encoding). Raises SkipFile for binary or empty content."""
    if not data.strip():
        raise SkipFile("empty file")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise SkipFile(f"binary content ({what}), not text")
    if data[4:8] == b"ftyp":
        raise SkipFile("binary content (an MP4/MOV video), not text")

    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _normalise(data.decode(encoding)), encoding.replace("-sig", "")
            except UnicodeDecodeError as exc:
                raise SkipFile(f"undecodable text: it starts with a {encoding} mark but "
                               f"is not valid {encoding} ({exc.reason})") from exc

    nuls = data.count(b"\x00")
    if nuls and nuls <= max(8, len(data) // 1000) and _is_utf8(data.replace(b"\x00", b"")):
        # A few stray NULs in UTF-8 text (a bad editor, a cut-and-paste): text, without
        # them. Binary files and BOM-less UTF-16 have NULs everywhere, not here and there.
        data, nuls = data.replace(b"\x00", b""), 0
    if nuls and b"\x00" in data[:65536]:
        text = _utf16_without_bom(data)
        if text is None:
            raise SkipFile("binary content (NUL bytes), not text")
        return _normalise(text), "utf-16"

    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = _decode_declared(data) or _decode_legacy(data)

    if _control_ratio(text) > 0.02:
        raise SkipFile("binary content (control characters), not text")
    return _normalise(text), encoding


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_DECLARED = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?([A-Za-z0-9._-]+)""", re.IGNORECASE)


def _decode_declared(data: bytes) -> tuple[str, str] | None:
    """The encoding an HTML <meta charset> or an XML declaration names, if it fits the bytes."""
    match = _DECLARED.search(data[:4096])
    if not match:
        return None
    name = match.group(1).decode("ascii").lower()
    try:
        encoding = codecs.lookup(name).name
        if encoding in ("gb2312", "gbk"):  # pages that say GB2312 are usually GBK or wider
            encoding = "gb18030"
        return data.decode(encoding), encoding
    except (LookupError, UnicodeDecodeError):
        return None


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 saved without a byte-order mark: NULs in every other byte of ASCII text."""
    if len(data) % 2:
        return None
    sample = data[:4096]
    for encoding, zeros in (("utf-16-le", sample[1::2]), ("utf-16-be", sample[0::2])):
        if zeros.count(0) > 0.3 * len(zeros):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            if _control_ratio(text) < 0.02:
                return text
    return None


def _decode_legacy(data: bytes) -> tuple[str, str]:
    """Decode with the legacy encoding whose result reads most like real text.

    Statistical detectors (charset-normalizer) are good on long text but mistake a short
    GB18030 paragraph for Thai: for the encodings that matter most here we judge each
    strict decoding by whether its characters are the common ones of that script.
    """
    best: tuple[float, str, str] | None = None
    for encoding in _LEGACY:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = _plausibility(text, encoding)
        if best is None or score > best[0]:
            best = (score, encoding, text)
    if best is not None and best[0] >= _MIN_PLAUSIBLE:
        return best[2], best[1]
    from charset_normalizer import from_bytes

    match = from_bytes(data).best()
    if match is None:
        raise SkipFile("undecodable text: not UTF-8 and no known encoding fits; "
                       "save it as UTF-8 and import it again")
    return str(match), match.encoding


_TYPOGRAPHY = set("“”‘’—–…·•«»¡¿°©®™€£¥§¶")


def _plausibility(text: str, encoding: str) -> float:
    """How much `text` reads like real writing in the languages `encoding` serves.

    Mostly the share of non-ASCII characters that are common ones of that script; then
    what tells look-alike decodings apart: Japanese is full of hiragana, Korean puts
    spaces between words and Chinese does not, Latin text is mostly unaccented.
    """
    text = text[:20000]
    sample = [ch for ch in text if ord(ch) > 127]
    if not sample:
        return 1.0
    good = _GOOD_CHAR.get(encoding, _latin_good)
    score = sum(1 for ch in sample if ch in _TYPOGRAPHY or good(ch)) / len(sample)
    if encoding == "cp874":
        return _thai_plausibility(text, len(sample))
    spaced = len(re.findall(r"[^\x00-\x7f] [^\x00-\x7f]", text)) / len(sample)
    if encoding in ("shift_jis", "euc_jp"):
        hiragana = sum(1 for ch in sample if "\u3041" <= ch <= "\u309f") / len(sample)
        score += 0.2 if hiragana > 0.1 else 0.0
    elif encoding == "euc_kr":
        score += 0.2 if spaced > 0.05 else 0.0
    elif encoding in ("gb18030", "big5"):
        score *= 0.5 if spaced > 0.05 else 1.0
    elif good is _latin_good:
        letters = sum(1 for ch in text if ch.isalpha())
        accented = sum(1 for ch in sample if ch.isalpha())
        if letters and accented / letters > 0.3:  # "Íàì íóæíî": Cyrillic read as Latin
            score *= 0.3 / (accented / letters)
    return score


def _thai_plausibility(text: str, non_ascii: int) -> float:
    """Thai vowel signs and tone marks sit on a consonant; random bytes put them anywhere."""
    good = 0
    previous = " "
    for ch in text:
        letter = "\u0e01" <= ch <= "\u0e30" or "\u0e32" <= ch <= "\u0e33" \
            or "\u0e40" <= ch <= "\u0e46"
        placed_mark = _thai_mark(ch) and ("\u0e01" <= previous <= "\u0e2e"
                                          or _thai_mark(previous))
        good += letter or placed_mark
        previous = ch
    return good / non_ascii


def _thai_mark(ch: str) -> bool:
    return ch == "\u0e31" or "\u0e34" <= ch <= "\u0e3a" or "\u0e47" <= ch <= "\u0e4e"


def _cjk_punct(ch: str) -> bool:
    return "\u3000" <= ch <= "\u303f" or "\uff01" <= ch <= "\uff5e"


def _level1(ch: str, encoding: str, low: int, high: int) -> bool:
    """Whether `ch` is among an encoding's most common characters (its level-1 block)."""
    try:
        code = ch.encode(encoding)
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and low <= int.from_bytes(code, "big") <= high


def _gb_good(ch: str) -> bool:  # GB2312 level 1: the 3,755 most used simplified characters
    return _cjk_punct(ch) or _level1(ch, "gb2312", 0xB0A1, 0xD7FE)


def _big5_good(ch: str) -> bool:  # Big5 level 1: the 5,401 common traditional characters
    return _cjk_punct(ch) or _level1(ch, "big5", 0xA440, 0xC67E)


def _japanese_good(ch: str) -> bool:  # kana, and JIS level-1 kanji
    return _cjk_punct(ch) or "\u3041" <= ch <= "\u30ff" or _level1(ch, "shift_jis", 0x889F,
                                                                     0x9872)


def _korean_good(ch: str) -> bool:
    return _cjk_punct(ch) or "\uac00" <= ch <= "\ud7a3"


def _cyrillic_good(ch: str) -> bool:  # mostly lower case in real text: tells cp1251 from KOI8
    return "\u0430" <= ch <= "\u044f" or ch in "ёіїєґў"


def _latin_good(ch: str) -> bool:
    return ch.isalpha() and ("\u00c0" <= ch <= "\u024f") and ch not in "×÷"


_GOOD_CHAR = {
    "gb18030": _gb_good, "big5": _big5_good, "shift_jis": _japanese_good,
    "euc_jp": _japanese_good, "euc_kr": _korean_good, "cp1251": _cyrillic_good,
    "koi8_r": _cyrillic_good,
    "cp1253": lambda ch: "\u03ac" <= ch <= "\u03ce",
    "cp1255": lambda ch: "\u05d0" <= ch <= "\u05ea",
    "cp1256": lambda ch: "\u0621" <= ch <= "\u064a" or ch in "پچژگکی",
}


# Control characters (but tab, newlines, form feed), lone surrogates, private use.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff]")


def _control_ratio(text: str) -> float:
    sample = text[:65536]
    if not sample:
        return 0.0
    return len(_NOT_TEXT.findall(sample)) / len(sample)


_NEWLINES = re.compile(r"\r\n?|\u2028|\u2029")


def _normalise(text: str) -> str:
    """One newline convention, NFC, no BOM left in the middle."""
    text = _NEWLINES.sub("\n", text).replace("\ufeff", "")
    return unicodedata.normalize("NFC", text)
