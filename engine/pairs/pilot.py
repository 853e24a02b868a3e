"""The opportunity-sizing pilot: fine-tune an OpenAI model on a few dozen pairs (about $3
for 50) to see whether your voice is worth a real fine-tune before renting a GPU.

prepare (pick pairs, write and check the files, estimate the cost) → start (upload, create
the job) → refresh (status, events, checkpoints with their losses) → use (register the
fine-tuned model so it can translate and be compared).

The job row keeps OwnVoice's state (`JobState`: queued, training, done, …); OpenAI's own
word (validating_files, running, succeeded, …) is kept in `JobMeta.provider_status`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from engine import files, jsonl, llm, openai_models, paths
from engine.errors import OwnVoiceError
from engine.jobs import Job, JobKind, JobMeta, JobState
from engine.pairs import dataset
from engine.translation import registry

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"
# OpenAI is closing self-serve fine-tuning (its deprecations page): since 2026-05-07 an
# organisation that never fine-tuned cannot create a job, since 2026-07-02 neither can one
# without fine-tuned inference in the last 60 days, and from this day nobody can.
OPENAI_FINE_TUNING_ENDS = date(2027, 1, 6)
CLOSED = ("OpenAI no longer lets this organisation start fine-tuning jobs (self-serve "
          "fine-tuning is closing: new organisations since 2026-05-07, inactive ones since "
          "2026-07-02, everyone on 2027-01-06). Train on this machine or a rented box "
          "instead (`ownvoice train`).")


@dataclass
class PilotPlan:
    train_file: str
    validation_file: str | None
    examples: int
    validation_examples: int
    tokens: int
    model: str
    epochs: int
    estimated_cost_usd: float


def pick(pairs: list[dict], count: int, seed: int) -> list[dict]:
    """Corrections first (the user's own voice), then pairs spread over many documents."""
    rng = random.Random(seed)
    corrections = [p for p in pairs if p["origin"] == "correction"]
    by_document: dict = defaultdict(list)
    for pair in pairs:
        if pair["origin"] != "correction":
            by_document[pair["document_id"]].append(pair)
    documents = list(by_document.values())
    rng.shuffle(documents)
    for group in documents:
        rng.shuffle(group)
    picked = corrections[:count]
    while len(picked) < count and any(documents):
        for group in documents:
            if group and len(picked) < count:
                picked.append(group.pop())
    return picked


def _write(pairs: list[dict], path: Path) -> int:
    tokens = 0
    with files.atomic_write(path) as f:  # whole or not at all; a full disk is one line
        for pair in pairs:
            messages = dataset.messages_for(pair)
            f.write(jsonl.line({"messages": messages}) + "\n")
            tokens += sum(llm.estimate_tokens(m["content"]) for m in messages)
    return tokens


def prepare(store, *, pairs: int = 50, model: str = DEFAULT_MODEL, epochs: int = 3,
            seed: int = 0, base_url: str | None = None, today: date | None = None) -> PilotPlan:
    """Pick the pairs, write and check the files, estimate the cost (nothing is sent).
    OpenAI's own API (`base_url` None) refuses new jobs from OPENAI_FINE_TUNING_ENDS on: so
    does this, before any work; another server with OpenAI's API answers for itself."""
    if openai_models.is_openai(base_url) and (today or date.today()) >= OPENAI_FINE_TUNING_ENDS:
        raise OwnVoiceError(CLOSED)
    folder = paths.data_dir() / "pilot"
    folder.mkdir(exist_ok=True)
    train = pick(store.training_pairs(split="train"), pairs, seed)
    if len(train) < dataset.OPENAI_MIN_EXAMPLES:
        raise OwnVoiceError(f"Only {len(train)} training pair(s): OpenAI needs at least "
                            f"{dataset.OPENAI_MIN_EXAMPLES}. Make more with `ownvoice synth`.")
    train_path = folder / "train.jsonl"
    tokens = _write(train, train_path)
    validation = pick(store.training_pairs(split="val"), min(20, pairs), seed)
    validation_path = folder / "validation.jsonl" if validation else None
    if validation_path:
        _write(validation, validation_path)
    for path, minimum in ((train_path, dataset.OPENAI_MIN_EXAMPLES), (validation_path, 1)):
        if path is not None:
            problems = dataset.validate_openai(path, min_examples=minimum)
            if problems:
                raise OwnVoiceError(f"{path.name} would be refused by OpenAI: "
                                    + "; ".join(problems[:5]))
    price = (llm.price_for(model) or {}).get("training", 0.0)
    return PilotPlan(train_file=str(train_path),
                     validation_file=str(validation_path) if validation_path else None,
                     examples=len(train), validation_examples=len(validation), tokens=tokens,
                     model=model, epochs=epochs,
                     estimated_cost_usd=round(tokens * epochs * price / 1e6, 4))


def _client(base_url: str | None):
    return llm.make_openai_client(base_url, llm.key_for(base_url, None), max_retries=3)


def start(store, plan: PilotPlan, *, base_url: str | None = None,
          suffix: str = "ownvoice") -> Job:
    client = _client(base_url)
    try:
        with open(plan.train_file, "rb") as f:
            training = client.files.create(file=f, purpose="fine-tune")
        validation = None
        if plan.validation_file:
            with open(plan.validation_file, "rb") as f:
                validation = client.files.create(file=f, purpose="fine-tune")
        job = client.fine_tuning.jobs.create(
            model=plan.model, training_file=training.id,
            validation_file=validation.id if validation else None, suffix=suffix,
            method={"type": "supervised",
                    "supervised": {"hyperparameters": {"n_epochs": plan.epochs}}})
    except Exception as exc:
        import openai

        if isinstance(exc, openai.PermissionDeniedError):
            raise OwnVoiceError(f"{CLOSED} (OpenAI answered: {exc.message})") from exc
        if isinstance(exc, openai.OpenAIError):
            raise llm.explain(exc, base_url or llm.OPENAI_BASE_URL) from exc
        raise
    meta = JobMeta(**asdict(plan), base_url=base_url, training_file_id=training.id,
                   validation_file_id=validation.id if validation else None,
                   provider_status=job.status, prompt=dataset.PROMPT)
    return store.add_job(kind=JobKind.PILOT, status=JobState.of_openai_fine_tuning(job.status),
                         provider_id=job.id, model=plan.model, meta=meta)


def status_text(status: JobState | str, provider_status: str | None) -> str:
    """For people: OwnVoice's word for the state, with OpenAI's where it differs, e.g.
    "training (OpenAI: running)"."""
    status = JobState(status)
    if provider_status and provider_status != status.value:
        return f"{status.value} (OpenAI: {provider_status})"
    return status.value


def refresh(store, job: Job) -> dict:
    """The job's state from OpenAI, saved; with its events and checkpoints. "status" is
    OwnVoice's word (a `JobState`), "provider_status" OpenAI's."""
    base_url = job.meta.base_url
    client = _client(base_url)
    try:
        remote = client.fine_tuning.jobs.retrieve(job.provider_id)
        events = list(client.fine_tuning.jobs.list_events(job.provider_id, limit=100))
        checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job.provider_id))
    except Exception as exc:
        import openai

        if isinstance(exc, openai.OpenAIError):
            raise llm.explain(exc, base_url or llm.OPENAI_BASE_URL) from exc
        raise
    error = remote.error.message if getattr(remote, "error", None) and remote.error.message \
        else None
    state = JobState.of_openai_fine_tuning(remote.status)
    store.update_job(job.id, status=state, result=remote.fine_tuned_model,
                     meta=job.meta.replace(trained_tokens=remote.trained_tokens, error=error,
                                           provider_status=remote.status))
    return {
        "id": job.id, "provider_id": remote.id, "status": state,
        "provider_status": remote.status,
        "fine_tuned_model": remote.fine_tuned_model, "trained_tokens": remote.trained_tokens,
        "error": error,
        "events": [{"at": _when(e.created_at), "level": e.level, "message": e.message}
                   # The API lists newest first; oldest first reads better (ties keep order).
                   for e in sorted(reversed(events), key=lambda e: e.created_at)],
        "checkpoints": [{"step": c.step_number, "model": c.fine_tuned_model_checkpoint,
                         "train_loss": c.metrics.train_loss, "valid_loss": c.metrics.valid_loss}
                        for c in sorted(checkpoints, key=lambda c: c.step_number)],
    }


def use(store, job: Job, *, checkpoint_model: str | None = None) -> dict:
    """Register the fine-tuned model (or one of its checkpoints) so it can translate."""
    model_id = checkpoint_model or job.result
    if not model_id:
        raise OwnVoiceError(f"Pilot job {job.id} has no fine-tuned model yet (status: "
                            f"{status_text(job.status, job.meta.provider_status)}). Check "
                            "again with `ownvoice pilot status`.")
    name = f"pilot-{job.id}" + ("" if checkpoint_model is None else "-checkpoint")
    existing = store.model(name)
    if existing is not None:
        return existing
    row = registry.add(store, f"openai:{model_id}", name=name, base_model=job.model,
                     origin="openai-fine-tuned", job_id=job.id, base_url=job.meta.base_url,
                     source_lang=None, target_lang=None, prompt=job.meta.prompt)
    return row


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
