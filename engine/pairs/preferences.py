"""The writer's judgments as preference pairs: (source, chosen, rejected), for DPO.

Every judgment the app collects says which of two texts the writer prefers for a source:

- a **correction**: each paragraph the writer changed — their words (chosen) over the
  model's (rejected); weighted as corrections are (engine/pairs/corrections.py);
- a **choice**: "show me another" on the Translate page — two samples, one click;
- a **blind** "which is better?" trial of `ownvoice compare` (engine/evaluation/blind.py);
  "which one did you write?" is a recognition test, not a preference, and gives none;
- **ratings**: a source translated more than once, one output liked (▲) and another
  disliked (▼): each liked one over each disliked one.

The split follows the document, as everywhere: a translated text's paragraphs share the
split of the whole text (`split_for_text`). A blind trial's preference is always `test`,
whatever its pair's split (`compare` may measure on training documents held out when a
corpus has no test split): the writer's blind judgments measure models, never train them.

Exported in TRL's conversational preference format: `prompt` (the same system and user
messages as the supervised dataset, engine/pairs/dataset.py), `chosen` and `rejected`
(one assistant message each), plus OwnVoice's `weight`, `preference_id` and `origin`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine import files, jsonl, llm
from engine.corpus.split import split_for
from engine.errors import OwnVoiceError
from engine.pairs.corrections import CORRECTION_WEIGHT
from engine.translation import prompts

ORIGINS = ("correction", "choice", "blind", "rating")
WEIGHTS = {"correction": CORRECTION_WEIGHT, "choice": 1.0, "blind": 1.0, "rating": 1.0}


def split_for_text(source_text: str) -> str:
    """The split of a translated text and of every preference made from it: a hash of the
    whole text, as a corpus document's key is hashed (engine/corpus/split.py)."""
    digest = hashlib.sha256(source_text.strip().encode("utf-8")).hexdigest()
    return split_for(f"translation:{digest}")


def _preference(origin: str, source_lang, target_lang, source: str, chosen: str,
                rejected: str, split: str, **links) -> dict | None:
    """One preference row, or None when there is nothing to prefer (an empty side, or two
    texts that differ only in surrounding white space)."""
    if not source.strip() or not chosen.strip() or not rejected.strip() \
            or chosen.strip() == rejected.strip():
        return None
    return {"origin": origin, "source_lang": source_lang, "target_lang": target_lang,
            "source_text": source, "chosen_text": chosen.strip(),
            "rejected_text": rejected.strip(), "weight": WEIGHTS[origin], "split": split,
            "translation_id": links.get("translation_id"),
            "other_translation_id": links.get("other_translation_id"),
            "blind_trial_id": links.get("blind_trial_id"), "pair_id": links.get("pair_id"),
            "meta": links.get("meta") or {}}


def from_correction(translation: dict, pairs: list[dict]) -> list[dict]:
    """A correction's preferences: for each correction pair (corrections.correction_pairs)
    the writer's text over the machine output it replaced."""
    split = split_for_text(translation["source_text"])
    found = [_preference("correction", p["source_lang"], p["target_lang"], p["source_text"],
                         p["target_text"], (p.get("meta") or {}).get("machine_output") or "",
                         split, translation_id=translation["id"],
                         meta={k: v for k, v in (p.get("meta") or {}).items()
                               if k == "paragraph"})
             for p in pairs]
    return [p for p in found if p]


def from_choice(translation: dict, chosen: str, rejected: str) -> dict | None:
    """"Show me another": the writer picked `chosen` over `rejected` for the translation's
    source."""
    return _preference("choice", translation["source_lang"], translation["target_lang"],
                       translation["source_text"], chosen, rejected,
                       split_for_text(translation["source_text"]),
                       translation_id=translation["id"])


def from_blind(trial: dict, pair: dict | None) -> dict | None:
    """An answered "which is better?" trial; its pair gives the source text and languages;
    the split is always `test` (held out). None for the other question, an unanswered trial
    or a pair since deleted."""
    if trial.get("question") != "better" or trial.get("choice") not in ("left", "right") \
            or pair is None:
        return None
    chosen, rejected = ((trial["left_text"], trial["right_text"])
                        if trial["choice"] == "left" else
                        (trial["right_text"], trial["left_text"]))
    systems = {"chosen": trial[f"{trial['choice']}_system"],
               "rejected": trial["right_system" if trial["choice"] == "left"
                                 else "left_system"]}
    return _preference("blind", pair["source_lang"], pair["target_lang"], pair["source_text"],
                       chosen, rejected, "test", blind_trial_id=trial["id"],
                       pair_id=pair["id"], meta={"systems": systems})


def from_ratings(translations: list[dict]) -> list[dict]:
    """Translations of one source (same text, same target language): every output rated
    ▲ over every output rated ▼."""
    liked = [t for t in translations if t.get("rating") == 1]
    disliked = [t for t in translations if t.get("rating") == -1]
    found = [_preference("rating", good["source_lang"], good["target_lang"],
                         good["source_text"], good["output_text"], bad["output_text"],
                         split_for_text(good["source_text"]), translation_id=good["id"],
                         other_translation_id=bad["id"])
             for good in liked for bad in disliked]
    return [p for p in found if p]


def key_of(row: dict) -> str:
    """What names a preference: its origin, the judgment it comes from and its two texts."""
    digest = hashlib.sha256("\x00".join(
        (row["source_text"], row["chosen_text"], row["rejected_text"])).encode()).hexdigest()
    links = ":".join(str(row.get(k) or "") for k in ("translation_id", "other_translation_id",
                                                     "blind_trial_id"))
    return f"{row['origin']}:{links}:{digest[:32]}"


def sync(store) -> tuple[int, int]:
    """Make the stored corrections', ratings' and blind trials' preferences exactly what
    those judgments give now (a correction edited again, a rating changed, a trial
    answered), keeping the rows that stay (and whether they are excluded); choices are
    judgments themselves and stay. Returns (added, removed)."""
    wanted: dict[str, dict] = {}
    found: list[dict] = []
    for translation in store.corrected_translations():
        found += from_correction(translation, store.pairs(origin="correction",
                                                          translation_id=translation["id"]))
    by_source: dict[tuple, list[dict]] = {}
    for row in store.rated_translations():
        by_source.setdefault((row["source_text"].strip(), row["target_lang"]), []).append(row)
    for group in by_source.values():
        found += from_ratings(group)
    for trial, pair in store.answered_better_trials():
        found += [p for p in [from_blind(trial, pair)] if p]
    for row in found:
        wanted[key_of(row)] = row
    return store.replace_derived_preferences(wanted)


def add_choice(store, translation: dict, chosen: str, rejected: str) -> int | None:
    """Store a "show me another" choice for a history translation; its id, or None when the
    two texts are the same (nothing was chosen). The same choice again changes nothing."""
    found = from_choice(translation, chosen, rejected)
    return None if found is None else store.insert_preference(key_of(found), found)


def training(store, split: str) -> list[dict]:
    """The split's preferences that train (not excluded), after a sync with the judgments
    as they are now."""
    sync(store)
    return [p for p in store.preferences(split=split) if not p["excluded"]]


def stats(store) -> dict:
    """{"splits": {split: {origin: n}}, "excluded": n} after a sync (none in a read-only
    data folder: the counts are then those stored)."""
    if not store.read_only:
        sync(store)
    return store.preference_counts()


def judged(record: Callable) -> Callable:
    """A writer's judgment that also keeps the preferences in step: `record(store)` (a
    rating, a correction, a blind answer), then `sync` — both on the worker that writes, so
    the pages only read the counts (`store.preference_counts()`)."""
    def save(ctx):
        result = record(ctx.store)
        sync(ctx.store)
        return result

    return save


def messages_for(preference: dict) -> dict:
    """The TRL conversational preference record of one preference: `prompt` [system, user]
    as the supervised dataset writes them, `chosen` and `rejected` one assistant message
    each."""
    return {"prompt": prompts.chat_messages(preference["source_text"],
                                            preference["source_lang"],
                                            preference["target_lang"], voice=True),
            "chosen": [{"role": "assistant", "content": preference["chosen_text"]}],
            "rejected": [{"role": "assistant", "content": preference["rejected_text"]}]}


def split_validation(train: list[dict], val: list[dict]) -> tuple[list[dict], list[dict]]:
    """(train, validation): without validation preferences, about a tenth of the training
    sources (at least one; by a hash, so the choice never moves) are held out whole, as
    dataset.split_validation holds out documents."""
    if val:
        return train, val
    sources = sorted({p["source_text"].strip() for p in train},
                     key=lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest())
    if len(sources) < 2:
        return train, []
    held = set(sources[:max(1, len(sources) // 10)])
    return ([p for p in train if p["source_text"].strip() not in held],
            [p for p in train if p["source_text"].strip() in held])


@dataclass
class ExportReport:
    path: str
    preferences: int
    tokens: int


def export(store, *, split: str, out: Path,
           preferences: list[dict] | None = None) -> ExportReport:
    """The split's preferences (not excluded; or the `preferences` given) as JSONL in TRL's
    conversational preference format, with `weight`, `preference_id` and `origin`; written
    atomically. Raises OwnVoiceError when there are none."""
    if preferences is None:
        preferences = training(store, split)
    if not preferences:
        raise OwnVoiceError(f"No {split} preferences yet: correct, rate or choose between "
                            "translations (Translate page).")
    tokens = 0
    with files.atomic_write(Path(out)) as f:
        for preference in preferences:
            record = messages_for(preference)
            tokens += sum(llm.estimate_tokens(m["content"])
                          for side in ("prompt", "chosen", "rejected") for m in record[side])
            f.write(jsonl.line({**record, "weight": preference["weight"],
                                "preference_id": preference["id"],
                                "origin": preference["origin"]}) + "\n")
    return ExportReport(path=str(out), preferences=len(preferences), tokens=tokens)
