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
from .errors import DatabaseError, OwnVoiceError


def _dicts(cur: sqlite3.Cursor, **json_fields: str) -> list[dict]:
    """Rows as dicts; `json_fields` names columns holding JSON, with the text that stands for
    an empty value."""
    names = [c[0] for c in cur.description]
    rows = []
    for row in cur.fetchall():
        item = dict(zip(names, row, strict=True))
        for key, empty in json_fields.items():
            item[key] = json.loads(item[key] or empty)
        rows.append(item)
    return rows


def _equal(*conditions: tuple[str, object]) -> tuple[str, list]:
    """' WHERE a = ? AND b = ?' for the (column, value) pairs whose value is not None
    ('' when none is)."""
    where = [(f"{column} = ?", value) for column, value in conditions if value is not None]
    if not where:
        return "", []
    return " WHERE " + " AND ".join(w for w, _ in where), [v for _, v in where]


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
            " (SELECT COUNT(*) FROM segments s WHERE s.document_id = d.id) AS segments,"
            " (SELECT COUNT(*) FROM segments s WHERE s.document_id = d.id"
            "  AND s.kind = 'prose') AS prose"
            f" FROM documents d {where} ORDER BY d.date DESC, d.path LIMIT ?",
            (*params, limit))
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

    # --- settings ------------------------------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- models --------------------------------------------------------------------------

    _MODEL_FIELDS = ("name", "backend", "path", "sha256", "size_bytes", "base_url", "model_id",
                     "key_name", "prompt_style", "base_model", "source_lang", "target_lang",
                     "origin", "job_id", "meta")

    def add_model(self, **fields) -> int:
        unknown = set(fields) - set(self._MODEL_FIELDS)
        if unknown:
            raise ValueError(f"unknown model fields {sorted(unknown)}")
        fields["meta"] = json.dumps(fields.get("meta") or {}, ensure_ascii=False)
        columns = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        with self.transaction() as conn:
            cur = conn.execute(f"INSERT INTO models ({columns}, created_at) VALUES ({marks}, ?)",
                               (*fields.values(), utc_now()))
            return cur.lastrowid

    def models(self) -> list[dict]:
        return _dicts(self.conn.execute("SELECT * FROM models ORDER BY id"), meta="{}")

    def model(self, name_or_id: str | int) -> dict | None:
        rows = _dicts(self.conn.execute("SELECT * FROM models WHERE name = ? OR id = ?",
                                        (str(name_or_id), name_or_id)), meta="{}")
        return rows[0] if rows else None

    def remove_model(self, model_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM models WHERE id = ?", (model_id,))
            conn.execute("DELETE FROM meta WHERE key = 'active_model' AND value = ?",
                         (str(model_id),))


    # --- remote hosts (GPU boxes over SSH) ----------------------------------------------------

    def add_host(self, *, name: str, user: str, host: str, port: int, key_file: str | None,
                 fingerprint: str | None, origin: str = "manual", meta: dict | None = None
                 ) -> dict:
        now = utc_now()
        try:
            with self.transaction() as conn:
                conn.execute(
                    "INSERT INTO remote_hosts (name, user, host, port, key_file, fingerprint,"
                    " origin, meta, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, user, host, port, key_file, fingerprint, origin,
                     json.dumps(meta or {}), now, now))
        except sqlite3.IntegrityError as exc:
            raise OwnVoiceError(f"There is already a remote host called {name!r}.") from exc
        return self.host(name)

    def host(self, name: str) -> dict | None:
        return next(iter(self.hosts(name=name)), None)

    def hosts(self, *, name: str | None = None) -> list[dict]:
        where, params = _equal(("name", name))
        return _dicts(self.conn.execute(f"SELECT * FROM remote_hosts{where} ORDER BY name",
                                        params), meta="{}")

    def update_host(self, name: str, **values) -> None:
        allowed = {"user", "host", "port", "key_file", "fingerprint", "meta"}
        if set(values) - allowed:
            raise ValueError(f"Cannot update {sorted(set(values) - allowed)}")
        if "meta" in values:
            values["meta"] = json.dumps(values["meta"])
        assignments = ", ".join(f"{column} = ?" for column in values)
        with self.transaction() as conn:
            conn.execute(f"UPDATE remote_hosts SET {assignments}, updated_at = ? WHERE name = ?",
                         (*values.values(), utc_now(), name))

    def remove_host(self, name: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM remote_hosts WHERE name = ?", (name,)).rowcount > 0

    # --- comparisons (ownvoice compare) ------------------------------------------------------

    def add_comparison(self, *, settings: dict, metrics: list[dict], report_path: str | None,
                       outputs: list[dict]) -> int:
        """One comparison with every system's outputs, in one transaction."""
        with self.transaction() as conn:
            cur = conn.execute("INSERT INTO comparisons (created_at, settings, metrics,"
                               " report_path) VALUES (?, ?, ?, ?)",
                               (utc_now(), json.dumps(settings, ensure_ascii=False),
                                json.dumps(metrics, ensure_ascii=False), report_path))
            comparison_id = cur.lastrowid
            conn.executemany(
                "INSERT INTO comparison_outputs (comparison_id, system, pair_id, output,"
                " metrics) VALUES (?, ?, ?, ?, ?)",
                [(comparison_id, o["system"], o["pair_id"], o["output"],
                  json.dumps(o["metrics"], ensure_ascii=False)) for o in outputs])
        return comparison_id

    def comparison(self, comparison_id: int) -> dict | None:
        rows = _dicts(self.conn.execute("SELECT * FROM comparisons WHERE id = ?",
                                        (comparison_id,)), settings="{}", metrics="[]")
        if not rows:
            return None
        rows[0]["outputs"] = _dicts(self.conn.execute(
            "SELECT * FROM comparison_outputs WHERE comparison_id = ? ORDER BY id",
            (comparison_id,)), metrics="{}")
        return rows[0]

    def latest_comparison_id(self) -> int | None:
        row = self.conn.execute("SELECT MAX(id) FROM comparisons").fetchone()
        return row[0]

    # --- the blind test --------------------------------------------------------------------

    def add_blind_trials(self, trials: list[dict]) -> None:
        now = utc_now()
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO blind_trials (comparison_id, pair_id, question, left_system,"
                " right_system, left_text, right_text, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(t["comparison_id"], t["pair_id"], t["question"], t["left_system"],
                  t["right_system"], t["left_text"], t["right_text"], now) for t in trials])

    def blind_trials(self, comparison_id: int, *, answered: bool | None = None) -> list[dict]:
        where = "" if answered is None else (" AND choice IS NOT NULL" if answered
                                             else " AND choice IS NULL")
        return _dicts(self.conn.execute(
            f"SELECT * FROM blind_trials WHERE comparison_id = ?{where} ORDER BY id",
            (comparison_id,)))

    def answer_blind_trial(self, trial_id: int, choice: str) -> None:
        if choice not in ("left", "right"):
            raise ValueError(choice)
        with self.transaction() as conn:
            conn.execute("UPDATE blind_trials SET choice = ?, answered_at = ? WHERE id = ?",
                         (choice, utc_now(), trial_id))

    # --- translation history -------------------------------------------------------------

    def add_translation(self, *, model_id: int | None, model_name: str, result) -> int:
        """Store a TranslationResult (engine.translate); returns its history id."""
        units = [{"source": u.source, "output": u.output} for u in result.units]
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO translations (created_at, model_id, model_name, source_lang,"
                " target_lang, source_text, output_text, units, settings, tokens_in, tokens_out,"
                " ttft_ms, total_ms, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (utc_now(), model_id, model_name, result.source_lang, result.target_lang,
                 result.source_text, result.output, json.dumps(units, ensure_ascii=False),
                 json.dumps(result.settings), result.tokens_in, result.tokens_out,
                 result.ttft_ms, result.total_ms, json.dumps(result.warnings, ensure_ascii=False)))
            return cur.lastrowid

    def translation(self, translation_id: int) -> dict | None:
        rows = self._translation_rows(
            self.conn.execute("SELECT * FROM translations WHERE id = ?", (translation_id,)))
        return rows[0] if rows else None

    def translations(self, *, search: str | None = None, limit: int = 50) -> list[dict]:
        """Newest first; `search` matches source, output or correction (short CJK words too)."""
        where, params = self._text_match(search, "translations", "t",
                                         ("source_text", "output_text", "corrected_text"))
        cur = self.conn.execute(
            f"SELECT t.* FROM translations t {where} ORDER BY t.id DESC LIMIT ?",
            (*params, limit))
        return self._translation_rows(cur)

    def rate_translation(self, translation_id: int, rating: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE translations SET rating = ? WHERE id = ?",
                         (rating, translation_id))

    def correct_translation(self, translation_id: int, corrected: str,
                            pairs: list[dict]) -> list[int]:
        """Save the user's corrected text and its training pairs together, or neither."""
        now = utc_now()
        ids = []
        with self.transaction() as conn:
            conn.execute("UPDATE translations SET corrected_text = ?, corrected_at = ?"
                         " WHERE id = ?", (corrected, now, translation_id))
            conn.execute("DELETE FROM pairs WHERE translation_id = ? AND origin = 'correction'",
                         (translation_id,))
            for pair in pairs:
                cur = conn.execute(
                    "INSERT INTO pairs (origin, source_lang, target_lang, source_text,"
                    " target_text, weight, split, translation_id, meta, created_at)"
                    " VALUES ('correction', ?, ?, ?, ?, ?, 'train', ?, ?, ?)",
                    (pair["source_lang"], pair["target_lang"], pair["source_text"],
                     pair["target_text"], pair["weight"], translation_id,
                     json.dumps(pair.get("meta") or {}, ensure_ascii=False), now))
                ids.append(cur.lastrowid)
        return ids

    def pairs(self, *, origin: str | None = None, translation_id: int | None = None,
              status: str | None = None) -> list[dict]:
        where, params = _equal(("origin", origin), ("translation_id", translation_id),
                               ("status", status))
        return _dicts(self.conn.execute(f"SELECT * FROM pairs{where} ORDER BY id", params),
                      meta="{}")

    def update_pair(self, pair_id: int, *, source_text: str | None = None,
                    excluded: bool | None = None) -> None:
        """The user edits a pair's machine text, or keeps the pair out of training."""
        with self.transaction() as conn:
            if source_text is not None:
                conn.execute("UPDATE pairs SET source_text = ? WHERE id = ?",
                             (source_text, pair_id))
            if excluded is not None:
                conn.execute("UPDATE pairs SET excluded = ? WHERE id = ?",
                             (int(excluded), pair_id))

    def _translation_rows(self, cur: sqlite3.Cursor) -> list[dict]:
        return _dicts(cur, units="null", settings="null", warnings="null")

    def _text_match(self, query: str | None, table: str, alias: str,
                    columns: tuple[str, ...]) -> tuple[str, list]:
        """A WHERE clause matching every word of `query` in any of `columns`.

        FTS5's trigram index answers words of three characters or more; shorter ones
        (Chinese 火车, 部署) fall back to LIKE on the table itself.
        """
        terms = (query or "").split()
        if not terms:
            return "", []
        trigram = self.meta("fts_tokenizer") == "trigram"
        clauses, params = [], []
        for term in terms:
            if trigram and len(term) >= 3:
                clauses.append(f"{alias}.id IN (SELECT rowid FROM {table}_fts"
                               f" WHERE {table}_fts MATCH ?)")
                params.append('"' + term.replace('"', '""') + '"')
            else:
                escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                clauses.append("(" + " OR ".join(f"{alias}.{c} LIKE ? ESCAPE '\\'"
                                                 for c in columns) + ")")
                params += [f"%{escaped}%"] * len(columns)
        return "WHERE " + " AND ".join(clauses), params

    # --- synthetic pairs -----------------------------------------------------------------

    def synth_candidates(self, *, user_lang: str, splits: tuple[str, ...] = ("train", "val",
                                                                             "test"),
                         limit: int | None = None) -> list[dict]:
        """Prose paragraphs in the user's language that may become pairs: not excluded, and
        each distinct paragraph once (a sign-off repeated in every post counts once)."""
        marks = ", ".join("?" for _ in splits)
        sql = ("SELECT s.id, s.text, d.split FROM segments s JOIN documents d"
               " ON d.id = s.document_id WHERE s.kind = 'prose' AND s.lang = ?"
               f" AND NOT s.excluded AND NOT d.excluded AND d.split IN ({marks})"
               " AND s.id IN (SELECT MIN(id) FROM segments GROUP BY text_hash)"
               " ORDER BY d.split = 'train' DESC, d.date DESC, s.document_id, s.position")
        params: list = [user_lang, *splits]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [{"id": i, "text": t, "split": sp} for i, t, sp in self.conn.execute(sql, params)]

    def main_language(self) -> str | None:
        """The language most of the user's prose is written in."""
        row = self.conn.execute(
            "SELECT lang FROM segments WHERE kind = 'prose' AND lang IS NOT NULL GROUP BY lang"
            " ORDER BY SUM(chars) DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def synthetic_done(self) -> set[tuple[int, str]]:
        """(segment id, style) of every synthetic pair made so far, kept or rejected."""
        return set(self.conn.execute(
            "SELECT segment_id, style FROM pairs WHERE origin = 'synthetic'").fetchall())

    def accepted_synthetic(self, segment_id: int) -> dict[str, str]:
        return dict(self.conn.execute(
            "SELECT style, source_text FROM pairs WHERE origin = 'synthetic' AND status = 'ok'"
            " AND segment_id = ?", (segment_id,)).fetchall())

    def add_synthetic_pair(self, *, segment_id: int, style: str, source_text: str,
                           target_text: str, source_lang: str, target_lang: str, split: str,
                           model: str, cost_usd: float, reject_reason: str | None) -> bool:
        """Store one synthetic pair (or its rejection); False if it existed already."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO pairs (origin, source_lang, target_lang, source_text,"
                " target_text, weight, split, segment_id, style, model, cost_usd, status,"
                " reject_reason, created_at) VALUES ('synthetic', ?, ?, ?, ?, 1.0, ?, ?, ?, ?,"
                " ?, ?, ?, ?)",
                (source_lang, target_lang, source_text, target_text, split, segment_id, style,
                 model, cost_usd, "rejected" if reject_reason else "ok", reject_reason,
                 utc_now()))
            return cur.rowcount == 1

    def pair_stats(self) -> dict:
        q = self.conn.execute
        by = {f"{o}/{s}": n for o, s, n in q(
            "SELECT origin, status, COUNT(*) FROM pairs GROUP BY origin, status")}
        return {
            "pairs": q("SELECT COUNT(*) FROM pairs WHERE status = 'ok' AND NOT excluded")
            .fetchone()[0],
            "rejected": q("SELECT COUNT(*) FROM pairs WHERE status = 'rejected'").fetchone()[0],
            "by_origin": by,
            "by_split": dict(q("SELECT split, COUNT(*) FROM pairs WHERE status = 'ok' AND NOT"
                               " excluded GROUP BY split").fetchall()),
            "by_style": dict(q("SELECT COALESCE(style, origin), COUNT(*) FROM pairs WHERE"
                               " status = 'ok' GROUP BY 1").fetchall()),
            "rejections": dict(q("SELECT reject_reason, COUNT(*) FROM pairs WHERE"
                                 " status = 'rejected' GROUP BY 1 ORDER BY 2 DESC").fetchall()),
            "cost_usd": round(q("SELECT COALESCE(SUM(cost_usd), 0) FROM pairs").fetchone()[0], 6),
        }

    def training_pairs(self, *, split: str) -> list[dict]:
        """Kept, not excluded pairs of a split, with their weights (corrections weigh more)."""
        cur = self.conn.execute(
            "SELECT p.id, p.origin, p.style, p.source_lang, p.target_lang, p.source_text,"
            " p.target_text, p.weight, p.segment_id, d.id AS document_id FROM pairs p"
            " LEFT JOIN segments s ON s.id = p.segment_id"
            " LEFT JOIN documents d ON d.id = s.document_id"
            " WHERE p.status = 'ok' AND NOT p.excluded AND p.split = ?"
            " AND COALESCE(s.excluded, 0) = 0 AND COALESCE(d.excluded, 0) = 0"
            " ORDER BY p.id", (split,))
        return _dicts(cur)

    # --- jobs (fine-tuning pilots, batches, training runs) ---------------------------------

    def add_job(self, *, kind: str, status: str, provider_id: str | None, model: str | None,
                meta: dict) -> dict:
        now = utc_now()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO jobs (kind, status, provider_id, model, meta, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, status, provider_id, model, json.dumps(meta, ensure_ascii=False), now,
                 now))
            job_id = cur.lastrowid
        return self.job(job_id)

    def update_job(self, job_id: int, *, status: str, result: str | None = None,
                   meta: dict | None = None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE jobs SET status = ?, result = COALESCE(?, result),"
                         " meta = COALESCE(?, meta), updated_at = ? WHERE id = ?",
                         (status, result, json.dumps(meta, ensure_ascii=False)
                          if meta is not None else None, utc_now(), job_id))

    def job(self, job_id: int) -> dict | None:
        return next(iter(self.jobs(job_id=job_id)), None)

    def jobs(self, *, kind: str | None = None, job_id: int | None = None) -> list[dict]:
        where, params = _equal(("kind", kind), ("id", job_id))
        return _dicts(self.conn.execute(f"SELECT * FROM jobs{where} ORDER BY id DESC", params),
                      meta="{}")
