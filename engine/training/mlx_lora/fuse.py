"""An MLX adapter fused into its base, dequantised, saved as a Hugging Face model folder:
what export.py's llama.cpp converter reads (mlx-lm's own GGUF export knows only Llama and
Mistral).

Same shape as export.merge: `fuse(base_model, adapter_dir, out_dir) → (folder, parameters)`.
LoRA layers and token rows both fuse through their `fuse(dequantize=True)` (mlx-lm's fuse
loop); then every layer still quantised (those without an adapter) is dequantised, and the
config loses its quantisation entries. The weights keep the base's floating-point type
(a 4-bit base: its scales' type, float16 for mlx-community conversions). mlx-lm's fuse adds
the LoRA product after rounding it to that type: one rounding more than adding in float32,
at most half a unit in the last place of the weight, far below what the GGUF's quantisation
then drops. The tokenizer comes from the adapter folder: it carries the chat template the
model was trained with.

Memory: the dequantised model is 4× a 4-bit base (a 4B: 8 GB in float16), more than a small
Mac holds beside the desktop. Nothing is computed until it is written: the base is loaded
lazily, the fuse and the dequantisation are MLX's lazy graph, and the weights are written in
shards of at most SHARD_BYTES, each computed, written and freed before the next — the peak
is about one shard and the base.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten, tree_map, tree_unflatten

from engine.training.mlx_lora import model as adapters

SHARD_BYTES = 1 << 30


def fuse(base_model: str, adapter_dir: str | Path, out_dir: str | Path, *,
         shard_bytes: int = SHARD_BYTES) -> tuple[Path, int]:
    """Writes the fused, dequantised model to `out_dir` (model*.safetensors of at most
    `shard_bytes` each but for a larger single array, their index, config.json, the
    tokenizer's files with its chat template); returns the folder and the parameter count.
    Raises OwnVoiceError for a base that does not load or a folder that is not an MLX
    adapter."""
    from mlx_lm.utils import dequantize_model, save_config
    from transformers import AutoTokenizer

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, model_config = adapters.load_model(base_model, lazy=True)
    adapters.attach(model, Path(adapter_dir))
    fused = [(name, module.fuse(dequantize=True)) for name, module in model.named_modules()
             if hasattr(module, "fuse")]
    if fused:
        model.update_modules(tree_unflatten(fused))
    model = dequantize_model(model)
    weights = dict(tree_flatten(model.parameters()))
    parameters = sum(v.size for v in weights.values())
    model.update(tree_map(lambda _: mx.array([]), model.parameters()))  # weights: only here
    write_shards(weights, out_dir, shard_bytes)
    for key in ("quantization", "quantization_config"):
        model_config.pop(key, None)
    save_config(model_config, out_dir / "config.json")
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(str(out_dir))
    return out_dir, parameters


def write_shards(weights: dict, out_dir: Path, shard_bytes: int) -> None:
    """`weights` (lazy arrays, by name; emptied as it goes) as safetensors shards in the
    Hugging Face layout — model.safetensors alone, or model-0000K-of-0000N.safetensors and
    model.safetensors.index.json — each shard computed, written and released in turn."""
    shards: list[list[str]] = [[]]
    size = 0
    for name, array in weights.items():
        if shards[-1] and size + array.nbytes > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += array.nbytes
    total = sum(v.nbytes for v in weights.values())
    index: dict[str, str] = {}
    for number, names in enumerate(shards, 1):
        file = ("model.safetensors" if len(shards) == 1
                else f"model-{number:05d}-of-{len(shards):05d}.safetensors")
        shard = {name: weights.pop(name) for name in names}
        mx.save_safetensors(str(out_dir / file), shard, metadata={"format": "mlx"})
        index.update(dict.fromkeys(names, file))
        del shard
        mx.clear_cache()
    if len(shards) > 1:
        (out_dir / "model.safetensors.index.json").write_text(json.dumps(
            {"metadata": {"total_size": total}, "weight_map": dict(sorted(index.items()))},
            indent=2))
