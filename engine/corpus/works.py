"""A post and its translations are one *work*: which documents are versions of one post, and
which version is the original.

Bilingual blogs say which files are versions of one post in several ways:
- the same file name with a language: `post.en.md`, Hugo's `index.en.md`, `post-en.md`
  (`-en` or `_en` only when the file is in that language);
- Docusaurus: `i18n/LANG/docusaurus-plugin-content-blog/x.md` translates `blog/x.md`;
- the same path under language folders: `content/en/posts/a.md` beside `content/zh/posts/a.md`
  or `content/posts/a.md` (a bundle's `index.en.md` in `content/zh/…` too);
- a key shared in the header: Pelican's `Slug` (with `Lang:` and `Translation: true`), Hugo's
  `translationKey`, Jekyll's `ref`, `page_id` or `permalink` (with `lang`);
- WordPress: Polylang's `post_translations` group, WPML's translation group (engine/corpus/wxr.py).
A shared key links versions in different languages only: two posts in one language with one
slug are two posts, not translations of each other.

Every version of a work gets the work's key and the split of the work's *keeper*: the
version that is the original by the rules below without the writer's languages (the work
key is its split key). A post and its translations always share a split, a stored split
never changes (the keeper's), and saying which languages you write in never moves a post
from training to test.

Which version is the original (the writer's own words; the others are translations): among
the versions in the languages the writer writes in originally (`ownvoice corpus languages`),
when they said and one is; then the one without a translation marker (`Translation: true`, a
language in its file or folder name, WPML's source language); then the older one; then the
one in the blog's main language (that of the posts without translations); then the one
imported first. Nothing here reads a file: the store's documents (their paths, front matter
and languages) are linked again after every import and whenever the writer's languages change.

Simplified ('zh') and Traditional ('zh-Hant') Chinese are two languages (engine/languages.py):
`sea.md` and `sea.zh-hant.md` (or `zh-tw`, a `zh-hk/` folder, `lang: zh-TW`) are one work,
the Traditional one (often OpenCC's conversion) a translation. A post and its translation
in one file are engine/corpus/bilingual.py's.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import NamedTuple

from engine import languages
from engine.corpus import bilingual, hugo
from engine.store.corpus import ORIGINAL_LANGUAGES, TRANSLATED_BY_ME

ORIGINAL = "original"
TRANSLATION = "translation"

FILE_FORMATS = ("markdown", "html", "text")
# Header keys whose value is shared by a post's versions (lowercased).
SHARED_KEYS = ("translationkey", "slug", "ref", "page_id", "permalink")
_TRUE = ("true", "yes", "on", "1")
_SUFFIX = (re.compile(r"(?P<stem>.+)[-_](?P<lang>[a-z]{2,3})", re.I),
           re.compile(r"(?P<stem>.+)[-_](?P<lang>[a-z]{2,3}[-_][a-z0-9]{2,4})", re.I))
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class Version:
    """One document as a possible version of a work."""

    id: int
    split_key: str
    lang: str | None
    date: str  # ISO-like, '' when unknown
    # How plainly it says it is a translation: 2 by a header key or its file name, 1 by its
    # language folder only (Hugo keeps every language, originals too, in one), 0 not at all.
    marked: int
    signals: list[tuple] = field(default_factory=list)  # keys shared with its other versions


def _base(code) -> str | None:
    """'en-GB' → 'en', 'zh-CN' → 'zh', 'zh-TW' or 'zh-hant' → 'zh-Hant' (Traditional Chinese
    is a language of its own: engine/languages.py); None for what is no known language."""
    return languages.code(code)


# A folder named for a language: 'en', 'zh', 'pt-br', 'zh-tw', 'zh-hant' (not 'de-facto').
_LANGUAGE_FOLDER = re.compile(r"[a-z]{2,3}(?:[-_](?:[a-z]{2}|hans|hant))?", re.I)


_DOCUSAURUS = re.compile(r"(?:^|(?<=/))i18n/(?P<lang>[^/]+)/docusaurus-plugin-content-"
                         r"(?P<kind>blog|docs|pages)/(?:current/)?")
_DOCUSAURUS_HOME = {"blog": "blog/", "docs": "docs/", "pages": "src/pages/"}


def _folder_lang(part: str) -> str | None:
    return _base(part) if _LANGUAGE_FOLDER.fullmatch(part) else None


def version(row: dict) -> Version:
    """A stored document (a row of Store.work_versions) as a Version."""
    meta = {str(k).lower(): v for k, v in (row.get("meta") or {}).items()}
    name = PurePosixPath(row["key"]).name
    lang = _base(row.get("lang")) or _base(meta.get("lang") or meta.get("language")
                                           or meta.get("locale")) or _base(
        hugo.filename_lang(name))
    date = str(row.get("date") or "").strip().replace("T", " ")[:19]
    marked = 2 * (str(meta.get("translation", "")).strip().lower() in _TRUE)
    source = _base(meta.get("source_language"))  # WPML: the language it was translated from
    marked = max(marked, 2 * (source is not None and source != lang))
    found = Version(id=row["id"], split_key=row["split_key"], lang=lang,
                    date=date if _ISO_DATE.match(date) else "", marked=marked)
    family = row["format"] if row["format"] not in FILE_FORMATS else "file"
    if family == "file":
        path, in_lang_path = _path_without_language(row["split_key"], name, lang)
        found.marked = max(found.marked, in_lang_path)
        found.signals.append(("path", path))
        found.signals += [(key, family, str(meta[key]).strip()) for key in SHARED_KEYS
                          if meta.get(key) not in (None, "", [], {})]
    if meta.get("translation_group"):
        found.signals.append(("group", family, str(meta["translation_group"])))
    return found


def _path_without_language(split_key: str, name: str, lang: str | None) -> tuple[str, int]:
    """The path shared by a post's versions (every language folder left out), and how its
    path marks it as a translation (Version.marked): 'en/posts/a-en.md' → ('posts/a.md', 2).
    (`index.en.md` is already `index.md` in the split key: engine/corpus/hugo.py.)"""
    marked = 2 * (hugo.filename_lang(name) is not None)
    # Docusaurus keeps translations apart: i18n/zh-Hans/docusaurus-plugin-content-blog/x.md
    # translates blog/x.md (docs: …-content-docs/current/ → docs/, pages → src/pages/).
    if (found := _DOCUSAURUS.search(split_key)) and _base(found["lang"]) == lang:
        split_key = (split_key[:found.start()] + _DOCUSAURUS_HOME[found["kind"]]
                     + split_key[found.end():])
        marked = 2
    path = PurePosixPath(split_key)
    # Every language folder leaves the shared path (`content/zh/b/index.en.md`, an English
    # bundle file in the Chinese tree, is `content/b/index.md` too); only the file's own
    # language marks it as a translation.
    folders = [part for part in path.parts[:-1] if _folder_lang(part) is None]
    marked = max(marked, any(_folder_lang(part) == lang for part in path.parts[:-1]))
    stem, dot, ext = path.name.rpartition(".")
    if not dot:
        stem, ext = path.name, ""
    for pattern in _SUFFIX:
        match = pattern.fullmatch(stem)
        if match and lang is not None and _base(match.group("lang")) == lang:
            stem, marked = match.group("stem"), 2
            break
    return str(PurePosixPath(*folders, stem + (f".{ext}" if ext else ""))), marked


class Work(NamedTuple):
    key: str  # the work's key: the split key of `keeper`
    role: str  # this version's: ORIGINAL | TRANSLATION
    keeper: int  # the document whose split the work keeps (its original, by the file rules)


def find_works(rows: list[dict], *, writer_languages: list[str] = ()) -> dict[int, Work]:
    """Document id → its Work, for every stored document."""
    return _find_works(rows, writer_languages)[0]


def _find_works(rows: list[dict],
                writer_languages: list[str]) -> tuple[dict[int, Work], str | None]:
    """find_works, and the blog's main language: that of its posts without translations (a
    bilingual post in one file is not one of them: engine/corpus/bilingual.py)."""
    versions = [version(row) for row in rows]
    one_file_bilingual = {row["id"] for row in rows if bilingual.layout(row.get("meta"))}
    parent = {v.id: v.id for v in versions}

    def root(doc_id: int) -> int:
        while parent[doc_id] != doc_id:
            parent[doc_id] = parent[parent[doc_id]]
            doc_id = parent[doc_id]
        return doc_id

    by_signal: dict[tuple, list[Version]] = {}
    for v in versions:
        if v.lang is not None:
            for signal in v.signals:
                by_signal.setdefault(signal, []).append(v)
    for members in by_signal.values():
        langs = [v.lang for v in members]
        if len(members) > 1 and len(set(langs)) == len(langs):  # one version per language
            for other in members[1:]:
                parent[root(other.id)] = root(members[0].id)
    works: dict[int, list[Version]] = {}
    for v in versions:
        works.setdefault(root(v.id), []).append(v)
    main = Counter(group[0].lang for group in works.values() if len(group) == 1
                   and group[0].lang and group[0].id not in one_file_bilingual).most_common(1)
    main_lang = main[0][0] if main else None
    preferred = {languages.normalise(code) for code in writer_languages}
    found: dict[int, Work] = {}
    for group in works.values():
        keeper = _original(group, set(), main_lang)
        original = _original(group, preferred, main_lang)
        for v in group:
            found[v.id] = Work(keeper.split_key, ORIGINAL if v is original else TRANSLATION,
                               keeper.id)
    return found, main_lang


def _original(group: list[Version], preferred: set[str], main_lang: str | None) -> Version:
    return min(group, key=lambda v: (bool(preferred) and v.lang not in preferred, v.marked,
                                     not v.date, v.date, v.lang != main_lang, v.id))


def relink(store) -> int:
    """Link the store's documents into works again; returns how many documents changed work,
    role or split, or (a bilingual post in one file) which of its paragraphs are the
    translations. A work's versions take the split its keeper has (a stored split never
    changes: engine/corpus/split.py); a translation's pairs move with its split."""
    rows = store.work_versions()
    splits = {row["id"]: row["split"] for row in rows}
    writer_languages = store.original_languages()
    found, main_lang = _find_works(rows, writer_languages)
    changes = []
    for row in rows:
        work = found[row["id"]]
        split = splits[work.keeper]
        if (work.key, work.role, split) != (row["work_key"], row["role"], row["split"]):
            changes.append((row["id"], work.key, work.role, split))
    if changes:
        store.set_works(changes)
    paragraphs = bilingual.relink(store, rows, writer_languages=writer_languages,
                                  main_lang=main_lang)
    return len(changes) + paragraphs


def set_languages(store, codes: list[str] | None = None, *,
                  translated_by_me: bool | None = None) -> dict:
    """Say which languages the writer writes in originally (None: leave as is; []: decide
    per work) and whether they translated their posts' other versions themselves (None: leave
    as is); the works are linked again. Returns Store.work_stats()."""
    store.require_writable()
    if codes is not None:
        normalised = list(dict.fromkeys(languages.normalise(code) for code in codes))
        store.set_meta(ORIGINAL_LANGUAGES, json.dumps(normalised))
    if translated_by_me is not None:
        store.set_meta(TRANSLATED_BY_ME, "1" if translated_by_me else "0")
    relink(store)
    return store.work_stats()


def summary(stats: dict) -> str:
    """Store.work_stats() in one line: how many posts have translations, in which languages."""
    line = f"Works: {stats['works']} ({stats['with_translations']} with translations"
    if stats["directions"]:
        line += ": " + ", ".join(f"{k} {v}" for k, v in stats["directions"].items())
    line += ")"
    if stats["translations"]:
        line += (f"; {stats['translations']} translation(s) "
                 + ("are your prose too (you translated them)" if stats["translated_by_me"]
                    else "are not used as your prose"))
    return line + "."
