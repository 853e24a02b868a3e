"""Start-up of the desktop app: palette, fonts, data folder, the main window.

Imports stay light (no torch, no llama.cpp until the first translation): the window
must appear quickly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from engine import paths
from engine.errors import OwnVoiceError

LEGACY_DATA_DIR_KEY = "data_dir"
PAGE_NAMES = {"translate": 0, "corpus": 1, "data": 2, "train": 3, "compare": 4, "models": 5,
              "settings": 6}
# Fallbacks so Chinese, Japanese and Korean never show as boxes where a CJK font exists.
CJK_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB",
             "Microsoft YaHei", "WenQuanYi Micro Hei", "Noto Sans CJK JP", "Noto Sans CJK KR"]


def display_problem() -> str | None:
    """Why no window can open here (a Linux box without a screen), or None.

    Without this check Qt aborts with a core dump and a message about xcb plugins.
    """
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("No screen to open a window on (neither DISPLAY nor WAYLAND_DISPLAY is set). "
            "Start OwnVoice from a desktop session, use the `ownvoice` commands instead, "
            "or set QT_QPA_PLATFORM=offscreen to render without a screen.")


def apply_data_folder_setting() -> None:
    """Fix this run's data folder as engine.paths finds it, for the CLI too: OWNVOICE_HOME,
    else the one chosen in Settings, else the default. A new choice applies from the next
    start; tasks and the processes the app starts inherit the folder."""
    legacy = QSettings("OwnVoice", "OwnVoice")  # where earlier versions kept the choice
    earlier = legacy.value(LEGACY_DATA_DIR_KEY)
    if earlier:
        if paths.chosen_data_dir() is None:
            paths.choose_data_dir(str(earlier))
        legacy.remove(LEGACY_DATA_DIR_KEY)
    os.environ[paths.HOME_ENV] = str(paths.data_dir())


def show_errors(window: QWidget) -> None:
    """An OwnVoice error raised on the GUI thread (a page reading a damaged database, say)
    appears in a message box, once per message, instead of a traceback on stderr."""
    previous, shown = sys.excepthook, set()

    def hook(kind, error, trace) -> None:
        if not isinstance(error, OwnVoiceError):  # a bug: into the log, and say where
            import logging

            from desktop.log import where

            logging.getLogger("ownvoice.app").error("uncaught", exc_info=(kind, error, trace))
            previous(kind, error, trace)
            message = f"Something went wrong: {kind.__name__}: {error}; {where()}."
        else:
            message = str(error)
        if message not in shown:
            shown.add(message)
            box = QMessageBox(QMessageBox.Icon.Warning, "OwnVoice", message, parent=window)
            box.setTextFormat(Qt.TextFormat.PlainText)
            box.exec()

    sys.excepthook = hook


def dark_palette() -> QPalette:
    palette = QPalette()
    colors = {QPalette.ColorRole.Window: "#2b2b2b", QPalette.ColorRole.WindowText: "#e6e6e6",
              QPalette.ColorRole.Base: "#1f1f1f", QPalette.ColorRole.AlternateBase: "#262626",
              QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#333333",
              QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#3d6fb4",
              QPalette.ColorRole.HighlightedText: "#ffffff",
              QPalette.ColorRole.ToolTipBase: "#333333", QPalette.ColorRole.ToolTipText: "#e6e6e6",
              QPalette.ColorRole.PlaceholderText: "#8c8c8c", QPalette.ColorRole.Link: "#6ea8fe"}
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    return palette


def follow_color_scheme(app: QApplication) -> None:
    """Light or dark, as the system is (and when it changes). macOS and Windows styles do
    this themselves; elsewhere the Fusion style gets a matching palette."""
    if sys.platform in ("darwin", "win32"):
        return
    app.setStyle("Fusion")
    light = app.palette()

    def apply(scheme) -> None:
        app.setPalette(dark_palette() if scheme == Qt.ColorScheme.Dark else light)

    hints = app.styleHints()
    apply(hints.colorScheme())
    hints.colorSchemeChanged.connect(apply)


def make_app() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("OwnVoice")
    app.setOrganizationName("OwnVoice")
    font = QFont(app.font())
    font.setFamilies([font.family(), *CJK_FONTS])
    app.setFont(font)
    follow_color_scheme(app)
    return app


def run_app(*, screenshot: Path | None = None, page: str | None = None) -> int:
    app = make_app()
    from desktop.main_window import MainWindow
    from engine.store import Store

    try:
        apply_data_folder_setting()
        from desktop import log

        log.start()
        store = Store()
        window = MainWindow(store)
    except OwnVoiceError as exc:  # a damaged database, a data folder that cannot be made
        if screenshot is None:
            box = QMessageBox(QMessageBox.Icon.Critical, "OwnVoice", str(exc))
            box.setTextFormat(Qt.TextFormat.PlainText)
            box.exec()
        raise  # and `ownvoice gui` prints it
    if screenshot is None:  # a screenshot has no one to close a message box
        show_errors(window)
    if page is not None:
        window.show_page(PAGE_NAMES[page])
    if screenshot is not None:
        window.resize(1100, 720)  # the same picture whatever size the user left it at
    window.show()
    if screenshot is not None:
        def save_and_quit() -> None:
            if window.runner.active:  # let start-up work (model registration) finish
                QTimer.singleShot(100, save_and_quit)
                return
            app.processEvents()
            ok = window.grab().save(str(screenshot))
            window.close()
            app.exit(0 if ok else 1)

        QTimer.singleShot(300, save_and_quit)
    code = app.exec()
    store.close()
    return code
