"""The training pipeline: pairs → job folder → LoRA training → checkpoint choice → export →
registered model.

`prepare` writes the job folder (datasets and job file) and the job's row;
`stages.train_and_export` is what runs on the machine that trains — in-process here (`run`,
slowly on a CPU but for real: the embedded Gemma 3 270M is the default base), or on a GPU
box by the remote runner (remote/runner.py); `finished` registers the model. Where a job runs
is a training target (engine/training/targets.py, remote/targets.py); this module is what
they share on this machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from engine import events, paths
from engine.errors import OwnVoiceError
from engine.jobs import Job, JobKind, JobMeta, JobState, SmokeTest
from engine.pairs import dataset, preferences
from engine.training.stages import Interrupted, train_and_export
from engine.translation import registry

EventSink = Callable[[events.Event], None]


def job_dir(job_id: int) -> Path:
    """The job's folder on this machine: job.json, datasets, run/ (checkpoints, progress),
    export/ (the GGUF)."""
    return paths.data_dir() / "jobs" / f"job-{job_id:04d}"


def cancel_file(job_id: int) -> Path:
    """Its presence asks a local run (in any process) to stop after the current step."""
    return job_dir(job_id) / "cancel"


def run_lock(job_id: int):
    """The lock a local run holds while it trains and exports (filelock: an OS lock, freed
    when the process ends however it ends)."""
    from filelock import FileLock

    folder = job_dir(job_id)
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(str(folder / "run.lock"))


def is_running(job_id: int) -> bool:
    """Whether some process on this machine is running the job now."""
    from filelock import Timeout

    lock = run_lock(job_id)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def settle(store, job: Job) -> Job:
    """A local job that says it is active but whose process is gone (killed, crashed, the
    machine restarted) is `interrupted`: `ownvoice train --resume N` continues it."""
    if job.kind.here and job.status.active and not is_running(job.id):
        return store.update_job(job.id, status=JobState.INTERRUPTED,
                                meta=job.meta.replace(pid=None))
    return job


def count_training_pairs(store) -> int:
    return len(store.training_pairs(split="train"))


def prepare(store, *, base_model: str | None = None, max_steps: int | None = None,
            epochs: float = 1.0, learning_rate: float = 2e-4, quant: str = "auto",
            kind: JobKind = JobKind.LOCAL, engine: str | None = None,
            settings: dict | None = None, memory_changes: list[str] | None = None) -> Job:
    """Write the datasets and the job file; returns the job (state `prepared`). `engine`:
    "mlx" to train with MLX (None: torch); `settings`: TrainConfig values that replace the
    defaults (the memory check's batch, checkpointing, layers); `memory_changes`: what that
    check changed, in words, kept in the job."""
    from engine.training.config import TrainConfig

    if base_model is None:
        base_model = registry.ensure_default(store)["path"]
    train_pairs, val_pairs, held_out = dataset.split_validation(
        store.training_pairs(split="train"), store.training_pairs(split="val"))
    if not train_pairs:
        raise OwnVoiceError("No training pairs yet: make some with `ownvoice synth` (or "
                            "correct a few translations).")
    job = store.add_job(kind=kind, status=JobState.PREPARING, provider_id=None,
                        model=base_model)
    folder = job_dir(job.id)
    folder.mkdir(parents=True, exist_ok=True)
    dataset.export(store, split="train", fmt="chat", out=folder / "train.jsonl",
                   pairs=train_pairs)
    if val_pairs:
        dataset.export(store, split="val", fmt="chat", out=folder / "val.jsonl",
                       pairs=val_pairs)
    config = TrainConfig(base_model=base_model, train_file=str(folder / "train.jsonl"),
                         val_file=str(folder / "val.jsonl") if val_pairs else None,
                         output_dir=str(folder / "run"), max_steps=max_steps, epochs=epochs,
                         learning_rate=learning_rate, num_workers=min(2, os.cpu_count() or 1),
                         **(settings or {}))
    config.save(folder / "job.json")
    meta = JobMeta(job_file=str(folder / "job.json"), pairs=len(train_pairs),
                   val_pairs=len(val_pairs), held_out_documents=held_out,
                   source_lang=train_pairs[0]["source_lang"],
                   target_lang=train_pairs[0]["target_lang"],
                   smoke_text=(val_pairs or train_pairs)[0]["source_text"][:400], quant=quant,
                   prompt=dataset.PROMPT, engine=engine, memory_changes=memory_changes or None)
    return store.update_job(job.id, status=JobState.PREPARED, meta=meta)


# Fewer preferences than this teach DPO nothing it can show on held-out judgments
# (benchmarks/RESULTS.md, "How many judgments"): the app asks for more instead.
MIN_PREFERENCES = 16


def improvable(store, job_id: int) -> Job:
    """The supervised job a preference run can start from: done on this machine, its adapter
    still there. Raises OwnVoiceError saying what is wrong."""
    job = store.job(job_id)
    if job is None:
        raise OwnVoiceError(f"No job {job_id} (see `ownvoice jobs`).")
    if job.meta.objective == "dpo":
        job = improvable(store, job.meta.improves) if job.meta.improves else job
    if job.status is not JobState.DONE or not job.meta.exported_adapter:
        raise OwnVoiceError(f"Job {job.id} has no finished fine-tune to improve "
                            f"({job.status.value}).")
    adapter = Path(job.meta.exported_adapter)
    if job.meta.engine == "mlx":
        raise OwnVoiceError(f"Job {job.id} was trained with MLX; preference training continues "
                            "a PyTorch adapter (a fine-tune made with --on local).")
    if not job.kind.here or not (adapter / "adapter_model.safetensors").is_file():
        raise OwnVoiceError(f"Job {job.id}'s adapter is not on this machine (it trained "
                            f"{job.where}): preference training starts from an adapter here.")
    return job


def preferences_needed(store) -> int:
    """How many more judgments preference training needs now (0: enough)."""
    return max(0, MIN_PREFERENCES - len(preferences.training(store, "train")))


DPO_EPOCHS, DPO_LEARNING_RATE = 3.0, 5e-5  # starting points for LoRA DPO, not tuned


def require_preferences(store) -> None:
    """Raises OwnVoiceError, saying how many more judgments to make, below MIN_PREFERENCES."""
    needed = preferences_needed(store)
    if needed:
        raise OwnVoiceError(f"Preference training needs {MIN_PREFERENCES} judgments; you have "
                            f"{MIN_PREFERENCES - needed}. Correct, rate or choose between "
                            f"{needed} more translation(s) first.")


def prepare_preferences(store, *, improves: int, max_steps: int | None = None,
                        epochs: float = DPO_EPOCHS, learning_rate: float = DPO_LEARNING_RATE,
                        quant: str = "auto", beta: float = 0.1) -> Job:
    """Write the preference datasets and a DPO job file that continues job `improves`'s
    adapter (the writer's judgments, engine/pairs/preferences.py); returns the job (state
    `prepared`). Raises OwnVoiceError with the number of judgments still needed when there
    are too few."""
    from engine.training.config import TrainConfig

    supervised = improvable(store, improves)
    require_preferences(store)
    train, val = preferences.split_validation(preferences.training(store, "train"),
                                              preferences.training(store, "val"))
    start = TrainConfig.load(supervised.meta.job_file)
    job = store.add_job(kind=JobKind.LOCAL, status=JobState.PREPARING, provider_id=None,
                        model=start.base_model)
    folder = job_dir(job.id)
    folder.mkdir(parents=True, exist_ok=True)
    preferences.export(store, split="train", out=folder / "train.jsonl", preferences=train)
    if val:
        preferences.export(store, split="val", out=folder / "val.jsonl", preferences=val)
    config = TrainConfig(
        base_model=start.base_model, train_file=str(folder / "train.jsonl"),
        val_file=str(folder / "val.jsonl") if val else None, output_dir=str(folder / "run"),
        objective="dpo", init_adapter=supervised.meta.exported_adapter, dpo_beta=beta,
        max_steps=max_steps, epochs=epochs, learning_rate=learning_rate,
        chat_template=start.chat_template, target_modules=start.target_modules,
        lora_r=start.lora_r, lora_alpha=start.lora_alpha, lora_dropout=0.0,
        lora_layers=start.lora_layers, max_length=start.max_length, dtype=start.dtype,
        attention=start.attention, gradient_checkpointing=start.gradient_checkpointing,
        # A preference is two rows (chosen, rejected): half the examples per pass, twice
        # the passes per update, as much memory as the supervised run needed.
        batch_size=max(1, start.batch_size // 2),
        grad_accum=start.grad_accum * (2 if start.batch_size > 1 else 1),
        num_workers=min(2, os.cpu_count() or 1))
    config.save(folder / "job.json")
    meta = JobMeta(job_file=str(folder / "job.json"), objective="dpo", improves=supervised.id,
                   preferences=len(train), val_preferences=len(val),
                   source_lang=supervised.meta.source_lang,
                   target_lang=supervised.meta.target_lang,
                   smoke_text=supervised.meta.smoke_text, quant=quant,
                   prompt=supervised.meta.prompt)
    return store.update_job(job.id, status=JobState.PREPARED, meta=meta)


def register(store, job: Job, *, gguf: str, sha256: str, base_model: str) -> dict:
    """The exported GGUF as model `voice-<job>`, linked to its job; returns the model row."""
    name = f"voice-{job.id}"
    return store.model(name) or registry.add(
        store, gguf, name=name, base_model=base_model, source_lang=job.meta.source_lang,
        target_lang=job.meta.target_lang, origin="fine-tuned", job_id=job.id, sha256=sha256,
        prompt=job.meta.prompt)


def mark_verification(store, row: dict, smoke: dict) -> dict:
    """A model whose smoke test failed stays registered, marked unverified (meta
    `unverified`: why, and what to try) and never made active by OwnVoice."""
    from engine.training.export import unverified_reason

    store.update_model_meta(row["id"], unverified=unverified_reason(smoke))
    return store.model(row["id"])


def finished(store, job: Job, outcome: dict, *, gguf: str, base_model: str) -> dict:
    """Register the exported model and mark the job done with its summary; returns the
    model row. `outcome` is train_and_export's (or the box's status.json) result."""
    exported = outcome["export"]
    row = register(store, job, gguf=gguf, sha256=exported["sha256"], base_model=base_model)
    row = mark_verification(store, row, exported["smoke_test"])
    job = store.job(job.id)
    meta = job.meta.with_outcome(outcome).replace(
        gguf=gguf, smoke_test=SmokeTest.from_dict(exported["smoke_test"]))
    store.update_job(job.id, status=JobState.DONE, result=row["name"], meta=meta)
    return row


def framework_of(job: Job):
    """The training framework a job trains with: MLX's for `engine: mlx` (MacTarget's jobs),
    else None (stages' default, PyTorch)."""
    if job.meta.engine == "mlx":
        from engine.training.mlx_process import framework

        return framework()
    return None


def advance(store, job: Job, state: JobState, on_event: EventSink | None = None, *,
            detail: str = "", **meta_changes) -> Job:
    """Move the job to `state` (with metadata changes) and tell the follower."""
    job = store.update_job(job.id, status=state, meta=job.meta.replace(**meta_changes)
                           if meta_changes else None)
    if on_event is not None:
        on_event(events.Stage(stage=state.value, job=job.id, detail=detail))
    return job


def run(store, job: Job, *, resume: bool = False, quant: str | None = None,
        checkpoint_step: int | None = None, on_event: EventSink | None = None,
        cancelled: Callable[[], bool] | None = None) -> dict:
    """Train here, choose a checkpoint, export and register; returns the new model's row.
    Holds the job's run lock meanwhile (one run per job). Stops after the current step when
    `cancelled()` says so or when the job's cancel file appears (`ownvoice jobs cancel N`
    from another process); the job is then `cancelled` and `ownvoice train --resume N`
    continues it from its last checkpoint. Any other failure marks it `failed` with why."""
    if job.meta.job_file is None:
        raise OwnVoiceError(f"Job {job.id} was never completely prepared; start a new one "
                            "with `ownvoice train --on local`.")
    lock = run_lock(job.id)
    from filelock import Timeout

    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise OwnVoiceError(f"Job {job.id} is already running on this machine; follow it "
                            f"with `ownvoice jobs attach {job.id}`.") from None
    try:
        return _run_locked(store, job, resume=resume, quant=quant,
                           checkpoint_step=checkpoint_step, on_event=on_event,
                           cancelled=cancelled)
    finally:
        lock.release()


def _run_locked(store, job: Job, *, resume: bool, quant: str | None,
                checkpoint_step: int | None, on_event: EventSink | None,
                cancelled: Callable[[], bool] | None) -> dict:
    from engine.training.checkpoint import complete
    from engine.training.config import TrainConfig

    config = TrainConfig.load(job.meta.job_file)
    quant = quant or job.meta.quant or "auto"
    cancel_file(job.id).unlink(missing_ok=True)

    def stop() -> bool:
        return bool(cancelled and cancelled()) or cancel_file(job.id).exists()

    job = advance(store, job, JobState.TRAINING, on_event, pid=os.getpid())

    def stage(state: JobState, details: dict) -> None:
        current = store.job(job.id)
        store.update_job(job.id, status=state, meta=current.meta.with_outcome(details))
        if on_event is not None:
            on_event(events.Stage(stage=state.value, job=job.id, detail="choosing a "
                                  "checkpoint, merging, converting to GGUF, quantising"))

    try:
        outcome = train_and_export(config, job.meta, folder=job_dir(job.id),
                                   name=f"voice-{job.id}", quant=quant,
                                   framework=framework_of(job),
                                   checkpoint_step=checkpoint_step, resume=resume,
                                   on_event=on_event, cancelled=stop, on_stage=stage)
    except Interrupted as exc:
        advance(store, store.job(job.id), JobState.CANCELLED, on_event, pid=None)
        raise OwnVoiceError(f"Training stopped at step {exc.steps}; continue it with "
                            f"`ownvoice train --resume {job.id}`.") from exc
    except KeyboardInterrupt:
        store.update_job(job.id, status=JobState.INTERRUPTED,
                         meta=store.job(job.id).meta.replace(pid=None))
        raise
    except Exception as exc:  # out of memory, a broken base, a bug: the job says why
        why = str(exc) if isinstance(exc, OwnVoiceError) else f"{type(exc).__name__}: {exc}"
        saved = complete(Path(config.output_dir))
        if saved and isinstance(exc, OwnVoiceError) and "--resume" not in why:
            step = int(saved[-1].name.removeprefix("step-"))
            why = (f"{why.rstrip('.')}. Its checkpoint at step {step} is kept: `ownvoice "
                   f"train --resume {job.id}` continues from there.")
        store.update_job(job.id, status=JobState.FAILED,
                         meta=store.job(job.id).meta.replace(error=why, pid=None))
        if why != str(exc):
            raise OwnVoiceError(why) from exc
        raise
    finally:
        cancel_file(job.id).unlink(missing_ok=True)
    row = finished(store, store.job(job.id), outcome, gguf=outcome["export"]["gguf"],
                   base_model=config.base_model)
    if on_event is not None:
        on_event(events.Stage(stage=JobState.DONE.value, job=job.id,
                              detail=f"registered {row['name']}"))
    return row
