"""Documents and segments: importing, reading, searching, exclusions, synthesis candidates."""

from __future__ import annotations

import json
from collections import Counter, defaultdict, deque
from pathlib import Path

from engine.languages import count_words
from engine.store.db import _dicts, _equal, utc_now

# Settings in `meta` (engine/corpus/works.py): the languages the writer writes in
# originally (a JSON list; unset: decided per work), and whether they translated the other
# versions of their posts themselves ("1": those versions are their prose too).
ORIGINAL_LANGUAGES = "original_languages"
TRANSLATED_BY_ME = "translated_by_me"
# The kind of a paragraph that translates the writer's own in the same document (a bilingual
# post in one file: engine/corpus/bilingual.py). Prose to the parser, not the writer's prose.
TRANSLATION_KIND = "translation"



_INSERT_SEGMENT = ("INSERT INTO segments (document_id, position, kind, lang, text, source,"
                   " text_hash, chars, words) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _segment_row(doc_id: int, position: int, segment) -> tuple:
    return (doc_id, position, segment.kind, segment.lang, segment.text, segment.source,
            segment.text_hash, len(segment.text), count_words(segment.text))


class CorpusQueries:
    """Documents and segments; a Store mixin."""

    def document_hash(self, key: str) -> str | None:
        row = self.conn.execute("SELECT content_hash FROM documents WHERE key = ?",
                                (key,)).fetchone()
        return row[0] if row else None

    def document_warnings(self, key: str) -> list[str] | None:
        """What was wrong with the document's file when it was last read (engine/corpus/
        importer.py says it again on every import); None when not known (read before
        warnings were kept, or no such document)."""
        row = self.conn.execute("SELECT warnings FROM documents WHERE key = ?",
                                (key,)).fetchone()
        return json.loads(row[0]) if row and row[0] is not None else None

    def moved_document(self, content_hash: str, fmt: str) -> int | None:
        """A document with this content whose file is gone: the same post, moved or renamed."""
        rows = self.conn.execute(
            "SELECT id, key FROM documents WHERE content_hash = ? AND format = ?",
            (content_hash, fmt)).fetchall()
        for doc_id, key in rows:
            if not Path(key).exists():
                return doc_id
        return None

    def move_document(self, doc_id: int, *, key: str, path: str) -> str:
        """Returns "updated", or "unchanged" when another import has just moved it."""
        with self.transaction() as conn:
            cur = conn.execute("UPDATE documents SET key = ?, path = ?, updated_at = ?"
                               " WHERE id = ? AND key != ?", (key, path, utc_now(), doc_id, key))
        return "updated" if cur.rowcount else "unchanged"

    def save_document(self, doc) -> tuple[str, int]:
        """Insert or replace a document (an engine.corpus.parsed.ParsedDocument) and its
        segments in one transaction, with what was wrong with its file (its `warnings`).

        Returns ("imported" | "updated" | "unchanged", segments added). The stored hash is
        checked again inside the write transaction: of two imports of one file at once, the
        second finds the first's version and says "unchanged" (its warnings are recorded). On
        update, segments whose words did not change keep their id (and so their pairs and
        exclusions).
        """
        now = utc_now()
        said = json.dumps(doc.warnings, ensure_ascii=False)
        fields = (doc.path, doc.format, doc.title, doc.date, doc.url, doc.lang,
                  json.dumps(doc.meta, ensure_ascii=False, default=str), doc.content_hash,
                  said)
        with self.transaction() as conn:
            row = conn.execute("SELECT id, content_hash FROM documents WHERE key = ?",
                               (doc.key,)).fetchone()
            if row is not None and row[1] == doc.content_hash:
                conn.execute("UPDATE documents SET warnings = ? WHERE id = ?", (said, row[0]))
                return "unchanged", 0
            if row is None:
                cur = conn.execute(
                    "INSERT INTO documents (path, format, title, date, url, lang, meta,"
                    " content_hash, warnings, key, split_key, work_key, split, imported_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*fields, doc.key, doc.split_key, doc.split_key, doc.split, now, now))
                doc_id = cur.lastrowid
                conn.executemany(_INSERT_SEGMENT, (_segment_row(doc_id, position, segment)
                                                   for position, segment
                                                   in enumerate(doc.segments)))
                return "imported", len(doc.segments)

            doc_id = row[0]
            conn.execute(
                "UPDATE documents SET path = ?, format = ?, title = ?, date = ?, url = ?,"
                " lang = ?, meta = ?, content_hash = ?, warnings = ?, updated_at = ?"
                " WHERE id = ?",
                (*fields, now, doc_id))
            old: dict[tuple[str, str], deque[int]] = defaultdict(deque)
            for seg_id, kind, hashed in conn.execute(
                    "SELECT id, kind, text_hash FROM segments WHERE document_id = ?"
                    " ORDER BY position", (doc_id,)):
                # A bilingual post's translation paragraph is prose to the parser; it stays a
                # translation until the works are linked again (engine/corpus/bilingual.py).
                old[("prose" if kind == TRANSLATION_KIND else kind, hashed)].append(seg_id)
            # Park old positions out of the way of UNIQUE(document_id, position).
            conn.execute("UPDATE segments SET position = -1 - position WHERE document_id = ?",
                         (doc_id,))
            added = 0
            for position, segment in enumerate(doc.segments):
                same = old.get((segment.kind, segment.text_hash))
                if same:
                    conn.execute(
                        "UPDATE segments SET position = ?, text = ?, source = ?, lang = ?,"
                        " chars = ?, words = ? WHERE id = ?",
                        (position, segment.text, segment.source, segment.lang,
                         len(segment.text), count_words(segment.text), same.popleft()))
                else:
                    self._insert_segment(doc_id, position, segment)
                    added += 1
            gone = [seg_id for ids in old.values() for seg_id in ids]
            conn.executemany("DELETE FROM segments WHERE id = ?", ((i,) for i in gone))
            return "updated", added

    def _insert_segment(self, doc_id: int, position: int, segment) -> None:
        self.conn.execute(_INSERT_SEGMENT, _segment_row(doc_id, position, segment))

    # --- works: a post and its translations ------------------------------------------------

    def work_versions(self) -> list[dict]:
        """Every document with what tells its translations apart (engine/corpus/works.py):
        key, split_key, format, language, date, front matter (`meta`, a dict), and its
        current work_key, role and split."""
        cur = self.conn.execute(
            "SELECT id, key, split_key, format, lang, date, meta, work_key, role, split"
            " FROM documents ORDER BY id")
        return _dicts(cur, meta="{}")

    def set_works(self, changes: list[tuple[int, str, str, str]]) -> None:
        """(document id, work_key, role, split) for documents whose work changed, in one
        transaction; the pairs made from a document whose split moved move with it."""
        with self.transaction() as conn:
            for doc_id, work_key, role, split in changes:
                old = conn.execute("SELECT split FROM documents WHERE id = ?",
                                   (doc_id,)).fetchone()
                conn.execute("UPDATE documents SET work_key = ?, role = ?, split = ?"
                             " WHERE id = ?", (work_key, role, split, doc_id))
                if old is not None and old[0] != split:
                    conn.execute("UPDATE pairs SET split = ? WHERE segment_id IN"
                                 " (SELECT id FROM segments WHERE document_id = ?)",
                                 (split, doc_id))

    def set_paragraph_translations(self, wanted: dict[int, tuple[str, str]]) -> int:
        """Bilingual documents in one file (engine/corpus/bilingual.py): for each document id
        in `wanted`, (its original language, its translation's), its prose paragraphs in the
        translation's language become kind 'translation', its others prose, and its language
        the original's; any other document's translation paragraphs become prose again. One
        transaction; returns how many documents changed."""
        changed: set[int] = set()
        with self.transaction() as conn:
            for (doc_id,) in conn.execute(
                    "SELECT DISTINCT document_id FROM segments WHERE kind = ?",
                    (TRANSLATION_KIND,)).fetchall():
                if doc_id not in wanted:
                    conn.execute("UPDATE segments SET kind = 'prose' WHERE document_id = ?"
                                 " AND kind = ?", (doc_id, TRANSLATION_KIND))
                    changed.add(doc_id)
            for doc_id, (original, translation) in wanted.items():
                for sql, params in (
                        ("UPDATE segments SET kind = ? WHERE document_id = ? AND kind = 'prose'"
                         " AND lang = ?", (TRANSLATION_KIND, doc_id, translation)),
                        ("UPDATE segments SET kind = 'prose' WHERE document_id = ? AND kind = ?"
                         " AND lang IS NOT ?", (doc_id, TRANSLATION_KIND, translation)),
                        ("UPDATE documents SET lang = ? WHERE id = ? AND lang IS NOT ?",
                         (original, doc_id, original))):
                    if conn.execute(sql, params).rowcount:
                        changed.add(doc_id)
        return len(changed)

    def paragraph_translated_documents(self) -> list[int]:
        """Original documents, not excluded, with translation paragraphs of their own (a
        bilingual post in one file): where the rest of the writer's published translations
        are."""
        return [r[0] for r in self.conn.execute(
            "SELECT d.id FROM documents d WHERE d.role = 'original' AND NOT d.excluded"
            " AND EXISTS (SELECT 1 FROM segments s WHERE s.document_id = d.id AND s.kind = ?)"
            " ORDER BY d.id", (TRANSLATION_KIND,))]

    def translated_by_me(self) -> bool:
        return self.meta(TRANSLATED_BY_ME) == "1"

    def original_languages(self) -> list[str]:
        return json.loads(self.meta(ORIGINAL_LANGUAGES) or "[]")

    def work_stats(self) -> dict:
        """Works (a post and its translations): how many, how many have translations, and
        which languages translate which (original → translation: count). A bilingual post in
        one file is a work with a translation too."""
        q = self.conn.execute
        works, translated = q(
            "SELECT COUNT(*), COALESCE(SUM(versions > 1), 0) FROM (SELECT COUNT(*) AS versions"
            " FROM documents GROUP BY work_key)").fetchone()
        directions = Counter({f"{a}→{b}": n for a, b, n in q(
            "SELECT COALESCE(o.lang, '?'), COALESCE(t.lang, '?'), COUNT(*) FROM documents t"
            " JOIN documents o ON o.work_key = t.work_key AND o.role = 'original'"
            " WHERE t.role = 'translation' GROUP BY 1, 2")})
        for a, b, n in q(
                "SELECT COALESCE(d.lang, '?'), COALESCE(s.lang, '?'), COUNT(DISTINCT d.id)"
                " FROM documents d JOIN segments s ON s.document_id = d.id AND s.kind = ?"
                " WHERE d.work_key IN (SELECT work_key FROM documents GROUP BY work_key"
                " HAVING COUNT(*) = 1) GROUP BY 1, 2", (TRANSLATION_KIND,)):
            directions[f"{a}→{b}"] += n
            translated += n
        return {
            "works": works,
            "with_translations": translated,
            "translations": q("SELECT COUNT(*) FROM documents"
                              " WHERE role = 'translation'").fetchone()[0],
            "directions": dict(sorted(directions.items(), key=lambda kv: (-kv[1], kv[0]))),
            "original_languages": self.original_languages(),
            "translated_by_me": self.translated_by_me(),
        }

    def corpus_stats(self) -> dict:
        q = self.conn.execute

        def counts(sql: str) -> dict:
            return {key if key is not None else "unknown": n for key, n in q(sql)}

        prose = q("SELECT COUNT(*), COUNT(DISTINCT text_hash), COALESCE(SUM(chars), 0)"
                  " FROM segments WHERE kind = 'prose'").fetchone()
        return {
            "documents": q("SELECT COUNT(*) FROM documents").fetchone()[0],
            "segments": q("SELECT COUNT(*) FROM segments").fetchone()[0],
            "prose_segments": prose[0],
            "unique_prose_segments": prose[1],
            "prose_characters": prose[2],
            "by_kind": counts("SELECT kind, COUNT(*) FROM segments GROUP BY kind"
                              " ORDER BY COUNT(*) DESC"),
            "by_lang": counts("SELECT lang, COUNT(*) FROM segments WHERE lang IS NOT NULL"
                              " GROUP BY lang ORDER BY COUNT(*) DESC"),
            "by_split": counts("SELECT split, COUNT(*) FROM documents GROUP BY split"
                               " ORDER BY split DESC"),
            "segments_by_split": counts(
                "SELECT d.split, COUNT(*) FROM segments s JOIN documents d"
                " ON d.id = s.document_id GROUP BY d.split ORDER BY d.split DESC"),
            "by_format": counts("SELECT format, COUNT(*) FROM documents GROUP BY format"),
            "works": self.work_stats(),
        }

    _SEGMENT_COLUMNS = (
        "SELECT s.id, s.document_id, d.path, d.title, s.position, s.kind, s.lang, d.split,"
        " s.text, s.source, s.excluded OR d.excluded, s.excluded"
        " FROM segments s JOIN documents d ON d.id = s.document_id")

    _SEGMENT_KEYS = ("id", "document_id", "document", "title", "position", "kind", "lang",
                     "split", "text", "source", "excluded", "segment_excluded")

    def documents(self, *, search: str | None = None, limit: int = 2000) -> list[dict]:
        """Documents with their segment counts, newest first; `search` matches their text."""
        where, params = "", []
        if search and search.strip():
            match, params = self._text_match(search, "segments", "s", ("text",))
            where = (f"WHERE d.id IN (SELECT s.document_id FROM segments s {match})"
                     " OR d.title LIKE ?")
            params.append(f"%{search.strip()}%")
        cur = self.conn.execute(
            "SELECT d.id, d.title, d.path, d.format, d.lang, d.split, d.date, d.excluded,"
            " d.role, d.work_key,"
            " (SELECT COUNT(*) FROM segments s WHERE s.document_id = d.id) AS segments,"
            " (SELECT COUNT(*) FROM segments s WHERE s.document_id = d.id"
            "  AND s.kind = 'prose') AS prose"
            f" FROM documents d {where} ORDER BY d.date DESC, d.path LIMIT ?",
            (*params, limit))
        return _dicts(cur)

    def document_addresses(self) -> list[dict]:
        """Every imported document's key (its path, or an export's item key), format, URL,
        language and front matter (`meta`, a JSON object as text): what links between the
        writer's posts are resolved against (engine/translation/publish.py)."""
        cur = self.conn.execute("SELECT key, format, url, lang, meta FROM documents ORDER BY id")
        return _dicts(cur)

    def set_excluded(self, table: str, row_id: int, excluded: bool) -> None:
        """Keep a document or a segment out of training data (it stays in the corpus)."""
        if table not in ("documents", "segments"):
            raise ValueError(table)
        with self.transaction() as conn:
            conn.execute(f"UPDATE {table} SET excluded = ? WHERE id = ?", (int(excluded), row_id))

    def segments(self, *, kind: str | None = None, lang: str | None = None,
                 split: str | None = None, document_id: int | None = None,
                 limit: int | None = None) -> list[dict]:
        where, params = _equal(("s.kind", kind), ("s.lang", lang), ("d.split", split),
                               ("s.document_id", document_id))
        sql = self._SEGMENT_COLUMNS + where + " ORDER BY d.path, s.position"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._segment_row(r) for r in self.conn.execute(sql, params)]

    def search_segments(self, query: str, *, limit: int = 50) -> list[dict]:
        """Segments containing every word of `query` (Chinese two-character words included).

        FTS5's trigram index answers terms of three or more characters; shorter terms
        (common in Chinese: 火车, 部署) fall back to LIKE on the segments themselves.
        """
        where, params = self._text_match(query, "segments", "s", ("text",))
        if not where:
            return []
        sql = (self._SEGMENT_COLUMNS + f" {where}"
               + " ORDER BY s.kind != 'prose', d.date DESC, d.path, s.position LIMIT ?")
        return [self._segment_row(r) for r in self.conn.execute(sql, (*params, limit))]

    def _segment_row(self, row: tuple) -> dict:
        item = dict(zip(self._SEGMENT_KEYS, row, strict=True))
        item["excluded"] = bool(item["excluded"])
        item["segment_excluded"] = bool(item["segment_excluded"])
        return item

    def synth_candidates(self, *, user_lang: str, splits: tuple[str, ...] = ("train", "val",
                                                                             "test"),
                         limit: int | None = None) -> list[dict]:
        """Prose paragraphs in the user's language that may become pairs: not excluded, and
        each distinct paragraph once (a sign-off repeated in every post counts once). The
        versions of a work that are translations are the writer's prose only when they say
        they translated them themselves (`translated_by_me`), and so, then, are the
        translation paragraphs of a bilingual post in one file."""
        marks = ", ".join("?" for _ in splits)
        mine = self.translated_by_me()
        own = "" if mine else " AND d.role = 'original'"
        kinds = f"('prose', '{TRANSLATION_KIND}')" if mine else "('prose')"
        sql = ("SELECT s.id, s.text, d.split FROM segments s JOIN documents d"
               f" ON d.id = s.document_id WHERE s.kind IN {kinds} AND s.lang = ?"
               f" AND NOT s.excluded AND NOT d.excluded AND d.split IN ({marks}){own}"
               " AND s.id IN (SELECT MIN(id) FROM segments GROUP BY text_hash)"
               " ORDER BY d.split = 'train' DESC, d.date DESC, s.document_id, s.position")
        params: list = [user_lang, *splits]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [{"id": i, "text": t, "split": sp} for i, t, sp in self.conn.execute(sql, params)]

    def main_language(self) -> str | None:
        """The language most of the user's prose is written in: counted in words (a Chinese
        character is one), over the originals of their works, not the translations."""
        row = self.conn.execute(
            "SELECT s.lang FROM segments s JOIN documents d ON d.id = s.document_id"
            " WHERE s.kind = 'prose' AND s.lang IS NOT NULL AND d.role = 'original'"
            " GROUP BY s.lang ORDER BY SUM(s.words) DESC, s.lang LIMIT 1").fetchone()
        return row[0] if row else None
