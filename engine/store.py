"""The one place that opens the database and holds its SQL.

One SQLite file (WAL, foreign keys on), opened through sqlite-utils, schema from
`migrations.py` on every open. Writes that must be all-or-nothing go through
`Store.transaction()`; inside it only plain `execute` is used, since sqlite-utils'
table helpers commit on their own.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from . import migrations, paths
from .corpus.model import ParsedDocument, text_hash
from .corpus.split import split_for
from .errors import DatabaseError


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else paths.db_path()
        try:
            # isolation_level=None: no implicit transactions; we open them explicitly.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            self.db = sqlite_utils.Database(conn)
            migrations.migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"Cannot open the OwnVoice database at {self.path}: {exc}. If the file is "
                f"damaged, move it aside and OwnVoice will start a new one."
            ) from exc

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: BEGIN IMMEDIATE … COMMIT, ROLLBACK on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # --- documents -------------------------------------------------------------------

    def document_hash(self, key: str) -> str | None:
        row = self.conn.execute("SELECT content_hash FROM documents WHERE key = ?",
                                (key,)).fetchone()
        return row[0] if row else None

    def moved_document(self, content_hash: str, fmt: str) -> int | None:
        """A document with this content whose file is gone: the same post, moved or renamed."""
        rows = self.conn.execute(
            "SELECT id, key FROM documents WHERE content_hash = ? AND format = ?",
            (content_hash, fmt)).fetchall()
        for doc_id, key in rows:
            if not Path(key).exists():
                return doc_id
        return None

    def move_document(self, doc_id: int, *, key: str, path: str) -> None:
        with self.transaction():
            self.conn.execute("UPDATE documents SET key = ?, path = ?, updated_at = ? WHERE id = ?",
                              (key, path, utc_now(), doc_id))

    def save_document(self, doc: ParsedDocument) -> tuple[str, int]:
        """Insert or replace a document and its segments in one transaction.

        Returns ("imported" | "updated", segments added). On update, segments whose
        words did not change keep their id (and so their pairs and exclusions).
        """
        now = utc_now()
        fields = (doc.path, doc.format, doc.title, doc.date, doc.url, doc.lang,
                  json.dumps(doc.meta, ensure_ascii=False, default=str), doc.content_hash)
        with self.transaction() as conn:
            row = conn.execute("SELECT id FROM documents WHERE key = ?", (doc.key,)).fetchone()
            if row is None:
                cur = conn.execute(
                    "INSERT INTO documents (path, format, title, date, url, lang, meta,"
                    " content_hash, key, split_key, split, imported_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*fields, doc.key, doc.split_key, split_for(doc.split_key), now, now))
                doc_id = cur.lastrowid
                for position, segment in enumerate(doc.segments):
                    self._insert_segment(doc_id, position, segment)
                return "imported", len(doc.segments)

            doc_id = row[0]
            conn.execute(
                "UPDATE documents SET path = ?, format = ?, title = ?, date = ?, url = ?,"
                " lang = ?, meta = ?, content_hash = ?, updated_at = ? WHERE id = ?",
                (*fields, now, doc_id))
            old: dict[tuple[str, str], deque[int]] = defaultdict(deque)
            for seg_id, kind, hashed in conn.execute(
                    "SELECT id, kind, text_hash FROM segments WHERE document_id = ?"
                    " ORDER BY position", (doc_id,)):
                old[(kind, hashed)].append(seg_id)
            # Park old positions out of the way of UNIQUE(document_id, position).
            conn.execute("UPDATE segments SET position = -1 - position WHERE document_id = ?",
                         (doc_id,))
            added = 0
            for position, segment in enumerate(doc.segments):
                same = old.get((segment.kind, text_hash(segment.text)))
                if same:
                    conn.execute(
                        "UPDATE segments SET position = ?, text = ?, source = ?, lang = ?,"
                        " chars = ? WHERE id = ?",
                        (position, segment.text, segment.source, segment.lang,
                         len(segment.text), same.popleft()))
                else:
                    self._insert_segment(doc_id, position, segment)
                    added += 1
            gone = [seg_id for ids in old.values() for seg_id in ids]
            conn.executemany("DELETE FROM segments WHERE id = ?", ((i,) for i in gone))
            return "updated", added

    def _insert_segment(self, doc_id: int, position: int, segment) -> None:
        self.conn.execute(
            "INSERT INTO segments (document_id, position, kind, lang, text, source, text_hash,"
            " chars) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (doc_id, position, segment.kind, segment.lang, segment.text, segment.source,
             text_hash(segment.text), len(segment.text)))

    # --- reading the corpus ------------------------------------------------------------

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
        }

    _SEGMENT_COLUMNS = (
        "SELECT s.id, s.document_id, d.path, d.title, s.position, s.kind, s.lang, d.split,"
        " s.text, s.source, s.excluded OR d.excluded"
        " FROM segments s JOIN documents d ON d.id = s.document_id")
    _SEGMENT_KEYS = ("id", "document_id", "document", "title", "position", "kind", "lang",
                     "split", "text", "source", "excluded")

    def segments(self, *, kind: str | None = None, lang: str | None = None,
                 split: str | None = None, limit: int | None = None) -> list[dict]:
        where, params = [], []
        for column, value in (("s.kind", kind), ("s.lang", lang), ("d.split", split)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = self._SEGMENT_COLUMNS
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY d.path, s.position"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._segment_row(r) for r in self.conn.execute(sql, params)]

    def search_segments(self, query: str, *, limit: int = 50) -> list[dict]:
        """Segments containing every word of `query` (Chinese two-character words included).

        FTS5's trigram index answers terms of three or more characters; shorter terms
        (common in Chinese: 火车, 部署) fall back to LIKE on the segments themselves.
        """
        terms = query.split()
        if not terms:
            return []
        trigram = self.meta("fts_tokenizer") == "trigram"
        where, params = [], []
        for term in terms:
            if trigram and len(term) >= 3:
                where.append("s.id IN (SELECT rowid FROM segments_fts WHERE segments_fts MATCH ?)")
                params.append('"' + term.replace('"', '""') + '"')
            else:
                where.append("s.text LIKE ? ESCAPE '\\'")
                escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                params.append(f"%{escaped}%")
        sql = (self._SEGMENT_COLUMNS + " WHERE " + " AND ".join(where)
               + " ORDER BY s.kind != 'prose', d.date DESC, d.path, s.position LIMIT ?")
        return [self._segment_row(r) for r in self.conn.execute(sql, (*params, limit))]

    def _segment_row(self, row: tuple) -> dict:
        item = dict(zip(self._SEGMENT_KEYS, row, strict=True))
        item["excluded"] = bool(item["excluded"])
        return item
