"""Where training runs: one contract for every machine, and this machine as the first one.

A training target is a small class with five steps (Vorta's `borg` jobs are the model):

    plan = target.prepare(store, request)   # pure: validates every value, changes nothing
    job  = target.start(store, plan)        # job folder + row; sent and started where it runs
    row  = target.follow(store, job)        # until it ends: progress events, then the model
    target.cancel(store, job)               # stop it (a checkpoint is written first)
    row  = target.fetch(store, job)         # bring a finished job's GGUF home and register it

`run(target, store, request)` chains them: the Train page and `ownvoice train` both call
it, so the workflow is written once. This module holds the contract and `LocalTarget`
(this machine, in-process); remote/targets.py adds an SSH box and a rented Lambda box, and
`remote.targets.target_for("local" | BOX | "lambda:TYPE")` picks one.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine import events
from engine.errors import OwnVoiceError
from engine.jobs import Job, JobKind, JobState
from engine.training import pipeline

QUANTS = ("auto", "Q4_K_M", "Q8_0", "F16")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
EventSink = Callable[[events.Event], None]
Stop = Callable[[], bool]


class InvalidRequest(OwnVoiceError):
    """A value that cannot work, found by `prepare` before anything was written or sent."""


MAX_EPOCHS = 100


@dataclass(frozen=True)
class TrainingRequest:
    """What the user asks for, wherever it runs.

    base_model       a Hugging Face id (org/name), a model folder or a .gguf file; None
                     means the embedded Gemma 3 270M
    max_steps        stop after this many optimizer steps (None: whole epochs)
    epochs           passes over the training pairs (> 0; fractions allowed)
    learning_rate    AdamW's peak learning rate (0 < lr < 1)
    quant            the GGUF's quantisation: auto (Q8_0 below 1.5B parameters, Q4_K_M
                     above), Q4_K_M, Q8_0 or F16
    checkpoint_step  export this step's checkpoint instead of the one OwnVoice picks
    improve          preference training (DPO) on the writer's judgments, starting from the
                     supervised job with this id (its base and adapter); this machine only
    """

    base_model: str | None = None
    max_steps: int | None = None
    epochs: float = 1.0
    learning_rate: float = 2e-4
    quant: str = "auto"
    checkpoint_step: int | None = None
    improve: int | None = None

    def check(self) -> None:
        """Raise InvalidRequest for the first value that cannot work."""
        if not 0 < self.epochs <= MAX_EPOCHS:  # NaN and infinity too
            raise InvalidRequest(f"Epochs must be above 0 and at most {MAX_EPOCHS} (got "
                                f"{self.epochs}).")
        if not 0 < self.learning_rate < 1:
            raise InvalidRequest(f"The learning rate must be between 0 and 1 (got "
                                f"{self.learning_rate}); 2e-4 is a good start for LoRA.")
        if self.max_steps is not None and self.max_steps < 1:
            raise InvalidRequest(f"--max-steps must be at least 1 (got {self.max_steps}).")
        if self.checkpoint_step is not None and self.checkpoint_step < 1:
            raise InvalidRequest(f"--checkpoint must be a step of 1 or more (got "
                                f"{self.checkpoint_step}).")
        if self.quant not in QUANTS:
            raise InvalidRequest(f"Unknown quantisation {self.quant!r}: choose one of "
                                f"{', '.join(QUANTS)}.")
        if self.improve is not None and self.base_model is not None:
            raise InvalidRequest("--improve continues a fine-tune on its own base: leave out "
                                 "--base.")
        base = self.base_model
        if base is not None and not Path(base).expanduser().exists() \
                and not _HUB_ID.match(base):
            raise InvalidRequest(f"The base model {base} is neither a file or folder here nor "
                                "a Hugging Face id (org/name).")


@dataclass(frozen=True)
class Plan:
    """A checked request for one target: what `start` needs, nothing done yet."""

    request: TrainingRequest
    target: str                     # for people: "this machine", a box's name, …
    pairs: int                      # training pairs available now (count)
    options: dict = field(default_factory=dict)  # the target's own settings


class TrainingTarget(ABC):
    """Where a LoRA fine-tune runs. Implementations: LocalTarget (here), MacTarget (here,
    with MLX: mlx_target.py), BoxTarget and RentedTarget (remote/targets.py), TinkerTarget."""

    kind: JobKind
    name: str  # for people

    def prepare(self, store, request: TrainingRequest) -> Plan:
        """Check everything that can be checked before anything is written, rented or
        sent: the values, the pairs, the target's own settings. Reads, never writes."""
        request.check()
        options = self.check(store)
        if request.improve is not None:
            return Plan(request=request, target=self.name,
                        pairs=self.check_preferences(store, request), options=options)
        pairs = pipeline.count_training_pairs(store)
        if not pairs:
            raise InvalidRequest("No training pairs yet: make some with `ownvoice synth` (or "
                                 "correct a few translations).")
        return Plan(request=request, target=self.name, pairs=pairs, options=options)

    def check(self, store) -> dict:
        """The target's own preconditions (raises InvalidRequest); returns its options for
        the plan."""
        return {}

    def check_preferences(self, store, request: TrainingRequest) -> int:
        """A preference run's preconditions: a target that runs it, a supervised job to
        start from, enough judgments. Returns the training preferences (count)."""
        from engine.pairs import preferences

        if self.kind is not JobKind.LOCAL:
            raise InvalidRequest("Preference training (--improve) runs on this machine: use "
                                 "--on local.")
        try:
            pipeline.improvable(store, request.improve)
            pipeline.require_preferences(store)
        except OwnVoiceError as exc:
            raise InvalidRequest(str(exc)) from exc
        return len(preferences.training(store, "train"))

    @abstractmethod
    def start(self, store, plan: Plan, *, on_event: EventSink | None = None) -> Job:
        """Create the job and start it where it runs; returns the job."""

    @abstractmethod
    def follow(self, store, job: Job, *, on_event: EventSink | None = None,
               stop: Stop | None = None) -> dict | None:
        """Until the job ends: progress events to `on_event`; then the registered model's
        row. None when `stop()` asked to let go of a job that goes on by itself."""

    @abstractmethod
    def cancel(self, store, job: Job) -> Job:
        """Ask the job to stop (it writes a checkpoint first); returns the job."""

    @abstractmethod
    def fetch(self, store, job: Job) -> dict:
        """Bring a finished job's GGUF home and register it; returns the model row."""


def start(target: TrainingTarget, store, request: TrainingRequest, *,
          on_event: EventSink | None = None) -> Job:
    """prepare → start: the job runs (or, here, is ready to run); returns it."""
    plan = target.prepare(store, request)
    return target.start(store, plan, on_event=on_event)


def run(target: TrainingTarget, store, request: TrainingRequest, *,
        on_event: EventSink | None = None, stop: Stop | None = None,
        cancel: Stop | None = None) -> dict | None:
    """prepare → start → follow: the one training operation of the app and the CLI.
    `stop()` lets go of the job (one on your box goes on; here or on a rented box, it
    stops with its follower); `cancel()` stops the job itself, wherever it runs. Returns
    the registered model's row, or None when the job was let go of."""
    job = start(target, store, request, on_event=on_event)
    return follow(target, store, job, on_event=on_event, stop=stop, cancel=cancel)


def follow(target: TrainingTarget, store, job: Job, *, on_event: EventSink | None = None,
           stop: Stop | None = None, cancel: Stop | None = None) -> dict | None:
    """target.follow, and target.cancel when `cancel()` asked for the follow to end."""
    def either() -> bool:
        return bool((stop is not None and stop()) or (cancel is not None and cancel()))

    row = target.follow(store, job, on_event=on_event, stop=either)
    if row is None and cancel is not None and cancel():
        target.cancel(store, store.job(job.id))
    return row


class LocalTarget(TrainingTarget):
    """This machine: training runs in the calling process (CPU, or a local GPU)."""

    kind = JobKind.LOCAL
    name = "this machine"

    def check(self, store) -> dict:
        """The training stack (the `train` extra) must be installed here."""
        from importlib.util import find_spec

        from engine.training.stages import REQUIRED

        missing = [name for name, module in REQUIRED.items() if find_spec(module) is None]
        if missing:
            raise InvalidRequest(
                f"Training on this machine needs {', '.join(missing)} (OwnVoice's `train` "
                "extra): install PyTorch for your machine first, then `pip install "
                "'ownvoice[train]'` in OwnVoice's environment (`make test` does both). Or "
                "train on a GPU box: `ownvoice train --on BOX`.")
        return {}

    def __init__(self):
        self._plans: dict[int, TrainingRequest] = {}

    def start(self, store, plan: Plan, *, on_event: EventSink | None = None) -> Job:
        request = plan.request
        if request.improve is not None:
            job = pipeline.prepare_preferences(
                store, improves=request.improve, max_steps=request.max_steps,
                epochs=request.epochs, learning_rate=request.learning_rate, quant=request.quant)
            self._plans[job.id] = request
            if on_event is not None:
                on_event(events.Stage(stage=JobState.PREPARED.value, job=job.id, detail=(
                    f"{job.meta.preferences} preferences, improving job {job.meta.improves} "
                    f"(base {job.model}), on {plan.target}")))
            return job
        job = pipeline.prepare(store, base_model=request.base_model,
                               max_steps=request.max_steps, epochs=request.epochs,
                               learning_rate=request.learning_rate, quant=request.quant,
                               kind=self.kind, **self.job_options(plan))
        self._plans[job.id] = request
        if on_event is not None:
            self.announce(plan, job, on_event)
        return job

    def job_options(self, plan: Plan) -> dict:
        """pipeline.prepare's options of this target (MacTarget: MLX and the settings that
        fit its memory)."""
        return {}

    def announce(self, plan: Plan, job: Job, on_event: EventSink) -> None:
        """The events that say the job is prepared."""
        on_event(events.Stage(stage=JobState.PREPARED.value, job=job.id,
                              detail=f"{job.meta.pairs} training pairs, base {job.model}, "
                                     f"on {plan.target}"))

    def follow(self, store, job: Job, *, on_event: EventSink | None = None,
               stop: Stop | None = None, checkpoint_step: int | None = None,
               quant: str | None = None) -> dict | None:
        """Run it here — from the start, or resumed from its last checkpoint when it was
        interrupted — or, when another process is running it, watch that process."""
        job = pipeline.settle(store, store.job(job.id))
        if job.status is JobState.DONE:
            return self.fetch(store, job)
        if job.status.active:  # settled: its process is alive, elsewhere on this machine
            return self._watch(store, job, on_event=on_event, stop=stop)
        request = self._plans.get(job.id)
        step = checkpoint_step or (request.checkpoint_step if request else None)
        resume = job.status is not JobState.PREPARED
        return pipeline.run(store, job, resume=resume, quant=quant, checkpoint_step=step,
                            on_event=on_event, cancelled=stop)

    def _watch(self, store, job: Job, *, on_event: EventSink | None, stop: Stop | None,
               interval_s: float = 1.0) -> dict | None:
        progress = pipeline.job_dir(job.id) / "run" / "progress.jsonl"
        seen: set = set()
        while True:
            for event in events.read(progress):
                if events.identity(event) not in seen:
                    seen.add(events.identity(event))
                    if on_event is not None:
                        on_event(event)
            job = pipeline.settle(store, store.job(job.id))
            if job.status is JobState.DONE:
                return self.fetch(store, job)
            if job.status is JobState.INTERRUPTED:
                raise OwnVoiceError(f"The process running job {job.id} ended before the job "
                                    f"did; continue it with `ownvoice train --resume {job.id}`.")
            if not job.status.active:
                raise OwnVoiceError(f"Job {job.id} {job.status.value} on this machine"
                                    + (f": {job.meta.error}" if job.meta.error else "."))
            if stop is not None and stop():
                return None
            time.sleep(interval_s)

    def cancel(self, store, job: Job) -> Job:
        job = pipeline.settle(store, job)
        if job.status.active:
            pipeline.cancel_file(job.id).parent.mkdir(parents=True, exist_ok=True)
            pipeline.cancel_file(job.id).touch()  # the run stops after its current step
            return store.job(job.id)
        if job.status.terminal:
            return job
        return store.update_job(job.id, status=JobState.CANCELLED)

    def fetch(self, store, job: Job) -> dict:
        """A local job's GGUF is already home: its registered model."""
        return registered_model(store, job)


def registered_model(store, job: Job) -> dict:
    """The model a finished job registered (its GGUF is home); OwnVoiceError before that."""
    row = store.model(job.result) if job.result else None
    if row is None:
        raise OwnVoiceError(f"Job {job.id} has no model yet ({job.status.value}).")
    return row
