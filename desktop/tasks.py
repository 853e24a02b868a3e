"""One task runner: long work off the GUI thread, results back through signals.

A task is a plain function `fn(ctx)`; `ctx` reports progress, streams text, answers
"cancelled?" and opens the database for the task's own thread. Two lanes:

- the pool, for work that only reads or computes (loading a model, translating);
- the write lane, a single thread, for everything that writes to the database
  (imports, history, corrections, settings): writes never race each other.

Signals are emitted from the worker thread and delivered on the GUI thread, so a
worker never touches a widget.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from engine import paths
from engine.errors import OwnVoiceError

log = logging.getLogger("ownvoice.tasks")


class Task(QObject):
    progress = Signal("qint64", "qint64", str)  # done, total (bytes can pass 2**31), what
    text = Signal(str)  # streamed output (translated text as it arrives)
    event = Signal(object)  # a progress event of engine/events.py (Step, Stage, …)
    succeeded = Signal(object)  # the function's return value
    failed = Signal(str)  # a message for people: what happened and what to do
    finished = Signal()  # after succeeded or failed, always

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self._cancel = threading.Event()
        self.running = True
        self.result: Any = None
        self.error: str | None = None

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()


class TaskContext:
    """What a task function may use: never a widget."""

    def __init__(self, task: Task):
        self._task = task
        self._store = None

    def progress(self, done: int, total: int, what: str = "") -> None:
        self._task.progress.emit(done, total, what)

    def emit_text(self, piece: str) -> None:
        self._task.text.emit(piece)

    def emit_event(self, event) -> None:
        """Send a progress event (engine/events.py) to the GUI thread, as the object."""
        self._task.event.emit(event)

    def cancelled(self) -> bool:
        return self._task.cancelled()

    @property
    def store(self):
        """A database connection of this task's own (SQLite connections stay in one thread)."""
        if self._store is None:
            from engine.store import Store

            self._store = Store()
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class _Runnable(QRunnable):
    def __init__(self, task: Task, fn: Callable[[TaskContext], Any]):
        super().__init__()
        self.setAutoDelete(True)
        self.task, self.fn = task, fn

    def run(self) -> None:
        ctx = TaskContext(self.task)
        try:
            self.task.result = self.fn(ctx)
        except OwnVoiceError as exc:
            self.task.error = str(exc)
        except Exception as exc:
            refused = paths.refused_write(exc) if isinstance(exc, OSError) else None
            if refused is not None:  # a read-only data folder: the one message for it
                self.task.error = str(refused)
            else:  # a bug: say so plainly, keep the traceback in the log
                log.error("task %s failed:\n%s", self.task.name, traceback.format_exc())
                from desktop.log import where

                self.task.error = (f"Something went wrong while {self.task.name}: "
                                   f"{type(exc).__name__}: {exc}; {where()}.")
        finally:
            ctx.close()
            self.task.running = False
        if self.task.error is None:
            self.task.succeeded.emit(self.task.result)
        else:
            self.task.failed.emit(self.task.error)
        self.task.finished.emit()


class TaskRunner(QObject):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self.lane = QThreadPool(self)
        self.lane.setMaxThreadCount(1)  # the one serial lane for database writes
        self.active: list[Task] = []

    def submit(self, name: str, fn: Callable[[TaskContext], Any], *,
               writes: bool = False) -> Task:
        """Start `fn` off the GUI thread, as soon as control returns to the event loop: the
        caller connects to the returned task's signals first, so none is ever missed."""
        task = Task(name)
        self.active.append(task)
        task.finished.connect(self._forget)  # a bound method: runs on the GUI thread
        pool = self.lane if writes else self.pool
        runnable = _Runnable(task, fn)
        QTimer.singleShot(0, self, lambda: pool.start(runnable))
        return task

    def _forget(self) -> None:
        task = self.sender()
        if task in self.active:
            self.active.remove(task)

    def cancel_all(self) -> None:
        for task in list(self.active):
            task.cancel()

    def wait(self, msecs: int = 30000) -> bool:
        """Wait for every task to end (tests, and closing the window)."""
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.processEvents()  # tasks submitted but not yet started
        return self.pool.waitForDone(msecs) and self.lane.waitForDone(msecs)
