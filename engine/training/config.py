"""The training job's configuration: a dataclass loaded from JSON, unknown keys refused.

The resolved configuration (defaults filled in) is saved beside every checkpoint, so a
checkpoint always says how it was made.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from engine.errors import OwnVoiceError

# LoRA defaults per model family: attention and MLP projections, a moderate rank.
FAMILY_TARGETS = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen3": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "gemma3_text": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                    "down_proj"],
    "gemma3": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


@dataclass
class TrainConfig:
    base_model: str = field(metadata={"help": "HF model id, a local folder, or a .gguf file"})
    train_file: str = field(metadata={"help": "chat JSONL (ownvoice dataset export)"})
    output_dir: str = field(metadata={"help": "checkpoints, progress.jsonl, the adapter"})
    val_file: str | None = field(default=None, metadata={"help": "validation chat JSONL"})
    epochs: float = field(default=1.0, metadata={"help": "passes over the data"})
    max_steps: int | None = field(default=None, metadata={"help": "stop after N steps"})
    learning_rate: float = field(default=2e-4, metadata={"help": "peak learning rate"})
    warmup_steps: int = field(default=0, metadata={"help": "linear warm-up steps"})
    batch_size: int = field(default=4, metadata={"help": "examples per device step"})
    grad_accum: int = field(default=1, metadata={"help": "steps per optimizer update"})
    max_length: int = field(default=1024, metadata={"help": "longer examples are cut"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    target_modules: list[str] | None = field(default=None,
                                             metadata={"help": "default: per model family"})
    lora_layers: int | None = field(default=None, metadata={
        "help": "LoRA on the last N transformer layers only (default: every layer; the "
                "memory check lowers it when a run would not fit)"})
    train_end_of_turn: bool = field(default=True, metadata={
        "help": "train the end-of-turn token's embedding (base models never learnt it)"})
    evals_per_epoch: int = field(default=4, metadata={"help": "validation and checkpoints"})
    early_stopping_patience: int = field(default=2, metadata={
        "help": "stop after this many evaluations without a better validation loss"})
    seed: int = field(default=0, metadata={"help": "data order and initialisation"})
    num_workers: int = field(default=2, metadata={"help": "data loading processes"})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "trade compute "
                                                                           "for memory"})
    packing: str = field(default="auto", metadata={
        "help": "on: each micro-batch's examples end to end in one row, no padding; off: one "
                "row per example, padded to the longest (the same loss either way); auto: "
                "packed where attention runs packed rows as separate sequences "
                "(flash-attention), padded where it would compute the row's whole square "
                "(sdpa, eager: slower than the few pad tokens of length-grouped batches)"})
    attention: str = field(default="auto", metadata={
        "help": "auto (flash_attention_2 on a bf16 GPU when flash-attn is installed, else "
                "transformers' default, sdpa), sdpa, eager, flash_attention_2, "
                "flash_attention_3"})
    dtype: str = field(default="auto", metadata={"help": "auto (bf16 on GPUs that have "
                                                         "it, else fp32), bf16, fp32"})
    chat_template: str | None = field(default=None, metadata={
        "help": "for base models without one; embedded in the exported GGUF too"})
    objective: str = field(default="sft", metadata={
        "help": "sft: learn the answers of chat examples; dpo: learn the writer's preferences "
                "(TRL preference JSONL: prompt, chosen, rejected) starting from "
                "`init_adapter`, which is also the frozen reference"})
    init_adapter: str | None = field(default=None, metadata={
        "help": "dpo: the supervised LoRA adapter folder the run starts from"})
    dpo_beta: float = field(default=0.1, metadata={
        "help": "dpo: how far from the reference the preferences may pull (higher: closer)"})

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise OwnVoiceError(f"Unknown training option(s) {unknown}. Known: {sorted(known)}")
        try:
            return cls(**values)
        except TypeError as exc:  # a required option is missing
            raise OwnVoiceError(f"Incomplete training job: {exc}") from exc

    @classmethod
    def load(cls, path: Path | str, **overrides) -> TrainConfig:
        try:
            values = json.loads(Path(path).read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise OwnVoiceError(f"Cannot read the training job {path}: {exc}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    def __post_init__(self) -> None:
        if self.objective not in ("sft", "dpo"):
            raise OwnVoiceError(f"objective must be sft or dpo, not {self.objective!r}.")
        if self.objective == "dpo" and not self.init_adapter:
            raise OwnVoiceError("A dpo run starts from a supervised adapter: set init_adapter "
                                "to its folder.")
        if self.dpo_beta <= 0:
            raise OwnVoiceError(f"dpo_beta must be above 0, not {self.dpo_beta}.")

    def resolved(self, family: str | None) -> TrainConfig:
        if self.target_modules is None:
            self.target_modules = FAMILY_TARGETS.get(family or "", ["q_proj", "v_proj"])
        return self

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False))
