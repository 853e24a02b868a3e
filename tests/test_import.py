"""Importing folders: counts, idempotency, updates, atomic writes, splits, bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.corpus import importer
from engine.corpus.split import split_for
from engine.store import Store
from tests.blog import (
    EXPECTED_DOCUMENTS,
    EXPECTED_PASSED_OVER,
    EXPECTED_SKIPPED,
    write,
)


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
    original = Store._insert_segment

    def failing_insert(self, doc_id, position, segment):
        calls["n"] += 1
        if segment.text == "Alpha two.":
            raise RuntimeError("simulated crash in the middle of a document")
        return original(self, doc_id, position, segment)

    monkeypatch.setattr(Store, "_insert_segment", failing_insert)
    report = importer.import_paths(store, [tmp_path])
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
