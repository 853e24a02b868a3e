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
    """One line when `base_model` is known not to train with MLX: its own entry's note, or
    for another conversion of a family known to fail (any Qwen3.5 4-bit) the family's; None
    otherwise."""
    if not base_model:
        return None
    failing = [b for b in KNOWN if not b.trains]
    fallback = trainable()[0].model
    for known in failing:
        if known.model.lower() == base_model.lower():
            return f"{base_model}: {known.note} ({known.source}); {fallback} is known to train."
    name = base_model.rstrip("/").rsplit("/", 1)[-1].lower()
    if name.startswith("qwen3.5-") and "4bit" in name:
        sizes = ", ".join(b.size.split(",")[0] for b in failing if "qwen3.5" in b.model.lower())
        return (f"{base_model}: Qwen3.5 4-bit bases ({sizes}) are reported to run out of memory "
                f"at the first backward pass whatever the settings ({MLX_LM_1206}); "
                f"{fallback} is known to train.")
    return None
