"""Start-up of the desktop app.

For now one window: what is in the corpus and the loop the app will walk the user
through. The pages (Translate, Corpus, Models, Settings…) come with the desktop issue.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QVBoxLayout, QWidget

from engine import paths
from engine.store import Store

GUIDE = (
    "<ol>"
    "<li><b>Import your writing</b> — <code>ownvoice import FOLDER</code> "
    "(Markdown, HTML, text, WordPress exports).</li>"
    "<li><b>Make training pairs</b> — a machine translates your paragraphs the other way.</li>"
    "<li><b>Fine-tune</b> — locally or on a rented GPU, then translate offline in your voice.</li>"
    "</ol>"
)


class MainWindow(QMainWindow):
    def __init__(self, store: Store):
        super().__init__()
        self.setWindowTitle("OwnVoice")
        self.resize(900, 600)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        title = QLabel("<h1>OwnVoice</h1><p>Translations that sound like you.</p>")
        self.summary = QLabel()
        self.summary.setObjectName("corpusSummary")
        guide = QLabel(GUIDE)
        guide.setWordWrap(True)
        for widget in (title, self.summary, guide):
            widget.setTextFormat(Qt.TextFormat.RichText)
            layout.addWidget(widget)
        self.setCentralWidget(body)
        self.statusBar().showMessage(f"Data folder: {paths.data_dir()}")
        self.show_stats(store.corpus_stats())

    def show_stats(self, stats: dict) -> None:
        if not stats["documents"]:
            self.summary.setText("<p>Your corpus is empty: start by importing your writing.</p>")
            return
        langs = ", ".join(f"{k} {v}" for k, v in list(stats["by_lang"].items())[:4])
        self.summary.setText(
            f"<p>Your corpus: <b>{stats['documents']}</b> documents, "
            f"<b>{stats['prose_segments']}</b> prose paragraphs; segments by language: "
            f"{langs}.</p>")


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


def run_app(*, screenshot: Path | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("OwnVoice")
    with Store() as store:
        window = MainWindow(store)
    window.show()
    if screenshot is not None:
        def save_and_quit() -> None:
            app.processEvents()
            ok = window.grab().save(str(screenshot))
            app.exit(0 if ok else 1)

        QTimer.singleShot(200, save_and_quit)
    return app.exec()
