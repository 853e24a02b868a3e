"""MLX checkpoints, in the torch trainer's layout (OUTPUT/checkpoints/step-NNNNNN/ with
`adapter/`, `config.json`, `metrics.json`: what choose.py and the export read), plus what a
resumed run needs to continue exactly: the optimizer's state (AdamW moments, its step count)
as `optimizer.safetensors` and the loop's counters as `trainer_state.json`.

mlx-lm's trainer saves adapter weights only, so a resumed run would restart AdamW from
zero; this module saves the whole optimizer state through mlx's public tree utilities. No
random state is saved: the loop seeds MLX's generator from (seed, step) before every step,
and the data order is fixed by (seed, epoch) — the step is the whole cursor.

Written under a `.part` name and renamed when complete: a kill leaves a whole checkpoint or
none. Nothing here is pickled: a checkpoint from elsewhere cannot run code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten, tree_unflatten

from engine.errors import OwnVoiceError
from engine.training.mlx_lora import model as adapters

OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "trainer_state.json"


def save(folder: Path, *, model, tokenizer, settings: dict, optimizer, state: dict, config,
         metrics: dict) -> Path:
    """Writes checkpoint `folder`; `state`: the loop's JSON-ready counters."""
    partial = folder.with_name(folder.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    adapters.save_adapter(model, partial / "adapter", settings=settings, tokenizer=tokenizer)
    mx.save_safetensors(str(partial / OPTIMIZER_FILE), dict(tree_flatten(optimizer.state)))
    (partial / STATE_FILE).write_text(json.dumps(state))
    config.save(partial / "config.json")
    (partial / "metrics.json").write_text(json.dumps(metrics))
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def load(folder: Path, *, model, optimizer) -> dict:
    """Restores a checkpoint into a model prepared for training and a fresh optimizer;
    returns the loop's counters. Raises OwnVoiceError for a checkpoint the MLX trainer did
    not write (a torch run's: resume it with the trainer that made it)."""
    if not (folder / OPTIMIZER_FILE).exists():
        raise OwnVoiceError(f"The checkpoint {folder} was not written by the MLX trainer; "
                            "resume the run where it was started.")
    adapters.load_adapter_weights(model, folder / "adapter")
    optimizer.state = tree_unflatten(list(mx.load(str(folder / OPTIMIZER_FILE)).items()))
    return json.loads((folder / STATE_FILE).read_text())
