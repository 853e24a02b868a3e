"""Which merge an adapter folder needs — peft's for a PyTorch adapter, MLX's fuse for an MLX
one — for `ownvoice export` on this machine. App-side: a GPU box never imports this (its
export is peft's alone, and MLX is not on its requirement list)."""

from __future__ import annotations

from pathlib import Path

from engine.errors import OwnVoiceError


def merge_for(adapter_dir: str | Path):
    """The merge that fits an adapter folder, told by its files: export.merge (peft) for a
    torch adapter (adapter_model.safetensors), MLX's fuse for an MLX one
    (adapters.safetensors, mlx-lm's name; in a child process, mlx_process.merge). Raises
    OwnVoiceError for a folder that is neither, or an MLX adapter where MLX is not
    installed."""
    from engine.training import export, mlx_lora

    folder = Path(adapter_dir).expanduser()
    if (folder / "adapter_model.safetensors").is_file():
        return export.merge
    if (folder / "adapters.safetensors").is_file():
        if not mlx_lora.available():
            raise OwnVoiceError(f"{folder} is an MLX adapter; fusing it needs MLX (a Mac with "
                                "`pip install 'ownvoice[train,mlx]'`).")
        from engine.training import mlx_process

        return mlx_process.merge
    raise OwnVoiceError(f"{folder} is not a LoRA adapter folder (no adapter_model.safetensors "
                        "or adapters.safetensors): give a run's adapter/ or one of its "
                        "checkpoints/step-N/adapter folders.")
