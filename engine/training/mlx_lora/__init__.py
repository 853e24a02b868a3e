"""LoRA training with MLX: a Mac trains its own voice model, no GPU to rent.

    from engine.training.mlx_lora.loop import train     # train(TrainConfig, resume=…)
    from engine.training.mlx_lora.fuse import fuse      # adapter → dequantised HF folder

loop.py (the run: the torch trainer's data, rhythm, progress and checkpoint layout),
model.py (loading a base, full precision or quantised; LoRA; adapter folders), rows.py (the
end-of-turn rows that learn), loss.py (the weighted loss), optim.py (AdamW and its
schedule), checkpoint.py (exact resume), fuse.py (→ a folder llama.cpp's converter reads),
__main__.py (all three in a process of their own: the app runs them so, through
engine/training/mlx_process.py, since Metal running out of memory aborts the process).

Every module here imports `mlx` at the top: import this package lazily, where MLX training
is asked for (`available()` says whether it can be, and imports nothing).
"""

from __future__ import annotations

# Families whose mlx-lm model is a plain stack under a linear head: loss.py computes their
# logits at the learnt positions only (memory.py counts them so); others' full logits.
PLAIN_HEAD = ("llama", "mistral", "qwen2", "qwen3")


def available() -> bool:
    """Whether `mlx` and `mlx_lm` are installed (Apple silicon, or `mlx[cpu]` elsewhere)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("mlx", "mlx_lm"))

