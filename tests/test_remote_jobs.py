"""One-click remote fine-tuning against a real OpenSSH server on 127.0.0.1: this machine plays
the GPU box and trains the tiny model on its CPU, with the runner started detached."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from engine import events
from engine.jobs import JobKind, JobState
from engine.training import pipeline
from remote import jobs
from remote.session import Host, Session
from tests.conftest import BIN, ROOT, run_ownvoice
from tests.sshd import SSHServer
from tests.test_finetune import add_correction_pairs

NASTY_ROOT = "own voice; $(touch pwned) 'q' `x`"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with SSHServer(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def box(sshd, store, tmp_path, tiny_base, default_model):
    """The box added by name, with the test's Python (it has the training stack) and a
    folder whose name would break any command built by pasting strings."""
    root = tmp_path / "box" / NASTY_ROOT
    run_ownvoice("remote", "add", "box", "--host", f"{sshd.user}@127.0.0.1", "--port",
                 str(sshd.port), "--key", str(sshd.client_key), "--fingerprint",
                 sshd.fingerprint, "--python", sys.executable, "--root", str(root))
    add_correction_pairs(store)
    return root


def finetune_args(tiny_base, *extra):
    """`ownvoice train --on box …` (the older `finetune --remote box` is tested too)."""
    return ["train", "--on", "box", "--base", str(tiny_base), "--learning-rate", "1e-3",
            "--quant", "Q8_0", *extra]


def steps_in(job_id: int) -> list[int]:
    mirror = pipeline.job_dir(job_id) / "progress.jsonl"
    return [e.step for e in events.read(mirror) if isinstance(e, events.Step)]


def runners(root) -> list[str]:
    out = subprocess.run(["ps", "-ww", "-eo", "pid,stat,args"], capture_output=True,
                         text=True).stdout
    return [line for line in out.splitlines()
            if "remote.runner" in line and str(root) in line and " Z" not in line]


def no_runner_left(root, within_s: float = 60) -> bool:
    """Whether every runner under `root` has exited within `within_s` (a runner that wrote
    `done` still has to get out of the interpreter; on a busy machine that takes a moment)."""
    deadline = time.monotonic() + within_s
    while runners(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not runners(root)


def session_for(store) -> Session:
    return Session(Host.from_row(store.host("box")), backoff_s=0.1)


def test_one_command_turns_pairs_into_a_registered_model(box, store, tiny_base, tmp_path):
    out = json.loads(run_ownvoice(*finetune_args(tiny_base, "--max-steps", "6", "--json"),
                                  timeout=600).stdout)
    assert out["model"] == "voice-1" and out["host"] == "box"
    assert out["smoke_test"]["output"] == "早上好。"
    row = store.model("voice-1")
    from engine.download import file_sha256

    assert file_sha256(row["path"]) == row["sha256"] == out["sha256"]
    assert row["origin"] == "fine-tuned" and row["job_id"] == 1
    translated = json.loads(run_ownvoice("translate", "--model", "voice-1", "--text",
                                         "Where is the station?", "--to", "zh",
                                         "--json").stdout)
    assert translated["output"] == "车站在哪里？"
    assert steps_in(1) == [1, 2, 3, 4, 5, 6]
    job = store.job(1)
    assert job.kind is JobKind.REMOTE and job.status is JobState.DONE
    assert job.meta.remote.dir.startswith(str(box))
    assert no_runner_left(box)  # nothing left running on the box
    assert not (tmp_path / "pwned").exists() and not (ROOT / "pwned").exists()
    assert not list(pipeline.job_dir(1).rglob("*.part"))


def test_starting_a_job_twice_starts_one_run(box, store, tiny_base):
    started = json.loads(run_ownvoice(*finetune_args(tiny_base, "--max-steps", "40",
                                                     "--detach", "--json")).stdout)
    job = store.job(started["job"])
    with session_for(store) as session:
        again = jobs.start(store, session, job)
        assert again.meta.remote.pid == job.meta.remote.pid
        assert len(runners(box)) == 1
        cancelled = jobs.cancel(store, session, again, grace_s=30)
        assert cancelled.status is JobState.CANCELLED
        assert jobs.status(session, again).state in ("cancelled", "queued", "training")
    assert no_runner_left(box)


def test_a_cut_connection_is_re_attached_with_no_lost_or_repeated_progress(box, sshd, store,
                                                                            tiny_base):
    started = json.loads(run_ownvoice(*finetune_args(tiny_base, "--max-steps", "24",
                                                     "--detach", "--json")).stdout)
    job = store.job(started["job"])
    seen, cuts = [], []

    def on_event(event):
        if isinstance(event, events.Step):
            seen.append(event.step)
            if event.step in (3, 12):
                sshd.cut()
                cuts.append(event.step)

    with session_for(store) as session:
        row = jobs.follow(store, session, job, interval_s=0.3, on_event=on_event)
    assert cuts == [3, 12]
    assert seen == list(range(1, 25)) == steps_in(job.id)
    assert row["name"] == f"voice-{job.id}"


def test_the_app_killed_mid_job_re_attaches_from_the_database(box, store, tiny_base):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([str(BIN / "ownvoice"), *finetune_args(tiny_base, "--max-steps",
                                                                      "30", "--json")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    mirror = pipeline.job_dir(1) / "progress.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (mirror.exists() and steps_in(1)):
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert store.job(1).status.active  # the job goes on without the app
    out = json.loads(run_ownvoice("jobs", "attach", "1", "--json", timeout=600).stdout)
    assert out["model"] == "voice-1"
    assert steps_in(1) == list(range(1, 31))
    assert no_runner_left(box)


def test_attach_and_cancel_refuse_unknown_jobs(box, store):
    result = run_ownvoice("finetune", "--attach", "7", check=False)
    assert result.returncode == 1 and "No job 7" in result.stderr
    result = run_ownvoice("jobs", "cancel", "7", check=False)
    assert result.returncode == 1 and "No job 7" in result.stderr
    both = run_ownvoice("finetune", "--remote", "box", "--attach", "1", check=False)
    assert both.returncode == 2 and "Give one of" in both.stderr


def test_the_source_archive_is_deterministic_and_holds_the_runner():
    import io
    import tarfile

    from remote import bundle

    first, digest = bundle.source_archive()
    second, again = bundle.source_archive()
    assert first == second and digest == again
    with tarfile.open(fileobj=io.BytesIO(first)) as archive:
        names = archive.getnames()
    assert "remote/runner.py" in names and "engine/training/loop.py" in names
    assert not [n for n in names if "__pycache__" in n]


def test_a_runner_that_died_is_started_again_and_resumes(box, store, tiny_base):
    started = json.loads(run_ownvoice(*finetune_args(tiny_base, "--max-steps", "40",
                                                     "--detach", "--json")).stdout)
    job = store.job(started["job"])
    checkpoints = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        job = store.job(job.id)
        found = list((box).rglob("run/checkpoints/step-*"))
        if [p for p in found if not p.name.endswith(".part")]:
            checkpoints = found
            break
        time.sleep(0.2)
    assert checkpoints, "no checkpoint appeared"
    os.killpg(job.meta.remote.pid, signal.SIGKILL)  # out of memory, say
    with session_for(store) as session:
        row = jobs.follow(store, session, job, interval_s=0.3)
        status = jobs.status(session, store.job(job.id))
    assert row["name"] == f"voice-{job.id}"
    assert status.state == "done" and status.resumed is True  # from its checkpoint
    assert store.job(job.id).meta.remote.pid != job.meta.remote.pid
    assert steps_in(job.id) == list(range(1, 41))


def test_the_watchdog_stops_a_run_the_app_stopped_watching(box, store, tiny_base):
    from engine.training import pipeline as local

    job = local.prepare(store, base_model=str(tiny_base), max_steps=100000,
                        learning_rate=1e-3, kind=JobKind.REMOTE)
    with session_for(store) as session:
        job = jobs.start(store, session, job, host_meta=store.host("box")["meta"],
                         watchdog_idle_s=4, watchdog_action="none")
        deadline = time.monotonic() + 240
        state = {}
        while time.monotonic() < deadline:
            state = jobs.status(session, job)
            if state.state == "cancelled":
                break
            time.sleep(0.5)
    assert state.state == "cancelled"
    assert state.reason == "the app's heartbeat stopped"
    assert no_runner_left(box)


def test_a_box_with_several_processes_trains_data_parallel(sshd, store, tmp_path, tiny_base,
                                                          default_model):
    """On a box with several GPUs the runner starts engine.training under torchrun (here two
    CPU processes): half the steps of one process, then the same choose and export."""
    run_ownvoice("remote", "add", "box", "--host", f"{sshd.user}@127.0.0.1", "--port",
                 str(sshd.port), "--key", str(sshd.client_key), "--fingerprint",
                 sshd.fingerprint, "--python", sys.executable, "--root", str(tmp_path / "box"),
                 "--processes", "2")
    add_correction_pairs(store)  # 16 pairs: 4 steps of 4 on one process, 2 on two
    out = json.loads(run_ownvoice("finetune", "--remote", "box", "--base", str(tiny_base),
                                  "--epochs", "1", "--learning-rate", "1e-3", "--quant",
                                  "Q8_0", "--json", timeout=600).stdout)
    assert out["train"]["steps"] == 2
    assert out["smoke_test"]["stopped"]
    with session_for(store) as session:
        state = jobs.status(session, store.job(out["job"]))
    assert state.processes == 2 and state.state == "done"
    assert steps_in(out["job"]) == [1, 2]
