"""Fine-tuning: pairs → dataset → LoRA training → checkpoint choice → export → registered model.

`prepare` writes the job folder (datasets and job file); `train_and_export` is what runs
on the training machine — in-process here (`run`, slowly on a CPU but for real: the
embedded Gemma 3 270M is the default base), or on a GPU box by the remote runner.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from . import dataset, models, paths
from .errors import OwnVoiceError


def job_dir(job_id: int) -> Path:
    return paths.data_dir() / "jobs" / f"job-{job_id:04d}"


def prepare(store, *, base_model: str | None = None, max_steps: int | None = None,
            epochs: float = 1.0, learning_rate: float = 2e-4, kind: str = "local") -> dict:
    """Write the dataset and the job file; returns the job row."""
    from .training.config import TrainConfig

    if base_model is None:
        base_model = models.ensure_default(store)["path"]
    train_pairs, val_pairs, held_out = split_validation(store.training_pairs(split="train"),
                                                        store.training_pairs(split="val"))
    if not train_pairs:
        raise OwnVoiceError("No training pairs yet: make some with `ownvoice synth` (or "
                            "correct a few translations).")
    job = store.add_job(kind=kind, status="preparing", provider_id=None, model=base_model,
                        meta={})
    folder = job_dir(job["id"])
    folder.mkdir(parents=True, exist_ok=True)
    dataset.export(store, split="train", fmt="chat", out=folder / "train.jsonl",
                   pairs=train_pairs)
    if val_pairs:
        dataset.export(store, split="val", fmt="chat", out=folder / "val.jsonl",
                       pairs=val_pairs)
    config = TrainConfig(base_model=base_model, train_file=str(folder / "train.jsonl"),
                         val_file=str(folder / "val.jsonl") if val_pairs else None,
                         output_dir=str(folder / "run"), max_steps=max_steps, epochs=epochs,
                         learning_rate=learning_rate, num_workers=min(2, os.cpu_count() or 1))
    config.save(folder / "job.json")
    languages = (train_pairs[0]["source_lang"], train_pairs[0]["target_lang"])
    smoke = (val_pairs or train_pairs)[0]["source_text"][:400]
    store.update_job(job["id"], status="prepared",
                     meta={"job_file": str(folder / "job.json"), "pairs": len(train_pairs),
                           "val_pairs": len(val_pairs), "held_out_documents": held_out,
                           "source_lang": languages[0], "target_lang": languages[1],
                           "smoke_text": smoke})
    return store.job(job["id"])


def split_validation(train: list[dict], val: list[dict]) -> tuple[list, list, int]:
    """(train, validation, documents held out). A small corpus often has no validation
    document (they are 5 % of documents): then about a tenth of the training documents,
    at least one, are held out whole, chosen by a hash so the choice never moves.
    Without validation there is no early stopping and no proof the model got better."""
    if val:
        return train, val, 0
    documents = sorted({p["document_id"] for p in train if p["document_id"] is not None},
                       key=lambda d: hashlib.sha256(str(d).encode()).hexdigest())
    if len(documents) < 2:
        return train, [], 0
    held = set(documents[:max(1, len(documents) // 10)])
    return ([p for p in train if p["document_id"] not in held],
            [p for p in train if p["document_id"] in held], len(held))


def train_and_export(config, meta: dict, *, folder: Path, name: str, quant: str = "auto",
                     checkpoint_step: int | None = None, resume: bool = False,
                     on_progress: Callable[[dict], None] | None = None,
                     cancelled: Callable[[], bool] | None = None,
                     on_stage: Callable[[str, dict], None] | None = None,
                     trainer: Callable | None = None) -> dict:
    """Train, choose a checkpoint, export; returns what happened (train, scores, export).
    `on_stage(stage, details)` hears "exporting" before the export starts. `trainer(config,
    resume)` replaces the in-process training (the remote runner's several-GPU launch)."""
    from dataclasses import asdict

    from .export import export
    from .training import choose
    from .training.loop import train

    result = trainer(config, resume) if trainer is not None else train(
        config, resume=resume, cancelled=cancelled, on_progress=on_progress)
    if cancelled is not None and cancelled():
        raise Interrupted(result.steps)
    scores = choose.score(config) if config.val_file else []
    adapter_dir = result.adapter_dir
    if checkpoint_step is not None:
        chosen = Path(config.output_dir) / "checkpoints" / f"step-{checkpoint_step:06d}"
        if not chosen.exists():
            raise OwnVoiceError(f"There is no checkpoint at step {checkpoint_step}.")
        adapter_dir = str(chosen / "adapter")
    elif scores:
        adapter_dir = str(Path(scores[0]["path"]) / "adapter")
    summary = {"train": {"steps": result.steps, "best_val_loss": result.best_val_loss,
                         "base_val_loss": result.base_val_loss,
                         "best_checkpoint": result.best_checkpoint},
               "checkpoint_scores": scores, "exported_adapter": adapter_dir}
    if on_stage is not None:
        on_stage("exporting", summary)
    exported = export(base_model=config.base_model, adapter_dir=adapter_dir,
                      out_dir=folder / "export", quant=quant, name=name,
                      smoke_text=meta["smoke_text"], source=meta["source_lang"],
                      target=meta["target_lang"],
                      card={"pairs": meta["pairs"], "steps": result.steps,
                            "best_val_loss": result.best_val_loss,
                            "base_val_loss": result.base_val_loss,
                            "config": str(folder / "job.json")})
    return {**summary, "export": asdict(exported)}


class Interrupted(OwnVoiceError):
    def __init__(self, steps: int):
        self.steps = steps
        super().__init__(f"Training stopped at step {steps}.")


def register(store, job: dict, *, gguf: str, sha256: str, base_model: str) -> dict:
    """The exported GGUF as model `voice-<job>`, linked to its job."""
    meta = job["meta"]
    name = f"voice-{job['id']}"
    return store.model(name) or models.add(
        store, gguf, name=name, base_model=base_model, source_lang=meta["source_lang"],
        target_lang=meta["target_lang"], origin="fine-tuned", job_id=job["id"], sha256=sha256)


def run(store, job: dict, *, resume: bool = False, quant: str = "auto",
        checkpoint_step: int | None = None,
        on_progress: Callable[[dict], None] | None = None,
        cancelled: Callable[[], bool] | None = None) -> dict:
    """Train here, choose a checkpoint, export and register; returns the new model's row."""
    from .training.config import TrainConfig

    meta = job["meta"]
    config = TrainConfig.load(meta["job_file"])
    store.update_job(job["id"], status="training", meta=meta)

    def stage(name: str, details: dict) -> None:
        store.update_job(job["id"], status=name, meta={**meta, **details})

    try:
        outcome = train_and_export(config, meta, folder=job_dir(job["id"]),
                                   name=f"voice-{job['id']}", quant=quant,
                                   checkpoint_step=checkpoint_step, resume=resume,
                                   on_progress=on_progress, cancelled=cancelled,
                                   on_stage=stage)
    except Interrupted as exc:
        store.update_job(job["id"], status="interrupted", meta=meta)
        raise OwnVoiceError(f"Training stopped at step {exc.steps}; continue it with "
                            f"`ownvoice train --local --resume {job['id']}`.") from exc
    exported = outcome["export"]
    row = register(store, job, gguf=exported["gguf"], sha256=exported["sha256"],
                   base_model=config.base_model)
    store.update_job(job["id"], status="done", result=row["name"],
                     meta={**meta, **{k: v for k, v in outcome.items() if k != "export"},
                           "gguf": exported["gguf"], "smoke_test": exported["smoke_test"]})
    return row
