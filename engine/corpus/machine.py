"""OwnVoice's own machine translations, recognised when they come back as files.

`ownvoice translate post.md --to en --publish` writes the translation beside the original
(`post-en.md`, `post.en.md`), and the app's Save… writes one there too (`post-en.md`). The
next import of the blog folder must not take such a file for the writer's own translation:
it would become a published-translation pair, and the model would train on its own output
as the writer's words. Either of two signs leaves a file out, with the reason said:

- the marker --publish writes: `translated_by: OwnVoice` in the front matter (generators
  keep a field they do not know and ignore it; a template may show it), or, where the
  header is not rewritten (none, JSON, one that does not parse), the comment
  `<!-- translated_by: OwnVoice -->` at the end, which no renderer shows;
- most of its prose is, word for word, the output of a translation in this data folder's
  history: what Save… writes carries no marker, and a marker may be deleted.

A writer who rewrote such a file makes it theirs by deleting the marker (and, for the
history's sign, `ownvoice correct ID --file FILE` saves their wording as training data).
"""

from __future__ import annotations

import re
import weakref

from engine.corpus import frontmatter, html, markdown, parsed
from engine.languages import count_words

MARKER_KEY = "translated_by"
MARKER_VALUE = "OwnVoice"
COMMENT = f"<!-- {MARKER_KEY}: {MARKER_VALUE} (machine translation) -->"
_COMMENT = re.compile(rf"<!--\s*{MARKER_KEY}\s*:\s*{MARKER_VALUE}\b", re.I)
# Paragraphs this short ("Thanks!", "See below.") match by chance: they are not counted.
_MIN_WORDS = 4
_SHARE = 0.5  # of a document's prose (in characters) word for word machine output


def is_marked(text: str, meta: dict | None = None) -> bool:
    """Whether a file's text (or its already-read front matter `meta`) carries the marker."""
    if meta is None:
        meta = frontmatter.parse(text).meta
    value = next((v for k, v in meta.items() if str(k).lower() == MARKER_KEY), None)
    # The comment is what the file ends with (a post that quotes it earlier is not marked).
    return (isinstance(value, str) and MARKER_VALUE.lower() in value.lower()) or bool(
        _COMMENT.search(text.rstrip()[-len(COMMENT) - 40:]))


def marker_reason(text: str, meta: dict) -> str | None:
    """Why a file is left out when it carries the marker, or None."""
    if not is_marked(text, meta):
        return None
    return (f"OwnVoice's own machine translation (it is marked {MARKER_KEY}: {MARKER_VALUE}), "
            "not your writing; if you have rewritten it yourself, delete that line and import "
            "it again")


def history_reason(store, doc: parsed.ParsedDocument) -> str | None:
    """Why a document is left out when most of its prose is a translation of the history's,
    word for word, or None."""
    prose = [s for s in doc.segments
             if s.kind == parsed.PROSE and count_words(s.text) >= _MIN_WORDS]
    total = sum(len(s.text) for s in prose)
    if not total:
        return None
    index = _index(store)
    if not index:
        return None
    found: dict[int, int] = {}
    for segment in prose:
        translation_id = index.get(segment.text_hash)
        if translation_id is not None:
            found[translation_id] = found.get(translation_id, 0) + len(segment.text)
    if sum(found.values()) < _SHARE * total:
        return None
    translation_id = max(found, key=found.__getitem__)
    matched = sum(1 for s in prose if s.text_hash in index)
    return (f"OwnVoice's own machine translation: {matched} of its {len(prose)} paragraph(s) "
            f"are word for word translation #{translation_id} in your history, not your "
            "writing; if you have rewritten it, `ownvoice correct "
            f"{translation_id} --file FILE` saves your wording as training data")


# store → (the history's fingerprint, {text hash of a machine-written paragraph: its id})
_INDEXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _index(store) -> dict[str, int]:
    """The paragraphs the history's translations wrote (not those they kept as they were),
    built once per import and again only when the history changes."""
    fingerprint = store.history_fingerprint()
    cached = _INDEXES.get(store)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    index: dict[str, int] = {}
    if fingerprint[0]:
        for translation_id, source, output in store.translation_texts():
            kept = _hashes(source)  # paragraphs already in the target language stay as they are
            for hashed in _hashes(output) - kept:
                index.setdefault(hashed, translation_id)
    _INDEXES[store] = (fingerprint, index)
    return index


def _hashes(text: str) -> set[str]:
    """Text hashes of the prose of a translation's text, read as import reads its format
    (Markdown; HTML too when it starts with a tag)."""
    header = frontmatter.parse(text)
    segments = markdown.segments(header.body if header.meta else text)
    if text.lstrip().startswith("<"):
        segments += html.fragment_segments(text)
    return {s.text_hash for s in segments
            if s.kind == parsed.PROSE and count_words(s.text) >= _MIN_WORDS}
