"""The task runner: work off the GUI thread, signals back, cancellation, one write lane."""

from __future__ import annotations

import threading
import time

from desktop.tasks import TaskRunner
from engine.errors import OwnVoiceError


def test_results_come_back_on_the_gui_thread(qtbot):
    runner = TaskRunner()
    gui_thread = threading.get_ident()
    seen = {}

    def work(ctx):
        seen["worker"] = threading.get_ident()
        ctx.progress(1, 2, "half")
        return 42

    task = runner.submit("answering", work)
    progress = []
    task.progress.connect(lambda d, t, w: progress.append((d, t, w, threading.get_ident())))
    with qtbot.waitSignal(task.succeeded, timeout=5000) as blocker:
        pass
    assert blocker.args == [42]
    assert seen["worker"] != gui_thread
    assert progress and progress[0][3] == gui_thread


def test_errors_become_messages(qtbot):
    runner = TaskRunner()

    def fails_clearly(ctx):
        raise OwnVoiceError("The model file is missing. Add it again.")

    def has_a_bug(ctx):
        return {}["nope"]

    first = runner.submit("loading", fails_clearly)
    with qtbot.waitSignal(first.failed, timeout=5000) as blocker:
        pass
    assert blocker.args == ["The model file is missing. Add it again."]
    second = runner.submit("computing", has_a_bug)
    with qtbot.waitSignal(second.failed, timeout=5000) as blocker:
        pass
    assert blocker.args[0].startswith("Something went wrong while computing: KeyError")


def test_a_long_task_can_be_cancelled(qtbot):
    runner = TaskRunner()

    def long_work(ctx):
        for i in range(1000):
            if ctx.cancelled():
                return i
            time.sleep(0.01)
        return 1000

    task = runner.submit("working", long_work)
    time.sleep(0.05)
    task.cancel()
    with qtbot.waitSignal(task.succeeded, timeout=5000) as blocker:
        pass
    assert blocker.args[0] < 100


def test_writes_go_through_one_lane_in_order(qtbot, store):
    runner = TaskRunner()
    active, overlaps, order = [0], [], []
    lock = threading.Lock()

    def write(n):
        def work(ctx):
            with lock:
                active[0] += 1
                overlaps.append(active[0])
            ctx.store.set_meta(f"k{n}", str(n))
            time.sleep(0.02)
            order.append(n)
            with lock:
                active[0] -= 1
        return work

    tasks = [runner.submit(f"write {n}", write(n), writes=True) for n in range(5)]
    with qtbot.waitSignal(tasks[-1].finished, timeout=10000):
        pass
    runner.wait()
    assert max(overlaps) == 1 and order == [0, 1, 2, 3, 4]
    assert store.meta("k4") == "4"


def test_progress_events_arrive_as_objects_on_the_gui_thread(qtbot):
    """Qt signals carry the typed events of engine/events.py, not JSON text."""
    from engine import events

    runner = TaskRunner()
    gui_thread = threading.get_ident()
    sent = events.Stage(stage="training", job=7, detail="on gpu")
    received = []

    def work(ctx):
        ctx.emit_event(sent)
        ctx.emit_event(events.Log(message="done", step=3))

    task = runner.submit("following", work)
    task.event.connect(lambda event: received.append((event, threading.get_ident())))
    with qtbot.waitSignal(task.finished, timeout=5000):
        pass
    assert [event for event, _ in received] == [sent, events.Log(message="done", step=3)]
    assert received[0][0] is sent  # the object itself crossed, not a copy in text
    assert all(thread == gui_thread for _, thread in received)


def test_a_bug_is_written_to_the_log_the_message_names(qtbot, ownvoice_home):
    import stat

    from desktop import log

    path = log.start()
    assert path == ownvoice_home / "logs" / "ownvoice.log"
    runner = TaskRunner()
    task = runner.submit("computing", lambda ctx: {}["nope"])
    with qtbot.waitSignal(task.failed, timeout=5000) as blocker:
        pass
    message = blocker.args[0]
    assert str(path) in message and "Help ▸ Open the log" in message
    for handler in log.logging.getLogger("ownvoice").handlers:
        handler.flush()
    written = path.read_text(encoding="utf-8")
    assert "task computing failed" in written and "KeyError: 'nope'" in written
    assert "Traceback" in written
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_log_rotates(ownvoice_home):
    import logging

    from desktop import log

    path = log.start()
    logger = logging.getLogger("ownvoice.test")
    for i in range(3000):
        logger.error("line %d %s", i, "x" * 1000)
    assert path.stat().st_size <= log.MAX_BYTES
    rotated = sorted(path.parent.glob("ownvoice.log.*"))
    assert [p.name for p in rotated] == [f"ownvoice.log.{i}" for i in range(1, log.BACKUPS + 1)]
