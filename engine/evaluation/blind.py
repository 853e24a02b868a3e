"""The blind test: two texts, unlabelled, in random order; the user picks.

- "Which one did you write?" — your original against a system's output. A system that is
  taken for you often sounds like you (recognition rate: how often you still find yours).
- "Which is better?" — the first system against each other one on the same paragraph.

Every choice is stored (preference data for later training).
"""

from __future__ import annotations

import random
from collections import defaultdict

from engine.errors import OwnVoiceError
from engine.evaluation.metrics import YOURS

QUESTIONS = {"yours": "Which one did you write?", "better": "Which one is better?"}


def make_trials(store, comparison_id: int, *, seed: int = 0) -> int:
    """Trials for a stored comparison (once); returns how many are waiting."""
    if store.blind_trials(comparison_id):
        return len(store.blind_trials(comparison_id, answered=False))
    comparison = store.comparison(comparison_id)
    if comparison is None:
        raise OwnVoiceError(f"No comparison {comparison_id}.")
    by_pair: dict[int, dict[str, str]] = defaultdict(dict)
    for row in comparison["outputs"]:
        by_pair[row["pair_id"]][row["system"]] = row["output"]
    systems = [m["system"] for m in comparison["metrics"] if m["system"] != YOURS]
    if not systems:
        raise OwnVoiceError("This comparison has no system to test blind.")
    rng = random.Random(seed * 7919 + comparison_id)
    trials = []
    for pair_id, texts in sorted(by_pair.items()):
        candidates = [(s, texts[s]) for s in systems if s in texts]
        pairs = [("yours", (YOURS, texts[YOURS]), rng.choice(candidates))]
        first = candidates[0]
        pairs += [("better", first, other) for other in candidates[1:]]
        for question, a, b in pairs:
            if a[1].strip() == b[1].strip():
                continue  # identical texts: nothing to choose
            left, right = (a, b) if rng.random() < 0.5 else (b, a)
            trials.append({"comparison_id": comparison_id, "pair_id": pair_id,
                           "question": question, "left_system": left[0],
                           "right_system": right[0], "left_text": left[1],
                           "right_text": right[1]})
    rng.shuffle(trials)
    store.add_blind_trials(trials)
    return len(trials)


def results(store, comparison_id: int) -> dict:
    """Recognition and win rates from the answered trials."""
    taken = defaultdict(lambda: [0, 0])  # system: [taken for yours, shown against yours]
    wins = defaultdict(lambda: [0, 0])  # system: [won, played]
    found = shown = 0
    for trial in store.blind_trials(comparison_id, answered=True):
        chosen = trial["left_system"] if trial["choice"] == "left" else trial["right_system"]
        if trial["question"] == "yours":
            system = (trial["right_system"] if trial["left_system"] == YOURS
                      else trial["left_system"])
            shown += 1
            found += chosen == YOURS
            taken[system][1] += 1
            taken[system][0] += chosen == system
        else:
            for system in (trial["left_system"], trial["right_system"]):
                wins[system][1] += 1
                wins[system][0] += chosen == system
    return {"answered": len(store.blind_trials(comparison_id, answered=True)),
            "waiting": len(store.blind_trials(comparison_id, answered=False)),
            "recognition_rate": round(found / shown, 3) if shown else None,
            "taken_for_yours": {s: round(a / b, 3) for s, (a, b) in taken.items() if b},
            "win_rate": {s: round(a / b, 3) for s, (a, b) in wins.items() if b}}
