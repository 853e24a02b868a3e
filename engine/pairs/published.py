"""Your published translations become pairs: each work's original (the writer's own words)
aligned paragraph by paragraph with each of its translations (engine/pairs/alignment.py);
every confident alignment is a `published-translation` pair — input: the translation's
paragraph(s), output: the writer's original — weighted like a correction, in the work's
split. Kept in step with the corpus after every import and every change of the writer's
languages; what could not be aligned with confidence is counted and left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from engine.pairs import alignment


@dataclass
class Refreshed:
    works: int = 0  # originals with a translation, aligned
    pairs: int = 0  # published-translation pairs now stored
    added: int = 0
    removed: int = 0
    left_out: int = 0  # the originals' paragraphs in no confident pair

    def as_json(self) -> dict:
        return asdict(self)


def refresh(store) -> Refreshed:
    """Align every original with its translations and store exactly the pairs that come out
    (ids of unchanged pairs kept). Returns the counts."""
    report = Refreshed()
    pairs: list[dict] = []
    for original_id, translation_id in store.translated_works():
        original = store.segments(kind="prose", document_id=original_id)
        translation = store.segments(kind="prose", document_id=translation_id)
        source_lang, target_lang = _language(translation), _language(original)
        if not original or not translation or None in (source_lang, target_lang) or (
                source_lang == target_lang):
            continue
        found, left_out = alignment.published_pairs(
            [s["text"] for s in original], target_lang, [s["text"] for s in translation],
            source_lang)
        report.works += 1
        report.left_out += left_out
        for pair in found:
            used = [original[i] for i in pair["meta"]["original_paragraphs"]] + [
                translation[j] for j in pair["meta"]["translation_paragraphs"]]
            if any(s["segment_excluded"] for s in used):
                continue  # the writer keeps that paragraph out of training
            first = original[pair["meta"]["original_paragraphs"][0]]
            pairs.append({**pair, "segment_id": first["id"], "split": first["split"]})
    report.pairs = len(pairs)
    report.added, report.removed = store.replace_published_pairs(pairs)
    return report


def summary(report: Refreshed) -> str:
    """One line for people: what the writer's published translations gave."""
    left = (f"; {report.left_out} paragraph(s) left out (no confident match)"
            if report.left_out else "")
    return (f"Your published translations: {report.pairs} training pair(s) from "
            f"{report.works} post(s){left}.")


def _language(segments: list[dict]) -> str | None:
    """A document's language: the one most of its paragraphs are in."""
    counts = Counter(s["lang"] for s in segments if s["lang"])
    return counts.most_common(1)[0][0] if counts else None
