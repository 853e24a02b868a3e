"""The database: migrations on a blank and an old database, WAL, foreign keys, errors."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils

from engine import paths
from engine.corpus.parsed import ParsedDocument, Segment
from engine.errors import DatabaseError
from engine.store import Store, migrations


def _doc(key: str = "/blog/a.md", *texts: str) -> ParsedDocument:
    return ParsedDocument(key=key, path=key, format="markdown", content_hash=f"h-{key}-{texts}",
                          split_key=key.rsplit("/", 1)[-1],
                          segments=[Segment("prose", t, t, "en") for t in texts or ("Hello.",)])


def test_database_lives_in_ownvoice_home(ownvoice_home):
    with Store() as store:
        assert store.path == ownvoice_home / paths.DB_FILENAME
        assert store.path.exists()


def test_blank_database_gets_every_migration_wal_and_foreign_keys(store):
    names = migrations.applied_migrations(store.db)
    assert names == [fn.__name__ for fn in migrations.MIGRATIONS]
    assert {"documents", "segments", "segments_fts", "meta"} <= set(store.db.table_names())
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_reopening_runs_no_migration_twice(ownvoice_home):
    Store().close()
    db = sqlite_utils.Database(paths.db_path())
    assert migrations.migrate(db) == []
    assert len(migrations.applied_migrations(db)) == len(migrations.MIGRATIONS)


def test_upgrade_from_first_schema_keeps_data_and_indexes_it(ownvoice_home):
    conn = sqlite3.connect(paths.db_path(), isolation_level=None)
    old = sqlite_utils.Database(conn)
    assert migrations.migrate(old, stop_after="m001_documents_and_segments") == [
        "m001_documents_and_segments"]
    conn.execute(
        "INSERT INTO documents (key, path, format, content_hash, split_key, split, imported_at,"
        " updated_at) VALUES ('/old.md', '/old.md', 'markdown', 'x', 'old.md', 'train', 'now',"
        " 'now')")
    conn.execute(
        "INSERT INTO segments (document_id, position, kind, text, source, text_hash, chars)"
        " VALUES (1, 0, 'prose', '旧数据库里的火车站段落', 's', 'h', 11)")
    conn.close()

    with Store() as store:
        assert "m002_segments_search" in migrations.applied_migrations(store.db)
        found = store.search_segments("火车站")
        assert [row["text"] for row in found] == ["旧数据库里的火车站段落"]
        assert store.corpus_stats()["documents"] == 1


def test_a_failing_migration_leaves_nothing_behind(store, monkeypatch):
    def m999_broken(db):
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, m999_broken])
    with pytest.raises(RuntimeError):
        migrations.migrate(store.db)
    assert "half_done" not in store.db.table_names()
    assert "m999_broken" not in migrations.applied_migrations(store.db)


def test_database_from_a_newer_version_is_refused_with_advice(ownvoice_home):
    Store().close()
    conn = sqlite3.connect(paths.db_path())
    conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_future', 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="newer version of OwnVoice"):
        Store()


def test_a_damaged_file_says_what_to_do(ownvoice_home):
    paths.db_path().write_bytes(b"this is not a database" * 100)
    with pytest.raises(DatabaseError, match="move it aside"):
        Store()


def test_deleting_a_document_removes_its_segments_and_search_rows(store):
    store.save_document(_doc("/blog/a.md", "火车站很远。", "Another paragraph here."))
    with store.transaction() as conn:
        conn.execute("DELETE FROM documents")
    assert store.conn.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == 0
    assert store.search_segments("火车站") == []
    assert store.search_segments("paragraph") == []


def test_transaction_rolls_back_on_error(store):
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
        raise RuntimeError
    assert store.meta("k") is None


def test_update_keeps_ids_of_unchanged_segments(store):
    assert store.save_document(_doc("/a.md", "One.", "Two.", "Three.")) == ("imported", 3)
    ids = {r["text"]: r["id"] for r in store.segments()}
    outcome = store.save_document(_doc("/a.md", "Zero.", "One.", "Three.", "Four."))
    assert outcome == ("updated", 2)
    rows = store.segments()
    assert [r["text"] for r in rows] == ["Zero.", "One.", "Three.", "Four."]
    after = {r["text"]: r["id"] for r in rows}
    assert after["One."] == ids["One."] and after["Three."] == ids["Three."]
    assert "Two." not in after
    assert [r["text"] for r in store.search_segments("Two")] == []


def test_search_finds_short_chinese_words_and_english_phrases(store):
    store.save_document(_doc("/zh.md", "我们用 Docker 部署服务。", "今天坐火车去上海。"))
    store.save_document(_doc("/en.md", "Trains in Japan run on time.", "100%_sure of it"))
    assert [r["text"] for r in store.search_segments("部署")] == ["我们用 Docker 部署服务。"]
    assert [r["text"] for r in store.search_segments("火")] == ["今天坐火车去上海。"]
    assert [r["text"] for r in store.search_segments("docker")] == ["我们用 Docker 部署服务。"]
    assert [r["text"] for r in store.search_segments("japan trains")] == [
        "Trains in Japan run on time."]
    assert [r["text"] for r in store.search_segments("%_")] == ["100%_sure of it"]
    assert store.search_segments('"; DROP TABLE segments; --') == []
    assert store.search_segments("   ") == []
