"""Language of a segment: scripts first, then a statistical guess among that script's languages."""

from __future__ import annotations

import pytest

from engine.corpus import lang
from engine.corpus.importer import assign_languages
from engine.corpus.parsed import ParsedDocument, Segment


@pytest.mark.parametrize("text, expected", [
    ("我们需要几个接口，让客户端可以提交任务。", "zh"),
    ("我們需要幾個介面，讓用戶端可以提交任務。", "zh-Hant"),  # Traditional: a language of its own
    ("我们用 Docker 和 Kubernetes 部署服务", "zh"),  # Chinese full of English names
    ("We need a few APIs so clients can submit a task and track it.", "en"),
    ("The word 火车 means train in Chinese, and people use it every day.", "en"),
    ("Nous avons besoin de quelques API pour que les clients puissent soumettre.", "fr"),
    ("Wir brauchen ein paar Schnittstellen, damit Kunden Aufgaben einreichen können.", "de"),
    ("Necesitamos algunas API para que los clientes puedan enviar una tarea.", "es"),
    ("Abbiamo bisogno di alcune API affinché i clienti possano inviare un compito.", "it"),
    ("Precisamos de algumas APIs para que os clientes possam enviar uma tarefa.", "pt"),
    ("私たちはいくつかのAPIが必要です。", "ja"),
    ("몇 가지 API가 필요합니다.", "ko"),
    ("Нам нужно несколько API, чтобы клиенты могли отправить задачу.", "ru"),
    ("Χρειαζόμαστε μερικά API.", "el"),
])
def test_detects_common_languages(text, expected):
    assert lang.detect(text)[0] == expected


def test_no_letters_no_language():
    assert lang.detect("12345 — 678") == (None, False)


def test_short_segments_take_the_documents_language():
    doc = ParsedDocument(key="k", path="p", format="text", content_hash="h", split_key="s",
                         segments=[
                             Segment("prose", "Thanks!", "Thanks!"),
                             Segment("prose", "Ciao", "Ciao"),
                             Segment("prose", "This paragraph is long enough to be recognised as "
                                              "English without any help at all.", "x"),
                             Segment("code", "print('hello world')", "x"),
                         ])
    assign_languages(doc)
    assert doc.lang == "en"
    assert [s.lang for s in doc.segments] == ["en", "en", "en", None]


def test_a_chinese_document_with_an_english_line_keeps_both():
    doc = ParsedDocument(key="k", path="p", format="text", content_hash="h", split_key="s",
                         segments=[Segment("prose", "今天我们聊聊怎么写出简洁的文章。", "x"),
                                   Segment("quote", "Omit needless words, said Strunk long ago.",
                                           "x")])
    assign_languages(doc)
    assert doc.lang == "zh"
    assert [s.lang for s in doc.segments] == ["zh", "en"]


def test_chinese_prose_quoting_a_long_english_sentence_stays_chinese():
    from engine.corpus.lang import detect

    text = ("我也很喜歡開頭那句描寫老人眼睛的句子：\"Everything about him was old except his "
            "eyes and they were the same color as the sea and were cheerful and undefeated.\" "
            "每次讀到都覺得很感動。")
    assert detect(text)[0] == "zh-Hant"
    english = ("He wrote “火车站” on the card, and below it the words we had learnt that "
               "morning about trains and stations and the long way home.")
    assert detect(english)[0] == "en"


def test_a_background_load_that_fails_prints_nothing_and_the_caller_meets_the_error(
        monkeypatch):
    """warm_up's thread loading the identifier on a full disk (py3langid decompresses its
    model through a temporary file) must not print a thread traceback: the import's own
    load meets the same error in its thread and reports it as one line."""
    import threading

    from py3langid import langid as py3langid

    from engine.corpus import lang as lang_module

    monkeypatch.setattr(lang_module, "_loaded", [])

    def full_disk(path):
        raise OSError(27, "File too large")

    monkeypatch.setattr(py3langid.LanguageIdentifier, "from_model_file", staticmethod(full_disk))
    uncaught = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    lang_module.warm_up()
    for thread in threading.enumerate():
        if thread.name == "langid-load":
            thread.join(10)
    assert uncaught == []
    with pytest.raises(OSError, match="File too large"):
        lang_module._identifier()
