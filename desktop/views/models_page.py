"""Models: what is installed, where it came from, which one translates; add and remove."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.table_models.rows import ROW_ROLE
from desktop.table_models.tables import models_model
from desktop.views.widgets import Label, ask, rich_label, table_view, warn

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
        self.recommended = QComboBox()
        from engine.translation.registry import RECOMMENDED

        for item in RECOMMENDED:
            self.recommended.addItem(f"{item['name']} ({item['size']})", item)
        self.download_button = QPushButton("Download")
        self.progress = QProgressBar(visible=False)
        self.download_task = None
        self.use_button = QPushButton("Use for translating")
        self.remove_button = QPushButton("Remove…")
        buttons = QHBoxLayout()
        for button in (self.add_button, self.use_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(Label("Recommended:"))
        buttons.addWidget(self.recommended)
        buttons.addWidget(self.download_button)

        recommended = "".join(f"<li><b>{m['name']}</b> ({m['size']}): {m['about']}</li>"
                              for m in RECOMMENDED)
        about = rich_label(ABOUT_DEFAULT + f"<p>Recommended downloads (from the Hugging Face hub; "
                       f"an interrupted download resumes where it stopped):</p>"
                       f"<ul>{recommended}</ul>", wordWrap=True)
        about.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.view, 1)
        layout.addWidget(about)
        self.add_button.clicked.connect(self.choose_file)
        self.use_button.clicked.connect(self.use_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.download_button.clicked.connect(self.download_or_stop)
        self.view.selectionModel().currentRowChanged.connect(self._update_buttons)
        hub.models_changed.connect(self.reload)
        self._update_buttons()

    def reload(self) -> None:
        from engine.translation import registry

        self.models.set_rows(registry.list_models(self.store))
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
            from engine.translation import registry

            return registry.add(ctx.store, path)

        task = self.runner.submit("adding the model", work, writes=True)
        task.succeeded.connect(self._added)
        task.failed.connect(self._failed)
        self.hub.status.emit(f"Adding {Path(path).name} (reading it to check its sha256)…")

    def _added(self, row: dict) -> None:
        self.hub.models_changed.emit()
        self.hub.status.emit(f"Added {row['name']} ({row['prompt_style']} prompts).")

    def download_or_stop(self) -> None:
        if self.download_task is not None:
            self.download_task.cancel()
            return
        item = self.recommended.currentData()

        def work(ctx):
            from engine.translation import registry

            return registry.add(ctx.store, item["spec"], name=item["name"],
                              progress=lambda done, total: ctx.progress(done, total or 0, ""),
                              cancelled=ctx.cancelled)

        self.download_task = self.runner.submit(f"downloading {item['name']}", work,
                                                writes=True)
        self.download_task.progress.connect(self._download_progress)
        self.download_task.succeeded.connect(self._added)
        self.download_task.failed.connect(self._failed)
        self.download_task.finished.connect(self._download_ended)
        self.download_button.setText("Stop")
        self.progress.setRange(0, 0)
        self.progress.show()

    def _download_progress(self, done: int, total: int, _what: str) -> None:
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(done / total * 1000))
            self.progress.setFormat(f"{done / 1e6:,.0f} of {total / 1e6:,.0f} MB")

    def _download_ended(self) -> None:
        self.download_task = None
        self.download_button.setText("Download")
        self.progress.hide()

    def use_selected(self) -> None:
        row = self.selected()
        if row is None:
            return

        def work(ctx):
            from engine.translation import registry

            return registry.use(ctx.store, row["name"])

        task = self.runner.submit("choosing the model", work, writes=True)
        task.succeeded.connect(self._changed)
        task.failed.connect(self._failed)

    def remove_selected(self) -> None:
        row = self.selected()
        if row is None:
            return
        if not ask(self, "Remove model", f"Remove {row['name']} from OwnVoice? The file "
                   "itself stays where it is."):
            return

        def work(ctx):
            from engine.translation import registry

            return registry.remove(ctx.store, row["name"])

        task = self.runner.submit("removing the model", work, writes=True)
        task.succeeded.connect(self._changed)
        task.failed.connect(self._failed)

    def _changed(self, row: dict) -> None:
        self.hub.models_changed.emit()

    def _failed(self, message: str) -> None:
        warn(self, "Models", message)
