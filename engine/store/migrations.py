"""The database schema, as append-only named migrations.

Each function runs once, in its own transaction, the first time a database that
lacks it is opened; its name is recorded in `_migrations`. Never edit or reorder a
shipped migration: add a new one at the bottom.

Migrations use plain SQL through `db.execute`: sqlite-utils' table helpers commit
on their own, which would break the one-transaction-per-migration guarantee.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

from engine.errors import DatabaseError
from engine.languages import count_words

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    if "_migrations" not in db.table_names():
        return []
    return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY id")]


def migrate(db: sqlite_utils.Database, *, stop_after: str | None = None) -> list[str]:
    """Bring the schema up to date; returns the names of the migrations it ran.

    `stop_after` (tests only) stops after the named migration, to build an old schema.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations ("
        " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL)"
    )
    done = set(applied_migrations(db))
    known = {fn.__name__ for fn in MIGRATIONS}
    unknown = sorted(done - known)
    if unknown:
        raise DatabaseError(
            f"This database was written by a newer version of OwnVoice (it has the migration "
            f"{unknown[0]!r}, which this version does not know). Update OwnVoice to open it."
        )
    ran: list[str] = []
    for fn in MIGRATIONS:
        if fn.__name__ not in done:
            conn = db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                fn(db)
                conn.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                    (fn.__name__, datetime.now(UTC).isoformat(timespec="seconds")),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            ran.append(fn.__name__)
        if fn.__name__ == stop_after:
            break
    return ran


def _fts5_tokenizer(db: sqlite_utils.Database) -> str:
    """trigram finds Chinese words inside a run of characters; it needs SQLite >= 3.34."""
    try:
        db.execute("CREATE VIRTUAL TABLE temp._probe USING fts5(x, tokenize='trigram')")
        db.execute("DROP TABLE temp._probe")
        return "trigram"
    except sqlite3.OperationalError:
        return "unicode61"


# --- migrations: append below, never edit above ---------------------------------------


@migration
def m001_documents_and_segments(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,          -- identity: a file's absolute path, or wxr:<guid>
            path TEXT NOT NULL,                -- where it was read from, for people
            format TEXT NOT NULL,              -- markdown | html | text | wxr
            title TEXT,
            date TEXT,
            url TEXT,
            lang TEXT,                         -- majority language of its prose
            meta TEXT NOT NULL DEFAULT '{}',   -- front matter / WXR fields, JSON
            content_hash TEXT NOT NULL,        -- sha256 of what was read: re-import is a no-op
            split_key TEXT NOT NULL,
            split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
            excluded INTEGER NOT NULL DEFAULT 0,
            imported_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX documents_content_hash ON documents(content_hash)")
    db.execute(
        """CREATE TABLE segments (
            id INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            kind TEXT NOT NULL,                -- prose | heading | list | quote | code | ...
            lang TEXT,
            text TEXT NOT NULL,                -- the words, markup removed
            source TEXT NOT NULL,              -- the original markup of this block
            text_hash TEXT NOT NULL,           -- dedupe across documents
            chars INTEGER NOT NULL,
            excluded INTEGER NOT NULL DEFAULT 0,
            UNIQUE (document_id, position)
        )"""
    )
    db.execute("CREATE INDEX segments_text_hash ON segments(text_hash)")
    db.execute("CREATE INDEX segments_kind ON segments(kind)")


@migration
def m002_segments_search(db: sqlite_utils.Database) -> None:
    tokenizer = _fts5_tokenizer(db)
    db.execute(
        "CREATE VIRTUAL TABLE segments_fts USING fts5("
        f"text, content='segments', content_rowid='id', tokenize='{tokenizer}')"
    )
    db.execute(
        """CREATE TRIGGER segments_fts_insert AFTER INSERT ON segments BEGIN
            INSERT INTO segments_fts (rowid, text) VALUES (new.id, new.text);
        END"""
    )
    db.execute(
        """CREATE TRIGGER segments_fts_delete AFTER DELETE ON segments BEGIN
            INSERT INTO segments_fts (segments_fts, rowid, text)
                VALUES ('delete', old.id, old.text);
        END"""
    )
    db.execute(
        """CREATE TRIGGER segments_fts_update AFTER UPDATE OF text ON segments BEGIN
            INSERT INTO segments_fts (segments_fts, rowid, text)
                VALUES ('delete', old.id, old.text);
            INSERT INTO segments_fts (rowid, text) VALUES (new.id, new.text);
        END"""
    )
    # Databases upgraded from m001 already hold segments: index them.
    db.execute("INSERT INTO segments_fts (segments_fts) VALUES ('rebuild')")
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('fts_tokenizer', ?)", (tokenizer,)
    )


@migration
def m003_models(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            backend TEXT NOT NULL CHECK (backend IN ('llama.cpp', 'openai')),
            path TEXT,                        -- GGUF file (llama.cpp)
            sha256 TEXT,
            size_bytes INTEGER,
            base_url TEXT,                    -- endpoint (openai); NULL = api.openai.com
            model_id TEXT,                    -- the endpoint's model name
            key_name TEXT,                    -- which keyring secret holds its API key
            prompt_style TEXT NOT NULL CHECK (prompt_style IN ('chat', 'completion')),
            base_model TEXT,
            source_lang TEXT,
            target_lang TEXT,
            origin TEXT NOT NULL,             -- default | imported | downloaded | endpoint |
                                              -- fine-tuned | openai-fine-tuned
            job_id INTEGER,
            meta TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        )"""
    )


@migration
def m004_translations_and_pairs(db: sqlite_utils.Database) -> None:
    tokenizer = _fts5_tokenizer(db)
    db.execute(
        """CREATE TABLE translations (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
            model_name TEXT NOT NULL,         -- kept when the model is removed
            source_lang TEXT,
            target_lang TEXT NOT NULL,
            source_text TEXT NOT NULL,
            output_text TEXT NOT NULL,
            units TEXT NOT NULL DEFAULT '[]', -- [{source, output}] per translated paragraph
            settings TEXT NOT NULL DEFAULT '{}',
            tokens_in INTEGER,
            tokens_out INTEGER,
            ttft_ms REAL,
            total_ms REAL,
            warnings TEXT NOT NULL DEFAULT '[]',
            rating INTEGER CHECK (rating IN (-1, 0, 1)),
            corrected_text TEXT,
            corrected_at TEXT
        )"""
    )
    db.execute(
        "CREATE VIRTUAL TABLE translations_fts USING fts5(source_text, output_text,"
        f" corrected_text, content='translations', content_rowid='id', tokenize='{tokenizer}')"
    )
    db.execute(
        """CREATE TRIGGER translations_fts_insert AFTER INSERT ON translations BEGIN
            INSERT INTO translations_fts (rowid, source_text, output_text, corrected_text)
                VALUES (new.id, new.source_text, new.output_text, new.corrected_text);
        END"""
    )
    db.execute(
        """CREATE TRIGGER translations_fts_delete AFTER DELETE ON translations BEGIN
            INSERT INTO translations_fts (translations_fts, rowid, source_text, output_text,
                corrected_text)
                VALUES ('delete', old.id, old.source_text, old.output_text, old.corrected_text);
        END"""
    )
    db.execute(
        """CREATE TRIGGER translations_fts_update AFTER UPDATE ON translations BEGIN
            INSERT INTO translations_fts (translations_fts, rowid, source_text, output_text,
                corrected_text)
                VALUES ('delete', old.id, old.source_text, old.output_text, old.corrected_text);
            INSERT INTO translations_fts (rowid, source_text, output_text, corrected_text)
                VALUES (new.id, new.source_text, new.output_text, new.corrected_text);
        END"""
    )
    # Training pairs: source = machine-flavoured input, target = the user's own words.
    db.execute(
        """CREATE TABLE pairs (
            id INTEGER PRIMARY KEY,
            origin TEXT NOT NULL,             -- synthetic | correction
            source_lang TEXT,
            target_lang TEXT,
            source_text TEXT NOT NULL,
            target_text TEXT NOT NULL,
            weight REAL NOT NULL DEFAULT 1.0,
            split TEXT NOT NULL DEFAULT 'train' CHECK (split IN ('train', 'val', 'test')),
            segment_id INTEGER REFERENCES segments(id) ON DELETE SET NULL,
            translation_id INTEGER REFERENCES translations(id) ON DELETE SET NULL,
            excluded INTEGER NOT NULL DEFAULT 0,
            meta TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX pairs_translation ON pairs(translation_id)")
    db.execute("CREATE INDEX pairs_segment ON pairs(segment_id)")


@migration
def m005_synthesis_and_jobs(db: sqlite_utils.Database) -> None:
    for column, kind in (("style", "TEXT"), ("model", "TEXT"), ("cost_usd", "REAL"),
                         ("status", "TEXT NOT NULL DEFAULT 'ok'"), ("reject_reason", "TEXT")):
        db.execute(f"ALTER TABLE pairs ADD COLUMN {column} {kind}")
    # One synthetic pair per paragraph and style: a resumed run can never add a duplicate.
    db.execute("CREATE UNIQUE INDEX pairs_synthetic_once ON pairs(segment_id, style)"
               " WHERE origin = 'synthetic'")
    db.execute(
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,               -- openai-pilot | openai-batch | local | remote
            status TEXT NOT NULL,
            provider_id TEXT,                 -- the provider's job / batch id
            model TEXT,
            result TEXT,                      -- e.g. the fine-tuned model id
            meta TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )


@migration
def m006_remote_hosts(db: sqlite_utils.Database) -> None:
    # GPU boxes reached over SSH, by name. Host keys live in the app's own known_hosts file;
    # `fingerprint` is the one the user confirmed (or the cloud reported). Never a password.
    db.execute(
        """CREATE TABLE remote_hosts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            user TEXT NOT NULL,
            host TEXT NOT NULL,
            port INTEGER NOT NULL DEFAULT 22,
            key_file TEXT,                    -- NULL: the SSH agent or ~/.ssh keys
            fingerprint TEXT,                 -- SHA256:… of the pinned host key
            origin TEXT NOT NULL DEFAULT 'manual',  -- manual | lambda
            meta TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )


@migration
def m007_comparisons(db: sqlite_utils.Database) -> None:
    # `ownvoice compare`: every system's outputs on the same held-out pairs, and their scores.
    db.execute(
        """CREATE TABLE comparisons (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            settings TEXT NOT NULL DEFAULT '{}',
            metrics TEXT NOT NULL DEFAULT '[]',    -- one SystemScores per system
            report_path TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE comparison_outputs (
            id INTEGER PRIMARY KEY,
            comparison_id INTEGER NOT NULL REFERENCES comparisons(id) ON DELETE CASCADE,
            system TEXT NOT NULL,
            pair_id INTEGER REFERENCES pairs(id) ON DELETE SET NULL,
            output TEXT NOT NULL,
            metrics TEXT NOT NULL DEFAULT '{}'
        )"""
    )


@migration
def m008_blind_trials(db: sqlite_utils.Database) -> None:
    # The blind test: two texts shown unlabelled, the user's pick (preference data too).
    db.execute(
        """CREATE TABLE blind_trials (
            id INTEGER PRIMARY KEY,
            comparison_id INTEGER NOT NULL REFERENCES comparisons(id) ON DELETE CASCADE,
            pair_id INTEGER REFERENCES pairs(id) ON DELETE SET NULL,
            question TEXT NOT NULL,           -- yours | better
            left_system TEXT NOT NULL,
            right_system TEXT NOT NULL,
            left_text TEXT NOT NULL,
            right_text TEXT NOT NULL,
            choice TEXT,                      -- left | right, NULL until answered
            created_at TEXT NOT NULL,
            answered_at TEXT
        )"""
    )


@migration
def m009_job_states(db: sqlite_utils.Database) -> None:
    # One set of state words for every kind of job (engine/jobs.py). The providers' own
    # words move into meta.provider_status; a rented box's host name moves into meta.cloud.
    pilot = {"validating_files": "queued", "queued": "queued", "running": "training",
             "succeeded": "done", "failed": "failed", "cancelled": "cancelled"}
    batch = {"validating": "queued", "failed": "failed", "expired": "failed",
             "cancelled": "cancelled", "collected": "done"}
    training = {"running": "training", "starting": "queued"}
    for job_id, kind, status, meta in list(db.execute(
            "SELECT id, kind, status, meta FROM jobs")):
        meta = json.loads(meta or "{}")
        if kind == "openai-pilot":
            meta["provider_status"] = status
            status = pilot.get(status, "running")
        elif kind == "openai-batch":
            meta["provider_status"] = status
            status = batch.get(status, "running")
        else:
            status = training.get(status, status)
        if "remote_host" in meta:
            host = meta.pop("remote_host")
            if isinstance(meta.get("cloud"), dict):
                meta["cloud"]["host"] = host
        db.execute("UPDATE jobs SET status = ?, meta = ? WHERE id = ?",
                   (status, json.dumps(meta, ensure_ascii=False), job_id))


@migration
def m010_comparison_yours_key(db: sqlite_utils.Database) -> None:
    # The user's own text in a comparison was stored under its display text, "your own
    # text", which a model could also be named; it is keyed "@yours" now (metrics.YOURS),
    # a name no model can take. Written out here: a migration never changes meaning later.
    old, new = "your own text", "@yours"
    db.execute("UPDATE comparison_outputs SET system = ? WHERE system = ?", (new, old))
    for column in ("left_system", "right_system"):
        db.execute(f"UPDATE blind_trials SET {column} = ? WHERE {column} = ?", (new, old))
    for comparison_id, metrics in list(db.execute("SELECT id, metrics FROM comparisons")):
        systems = json.loads(metrics or "[]")
        ours = [s for s in systems if isinstance(s, dict) and s.get("system") == old]
        for system in ours:
            system["system"] = new
        if ours:
            db.execute("UPDATE comparisons SET metrics = ? WHERE id = ?",
                       (json.dumps(systems, ensure_ascii=False), comparison_id))


@migration
def m011_works(db: sqlite_utils.Database) -> None:
    # A post and its translations are one work (engine/corpus/works.py): every version keeps
    # its own split_key, shares the work's key, and is the work's original or a translation.
    # Until the next import links them, every document is a work of its own. Segments count
    # their words (a Chinese character is one) for the writer's language.
    db.execute("ALTER TABLE documents ADD COLUMN work_key TEXT")
    db.execute("ALTER TABLE documents ADD COLUMN role TEXT NOT NULL DEFAULT 'original'"
               " CHECK (role IN ('original', 'translation'))")
    db.execute("UPDATE documents SET work_key = split_key")
    db.execute("CREATE INDEX documents_work_key ON documents(work_key)")
    db.execute("ALTER TABLE segments ADD COLUMN words INTEGER NOT NULL DEFAULT 0")
    rows = list(db.execute("SELECT id, text FROM segments"))
    db.conn.executemany("UPDATE segments SET words = ? WHERE id = ?",
                        ((count_words(text), seg_id) for seg_id, text in rows))


@migration
def m012_document_warnings(db: sqlite_utils.Database) -> None:
    # What was wrong with a document's file when it was read (a header recovered line by
    # line…), a JSON list, so that importing the same file again says it again. NULL: read
    # before this column existed; the next import reads such a file once more to fill it.
    db.execute("ALTER TABLE documents ADD COLUMN warnings TEXT")


@migration
def m013_preferences(db: sqlite_utils.Database) -> None:
    # The writer's judgments as (source, chosen, rejected) for preference training
    # (engine/pairs/preferences.py). `key` names the judgment a row comes from; rows made
    # from corrections, ratings and blind trials are derived again whenever they are used
    # (engine/pairs/preferences.sync), "show me another" choices are stored as made.
    db.execute(
        """CREATE TABLE preferences (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            origin TEXT NOT NULL CHECK (origin IN ('correction', 'choice', 'blind', 'rating')),
            source_lang TEXT,
            target_lang TEXT,
            source_text TEXT NOT NULL,
            chosen_text TEXT NOT NULL,
            rejected_text TEXT NOT NULL,
            weight REAL NOT NULL DEFAULT 1.0,
            split TEXT NOT NULL DEFAULT 'train' CHECK (split IN ('train', 'val', 'test')),
            translation_id INTEGER REFERENCES translations(id) ON DELETE CASCADE,
            other_translation_id INTEGER REFERENCES translations(id) ON DELETE CASCADE,
            blind_trial_id INTEGER REFERENCES blind_trials(id) ON DELETE CASCADE,
            pair_id INTEGER REFERENCES pairs(id) ON DELETE SET NULL,
            excluded INTEGER NOT NULL DEFAULT 0,
            meta TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX preferences_split ON preferences(split, origin)")
