"""This Mac as a training target: `ownvoice train --on mac` (and "This Mac (MLX)" on the Train
page) trains with MLX (engine/training/mlx_lora/) on this machine, as LocalTarget trains
with torch, but in a child process (engine/training/mlx_process.py: Metal running out of
memory aborts the process that trains, and the app must live to say so) — the same job
folder, progress, cancel, `train --resume N` and export to a registered `voice-N` — after
a memory check: the base's config.json says how much the run needs, and
the settings are adjusted (gradient checkpointing, a smaller micro-batch, fewer LoRA layers)
to fit this machine, or the run is refused in one line (engine/training/memory.py).

Offered where MLX imports: Apple silicon, or `mlx[cpu]` elsewhere (the tests run it so).
"""

from __future__ import annotations

import json
from pathlib import Path

from engine import events
from engine.errors import OwnVoiceError
from engine.jobs import JobKind
from engine.training import memory, mlx_bases
from engine.training.config import TrainConfig
from engine.training.mlx_lora import available
from engine.training.targets import InvalidRequest, LocalTarget, Plan, TrainingRequest

EXAMPLE_BASE = "mlx-community/Qwen3-4B-4bit"


def base_config(base_model: str) -> dict | None:
    """The base's config.json: from its folder, or for a Hugging Face id from the local hub
    cache only (None when it is not downloaded yet: nothing is fetched to check). Raises
    InvalidRequest for a .gguf base (MLX reads safetensors folders) or an unreadable one."""
    path = Path(base_model).expanduser()
    if path.suffix == ".gguf":
        raise InvalidRequest(f"MLX cannot train on a GGUF file ({base_model}): choose a "
                             f"Hugging Face model or an MLX conversion of one (e.g. "
                             f"{EXAMPLE_BASE}).")
    if path.exists():
        file = path / "config.json"
    else:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(base_model, "config.json")
        if not isinstance(cached, str):
            return None
        file = Path(cached)
    try:
        return json.loads(file.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"Cannot read the base model's config.json ({file}): "
                             f"{exc}") from exc


def fit_settings(config_json: dict, *, budget: int,
                 lengths: memory.Lengths | None = None) -> memory.Fitted:
    """The memory check for a new job's settings (TrainConfig's defaults) on this base, for
    examples as long as `lengths` says (None: max_length each); raises InsufficientMemory
    (one line) when nothing fits `budget` bytes."""
    defaults = TrainConfig(base_model="", train_file="", output_dir="")
    return memory.fit_config(defaults, config_json, budget=budget, lengths=lengths)


LONGEST = 64  # the pairs measured: the longest by characters, where the peak is


def pair_lengths(store, base_model: str, config_json: dict) -> memory.Lengths | None:
    """The training and validation pairs' lengths in the base's tokens, under the chat
    template training uses (the `LONGEST` longest pairs by characters); None when the base's
    tokenizer is not on this machine (nothing is fetched to check) or does not load."""
    from engine.pairs.dataset import messages_for
    from engine.training import data
    from engine.training.base import settle_chat_template
    from engine.training.mlx_lora import PLAIN_HEAD

    pairs = store.training_pairs(split="train") + store.training_pairs(split="val")
    pairs.sort(key=lambda p: len(p["source_text"]) + len(p["target_text"]), reverse=True)
    try:
        from transformers import AutoTokenizer

        folder = Path(base_model).expanduser()
        tokenizer = AutoTokenizer.from_pretrained(str(folder) if folder.exists() else base_model,
                                                  local_files_only=True)
        config = TrainConfig(base_model=base_model, train_file="", output_dir="")
        settle_chat_template(tokenizer, config)
        examples = [data.encode(tokenizer, {"messages": messages_for(pair)},
                                config.max_length) for pair in pairs[:LONGEST]]
    except (OSError, ValueError, OwnVoiceError, ImportError):  # not here, or not a tokenizer
        return None
    family = (config_json.get("text_config") or config_json).get("model_type")
    return memory.Lengths.of(examples, selected_logits=family in PLAIN_HEAD)


class MacTarget(LocalTarget):
    """This machine, training with MLX (a Mac's unified memory; `mlx[cpu]` elsewhere)."""

    kind = JobKind.MAC
    name = "this Mac (MLX)"

    def check(self, store) -> dict:
        """MLX to train, and the export's stack (llama.cpp's converter imports torch and
        transformers) — both before anything is written."""
        from importlib.util import find_spec

        from engine.training.stages import REQUIRED

        if not available():
            raise InvalidRequest("Training with MLX needs mlx and mlx-lm (OwnVoice's `mlx` "
                                 "extra, for Apple silicon): `pip install 'ownvoice[train,mlx]'` "
                                 "in OwnVoice's environment. Or train with PyTorch: `ownvoice "
                                 "train --on local`.")
        missing = [name for name, module in REQUIRED.items() if find_spec(module) is None]
        if missing:
            raise InvalidRequest(f"The trained model is exported to GGUF by llama.cpp's "
                                 f"converter, which needs {', '.join(missing)}: `pip install "
                                 "'ownvoice[train,mlx]'` in OwnVoice's environment.")
        return {}

    def prepare(self, store, request: TrainingRequest) -> Plan:
        """LocalTarget's checks, a base MLX can train, and the memory check: the settings
        that fit (kept in the plan) and what was changed, in words. Reads, never writes."""
        if request.improve is not None:
            self.check_preferences(store, request)  # says where preference training runs
        if request.base_model is None:
            raise InvalidRequest(f"Training with MLX needs a base in safetensors (the "
                                 f"embedded Gemma is a GGUF): choose one with --base, e.g. "
                                 f"{EXAMPLE_BASE}.")
        plan = super().prepare(store, request)
        notes = [w for w in [mlx_bases.warning_for(request.base_model)] if w]
        config_json = base_config(request.base_model)
        settings: dict = {}
        changes: list[str] = []
        if config_json is None:
            notes.append(f"Memory not checked yet: {request.base_model} is not downloaded; "
                         "it is checked once it is, before the first step.")
        else:
            lengths = pair_lengths(store, request.base_model, config_json)
            try:
                budget = memory.available_bytes()
                fitted = fit_settings(config_json, budget=budget, lengths=lengths)
            except OwnVoiceError as exc:  # InsufficientMemory, or a config without sizes
                raise InvalidRequest(str(exc)) from exc
            settings = {"batch_size": fitted.batch_size, "grad_accum": fitted.grad_accum,
                        "gradient_checkpointing": fitted.checkpointing,
                        "lora_layers": fitted.layers_trained}
            changes = list(fitted.changes)
            notes.append(f"Memory: about {fitted.need / memory.GB:.1f} GiB needed of "
                         f"{budget / memory.GB:.1f} GiB available"
                         + (f" (the longest pair: {lengths.longest} tokens)" if lengths
                            else "")
                         + (f"; changed to fit: {'; '.join(changes)}." if changes else "."))
        return Plan(request=request, target=self.name, pairs=plan.pairs,
                    options={"settings": settings, "memory_changes": changes,
                             "notes": notes})

    def job_options(self, plan: Plan) -> dict:
        return {"engine": "mlx", "settings": plan.options.get("settings"),
                "memory_changes": plan.options.get("memory_changes")}

    def announce(self, plan: Plan, job, on_event) -> None:
        super().announce(plan, job, on_event)
        for note in plan.options.get("notes", ()):
            on_event(events.Log(message=note))
