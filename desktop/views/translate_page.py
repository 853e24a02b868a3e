"""Translate: source and output side by side, streaming, rating, correcting, history; a
file opened (or dropped) is translated and saved beside itself in its own shape."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.table_models.rows import ROW_ROLE
from desktop.table_models.tables import history_model
from desktop.views.widgets import (
    Label,
    diff_html,
    language_combo,
    rich_label,
    select_data,
    table_view,
)

if TYPE_CHECKING:
    from engine.translation.document import Envelope

FILE_FILTER = ("Text (*.md *.markdown *.mdx *.txt *.html *.htm *.rst *.org *.tex);;"
               "All files (*)")


@dataclass(frozen=True)
class OpenedFile:
    """The file whose text is in the source box: where its translation goes by default, and
    its envelope (BOM, line endings, final newline), which the translation is written in."""

    path: Path
    envelope: Envelope


def dropped_files(mime: QMimeData) -> list[str]:
    """The local files (or folders) a drag carries."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


def _append(editor: QPlainTextEdit, piece: str) -> None:
    """Streamed text at the end of `editor`, the cursor following it."""
    cursor = editor.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.End)
    cursor.insertText(piece)
    editor.setTextCursor(cursor)


def editor_text(editor: QPlainTextEdit) -> str:
    """The editor's text exactly as it was set: toPlainText() turns no-break spaces into
    spaces, which would change a front matter that must come back byte for byte."""
    return editor.document().toRawText().replace("\u2029", "\n")


class SourceEdit(QPlainTextEdit):
    """The source box: a file dropped on it is opened (`file_dropped`), not pasted as its
    path; any other drop (text) is inserted as usual."""

    file_dropped = Signal(list)  # the local paths

    def canInsertFromMimeData(self, source: QMimeData) -> bool:  # noqa: N802 - Qt override
        return bool(dropped_files(source)) or super().canInsertFromMimeData(source)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        paths = dropped_files(event.mimeData())
        if not paths:
            super().dropEvent(event)
            return
        event.acceptProposedAction()
        self.file_dropped.emit(paths)


class TranslatePage(QWidget):
    def __init__(self, runner, hub, store, parent=None):
        super().__init__(parent)
        self.runner, self.hub, self.store = runner, hub, store
        self.translators: dict[int, object] = {}  # model id → Translator (model stays loaded)
        self.task = None
        self.current: dict | None = None  # the history row on screen
        self.opened: OpenedFile | None = None  # the file the source box holds, if any
        self.output_lang: str | None = None  # of the finished translation on screen
        self._build()
        hub.models_changed.connect(self.reload_models)
        hub.history_changed.connect(self.reload_history)
        hub.settings_changed.connect(self.apply_default_languages)
        self.apply_default_languages()
        self.reload_history()

    # --- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        self.from_combo = language_combo(with_detect=True)
        self.to_combo = language_combo()
        self.swap_button = QToolButton(text="⇄", toolTip="Swap languages")
        self.model_combo = QComboBox(minimumContentsLength=18)
        self.translate_button = QPushButton("Translate", toolTip="Ctrl+Enter")
        self.translate_button.setDefault(True)
        self.open_button = QPushButton("Open file…", toolTip="Open a document to translate "
                                       "(Markdown, text, HTML); or drop one on the page")
        top = QHBoxLayout()
        for widget in (self.open_button, Label("From"), self.from_combo, self.swap_button,
                       Label("to"), self.to_combo, Label("Model"), self.model_combo):
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.translate_button)

        self.source = SourceEdit(placeholderText="Type or paste the text to translate, or "
                                 "drop a file here…")
        self.output = QPlainTextEdit(readOnly=True, placeholderText="The translation appears "
                                     "here as it is written.")
        for widget in (self.output, self.output.viewport()):  # a file dropped here opens
            widget.setAcceptDrops(False)
        # "Show me another": a second translation beside the first, and which is better.
        self.second = QPlainTextEdit(readOnly=True, visible=False,
                                     placeholderText="Another translation appears here.")
        self.second.setAcceptDrops(False)
        self.second.viewport().setAcceptDrops(False)
        editors = QSplitter(Qt.Orientation.Horizontal)
        editors.addWidget(self.source)
        editors.addWidget(self.output)
        editors.addWidget(self.second)

        self.warnings = QListWidget(visible=False, toolTip="What the guards noticed")
        self.warnings.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.warnings.setWordWrap(True)
        self.warnings.setMaximumHeight(self.warnings.fontMetrics().lineSpacing() * 6)

        self.copy_button = QPushButton("Copy")
        self.save_button = QPushButton("Save…", toolTip="Save the translation to a file "
                                       "(beside the file you opened, in its shape)")
        self.up_button = QPushButton("▲ Good", checkable=True, toolTip="Rate it good")
        self.down_button = QPushButton("▼ Bad", checkable=True, toolTip="Rate it bad")
        self.correct_button = QPushButton("Correct", toolTip="Edit the translation; your "
                                          "version becomes a training pair")
        self.another_button = QPushButton(
            "Show me another", toolTip="Translate it once more, differently, and choose the "
            "better one: your choice teaches the model your preference")
        self.first_better = QPushButton("◀ The first is better", visible=False)
        self.second_better = QPushButton("The second is better ▶", visible=False)
        self.neither = QPushButton("Neither", visible=False,
                                   toolTip="Close the second translation; nothing is stored")
        self.status = Label(wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        actions = QHBoxLayout()
        for widget in (self.copy_button, self.save_button, self.up_button, self.down_button,
                       self.correct_button, self.another_button, self.first_better,
                       self.second_better, self.neither):
            actions.addWidget(widget)
        actions.addWidget(self.status, 1)
        self.diff = rich_label("", wordWrap=True, visible=False)

        self.history_search = QLineEdit(placeholderText="Search the history (火车, deploy…)",
                                        clearButtonEnabled=True)
        self.history = history_model(self)
        self.history_view = table_view(self.history, stretch=("source_text", "output_text"))
        history_box = QWidget()
        history_layout = QVBoxLayout(history_box)
        history_layout.setContentsMargins(0, 0, 0, 0)
        history_layout.addWidget(self.history_search)
        history_layout.addWidget(self.history_view)

        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addLayout(top)
        upper_layout.addWidget(editors, 1)
        upper_layout.addWidget(self.warnings)
        upper_layout.addLayout(actions)
        upper_layout.addWidget(self.diff)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(upper)
        self.splitter.addWidget(history_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(self.splitter)
        self.setAcceptDrops(True)

        self.translate_button.clicked.connect(self.translate_or_stop)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self.translate_or_stop)
        self.swap_button.clicked.connect(self.swap_languages)
        self.copy_button.clicked.connect(self.copy_output)
        self.open_button.clicked.connect(self.choose_file)
        self.source.file_dropped.connect(self.open_dropped)
        self.save_button.clicked.connect(self.save_translation)
        self.up_button.clicked.connect(self.rate_up)
        self.down_button.clicked.connect(self.rate_down)
        self.correct_button.clicked.connect(self.correct_or_save)
        self.another_button.clicked.connect(self.show_another)
        self.first_better.clicked.connect(lambda: self.choose(first=True))
        self.second_better.clicked.connect(lambda: self.choose(first=False))
        self.neither.clicked.connect(self._close_second)
        self._search_timer = QTimer(self, singleShot=True, interval=200)
        self._search_timer.timeout.connect(self.reload_history)
        self.history_search.textChanged.connect(self._search_timer.start)
        self.history_view.clicked.connect(self.open_history_row)
        self._update_buttons()

    # --- models and languages ------------------------------------------------------------

    def reload_models(self) -> None:
        from engine.translation import registry

        current = self.model_combo.currentData()
        self.model_combo.clear()
        rows = [r for r in registry.list_models(self.store) if not r["retired"]]
        for row in rows:  # a model its provider shut down is not offered
            self.model_combo.addItem(row["name"], row["id"])
        select_data(self.model_combo, current if current is not None
                    else next((r["id"] for r in rows if r["active"]), None))

    def apply_default_languages(self) -> None:
        select_data(self.from_combo, self.store.meta("default_source_lang") or None)
        select_data(self.to_combo, self.store.meta("default_target_lang") or "zh")

    def swap_languages(self) -> None:
        source, target = self.from_combo.currentData(), self.to_combo.currentData()
        select_data(self.to_combo, source or ("en" if target == "zh" else "zh"))
        select_data(self.from_combo, target)
        if self.output.toPlainText().strip():
            self.source.setPlainText(editor_text(self.output))
            self.output.clear()
            self.opened = self.output_lang = None
            self._show_warnings([])
            self._update_buttons()

    # --- translating ---------------------------------------------------------------------

    def translate_or_stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.status.setText("Stopping…")
            return
        text = editor_text(self.source)
        if not text.strip():
            self.status.setText("Type or paste some text first.")
            return
        model_id = self.model_combo.currentData()
        if model_id is None:
            self.status.setText("No model yet: the default model is being prepared.")
            return
        source, target = self.from_combo.currentData(), self.to_combo.currentData()
        self._clear_output()
        self.status.setText("Loading the model…" if model_id not in self.translators
                            else "Translating…")
        translators = self.translators
        # An opened .html or .txt file is read as HTML or plain text; typed text as Markdown.
        from engine.translation.document import format_of

        format = format_of(self.opened.path if self.opened else None)

        def work(ctx):
            from engine.translation import registry
            from engine.translation.translate import Translator

            row = ctx.store.model(model_id)
            if model_id not in translators:
                translators[model_id] = Translator(registry.open_backend(row))
            result = translators[model_id].translate(
                text, source=source, target=target, format=format, on_text=ctx.emit_text,
                cancelled=ctx.cancelled)
            return row, result

        self.task = self.runner.submit("translating", work)
        self.task.text.connect(self._append_output)
        self.task.succeeded.connect(self._translated)
        self.task.failed.connect(self._failed)
        self.task.finished.connect(self._task_ended)
        self._update_buttons()

    def show_another(self) -> None:
        """Translate the text on screen once more, sampling (Translator.another), into the
        second box; then ask which is better."""
        if self.current is None or self.task is not None:
            return
        current = self.current
        model_id = current["model_id"]
        if model_id is None or self.store.model(model_id) is None:
            self.status.setText("The model of this translation is gone: translate it again "
                                "first.")
            return
        translators = self.translators
        from engine.translation.document import format_of

        format = (current.get("settings") or {}).get("format") or format_of(
            self.opened.path if self.opened else None)
        self.second.clear()
        # What the writer compares against: the text on screen (their correction, if any).
        self.second.setProperty("first", self.output.toPlainText().strip())
        self.second.show()
        self.status.setText("Translating it once more…")

        def work(ctx):
            import random

            from engine.translation import registry
            from engine.translation.translate import Translator

            if model_id not in translators:
                translators[model_id] = Translator(registry.open_backend(
                    ctx.store.model(model_id)))
            return translators[model_id].another(random.randrange(2**31)).translate(
                current["source_text"], source=current["source_lang"],
                target=current["target_lang"], format=format, on_text=ctx.emit_text,
                cancelled=ctx.cancelled)

        self.task = self.runner.submit("translating once more", work)
        self.task.text.connect(self._append_second)
        self.task.succeeded.connect(self._another_done)
        self.task.failed.connect(self._failed)
        self.task.finished.connect(self._task_ended)
        self._update_buttons()

    def _append_second(self, piece: str) -> None:
        _append(self.second, piece)

    def _another_done(self, result) -> None:
        self.second.setPlainText(result.output.rstrip("\n"))
        same = result.output.strip() == self.second.property("first")
        self.status.setText("The same words again: nothing to choose." if same else
                            "Which is better? Your choice is kept for training.")
        for button in (self.first_better, self.second_better):
            button.setVisible(not same)
        self.neither.setVisible(True)

    def choose(self, *, first: bool) -> None:
        """Store the writer's choice between the translation on screen and the second."""
        if self.current is None:
            return
        current = self.current
        one, other = self.second.property("first"), self.second.toPlainText()
        chosen, rejected = (one, other) if first else (other, one)
        from engine.pairs import preferences

        task = self.runner.submit("saving your choice",
                                  lambda ctx: preferences.add_choice(ctx.store, current, chosen,
                                                                     rejected),
                                  writes=True)
        task.succeeded.connect(lambda _id: self.status.setText(
            "Choice saved: a preference for training (Data page)."))
        task.failed.connect(self._failed)
        self._close_second()

    def _close_second(self) -> None:
        self.second.hide()
        self.second.clear()
        for button in (self.first_better, self.second_better, self.neither):
            button.hide()

    def _append_output(self, piece: str) -> None:
        if self.status.text().startswith("Loading"):
            self.status.setText("Translating…")
        _append(self.output, piece)

    def _translated(self, value) -> None:
        row, result = value
        self.output.setPlainText(result.output.rstrip("\n"))  # the guards' final word
        self.output_lang = result.target_lang
        self._show_warnings(result.warnings)

        def save(ctx):
            return ctx.store.add_translation(model_id=row["id"], model_name=row["name"],
                                             result=result)

        saving = self.runner.submit("saving the translation", save, writes=True)
        saving.succeeded.connect(self._saved)
        saving.failed.connect(self._failed)
        seconds = result.total_ms / 1000
        note = " (stopped)" if result.cancelled else ""
        self.status.setText(f"{result.tokens_out} tokens in {seconds:.1f} s"
                            f" · {result.tokens_per_second:.0f} tokens/s{note}"
                            + self._warnings_note(result.warnings))
        self._update_buttons()

    def _saved(self, translation_id: int) -> None:
        self.current = self.store.translation(translation_id)
        self.hub.history_changed.emit()
        self.hub.status.emit(f"Translation #{translation_id} saved to the history.")
        self._update_buttons()

    def _failed(self, message: str) -> None:
        self.status.setText(f"⚠ {message}")

    def _task_ended(self) -> None:
        self.task = None
        self._update_buttons()

    def _clear_output(self) -> None:
        self._close_second()
        self.output.clear()
        self.output.setReadOnly(True)
        self.diff.hide()
        self.current = self.output_lang = None
        self._show_warnings([])

    def _show_warnings(self, warnings: list[str]) -> None:
        """Every warning of the translation on screen, one per line, under the output."""
        self.warnings.clear()
        self.warnings.addItems([f"⚠ {w}" for w in warnings])
        self.warnings.setVisible(bool(warnings))

    @staticmethod
    def _warnings_note(warnings: list[str]) -> str:
        if not warnings:
            return ""
        return f" · ⚠ {len(warnings)} warning(s), listed under the translation"

    # --- files ---------------------------------------------------------------------------

    def choose_file(self) -> None:
        folder = self.opened.path.parent if self.opened else Path.home()
        path, _ = QFileDialog.getOpenFileName(self, "Open a document to translate",
                                              str(folder), FILE_FILTER)
        if path:
            self.open_file(path)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if dropped_files(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        paths = dropped_files(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.open_dropped(paths)

    def open_dropped(self, paths: list[str]) -> None:
        if len(paths) > 1:
            self.status.setText(f"⚠ Drop one file at a time ({len(paths)} were dropped).")
            return
        self.open_file(paths[0])

    def open_file(self, path: Path | str) -> None:
        """Put a file's text in the source box and remember where it came from; a file that
        cannot be read changes nothing and says why in one line."""
        from engine.errors import OwnVoiceError
        from engine.translation import source_file

        if self.task is not None:
            self.status.setText("⚠ A translation is running: stop it before opening a file.")
            return
        path = Path(path)
        try:
            text, envelope = source_file.read(path)
        except OwnVoiceError as exc:
            self.status.setText(f"⚠ {exc}")
            return
        self.source.setPlainText(text)
        self.opened = OpenedFile(path, envelope)
        self._clear_output()
        self.status.setText(f"Opened {path.name}: translate it, then Save… writes the "
                            "translation beside it.")
        self._update_buttons()

    def save_translation(self) -> None:
        """Write the translation on screen (with the user's edits) to a file: by default
        beside the opened file (post.md → post-zh.md), in its BOM and line endings."""
        from engine.errors import OwnVoiceError
        from engine.translation import source_file
        from engine.translation.document import Envelope

        target = self.output_lang
        if target is None:
            return
        default = (source_file.translated_path(self.opened.path, target) if self.opened
                   else Path.home() / f"translation-{target}.md")
        path, _ = QFileDialog.getSaveFileName(self, "Save the translation", str(default),
                                              FILE_FILTER)
        if not path:
            return
        envelope = self.opened.envelope if self.opened else Envelope()
        try:
            written = source_file.write(path, editor_text(self.output), envelope)
        except OwnVoiceError as exc:
            self.status.setText(f"⚠ {exc}")
            return
        self.status.setText(f"Saved the translation to {written}.")
        self.hub.status.emit(f"Translation saved to {written}.")

    # --- after a translation -------------------------------------------------------------

    def copy_output(self) -> None:
        QGuiApplication.clipboard().setText(self.output.toPlainText())
        self.hub.status.emit("Translation copied.")

    def rate_up(self) -> None:
        self._rate(1 if self.up_button.isChecked() else 0)

    def rate_down(self) -> None:
        self._rate(-1 if self.down_button.isChecked() else 0)

    def _rate(self, rating: int) -> None:
        if self.current is None:
            return
        translation_id = self.current["id"]
        self.current["rating"] = rating
        from engine.pairs import preferences

        task = self.runner.submit("saving the rating", preferences.judged(
            lambda store: store.rate_translation(translation_id, rating)), writes=True)
        task.succeeded.connect(self.hub.history_changed)
        task.failed.connect(self._failed)
        self._update_buttons()

    def correct_or_save(self) -> None:
        if self.current is None:
            return
        if self.output.isReadOnly():
            self.output.setReadOnly(False)
            self.output.setFocus()
            self.status.setText("Edit the translation, then save your correction.")
            self._update_buttons()
            return
        corrected = self.output.toPlainText().strip()
        translation_id = self.current["id"]

        def save(ctx):
            from engine.pairs import corrections, preferences

            row = ctx.store.translation(translation_id)
            pairs = corrections.correction_pairs(row, corrected)
            ids = ctx.store.correct_translation(translation_id, corrected, pairs)
            preferences.sync(ctx.store)  # the corrected paragraphs are preferences too
            return ids, corrections.word_diff(row["output_text"].strip(), corrected)

        task = self.runner.submit("saving the correction", save, writes=True)
        task.succeeded.connect(self._corrected)
        task.failed.connect(self._failed)
        self.output.setReadOnly(True)
        self._update_buttons()

    def _corrected(self, value) -> None:
        ids, ops = value
        self.diff.setText(diff_html(ops))
        self.diff.show()
        self.status.setText(f"Correction saved: {len(ids)} new training pair(s).")
        self.current = self.store.translation(self.current["id"])
        self.hub.history_changed.emit()
        self._update_buttons()

    # --- history -------------------------------------------------------------------------

    def reload_history(self) -> None:
        self.history.set_rows(self.store.translations(search=self.history_search.text(),
                                                      limit=200))

    def open_history_row(self, index) -> None:
        row = self.history.data(index, ROW_ROLE)
        self.show_translation(row)

    def show_translation(self, row: dict) -> None:
        """Put a past translation back on screen (its correction, if the user made one)."""
        self._close_second()
        self.current = self.store.translation(row["id"])
        if self.current["source_text"] != editor_text(self.source):
            self.opened = None  # another text: the file no longer applies
        self.source.setPlainText(self.current["source_text"])
        self.output.setPlainText(self.current["corrected_text"] or self.current["output_text"])
        self.output_lang = self.current["target_lang"]
        self.output.setReadOnly(True)
        select_data(self.from_combo, self.current["source_lang"])
        select_data(self.to_combo, self.current["target_lang"])
        if self.current["corrected_text"]:  # show what the user changed
            from engine.pairs.corrections import word_diff

            self.diff.setText("Your correction: " + diff_html(word_diff(
                self.current["output_text"].strip(), self.current["corrected_text"])))
            self.diff.show()
        else:
            self.diff.hide()
        warnings = self.current["warnings"] or []
        self._show_warnings(warnings)
        self.status.setText(f"#{self.current['id']} · {self.current['model_name']} · "
                            f"{self.current['created_at'][:16].replace('T', ' ')}"
                            + self._warnings_note(warnings))
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.task is not None
        self.translate_button.setText("Stop" if running else "Translate")
        has = self.current is not None and not running
        for button in (self.up_button, self.down_button, self.correct_button,
                       self.another_button):
            button.setEnabled(has)
        if not self.output.isReadOnly():  # correcting: a second text would wipe the edits
            self.another_button.setEnabled(False)
        self.copy_button.setEnabled(bool(self.output.toPlainText()))
        self.save_button.setEnabled(self.output_lang is not None and not running)
        self.open_button.setEnabled(not running)
        rating = self.current.get("rating") if self.current else None
        self.up_button.setChecked(rating == 1)
        self.down_button.setChecked(rating == -1)
        self.correct_button.setText("Save correction" if has and not self.output.isReadOnly()
                                    else "Correct")
