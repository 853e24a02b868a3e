"""Translate: source and output side by side, streaming, rating, correcting, history."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
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


class TranslatePage(QWidget):
    def __init__(self, runner, hub, store, parent=None):
        super().__init__(parent)
        self.runner, self.hub, self.store = runner, hub, store
        self.translators: dict[int, object] = {}  # model id → Translator (model stays loaded)
        self.task = None
        self.current: dict | None = None  # the history row on screen
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
        top = QHBoxLayout()
        for widget in (Label("From"), self.from_combo, self.swap_button, Label("to"),
                       self.to_combo, Label("Model"), self.model_combo):
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.translate_button)

        self.source = QPlainTextEdit(placeholderText="Type or paste the text to translate…")
        self.output = QPlainTextEdit(readOnly=True, placeholderText="The translation appears "
                                     "here as it is written.")
        editors = QSplitter(Qt.Orientation.Horizontal)
        editors.addWidget(self.source)
        editors.addWidget(self.output)

        self.copy_button = QPushButton("Copy")
        self.up_button = QPushButton("▲ Good", checkable=True, toolTip="Rate it good")
        self.down_button = QPushButton("▼ Bad", checkable=True, toolTip="Rate it bad")
        self.correct_button = QPushButton("Correct", toolTip="Edit the translation; your "
                                          "version becomes a training pair")
        self.status = Label(wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        actions = QHBoxLayout()
        for widget in (self.copy_button, self.up_button, self.down_button, self.correct_button):
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
        upper_layout.addLayout(actions)
        upper_layout.addWidget(self.diff)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(upper)
        self.splitter.addWidget(history_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(self.splitter)

        self.translate_button.clicked.connect(self.translate_or_stop)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self.translate_or_stop)
        self.swap_button.clicked.connect(self.swap_languages)
        self.copy_button.clicked.connect(self.copy_output)
        self.up_button.clicked.connect(self.rate_up)
        self.down_button.clicked.connect(self.rate_down)
        self.correct_button.clicked.connect(self.correct_or_save)
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
        rows = registry.list_models(self.store)
        for row in rows:
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
            self.source.setPlainText(self.output.toPlainText())
            self.output.clear()

    # --- translating ---------------------------------------------------------------------

    def translate_or_stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.status.setText("Stopping…")
            return
        text = self.source.toPlainText()
        if not text.strip():
            self.status.setText("Type or paste some text first.")
            return
        model_id = self.model_combo.currentData()
        if model_id is None:
            self.status.setText("No model yet: the default model is being prepared.")
            return
        source, target = self.from_combo.currentData(), self.to_combo.currentData()
        self.output.clear()
        self.output.setReadOnly(True)
        self.diff.hide()
        self.current = None
        self.status.setText("Loading the model…" if model_id not in self.translators
                            else "Translating…")
        translators = self.translators

        def work(ctx):
            from engine.translation import registry
            from engine.translation.translate import Translator

            row = ctx.store.model(model_id)
            if model_id not in translators:
                translators[model_id] = Translator(registry.open_backend(row))
            result = translators[model_id].translate(
                text, source=source, target=target, on_text=ctx.emit_text,
                cancelled=ctx.cancelled)
            return row, result

        self.task = self.runner.submit("translating", work)
        self.task.text.connect(self._append_output)
        self.task.succeeded.connect(self._translated)
        self.task.failed.connect(self._failed)
        self.task.finished.connect(self._task_ended)
        self._update_buttons()

    def _append_output(self, piece: str) -> None:
        if self.status.text().startswith("Loading"):
            self.status.setText("Translating…")
        cursor = self.output.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(piece)
        self.output.setTextCursor(cursor)

    def _translated(self, value) -> None:
        row, result = value
        self.output.setPlainText(result.output.rstrip("\n"))  # the guards' final word

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
                            + "".join(f"\n⚠ {w}" for w in result.warnings))

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
        task = self.runner.submit("saving the rating",
                                  lambda ctx: ctx.store.rate_translation(translation_id, rating),
                                  writes=True)
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
            from engine.pairs import corrections

            row = ctx.store.translation(translation_id)
            pairs = corrections.correction_pairs(row, corrected)
            ids = ctx.store.correct_translation(translation_id, corrected, pairs)
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
        self.current = self.store.translation(row["id"])
        self.source.setPlainText(self.current["source_text"])
        self.output.setPlainText(self.current["corrected_text"] or self.current["output_text"])
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
        warnings = "".join(f"\n⚠ {w}" for w in self.current["warnings"] or [])
        self.status.setText(f"#{self.current['id']} · {self.current['model_name']} · "
                            f"{self.current['created_at'][:16].replace('T', ' ')}{warnings}")
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.task is not None
        self.translate_button.setText("Stop" if running else "Translate")
        has = self.current is not None and not running
        for button in (self.up_button, self.down_button, self.correct_button):
            button.setEnabled(has)
        self.copy_button.setEnabled(bool(self.output.toPlainText()))
        rating = self.current.get("rating") if self.current else None
        self.up_button.setChecked(rating == 1)
        self.down_button.setChecked(rating == -1)
        self.correct_button.setText("Save correction" if has and not self.output.isReadOnly()
                                    else "Correct")
