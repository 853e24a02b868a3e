"""The optimizer of the torch trainer, in MLX: AdamW (torch's defaults: betas 0.9/0.999,
eps 1e-8, weight decay 0.01, with bias correction, which MLX leaves off by default) under
transformers' `get_linear_schedule_with_warmup`: linear warm-up from 0 over
`warmup_steps`, then linear decay to 0 at the last step."""

from __future__ import annotations

import mlx.core as mx
import mlx.optimizers as optim


def linear_schedule(peak: float, warmup: int, total: int):
    """The learning rate of update k (0-based: MLX passes the updates done so far) →
    peak × k / warmup while k < warmup, then peak × (total − k) / (total − warmup), never
    below 0. Accepts a Python int or an MLX scalar."""
    def rate(k):
        k = mx.array(k, dtype=mx.float32)
        rising = k / max(1, warmup)
        falling = mx.maximum(0.0, (total - k) / max(1, total - warmup))
        return peak * mx.where(k < warmup, rising, falling)

    return rate


def adamw(config, total_steps: int) -> tuple[optim.AdamW, callable]:
    """The optimizer for `config` (learning_rate, warmup_steps) over `total_steps`
    updates, and its schedule."""
    schedule = linear_schedule(config.learning_rate, config.warmup_steps, max(total_steps, 1))
    return optim.AdamW(learning_rate=schedule, betas=[0.9, 0.999], eps=1e-8,
                       weight_decay=0.01, bias_correction=True), schedule
