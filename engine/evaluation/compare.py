"""`ownvoice compare`: every system on the same held-out paragraphs, scored, stored, reported.

The held-out paragraphs are the test split's pairs (the validation split's when the test
split has none), in their main language direction: the systems translate their input side;
the user's original is the reference. Inputs from the writer's published translations were
written by a person, synthetic ones by a model: each system is also scored on each kind
apart (`SystemScores.by_origin`). The voice classifier and the AI-tone lexicon are learnt
from the training split only — the user's originals against a plain-prompt machine
translation of the same paragraphs — so no held-out paragraph is ever seen by the judge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import OwnVoiceError
from engine.evaluation import baselines
from engine.evaluation.metrics import (
    YOUR_TEXT,
    YOURS,
    Sample,
    SystemScores,
    ToneLexicon,
    VoiceScorer,
    overshoot_flags,
    score_system,
    split_by_origin,
)
from engine.pairs import dataset
from engine.translation import registry
from engine.translation.translate import Translator


@dataclass
class Comparison:
    id: int
    systems: list[SystemScores]
    pairs: list[dict]
    outputs: dict[str, list[Sample]]
    tone: ToneLexicon
    report_path: str | None


def held_out(store, limit: int | None) -> tuple[list[dict], list[dict]]:
    """(held-out pairs, training pairs): the test split, else the validation split, else
    the documents a fine-tune holds out for validation (the same choice, so a fine-tune
    never saw them)."""

    train = store.training_pairs(split="train")
    for split in ("test", "val"):
        pairs = _one_direction(store.training_pairs(split=split))
        if pairs:
            return (pairs[:limit] if limit else pairs), train
    train, pairs, _ = dataset.split_validation(train, [])
    if not pairs:
        raise OwnVoiceError("No held-out pairs: import more than one document and make pairs "
                            "for them with `ownvoice synth`.")
    return (pairs[:limit] if limit else pairs), train


def _one_direction(pairs: list[dict]) -> list[dict]:
    """The pairs of the most common language direction: one comparison translates one way
    (published translations may run the other way when the writer writes in two)."""
    if not pairs:
        return pairs
    directions = Counter((p["source_lang"], p["target_lang"]) for p in pairs)
    main = directions.most_common(1)[0][0]
    return [p for p in pairs if (p["source_lang"], p["target_lang"]) == main]


def _run(translator: Translator, pairs: list[dict], *, source: str, target: str,
         tick: Callable[[], None], cancelled) -> list[Sample]:
    samples = []
    for pair in pairs:
        if cancelled is not None and cancelled():
            raise OwnVoiceError("Comparison stopped.")
        result = translator.translate(pair["source_text"], source=source, target=target)
        samples.append(Sample(source=pair["source_text"], reference=pair["target_text"],
                              output=result.output, stop_reason=result.stop_reason))
        tick()
    return samples


def _check_keys(models: list[str], baseline_names: list[str]) -> None:
    """Every system needs its own key and label in the results: a model named like a
    baseline of this run, or (added before such names were refused) like the user's own
    text, would silently replace it or be mistaken for it."""
    for name in models:
        if name in baseline_names or name in (YOURS, YOUR_TEXT):
            raise OwnVoiceError(f"The model {name!r} has the name this comparison gives to "
                                "another system; add it again under another --name "
                                "(`ownvoice models add … --name …`) to compare it.")


def run(store, *, model_names: list[str], with_baselines: bool = False,
        baseline_model: str | None = None, limit: int | None = None, calibration: int = 40,
        report: Path | str | None = None,
        progress: Callable[[int, int, str], None] | None = None,
        cancelled: Callable[[], bool] | None = None) -> Comparison:
    rows = list({row["id"]: row for row in (registry.resolve(store, name)
                                            for name in model_names)}.values())
    if with_baselines or baseline_model:
        reference_row = registry.resolve(store, baseline_model) if baseline_model else next(
            (r for r in rows if r["origin"] != "fine-tuned" and r["prompt_style"] == "chat"),
            None)
        if reference_row is None:
            raise OwnVoiceError("The baselines need an instruction model that is not a "
                                "fine-tune: name one with --baseline-model.")
    else:
        reference_row = next((r for r in rows if r["origin"] != "fine-tuned"), rows[0])
    kinds = list(baselines.BASELINES) if with_baselines else []
    baseline_names = [f"{kind} ({reference_row['name']})" for kind in kinds]
    _check_keys([row["name"] for row in rows], baseline_names)
    pairs, train = held_out(store, limit)
    if len(train) < 4:
        raise OwnVoiceError("The judge (voice score, tone lexicon) learns from at least four "
                            "training pairs; make more with `ownvoice synth`.")
    source, target = pairs[0]["source_lang"], pairs[0]["target_lang"]
    calibration_pairs = train[:calibration]
    total = len(calibration_pairs) + len(pairs) * (len(rows) + len(kinds))
    done = [0]

    def tick(what: str = "") -> None:
        done[0] += 1
        if progress:
            progress(done[0], total, what)

    outputs: dict[str, list[Sample]] = {}
    reference_backend = registry.open_backend(reference_row)
    try:
        plain = (baselines.translator("prompt", reference_backend, train)
                 if reference_backend.prompt_style == "chat" else Translator(reference_backend))
        machine = _run(plain, calibration_pairs, source=source, target=target,
                       tick=tick, cancelled=cancelled)
        for kind, name in zip(kinds, baseline_names, strict=True):
            outputs[name] = _run(baselines.translator(kind, reference_backend, train),
                                 pairs, source=source, target=target, tick=tick,
                                 cancelled=cancelled)
    finally:
        reference_backend.close()
    for row in rows:
        backend = registry.open_backend(row)
        try:
            outputs[row["name"]] = _run(Translator(backend), pairs, source=source,
                                        target=target, tick=tick, cancelled=cancelled)
        finally:
            backend.close()

    user_texts = [p["target_text"] for p in calibration_pairs]
    machine_texts = [s.output for s in machine]
    voice = VoiceScorer(user_texts, machine_texts)
    tone = ToneLexicon.learn(user_texts, machine_texts)
    outputs[YOURS] = [Sample(source=p["source_text"], reference=p["target_text"],
                             output=p["target_text"]) for p in pairs]
    systems = [score_system(name, samples, target=target, voice=voice, tone=tone)
               for name, samples in outputs.items()]
    origins = [p.get("origin") or "synthetic" for p in pairs]
    for system in systems:  # your published translations' inputs were written by a person
        split_by_origin(system, outputs[system.system], origins)
    yours = next(s for s in systems if s.system == YOURS)
    for system in systems:
        if system is not yours:
            system.flags = overshoot_flags(system, yours)
    comparison = Comparison(id=0, systems=systems, pairs=pairs, outputs=outputs, tone=tone,
                            report_path=str(report) if report else None)
    stored = [{"system": s.system, "pair_id": pair["id"], "output": sample.output,
               "metrics": s.per_sample[i]}
              for s in systems for i, (pair, sample) in enumerate(
                  zip(pairs, outputs[s.system], strict=True))]
    comparison.id = store.add_comparison(
        settings={"models": model_names, "baselines": kinds,
                  "baseline_model": reference_row["name"], "pairs": len(pairs),
                  "calibration_pairs": len(calibration_pairs), "source": source,
                  "target": target},
        metrics=[{k: v for k, v in s.as_dict().items() if k != "per_sample"} for s in systems],
        report_path=comparison.report_path, outputs=stored)
    if report:  # after saving: a failed write must not lose the translations
        from engine.evaluation.report import write_report

        try:
            write_report(comparison, Path(report))
        except OwnVoiceError as exc:
            raise OwnVoiceError(f"Comparison {comparison.id} is saved, but its report was "
                                f"not written: {exc}") from exc
    return comparison
