"""The base in MLX, as OwnVoice trains it: loaded by mlx-lm (full precision or quantised,
e.g. a 4-bit MLX conversion: QLoRA), its tokenizer settled as the torch trainer settles it,
LoRA (mlx-lm's `linear_to_lora_layers`) on the config's projections, and the end-of-turn
rows trainable (rows.py).

An adapter folder holds what mlx-lm itself reads (`adapter_config.json`,
`adapters.safetensors`: `mlx_lm.generate --adapter-path` works with it) plus the trained
token rows (`token_rows.safetensors`, their ids in `adapter_config.json` under
`token_rows`) and the tokenizer with the chat template it was trained with.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from engine.errors import OwnVoiceError
from engine.training.base import end_of_turn_ids, load_tokenizer, settle_chat_template
from engine.training.mlx_lora import rows

ADAPTER_CONFIG = "adapter_config.json"
LORA_FILE = "adapters.safetensors"  # the name mlx-lm's load_adapters reads
ROWS_FILE = "token_rows.safetensors"


def local_folder(base_model: str) -> Path:
    """The base's folder: a local one as it is, a Hugging Face id from the hub cache
    (downloaded when online). Raises OwnVoiceError for a .gguf file (MLX reads safetensors
    folders: a Hugging Face model or an `mlx_lm.convert` output)."""
    path = Path(base_model).expanduser()
    if path.suffix == ".gguf":
        raise OwnVoiceError(f"MLX cannot train on a GGUF file ({base_model}): choose a "
                            "Hugging Face model (e.g. Qwen/Qwen2.5-3B-Instruct) or an MLX "
                            "conversion of one (e.g. mlx-community/Qwen2.5-3B-Instruct-4bit).")
    if path.exists():
        return path
    from huggingface_hub import snapshot_download
    from mlx_lm.utils import DEFAULT_ALLOW_PATTERNS

    try:
        return Path(snapshot_download(base_model, allow_patterns=DEFAULT_ALLOW_PATTERNS))
    except Exception as exc:  # offline, unknown id, gated: huggingface_hub's many errors
        raise OwnVoiceError(f"Cannot load the base model {base_model}: {exc}") from exc


def load_model(base_model: str, *, lazy: bool = False) -> tuple[nn.Module, dict]:
    """mlx-lm's model for `base_model` (folder or id) and its config.json as a dict (with
    `quantization` for a quantised base); `lazy`: the weights are read from their files only
    when something is computed from them. Raises OwnVoiceError when it does not load."""
    from mlx_lm.utils import load_model as mlx_load_model

    folder = local_folder(base_model)
    try:
        return mlx_load_model(folder, lazy=lazy, model_config=older_settings(folder))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise OwnVoiceError(f"MLX cannot load the base model {base_model}: {exc}") from exc


def older_settings(folder: Path) -> dict:
    """The base's settings in the keys mlx-lm 0.32 reads, where transformers 5 writes them
    otherwise; mlx-lm silently takes its family's defaults for keys it does not find, and
    every logit is then wrong. Empty when the config already has the older keys (as most hub
    models' do). Raises OwnVoiceError for a layout mlx-lm's model cannot express.

    - RoPE: transformers 5's `rope_parameters` ({"rope_theta": …, "rope_type": …}) → the
      top-level `rope_theta` / `rope_scaling` (Qwen2's default is 1e6 where a model may say
      1e4); per layer type (Gemma 3: {"full_attention": {…}, "sliding_attention": {…}}) →
      `rope_theta` and `rope_local_base_freq`.
    - Gemma 3's `layer_types` → `sliding_window_pattern` (mlx-lm: every Nth layer attends to
      everything, the others to a sliding window; its default, 6, is wrong for others)."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}  # mlx-lm reports the missing or broken config itself
    settings: dict = {}
    rope = config.get("rope_parameters")
    if isinstance(rope, dict) and "rope_theta" not in config:
        full = rope.get("full_attention", rope)
        if isinstance(full, dict) and "rope_theta" in full:
            settings["rope_theta"] = full["rope_theta"]
            if full.get("rope_type", "default") != "default" and "rope_scaling" not in config:
                settings["rope_scaling"] = full
        local = rope.get("sliding_attention")
        if isinstance(local, dict) and "rope_theta" in local \
                and "rope_local_base_freq" not in config:
            settings["rope_local_base_freq"] = local["rope_theta"]
    types = config.get("layer_types")
    if str(config.get("model_type", "")).startswith("gemma3") and isinstance(types, list) \
            and types and "sliding_window_pattern" not in config:
        settings["sliding_window_pattern"] = sliding_pattern(types)
    return settings


def sliding_pattern(layer_types: list[str]) -> int:
    """N such that layer i attends fully exactly when (i + 1) % N == 0 (mlx-lm's Gemma 3);
    a model with no full-attention layer gets N past its depth. Raises OwnVoiceError when no
    N gives `layer_types`."""
    full = [i for i, kind in enumerate(layer_types) if kind == "full_attention"]
    every = full[0] + 1 if full else len(layer_types) + 1
    if [i for i in range(len(layer_types)) if (i + 1) % every == 0] != full:
        raise OwnVoiceError("MLX's Gemma 3 model takes every Nth layer as full attention; "
                            f"this model's layers ({', '.join(layer_types)}) are not such a "
                            "pattern, so MLX cannot train it: train it with PyTorch (--on "
                            "local or a box).")
    return every


def lora_parameters(model: nn.Module, config) -> dict:
    """mlx-lm's `lora_parameters` for the config: rank, scale (alpha / rank, as peft),
    dropout, and the layer-relative paths (`self_attn.q_proj`, …) of the linear layers
    whose last name is in `config.target_modules` (resolved). Raises OwnVoiceError when no
    layer matches."""
    wanted = set(config.target_modules)
    keys = sorted({name for layer in model.layers for name, module in layer.named_modules()
                   if name.rsplit(".", 1)[-1] in wanted and isinstance(module, rows.LINEARS)})
    if not keys:
        raise OwnVoiceError(f"None of the LoRA target modules {sorted(wanted)} is a linear "
                            "layer of this model; set target_modules to its projections.")
    return {"rank": config.lora_r, "scale": config.lora_alpha / config.lora_r,
            "dropout": config.lora_dropout, "keys": keys}


def apply_adapter(model: nn.Module, settings: dict) -> None:
    """LoRA layers (zero-effect at first: mlx-lm's B is zero) and token rows on a frozen
    `model`, as `settings` (an adapter_config.json's content) says."""
    from mlx_lm.tuner.utils import linear_to_lora_layers

    model.freeze()
    linear_to_lora_layers(model, settings["num_layers"], settings["lora_parameters"])
    if settings.get("token_rows"):
        rows.wrap(model, settings["token_rows"])


def with_lora(model: nn.Module, model_config: dict, tokenizer, config) -> dict:
    """Prepares `model` for training as the torch trainer prepares its base: `config` gets
    its resolved target modules (by `model_type`) and chat template (`tokenizer` too); LoRA
    on every layer (the last `config.lora_layers` when set), initialised from `config.seed`;
    the end-of-turn rows trainable unless `config.train_end_of_turn` is off. Returns the
    adapter's settings (adapter_config.json)."""
    config.resolved(model_config.get("model_type"))
    settle_chat_template(tokenizer, config)
    mx.random.seed(config.seed)
    layers = len(model.layers)  # mlx-lm's num_layers: LoRA on the last N layers
    settings = {"fine_tune_type": "lora",
                "num_layers": min(config.lora_layers or layers, layers),
                "lora_parameters": lora_parameters(model, config),
                "token_rows": end_of_turn_ids(tokenizer) if config.train_end_of_turn else [],
                "base_model": config.base_model}
    apply_adapter(model, settings)
    return settings


def load_for_training(config):
    """(tokenizer, model, adapter settings) for `config.base_model`, ready to train."""
    tokenizer = load_tokenizer(config)
    model, model_config = load_model(config.base_model)
    settings = with_lora(model, model_config, tokenizer, config)
    return tokenizer, model, settings


def trained_weights(model: nn.Module) -> tuple[dict, dict]:
    """The adapter's arrays by name: (LoRA A/B matrices, token-row deltas)."""
    weights = dict(tree_flatten(model.trainable_parameters()))
    lora = {k: v for k, v in weights.items() if k.rsplit(".", 1)[-1] in ("lora_a", "lora_b")}
    deltas = {k: v for k, v in weights.items() if k.endswith(".delta")}
    return lora, deltas


def save_adapter(model: nn.Module, folder: Path, *, settings: dict, tokenizer) -> Path:
    """Writes the adapter folder (module docstring) and returns it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lora, deltas = trained_weights(model)
    mx.save_safetensors(str(folder / LORA_FILE), lora)
    if deltas:
        mx.save_safetensors(str(folder / ROWS_FILE), deltas)
    (folder / ADAPTER_CONFIG).write_text(json.dumps(settings, indent=2))
    tokenizer.save_pretrained(str(folder))
    return folder


def load_adapter_weights(model: nn.Module, folder: Path) -> None:
    """The adapter folder's arrays into a model that `apply_adapter` prepared. Raises
    OwnVoiceError when an array has no place in this model or not its shape (an adapter
    trained on another base): mlx's non-strict loading would skip the one and fail on the
    other deep inside the fuse."""
    from mlx.utils import tree_flatten

    places = dict(tree_flatten(model.parameters()))
    for name in (LORA_FILE, ROWS_FILE):
        if not (Path(folder) / name).exists():
            continue
        arrays = mx.load(str(Path(folder) / name))
        wrong = [key for key, value in arrays.items()
                 if key not in places or places[key].shape != value.shape]
        if wrong:
            trained_on = _settings_of(folder).get("base_model") or "another base"
            raise OwnVoiceError(f"The adapter in {folder} does not fit this base ({len(wrong)} "
                                f"of its arrays, e.g. {wrong[0]}): it was trained on "
                                f"{trained_on}; export it with that base.")
        model.load_weights(list(arrays.items()), strict=False)


def _settings_of(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / ADAPTER_CONFIG).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def attach(model: nn.Module, folder: Path) -> dict:
    """An adapter folder on a freshly loaded base; returns its settings. Raises
    OwnVoiceError for a folder that is not an MLX adapter."""
    try:
        settings = json.loads((Path(folder) / ADAPTER_CONFIG).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise OwnVoiceError(f"{folder} is not an MLX adapter folder: {exc}") from exc
    apply_adapter(model, settings)
    load_adapter_weights(model, folder)
    return settings
