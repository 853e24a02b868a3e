"""Bytes → text: undeclared legacy encodings, byte-order marks, binaries in disguise."""

from __future__ import annotations

import codecs

import pytest

from engine.corpus.reading import SkipFile, decode_bytes

ZH_SIMPLIFIED = "我们需要几个接口，让客户端可以提交任务并拿到一个编号来跟踪进度。"
ZH_TRADITIONAL = "我們需要幾個介面，讓用戶端可以提交任務並拿到一個編號來追蹤進度。"
FRENCH = "Café au lait, crème brûlée et façade à la française. Über die Brücke."
JAPANESE = "私たちはクライアントがタスクを送信できるように、いくつかのAPIが必要です。"
RUSSIAN = "Нам нужно несколько API, чтобы клиенты могли отправить задачу."
KOREAN = "클라이언트가 작업을 제출하고 진행 상황을 추적할 수 있도록 몇 가지 API가 필요합니다."
THAI = "ภาษาไทยเป็นภาษาที่สวยงาม เราต้องการ API สองสามตัว"


@pytest.mark.parametrize("text, encoding", [
    (ZH_SIMPLIFIED, "gb18030"), (ZH_SIMPLIFIED, "gbk"), (ZH_SIMPLIFIED[:8], "gb18030"),
    (ZH_TRADITIONAL, "big5"), (ZH_TRADITIONAL[:8], "big5"),
    (FRENCH, "latin-1"), (FRENCH, "cp1252"), ("“Smart quotes” — and a dash…", "cp1252"),
    (JAPANESE, "shift_jis"), (JAPANESE, "euc_jp"),
    (RUSSIAN, "cp1251"), (RUSSIAN, "koi8_r"), (KOREAN, "euc_kr"), (THAI, "cp874"),
])
def test_undeclared_legacy_encodings_are_detected(text, encoding):
    decoded, _ = decode_bytes(text.encode(encoding))
    assert decoded == text


@pytest.mark.parametrize("bom, encoding", [
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
])
def test_byte_order_marks_are_honoured_and_removed(bom, encoding):
    decoded, _ = decode_bytes(bom + f"# 标题\n\n{ZH_SIMPLIFIED}".encode(encoding))
    assert decoded == f"# 标题\n\n{ZH_SIMPLIFIED}"


def test_utf16_without_a_mark_is_still_text():
    decoded, encoding = decode_bytes("Plain notes saved by an old editor.\n".encode("utf-16-le"))
    assert decoded == "Plain notes saved by an old editor.\n"
    assert encoding == "utf-16"


def test_line_endings_and_composition_are_normalised():
    decoded, _ = decode_bytes("Cafe\u0301\r\nline two\rline three".encode())
    assert decoded == "Café\nline two\nline three"


@pytest.mark.parametrize("data, reason", [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG image"),
    (b"%PDF-1.7\n%\xe2\xe3", "PDF document"),
    (b"PK\x03\x04\x14\x00", "ZIP archive"),
    (b"\x00\x00\x00\x18ftypmp42", "MP4"),
    (b"\x7fELF\x02\x01\x01", "program"),
    (bytes(range(256)) * 4, "binary content"),
])
def test_binary_files_with_text_names_are_skipped_with_what_they_are(data, reason):
    with pytest.raises(SkipFile, match=reason):
        decode_bytes(data)


@pytest.mark.parametrize("data", [b"", b"   \n\n\t  \n"])
def test_empty_files_are_noted(data):
    with pytest.raises(SkipFile, match="empty file"):
        decode_bytes(data)


def test_control_characters_mean_binary():
    with pytest.raises(SkipFile, match="control characters"):
        decode_bytes(b"text \x01\x02\x03\x04\x05\x06\x07\x08 more" * 20)


def test_a_declared_charset_wins_when_the_bytes_fit_it():
    page = ('<html><head><meta charset="gb2312"></head><body><p>'
            + ZH_SIMPLIFIED + "</p></body></html>")
    decoded, encoding = decode_bytes(page.encode("gbk"))
    assert decoded == page and encoding == "gb18030"
    declared_wrongly = '<meta charset="no-such-codec">' + ZH_TRADITIONAL
    assert decode_bytes(declared_wrongly.encode("big5"))[0] == declared_wrongly


def test_a_few_stray_nul_bytes_do_not_make_text_binary():
    """Case hardening/14: three NULs at the end of a sentence. Import and translate read
    files through this one function, so both take the text, without the NULs."""
    data = b"# Notes\n\nWe met by noon.\x00\x00\x00\n\nThe rest of the day was quiet.\n"
    decoded, encoding = decode_bytes(data)
    assert decoded == "# Notes\n\nWe met by noon.\n\nThe rest of the day was quiet.\n"
    assert encoding == "utf-8"
    with pytest.raises(SkipFile, match="binary content"):  # NULs everywhere: binary
        decode_bytes(b"\x00\x01data\x00\x00\x02" * 200)
