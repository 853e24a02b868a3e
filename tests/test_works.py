"""Bilingual blogs: a post and its translations are one work, in one split; the writer's own
languages decide what is their prose (engine/corpus/works.py, engine/store/corpus.py)."""

from __future__ import annotations

import json
import sqlite3

import sqlite_utils
from click.testing import CliRunner

from desktop.cli import cli
from engine import paths
from engine.corpus import parsed
from engine.corpus.importer import import_paths
from engine.corpus.split import split_for
from engine.corpus.works import set_languages
from engine.languages import count_words
from engine.store import Store, migrations
from tests.blog import (
    bilingual_wxr,
    write,
    write_bilingual_hugo,
    write_bilingual_jekyll,
    write_bilingual_pelican,
)


def versions(store) -> dict[str, dict]:
    """File name (or WordPress post id) → its document's language, role, work and split."""
    rows = store.conn.execute("SELECT path, lang, role, work_key, split, id FROM documents")
    return {path.rsplit("/", 1)[-1].split("#")[-1]: dict(lang=lang, role=role, work=work,
                                                         split=split, id=doc_id)
            for path, lang, role, work, split, doc_id in rows}


def assert_work(found: dict, original: str, *translations: str) -> None:
    assert found[original]["role"] == "original"
    for name in translations:
        assert found[name]["role"] == "translation", name
        assert found[name]["work"] == found[original]["work"], name
        assert found[name]["split"] == found[original]["split"], name


def test_pelican_translations_by_suffix_translation_flag_and_shared_slug(store, tmp_path):
    blog = write_bilingual_pelican(tmp_path / "blog")
    report = import_paths(store, [blog])
    assert report.imported == 15 and not report.skipped
    found = versions(store)
    for i, translation in enumerate(("2023-01-walk-0-en.md", "2023-02-walk-1.en.md",
                                     "english-2.md")):
        assert_work(found, f"2023-{i + 1:02d}-walk-{i}.md", translation)
    for i in range(6, 9):  # posts without a translation are works of their own
        assert found[f"2023-{i % 12 + 1:02d}-walk-{i}.md"]["role"] == "original"
    # A translation's own path would have hashed elsewhere: the work keeps it in the same split.
    rows = store.conn.execute("SELECT split_key, split FROM documents WHERE role = 'translation'")
    assert any(split_for(key) != split for key, split in rows)
    works = store.corpus_stats()["works"]
    assert works == {"works": 9, "with_translations": 6, "translations": 6,
                     "directions": {"zh→en": 6}, "original_languages": [],
                     "translated_by_me": False}


def test_hugo_bundles_translation_keys_and_language_trees(store, tmp_path):
    import_paths(store, [write_bilingual_hugo(tmp_path / "site")])
    found = versions(store)
    assert_work(found, "index.md", "index.en.md")
    assert_work(found, "cafe.md", "coffee.md")  # translationKey, different names
    by_lang = {lang: (role, work, split) for lang, role, work, split in store.conn.execute(
        "SELECT lang, role, work_key, split FROM documents WHERE path LIKE '%tea.md'")}
    assert by_lang["zh"][1:] == by_lang["en"][1:]  # content/zh/… and content/en/…
    # Same date, both in a language folder: the blog's main language (its posts without
    # translations are Chinese) makes the Chinese one the original.
    assert by_lang["zh"][0] == "original" and by_lang["en"][0] == "translation"
    assert found["alone.md"]["role"] == "original"


def test_a_bundle_inside_a_language_folder_links_its_translation(store, tmp_path):
    """Trial finding: `content/zh/posts/b/index.en.md` was a second original."""
    site = tmp_path / "site"
    write(site / "content" / "zh" / "posts" / "b" / "index.md",
          "+++\ntitle = '樱花'\n+++\n\n早上六点，我们去公园看樱花，人还很少，很安静。\n")
    write(site / "content" / "zh" / "posts" / "b" / "index.en.md",
          "+++\ntitle = 'Cherry blossoms'\n+++\n\nAt six in the morning we went to the park "
          "to see the cherry blossoms; there were few people and it was quiet.\n")
    import_paths(store, [site])
    found = versions(store)
    assert_work(found, "index.md", "index.en.md")
    assert found["index.md"]["lang"] == "zh"


def test_a_jekyll_posts_date_comes_from_its_file_name(store, tmp_path):
    """Trial finding: with the dates only in the file names, the newer version won."""
    site = tmp_path / "site"
    write(site / "_posts" / "2021-01-01-hello-world.md",
          "---\nlang: en\nref: hello\n---\n\nHello, world: this blog starts today, and I "
          "will write here about walking.\n")
    write(site / "_posts" / "2021-03-01-ni-hao.md",
          "---\nlang: zh\nref: hello\n---\n\n"
          "你好，世界：这个博客今天开始，我会在这里写散步的事。\n")
    import_paths(store, [site])
    found = versions(store)
    assert_work(found, "2021-01-01-hello-world.md", "2021-03-01-ni-hao.md")
    assert dict(store.conn.execute("SELECT lang, date FROM documents").fetchall()) == {
        "en": "2021-01-01", "zh": "2021-03-01"}


def test_jekyll_lang_with_shared_ref_or_permalink(store, tmp_path):
    import_paths(store, [write_bilingual_jekyll(tmp_path / "jekyll")])
    found = versions(store)
    assert_work(found, "2021-01-01-ni-hao.md", "2021-01-03-hello.md")  # ref; the older one
    assert_work(found, "2021-02-01-guanyu.md", "2021-02-01-about.md")  # permalink
    assert found["2021-03-01-alone.md"]["role"] == "original"


def test_wordpress_polylang_and_wpml_translation_groups(store, tmp_path):
    import_paths(store, [write(tmp_path / "export.xml", bilingual_wxr())])
    found = versions(store)
    assert_work(found, "post-21", "post-22")  # Polylang's post_translations
    # WPML: the English post is older, but it names Chinese as its source language.
    assert_work(found, "post-31", "post-30")
    assert found["post-41"]["role"] == "original"
    meta = json.loads(store.conn.execute("SELECT meta FROM documents WHERE path LIKE '%post-22'")
                      .fetchone()[0])
    assert meta["language"] == "en" and meta["translation_group"] == "pll_5f1a"
    assert "en" not in meta["categories"]


def test_one_language_with_one_slug_is_two_posts(store, tmp_path):
    for name in ("a.md", "b.md"):
        write(tmp_path / "blog" / name, f"Title: {name}\nSlug: same\n\n" + "The railway "
              f"station is a ten-minute walk from home, and post {name} says so plainly.\n")
    import_paths(store, [tmp_path / "blog"])
    assert store.work_stats()["with_translations"] == 0


def test_writer_language_is_counted_in_words_over_originals(store, tmp_path):
    assert count_words("我们用 Docker 部署服务。") == 8
    assert count_words("We deploy the service with Docker.") == 6
    blog = write_bilingual_pelican(tmp_path / "blog", posts=3, translated=3)
    import_paths(store, [blog])
    chars = dict(store.conn.execute(
        "SELECT lang, SUM(chars) FROM segments WHERE kind = 'prose' GROUP BY lang"))
    assert chars["en"] > chars["zh"]  # in characters the English versions weigh more
    assert store.main_language() == "zh"
    store.conn.execute("UPDATE documents SET role = 'original'")  # even counting all of them
    assert store.main_language() == "zh"


def test_translations_are_not_synthesised_from_unless_the_writer_translated_them(store,
                                                                                 tmp_path):
    import_paths(store, [write_bilingual_pelican(tmp_path / "blog")])
    assert len(store.synth_candidates(user_lang="zh")) == 18  # 9 posts, 2 paragraphs each
    assert store.synth_candidates(user_lang="en") == []
    set_languages(store, translated_by_me=True)
    english = store.synth_candidates(user_lang="en")
    assert len(english) == 12 and all("post number" in row["text"] for row in english)
    set_languages(store, translated_by_me=False)
    assert store.synth_candidates(user_lang="en") == []


def test_the_writers_languages_decide_the_original_and_keep_the_split(store, tmp_path):
    import_paths(store, [write_bilingual_pelican(tmp_path / "blog")])
    before = versions(store)
    stats = set_languages(store, ["English"])
    after = versions(store)
    assert stats["original_languages"] == ["en"] and stats["directions"] == {"en→zh": 6}
    assert after["2023-01-walk-0-en.md"]["role"] == "original"
    assert after["2023-01-walk-0.md"]["role"] == "translation"
    assert after["2023-08-walk-7.md"]["role"] == "original"  # no English version: its own
    assert {k: (v["work"], v["split"]) for k, v in after.items()} == {
        k: (v["work"], v["split"]) for k, v in before.items()}
    assert store.main_language() == "en"
    assert all("第7篇" in r["text"] or "第6篇" in r["text"] or "第8篇" in r["text"]
               for r in store.synth_candidates(user_lang="zh"))
    set_languages(store, [])
    assert versions(store) == before


def test_reimport_is_idempotent_keeps_segment_ids_and_links(store, tmp_path):
    blog = write_bilingual_pelican(tmp_path / "blog")
    import_paths(store, [blog])
    ids = [r[0] for r in store.conn.execute("SELECT id FROM segments ORDER BY id")]
    before = versions(store)
    again = import_paths(store, [blog])
    assert (again.imported, again.updated, again.unchanged, again.relinked) == (0, 0, 15, 0)
    assert [r[0] for r in store.conn.execute("SELECT id FROM segments ORDER BY id")] == ids
    translation = blog / "content" / "2023-01-walk-0-en.md"
    translation.write_text(translation.read_text() + "\nOne more paragraph, added later.\n")
    changed = import_paths(store, [blog])
    assert (changed.updated, changed.segments_added, changed.relinked) == (1, 1, 0)
    assert set(ids) < {r[0] for r in store.conn.execute("SELECT id FROM segments")}
    assert versions(store) == before


def test_a_data_folder_from_before_works_is_upgraded_and_relinked(ownvoice_home, tmp_path):
    """Documents imported before works existed: the migration makes each its own work; the
    next import (its files unchanged) links the translations and moves their pairs."""
    blog = write_bilingual_pelican(tmp_path / "blog", posts=2, translated=2)
    conn = sqlite3.connect(paths.db_path(), isolation_level=None)
    migrations.migrate(sqlite_utils.Database(conn), stop_after="m010_comparison_yours_key")
    files = sorted((blog / "content").iterdir())
    for doc_id, file in enumerate(files, 1):
        lang = "en" if "-en" in file.name or ".en." in file.name else "zh"
        relative = file.relative_to(blog).as_posix()
        meta = {"translation": "true"} if "-en" in file.name else {}
        meta.update(slug=f"walk-{1 if '-1' in file.name else 0}", lang=lang)
        conn.execute(
            "INSERT INTO documents (key, path, format, lang, meta, content_hash, split_key,"
            " split, imported_at, updated_at) VALUES (?, ?, 'markdown', ?, ?, ?, ?, ?, 'now',"
            " 'now')", (str(file.resolve()), str(file), lang, json.dumps(meta),
                        parsed.sha256_hex(file.read_bytes()), relative, split_for(relative)))
        text = file.read_text().split("\n\n")[1]
        conn.execute("INSERT INTO segments (document_id, position, kind, lang, text, source,"
                     " text_hash, chars) VALUES (?, 0, 'prose', ?, ?, ?, ?, ?)",
                     (doc_id, lang, text, text, parsed.text_hash(text), len(text)))
        conn.execute("INSERT INTO pairs (source_lang, target_lang, source_text, target_text,"
                     " split, segment_id, origin, created_at) VALUES ('zh', ?, 's', ?, ?, ?,"
                     " 'synthetic', 'now')", (lang, text, split_for(relative), doc_id))
    conn.close()

    with Store() as store:
        assert "m011_works" in migrations.applied_migrations(store.db)
        rows = store.conn.execute("SELECT work_key = split_key, role FROM documents").fetchall()
        assert rows == [(1, "original")] * 4
        assert store.conn.execute("SELECT MIN(words) FROM segments").fetchone()[0] > 10
        assert store.main_language() == "zh"
        report = import_paths(store, [blog])
        # Read by an older reader (its hash has no READER_VERSION): read again, then linked.
        assert (report.unchanged, report.updated, report.relinked) == (0, 4, 2)
        found = versions(store)
        assert_work(found, "2023-01-walk-0.md", "2023-01-walk-0-en.md")
        assert_work(found, "2023-02-walk-1.md", "2023-02-walk-1.en.md")
        assert store.conn.execute(
            "SELECT COUNT(*) FROM pairs p JOIN segments s ON s.id = p.segment_id"
            " JOIN documents d ON d.id = s.document_id WHERE p.split != d.split"
        ).fetchone()[0] == 0


def ownvoice(*args: str):
    """The `ownvoice` command in this process (tests/test_cli.py runs it as a program)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_corpus_languages_shows_and_sets(store, tmp_path):
    blog = write_bilingual_pelican(tmp_path / "blog", posts=3, translated=2)
    assert "Linked 2 document(s)" in ownvoice("import", str(blog)).output
    shown = ownvoice("corpus", "languages").output
    assert "You write originally in: not said" in shown
    assert "main language (words in your originals): zh" in shown
    assert "Works: 3 (2 with translations: zh→en 2); 2 translation(s) are not used" in shown
    data = json.loads(ownvoice("corpus", "languages", "zh", "--translated-by-me",
                               "--json").output)
    assert data["original_languages"] == ["zh"] and data["translated_by_me"] is True
    assert "are your prose too" in ownvoice("corpus", "stats").output
    bad = ownvoice("corpus", "languages", "klingon")
    assert bad.exit_code != 0 and "Unknown language 'klingon'" in bad.output
    cleared = json.loads(ownvoice("corpus", "languages", "--clear", "--json").output)
    assert cleared["original_languages"] == [] and cleared["translated_by_me"] is True


def test_corpus_page_shows_works_and_saves_the_writers_languages(qtbot, window, store,
                                                                 tmp_path):
    import_paths(store, [write_bilingual_pelican(tmp_path / "blog", posts=3, translated=2)])
    page = window.corpus_page
    page.reload()
    assert "Works: 3 (2 with translations: zh→en 2)" in page.works.text()
    assert page.languages.text() == "" and not page.translated_by_me.isChecked()
    assert page.documents.columns[4].key == "role"
    page.languages.setText("en")
    page.translated_by_me.setChecked(True)
    page.languages_button.click()
    qtbot.waitUntil(lambda: "en→zh 2" in page.works.text(), timeout=5000)
    assert "are your prose too" in page.works.text()
    assert store.original_languages() == ["en"] and store.translated_by_me()
    page.languages.setText("klingon")
    page.languages_button.click()
    qtbot.waitUntil(lambda: "Unknown language" in page.works.text(), timeout=5000)


def test_docusaurus_i18n_translations_belong_to_their_posts(store, tmp_path):
    """Trial finding: i18n/zh-Hans/docusaurus-plugin-content-blog/… was a second original in
    another split (no slug in either header)."""
    site = tmp_path / "site"
    write(site / "blog" / "2024-03-10-monorepo" / "index.md",
          "---\ntitle: Moving to a monorepo\n---\n\nWe moved every package into one repository "
          "last spring, and the build got faster and the reviews got simpler.\n")
    write(site / "i18n" / "zh-Hans" / "docusaurus-plugin-content-blog" / "2024-03-10-monorepo"
          / "index.md", "---\ntitle: 迁移到单仓库\n---\n\n去年春天我们把所有包都搬进了一个仓库，"
          "构建变快了，代码评审也更简单了。\n")
    import_paths(store, [site])
    rows = {d["path"].split("/site/")[1]: d for d in store.documents()}
    english = rows["blog/2024-03-10-monorepo/index.md"]
    chinese = rows["i18n/zh-Hans/docusaurus-plugin-content-blog/2024-03-10-monorepo/index.md"]
    roles = dict(store.conn.execute("SELECT id, role FROM documents").fetchall())
    assert (roles[english["id"]], roles[chinese["id"]]) == ("original", "translation")
    assert english["split"] == chinese["split"]
