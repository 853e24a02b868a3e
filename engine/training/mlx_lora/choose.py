"""Checkpoint choice for an MLX run: engine/training/choose.py's candidates and measurements,
with each candidate's adapter on the MLX base generating greedily (mlx-lm's generate_step)."""

from __future__ import annotations

import functools
from pathlib import Path

import mlx.core as mx

from engine.training import choose
from engine.training.config import TrainConfig
from engine.training.mlx_lora import model as adapters


def score(config: TrainConfig, *, top: int = 3, examples: int = 8) -> list[dict]:
    """Candidates (the `top` checkpoints by validation loss) measured on `examples`
    validation pairs, best first; as choose.score for a torch run."""
    from transformers import AutoTokenizer

    chosen = choose.candidates(config.output_dir, top)
    if not chosen or not config.val_file:
        return chosen
    records = choose.validation_chats(config)[:examples]
    for candidate in chosen:
        adapter = Path(candidate["path"]) / "adapter"
        model, _ = adapters.load_model(config.base_model)
        adapters.attach(model, adapter)
        model.eval()
        choose.measure(candidate, records, AutoTokenizer.from_pretrained(str(adapter)),
                       functools.partial(_greedy, model))
    return choose.ranked(chosen)


def _greedy(model, ids: list[int], budget: int, stop_ids: list[int]) -> list[int]:
    """An MLX model's greedy continuation of `ids`, up to and with its first stop id."""
    from mlx_lm.generate import generate_step

    new: list[int] = []
    for token, _ in generate_step(mx.array(ids), model, max_tokens=budget):
        new.append(int(token))
        if new[-1] in stop_ids:
            break
    return new
