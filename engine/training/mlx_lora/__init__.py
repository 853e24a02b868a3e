"""LoRA training with MLX: a Mac trains its own voice model, no GPU to rent.

    from engine.training.mlx_lora.loop import train     # train(TrainConfig, resume=…)
    from engine.training.mlx_lora.fuse import fuse      # adapter → dequantised HF folder

loop.py (the run: the torch trainer's data, rhythm, progress and checkpoint layout),
model.py (loading a base, full precision or quantised; LoRA; adapter folders), rows.py (the
end-of-turn rows that learn), loss.py (the weighted loss), optim.py (AdamW and its
schedule), checkpoint.py (exact resume), fuse.py (→ a folder llama.cpp's converter reads).

Every module here imports `mlx` at the top: import this package lazily, where MLX training
is asked for (`available()` says whether it can be, and imports nothing).
"""

from __future__ import annotations


def available() -> bool:
    """Whether `mlx` and `mlx_lm` are installed (Apple silicon, or `mlx[cpu]` elsewhere)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("mlx", "mlx_lm"))


def framework():
    """MLX's training framework for stages.train_and_export: this package's loop, checkpoint
    choice and fuse (imports MLX)."""
    from engine.training.mlx_lora.choose import score
    from engine.training.mlx_lora.fuse import fuse
    from engine.training.mlx_lora.loop import train
    from engine.training.stages import Framework

    return Framework("mlx", train, score, fuse)
