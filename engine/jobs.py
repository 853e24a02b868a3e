"""A job as it crosses process boundaries: its kind, its state and its metadata.

One job row (the `jobs` table) per piece of long work that runs somewhere else or later:
a LoRA fine-tune here, on your box or on a rented one, an OpenAI fine-tuning pilot, an
OpenAI batch of reverse synthesis. Every writer (the local pipeline, the remote job code,
the rented-box code, the pilot, the batch) and every reader (the CLI, the Train and Data
pages) uses these types; the store encodes `JobMeta` as JSON and refuses keys it does not
define.

`JobState` — one set of words for every kind of job:

    preparing      the job folder and its datasets are being written
    prepared       ready to start; nothing has run yet
    launching      a rented instance is being launched and booted
    uploading      code, base model and data are going to the box (or the provider)
    queued         started, waiting its turn (the provider's queue; a runner not yet reporting)
    bootstrapping  the box builds its Python environment (once per box and version)
    running        running where nothing finer is known (a batch being processed)
    training       LoRA steps are being taken
    exporting      choosing a checkpoint, merging, converting to GGUF, quantising, smoke test
    fetching       the result is coming home
    done           finished; `Job.result` names the registered model (or is empty)
    failed         stopped by an error (`JobMeta.error` says which)
    cancelled      stopped on request (a checkpoint was written first where possible)
    interrupted    stopped by a crash or a kill; `ownvoice train --resume N` continues it
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from engine.errors import OwnVoiceError


class JobKind(StrEnum):
    LOCAL = "local"            # LoRA fine-tune on this machine (torch)
    MAC = "mac"                # LoRA fine-tune on this machine with MLX (a Mac's own)
    REMOTE = "remote"          # LoRA fine-tune on an SSH box (your own, or rented: `cloud`)
    PILOT = "openai-pilot"     # OpenAI's managed fine-tuning
    TINKER_PILOT = "tinker-pilot"  # the same sizing on Tinker's managed LoRA training
    TINKER = "tinker"          # LoRA fine-tune on Tinker (all pairs), exported to GGUF here
    BATCH = "openai-batch"     # reverse synthesis through OpenAI's Batch API

    @property
    def here(self) -> bool:
        """A fine-tune that runs on this machine, in an OwnVoice process (torch or MLX)."""
        return self in (JobKind.LOCAL, JobKind.MAC)


class JobState(StrEnum):
    PREPARING = "preparing"
    PREPARED = "prepared"
    LAUNCHING = "launching"
    UPLOADING = "uploading"
    QUEUED = "queued"
    BOOTSTRAPPING = "bootstrapping"
    RUNNING = "running"
    TRAINING = "training"
    EXPORTING = "exporting"
    FETCHING = "fetching"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def terminal(self) -> bool:
        """Nothing more will happen to the job."""
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)

    @property
    def active(self) -> bool:
        """Something is (or should be) working on the job right now."""
        return not self.terminal and self not in (JobState.PREPARING, JobState.PREPARED,
                                                  JobState.INTERRUPTED)

    @classmethod
    def of_openai_fine_tuning(cls, status: str) -> JobState:
        """OpenAI's fine-tuning job status (validating_files, queued, running, succeeded,
        failed, cancelled) in OwnVoice's words."""
        return {"validating_files": cls.QUEUED, "queued": cls.QUEUED,
                "running": cls.TRAINING, "succeeded": cls.DONE, "failed": cls.FAILED,
                "cancelled": cls.CANCELLED}.get(status, cls.RUNNING)

    @classmethod
    def of_openai_batch(cls, status: str) -> JobState:
        """OpenAI's batch status (validating, in_progress, finalizing, completed, failed,
        expired, cancelling, cancelled) in OwnVoice's words; a completed batch stays
        `running` until its results are collected, then it is `done`."""
        return {"validating": cls.QUEUED, "failed": cls.FAILED, "expired": cls.FAILED,
                "cancelled": cls.CANCELLED}.get(status, cls.RUNNING)


class _Strict:
    """Dataclasses encoded as JSON objects: unknown keys are refused, not carried along."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise OwnVoiceError(f"{cls.__name__} has no field(s) {', '.join(unknown)}; this "
                                "job was written by another version of OwnVoice.")
        values = {}
        for name, value in data.items():
            kind = _NESTED.get((cls.__name__, name))
            if kind and isinstance(value, dict):
                value = kind.from_dict(value)
            elif kind and isinstance(value, list):
                value = [kind.from_dict(v) if isinstance(v, dict) else v for v in value]
            values[name] = value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Only the fields that are set (None and empty values are left out)."""
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None or value == {} or value == []:
                continue
            if isinstance(value, _Strict):
                value = value.to_dict()
            elif isinstance(value, list):
                value = [v.to_dict() if isinstance(v, _Strict) else v for v in value]
            out[f.name] = value
        return out

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass
class Box(_Strict):
    """Where a job runs on an SSH box (kept so the app re-attaches from the database)."""

    host: str                      # the box's name in `ownvoice remote list`
    root: str                      # OwnVoice's folder on the box (absolute path)
    dir: str                       # the job's folder on the box (absolute path)
    offset: int = 0                # bytes of run/progress.jsonl already read (bytes)
    tail: str = ""                 # hex of the (up to 64) bytes before `offset`
    pid: int | None = None         # the runner's process id (its process group's id)
    code: str | None = None        # the unpacked source on the box (absolute path)


@dataclass
class Rental(_Strict):
    """A cloud instance rented for one job; terminated when the job ends."""

    provider: str                  # "lambda"
    instance_id: str
    instance_type: str             # e.g. gpu_1x_gh200
    region: str
    cents_per_hour: int            # the listed price (US cents per hour)
    launched_at: float             # Unix time (s)
    terminated_at: float | None = None  # Unix time (s); None while it runs
    cost_usd: float | None = None  # time × listed price, once terminated (US dollars)
    host: str | None = None        # the temporary entry in `ownvoice remote list`
    max_hours: float | None = None  # the budget it was launched with (hours)
    max_usd: float | None = None   # … and in US dollars


@dataclass
class SmokeTest(_Strict):
    """The exported GGUF's first translation (engine/training/export.py)."""

    input: str
    output: str
    stopped: bool                  # ended by itself (end-of-turn), not by the token limit
    passed: bool                   # answered and stopped: the export is sound
    right_language: bool | None = None  # the output is in the target language
    tokens_out: int | None = None  # tokens generated (count)
    warnings: list[str] = field(default_factory=list)  # wrong language, length, …


@dataclass
class TrainSummary(_Strict):
    """How the training went (engine/training/loop.py's TrainResult, in short)."""

    steps: int                           # optimizer steps taken (count)
    best_val_loss: float | None = None   # lowest validation loss (nats)
    base_val_loss: float | None = None   # the base model's validation loss (nats)
    best_checkpoint: str | None = None   # its folder, where it trained


@dataclass
class CheckpointScore(_Strict):
    """One candidate checkpoint, measured by engine/training/choose.py (lower is better)."""

    path: str                            # the checkpoint's folder, where it trained
    step: int
    val_loss: float | None = None        # nats
    length_drift: float | None = None    # mean |log(output length / reference length)|
    number_drift: float | None = None    # share of outputs that lost a number (0–1)
    stop_rate: float | None = None       # share of outputs that ended by themselves (0–1)
    preference_accuracy: float | None = None  # a DPO run's held-out accuracy (0–1)
    score: float | None = None           # val_loss + 0.5·length + 0.5·number + (1 − stop)
                                         # (+ (1 − preference accuracy) for DPO)


@dataclass
class JobMeta(_Strict):
    """Everything a job keeps beyond its row's columns. Every field is optional: each
    kind of job fills its own.

    Training (local, remote):
      job_file            the TrainConfig file (engine/training/config.py), local path
      pairs, val_pairs    training and validation examples (count)
      held_out_documents  training documents held out for validation (count)
      source_lang, target_lang   the languages the model translates between (codes)
      prompt              "voice": its data has the short system prompt (prompts.VOICE_PROMPT);
                          None: a job from before it, trained with the instruction
      smoke_text          the paragraph the exported model translates as a smoke test
      quant               the GGUF quantisation asked for (auto, Q4_K_M, Q8_0, F16)
      processes           training processes on the box (None: one per GPU)
      engine              "mlx": trained with MLX (engine/training/mlx_lora/); None: torch
      memory_changes      what the memory check changed so the run fits, in words
      objective           "dpo": preference training (engine/training/dpo.py); None: SFT
      improves            a dpo job: the supervised job whose adapter it starts from (id)
      preferences, val_preferences   a dpo job's training and validation preferences (count)
      pid                 the process that runs a local job (this machine's process id)
      train               TrainSummary: steps, best and base validation loss (nats)
      checkpoint_scores   [CheckpointScore]: the candidates, best first
      exported_adapter    the adapter folder that was exported (path)
      gguf                the GGUF on this machine (path)
      smoke_test          SmokeTest
      remote              Box, when it runs on an SSH box
      cloud               Rental, when that box was rented for it
    OpenAI pilot (engine/pairs/pilot.py):
      train_file, validation_file, examples, validation_examples, tokens, model, epochs,
      estimated_cost_usd (US dollars), base_url, training_file_id, validation_file_id,
      trained_tokens (count)
    OpenAI batch (engine/pairs/synthesis_batch.py):
      config (the SynthConfig), custom_ids (the requests), input_file_id, base_url
    Tinker pilot (engine/training/tinker_pilot.py; also model, epochs, examples, tokens,
    estimated_cost_usd, base_url):
      tokenizer           the Hugging Face id or folder of the base (its tokenizer, the merge)
      losses              the training loss after each step (nats per answer token)
      tinker_model_id, sampler_path, external_path, state_path   Tinker's ids and tinker://
                          paths of the run, its sampler weights, downloadable weights, state
    Any kind:
      provider_status     the provider's own word for the state (OpenAI's status)
      error               why it failed, for people
    """

    job_file: str | None = None
    pairs: int | None = None
    val_pairs: int | None = None
    held_out_documents: int | None = None
    source_lang: str | None = None
    target_lang: str | None = None
    prompt: str | None = None
    smoke_text: str | None = None
    quant: str | None = None
    processes: int | None = None
    engine: str | None = None
    memory_changes: list[str] | None = None
    objective: str | None = None
    improves: int | None = None
    preferences: int | None = None
    val_preferences: int | None = None
    pid: int | None = None
    train: TrainSummary | None = None
    checkpoint_scores: list[CheckpointScore] | None = None
    exported_adapter: str | None = None
    gguf: str | None = None
    smoke_test: SmokeTest | None = None
    remote: Box | None = None
    cloud: Rental | None = None
    # the OpenAI pilot
    train_file: str | None = None
    validation_file: str | None = None
    examples: int | None = None
    validation_examples: int | None = None
    tokens: int | None = None
    model: str | None = None
    epochs: float | None = None
    estimated_cost_usd: float | None = None
    base_url: str | None = None
    training_file_id: str | None = None
    validation_file_id: str | None = None
    trained_tokens: int | None = None
    # the Tinker pilot
    tokenizer: str | None = None
    losses: list[float] | None = None
    tinker_model_id: str | None = None
    sampler_path: str | None = None
    external_path: str | None = None
    state_path: str | None = None
    # an OpenAI batch
    config: dict | None = None
    custom_ids: list[str] | None = None
    input_file_id: str | None = None
    # any kind
    provider_status: str | None = None
    error: str | None = None


    def with_outcome(self, outcome: dict) -> JobMeta:
        """These metadata with a training run's outcome (train_and_export's result, or the
        box's status.json) folded in: train, checkpoint_scores, exported_adapter."""
        return JobMeta.from_dict({**self.to_dict(), **{
            k: outcome[k] for k in ("train", "checkpoint_scores", "exported_adapter")
            if outcome.get(k) is not None}})


@dataclass
class BoxStatus(_Strict):
    """JOB_DIR/status.json on the box, as remote/runner.py writes it (atomically) and the app
    reads it. The runner spells the words out itself: its first part runs on any Python
    before the training environment exists.

    state             a JobState word: queued (no status yet), bootstrapping, training,
                      exporting, done, failed, cancelled
    pid               the runner's process id; updated_at  Unix time (s)
    detail            for people ("installing the training stack into …")
    resumed           this run continued from a checkpoint
    processes         training processes (one per GPU)
    steps             steps done when it was cancelled (count)
    reason            why it was cancelled ("cancelled", "the app's heartbeat stopped")
    error             why it failed
    train, checkpoint_scores, exported_adapter   the outcome (see JobMeta)
    export            the exported GGUF: gguf (path on the box), sha256, size_bytes, quant,
                      smoke_test, modelfile, model_card (engine/training/export.py)
    alive             not in the file: whether the runner process is alive, as the app saw it
    """

    state: str
    pid: int | None = None
    updated_at: float | None = None
    detail: str | None = None
    resumed: bool | None = None
    processes: int | None = None
    steps: int | None = None
    reason: str | None = None
    error: str | None = None
    train: dict | None = None
    checkpoint_scores: list | None = None
    exported_adapter: str | None = None
    export: dict | None = None
    alive: bool = False

    @property
    def job_state(self) -> JobState:
        return JobState(self.state) if self.state in JobState._value2member_map_ \
            else JobState.RUNNING

    def outcome(self) -> dict:
        """The finished run's outcome, as pipeline.finished takes it."""
        return {"train": self.train, "checkpoint_scores": self.checkpoint_scores,
                "exported_adapter": self.exported_adapter, "export": self.export}


_NESTED = {("JobMeta", "remote"): Box, ("JobMeta", "cloud"): Rental,
           ("JobMeta", "smoke_test"): SmokeTest, ("JobMeta", "train"): TrainSummary,
           ("JobMeta", "checkpoint_scores"): CheckpointScore}


@dataclass
class Job:
    """One row of the `jobs` table, typed."""

    id: int
    kind: JobKind
    status: JobState
    provider_id: str | None        # the provider's id for it (OpenAI's job or batch id)
    model: str | None              # the base model (training) or the provider's model
    result: str | None             # what it made: a registered model's name, or the
                                   # provider's fine-tuned model id
    meta: JobMeta
    created_at: str                # ISO 8601, UTC
    updated_at: str                # ISO 8601, UTC

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        return cls(id=row["id"], kind=JobKind(row["kind"]), status=JobState(row["status"]),
                   provider_id=row["provider_id"], model=row["model"], result=row["result"],
                   meta=JobMeta.from_dict(row["meta"] or {}), created_at=row["created_at"],
                   updated_at=row["updated_at"])

    @property
    def rented(self) -> bool:
        return self.meta.cloud is not None

    @property
    def where(self) -> str:
        """For people: "this machine", a box's name, or the provider."""
        if self.kind is JobKind.LOCAL:
            return "this machine"
        if self.kind is JobKind.MAC:
            return "this machine (MLX)"
        if self.meta.remote is not None:
            return self.meta.remote.host
        if self.meta.cloud is not None:
            return f"{self.meta.cloud.provider} {self.meta.cloud.instance_type}"
        if self.kind in (JobKind.TINKER, JobKind.TINKER_PILOT):
            return "Tinker"
        return "OpenAI" if self.kind in (JobKind.PILOT, JobKind.BATCH) else self.kind.value
