"""The SQLite connection under the store: how the file is opened, what its errors mean.

- A new database is created 0600 (SQLite gives its -wal and -shm files the same mode); an
  existing one open to group or others is closed to them.
- A data folder or database file OwnVoice cannot write is opened read-only: reading
  works, and a write says "The data folder … is read-only" (`ReadOnlyDataFolder`).
- A damaged file (SQLite's CORRUPT and NOTADB errors, or an I/O error that SQLite's
  quick_check confirms) raises `DamagedDatabase`, naming the file and what to do, from
  whichever query meets the damage first.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from engine import paths
from engine.errors import DamagedDatabase, OwnVoiceError, ReadOnlyDataFolder


def _explained(method):
    """`method` of a cursor, with SQLite's errors passed through its connection's `explain`."""
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            problem = self.connection.explain(exc)
            if problem is exc:
                raise
            raise problem from exc

    call.__name__ = method.__name__
    return call


class Cursor(sqlite3.Cursor):
    execute = _explained(sqlite3.Cursor.execute)
    executemany = _explained(sqlite3.Cursor.executemany)
    executescript = _explained(sqlite3.Cursor.executescript)
    fetchone = _explained(sqlite3.Cursor.fetchone)
    fetchmany = _explained(sqlite3.Cursor.fetchmany)
    fetchall = _explained(sqlite3.Cursor.fetchall)
    __next__ = _explained(sqlite3.Cursor.__next__)  # damage met while stepping through rows


class Connection(sqlite3.Connection):
    """A connection whose every query reports damage and read-only files as OwnVoice errors."""

    def explain(self, exc: sqlite3.DatabaseError) -> Exception:
        return exc  # replaced by the store that opens the connection

    def cursor(self, factory=Cursor):
        return super().cursor(factory)

    def execute(self, sql, *args):
        return self.cursor().execute(sql, *args)

    def executemany(self, sql, *args):
        return self.cursor().executemany(sql, *args)

    def executescript(self, script):
        return self.cursor().executescript(script)


def _writable(path: Path) -> bool:
    """False when `path` exists and this process may not write it (root ignores modes)."""
    return not path.exists() or os.access(path, os.W_OK)


def folder_writable(path: Path) -> bool:
    return _writable(path.parent)


def open_connection(path: Path) -> tuple[Connection, bool]:
    """(the connection, whether it is read-only) for the database at `path`."""
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists():
            paths.make_private(file)
    read_only = not (folder_writable(path) and _writable(path))
    if read_only:
        if not path.exists():
            raise ReadOnlyDataFolder(f"{read_only_message(path)} It holds no OwnVoice "
                                     "database yet.")
        conn = sqlite3.connect(read_only_uri(path), uri=True, isolation_level=None,
                               timeout=30, check_same_thread=False, factory=Connection)
        return conn, True
    if not path.exists():  # created private: SQLite would make it 0644
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    # isolation_level=None: no implicit transactions; the store opens them explicitly.
    conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False,
                           factory=Connection)
    return conn, False


def read_only_uri(path: Path) -> str:
    """A read-only URI. In a folder it cannot write, SQLite cannot make the -shm file a WAL
    database needs, so the file is read as immutable (nobody can be writing it there)."""
    uri = path.absolute().as_uri() + "?mode=ro"
    if not folder_writable(path) and not Path(f"{path}-wal").exists():
        uri += "&immutable=1"
    return uri


def read_only_message(path: Path) -> str:
    """Names the data folder when it is what refuses writes, else the database file."""
    return paths.read_only_message(path if folder_writable(path) else path.parent)


def explain(path: Path, read_only: bool, exc: sqlite3.DatabaseError) -> Exception:
    """The OwnVoice error that SQLite's `exc` means, or `exc` itself when it is none of ours."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # the primary result code
    if code == sqlite3.SQLITE_READONLY or (read_only and code == sqlite3.SQLITE_CANTOPEN):
        return ReadOnlyDataFolder(read_only_message(path))
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return DamagedDatabase(damaged_message(path, exc, quick_check(path)))
    if code == sqlite3.SQLITE_FULL:  # the disk (or the file-size limit) is full
        return OwnVoiceError(f"There is no room left to save to the OwnVoice database {path} "
                             "(the disk is full): free some disk space and try again; what "
                             "was being saved was not saved, and nothing else is lost.")
    if code == sqlite3.SQLITE_IOERR:
        if problems := quick_check(path):
            return DamagedDatabase(damaged_message(path, exc, problems))
        return OwnVoiceError(f"Writing to the OwnVoice database {path} failed ({exc}): the "
                             "disk may be full or failing. Free some space or check the disk, "
                             "and try again; what was being saved was not saved, and nothing "
                             "else is lost.")
    return exc


def quick_check(path: Path) -> list[str]:
    """SQLite's quick_check of the file, on a read-only connection of its own: its
    problems, none when the file is sound."""
    try:
        with closing(sqlite3.connect(read_only_uri(path), uri=True)) as conn:
            rows = [row[0] for row in conn.execute("PRAGMA quick_check(100)")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def damaged_message(path: Path, exc: sqlite3.DatabaseError, problems: list[str]) -> str:
    found = f"; SQLite's quick_check finds {len(problems)} problem(s)" if problems else ""
    return (f"The OwnVoice database {path} is damaged ({exc}{found}). To go on, move it "
            f"aside and put back a backup copy of it, or leave it aside and OwnVoice starts a "
            f"new, empty one (then import your writing again).")
