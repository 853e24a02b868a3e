"""The loss in MLX: the same number as the torch trainer's `loop.weighted_loss` —
cross-entropy over the assistant's tokens only, each weighted by its pair's weight, divided
by the sum of those weights.

mlx-lm's trainer has only an unweighted mean over a span of each row (`default_loss`);
OwnVoice passes its own loss function to `nn.value_and_grad`, as mlx-lm's trainer accepts a
`loss` callable, and steps the optimizer itself (loop.py).

As the torch trainer does (`logits_to_keep`), logits are computed only where a learnt token
is predicted, for the families whose mlx-lm model is a body (`model.model`) then a head
(`lm_head`, or the tied embedding's `as_linear`) and nothing else: the vocabulary projection
is most of a small model's work, and [B, T, V] float32 logits are gigabytes on a Mac.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from engine.training import data
from engine.training.mlx_lora import PLAIN_HEAD


def arrays(batch: dict) -> dict:
    """A micro-batch of `data.padded` (numpy) as MLX arrays: int32 `input_ids`, `labels`
    [B, L], float32 `weights` [B], and the learnt predictions: `positions` [K] (indices into
    the B × (L − 1) predicting positions, row by row), their int32 `targets` [K] and float32
    `token_weights` [K]. No attention mask: padding comes at the end of each row, where
    causal attention never lets a real token see it."""
    targets = batch["labels"][:, 1:]
    weights = batch["weights"]
    per_token = np.broadcast_to(weights[:, None] if weights.ndim == 1 else weights[:, 1:],
                                targets.shape)
    positions = np.flatnonzero(targets != data.IGNORE)
    return {"input_ids": mx.array(batch["input_ids"], dtype=mx.int32),
            "labels": mx.array(batch["labels"], dtype=mx.int32),
            "weights": mx.array(weights, dtype=mx.float32),
            "positions": mx.array(positions, dtype=mx.int32),
            "targets": mx.array(targets.reshape(-1)[positions], dtype=mx.int32),
            "token_weights": mx.array(per_token.reshape(-1)[positions], dtype=mx.float32)}


def token_loss(logits: mx.array, targets: mx.array, weights: mx.array):
    """Σ weight × cross-entropy / Σ weight over K predictions: logits [K, V], targets [K],
    weights [K] → (float32 scalar loss, K as an int32 scalar)."""
    cross_entropy = nn.losses.cross_entropy(logits.astype(mx.float32), targets,
                                            reduction="none")
    return ((cross_entropy * weights).sum() / mx.maximum(weights.sum(), 1e-8),
            mx.array(targets.size, dtype=mx.int32))


def weighted_loss(logits: mx.array, labels: mx.array, weights: mx.array):
    """Over full logits: logits [B, T, V]; labels [B, T] (data.IGNORE where nothing is
    learnt); weights [B] (one per row) or [B, T] (one per token) → (loss, learnt tokens).
    Position t predicts the label at t + 1."""
    targets = labels[:, 1:]
    per_token = weights[:, None] if weights.ndim == 1 else weights[:, 1:]
    keep = targets != data.IGNORE
    token_weights = mx.where(keep, mx.broadcast_to(per_token, targets.shape), 0.0)
    cross_entropy = nn.losses.cross_entropy(logits[:, :-1].astype(mx.float32),
                                            mx.where(keep, targets, 0), reduction="none")
    total = (cross_entropy * token_weights).sum()
    return total / mx.maximum(token_weights.sum(), 1e-8), keep.sum()


def batch_loss(model, batch: dict):
    """The model's loss on one micro-batch (`arrays` output): (loss, learnt tokens); the
    same number as `weighted_loss` over the model's full logits."""
    if getattr(model, "model_type", None) not in PLAIN_HEAD:
        return weighted_loss(model(batch["input_ids"]), batch["labels"], batch["weights"])
    hidden = model.model(batch["input_ids"])[:, :-1]
    hidden = hidden.reshape(-1, hidden.shape[-1])[batch["positions"]]
    head = model.lm_head if "lm_head" in model else model.model.embed_tokens.as_linear
    return token_loss(head(hidden), batch["targets"], batch["token_weights"])
