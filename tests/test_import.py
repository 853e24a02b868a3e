"""Importing folders: counts, idempotency, updates, atomic writes, splits, bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.corpus import importer
from engine.corpus.split import split_for
from engine.store import Store
from engine.store import corpus as corpus_queries
from tests.blog import (
    EXPECTED_DOCUMENTS,
    EXPECTED_PASSED_OVER,
    EXPECTED_SKIPPED,
    write,
)
from tests.conftest import run_ownvoice


def test_a_blog_folder_comes_in_with_every_bad_file_reported(store, blog):
    report = importer.import_paths(store, [blog])
    assert report.imported == EXPECTED_DOCUMENTS
    assert report.passed_over == EXPECTED_PASSED_OVER
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert len(report.skipped) == EXPECTED_SKIPPED
    assert reasons["draft.md"] == "draft (front matter says draft: true)"
    assert reasons["fake.md"] == "binary content (a PNG image), not text"
    assert reasons["empty.md"] == "empty file"
    assert reasons["cut.xml"].startswith("malformed XML (")
    stats = store.corpus_stats()
    assert stats["documents"] == EXPECTED_DOCUMENTS
    assert stats["segments"] == report.segments_added
    assert stats["by_format"] == {"markdown": 5, "text": 3, "html": 1, "wxr": 3}
    assert {"zh", "en", "fr"} <= set(stats["by_lang"])
    texts = " ".join(row["text"] for row in store.segments())
    assert "not ready to be read" not in texts  # the draft
    assert "Drafts are never imported" not in texts
    assert "Private posts" not in texts


def test_legacy_encodings_arrive_as_proper_text(store, blog):
    importer.import_paths(store, [blog / "legacy"])
    texts = {row["text"] for row in store.segments(kind="prose")}
    assert "第二段也是中文。" in texts
    assert "這是一篇用繁體中文寫的舊文章，存成了 Big5 編碼。" in texts
    assert "Un café au lait, s'il vous plaît. La façade était très élégante." in texts


def test_a_second_import_changes_nothing(store, blog):
    importer.import_paths(store, [blog])
    query = ("SELECT s.id, s.text, d.updated_at FROM segments s"
             " JOIN documents d ON d.id = s.document_id ORDER BY s.id")
    before = store.conn.execute(query).fetchall()
    again = importer.import_paths(store, [blog])
    assert (again.imported, again.updated, again.segments_added) == (0, 0, 0)
    assert again.unchanged == EXPECTED_DOCUMENTS
    assert store.conn.execute(query).fetchall() == before


def test_a_changed_file_replaces_its_segments_and_keeps_the_unchanged_ones(store, tmp_path):
    post = write(tmp_path / "p.md", "First paragraph.\n\nSecond paragraph.\n\nThird one.\n")
    importer.import_paths(store, [post])
    old_ids = {r["text"]: r["id"] for r in store.segments()}
    write(post, "First paragraph.\n\nA new second paragraph.\n\nThird one.\n")
    report = importer.import_paths(store, [post])
    assert (report.updated, report.segments_added, report.imported) == (1, 1, 0)
    rows = store.segments()
    assert [r["text"] for r in rows] == ["First paragraph.", "A new second paragraph.",
                                         "Third one."]
    assert rows[0]["id"] == old_ids["First paragraph."]
    assert rows[2]["id"] == old_ids["Third one."]
    assert [r["text"] for r in store.search_segments("second")] == ["A new second paragraph."]


def test_a_failure_while_writing_leaves_no_half_document(store, tmp_path, monkeypatch):
    write(tmp_path / "a.md", "Alpha one.\n\nAlpha two.\n\nAlpha three.\n")
    write(tmp_path / "b.md", "Beta one.\n\nBeta two.\n")
    calls = {"n": 0}
    original = corpus_queries._segment_row

    def failing_row(doc_id, position, segment):  # every segment written goes through it
        calls["n"] += 1
        if segment.text == "Alpha two.":
            raise RuntimeError("simulated crash in the middle of a document")
        return original(doc_id, position, segment)

    monkeypatch.setattr(corpus_queries, "_segment_row", failing_row)
    report = importer.import_paths(store, [tmp_path])
    assert calls["n"] >= 3
    assert report.imported == 1
    assert [Path(s.path).name for s in report.skipped] == ["a.md"]
    assert "nothing of it was saved" in report.skipped[0].reason
    assert [r["text"] for r in store.segments()] == ["Beta one.", "Beta two."]
    assert store.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 1


def test_a_failed_update_keeps_the_previous_version(store, tmp_path, monkeypatch):
    post = write(tmp_path / "a.md", "Old one.\n\nOld two.\n")
    importer.import_paths(store, [post])
    write(post, "Old one.\n\nNew two.\n\nNew three.\n")

    def failing_insert(self, doc_id, position, segment):
        raise RuntimeError("disk went away")

    monkeypatch.setattr(Store, "_insert_segment", failing_insert)
    report = importer.import_paths(store, [post])
    assert report.updated == 0 and len(report.skipped) == 1
    assert [r["text"] for r in store.segments()] == ["Old one.", "Old two."]
    monkeypatch.undo()
    assert importer.import_paths(store, [post]).updated == 1  # and it resumes


def test_a_full_disk_stops_the_import_with_advice(store, tmp_path, monkeypatch):
    import sqlite3

    from engine.errors import OwnVoiceError

    write(tmp_path / "a.md", "Some text.\n")

    def full(self, doc):  # what SQLite raises: told by its error code, not its words
        error = sqlite3.OperationalError("database or disk is full")
        error.sqlite_errorcode = sqlite3.SQLITE_FULL
        raise error

    monkeypatch.setattr(Store, "save_document", full)
    with pytest.raises(OwnVoiceError, match="disk .* is full.*free some space"):
        importer.import_paths(store, [tmp_path])


def test_moved_files_are_recognised_not_duplicated(store, tmp_path):
    write(tmp_path / "old" / "post.md", "A post that will move.\n")
    importer.import_paths(store, [tmp_path])
    shutil.move(tmp_path / "old", tmp_path / "new")
    report = importer.import_paths(store, [tmp_path])
    assert (report.imported, report.updated) == (0, 1)
    rows = store.conn.execute("SELECT path FROM documents").fetchall()
    assert rows == [(str(tmp_path / "new" / "post.md"),)]


def test_missing_paths_and_unreadable_files_are_reported(store, tmp_path):
    write(tmp_path / "good.md", "Readable.\n")
    (tmp_path / "dangling.md").symlink_to(tmp_path / "nowhere.md")
    report = importer.import_paths(store, [tmp_path, tmp_path / "no-such-folder"])
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert reasons["no-such-folder"] == "no such file or folder"
    assert reasons["dangling.md"].startswith("cannot read:")
    assert report.imported == 1


def test_single_files_can_be_imported(store, blog):
    report = importer.import_paths(store, [blog / "posts" / "plainly.md",
                                           blog / "images" / "photo0.png"])
    assert (report.imported, report.passed_over) == (1, 1)


def test_documents_without_any_text_are_skipped(store, tmp_path):
    write(tmp_path / "only-images.md", "---\ntitle: Gallery\n---\n\n![a](a.png)\n\n![b](b.png)\n")
    report = importer.import_paths(store, [tmp_path])
    assert report.imported == 0
    assert report.skipped[0].reason == "no text found in it"


def test_duplicate_paragraphs_across_posts_are_counted_once(store, tmp_path):
    for name in ("a", "b", "c"):
        write(tmp_path / f"{name}.md", f"Post {name} has its own first line.\n\n"
                                        "Thanks for reading, see you next week!\n")
    importer.import_paths(store, [tmp_path])
    stats = store.corpus_stats()
    assert stats["prose_segments"] == 6
    assert stats["unique_prose_segments"] == 4


def test_split_is_by_document_and_the_same_on_every_machine(tmp_path, blog, monkeypatch):
    splits = []
    for home in ("one", "two"):
        monkeypatch.setenv("OWNVOICE_HOME", str(tmp_path / home))
        copy = shutil.copytree(blog, tmp_path / f"{home}-blog")  # another place, same layout
        with Store() as store:
            importer.import_paths(store, [copy])
            splits.append(store.conn.execute(
                "SELECT split_key, split FROM documents ORDER BY split_key").fetchall())
            per_document = store.conn.execute(
                "SELECT COUNT(DISTINCT d.split) FROM segments s JOIN documents d"
                " ON d.id = s.document_id GROUP BY s.document_id").fetchall()
            assert {n for (n,) in per_document} == {1}
    assert splits[0] == splits[1]
    assert ("posts/2023-05-01-first.md", split_for("posts/2023-05-01-first.md")) in splits[0]


def test_split_proportions_are_about_90_5_5():
    counts = {"train": 0, "val": 0, "test": 0}
    for i in range(4000):
        counts[split_for(f"posts/post-{i}.md")] += 1
    assert 3500 < counts["train"] < 3700
    assert 130 < counts["val"] < 270 and 130 < counts["test"] < 270


def test_a_documents_split_never_changes_when_it_is_edited(store, tmp_path):
    post = write(tmp_path / "p.md", "Version one.\n")
    importer.import_paths(store, [post])
    store.conn.execute("UPDATE documents SET split = 'test'")  # as if hashed to test
    write(post, "Version two.\n")
    importer.import_paths(store, [post])
    assert store.conn.execute("SELECT split FROM documents").fetchone()[0] == "test"


def test_progress_is_reported_and_cancel_stops_between_files(store, blog):
    seen = []
    importer.import_paths(store, [blog / "posts"], progress=lambda d, t, p: seen.append((d, t)))
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    with Store() as other:
        report = importer.import_paths(other, [blog / "pages"], cancelled=lambda: True)
    assert report.imported == 0


def test_generated_sites_themes_and_draft_folders_are_not_the_users_writing(store, tmp_path):
    write(tmp_path / "content" / "posts" / "real.md", "My own words.\n")
    write(tmp_path / "public" / "posts" / "real" / "index.html",
          "<html><body><article><p>My own words.</p></article></body></html>")
    write(tmp_path / "themes" / "ananke" / "exampleSite" / "post.md", "Lorem ipsum dolor.\n")
    write(tmp_path / "_site" / "index.html", "<p>Generated by Jekyll.</p>")
    write(tmp_path / "_drafts" / "idea.md", "Not published yet.\n")
    write(tmp_path / "_layouts" / "default.html", "<p>Welcome to my site.</p>{{ content }}")
    write(tmp_path / "_includes" / "footer.html", "<p>Thanks for reading.</p>")
    write(tmp_path / "layouts" / "_default" / "single.html", "<h1>{{ .Title }}</h1>")
    report = importer.import_paths(store, [tmp_path])
    assert report.imported == 1
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [
        ("idea.md", "draft (in a _drafts folder)")]
    assert [r["text"] for r in store.segments()] == ["My own words."]
    # Named directly, a generated folder is imported like any other.
    assert importer.import_paths(store, [tmp_path / "public"]).imported == 1


def test_links_out_of_the_folder_and_linked_folders_are_not_followed(store, tmp_path):
    blog = tmp_path / "blog"
    write(blog / "post.md", "A public post.\n")
    write(blog / "real" / "inside.md", "Inside the blog.\n")
    diary = write(tmp_path / "private" / "diary.md", "My secret diary.\n")
    (blog / "diary.md").symlink_to(diary)
    (blog / "alias.md").symlink_to(blog / "post.md")  # inside the folder: read, once
    (blog / "private").symlink_to(tmp_path / "private", target_is_directory=True)
    (blog / "loop").symlink_to(blog, target_is_directory=True)
    report = importer.import_paths(store, [blog])
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"diary.md", "private", "loop"}
    assert reasons["diary.md"] == (f"a link to {diary}, outside the folder being imported: "
                                   "not followed (import that file directly if it is yours)")
    assert reasons["loop"].startswith(f"a link to the folder {blog}: links to folders are "
                                      "not followed")
    assert reasons["private"].startswith(f"a link to the folder {tmp_path / 'private'}:")
    assert (report.imported, report.unchanged) == (2, 1)
    texts = [r["text"] for r in store.segments()]
    assert sorted(texts) == ["A public post.", "Inside the blog."]
    # Named directly, a link is the user's choice: it is read.
    assert importer.import_paths(store, [blog / "diary.md"]).imported == 1


def test_two_imports_of_one_changed_file_at_once_count_it_once(tmp_path, ownvoice_home,
                                                               monkeypatch):
    import threading

    post = write(tmp_path / "blog" / "post.md", "First version.\n")
    with Store() as store:
        importer.import_paths(store, [post])
    write(post, "Second version.\n")
    both_compared = threading.Barrier(2)
    save = Store.save_document

    def save_once_both_compared(self, doc):
        both_compared.wait(timeout=30)  # each import has seen the old hash; neither saved
        return save(self, doc)

    monkeypatch.setattr(Store, "save_document", save_once_both_compared)
    reports, errors = [], []

    def run() -> None:
        try:
            with Store() as own:  # a connection of its own, as another process has
                reports.append(importer.import_paths(own, [post]))
        except Exception as exc:  # shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted((r.updated, r.unchanged) for r in reports) == [(0, 1), (1, 0)]
    assert sum(r.segments_added for r in reports) == 1
    with Store() as store:
        assert [r["text"] for r in store.segments()] == ["Second version."]


def test_a_move_two_imports_see_is_counted_once(store, tmp_path):
    write(tmp_path / "old" / "post.md", "A post that moves.\n")
    importer.import_paths(store, [tmp_path])
    shutil.move(tmp_path / "old", tmp_path / "new")
    key = str((tmp_path / "new" / "post.md").resolve())
    doc_id = store.conn.execute("SELECT id FROM documents").fetchone()[0]
    assert store.move_document(doc_id, key=key, path=key) == "updated"
    assert store.move_document(doc_id, key=key, path=key) == "unchanged"  # the second import


# --- new-user trial ------------------------------------------------------------------------

BAD_HEADER = "---\ntitle: Notes: a first try\ndate: 2020-01-01\n---\n\nMy own words here.\n"


def test_what_is_wrong_with_a_file_is_said_again_on_every_import(store, tmp_path):
    """New-user trial: the second import of the same folder printed no warning, because
    unchanged files are not read again."""
    post = write(tmp_path / "blog" / "notes.md", BAD_HEADER)
    write(tmp_path / "blog" / "fine.md", "---\ntitle: Fine\n---\n\nNothing wrong here.\n")
    first = importer.import_paths(store, [tmp_path / "blog"])
    assert first.imported == 2
    [warning] = first.warnings
    assert warning.path == str(post) and "read line by line: title, date" in warning.reason
    again = importer.import_paths(store, [tmp_path / "blog"])
    assert (again.imported, again.unchanged) == (0, 2)
    assert again.warnings == first.warnings
    # Fixed, the file is read again and says nothing more.
    write(post, "---\ntitle: \"Notes: a first try\"\ndate: 2020-01-01\n---\n\nMy own words.\n")
    fixed = importer.import_paths(store, [tmp_path / "blog"])
    assert (fixed.updated, fixed.warnings) == (1, [])
    assert importer.import_paths(store, [tmp_path / "blog"]).warnings == []


def test_a_moved_file_keeps_saying_what_is_wrong_with_it(store, tmp_path):
    write(tmp_path / "old" / "notes.md", BAD_HEADER)
    first = importer.import_paths(store, [tmp_path])
    shutil.move(tmp_path / "old", tmp_path / "new")
    moved = importer.import_paths(store, [tmp_path])
    assert (moved.imported, moved.updated) == (0, 1)
    assert [(Path(w.path).parent.name, w.reason) for w in moved.warnings] == [
        ("new", first.warnings[0].reason)]


def test_the_cli_repeats_the_warnings_of_unchanged_files(tmp_path):
    write(tmp_path / "blog" / "notes.md", BAD_HEADER)
    run_ownvoice("import", str(tmp_path / "blog"))
    again = run_ownvoice("import", str(tmp_path / "blog")).stdout
    assert "0 new document(s), updated 0, 1 unchanged" in again
    assert "Warnings (1):" in again and "notes.md: YAML front matter is invalid" in again


def test_documents_imported_before_warnings_were_kept_are_read_once_more(ownvoice_home,
                                                                          tmp_path):
    """An upgrade: m012 leaves the old documents' warnings unknown (NULL); the next import
    reads those files once more to learn them, and later imports say them from the store."""
    import sqlite3

    import sqlite_utils

    from engine import paths
    from engine.store import migrations

    post = write(tmp_path / "notes.md", BAD_HEADER)
    with Store() as store:
        importer.import_paths(store, [post])
        store.conn.execute("UPDATE documents SET warnings = NULL")  # as m012 leaves them
    conn = sqlite3.connect(paths.db_path(), isolation_level=None)
    conn.execute("DELETE FROM _migrations WHERE name = 'm012_document_warnings'")
    conn.execute("ALTER TABLE documents DROP COLUMN warnings")
    assert migrations.migrate(sqlite_utils.Database(conn)) == ["m012_document_warnings"]
    conn.close()
    with Store() as store:
        assert store.document_warnings(str(post.resolve())) is None
        upgraded = importer.import_paths(store, [post])
        assert (upgraded.unchanged, len(upgraded.warnings)) == (1, 1)
        assert len(store.document_warnings(str(post.resolve()))) == 1
        assert len(importer.import_paths(store, [post]).warnings) == 1


@pytest.mark.parametrize("status, reason", [
    ("hidden", "hidden, listed on no page of the site (front matter says status: hidden)"),
    ("draft", "not published (front matter says status: draft)"),
    ("published", None),
])
def test_pelican_status(store, tmp_path, status, reason):
    post = write(tmp_path / "post.md", f"Title: Kyoto notes\nDate: 2020-01-01\nStatus: {status}"
                                       "\n\nTwo days of temples and trains.\n")
    report = importer.import_paths(store, [post])
    assert [s.reason for s in report.skipped] == ([reason] if reason else [])
    assert report.imported == (0 if reason else 1)


def test_a_paragraph_a_translation_kept_as_it_was_is_still_the_writer_s(store, tmp_path):
    """Only what a translation *wrote* is machine text: a bilingual post's English paragraph,
    kept as it was by a translation into English, is still the writer's own."""
    from engine.translation.translate import TranslationResult, UnitResult

    mine = "I wrote this English paragraph myself, long before any model."
    source = f"{mine}\n\n我自己写的中文段落，后来被翻译成了英文。"
    machine = "My own Chinese paragraph, which was later translated into English."
    store.add_translation(model_id=None, model_name="test", result=TranslationResult(
        source_text=source, output=f"{mine}\n\n{machine}", source_lang="zh", target_lang="en",
        units=[UnitResult(mine, mine), UnitResult(source.split("\n\n")[1], machine)],
        tokens_in=0, tokens_out=0, ttft_ms=None, total_ms=0.0, warnings=[], settings={}))
    write(tmp_path / "bilingual.md", source)
    write(tmp_path / "english.md", f"{mine}\n\nAnd a second paragraph, also mine alone.\n")
    write(tmp_path / "saved-en.md", f"{mine}\n\n{machine}\n")
    report = importer.import_paths(store, [tmp_path])
    assert report.imported == 2
    [(path, reason)] = [(s.path, s.reason) for s in report.skipped]
    assert Path(path).name == "saved-en.md"
    assert reason.startswith("OwnVoice's own machine translation: 1 of its 2 paragraph(s) are "
                             "word for word translation #1 in your history")


def test_a_newer_reader_reads_every_file_again_keeping_ids_and_exclusions(ownvoice_home,
                                                                           tmp_path,
                                                                           monkeypatch):
    """What an older OwnVoice made of a file is not kept forever: the reader's version is
    part of the content hash, so after an upgrade the next import parses every file again
    (a fixed reader's segments replace the old ones) and keeps the paragraphs' ids and the
    writer's exclusions."""
    from engine.corpus import parsed

    post = write(tmp_path / "walk.md", "# A walk\n\nWe walked to the river at dawn, slowly."
                                        "\n\nThe water was cold and the light was grey.\n")
    monkeypatch.setattr(parsed, "READER_VERSION", "2020-01-01")
    with Store() as store:
        importer.import_paths(store, [post])
        before = {s["text"]: s["id"] for s in store.segments(kind="prose")}
        store.set_excluded("segments", before["The water was cold and the light was grey."],
                           True)
        assert importer.import_paths(store, [post]).unchanged == 1
        monkeypatch.setattr(parsed, "READER_VERSION", "2099-01-01")  # an upgrade
        again = importer.import_paths(store, [post])
        assert (again.unchanged, again.updated) == (0, 1)
        after = store.segments(kind="prose")
        assert {s["text"]: s["id"] for s in after} == before
        assert [s["excluded"] for s in after if s["text"].startswith("The water")] == [1]
        assert importer.import_paths(store, [post]).unchanged == 1


@pytest.mark.timeout(120)
@pytest.mark.parametrize("ext", ["md", "html", "txt"])
def test_a_paragraph_of_a_quarter_million_characters_comes_in_at_once(store, tmp_path, ext):
    """Chinese has no spaces: a long paragraph is one run of non-space characters, which
    a pattern tried from every position of it (an e-mail address looked for anywhere)
    took time quadratic in (a 90,000-character paragraph: 50 s; this one: hours)."""
    sentence = "今天天气很好，我们走到了港口，看了很久的船，然后回家吃饭。"
    body = sentence * 8000  # no "@" anywhere: every position was tried
    posts = tmp_path / "posts"
    posts.mkdir()
    text = {"md": f"# 长文\n\n{body}\n", "txt": f"长文\n\n{body}\n",
            "html": f"<html><body><h1>长文</h1><p>{body}</p></body></html>"}[ext]
    (posts / f"long.{ext}").write_text(text, encoding="utf-8")
    report = importer.import_paths(store, [posts])
    assert report.imported == 1
    texts = [row[0] for row in store.conn.execute("SELECT text FROM segments")]
    assert any(len(t) > 200_000 and t.endswith("回家吃饭。") for t in texts)
