"""Checkpoints: the adapter, the optimizer, the scheduler, the loop's counters and every
process's random state — all a resumed run needs to continue exactly.

A checkpoint is written under a `.part` name and renamed when complete, so a kill at any
moment leaves either a whole checkpoint or none.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path


def complete(output: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    return sorted(p for p in (Path(output) / "checkpoints").glob("step-*")
                  if not p.name.endswith(".part"))


def _rng_state(cuda: bool) -> dict:
    import torch

    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if cuda else None}


def save(accelerator, folder: Path, *, model, tokenizer, optimizer, scheduler, state: dict,
         config, metrics: dict) -> Path:
    """Every process writes its random state; the main process writes the rest."""
    import torch

    partial = folder.with_name(folder.name + ".part")
    if accelerator.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    accelerator.wait_for_everyone()
    torch.save(_rng_state(torch.cuda.is_available()),
               partial / f"rng-{accelerator.process_index}.pt")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(partial / "adapter")
        tokenizer.save_pretrained(partial / "adapter")
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    **state}, partial / "trainer_state.pt")
        config.save(partial / "config.json")
        (partial / "metrics.json").write_text(json.dumps(metrics))
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    accelerator.wait_for_everyone()
    return folder


def load(accelerator, folder: Path, *, model, optimizer, scheduler) -> dict:
    """Restore a checkpoint into the prepared objects; returns the loop's counters.

    `weights_only=True`: a checkpoint is tensors, numbers and containers, never pickled
    code — a checkpoint folder from elsewhere (a box, a download) cannot run anything."""
    import pickle

    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    from engine.errors import OwnVoiceError

    try:
        state = torch.load(folder / "trainer_state.pt", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise OwnVoiceError(f"The checkpoint {folder} holds more than tensors and numbers "
                            "(it may not come from OwnVoice); it was not loaded. Delete it to "
                            "resume from the one before.") from exc
    set_peft_model_state_dict(accelerator.unwrap_model(model),
                              load_file(folder / "adapter" / "adapter_model.safetensors"))
    optimizer.load_state_dict(state.pop("optimizer"))
    scheduler.load_state_dict(state.pop("scheduler"))
    rng = torch.load(folder / f"rng-{accelerator.process_index}.pt", weights_only=True)
    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return state
