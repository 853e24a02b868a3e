"""The desktop window, page by page, driven as a user would (offscreen, pytest-qt)."""

from __future__ import annotations

import json

import keyring
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop.main_window import MainWindow
from engine.corpus import lang
from engine.translation import guards, registry
from engine.translation.translate import Translator
from tests.blog import EXPECTED_DOCUMENTS
from tests.keyring_backend import FileKeyring
from tests.test_translate import CountingModel


def answer_yes(monkeypatch) -> list[str]:
    """Message boxes answer Yes at once; their texts are collected (always plain text)."""
    shown = []

    def exec_(box):
        assert box.textFormat() == Qt.TextFormat.PlainText
        shown.append(box.text())
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return shown


def settle(qtbot, win):
    qtbot.waitUntil(lambda: not win.runner.active, timeout=60000)


def test_first_run_guides_and_the_default_model_is_ready(window):
    assert window.pages.currentWidget() is window.translate_page
    assert window.corpus_page.stack.currentIndex() == 0  # the guide, not empty tables
    assert "Import your writing" in window.corpus_page.guide.text()
    page = window.translate_page
    assert page.model_combo.currentText() == "gemma-3-270m"
    assert page.to_combo.currentData() == "zh"
    assert [window.sidebar.item(i).text() for i in range(7)] == [
        "Translate", "Corpus", "Data", "Train", "Compare", "Models", "Settings"]


def test_translate_rate_correct_and_find_it_again(qtbot, window, store):
    page = window.translate_page
    page.source.setPlainText("Where is the train station?")
    streamed = []
    page.translate_button.click()
    page.task.text.connect(streamed.append)
    assert page.translate_button.text() == "Stop"
    qtbot.waitUntil(lambda: page.current is not None, timeout=60000)
    output = page.output.toPlainText()
    assert lang.detect(output)[0] == "zh"
    assert streamed and "".join(streamed).strip()
    assert page.history.rowCount() == 1
    assert page.translate_button.text() == "Translate"

    page.up_button.click()
    qtbot.waitUntil(lambda: store.translation(page.current["id"])["rating"] == 1)

    page.correct_button.click()
    assert not page.output.isReadOnly() and page.correct_button.text() == "Save correction"
    page.output.setPlainText("请问火车站在哪儿？")
    page.correct_button.click()
    qtbot.waitUntil(lambda: page.diff.isVisible(), timeout=10000)
    assert "火车站在哪" in page.diff.text()
    pairs = store.pairs(translation_id=page.current["id"])
    assert [(p["origin"], p["target_text"]) for p in pairs] == [
        ("correction", "请问火车站在哪儿？")]

    page.history_search.setText("请问")  # a short Chinese word, in the correction
    qtbot.waitUntil(lambda: page.history.rowCount() == 1, timeout=5000)
    page.history_search.setText("不存在的词")
    qtbot.waitUntil(lambda: page.history.rowCount() == 0, timeout=5000)
    page.history_search.clear()
    qtbot.waitUntil(lambda: page.history.rowCount() == 1, timeout=5000)
    page.source.clear()
    page.output.clear()
    page.history_view.clicked.emit(page.history.index(0, 2))
    assert page.source.toPlainText() == "Where is the train station?"
    assert page.output.toPlainText() == "请问火车站在哪儿？"


def test_ctrl_enter_translates(qtbot, window):
    page = window.translate_page
    page.source.setPlainText("Good morning.")
    window.activateWindow()
    page.source.setFocus()
    qtbot.keyClick(page.source, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: page.current is not None, timeout=60000)
    assert page.output.toPlainText().strip()


def test_stop_cancels_a_translation_that_runs_on(qtbot, window, gemma_file):
    page = window.translate_page
    model_id = page.model_combo.currentData()
    translator = Translator(CountingModel(gemma_file))
    page.translators[model_id] = translator
    # Long paragraphs: each is given a budget of hundreds of tokens, which the counting
    # model would use up (twice: the budget's cut is retried) if Stop did not stop it.
    paragraph = " ".join(["Count for me, slowly and carefully, every number in turn."] * 12)
    page.source.setPlainText(f"{paragraph}\n\n{paragraph}")
    budget = guards.max_new_tokens(translator.backend.count_tokens(paragraph))
    page.translate_button.click()
    qtbot.waitUntil(lambda: page.output.toPlainText() != "", timeout=30000)
    page.translate_button.click()  # now "Stop"
    qtbot.waitUntil(lambda: page.task is None, timeout=60000)
    settle(qtbot, window)
    assert "(stopped)" in page.status.text()
    # Stopped mid-way (how far it got depends on how busy the machine is): well short of
    # the first paragraph's budget, let alone the whole run's (2 paragraphs × 2 tries).
    assert budget > 300
    assert page.current is not None and page.current["tokens_out"] < budget


def test_corpus_import_by_drop_browse_search_and_exclude(qtbot, window, blog, store):
    page = window.corpus_page
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(blog))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    page.dropEvent(drop)
    qtbot.waitUntil(lambda: page.summary.text().startswith("Imported"), timeout=30000)
    assert f"Imported {EXPECTED_DOCUMENTS} new document(s)" in page.summary.text()
    assert "Skipped: " in page.summary.text() and "draft.md: draft" in page.summary.text()
    assert page.stack.currentIndex() == 1
    assert page.documents.rowCount() == EXPECTED_DOCUMENTS

    page.search.setText("部署")
    qtbot.waitUntil(lambda: page.documents.rowCount() == 1, timeout=5000)
    page.documents_view.selectRow(0)
    assert any("部署" in row["text"] for row in page.segments.rows)
    prose = next(i for i, r in enumerate(page.segments.rows) if r["kind"] == "prose")
    page.segments_view.selectRow(prose)
    segment_id = page.segments.rows[prose]["id"]
    page.exclude_segment.click()
    qtbot.waitUntil(lambda: store.conn.execute("SELECT excluded FROM segments WHERE id = ?",
                                               (segment_id,)).fetchone()[0] == 1, timeout=5000)
    page.exclude_document.click()
    document_id = page.selected_document()["id"]
    qtbot.waitUntil(lambda: store.conn.execute("SELECT excluded FROM documents WHERE id = ?",
                                               (document_id,)).fetchone()[0] == 1, timeout=5000)
    settle(qtbot, window)
    assert page.documents.rows[0]["excluded"] == 1


def test_models_page_adds_uses_and_removes(qtbot, window, smol_file, monkeypatch, store):
    page = window.models_page
    assert page.models.rowCount() == 1
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(smol_file), "")))
    page.add_button.click()
    qtbot.waitUntil(lambda: page.models.rowCount() == 2, timeout=30000)
    row = next(i for i, r in enumerate(page.models.rows) if r["origin"] == "imported")
    page.view.selectRow(row)
    assert page.remove_button.isEnabled()
    page.use_button.click()
    qtbot.waitUntil(lambda: registry.active(store)["origin"] == "imported", timeout=5000)
    settle(qtbot, window)
    assert window.translate_page.model_combo.count() == 2

    answer_yes(monkeypatch)
    page.view.selectRow(next(i for i, r in enumerate(page.models.rows)
                             if r["origin"] == "imported"))
    page.remove_button.click()
    qtbot.waitUntil(lambda: page.models.rowCount() == 1, timeout=5000)
    assert registry.active(store)["name"] == "gemma-3-270m"
    page.view.selectRow(0)
    assert not page.remove_button.isEnabled()  # the built-in model stays


def test_models_page_refuses_a_cut_off_gguf_in_one_line(qtbot, window, smol_file, tmp_path,
                                                        monkeypatch):
    """The page adds through the same registry.add as the CLI: the same checks, one line."""
    short = tmp_path / "cut.gguf"
    with smol_file.open("rb") as f:
        short.write_bytes(f.read(smol_file.stat().st_size // 2))
    shown = answer_yes(monkeypatch)
    page = window.models_page
    page.add_model(str(short))
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    [message] = shown
    assert "incomplete (truncated)" in message and "\n" not in message
    assert page.models.rowCount() == 1


def test_settings_round_trip_through_the_keyring(qtbot, window, store, tmp_path, monkeypatch,
                                                 ownvoice_home):
    monkeypatch.setenv("OWNVOICE_TEST_KEYRING", str(tmp_path / "keyring.json"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())
    try:
        page = window.settings_page
        page.load()
        assert page.key_status.text() == "No key stored yet."
        page.key_edit.setText("sk-secret-abc")
        page.save_key_button.click()
        assert page.key_status.text() == "A key is stored."
        assert page.key_edit.text() == ""
        from engine.secrets import get_secret

        assert get_secret("openai") == "sk-secret-abc"
        page.delete_key_button.click()
        assert get_secret("openai") is None
    finally:
        keyring.set_keyring(previous)
    page.target_combo.setCurrentIndex(page.target_combo.findData("fr"))
    page.save_languages_button.click()
    qtbot.waitUntil(lambda: window.translate_page.to_combo.currentData() == "fr",
                    timeout=5000)
    assert store.meta("default_target_lang") == "fr"
    for path in ownvoice_home.rglob("*"):
        if path.is_file():
            assert b"sk-secret-abc" not in path.read_bytes()


def test_data_folder_choice_applies_at_the_next_start(window, tmp_path, monkeypatch):
    from desktop.app import apply_data_folder_setting

    window.settings_page.set_data_folder(str(tmp_path / "elsewhere"))
    assert "next start" in window.settings_page.folder_note.text()
    monkeypatch.delenv("OWNVOICE_HOME")
    apply_data_folder_setting()
    import os

    assert os.environ["OWNVOICE_HOME"] == str(tmp_path / "elsewhere")


def test_geometry_and_page_are_remembered(qtbot, store, default_model):
    first = MainWindow(store)
    qtbot.addWidget(first)
    first.resize(700, 500)  # the offscreen screen is 800×600: stay inside it
    first.show_page(2)
    first.close()
    second = MainWindow(store)
    qtbot.addWidget(second)
    assert second.sidebar.currentRow() == 2
    assert (second.width(), second.height()) == (700, 500)
    second.runner.wait()


def test_the_palette_follows_the_systems_dark_scheme(qapp):
    from PySide6.QtGui import QPalette

    from desktop.app import follow_color_scheme

    hints = qapp.styleHints()
    follow_color_scheme(qapp)
    light = qapp.palette().color(QPalette.ColorRole.Window).name()
    # The offscreen platform has no system scheme to switch: send its change signal.
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert qapp.palette().color(QPalette.ColorRole.Window).name() == "#2b2b2b"
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert qapp.palette().color(QPalette.ColorRole.Window).name() == light


def test_dragging_files_over_the_corpus_page_is_accepted(window, blog):
    from PySide6.QtGui import QDragEnterEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(blog))])
    event = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.corpus_page.dragEnterEvent(event)
    assert event.isAccepted()
    text_only = QMimeData()
    text_only.setText("not a file")
    refused = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, text_only,
                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    refused.ignore()
    window.corpus_page.dragEnterEvent(refused)
    assert not refused.isAccepted()


def test_a_recommended_model_downloads_from_the_models_page(qtbot, store, default_model,
                                                            smol_file, tmp_path, monkeypatch):
    import shutil

    from tests.http_files import FileServer

    repo = tmp_path / "hub" / "someone" / "Small-GGUF" / "resolve" / "main"
    repo.mkdir(parents=True)
    shutil.copy(smol_file, repo / "small.gguf")
    monkeypatch.setattr(registry, "RECOMMENDED", [
        {"name": "small-chat", "size": "98 MB", "spec": "hf:someone/Small-GGUF/small.gguf",
         "about": "a test model"}])
    with FileServer(tmp_path / "hub") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        win = MainWindow(store)
        qtbot.addWidget(win)
        page = win.models_page
        assert page.recommended.currentText() == "small-chat (98 MB)"
        seen = []
        page.download_button.click()
        page.download_task.progress.connect(lambda done, total, _w: seen.append((done, total)))
        assert page.download_button.text() == "Stop"
        qtbot.waitUntil(lambda: page.models.rowCount() == 2, timeout=60000)
        win.runner.wait()
    assert seen and seen[-1][0] == seen[-1][1] == smol_file.stat().st_size
    assert store.model("small-chat")["origin"] == "downloaded"
    assert page.download_button.text() == "Download"


def test_data_page_makes_browses_fixes_and_exports_pairs(qtbot, window, blog, store, tmp_path,
                                                         monkeypatch):
    from engine.corpus.importer import import_paths
    from tests.openai_fake import FakeOpenAI

    import_paths(store, [blog])
    page = window.data_page
    english = ("The station is only ten minutes from my home, so I walk there every day "
               "and never think about it.")
    with FakeOpenAI(reply=lambda messages: english) as fake:
        page.base_url.setText(fake.url)
        page.model.setText("local-model")
        page.user_lang.setCurrentIndex(page.user_lang.findData("zh"))
        page.into.setCurrentIndex(page.into.findData("en"))
        page.styles.setValue(2)
        page.limit.setValue(3)
        page.synth_button.click()
        assert page.synth_button.text() == "Stop"
        qtbot.waitUntil(lambda: page.synth_task is None, timeout=30000)
    assert page.synth_status.text().startswith("Made 6 pair(s)")
    assert page.pairs.rowCount() == 6
    page.filter.setCurrentText("Rejected")
    rejected = page.pairs.rowCount()
    page.filter.setCurrentText("Kept")
    assert page.pairs.rowCount() == 6 - rejected
    page.filter.setCurrentText("All pairs")

    page.pairs_view.selectRow(0)
    pair_id = page.selected()["id"]
    assert page.target_view.toPlainText() == page.selected()["target_text"]
    page.source_edit.setPlainText("An edited machine text.")
    page.save_edit.click()
    qtbot.waitUntil(lambda: store.conn.execute("SELECT source_text FROM pairs WHERE id = ?",
                                               (pair_id,)).fetchone()[0]
                    == "An edited machine text.", timeout=5000)
    page.exclude.click()
    qtbot.waitUntil(lambda: store.conn.execute("SELECT excluded FROM pairs WHERE id = ?",
                                               (pair_id,)).fetchone()[0] == 1, timeout=5000)

    out = tmp_path / "pairs.jsonl"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(
        lambda *a, **k: (str(out), "OpenAI fine-tuning JSONL (*.jsonl)")))
    page.export_button.click()
    qtbot.waitUntil(out.exists, timeout=5000)
    settle(qtbot, window)
    lines = out.read_text().splitlines()
    assert len(lines) == store.pair_stats()["pairs"] - 0  # kept and not excluded, all train
    assert all(set(json.loads(line)) == {"messages"} for line in lines)


def test_data_page_runs_the_pilot(qtbot, window, blog, store, monkeypatch):
    from tests.openai_fake import FakeOpenAI
    from tests.test_pilot import make_pairs

    make_pairs(store, blog)
    page = window.data_page
    answer_yes(monkeypatch)
    with FakeOpenAI() as fake:
        page.base_url.setText(fake.url)
        page.pilot_on.setCurrentIndex(page.pilot_on.findData("openai"))
        assert page.pilot_model.text() == "gpt-4o-mini-2024-07-18"
        page.pilot_pairs.setValue(12)
        page.start_pilot()
        qtbot.waitUntil(lambda: page.pilot_status.text().startswith("Pilot 1 started"),
                        timeout=10000)
        for expected in ("queued", "training (OpenAI: running)", "done (OpenAI: succeeded)"):
            page.refresh_pilot()
            qtbot.waitUntil(lambda e=expected: page.pilot_status.text().startswith(
                f"Pilot 1: {e}"), timeout=10000)
        assert "step 20: train loss 1.2" in page.pilot_status.text()
        assert page.pilot_use.isEnabled()
        page.pilot_use.click()
        qtbot.waitUntil(lambda: "now translates" in page.pilot_status.text(), timeout=10000)
    assert registry.active(store)["origin"] == "openai-fine-tuned"


def test_text_from_outside_is_never_markup(qtbot, window, store, smol_file, monkeypatch,
                                          tmp_path):
    """Every label shows plain text unless it holds OwnVoice's own HTML; a model (and its
    file) named like markup shows as those characters, in labels, message boxes and
    tooltips."""
    import shutil

    from PySide6.QtWidgets import QLabel

    from desktop.views.widgets import TRUSTED_HTML

    hostile = "<img src='file:///etc/passwd'><b>bold</b>"
    hostile_file = tmp_path / "<img src=x><b>bold.gguf"
    shutil.copyfile(smol_file, hostile_file)
    registry.add(store, str(hostile_file), name=hostile)
    window.hub.models_changed.emit()
    settle(qtbot, window)
    for index in range(window.pages.count()):
        window.show_page(index)
        qtbot.wait(10)
    labels = window.findChildren(QLabel)
    assert len(labels) > 20
    rich = [label for label in labels if label.textFormat() != Qt.TextFormat.PlainText
            and not label.property(TRUSTED_HTML)]
    assert not rich, [label.text()[:60] for label in rich]
    page = window.models_page
    row = next(i for i, r in enumerate(page.models.rows) if r["name"] == hostile)
    tip = page.models.data(page.models.index(row, page.models.column_index("path")),
                           Qt.ItemDataRole.ToolTipRole)
    assert "&lt;img src=x&gt;&lt;b&gt;bold.gguf" in tip and "<img" not in tip
    shown = answer_yes(monkeypatch)
    page.view.selectRow(row)
    page.remove_button.click()
    qtbot.waitUntil(lambda: store.model(hostile) is None, timeout=5000)
    assert hostile in shown[0]
