"""Your published translations become pairs: each work's original (the writer's own words)
aligned paragraph by paragraph with each of its translations (engine/pairs/alignment.py);
every confident alignment is a `published-translation` pair — input: the translation's
paragraph(s), output: the writer's original — weighted like a correction, in the work's
split. Kept in step with the corpus after every import and every change of the writer's
languages; what could not be aligned with confidence is counted and left out.

A bilingual post in one file (engine/corpus/bilingual.py) is a work too: its prose in its
original language, aligned in the same way with its `translation` paragraphs. Versions that
differ only in script (Simplified and Traditional Chinese, the one often OpenCC's conversion
of the other) give no pairs: the words are the same, and a pair would teach a character
table, not the writer's voice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from engine import languages
from engine.pairs import alignment
from engine.store.corpus import TRANSLATION_KIND


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
    for original, translation in _versions(store):
        source_lang, target_lang = _language(translation), _language(original)
        if not original or not translation or None in (source_lang, target_lang) or (
                languages.family(source_lang) == languages.family(target_lang)):
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


def _versions(store):
    """(the original's prose paragraphs, a translation's), for every original with a
    translation: in another document of its work, or in its own (a bilingual post)."""
    for original_id, translation_id in store.translated_works():
        yield (store.segments(kind="prose", document_id=original_id),
               store.segments(kind="prose", document_id=translation_id))
    for doc_id in store.paragraph_translated_documents():
        prose = store.segments(kind="prose", document_id=doc_id)
        lang = _language(prose)  # the document's original language
        yield ([s for s in prose if s["lang"] == lang],
               store.segments(kind=TRANSLATION_KIND, document_id=doc_id))


def _language(segments: list[dict]) -> str | None:
    """A document's language: the one most of its paragraphs are in."""
    counts = Counter(s["lang"] for s in segments if s["lang"])
    return counts.most_common(1)[0][0] if counts else None
