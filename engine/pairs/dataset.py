"""Pairs → JSONL for fine-tuning: chat format for OwnVoice's trainer, or OpenAI's format.

Every example is the conversation the model will see at inference: the short voice
system prompt (engine.translation.prompts.VOICE_PROMPT, only the direction: the weights learn
the rest), the machine-flavoured text as the user turn, the user's
own words as the assistant turn. The split follows the document split; corrections
count `weight` times more.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from engine import files, jsonl, llm
from engine.errors import OwnVoiceError
from engine.translation import prompts

# OpenAI's chat fine-tuning data format (platform docs, "Preparing your dataset").
OPENAI_ROLES = {"system", "user", "assistant"}
OPENAI_MESSAGE_KEYS = {"role", "content", "name", "weight"}
OPENAI_MIN_EXAMPLES = 10
OPENAI_MAX_EXAMPLE_TOKENS = 65_536  # gpt-4o-mini / gpt-4.1 family context for training


# The system prompt every dataset is written with; a job records it (JobMeta.prompt) and the
# model it makes is registered with it (model meta "prompt"), so translation matches training.
PROMPT = prompts.VOICE


def messages_for(pair: dict) -> list[dict]:
    """[system, user, assistant]: the voice prompt, the source text, the writer's words."""
    return [*prompts.chat_messages(pair["source_text"], pair["source_lang"], pair["target_lang"],
                                   voice=True),
            {"role": "assistant", "content": pair["target_text"]}]


@dataclass
class ExportReport:
    path: str
    examples: int
    pairs: int
    tokens: int


def export(store, *, split: str, fmt: str, out: Path,
           pairs: list[dict] | None = None) -> ExportReport:
    """The split's pairs (or the `pairs` given) as JSONL, written atomically."""
    if fmt not in ("chat", "openai"):
        raise OwnVoiceError(f"Unknown format {fmt!r}: use chat or openai.")
    pairs = store.training_pairs(split=split) if pairs is None else pairs
    if not pairs:
        raise OwnVoiceError(f"No {split} pairs yet: make some with `ownvoice synth`.")
    out = Path(out)
    examples = tokens = 0
    with files.atomic_write(out) as f:  # never a half-written dataset under the final name
        for pair in pairs:
            messages = messages_for(pair)
            size = sum(llm.estimate_tokens(m["content"]) for m in messages)
            if fmt == "chat":
                records = [{"messages": messages, "weight": pair["weight"],
                            "pair_id": pair["id"], "origin": pair["origin"]}]
            else:  # OpenAI has no per-example weight: a correction appears `weight` times
                records = [{"messages": messages}] * max(1, round(pair["weight"]))
            for record in records:
                f.write(jsonl.line(record) + "\n")
                examples += 1
                tokens += size
    return ExportReport(path=str(out), examples=examples, pairs=len(pairs), tokens=tokens)


def validate_openai(path: Path, *, min_examples: int = OPENAI_MIN_EXAMPLES) -> list[str]:
    """The checks of OpenAI's chat fine-tuning format guide; returns the problems found."""
    problems: list[str] = []
    count = 0
    with Path(path).open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            count += 1
            where = f"line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not JSON ({exc.msg})")
                continue
            messages = record.get("messages") if isinstance(record, dict) else None
            if not isinstance(messages, list) or not messages:
                problems.append(f"{where}: no 'messages' list")
                continue
            if set(record) - {"messages"}:
                problems.append(f"{where}: unexpected keys {sorted(set(record) - {'messages'})}")
            for message in messages:
                if not isinstance(message, dict) or "role" not in message \
                        or "content" not in message:
                    problems.append(f"{where}: a message without role or content")
                    continue
                if message["role"] not in OPENAI_ROLES:
                    problems.append(f"{where}: unknown role {message['role']!r}")
                if set(message) - OPENAI_MESSAGE_KEYS:
                    problems.append(f"{where}: unexpected message keys "
                                    f"{sorted(set(message) - OPENAI_MESSAGE_KEYS)}")
                if not isinstance(message["content"], str) or not message["content"].strip():
                    problems.append(f"{where}: empty {message['role']} content")
            if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
                problems.append(f"{where}: no assistant message")
            tokens = sum(llm.estimate_tokens(str(m.get("content", ""))) for m in messages
                         if isinstance(m, dict))
            if tokens > OPENAI_MAX_EXAMPLE_TOKENS:
                problems.append(f"{where}: about {tokens} tokens, over the "
                                f"{OPENAI_MAX_EXAMPLE_TOKENS} limit")
    if count < min_examples:
        problems.append(f"{count} example(s): OpenAI needs at least {min_examples}")
    return problems


def stats(store, *, model: str = "gpt-4o-mini-2024-07-18") -> dict:
    """Pairs and tokens per split, and what an OpenAI fine-tune on them would cost."""
    splits = {}
    for split in ("train", "val", "test"):
        pairs = store.training_pairs(split=split)
        tokens = sum(sum(llm.estimate_tokens(m["content"]) for m in messages_for(p))
                     * max(1, round(p["weight"])) for p in pairs)
        splits[split] = {"pairs": len(pairs), "tokens": tokens}
    price = (llm.price_for(model) or {}).get("training")
    train_tokens = splits["train"]["tokens"]
    return {
        "splits": splits,
        "model": model,
        "openai_fine_tune_usd": {f"{epochs}_epochs": round(train_tokens * epochs * price / 1e6, 4)
                                 for epochs in (1, 2, 3)} if price else None,
        **store.pair_stats(),
    }


def split_validation(train: list[dict], val: list[dict]) -> tuple[list, list, int]:
    """(train, validation, documents held out). A small corpus often has no validation
    document (they are 5 % of documents): then about a tenth of the training documents,
    at least one, are held out whole, chosen by a hash so the choice never moves.
    Without validation there is no early stopping and no proof the model got better."""
    if val:
        return train, val, 0
    documents = sorted({p["document_id"] for p in train if p["document_id"] is not None},
                       key=lambda d: hashlib.sha256(str(d).encode()).hexdigest())
    if len(documents) < 2:
        return train, [], 0
    held = set(documents[:max(1, len(documents) // 10)])
    return ([p for p in train if p["document_id"] not in held],
            [p for p in train if p["document_id"] in held], len(held))
