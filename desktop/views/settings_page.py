"""Settings: API keys (in the OS keyring), default languages, where the data lives."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.views.widgets import Label, language_combo, select_data
from engine import paths


class SettingsPage(QWidget):
    def __init__(self, runner, hub, store, parent=None):
        super().__init__(parent)
        self.runner, self.hub, self.store = runner, hub, store

        self.key_edit = QLineEdit(echoMode=QLineEdit.EchoMode.Password,
                                  placeholderText="sk-…")
        self.key_status = Label()
        self.save_key_button = QPushButton("Save key")
        self.delete_key_button = QPushButton("Forget key")
        key_row = QHBoxLayout()
        for widget in (self.key_edit, self.save_key_button, self.delete_key_button):
            key_row.addWidget(widget)
        keys = QGroupBox("OpenAI API key")
        keys_layout = QVBoxLayout(keys)
        keys_layout.addLayout(key_row)
        keys_layout.addWidget(self.key_status)
        keys_layout.addWidget(Label("Kept in your system's keyring (Keychain, Credential "
                                     "Locker, Secret Service): never in OwnVoice's files.",
                                     wordWrap=True))

        self.source_combo = language_combo(with_detect=True)
        self.target_combo = language_combo()
        self.save_languages_button = QPushButton("Save languages")
        languages_box = QGroupBox("Default languages")
        form = QFormLayout(languages_box)
        form.addRow(Label("Translate from"), self.source_combo)
        form.addRow(Label("into"), self.target_combo)
        form.addRow(Label(""), self.save_languages_button)

        self.folder_label = Label(str(paths.data_dir()), wordWrap=True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_folder_button = QPushButton("Open")
        self.change_folder_button = QPushButton("Change…")
        self.folder_note = Label(wordWrap=True)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_label, 1)
        folder_row.addWidget(self.open_folder_button)
        folder_row.addWidget(self.change_folder_button)
        folder = QGroupBox("Data folder (your writing, history and models)")
        folder_layout = QVBoxLayout(folder)
        folder_layout.addLayout(folder_row)
        folder_layout.addWidget(self.folder_note)

        layout = QVBoxLayout(self)
        for box in (keys, languages_box, folder):
            layout.addWidget(box)
        layout.addStretch(1)

        self.save_key_button.clicked.connect(self.save_key)
        self.delete_key_button.clicked.connect(self.delete_key)
        self.save_languages_button.clicked.connect(self.save_languages)
        self.open_folder_button.clicked.connect(self.open_folder)
        self.change_folder_button.clicked.connect(self.choose_folder)
        self.load()

    def load(self) -> None:
        from engine.secrets import get_secret

        has_key = get_secret("openai") is not None
        self.key_status.setText("A key is stored." if has_key else "No key stored yet.")
        self.delete_key_button.setEnabled(has_key)
        select_data(self.source_combo, self.store.meta("default_source_lang") or None)
        select_data(self.target_combo, self.store.meta("default_target_lang") or "zh")

    def save_key(self) -> None:
        from engine.errors import OwnVoiceError
        from engine.secrets import set_secret

        value = self.key_edit.text().strip()
        if not value:
            self.key_status.setText("Paste a key first.")
            return
        try:
            set_secret("openai", value)
        except OwnVoiceError as exc:
            self.key_status.setText(f"⚠ {exc}")
            return
        self.key_edit.clear()
        self.load()
        self.hub.status.emit("OpenAI key saved in the system keyring.")

    def delete_key(self) -> None:
        from engine.secrets import delete_secret

        delete_secret("openai")
        self.load()

    def save_languages(self) -> None:
        source = self.source_combo.currentData()
        target = self.target_combo.currentData()

        def work(ctx):
            ctx.store.set_meta("default_source_lang", source or "")
            ctx.store.set_meta("default_target_lang", target)

        task = self.runner.submit("saving the languages", work, writes=True)
        task.succeeded.connect(self._languages_saved)

    def _languages_saved(self, _value) -> None:
        self.hub.settings_changed.emit()
        self.hub.status.emit("Default languages saved.")

    def open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.data_dir())))

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Where should OwnVoice keep its data?",
                                                  str(paths.data_dir()))
        if folder:
            self.set_data_folder(folder)

    def set_data_folder(self, folder: str) -> None:
        """Saved where the `ownvoice` command reads it too (engine.paths)."""
        from engine.errors import OwnVoiceError

        try:
            chosen = paths.choose_data_dir(folder)
        except OwnVoiceError as exc:
            self.folder_note.setText(f"⚠ {exc}")
            return
        self.folder_note.setText(f"The command line uses {chosen} from now on, the app from "
                                 f"its next start. To take your data along, quit OwnVoice and "
                                 f"move ownvoice.db and models/ there (models are found in "
                                 f"their new place).")
