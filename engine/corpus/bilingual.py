"""A bilingual post in one file: each paragraph followed by its translation (a Chinese
paragraph, then the English one, and so on), or the whole post in one language and then
again, under a heading or a rule, in the other.

Imported as it is, every paragraph of such a post would be the writer's prose, in two
languages, and no pair would come of it. Recognised, it is treated like a post and its
published translation in two files (engine/corpus/works.py, engine/pairs/published.py):
the paragraphs in the post's original language are the writer's prose; those in the other
language are translations, which become `published-translation` pairs with them and are
neither synthesised from nor counted as the writer's language.

How it is stored (no new column, no migration):
- at import, `mark` records what the paragraphs show in the document's meta, under
  `META_KEY`: the two languages (the one each pair starts with first) and the layout. It
  depends on the file's text only, so a re-import of an unchanged file changes nothing;
- whenever works are linked (after every import, and when the writer says which languages
  they write in: works.relink), `relink` decides which of the two is the original — a
  language the writer writes in originally, when exactly one of the two is; else the blog's
  main language (that of its posts without translations), as works.py decides between two
  files; else the language each pair starts with — and the store makes the other language's
  prose paragraphs kind `translation` (engine/store/corpus.py: TRANSLATION_KIND) and the
  document's language the original's. Every query for the writer's prose asks for kind
  `prose` already (synthesis candidates, the main language, corpus counts); a paragraph's
  kind is what the corpus page shows, so the writer sees which paragraphs are which.

Recognising it is conservative: a post that quotes a few sentences in another language is
not bilingual. It needs at least MIN_PARAGRAPHS prose paragraphs, nearly all of them in two
languages with at least MIN_SIDE each; about as many paragraphs in each (BALANCE), about as
much text (LENGTH_BALANCE, a Han, kana or Hangul character counted as 3 Latin letters, as
engine/corpus/lang.py weighs Han); and either most neighbouring paragraphs switch language
(alternating) or the languages switch exactly once (blocks).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from engine import languages
from engine.corpus import parsed

META_KEY = "ownvoice_bilingual"
ALTERNATING = "alternating"
BLOCKS = "blocks"

MIN_PARAGRAPHS = 6  # three pairs at least
MIN_SIDE = 3  # paragraphs in each language
MAX_OTHER = 0.1  # share of prose paragraphs in neither language (or none known)
MIN_SWITCHES = 0.8  # alternating: share of neighbouring paragraphs that switch language
BALANCE = 0.6  # fewer paragraphs in one language than this times the other's: not bilingual
BLOCK_BALANCE = 0.75  # the same for two blocks (one switch says less than many)
LENGTH_BALANCE = 2.0  # one language's text longer than this times the other's: not bilingual
BLOCK_LENGTH_BALANCE = 1.5

_WIDE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_WIDE_WEIGHT = 3  # a Han, kana or Hangul character says about as much as 3 Latin letters


def _length(text: str) -> int:
    wide = len(_WIDE.findall(text))
    return wide * _WIDE_WEIGHT + len("".join(text.split())) - wide


def detect(segments: Iterable[parsed.Segment]) -> dict | None:
    """{"languages": [first, second], "layout": ALTERNATING | BLOCKS} when the prose
    paragraphs are a post and its translation interleaved or one after the other; else None.
    `first` is the language the post (or each pair) starts with."""
    prose = [s for s in segments if s.kind == parsed.PROSE and s.text]
    if len(prose) < MIN_PARAGRAPHS:
        return None
    counts = Counter(s.lang for s in prose if s.lang)
    if len(counts) < 2:
        return None
    (a, count_a), (b, count_b) = counts.most_common(2)
    if count_a + count_b < (1 - MAX_OTHER) * len(prose) or count_b < MIN_SIDE:
        return None
    sides = [s for s in prose if s.lang in (a, b)]
    switches = sum(x.lang != y.lang for x, y in zip(sides, sides[1:], strict=False))
    lengths = Counter()
    for s in sides:
        lengths[s.lang] += _length(s.text)
    length_ratio = max(lengths.values()) / max(1, min(lengths.values()))
    if switches >= MIN_SWITCHES * (len(sides) - 1):
        layout, balance, length_balance = ALTERNATING, BALANCE, LENGTH_BALANCE
    elif switches == 1:
        layout, balance, length_balance = BLOCKS, BLOCK_BALANCE, BLOCK_LENGTH_BALANCE
    else:
        return None
    if count_b < balance * count_a or length_ratio > length_balance:
        return None
    first = sides[0].lang
    return {"languages": [first, b if first == a else a], "layout": layout}


def mark(doc: parsed.ParsedDocument) -> None:
    """Record in `doc.meta` whether its paragraphs are a post and its translation (after its
    segments have their languages); a bilingual document's language is, until the works are
    linked, the one it starts with."""
    found = detect(doc.segments)
    if found is not None:
        doc.meta[META_KEY] = found
        doc.lang = found["languages"][0]


def layout(meta: dict | None) -> dict | None:
    """What `mark` recorded in a stored document's meta, or None (also for a front matter
    key of the same name that is something else)."""
    found = (meta or {}).get(META_KEY)
    if (isinstance(found, dict) and isinstance(found.get("languages"), list)
            and len(found["languages"]) == 2
            and all(isinstance(code, str) for code in found["languages"])):
        return found
    return None


def original_language(pair: list[str], writer_languages: Iterable[str],
                      main_lang: str | None) -> str:
    """Which of a bilingual post's two languages is the writer's original: the one they say
    they write in originally, when only one of the two is; else the blog's main language;
    else the one the post starts with."""
    said = set(writer_languages)
    mine = [code for code in pair if code in said]
    if not mine:  # "zh" covers Traditional too, as it does for a post's separate versions
        families = {languages.family(code) for code in said}
        mine = [code for code in pair if languages.family(code) in families]
    if len(mine) == 1:
        return mine[0]
    if main_lang in pair:
        return main_lang
    return pair[0]


def relink(store, rows: list[dict], *, writer_languages: Iterable[str],
           main_lang: str | None) -> int:
    """Mark the translation paragraphs of every bilingual document among `rows` (Store.
    work_versions()), and none elsewhere; returns how many documents changed."""
    preferred = {languages.normalise(code) for code in writer_languages}
    wanted: dict[int, tuple[str, str]] = {}
    for row in rows:
        found = layout(row.get("meta"))
        if found is None:
            continue
        pair = found["languages"]
        original = original_language(pair, preferred, main_lang)
        wanted[row["id"]] = (original, pair[1] if original == pair[0] else pair[0])
    return store.set_paragraph_translations(wanted)
