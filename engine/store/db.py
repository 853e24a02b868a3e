"""Opening the database, transactions, the `meta` settings table and shared helpers.

One SQLite file (WAL, foreign keys on), opened through sqlite-utils, schema from
`migrations.py` on every open; `connection.py` opens the file (read-only where it cannot
be written) and turns a damaged file's errors into one clear message. Writes that must be
all-or-nothing go through `transaction()`; inside it only plain `execute` is used, since
sqlite-utils' table helpers commit on their own.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import sqlite_utils

from engine import paths
from engine.errors import DatabaseError, ReadOnlyDataFolder
from engine.store import connection, migrations


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


class Database:
    """The connection and what every table group shares."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else paths.db_path()
        self.read_only = False
        conn = None
        try:
            conn, self.read_only = connection.open_connection(self.path)
            conn.explain = self._explain
            if not self.read_only:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            self.db = sqlite_utils.Database(conn)
            # Read-only, an up-to-date schema passes; one that needs a migration cannot be
            # written and says the folder is read-only.
            migrations.migrate(self.db)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, sqlite3.DatabaseError):
                problem = self._explain(exc)
                if problem is not exc:
                    raise problem from exc
            if isinstance(exc, (sqlite3.DatabaseError, OSError)):
                raise DatabaseError(
                    f"Cannot open the OwnVoice database at {self.path}: {exc}. If the file is "
                    f"damaged, move it aside and OwnVoice will start a new one.") from exc
            raise

    def _explain(self, exc: sqlite3.DatabaseError) -> Exception:
        return connection.explain(self.path, self.read_only, exc)

    def require_writable(self) -> None:
        """Say at once, before any work, that nothing can be saved here."""
        if self.read_only:
            raise ReadOnlyDataFolder(connection.read_only_message(self.path))

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: BEGIN IMMEDIATE … COMMIT, ROLLBACK on any exception."""
        self.require_writable()
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

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

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
