"""Progress events: what a job tells whoever follows it, in one JSON-lines encoding.

The trainer writes them to OUTPUT_DIR/progress.jsonl (engine/training/progress.py), the
box's runner leaves that file where the app tails it (remote/jobs.py mirrors it locally),
the training targets add the job's stages, and the CLI's printer and the Train page read
them — as these types, never as free-form dicts or display text. Qt signals carry them
as objects.

One event per line: `{"event": NAME, ...fields}`; `encode` and `decode` are the only
writers and readers of that format. Fields and units:

Step (event "step") — one optimizer step was taken
    step            steps done (count, from 1)
    total_steps     steps planned (count)
    epoch           epochs done (fraction)
    loss            training loss of the step (token-weighted cross-entropy, nats)
    lr              learning rate after the step
    tokens_per_s    training tokens per second over the step, data loading included
    elapsed_s       seconds since this run (or resume) began
    eta_s           seconds left at the current pace (None before the first step)
    gpu_memory_gb   peak GPU memory allocated so far (GB, 1e9 bytes; None on a CPU)
Evaluation (event "evaluation") — validation loss was measured
    step, total_steps, elapsed_s, eta_s, gpu_memory_gb   as for Step
    val_loss        validation loss (token-weighted cross-entropy, nats)
    base            True for the base model's loss before training (the one to beat)
Checkpoint (event "checkpoint") — a checkpoint was written
    step, total_steps, elapsed_s, eta_s, gpu_memory_gb   as for Step
    val_loss        its validation loss (nats; None without validation data)
    path            its folder (on the machine that trains)
    best            the lowest validation loss so far
Stage (event "stage") — the job moved on (see engine/jobs.py for the words)
    stage           a JobState value: launching, uploading, training, exporting, done…
    job             the job's id
    detail          for people: what is happening ("instance booting")
    cost_usd        a rented box's cost so far (US dollars), or None
    usd_per_hour    its listed price (US dollars per hour), or None
    step            the last step seen (count; 0 before training)
Log (event "log") — something for people to read
    message, step   (early stopping, the end of training, a re-attach…)
Error (event "error") — the job failed
    message, step
"""

from __future__ import annotations

import json
import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from engine import jsonl


@dataclass(frozen=True)
class Step:
    step: int
    total_steps: int
    epoch: float
    loss: float
    lr: float
    tokens_per_s: float
    elapsed_s: float
    eta_s: float | None = None
    gpu_memory_gb: float | None = None


@dataclass(frozen=True)
class Evaluation:
    step: int
    total_steps: int
    val_loss: float | None
    base: bool = False
    elapsed_s: float = 0.0
    eta_s: float | None = None
    gpu_memory_gb: float | None = None


@dataclass(frozen=True)
class Checkpoint:
    step: int
    total_steps: int
    val_loss: float | None
    path: str
    best: bool = False
    elapsed_s: float = 0.0
    eta_s: float | None = None
    gpu_memory_gb: float | None = None


@dataclass(frozen=True)
class Stage:
    stage: str
    job: int | None = None
    detail: str = ""
    cost_usd: float | None = None
    usd_per_hour: float | None = None
    step: int = 0


@dataclass(frozen=True)
class Log:
    message: str
    step: int = 0


@dataclass(frozen=True)
class Error:
    message: str
    step: int = 0


Event = Step | Evaluation | Checkpoint | Stage | Log | Error
NAMES: dict[type, str] = {Step: "step", Evaluation: "evaluation", Checkpoint: "checkpoint",
                          Stage: "stage", Log: "log", Error: "error"}
TYPES = {name: kind for kind, name in NAMES.items()}


def encode(event: Event) -> str:
    """One JSON line (without the newline)."""
    return jsonl.line({"event": NAMES[type(event)], **asdict(event)})


def decode(line: str | bytes) -> Event:
    """The event of one line. Raises ValueError for a line that is not one (a line cut by a
    killed process, an unknown event, a field this version does not know)."""
    record = json.loads(line)  # json.JSONDecodeError is a ValueError
    if not isinstance(record, dict):
        raise ValueError(f"not a progress event: {line!r}")
    name = record.pop("event", None)
    if name in _LEGACY:  # a progress file written before these types existed
        name, record = _LEGACY[name](record)
    kind = TYPES.get(name)
    if kind is None:
        raise ValueError(f"unknown progress event {name!r}")
    known = {f.name for f in fields(kind)}
    unknown = set(record) - known
    if unknown:
        raise ValueError(f"{name} has no field(s) {', '.join(sorted(unknown))}")
    step = record.get("step", 0)
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ValueError(f"{name} has a step that is not a count: {step!r}")
    for field_name, value in record.items():
        if not _fits(value, _hints(kind)[field_name]):
            raise ValueError(f"{name}.{field_name} is not a {_hints(kind)[field_name]}: "
                             f"{value!r}")
    return kind(**record)


def _hints(kind: type) -> dict[str, object]:
    if kind not in _HINTS:
        _HINTS[kind] = typing.get_type_hints(kind)
    return _HINTS[kind]


_HINTS: dict[type, dict[str, object]] = {}


def _fits(value, hint) -> bool:
    """Whether a JSON value is of the field's declared type (an int is a float too; a bool
    is neither)."""
    if value is None:
        return type(None) in typing.get_args(hint) or hint is type(None)
    options = typing.get_args(hint) or (hint,)
    for option in options:
        if option is bool and isinstance(value, bool):
            return True
        if isinstance(value, bool):
            continue
        if option is float and isinstance(value, (int, float)):
            return True
        if option in (int, str) and isinstance(value, option):
            return True
    return False


def _legacy_log(record: dict) -> tuple[str, dict]:
    best = record.get("best_val_loss")
    what = "stopped early" if "adapter" not in record else "training finished"
    return "log", {"step": record.get("step", 0),
                   "message": f"{what} at step {record.get('step', 0)}"
                              + (f", best validation loss {best:.4f}" if best else "")}


def _only(kind: type, rename: str):
    def convert(record: dict) -> tuple[str, dict]:
        known = {f.name for f in fields(kind)}
        return rename, {k: v for k, v in record.items() if k in known}
    return convert


_LEGACY = {"train": _only(Step, "step"), "eval": _only(Evaluation, "evaluation"),
           "early_stop": _legacy_log, "done": _legacy_log}


def read(path) -> list[Event]:
    """Every complete event in a progress file, in order; cut or foreign lines skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return decode_lines(text)[0]


def decode_lines(text: str) -> tuple[list[Event], int]:
    """(the events of these lines in order, how many non-empty lines were not events)."""
    events: list[Event] = []
    skipped = 0
    for line in text.splitlines():
        if line.strip():
            try:
                events.append(decode(line))
            except (ValueError, TypeError):
                skipped += 1
    return events, skipped


def identity(event: Event) -> tuple:
    """What makes two events the same one (a resumed run repeats its last steps; a
    follower keeps each once)."""
    if isinstance(event, Stage):
        return ("stage", event.stage, event.step)
    if isinstance(event, Log | Error):
        return (NAMES[type(event)], event.step, event.message)
    return (NAMES[type(event)], event.step)


def describe(event: Event) -> str | None:
    """One line for people about an event (None for steps: they update a status line)."""
    if isinstance(event, Evaluation):
        return (f"base model validation loss {event.val_loss:.4f}" if event.base
                and event.val_loss is not None else None)
    if isinstance(event, Checkpoint):
        return (f"checkpoint at step {event.step}"
                + (f", validation loss {event.val_loss:.4f}" if event.val_loss is not None
                   else "") + (" (best so far)" if event.best else ""))
    if isinstance(event, Stage):
        cost = f" · ${event.cost_usd:.2f} so far" if event.cost_usd is not None else ""
        return f"[{event.stage}{': ' + event.detail if event.detail else ''}{cost}]"
    if isinstance(event, Log | Error):
        return event.message
    return None
