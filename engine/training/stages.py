"""The stages that run on the machine that trains: LoRA training → checkpoint choice →
export (merge, GGUF, quantise, smoke test).

This is the box's whole code path (remote/runner.py calls it inside the box's training
environment), so it imports nothing that only the app needs: what it imports decides the
requirement list sent to a box (remote/jobs.py `requirements`, checked by
tests/test_box_requirements.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine import events
from engine.errors import OwnVoiceError
from engine.jobs import JobMeta, JobState

EventSink = Callable[[events.Event], None]

# What the machine that trains needs from outside the standard library: the distribution →
# the module it provides. It is this code path's imports (remote.runner → this module →
# training, choice, export, smoke test) plus what runs without a direct import:
# sentencepiece (tokenizers) and gguf (the GGUF converter). A box gets exactly these
# installed, at the versions pyproject.toml names (remote/jobs.py `requirements`);
# tests/test_box_requirements.py walks the imports and checks nothing is missing.
REQUIRED = {"torch": "torch", "transformers": "transformers", "peft": "peft",
            "accelerate": "accelerate", "safetensors": "safetensors",
            "sentencepiece": "sentencepiece", "gguf": "gguf", "llama-cpp-python": "llama_cpp",
            "py3langid": "py3langid", "markdown-it-py": "markdown_it", "PyYAML": "yaml",
            "mdit-py-plugins": "mdit_py_plugins", "hanzidentifier": "hanzidentifier",
            "Jinja2": "jinja2", "numpy": "numpy"}


def train_and_export(config, meta: JobMeta, *, folder: Path, name: str, quant: str = "auto",
                     checkpoint_step: int | None = None, resume: bool = False,
                     on_event: EventSink | None = None,
                     cancelled: Callable[[], bool] | None = None,
                     on_stage: Callable[[JobState, dict], None] | None = None,
                     trainer: Callable | None = None,
                     framework: Framework | None = None) -> dict:
    """Train, choose a checkpoint, export; returns what happened as JSON-ready values:
    {"train": {steps, best_val_loss, base_val_loss, best_checkpoint}, "checkpoint_scores":
    [...], "exported_adapter": path, "export": ExportResult as a dict}.
    `on_stage(JobState.EXPORTING, summary)` is heard before the export starts.
    `trainer(config, resume)` replaces the in-process training (the remote runner's
    several-GPU launch). `framework`: torch's (the default) or MLX's
    (engine.training.mlx_process.framework(): its loop, checkpoint choice and fuse, each in
    a child process); the export
    after the merge is the same. Raises Interrupted when `cancelled()` stopped the
    training."""
    from dataclasses import asdict

    from engine.training.export import export
    from engine.translation import prompts

    framework = framework or torch_framework()
    train, score, merge = framework.train, framework.score, framework.merge

    result = trainer(config, resume) if trainer is not None else train(
        config, resume=resume, cancelled=cancelled, on_progress=on_event)
    if cancelled is not None and cancelled():
        raise Interrupted(result.steps)
    scores = score(config) if config.val_file else []
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
        on_stage(JobState.EXPORTING, summary)
    exported = export(base_model=config.base_model, adapter_dir=adapter_dir,
                      out_dir=folder / "export", quant=quant, name=name,
                      smoke_text=meta.smoke_text, source=meta.source_lang,
                      target=meta.target_lang, voice=meta.prompt == prompts.VOICE,
                      merge=merge,
                      card={"pairs": meta.pairs, "steps": result.steps, "engine": framework.name,
                            "memory_changes": meta.memory_changes or [],
                            "best_val_loss": result.best_val_loss,
                            "base_val_loss": result.base_val_loss,
                            "config": str(folder / "job.json")})
    return {**summary, "export": asdict(exported)}


@dataclass(frozen=True)
class Framework:
    """What trains, chooses and merges for one training framework: `train(config, resume=,
    cancelled=, on_progress=)` → TrainResult, `score(config)` → the checkpoints measured,
    best first, `merge(base, adapter_dir, out_dir)` → (HF folder, parameters)."""

    name: str
    train: Callable
    score: Callable
    merge: Callable


def torch_framework() -> Framework:
    """PyTorch: engine/training/loop.py, choose.py, and peft's merge (export.merge). (MLX's
    is engine.training.mlx_process.framework(): never on a box's code path.)"""
    from engine.training.choose import score
    from engine.training.export import merge
    from engine.training.loop import train

    return Framework("torch", train, score, merge)


class Interrupted(OwnVoiceError):
    def __init__(self, steps: int):
        self.steps = steps
        super().__init__(f"Training stopped at step {steps}.")
