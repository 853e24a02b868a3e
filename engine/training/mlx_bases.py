"""Bases known to train on a Mac with MLX (`ownvoice train --on mac`), and those known not
to: the Train page's base picker offers the first, tested ones first; choosing one of the
second gets a one-line warning before anything starts.

Only what has a source is listed. `source` says where the claim comes from: "tested here"
(OwnVoice's own tests train it) or "reported" with the report's address.
"""

from __future__ import annotations

from dataclasses import dataclass

MLX_LM_1206 = "https://github.com/ml-explore/mlx-lm/issues/1206"


@dataclass(frozen=True)
class KnownBase:
    model: str          # a Hugging Face id (an MLX conversion) as --base takes it
    size: str           # for people: parameters and quantisation
    trains: bool        # False: known to fail (the note says how)
    note: str
    source: str         # "tested here", or "reported: ADDRESS"

    @property
    def tested(self) -> bool:
        return self.source == "tested here"


KNOWN = (
    KnownBase("mlx-community/Qwen3-4B-4bit", "4B, 4-bit", True,
              "trains in 7.9 GB peak on an 18 GB M3 Pro (batch 4, LoRA on 16 layers, "
              "gradient checkpointing)", f"reported: {MLX_LM_1206}"),
    KnownBase("mlx-community/Qwen3.5-4B-4bit", "4B, 4-bit", False,
              "runs out of memory at the first backward pass whatever the settings "
              "(M1 Pro, M3 Pro, M5 Max)", f"reported: {MLX_LM_1206}"),
    KnownBase("mlx-community/Qwen3.5-9B-4bit", "9B, 4-bit", False,
              "runs out of memory at the first backward pass (M5 Max, M1 Pro)",
              f"reported: {MLX_LM_1206}"),
)


def trainable() -> list[KnownBase]:
    """The bases known to train, tested ones first (the base picker's list)."""
    return sorted((b for b in KNOWN if b.trains), key=lambda b: not b.tested)


def warning_for(base_model: str | None) -> str | None:
    """One line when `base_model` is known not to train with MLX; None otherwise. A known
    failing family is matched by name (any Qwen3.5 4-bit conversion)."""
    if not base_model:
        return None
    name = base_model.rstrip("/").rsplit("/", 1)[-1].lower()
    for known in KNOWN:
        if not known.trains and (known.model.lower() == base_model.lower()
                                 or (name.startswith("qwen3.5-") and "4bit" in name)):
            return (f"{base_model}: {known.note} ({known.source}); "
                    f"{trainable()[0].model} is known to train.")
    return None
