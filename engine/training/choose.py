"""Choose the checkpoint to export: the lowest validation loss is not the whole story.

Each candidate (the few with the lowest validation loss) translates a handful of
validation pairs; we measure how far its output lengths stray from the user's (a model
that overshoots into caricature writes too much), whether numbers survive, and whether
it stops by itself; a preference (DPO) run's candidates also by their held-out preference
accuracy. The user can override the choice.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

from engine.pairs import filters
from engine.training.config import TrainConfig
from engine.training.data import read_jsonl
from engine.translation import guards


def candidates(output_dir: Path | str, top: int) -> list[dict]:
    found = []
    from engine.training.checkpoint import complete

    for checkpoint in complete(Path(output_dir)):
        metrics = json.loads((checkpoint / "metrics.json").read_text())
        found.append({"path": str(checkpoint), "step": metrics["step"],
                      "val_loss": metrics.get("val_loss"),
                      **({"preference_accuracy": metrics["preference_accuracy"]}
                         if metrics.get("preference_accuracy") is not None else {})})
    with_loss = [c for c in found if c["val_loss"] is not None]
    return sorted(with_loss, key=lambda c: c["val_loss"])[:top] if with_loss else found[-1:]


def score(config: TrainConfig, *, top: int = 3, examples: int = 8) -> list[dict]:
    """Candidates with their measurements, best first (torch + peft adapters)."""
    import torch
    from peft import PeftModel
    from transformers import AutoTokenizer

    from engine.training.base import load_base

    chosen = candidates(config.output_dir, top)
    if not chosen or not config.val_file:
        return chosen
    records = validation_chats(config)[:examples]
    _, base = load_base(config, torch.float32)
    for candidate in chosen:
        adapter = Path(candidate["path"]) / "adapter"
        model = PeftModel.from_pretrained(base, str(adapter))
        model.eval()
        measure(candidate, records, AutoTokenizer.from_pretrained(str(adapter)),
                functools.partial(_greedy, model))
        base = model.unload()  # the base without this adapter, for the next one
    return ranked(chosen)


def validation_chats(config: TrainConfig) -> list[dict]:
    """The validation file as chat records: a preference run's (TRL's preference format)
    as its prompt and the writer's chosen answer."""
    records = read_jsonl(config.val_file)
    if config.objective != "dpo":
        return records
    return [{"messages": [*r["prompt"], r["chosen"][-1]]} for r in records]


def _greedy(model, ids: list[int], budget: int, stop_ids: list[int]) -> list[int]:
    """A transformers model's greedy continuation of `ids` (measure's `generate`)."""
    import torch

    prompt = torch.tensor([ids])
    with torch.no_grad():
        out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt),
                             max_new_tokens=budget, do_sample=False, eos_token_id=stop_ids)
    return out[0, len(ids):].tolist()


def measure(candidate: dict, records: list[dict], tokenizer, generate) -> dict:
    """Adds a candidate's measurements on validation `records` (chat records) and its
    `score` (lower is better). `tokenizer`: the adapter folder's (its chat template);
    `generate(prompt_ids, budget, stop_ids)` → the new token ids, greedy, ending with the
    stop id it emitted (if any) or at `budget` tokens."""
    stop_ids = _stop_ids(tokenizer)
    ratios, drift, stopped = [], [], 0
    for record in records:
        reference = record["messages"][-1]["content"]
        prompt = tokenizer.apply_chat_template(record["messages"][:-1], tokenize=False,
                                               add_generation_prompt=True)
        ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        budget = guards.max_new_tokens(len(tokenizer(reference)["input_ids"]))
        new = generate(ids, budget, stop_ids)
        stopped += _stop_reason(new, stop_ids, budget) == guards.StopReason.STOP
        text = tokenizer.decode(new, skip_special_tokens=True).strip()
        ratios.append(abs(math.log(max(len(text), 1) / max(len(reference), 1))))
        drift.append(0.0 if filters.check_numbers(reference, text) is None else 1.0)
    candidate.update(length_drift=round(sum(ratios) / len(ratios), 4),
                     number_drift=round(sum(drift) / len(drift), 4),
                     stop_rate=round(stopped / len(records), 4))
    candidate["score"] = round((candidate["val_loss"] or 0.0) + 0.5 * candidate[
        "length_drift"] + 0.5 * candidate["number_drift"] + (1 - candidate["stop_rate"])
        + (1 - candidate.get("preference_accuracy", 1.0)), 4)
    return candidate


def ranked(chosen: list[dict]) -> list[dict]:
    """Measured candidates, best (lowest score) first."""
    return sorted(chosen, key=lambda c: c["score"])


def _stop_reason(new, stop_ids: list[int], budget: int) -> guards.StopReason:
    """Why generate() ended: it emitted an end-of-turn token (`stop`; generate ends on the
    first one, so it is the last token), or it ran to the budget (`length`)."""
    if (len(new) and int(new[-1]) in stop_ids) or len(new) < budget:
        return guards.StopReason.STOP
    return guards.StopReason.LENGTH


def _stop_ids(tokenizer) -> list[int]:
    from engine.training.base import end_of_turn_ids

    return end_of_turn_ids(tokenizer)
