"""A few trainable rows of a frozen embedding or output projection: the end-of-turn token's,
which base models never learnt (MLX's counterpart of peft's `trainable_token_indices`).

mlx-lm trains LoRA on linear layers only; this module wraps the base's `embed_tokens`
(and an untied `lm_head`) so that only the chosen rows learn, through a delta added to
them. `fuse` folds the delta into a plain (dequantised) layer; mlx-lm's fuse loop picks it
up like a LoRA layer's, since both answer `fuse(dequantize=...)`.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

EMBEDDINGS = (nn.Embedding, nn.QuantizedEmbedding)
LINEARS = (nn.Linear, nn.QuantizedLinear)


class TokenRows(nn.Module):
    """`base` (frozen) with trainable deltas for the rows of `ids`.

    base: an (optionally quantised) embedding [V, H] — its lookup and, for a tied output
    head, `as_linear` — or an (optionally quantised) linear head [V, H].
    ids: the token ids whose rows learn (k of them).
    `delta` [k, H] float32, zero at first: row `ids[i]` of the base weight plus `delta[i]`."""

    def __init__(self, base: nn.Module, ids: list[int]):
        super().__init__()
        if not isinstance(base, EMBEDDINGS + LINEARS):
            raise TypeError(f"Cannot train rows of a {type(base).__name__}.")
        self.base = base
        self._ids = mx.array(sorted(ids), dtype=mx.int32)  # underscore: not a parameter
        self.delta = mx.zeros((len(ids), _width(base)), dtype=mx.float32)

    def _scatter(self, out: mx.array, x: mx.array) -> mx.array:
        """Projections [..., V] plus x [..., H] · delta for the trained columns."""
        return out.at[..., self._ids].add((x @ self.delta.T).astype(out.dtype))

    def __call__(self, x: mx.array) -> mx.array:
        if isinstance(self.base, LINEARS):
            return self._scatter(self.base(x), x)
        out = self.base(x)  # token ids [B, T] → [B, T, H]
        hits = (x[..., None] == self._ids).astype(self.delta.dtype)  # [B, T, k]
        return out + (hits @ self.delta).astype(out.dtype)

    def as_linear(self, x: mx.array) -> mx.array:
        """A tied output head: hidden states [..., H] → logits [..., V]."""
        return self._scatter(self.base.as_linear(x), x)

    def fuse(self, dequantize: bool = True) -> nn.Module:
        """The base with the deltas added to its rows, as a plain full-precision layer (a
        quantised base is dequantised: rows that learnt do not survive requantisation)."""
        weight = full_weight(self.base)
        weight = weight.at[self._ids].add(self.delta.astype(weight.dtype))
        if isinstance(self.base, EMBEDDINGS):
            fused = nn.Embedding(*weight.shape)
        else:
            fused = nn.Linear(weight.shape[1], weight.shape[0], bias="bias" in self.base)
            if "bias" in self.base:
                fused.bias = self.base.bias
        fused.weight = weight
        return fused


def full_weight(layer: nn.Module) -> mx.array:
    """A layer's weight [out, in] in its floating-point type, dequantised when quantised."""
    if isinstance(layer, (nn.QuantizedEmbedding, nn.QuantizedLinear)):
        return mx.dequantize(layer.weight, layer.scales, layer.biases,
                             group_size=layer.group_size, bits=layer.bits, mode=layer.mode)
    return layer.weight


def _width(layer: nn.Module) -> int:
    if isinstance(layer, nn.QuantizedEmbedding):
        return layer.dims
    if isinstance(layer, nn.QuantizedLinear):
        return layer.weight.shape[1] * 32 // layer.bits
    return layer.weight.shape[1]


def wrap(model: nn.Module, ids: list[int]) -> list[str]:
    """Wraps the model's input embedding (`…embed_tokens`) and untied output head
    (`lm_head`) in TokenRows for `ids`; returns the wrapped modules' names. A tied head
    shares the embedding's rows (the model calls `embed_tokens.as_linear`)."""
    from mlx.utils import tree_unflatten

    chosen = [(name, TokenRows(module, ids)) for name, module in model.named_modules()
              if (name.endswith("embed_tokens") and isinstance(module, EMBEDDINGS))
              or (name == "lm_head" and isinstance(module, LINEARS))]
    if chosen:
        model.update_modules(tree_unflatten(chosen))
    return [name for name, _ in chosen]
