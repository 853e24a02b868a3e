"""MLX's training, checkpoint choice and fuse, each run in a child process
(`python -m engine.training.mlx_lora`): on a Mac, Metal running out of memory aborts the
process that asked for the memory (`[METAL] Command buffer execution failed: Insufficient
Memory`, then SIGABRT; or the system kills it), and the app that started the training — the
desktop app itself — must live on to say what happened, in one line, and keep the job
resumable from its last checkpoint.

    from engine.training.mlx_process import framework
    framework()    # stages.Framework("mlx", train, score, merge): pipeline.framework_of

The parent never imports MLX. The child's progress events arrive on its stdout (one JSON
line each, engine/events.py) and are handed on as if the training ran here; a cancel asked
here reaches the child as a file it checks after each step; the child's stderr is kept in
OUTPUT_DIR/mlx.log.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from engine import events
from engine.errors import OwnVoiceError

MEMORY_HINT = ("close other apps, or start the training again with less memory for it "
               "(OWNVOICE_TRAIN_MEMORY_GB=N ownvoice train --on mac: the memory check then "
               "chooses smaller settings)")
OUT_OF_MEMORY = ("Insufficient Memory", "OutOfMemory", "out of memory")


def framework():
    """MLX's stages.Framework, every part in a child process."""
    from engine.training.stages import Framework

    return Framework("mlx", train, score, merge)


def command(*args: str) -> list[str]:
    """The child's command line: this Python, `-m engine.training.mlx_lora`, `args`."""
    return [sys.executable, "-m", "engine.training.mlx_lora", *args]


def environment() -> dict[str, str]:
    """This process's environment, with OwnVoice's own folder first on the child's path (an
    app run from a source checkout, not installed, still finds `engine`)."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in
                                                  env.get("PYTHONPATH", "").split(os.pathsep)
                                                  if p])
    return env


def train(config, *, resume: bool = False, cancelled: Callable[[], bool] | None = None,
          on_progress: Callable | None = None):
    """engine.training.mlx_lora.loop.train in a child process: the same TrainResult, the
    same events to `on_progress`; `cancelled()` is asked at each event and twice a second
    (true: the child checkpoints after its current step and stops). Raises OwnVoiceError
    (one line) for the child's own errors and when it was killed (Metal out of memory,
    above all)."""
    from engine.training.schedule import TrainResult

    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    job_file, cancel, log = output / "mlx-job.json", output / "mlx-cancel", output / "mlx.log"
    config.save(job_file)
    cancel.unlink(missing_ok=True)
    args = ["train", str(job_file), "--cancel-file", str(cancel),
            "--parent", str(os.getpid())] + (["--resume"] if resume else [])
    last_step = 0
    outcome = None
    since = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as stderr:
        process = subprocess.Popen(command(*args), stdout=subprocess.PIPE, stderr=stderr,
                                   stdin=subprocess.DEVNULL, env=environment())
        lines: queue.Queue = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines),
                                  daemon=True)
        reader.start()
        try:
            while True:
                if cancelled is not None and not cancel.exists() and cancelled():
                    cancel.touch()
                try:
                    line = lines.get(timeout=0.5)
                except queue.Empty:
                    continue
                if line is None:  # the child closed its output: it is ending
                    break
                if line.startswith('{"result"'):
                    outcome = json.loads(line)["result"]
                    continue
                try:
                    event = events.decode(line)
                except ValueError:
                    continue  # a stray print of a library: not an event
                last_step = max(last_step, getattr(event, "step", 0) or 0)
                if on_progress is not None:
                    on_progress(event)
            process.wait()
        finally:
            if process.poll() is None:  # this process is being stopped (Ctrl-C, an error)
                process.terminate()
                process.wait()
            cancel.unlink(missing_ok=True)
    if process.returncode != 0 or outcome is None:
        raise failure(process.returncode, log, since, doing=f"MLX training stopped at "
                                                            f"step {last_step}")
    return TrainResult(**outcome)


def score(config) -> list[dict]:
    """engine.training.mlx_lora.choose.score in a child process: the measured checkpoints,
    best first. Raises OwnVoiceError as `train` does."""
    output = Path(config.output_dir)
    job_file = output / "mlx-job.json"
    config.save(job_file)
    return _run(["score", str(job_file)], output / "mlx.log", doing="Measuring the MLX "
                                                                   "checkpoints failed")


def merge(base_model: str, adapter_dir, out_dir) -> tuple[Path, int]:
    """engine.training.mlx_lora.fuse.fuse in a child process: (the fused Hugging Face folder,
    its parameter count). Raises OwnVoiceError as `train` does."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = _run(["fuse", str(base_model), str(adapter_dir), str(out_dir)],
                out_dir.parent / "mlx-fuse.log", doing="Fusing the MLX adapter failed")
    return Path(done["folder"]), int(done["parameters"])


def _run(args: list[str], log: Path, *, doing: str):
    """A child that answers with one JSON value on its last line of stdout."""
    log.parent.mkdir(parents=True, exist_ok=True)
    since = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as stderr:
        process = subprocess.run(command(*args), stdout=subprocess.PIPE, stderr=stderr,
                                 stdin=subprocess.DEVNULL, env=environment(), check=False)
    lines = process.stdout.decode("utf-8", "replace").strip().splitlines()
    if process.returncode != 0 or not lines:
        raise failure(process.returncode, log, since, doing=doing)
    return json.loads(lines[-1])


def _read_lines(stream, lines: queue.Queue) -> None:
    for raw in stream:
        lines.put(raw.decode("utf-8", "replace").strip())
    lines.put(None)


def failure(returncode: int, log: Path, since: int = 0, *, doing: str) -> OwnVoiceError:
    """One line for a child that failed: its own `error:` line, or how it ended (a signal:
    most often Metal out of memory) with its last words and what to do."""
    said = last_words(log)
    if returncode == 1 and said.startswith("error: "):
        return OwnVoiceError(said.removeprefix("error: "))
    if returncode is not None and returncode < 0:
        try:
            how = f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"was killed by signal {-returncode}"
    else:
        how = f"ended with exit status {returncode}"
    memory = any(mark in said for mark in OUT_OF_MEMORY)
    cause = ("Metal ran out of memory" if memory else
             "on a Mac most often Metal running out of memory"
             if returncode in (-signal.SIGABRT, -signal.SIGKILL) else "")
    return OwnVoiceError(f"{doing}: its process {how}" + (f" ({cause})" if cause else "")
                         + (f"; it said: {said[:300]}" if said else "")
                         + (f". What to do: {MEMORY_HINT}" if cause else "")
                         + f". Details in {log}.")


def last_words(log: Path, since: int = 0) -> str:
    """The last line the child wrote to its stderr from byte `since` on (a traceback's last
    line: the error); "" when it wrote none."""
    try:
        with open(log, "rb") as file:
            file.seek(max(since, file.seek(0, os.SEEK_END) - 8192))
            tail = file.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1] if lines else ""
