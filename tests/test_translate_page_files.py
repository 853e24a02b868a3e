"""The Translate page opens a file (button or drop), translates it and saves the translation
beside it in the file's own shape, as `ownvoice translate FILE` does (offscreen, pytest-qt)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from engine.translation.translate import TranslationResult

BOM = b"\xef\xbb\xbf"
# A no-break space in the front matter: it must come back byte for byte, too.
FRONT_MATTER = 'title: "Notes\u00a0from a slow morning"\r\ndate: 2022-02-14\r\n'.encode()
HEADER = BOM + b"---\r\n" + FRONT_MATTER + b"---\r\n"
POST = HEADER + b"\r\nWhere is the train station?\r\n"


@pytest.fixture
def post(tmp_path) -> Path:
    path = tmp_path / "blog" / "post.md"
    path.parent.mkdir()
    path.write_bytes(POST)
    return path


def choose(monkeypatch, opened: Path | None = None, saved: Path | None = None) -> list:
    """The file dialogs answer at once; the save dialog's proposed names are collected."""
    proposed = []
    if opened is not None:
        monkeypatch.setattr(QFileDialog, "getOpenFileName",
                            staticmethod(lambda *a, **k: (str(opened), "")))

    def save(_parent, _caption, default, *_a, **_k):
        proposed.append(default)
        return str(saved), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save))
    return proposed


def translate(qtbot, window):
    page = window.translate_page
    page.translate_button.click()
    qtbot.waitUntil(lambda: page.task is None, timeout=60000)
    assert not page.status.text().startswith("⚠"), page.status.text()
    qtbot.waitUntil(lambda: page.current is not None and not window.runner.active,
                    timeout=10000)  # and saved to the history


def file_mime(*paths: Path) -> QMimeData:
    """What a file manager drags: the files' URLs, and their paths as text."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    mime.setText("\n".join(map(str, paths)))
    return mime


def drop(mime: QMimeData) -> QDropEvent:  # the event does not own `mime`: keep it alive
    return QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)


def test_open_translate_and_save_beside_the_file_in_its_shape(qtbot, window, post,
                                                              monkeypatch):
    page = window.translate_page
    assert not page.save_button.isEnabled()
    proposed = choose(monkeypatch, opened=post, saved=post.with_name("post-zh.md"))
    page.open_button.click()
    assert page.source.toPlainText().startswith('---\ntitle: "Notes')  # LF, no BOM
    assert "\u00a0from" in page.source.document().toRawText()
    assert page.opened.path == post and "post.md" in page.status.text()
    assert not page.save_button.isEnabled()  # nothing translated yet

    translate(qtbot, window)
    assert page.save_button.isEnabled()
    assert page.current["source_text"].startswith('---\ntitle: "Notes\u00a0from')
    page.save_button.click()
    assert proposed == [str(post.with_name("post-zh.md"))]
    out = post.with_name("post-zh.md").read_bytes()
    assert out.startswith(HEADER)  # BOM, front matter (its no-break space), CRLF
    assert b"\n" not in out.replace(b"\r\n", b"") and out.endswith(b"\r\n")
    listed = [page.warnings.item(i).text() for i in range(page.warnings.count())]
    assert listed == [f"⚠ {w}" for w in page.current["warnings"]]  # each one, if any
    assert page.warnings.isVisible() == bool(listed)
    body = out[len(HEADER):].decode()
    assert body.strip() and "Where is the train station?" not in body
    assert "Saved the translation to" in page.status.text()
    assert post.read_bytes() == POST  # the original is untouched

    # An edited source keeps its file: the name proposed, the shape kept.
    page.source.appendPlainText("\nThank you.")
    assert page.save_button.isEnabled()
    page.save_button.click()
    assert proposed[-1] == str(post.with_name("post-zh.md"))
    assert post.with_name("post-zh.md").read_bytes() == out

    choose(monkeypatch, saved=post / "post-zh.md")  # a "folder" that is a file
    page.save_button.click()
    message = page.status.text()
    assert message.startswith("⚠ ") and "nothing was written" in message
    assert "\n" not in message


def test_every_warning_is_listed_and_typed_text_saves_with_a_default_name(
        qtbot, window, store, tmp_path, monkeypatch):
    page = window.translate_page
    row = store.model(page.model_combo.currentData())
    warnings = ["Paragraph 1 (line 1): The model did not stop; its output was cut off at "
                "the token limit.", "Paragraph 2 (line 3): Not in the translation: 10:00 (a "
                "number, date or time of the source); check that nothing was dropped or "
                "changed.", "Paragraph 2 (line 3): <b>not markup</b>"]
    result = TranslationResult(
        source_text="Count.\n\nMeet me at 10:00.", output="数一数。\n\n见面。\n",
        source_lang="en", target_lang="zh", units=[], tokens_in=12, tokens_out=8,
        ttft_ms=50.0, total_ms=400.0, warnings=warnings, settings={})
    page.source.setPlainText(result.source_text)
    page._translated((row, result))  # what the translating task's `succeeded` delivers
    qtbot.waitUntil(lambda: page.current is not None, timeout=10000)  # in the history

    def listed():
        return [page.warnings.item(i).text() for i in range(page.warnings.count())]

    assert page.warnings.isVisible() and listed() == [f"⚠ {w}" for w in warnings]
    assert "3 warning(s)" in page.status.text()
    page.show_translation(page.history.rows[0])  # reopened from the history: the same
    assert page.warnings.isVisible() and listed() == [f"⚠ {w}" for w in warnings]

    out = tmp_path / "counted.md"
    proposed = choose(monkeypatch, saved=out)
    assert page.opened is None and page.save_button.isEnabled()
    page.save_button.click()
    assert proposed == [str(Path.home() / "translation-zh.md")]
    assert out.read_bytes() == "数一数。\n\n见面。\n".encode()  # LF, no BOM

    page.open_file(tmp_path / "missing.md")  # nothing opened, nothing changed
    assert page.status.text().startswith("⚠ Cannot read ") and "\n" not in page.status.text()
    assert page.warnings.isVisible() and page.save_button.isEnabled()
    (tmp_path / "other.md").write_text("Good morning.\n")
    page.open_file(tmp_path / "other.md")  # a new text: the old translation goes
    assert not page.warnings.isVisible() and page.output.toPlainText() == ""
    assert not page.save_button.isEnabled()


@pytest.mark.parametrize(("content", "why"), [
    (b"", "Nothing to translate: empty.md is empty."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary content"),
])
def test_an_unreadable_file_is_one_line_and_changes_nothing(qtbot, window, post, tmp_path,
                                                            monkeypatch, content, why):
    page = window.translate_page
    page.open_file(post)
    before = page.source.toPlainText()
    bad = tmp_path / "empty.md"
    bad.write_bytes(content)
    choose(monkeypatch, opened=bad)
    page.open_button.click()
    message = page.status.text()
    assert why in message and "\n" not in message and "Traceback" not in message
    assert page.source.toPlainText() == before and page.opened.path == post


def test_a_file_dropped_on_the_page_or_the_source_box_opens(qtbot, window, post, tmp_path):
    page = window.translate_page
    mime = file_mime(post)
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter.ignore()
    page.dragEnterEvent(enter)
    assert enter.isAccepted()
    page.dropEvent(drop(mime))
    assert page.opened.path == post and "Where is the train station?" in page.source.toPlainText()

    other = tmp_path / "notes.txt"
    other.write_text("Good morning.\n")
    page.source.setPlainText("typed")
    other_mime = file_mime(other)
    over_the_box = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, other_mime,
                                   Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(page.source.viewport(), over_the_box)  # as Qt delivers them
    assert over_the_box.isAccepted()
    QApplication.sendEvent(page.source.viewport(), drop(other_mime))
    assert page.source.toPlainText() == "Good morning.\n"  # the file, not its path
    assert page.opened.path == other

    two = file_mime(post, other)
    page.dropEvent(drop(two))
    assert "one file at a time" in page.status.text() and page.opened.path == other
