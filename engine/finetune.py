"""Fine-tune on this machine: pairs → dataset → LoRA training → export → registered model.

The same steps the remote runner takes on a GPU box; here they run in-process, slowly on a
CPU but for real (the embedded Gemma 3 270M is the default base).
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
            epochs: float = 1.0, learning_rate: float = 2e-4) -> dict:
    """Write the dataset and the job file; returns the job row."""
    from .training.config import TrainConfig

    if base_model is None:
        base_model = models.ensure_default(store)["path"]
    train_pairs, val_pairs, held_out = split_validation(store.training_pairs(split="train"),
                                                        store.training_pairs(split="val"))
    if not train_pairs:
        raise OwnVoiceError("No training pairs yet: make some with `ownvoice synth` (or "
                            "correct a few translations).")
    job = store.add_job(kind="local", status="preparing", provider_id=None, model=base_model,
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


def run(store, job: dict, *, resume: bool = False, quant: str = "auto",
        checkpoint_step: int | None = None,
        on_progress: Callable[[dict], None] | None = None,
        cancelled: Callable[[], bool] | None = None) -> dict:
    """Train, choose a checkpoint, export and register; returns the new model's row."""
    from .export import export
    from .training import choose
    from .training.config import TrainConfig
    from .training.loop import train

    meta = job["meta"]
    config = TrainConfig.load(meta["job_file"])
    store.update_job(job["id"], status="training", meta=meta)
    result = train(config, resume=resume, cancelled=cancelled, on_progress=on_progress)
    if cancelled is not None and cancelled():
        store.update_job(job["id"], status="interrupted", meta=meta)
        raise OwnVoiceError(f"Training stopped at step {result.steps}; continue it with "
                            f"`ownvoice train --local --resume {job['id']}`.")
    scores = choose.score(config) if config.val_file else []
    adapter_dir = result.adapter_dir
    if checkpoint_step is not None:
        chosen = Path(config.output_dir) / "checkpoints" / f"step-{checkpoint_step:06d}"
        if not chosen.exists():
            raise OwnVoiceError(f"Job {job['id']} has no checkpoint at step {checkpoint_step}.")
        adapter_dir = str(chosen / "adapter")
    elif scores:
        adapter_dir = str(Path(scores[0]["path"]) / "adapter")
    store.update_job(job["id"], status="exporting", meta={**meta, "train": {
        "steps": result.steps, "best_val_loss": result.best_val_loss,
        "base_val_loss": result.base_val_loss,
        "best_checkpoint": result.best_checkpoint}, "checkpoint_scores": scores,
        "exported_adapter": adapter_dir})
    folder = job_dir(job["id"])
    exported = export(base_model=config.base_model, adapter_dir=adapter_dir,
                      out_dir=folder / "export", quant=quant, name=f"voice-{job['id']}",
                      smoke_text=meta["smoke_text"], source=meta["source_lang"],
                      target=meta["target_lang"],
                      card={"pairs": meta["pairs"], "steps": result.steps,
                            "best_val_loss": result.best_val_loss,
                            "config": str(folder / "job.json")})
    name = f"voice-{job['id']}"
    row = store.model(name) or models.add(
        store, exported.gguf, name=name, base_model=config.base_model,
        source_lang=meta["source_lang"], target_lang=meta["target_lang"], origin="fine-tuned",
        job_id=job["id"], sha256=exported.sha256)
    store.update_job(job["id"], status="done", result=name,
                     meta={**store.job(job["id"])["meta"], "gguf": exported.gguf,
                           "smoke_test": exported.smoke_test})
    return row
