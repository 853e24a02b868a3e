"""Chat examples → token ids with an assistant-only loss mask, a reproducible order, and
micro-batches packed end to end (or padded).

The chat template of the tokenizer formats every example (the template the model will
see at inference). Its own text is tokenized with special tokens parsed, the messages'
texts as plain text (engine.translation.chat_template, as at inference): a pair whose text
says "<|im_end|>" does not teach the model an extra turn. The loss covers the assistant's
tokens only, its end-of-turn token included: a model that never learns to emit that token
never stops talking.

A micro-batch is either packed (`pack`: its examples end to end in one row, position ids
restarting at 0 for each; no padding) or padded (`collate`: one row per example, padded to
the longest). Both hold the same examples and give the same loss.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from engine.errors import OwnVoiceError
from engine.translation import chat_template

IGNORE = -100  # label of tokens the loss ignores


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    weight: float


def read_jsonl(path: Path | str) -> list[dict]:
    records = []
    with Path(path).open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise OwnVoiceError(f"{path} line {number} is not JSON ({exc.msg}).") \
                        from exc
    if not records:
        raise OwnVoiceError(f"{path} holds no examples.")
    return records


def template_ids(tokenizer, messages: list[dict], *,
                 add_generation_prompt: bool = False) -> list[int]:
    """The conversation's token ids through the tokenizer's chat template: the template's
    text with special tokens parsed, the messages' texts as plain text."""
    def render(conversation: list[dict]) -> str:
        return tokenizer.apply_chat_template(conversation, tokenize=False,
                                             add_generation_prompt=add_generation_prompt)

    def encode(text: str, special: bool) -> list[int]:
        # add_special_tokens=False: the template writes its own bos, as apply_chat_template.
        return list(tokenizer(text, add_special_tokens=False,
                              split_special_tokens=not special)["input_ids"])

    layout = chat_template.layout_of(render, messages, name="the base model's tokenizer")
    return chat_template.token_ids(layout.fill([m["content"] for m in messages]), encode)


def encode(tokenizer, record: dict, max_length: int) -> Example:
    messages = record["messages"]
    if messages[-1]["role"] != "assistant":
        raise OwnVoiceError("Every training example must end with the assistant's answer.")
    full = template_ids(tokenizer, messages)
    prompt = template_ids(tokenizer, messages[:-1], add_generation_prompt=True)
    if full[:len(prompt)] != prompt:
        raise OwnVoiceError("The chat template renders the prompt differently with and without "
                            "the answer; cannot tell the answer's tokens apart.")
    labels = [IGNORE] * len(prompt) + full[len(prompt):]
    return Example(input_ids=full[:max_length], labels=labels[:max_length],
                   weight=float(record.get("weight", 1.0)))


def encode_files(tokenizer, config) -> tuple[list[Example], list[Example]]:
    """The job's training and validation examples (`config.train_file`, `val_file`: chat
    JSONL; no validation file: none), cut to `config.max_length` tokens."""
    def encoded(path) -> list[Example]:
        return [encode(tokenizer, record, config.max_length) for record in read_jsonl(path)]

    return encoded(config.train_file), encoded(config.val_file) if config.val_file else []


def batch_order(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Batches of similar length (less padding), in an order fixed by (seed, epoch): a resumed
    run sees exactly the batches the interrupted one would have seen."""
    rng = random.Random(seed * 1000 + epoch)
    indices = list(range(len(lengths)))
    rng.shuffle(indices)
    pool = batch_size * 50  # sort by length within pools of 50 batches
    ordered: list[int] = []
    for start in range(0, len(indices), pool):
        ordered += sorted(indices[start:start + pool], key=lambda i: lengths[i])
    batches = [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]
    rng.shuffle(batches)
    return batches


def step_plan(lengths: list[int], batch_size: int, seed: int, epoch: int, *,
              accumulate: int = 1, processes: int = 1) -> list[list[list[int]]]:
    """One epoch as optimizer steps, each `accumulate` micro-batches per process; process p
    takes micro-batches p, p + processes, … of every step. A short last step is topped up
    from the epoch's first batches so that every process has work (DDP waits for all)."""
    batches = batch_order(lengths, batch_size, seed, epoch)
    per_step = max(1, accumulate) * max(1, processes)
    steps = [batches[i:i + per_step] for i in range(0, len(batches), per_step)]
    short = -len(steps[-1]) % processes if steps else 0
    if short:
        steps[-1] = steps[-1] + [batches[i % len(batches)] for i in range(short)]
    return steps


def padded(examples: list[Example], pad_id: int) -> dict:
    """A micro-batch as one row per example, padded at the end to the longest with `pad_id`:
    numpy int64 `input_ids`, `labels` (IGNORE on padding), `attention_mask` of shape [B, L]
    and float32 `weights` [B]. What `collate` (torch) and the MLX trainer both hand on."""
    import numpy as np

    width = max(len(e.input_ids) for e in examples)
    ids = np.full((len(examples), width), pad_id, dtype=np.int64)
    labels = np.full((len(examples), width), IGNORE, dtype=np.int64)
    mask = np.zeros((len(examples), width), dtype=np.int64)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        ids[row, :n] = example.input_ids
        labels[row, :n] = example.labels[:n]
        mask[row, :n] = 1
    weights = np.array([e.weight for e in examples], dtype=np.float32)
    return {"input_ids": ids, "labels": labels, "attention_mask": mask, "weights": weights}


def collate(examples: list[Example], pad_id: int):
    """`padded` as torch tensors: int64 `input_ids`, `labels`, `attention_mask` [B, L] and
    float32 `weights` [B]."""
    import torch

    return {key: torch.from_numpy(value) for key, value in padded(examples, pad_id).items()}


def pack(examples: list[Example]):
    """A micro-batch as one row, without padding: the examples end to end.

    Returns int64 `input_ids`, `labels`, `position_ids` and float32 `weights` (each token's
    pair weight), all of shape [1, T] with T = the examples' total length, and int32
    `cu_seq_lens` [n + 1] (where each example starts, then T: what flash-attention's
    variable-length kernels take, so they need not infer it in every layer). Position ids
    restart at 0 at every example's first token; transformers reads each restart as a new
    sequence, so no token attends across an example's boundary (a block-diagonal causal
    mask under eager and sdpa attention, cu_seqlens under flash-attention), provided the
    forward pass gets no `attention_mask` and no cache (`use_cache=False`). Each example's
    first label is IGNORE: the token before it belongs to another example, and in a padded
    batch nothing predicts a row's first token either.
    """
    import torch

    ids, labels, positions, weights, starts = [], [], [], [], [0]
    for example in examples:
        n = len(example.input_ids)
        ids += example.input_ids
        labels += [IGNORE] + list(example.labels[1:n])
        positions += range(n)
        weights += [example.weight] * n
        starts.append(starts[-1] + n)
    return {"input_ids": torch.tensor([ids], dtype=torch.long),
            "labels": torch.tensor([labels], dtype=torch.long),
            "position_ids": torch.tensor([positions], dtype=torch.long),
            "weights": torch.tensor([weights], dtype=torch.float32),
            "cu_seq_lens": torch.tensor(starts, dtype=torch.int32)}


def padding_fraction(lengths: list[int], batches: list[list[int]]) -> float:
    """Pad tokens / all tokens (0–1) when every batch is padded to its longest example
    (`collate`); packed batches (`pack`) have none. `batches`: lists of indices into
    `lengths` (token counts)."""
    real = sum(lengths[i] for batch in batches for i in batch)
    total = sum(len(batch) * max(lengths[i] for i in batch) for batch in batches if batch)
    return 1 - real / total if total else 0.0
