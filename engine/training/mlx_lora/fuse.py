"""An MLX adapter fused into its base, dequantised, saved as a Hugging Face model folder:
what export.py's llama.cpp converter reads (mlx-lm's own GGUF export knows only Llama and
Mistral).

Same shape as export.merge: `fuse(base_model, adapter_dir, out_dir) → (folder, parameters)`.
LoRA layers and token rows both fuse through their `fuse(dequantize=True)` (mlx-lm's fuse
loop); then every layer still quantised (those without an adapter) is dequantised, and the
config loses its quantisation entries. The weights keep the base's floating-point type
(a 4-bit base: its scales' type, float16 for mlx-community conversions). The tokenizer comes
from the adapter folder: it carries the chat template the model was trained with.
"""

from __future__ import annotations

from pathlib import Path

from mlx.utils import tree_flatten, tree_unflatten

from engine.training.mlx_lora import model as adapters


def fuse(base_model: str, adapter_dir: str | Path, out_dir: str | Path) -> tuple[Path, int]:
    """Writes the fused, dequantised model to `out_dir` (model.safetensors, config.json,
    the tokenizer's files with its chat template); returns the folder and the parameter
    count. Raises OwnVoiceError for a base that does not load or a folder that is not an
    MLX adapter."""
    from mlx_lm.utils import dequantize_model, save_config, save_model
    from transformers import AutoTokenizer

    out_dir = Path(out_dir)
    model, model_config = adapters.load_model(base_model)
    adapters.attach(model, Path(adapter_dir))
    fused = [(name, module.fuse(dequantize=True)) for name, module in model.named_modules()
             if hasattr(module, "fuse")]
    if fused:
        model.update_modules(tree_unflatten(fused))
    model = dequantize_model(model)
    for key in ("quantization", "quantization_config"):
        model_config.pop(key, None)
    save_model(out_dir, model)
    save_config(model_config, out_dir / "config.json")
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(str(out_dir))
    return out_dir, sum(v.size for _, v in tree_flatten(model.parameters()))
