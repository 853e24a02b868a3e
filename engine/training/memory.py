"""Memory sense before training starts: a LoRA run's peak memory, estimated from the base's
configuration, and the settings that make it fit a machine (a Mac's unified memory above
all, where running out ends the run — or the whole desktop — at the first backward pass).

    shape = Shape.from_config(json.load(open("config.json")))    # the base's config.json
    lengths = Lengths.of(examples, selected_logits=True)          # the pairs' real lengths
    need = estimate(shape, batch_size=4, max_length=lengths.longest, lora_r=16, targets=[…],
                    logits_share=lengths.logits_share)            # bytes, by part
    fitted = fit_config(config, config_json, budget=…, lengths=lengths)   # settings that
                                                                  # fit, or InsufficientMemory

The estimate is deliberately on the high side (every micro-batch as wide as the longest
example — `max_length` when the examples are not known yet —, logits and their gradient in
float32 at every position whose logits are computed, attention scores materialised): a
refused run costs a minute of the writer's time, an out-of-memory crash an evening.
Sources for the parts: LoRA's trainable parameters and AdamW's two moments (16 bytes per
trainable parameter in float32: weight, gradient, m, v); activations per layer and token
after Korthikanti et al., "Reducing Activation Recomputation in Large Transformer
Models" (2022), 34·h + 5·a·s bytes in 16-bit, generalised to the MLP's own width; with
gradient checkpointing, each layer keeps only its input (2·h bytes per token) and one layer's
activations are recomputed at a time. Quantised weights: `bits` per weight plus a 16-bit
scale and bias per group (mlx-lm's 4-bit: 4.5 bits per weight).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from engine.errors import OwnVoiceError

GB = 1024 ** 3
# Room for the runtime, kernels' scratch space and the allocator's slack.
FIXED_OVERHEAD = int(0.5 * GB)
SLACK = 1.15


class InsufficientMemory(OwnVoiceError):
    """No settings make the run fit: the message says how much it needs and what to do."""


@dataclass(frozen=True)
class Lengths:
    """What a run's examples ask of memory: the longest example (tokens: the widest padded
    micro-batch) and the share of a micro-batch's positions whose logits are computed (1.0
    for a model that computes every position's; a trainer that computes only the answers'
    — mlx_lora.loss for plain-head families — the largest answer share of any example)."""

    longest: int
    logits_share: float = 1.0

    @classmethod
    def of(cls, examples, *, selected_logits: bool) -> Lengths | None:
        """From encoded examples (`input_ids`, `labels` with -100 where nothing is learnt:
        engine/training/data.Example); None for none."""
        sized = [(len(e.input_ids), sum(1 for t in e.labels[1:] if t != -100))
                 for e in examples if e.input_ids]
        if not sized:
            return None
        share = max(learnt / length for length, learnt in sized) if selected_logits else 1.0
        return cls(longest=max(length for length, _ in sized), logits_share=min(1.0, share))


@dataclass(frozen=True)
class Shape:
    """What memory depends on, from a Hugging Face config.json (text models; a multimodal
    config's `text_config` is read)."""

    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool
    bits: int = 16          # stored weights: 16 (bf16/fp16), 32, or a quantisation's bits
    group_size: int = 64    # quantisation group (scale + bias per group)

    @classmethod
    def from_config(cls, config: dict) -> Shape:
        """Raises OwnVoiceError when the config lacks a transformer's sizes."""
        text = config.get("text_config") or config
        try:
            hidden = int(text["hidden_size"])
            heads = int(text["num_attention_heads"])
            shape = cls(hidden=hidden, layers=int(text["num_hidden_layers"]),
                        intermediate=int(text.get("intermediate_size") or 4 * hidden),
                        heads=heads, kv_heads=int(text.get("num_key_value_heads") or heads),
                        head_dim=int(text.get("head_dim") or hidden // heads),
                        vocab=int(text.get("vocab_size") or config["vocab_size"]),
                        tied=bool(config.get("tie_word_embeddings",
                                             text.get("tie_word_embeddings", True))))
        except (KeyError, TypeError, ValueError) as exc:
            raise OwnVoiceError(f"The base model's config.json does not give its sizes "
                                f"({exc}); OwnVoice cannot tell whether it fits.") from exc
        quant = config.get("quantization") or config.get("quantization_config") or {}
        if isinstance(quant, dict) and quant.get("bits"):
            shape = replace(shape, bits=int(quant["bits"]),
                            group_size=int(quant.get("group_size") or 64))
        return shape

    @property
    def layer_params(self) -> int:
        """Weights of one transformer layer: attention and a gated MLP (norms left out)."""
        q = self.heads * self.head_dim
        kv = self.kv_heads * self.head_dim
        attention = self.hidden * (q + 2 * kv) + q * self.hidden
        return attention + 3 * self.hidden * self.intermediate

    @property
    def params(self) -> int:
        embeddings = self.vocab * self.hidden * (1 if self.tied else 2)
        return self.layers * self.layer_params + embeddings

    def projection_sizes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each projection LoRA may target."""
        q = self.heads * self.head_dim
        kv = self.kv_heads * self.head_dim
        h, i = self.hidden, self.intermediate
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}


def weight_bytes(shape: Shape) -> int:
    """The base's weights as loaded: quantised layers at bits + 32/group_size per weight."""
    if shape.bits >= 16:
        return shape.params * shape.bits // 8
    bits = shape.bits + 32 / shape.group_size
    return int(shape.params * bits / 8)


def estimate(shape: Shape, *, batch_size: int, max_length: int, lora_r: int,
             targets: list[str], layers_trained: int | None = None,
             checkpointing: bool = False, logits_share: float = 1.0) -> dict[str, int]:
    """Peak bytes of a LoRA step, by part: weights, lora (weights, gradients, AdamW),
    activations, logits, overhead, and their `total`. `max_length`: a micro-batch's width
    (tokens). `layers_trained`: LoRA on the last N layers only (None: all); activations are
    kept only from the first trained layer on. `logits_share`: Lengths.logits_share."""
    trained = shape.layers if layers_trained is None else max(1, min(layers_trained,
                                                                    shape.layers))
    sizes = shape.projection_sizes()
    lora_params = trained * sum(lora_r * (sizes[t][0] + sizes[t][1])
                                for t in targets if t in sizes)
    tokens = batch_size * max_length
    per_layer_token = 2 * (12 * shape.hidden + 3 * shape.intermediate) \
        + 2 * 5 * shape.heads * max_length  # 16-bit activations; attention scores
    if checkpointing:
        activations = trained * tokens * 2 * shape.hidden + tokens * per_layer_token
    else:
        activations = trained * tokens * per_layer_token
    # float32 logits, log-softmax and their gradient, where logits are computed
    logits = int(tokens * logits_share) * shape.vocab * 4 * 3
    parts = {"weights": weight_bytes(shape), "lora": lora_params * 16,
             "activations": activations, "logits": logits}
    subtotal = sum(parts.values())
    parts["overhead"] = int(subtotal * (SLACK - 1)) + FIXED_OVERHEAD
    parts["total"] = subtotal + parts["overhead"]
    return parts


@dataclass(frozen=True)
class Fitted:
    """Settings that fit: the same effective batch (batch_size × grad_accum) where the batch
    was split; `changes` in words, for the user; `need` the estimate for them (bytes)."""

    batch_size: int
    grad_accum: int
    checkpointing: bool
    layers_trained: int | None
    need: int
    changes: tuple[str, ...]


def fit(shape: Shape, *, budget: int, batch_size: int, grad_accum: int, max_length: int,
        lora_r: int, targets: list[str], checkpointing: bool = False,
        layers_trained: int | None = None, logits_share: float = 1.0) -> Fitted:
    """The first settings that fit `budget` bytes, trying in turn: as asked; gradient
    checkpointing on; the micro-batch halved down to 1 (grad_accum doubled, so each update
    sees as many examples); LoRA on the last 16, then 8 layers only. Raises
    InsufficientMemory when even the last of these does not fit."""
    def need(b: int, ckpt: bool, layers: int | None) -> int:
        return estimate(shape, batch_size=b, max_length=max_length, lora_r=lora_r,
                        targets=targets, layers_trained=layers, checkpointing=ckpt,
                        logits_share=logits_share)["total"]

    changes: list[str] = []
    b, accum, ckpt, layers = batch_size, grad_accum, checkpointing, layers_trained
    if need(b, ckpt, layers) <= budget:
        return Fitted(b, accum, ckpt, layers, need(b, ckpt, layers), ())
    if not ckpt:
        ckpt = True
        changes.append("gradient checkpointing on (slower, far less memory)")
    while need(b, ckpt, layers) > budget and b > 1:
        b, accum = b // 2, accum * 2
    if b != batch_size:
        changes.append(f"{b} example(s) per pass instead of {batch_size}, {accum} passes per "
                       "update (the same examples per update)")
    for fewer in (16, 8):
        if need(b, ckpt, layers) <= budget:
            break
        if fewer < (layers or shape.layers):
            layers = fewer
            changes.append(f"LoRA on the last {fewer} of {shape.layers} layers only")
    total = need(b, ckpt, layers)
    if total > budget:
        raise InsufficientMemory(
            f"Training this base needs about {total / GB:.1f} GiB even with the smallest "
            f"settings, and {budget / GB:.1f} GiB is available. Choose a smaller base (or a "
            "4-bit one), shorten the longest pairs, or train on a GPU box.")
    return Fitted(b, accum, ckpt, layers, total, tuple(changes))


def fit_config(config, config_json: dict, *, budget: int,
               lengths: Lengths | None = None) -> Fitted:
    """`fit` for a TrainConfig's settings on the base whose config.json is `config_json`
    (its family's LoRA targets unless the config names some), for examples as long as
    `lengths` says (None: every one `config.max_length` tokens, every logit computed).
    Raises InsufficientMemory or OwnVoiceError (a config without a transformer's sizes)."""
    from engine.training.config import FAMILY_TARGETS

    family = (config_json.get("text_config") or config_json).get("model_type") \
        or config_json.get("model_type")
    targets = config.target_modules or FAMILY_TARGETS.get(family or "", ["q_proj", "v_proj"])
    width = min(config.max_length, lengths.longest) if lengths else config.max_length
    return fit(Shape.from_config(config_json), budget=budget, batch_size=config.batch_size,
               grad_accum=config.grad_accum, max_length=width,
               lora_r=config.lora_r, targets=targets,
               checkpointing=config.gradient_checkpointing,
               layers_trained=config.lora_layers,
               logits_share=lengths.logits_share if lengths else 1.0)


def fitted_config(config, fitted: Fitted):
    """`config` with the settings `fitted` chose."""
    from dataclasses import replace

    return replace(config, batch_size=fitted.batch_size, grad_accum=fitted.grad_accum,
                   gradient_checkpointing=fitted.checkpointing,
                   lora_layers=fitted.layers_trained)


def available_bytes() -> int:
    """What a training run may use here: OWNVOICE_TRAIN_MEMORY_GB when set (GB of 2**30
    bytes: leave room for other work, or test a smaller machine); on Apple silicon, Metal's
    recommended working set (`max_recommended_working_set_size`, about 3/4 of unified
    memory); elsewhere 3/4 of the physical memory (os.sysconf), the rest being the
    desktop's and the app's."""
    chosen = os.environ.get("OWNVOICE_TRAIN_MEMORY_GB")
    if chosen:
        try:
            return max(0, int(float(chosen) * GB))
        except ValueError:
            raise OwnVoiceError(f"OWNVOICE_TRAIN_MEMORY_GB must be a number of GB (got "
                                f"{chosen!r}).") from None
    try:
        import mlx.core as mx

        info = mx.device_info()
        if info.get("max_recommended_working_set_size"):
            return int(info["max_recommended_working_set_size"])
        total = info.get("memory_size") or info.get("total_memory")
        if total:
            return int(total) * 3 // 4
    except Exception:  # noqa: BLE001 - mlx missing or its device unreadable: use the RAM
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") * 3 // 4
    except (ValueError, OSError, AttributeError):  # not POSIX
        return 8 * GB
