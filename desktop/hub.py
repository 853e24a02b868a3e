"""App-wide signals: one page changes data, the others refresh."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Hub(QObject):
    models_changed = Signal()
    corpus_changed = Signal()
    history_changed = Signal()
    settings_changed = Signal()
    status = Signal(str)  # a message for the status bar
