"""Runs on the GPU box, detached from the SSH session that started it:

    python3 -m remote.runner JOB_DIR

1. finds or builds a Python environment with the training stack (a Python >= 3.11 that
   already imports it — e.g. the box's own CUDA PyTorch — is reused; otherwise a venv is
   created and the requirements installed once, stamped by their hash);
2. re-executes itself in that environment and runs exactly the code the app runs locally:
   train (resuming from the last checkpoint if a previous run died) → choose a checkpoint →
   export (merge, GGUF, quantise, smoke test);
3. says where it stands in JOB_DIR/status.json (written atomically), which the app reads.

SIGTERM cancels gracefully (a checkpoint is written, then it exits). A watchdog stops the
run — and, on a rented box, powers it off — when the app's heartbeat goes stale.

The part before the re-exec uses the standard library only and runs on any Python 3.8+.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# status.json's "state" is a word of engine.jobs.JobState (this part runs before the
# training environment exists, on any Python 3.8+, so the words are spelt out here and a test
# checks they are JobState's): queued (no status yet) → bootstrapping → training → exporting
# → done | failed | cancelled.
STATES = ("bootstrapping", "training", "exporting", "done", "failed", "cancelled")


def write_status(job_dir: Path, state: str, **values) -> None:
    assert state in STATES, state
    status = {"state": state, "pid": os.getpid(), "updated_at": time.time(), **values}
    partial = job_dir / "status.json.part"
    partial.write_text(json.dumps(status, ensure_ascii=False))
    os.replace(partial, job_dir / "status.json")


def _works(python: str, stack: str) -> bool:
    check = ("import sys; assert sys.version_info >= (3, 11), 'Python 3.11+ needed'; "
             + stack)
    try:
        return subprocess.run([python, "-c", check], capture_output=True,
                              timeout=300).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _new_python() -> str | None:
    """A Python >= 3.11 on the box to build a venv from."""
    for name in ("python3.13", "python3.12", "python3.11", "python3"):
        for folder in os.environ.get("PATH", "").split(os.pathsep):
            candidate = Path(folder) / name
            if candidate.exists() and subprocess.run(
                    [str(candidate), "-c", "import sys; assert sys.version_info >= (3, 11)"],
                    capture_output=True).returncode == 0:
                return str(candidate)
    return None


def ensure_env(plan: dict, job_dir: Path) -> str:
    """The Python that will train: the one named in the plan, a ready venv, the box's own
    Python when it has the stack (e.g. Lambda Stack's CUDA PyTorch), or a new venv."""
    stack = plan["stack"]  # the app's remote/jobs.py stack_check(): every module it needs
    if plan.get("python"):
        if _works(plan["python"], stack):
            return plan["python"]
        raise RuntimeError(f"{plan['python']} cannot import the training stack ({stack}).")
    env = Path(plan["env"])
    requirements = plan["requirements"]
    stamp = env / ("ready-" + hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:16])
    python = str(env / "bin" / "python")
    if stamp.exists() and _works(python, stack):
        return python
    if plan.get("reuse_box_python", True):
        for candidate in ("python3", sys.executable):
            if _works(candidate, stack):
                return candidate
    base = _new_python()
    if base is None:
        raise RuntimeError("The box has no Python 3.11 or newer. Install one (Ubuntu: "
                           "`sudo apt-get install python3.11-venv`) and start the job again.")
    write_status(job_dir, "bootstrapping", detail=f"installing the training stack into {env}")
    with open(job_dir / "bootstrap.log", "ab") as log:
        steps = [[base, "-m", "venv", "--system-site-packages", str(env)],
                 [python, "-m", "pip", "install", "--disable-pip-version-check",
                  *requirements]]
        for step in steps:
            log.write(("$ " + " ".join(step) + "\n").encode())
            log.flush()
            if subprocess.run(step, stdout=log, stderr=subprocess.STDOUT,
                              env={"CMAKE_ARGS": "-DGGML_NATIVE=ON", **os.environ}
                              ).returncode != 0:
                raise RuntimeError(f"Setting up the environment failed at: {' '.join(step)} "
                                   f"(see {job_dir / 'bootstrap.log'}).")
    if not _works(python, stack):
        raise RuntimeError(f"The new environment {env} still cannot import the training "
                           "stack; see bootstrap.log.")
    stamp.touch()
    return python


class Watchdog(threading.Thread):
    """Stops the run when the app's heartbeat (a file it touches) is older than `idle_s`:
    the app is gone, and a rented box must not bill for nobody."""

    def __init__(self, job_dir: Path, idle_s: float, action: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.heartbeat = job_dir / "heartbeat"
        self.job_dir, self.idle_s, self.action, self.stop = job_dir, idle_s, action, stop
        self.fired = False

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                age = time.time() - self.heartbeat.stat().st_mtime
            except FileNotFoundError:
                age = 0.0
            if age > self.idle_s:
                self.fired = True
                self.stop.set()
                return
            time.sleep(min(30.0, self.idle_s / 4))

    def power_off(self) -> None:
        if self.fired and self.action == "shutdown":
            subprocess.run(["sudo", "-n", "shutdown", "-h", "now"], check=False)


def processes(plan: dict) -> int:
    """Training processes: as the plan says, else one per GPU on the box."""
    if plan.get("processes"):
        return int(plan["processes"])
    import torch

    return max(1, torch.cuda.device_count())


def several_processes(count: int, job_dir: Path, stop: threading.Event):
    """A trainer for train_and_export: `torchrun` runs engine.training on `count` processes (the
    same script, data-parallel), then the in-process steps choose and export."""
    from engine.errors import OwnVoiceError
    from engine.training.loop import TrainResult
    from engine.training.stages import Interrupted

    def trainer(config, resume: bool):
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc_per_node", str(count), "-m", "engine.training",
                   str(job_dir / "job.json")] + (["--resume"] if resume else [])
        process = subprocess.Popen(command)  # its output goes to runner.log with ours
        while process.poll() is None:
            if stop.is_set():
                process.terminate()  # torchrun passes it on to its workers
                process.wait()
                raise Interrupted(0)
            time.sleep(0.5)
        if process.returncode != 0:
            raise OwnVoiceError(f"Training on {count} processes failed (exit "
                                f"{process.returncode}); see runner.log.")
        result = json.loads((Path(config.output_dir) / "result.json").read_text())
        return TrainResult(**result)

    return trainer


def run(plan: dict, job_dir: Path) -> int:
    from engine.errors import OwnVoiceError
    from engine.jobs import JobMeta
    from engine.training.checkpoint import complete
    from engine.training.config import TrainConfig
    from engine.training.stages import Interrupted, train_and_export

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    watchdog = None
    if plan.get("watchdog_idle_s"):
        (job_dir / "heartbeat").touch()
        watchdog = Watchdog(job_dir, plan["watchdog_idle_s"], plan.get("watchdog_action",
                                                                         "none"), stop)
        watchdog.start()
    config = TrainConfig.load(job_dir / "job.json")
    resumed = bool(complete(Path(config.output_dir)))
    count = processes(plan)
    write_status(job_dir, "training", resumed=resumed, processes=count)
    try:
        outcome = train_and_export(
            config, JobMeta.from_dict(plan["meta"]), folder=job_dir, name=plan["name"],
            quant=plan["quant"],
            checkpoint_step=plan.get("checkpoint_step"), resume=resumed,
            cancelled=stop.is_set,
            on_stage=lambda stage, details: write_status(job_dir, stage.value, **details),
            trainer=several_processes(count, job_dir, stop) if count > 1 else None)
    except Interrupted as exc:
        reason = "the app's heartbeat stopped" if watchdog and watchdog.fired else "cancelled"
        write_status(job_dir, "cancelled", steps=exc.steps, reason=reason)
        if watchdog:
            watchdog.power_off()
        return 2
    except OwnVoiceError as exc:
        write_status(job_dir, "failed", error=str(exc))
        return 1
    write_status(job_dir, "done", resumed=resumed, processes=count, **outcome)
    return 0


def hold_job(job_dir: Path) -> bool:
    """Take the job's runner lock (an OS lock on JOB_DIR/runner.lock, freed however this
    process ends, kept across the re-exec into the training environment). False: another
    runner holds it, or the job already ended — this one must not run."""
    import fcntl

    fd = os.open(job_dir / "runner.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    try:  # read under the lock: a runner that ended wrote its last status before it let go
        state = json.loads((job_dir / "status.json").read_text()).get("state")
    except (OSError, ValueError):
        state = None
    if state in ("done", "failed", "cancelled"):
        os.close(fd)
        return False
    os.set_inheritable(fd, True)  # held by the same process after execve
    return True


def main(argv: list[str]) -> int:
    job_dir = Path(argv[0]).resolve()
    plan = json.loads((job_dir / "box.json").read_text())
    if "--in-env" not in argv and not hold_job(job_dir):
        print(f"{job_dir} has a runner already, or its job ended; nothing to do.", flush=True)
        return 0
    # The host's own settings (a package index, a proxy…) hold for the set-up and the run.
    os.environ.update(plan.get("environment") or {})
    if "--in-env" in argv:
        try:
            return run(plan, job_dir)
        except Exception as exc:  # the app must learn why, whatever it was
            write_status(job_dir, "failed", error=f"{type(exc).__name__}: {exc}")
            raise
    try:
        python = ensure_env(plan, job_dir)
    except RuntimeError as exc:
        write_status(job_dir, "failed", error=str(exc))
        return 1
    os.chdir(job_dir)
    env = {**os.environ, "PYTHONPATH": plan["code"], "PYTHONUNBUFFERED": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1"}
    os.execve(python, [python, "-m", "remote.runner", str(job_dir), "--in-env"], env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
