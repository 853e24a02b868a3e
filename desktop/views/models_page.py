"""Models: what is installed, where it came from, which one translates; add and remove."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.models.rows import ROW_ROLE
from desktop.models.tables import models_model
from desktop.views.widgets import table_view

ABOUT_DEFAULT = """<p><b>The built-in model</b> (Gemma 3 270M) translates offline from the first
minute, but it is tiny: short, plain sentences come out right; long or subtle ones often do not,
and it knows nothing of your voice. For better translations, add a GGUF model you have, download
a recommended one, or fine-tune a model on your own writing.</p>"""


class ModelsPage(QWidget):
    def __init__(self, runner, hub, store, parent=None):
        super().__init__(parent)
        self.runner, self.hub, self.store = runner, hub, store
        self.models = models_model(self)
        self.view = table_view(self.models, stretch="path")
        self.add_button = QPushButton("Add GGUF…")
        self.use_button = QPushButton("Use for translating")
        self.remove_button = QPushButton("Remove…")
        buttons = QHBoxLayout()
        for button in (self.add_button, self.use_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        from engine.models import RECOMMENDED

        recommended = "".join(f"<li><b>{m['name']}</b> ({m['size']}): {m['about']}<br>"
                              f"<code>ownvoice models add {m['spec']} --use</code></li>"
                              for m in RECOMMENDED)
        about = QLabel(ABOUT_DEFAULT + f"<p>Recommended downloads:</p><ul>{recommended}</ul>",
                       wordWrap=True)
        about.setTextFormat(Qt.TextFormat.RichText)
        about.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.view, 1)
        layout.addWidget(about)
        self.add_button.clicked.connect(self.choose_file)
        self.use_button.clicked.connect(self.use_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.view.selectionModel().currentRowChanged.connect(self._update_buttons)
        hub.models_changed.connect(self.reload)
        self._update_buttons()

    def reload(self) -> None:
        from engine import models

        self.models.set_rows(models.list_models(self.store))
        self._update_buttons()

    def selected(self) -> dict | None:
        index = self.view.currentIndex()
        return self.models.data(index, ROW_ROLE) if index.isValid() else None

    def _update_buttons(self, *_args) -> None:
        row = self.selected()
        self.use_button.setEnabled(row is not None and not row.get("active"))
        self.remove_button.setEnabled(row is not None and row["origin"] != "default")

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a GGUF model", str(Path.home()),
                                              "GGUF models (*.gguf)")
        if path:
            self.add_model(path)

    def add_model(self, path: str) -> None:
        def work(ctx):
            from engine import models

            return models.add(ctx.store, path)

        task = self.runner.submit("adding the model", work, writes=True)
        task.succeeded.connect(self._added)
        task.failed.connect(self._failed)
        self.hub.status.emit(f"Adding {Path(path).name} (reading it to check its sha256)…")

    def _added(self, row: dict) -> None:
        self.hub.models_changed.emit()
        self.hub.status.emit(f"Added {row['name']} ({row['prompt_style']} prompts).")

    def use_selected(self) -> None:
        row = self.selected()
        if row is None:
            return

        def work(ctx):
            from engine import models

            return models.use(ctx.store, row["name"])

        task = self.runner.submit("choosing the model", work, writes=True)
        task.succeeded.connect(self._changed)
        task.failed.connect(self._failed)

    def remove_selected(self) -> None:
        row = self.selected()
        if row is None:
            return
        answer = QMessageBox.question(
            self, "Remove model", f"Remove {row['name']} from OwnVoice? The file itself "
            "stays where it is.")
        if answer != QMessageBox.StandardButton.Yes:
            return

        def work(ctx):
            from engine import models

            return models.remove(ctx.store, row["name"])

        task = self.runner.submit("removing the model", work, writes=True)
        task.succeeded.connect(self._changed)
        task.failed.connect(self._failed)

    def _changed(self, row: dict) -> None:
        self.hub.models_changed.emit()

    def _failed(self, message: str) -> None:
        QMessageBox.warning(self, "Models", message)
