"""The main window: a sidebar of pages, menus, a status bar; remembers its geometry."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.hub import Hub
from desktop.tasks import TaskRunner
from desktop.views.compare_page import ComparePage
from desktop.views.corpus_page import CorpusPage
from desktop.views.data_page import DataPage
from desktop.views.models_page import ModelsPage
from desktop.views.settings_page import SettingsPage
from desktop.views.train_page import TrainPage
from desktop.views.translate_page import TranslatePage
from desktop.views.widgets import Label
from engine import paths

PAGES = ("Translate", "Corpus", "Data", "Train", "Compare", "Models", "Settings")


class MainWindow(QMainWindow):
    def __init__(self, store, *, ui_settings: QSettings | None = None):
        super().__init__()
        self.store = store
        self.ui = ui_settings or QSettings(str(paths.data_dir() / "ui.ini"),
                                           QSettings.Format.IniFormat)
        self.setWindowTitle("OwnVoice")
        self.resize(1100, 720)
        self.runner = TaskRunner(self)
        self.hub = Hub(self)

        self.translate_page = TranslatePage(self.runner, self.hub, store)
        self.corpus_page = CorpusPage(self.runner, self.hub, store)
        self.data_page = DataPage(self.runner, self.hub, store)
        self.train_page = TrainPage(self.runner, self.hub, store)
        self.compare_page = ComparePage(self.runner, self.hub, store)
        self.models_page = ModelsPage(self.runner, self.hub, store)
        self.settings_page = SettingsPage(self.runner, self.hub, store)
        self.pages = QStackedWidget()
        self.sidebar = QListWidget()
        self.sidebar.setFixedWidth(140)
        self.sidebar.setStyleSheet("QListWidget { font-size: 15px; } "
                                   "QListWidget::item { padding: 8px 10px; }")
        for name, page in zip(PAGES, (self.translate_page, self.corpus_page, self.data_page,
                                      self.train_page, self.compare_page, self.models_page,
                                      self.settings_page),
                              strict=True):
            self.sidebar.addItem(name)
            self.pages.addWidget(page)
        self.sidebar.currentRowChanged.connect(self.pages.setCurrentIndex)
        # Models the provider shuts down within 90 days, or has: one line each, plain text.
        self.retirement_banner = Label(wordWrap=True, visible=False)
        self.retirement_banner.setStyleSheet("QLabel { background: #fff3cd; color: #664d03; "
                                             "padding: 6px 10px; }")
        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.retirement_banner)
        row = QHBoxLayout()
        row.addWidget(self.sidebar)
        row.addWidget(self.pages, 1)
        outer.addLayout(row, 1)
        self.setCentralWidget(body)

        self._menus()
        self.hub.status.connect(self.show_status)
        self.statusBar().showMessage(f"Data folder: {paths.data_dir()}")
        self._check_cjk_font()
        self._restore()
        self._prepare_models()
        self.check_retirements()

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for text, keys, slot in (
                ("Import files…", "Ctrl+O", self.corpus_page.choose_files),
                ("Import folder…", "Ctrl+Shift+O", self.corpus_page.choose_folder),
                ("Add a GGUF model…", None, self.models_page.choose_file)):
            action = QAction(text, self, triggered=slot)
            if keys:
                action.setShortcut(QKeySequence(keys))
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(QAction("Quit", self, shortcut=QKeySequence.StandardKey.Quit,
                                    triggered=self.close))
        view_menu = self.menuBar().addMenu("&View")
        for i, name in enumerate(PAGES):
            view_menu.addAction(QAction(name, self, shortcut=QKeySequence(f"Ctrl+{i + 1}"),
                                        triggered=lambda _=False, i=i: self.show_page(i)))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(QAction("Open the log", self, triggered=self.open_log))
        help_menu.addAction(QAction("About OwnVoice", self, triggered=self._about))

    def show_page(self, index: int) -> None:
        self.sidebar.setCurrentRow(index)

    def show_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def open_log(self) -> bool:
        """Open the log file in the system's viewer (it exists once the app has started)."""
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        from desktop.log import log_path

        path = log_path()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    def _about(self) -> None:
        from html import escape

        QMessageBox.about(self, "OwnVoice", "<h3>OwnVoice</h3><p>Translations that sound like "
                          f"you.</p><p>Data folder: {escape(str(paths.data_dir()))}</p>")

    def _check_cjk_font(self) -> None:
        chinese = QFontDatabase.families(QFontDatabase.WritingSystem.SimplifiedChinese)
        if not chinese:
            self.show_status("No Chinese font found: Chinese shows as boxes. Install one "
                             "(e.g. fonts-noto-cjk on Debian/Ubuntu).")

    def _prepare_models(self) -> None:
        """Register the built-in model off the GUI thread (the first time it is assembled)."""
        def work(ctx):
            from engine.translation import registry

            registry.ensure_default(ctx.store)

        task = self.runner.submit("preparing the built-in model", work, writes=True)
        task.succeeded.connect(self.hub.models_changed)
        task.failed.connect(self.show_status)

    def check_retirements(self) -> None:
        """Read the endpoint models' shutdown dates off the GUI thread (at most once a day
        each, engine.openai_models) and show the ones within 90 days in the banner."""
        def work(ctx):
            from engine import openai_models
            from engine.translation import registry

            return registry.refresh_shutdowns(ctx.store,
                                              also=(openai_models.SYNTHESIS_MODEL,))

        task = self.runner.submit("checking model shutdown dates", work)
        task.succeeded.connect(self.show_retirements)

    def show_retirements(self, notices) -> None:
        self.retirement_banner.setText("\n".join(n.message() for n in notices or ()))
        self.retirement_banner.setVisible(bool(notices))
        if notices:
            self.hub.models_changed.emit()  # retired models leave the pickers

    def _restore(self) -> None:
        geometry = self.ui.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self.show_page(int(self.ui.value("window/page", 0)))
        for key, splitter in (("translate/splitter", self.translate_page.splitter),
                              ("corpus/splitter", self.corpus_page.splitter)):
            state = self.ui.value(key)
            if state is not None:
                splitter.restoreState(state)
        if self.translate_page.history.rows:  # where the user left off
            self.translate_page.show_translation(self.translate_page.history.rows[0])

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.ui.setValue("window/geometry", self.saveGeometry())
        self.ui.setValue("window/page", self.sidebar.currentRow())
        self.ui.setValue("translate/splitter", self.translate_page.splitter.saveState())
        self.ui.setValue("corpus/splitter", self.corpus_page.splitter.saveState())
        self.ui.sync()
        self.runner.cancel_all()
        self.runner.wait(10000)
        super().closeEvent(event)
