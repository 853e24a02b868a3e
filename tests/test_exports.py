"""Hosted blogs' exports: Ghost JSON, Substack (posts.csv + posts/), Medium (posts/*.html),
and Hugo page bundles. Published posts only; what is left out is named with its reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.corpus import ghost, hugo, importer
from tests.blog import write
from tests.conftest import run_ownvoice

EXPORTS = Path(__file__).parent / "exports"  # case 09: the platforms' own shapes
GHOST_FILE = "notebook.ghost.2023-11-20-10-00-00.json"


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    shutil.copytree(EXPORTS, tmp_path / "exports")
    return tmp_path / "exports"


def documents(store) -> dict[str, dict]:
    rows = store.conn.execute("SELECT id, title, date, format, url, lang, meta FROM documents")
    return {row[1]: {"id": row[0], "date": row[2], "format": row[3], "url": row[4],
                     "lang": row[5], "meta": json.loads(row[6] or "{}")} for row in rows}


def segments(store, title: str) -> list[tuple[str, str]]:
    return [(kind, text) for kind, text in store.conn.execute(
        "SELECT s.kind, s.text FROM segments s JOIN documents d ON d.id = s.document_id"
        " WHERE d.title = ? ORDER BY s.position", (title,))]


def all_text(store) -> str:
    return " ".join(row[0] for row in store.conn.execute("SELECT text FROM segments"))


def reasons(report) -> dict[str, str]:
    return {Path(s.path.split("#")[0]).name + ("#" + s.path.split("#")[1] if "#" in s.path
                                                else ""): s.reason for s in report.skipped}


def test_the_three_platforms_bring_their_published_posts_only(store, exports):
    report = importer.import_paths(
        store, [exports / "ghost", exports / "substack", exports / "medium"])
    assert (report.imported, report.passed_over, report.warnings) == (3, 0, [])
    assert reasons(report) == {
        f"{GHOST_FILE}#garage-shelves": "draft (Ghost status: draft)",
        "139005678.unsent-letter.html": "draft (posts.csv says is_published=false)",
        "draft_Sourdough-starter-notes-9a8b7c6d5e4f.html":
            "draft (Medium names unpublished posts draft_…)"}
    docs = documents(store)
    assert set(docs) == {"Fixing a squeaky door", "Weekly walks", "Learning to bake bread"}
    assert docs["Fixing a squeaky door"]["date"] == "2023-09-12T09:00:00.000Z"
    assert docs["Fixing a squeaky door"]["format"] == "ghost"
    assert docs["Weekly walks"]["date"] == "2023-06-01T07:00:00.000Z"  # from posts.csv
    assert docs["Learning to bake bread"]["date"] == "2020-05-01T10:00:00.000Z"
    assert docs["Learning to bake bread"]["url"] == (
        "https://medium.com/@sample-writer/learning-to-bake-bread-3f2a1b0c9d8e")
    assert segments(store, "Fixing a squeaky door") == [
        ("prose", "A squeaky hinge needs a drop of oil, not a new door. I spent a weekend "
                  "learning that."),
        ("prose", "Lift the pin halfway, oil it, and swing the door ten times.")]
    assert segments(store, "Weekly walks") == [
        ("heading", "Why I walk the same loop"),  # the subtitle, from posts.csv
        ("prose", "I walk the same loop every Sunday. Repetition is the point: the route stays "
                  "the same, so I notice what changed."),
        ("prose", "This week the bakery on the corner had a new sign, and the river was higher "
                  "than I have ever seen it.")]
    assert segments(store, "Learning to bake bread") == [
        ("heading", "Three failed loaves and one good one"),  # the subtitle
        ("prose", "My first loaf was a brick. The second was a pancake. The third rose, then "
                  "fell when I opened the oven to look."),
        ("prose", "The fourth worked because I finally used a scale instead of cups.")]
    text = all_text(store)
    for never in ("GHOST_DRAFT_TEXT", "SUBSTACK_DRAFT_TEXT", "MEDIUM_DRAFT_TEXT",
                  "Thanks for reading", "Subscribe", "Exported from", "Canonical link",
                  "Sample Writer"):
        assert never not in text


def test_the_command_reports_drafts_and_a_second_import_changes_nothing(store, exports):
    result = run_ownvoice("import", str(exports / "ghost" / GHOST_FILE),
                          str(exports / "substack"), str(exports / "medium"), "--json")
    first = json.loads(result.stdout)
    assert (first["imported"], first["passed_over"], len(first["skipped"])) == (3, 0, 3)
    assert all(s["reason"].startswith("draft (") for s in first["skipped"])
    query = ("SELECT s.id, s.text, d.updated_at FROM segments s"
             " JOIN documents d ON d.id = s.document_id ORDER BY s.id")
    before = store.conn.execute(query).fetchall()
    again = importer.import_paths(store, [exports / "ghost", exports / "substack",
                                          exports / "medium"])
    assert (again.imported, again.updated, again.unchanged, again.segments_added) == (0, 0, 3, 0)
    assert store.conn.execute(query).fetchall() == before


def test_an_edited_post_in_a_new_export_updates_its_document(store, exports, tmp_path):
    importer.import_paths(store, [exports / "ghost", exports / "substack"])
    export = json.loads((exports / "ghost" / GHOST_FILE).read_text())
    post = export["db"][0]["data"]["posts"][0]
    post["html"] += "<p>Then wipe off what drips.</p>"
    write(tmp_path / "later" / "ghost.json", json.dumps(export))  # another name, same posts
    shutil.copytree(exports / "substack", tmp_path / "later" / "substack")  # moved, unchanged
    report = importer.import_paths(store, [tmp_path / "later"])
    assert (report.imported, report.updated, report.unchanged) == (0, 1, 1)
    assert segments(store, "Fixing a squeaky door")[-1] == (
        "prose", "Then wipe off what drips.")


# --- Ghost ---------------------------------------------------------------------------------

LEXICAL = {"root": {"type": "root", "children": [
    {"type": "heading", "tag": "h2", "children": [{"type": "text", "text": "Tools"}]},
    {"type": "paragraph", "children": [
        {"type": "text", "text": "You need a screwdriver "},
        {"type": "link", "url": "https://example.com", "children": [
            {"type": "text", "text": "and patience"}]},
        {"type": "text", "text": ", nothing else."}]},
    {"type": "list", "listType": "bullet", "children": [
        {"type": "listitem", "children": [{"type": "text", "text": "oil"}]},
        {"type": "listitem", "children": [{"type": "text", "text": "a rag"}]}]},
    {"type": "codeblock", "code": "sudo oil --hinge"},
    {"type": "image", "src": "https://example.com/door.jpg", "caption": "A door"},
    {"type": "signup", "header": "Sign up for Notebook"},
    {"type": "markdown", "markdown": "Written in a *Markdown* card."}]}}

MOBILEDOC = {"version": "0.3.1", "atoms": [["soft-return", "", {}]], "markups": [["em"]],
             "cards": [["markdown", {"markdown": "The old editor kept Markdown in a card."}],
                       ["image", {"src": "x.jpg"}]],
             "sections": [[10, 0], [1, "p", [[0, [0], 1, "And a paragraph "],
                                             [0, [], 0, "of its own."]]],
                          [10, 1], [3, "ul", [[[0, [], 0, "one item"]]]]]}


def ghost_export(*posts: dict, wrapped: bool = True, settings: list | None = None) -> str:
    data = {"posts": list(posts), "settings": settings or []}
    inner = {"meta": {"exported_on": 1700474400000, "version": "5.70.0"}, "data": data}
    return json.dumps({"db": [inner]} if wrapped else inner)


def post(slug: str, **fields) -> dict:
    return {"id": slug, "uuid": f"uuid-{slug}", "title": slug.title(), "slug": slug,
            "status": "published", "type": "post",
            "published_at": "2023-01-01T00:00:00.000Z", **fields}


def test_posts_without_html_are_rebuilt_from_their_editor_source(store, tmp_path):
    write(tmp_path / "blog" / "ghost.json", ghost_export(
        post("lexical", html=None, lexical=json.dumps(LEXICAL)),
        post("mobiledoc", html="", mobiledoc=json.dumps(MOBILEDOC), published_at=1600000000000),
        post("plain", plaintext="Only plain text survived.\n\nIn two paragraphs."),
        post("damaged", lexical="{not json", plaintext="The plain text is still there.")))
    report = importer.import_paths(store, [tmp_path / "blog"])
    assert (report.imported, report.skipped) == (4, [])
    assert segments(store, "Lexical") == [
        ("heading", "Tools"),
        ("prose", "You need a screwdriver and patience, nothing else."),
        ("list", "oil\na rag"),
        ("code", "sudo oil --hinge"),
        ("prose", "Written in a Markdown card.")]
    assert segments(store, "Mobiledoc") == [
        ("prose", "The old editor kept Markdown in a card."),
        ("prose", "And a paragraph of its own."),
        ("list", "one item")]
    assert documents(store)["Mobiledoc"]["date"] == "2020-09-13T12:26:40+00:00"
    assert [t for _, t in segments(store, "Plain")] == ["Only plain text survived.",
                                                         "In two paragraphs."]
    assert segments(store, "Damaged") == [("prose", "The plain text is still there.")]


def test_pages_are_kept_and_unpublished_posts_named(store, tmp_path):
    write(tmp_path / "site.json", ghost_export(
        post("about", type="page", html="<p>I write about doors and the people behind them.</p>"),
        post("old-page", type=None, page=1, html="<p>An old Ghost kept pages as page: 1.</p>"),
        post("letter", status="sent", html="<p>This letter went out by email only.</p>"),
        post("soon", status="scheduled", html="<p>SCHEDULED_TEXT is not out yet.</p>"),
        wrapped=False, settings=[{"key": "locale", "value": "en"}]))
    report = importer.import_paths(store, [tmp_path / "site.json"])
    assert report.imported == 3
    assert reasons(report) == {
        "site.json#soon": "not published (scheduled) (Ghost status: scheduled)"}
    docs = documents(store)
    assert docs["About"]["meta"]["post_type"] == "page"
    assert docs["Old-Page"]["meta"]["post_type"] == "page"
    assert docs["Letter"]["meta"]["status"] == "sent"
    assert "SCHEDULED_TEXT" not in all_text(store)


def test_ghost_cards_that_are_not_prose_are_dropped(store, tmp_path):
    body = ('<p>Before the card.</p>'
            '<div class="kg-card kg-signup-card"><h2>Sign up for Notebook</h2>'
            '<p>Get new posts by email.</p></div>'
            '<figure class="kg-card kg-bookmark-card"><a class="kg-bookmark-container" '
            'href="https://other.example"><div class="kg-bookmark-title">Someone else</div>'
            '</a></figure>'
            '<div class="kg-card kg-button-card"><a href="/subscribe">Subscribe</a></div>'
            '<div class="kg-card kg-callout-card"><div class="kg-callout-text">'
            'My own aside stays.</div></div>')
    write(tmp_path / "ghost.json", ghost_export(post("cards", html=body)))
    importer.import_paths(store, [tmp_path / "ghost.json"])
    assert [t for _, t in segments(store, "Cards") if t] == ["Before the card.",
                                                             "My own aside stays."]


def test_a_truncated_ghost_export_is_one_line_and_the_rest_is_imported(store, tmp_path):
    whole = (EXPORTS / "ghost" / GHOST_FILE).read_text()
    write(tmp_path / "blog" / "cut.json", whole[: len(whole) // 2])
    write(tmp_path / "blog" / "package.json", '{"name": "my-blog", "version": "1.0.0"}')
    write(tmp_path / "blog" / "posts.json", '{"posts": [1, 2, 3]}')  # someone's data, not Ghost's
    write(tmp_path / "blog" / "post.md", "A post beside the broken export.\n")
    report = importer.import_paths(store, [tmp_path / "blog"])
    assert report.imported == 1 and report.passed_over == 2
    [skipped] = report.skipped
    assert Path(skipped.path).name == "cut.json"
    assert skipped.reason.startswith("malformed JSON (")
    assert "line" in skipped.reason and "export it again from Ghost" in skipped.reason
    assert store.conn.execute("SELECT COUNT(*) FROM documents WHERE format = 'ghost'"
                               ).fetchone()[0] == 0


def test_a_json_file_that_is_not_a_ghost_export_is_passed_over():
    with pytest.raises(ghost.NotGhost):
        ghost.parse('{"db": [{"data": {"tags": []}}]}', Path("x.json"))


# --- Substack ------------------------------------------------------------------------------


def test_substack_rows_and_files_that_do_not_match_are_named(store, exports):
    folder = exports / "substack"
    with (folder / "posts.csv").open("a") as csv:
        csv.write("139009999.lost-post,2023-07-01T07:00:00.000Z,true,,,newsletter,everyone,"
                  "Lost post,,\n")
    write(folder / "posts" / "139007777.stray.html", "<p>STRAY_TEXT not in the CSV.</p>")
    write(folder / "posts" / "139001234.weekly-walks.opens.csv", "email,opened_at\n")
    write(folder / "email_list.notebook.csv", "email\nreader@example.com\n")
    report = importer.import_paths(store, [folder])
    assert report.imported == 1
    assert report.passed_over == 2  # the email statistics and the subscriber list
    found = reasons(report)
    assert found["139009999.lost-post.html"].startswith(
        "posts.csv lists the published post 139009999.lost-post, but its HTML file is missing")
    assert found["139007777.stray.html"].startswith("not listed in posts.csv")
    assert "STRAY_TEXT" not in all_text(store)


def test_naming_posts_csv_or_the_posts_folder_imports_the_export(store, exports):
    report = importer.import_paths(store, [exports / "substack" / "posts"])
    assert report.imported == 1 and list(documents(store)) == ["Weekly walks"]
    again = importer.import_paths(store, [exports / "substack" / "posts.csv"])
    assert again.unchanged == 1
    assert "SUBSTACK_DRAFT_TEXT" not in all_text(store)


def test_substack_buttons_and_embeds_are_not_prose(store, exports):
    folder = exports / "substack"
    page = folder / "posts" / "139001234.weekly-walks.html"
    page.write_text(page.read_text() + (
        '<p class="button-wrapper"><a class="button primary" href="https://x.substack.com/'
        'subscribe"><span>Subscribe now</span></a></p>'
        '<div class="embedded-post-wrap"><div class="embedded-post">Someone else\'s post'
        '</div></div><p>My last word.</p>'))
    importer.import_paths(store, [folder])
    texts = [t for _, t in segments(store, "Weekly walks")]
    assert texts[-1] == "My last word." and len(texts) == 4
    assert "Subscribe now" not in all_text(store) and "Someone else" not in all_text(store)


def test_a_posts_csv_that_is_not_substacks_is_one_line(store, tmp_path):
    write(tmp_path / "export" / "posts.csv", "id,name\n1,x\n")
    write(tmp_path / "export" / "posts" / "1.x.html", "<p>Some text.</p>")
    report = importer.import_paths(store, [tmp_path / "export"])
    assert report.imported == 0
    [skipped] = report.skipped
    assert skipped.reason.startswith("posts.csv has no post_id and is_published columns")


# --- Medium --------------------------------------------------------------------------------


def test_a_medium_export_folder_reads_only_its_posts(store, exports, tmp_path):
    root = tmp_path / "medium-export"
    shutil.copytree(exports / "medium" / "posts", root / "posts")
    write(root / "README.html", "<html><body><p>Your Medium archive.</p></body></html>")
    write(root / "claps" / "claps-0001.html", "<p>Claps for other people's posts.</p>")
    write(root / "profile" / "profile.html", "<p>Sample Writer's profile.</p>")
    report = importer.import_paths(store, [root])
    assert report.imported == 1 and report.passed_over == 3
    assert list(documents(store)) == ["Learning to bake bread"]


def test_a_medium_draft_named_directly_is_still_a_draft_but_other_files_are_not(store, exports,
                                                                                tmp_path):
    draft = exports / "medium" / "posts" / "draft_Sourdough-starter-notes-9a8b7c6d5e4f.html"
    mine = write(tmp_path / "draft_of_mine.html", "<html><body><p>My own page.</p></body></html>")
    report = importer.import_paths(store, [draft, mine])
    assert report.imported == 1
    assert [Path(s.path).name for s in report.skipped] == [draft.name]


# --- Hugo page bundles ---------------------------------------------------------------------


def test_hugo_bundles_take_their_folder_name_and_translations_share_a_split(store, tmp_path):
    write(tmp_path / "content" / "posts" / "door-hinges" / "index.md",
          "A squeaky hinge needs a drop of oil, not a new door.\n")
    write(tmp_path / "content" / "posts" / "door-hinges" / "index.fr.md",
          "---\ntitle: Charnières\n---\nUne charnière qui grince a besoin d'une goutte d'huile.\n")
    write(tmp_path / "content" / "posts" / "door-hinges" / "hinge.jpg", b"\xff\xd8\xff")
    write(tmp_path / "content" / "posts" / "_index.md",
          "---\ntitle: Posts\n---\nEverything I have fixed around the house.\n")
    write(tmp_path / "content" / "_index.md", "---\ntitle: Home\n---\n")
    report = importer.import_paths(store, [tmp_path / "content"])
    assert (report.imported, report.passed_over) == (3, 1)
    assert [(Path(s.path).parent.name, s.reason) for s in report.skipped] == [
        ("content", "no text found in it")]
    rows = dict(store.conn.execute("SELECT title, split_key FROM documents").fetchall())
    assert rows == {"door-hinges": "posts/door-hinges/index.md",
                    "Charnières": "posts/door-hinges/index.md",
                    "Posts": "posts/_index.md"}


@pytest.mark.parametrize(("name", "lang"), [
    ("index.en.md", "en"), ("index.zh-tw.md", "zh-tw"), ("post.fr.markdown", "fr"),
    ("index.md", None), ("my.notes.md", None), ("v1.2.md", None)])
def test_the_language_a_file_name_declares(name, lang):
    assert hugo.filename_lang(name) == lang


def test_a_translation_without_words_to_detect_takes_its_language_from_its_name(store,
                                                                               tmp_path):
    write(tmp_path / "bundle" / "index.de.md", "```\nmake install\n```\n")
    importer.import_paths(store, [tmp_path / "bundle"])
    assert documents(store)["bundle"]["lang"] == "de"


def test_an_export_cut_before_its_posts_is_still_named_as_a_broken_ghost_export(store,
                                                                               tmp_path):
    write(tmp_path / "blog" / "ghost.json", '{"db": [{"meta": {"exported_on": 1700474400000, ')
    report = importer.import_paths(store, [tmp_path / "blog"])
    assert [s.reason.split(" (")[0] for s in report.skipped] == ["malformed JSON"]


def test_a_substack_post_without_its_csv_is_skipped_not_taken_as_a_page(store, tmp_path):
    """Trial finding: `posts/` copied out of its export imported a draft, and the embedded
    post's text instead of the writer's."""
    folder = tmp_path / "loose" / "posts"
    folder.mkdir(parents=True)
    (folder / "139001234.weekly-walks.html").write_text("<p>My own walk.</p>")
    report = importer.import_paths(store, [tmp_path / "loose"])
    assert report.imported == 0
    [skipped] = report.skipped
    assert "posts.csv is not beside its posts folder" in skipped.reason


def _medium_file(title: str, body: str, *, subtitle: str | None = None,
                 header_extra: str = "") -> str:
    """A file of a Medium export's posts/, in Medium's markup."""
    summary = (f'<section data-field="subtitle" class="p-summary">{subtitle}</section>'
               if subtitle else "")
    return (f'<!DOCTYPE html><html><head><title>{title}</title></head><body>'
            f'<article class="h-entry"><header><h1 class="p-name">{title}</h1>{header_extra}'
            f'</header>{summary}<section data-field="body" class="e-content">'
            '<section name="a1" class="section section--body section--first section--last">'
            '<div class="section-content"><div class="section-inner sectionLayout--insetColumn">'
            f'{body}</div></div></section></section><footer><p>By <a href="https://medium.com/'
            '@sample-writer" class="p-author h-card">Sample Writer</a> on <a href="https://'
            'medium.com/p/1"><time class="dt-published" datetime="2021-02-03T10:00:00.000Z">'
            'February 3, 2021</time></a>.</p><p>Exported from <a href="https://medium.com">'
            'Medium</a> on November 20, 2023.</p></footer></article></body></html>')


def test_medium_responses_are_left_out_and_named(store, exports):
    """New-user trial: replies under other people's stories came in as posts."""
    posts = exports / "medium" / "posts"
    reply = ("Great point about sourdough, though I find rye starters forgive a cold kitchen "
             "far more than wheat ones do.")
    write(posts / "2021-02-03_Great-point-about-sourdough--though-I-find-rye-1a2b3c.html",
          _medium_file("Great point about sourdough, though I find rye…",
                       f'<p name="p1" id="p1" class="graf graf--p graf--leading '
                       f'graf--trailing">{reply}</p>'))
    write(posts / "2021-02-04_Thanks--1a2b3d.html", _medium_file(
        "Thanks!", '<p name="p2" class="graf graf--p graf--leading graf--trailing">Thanks!</p>'))
    write(posts / "2021-02-05_我也这么觉得-1a2b3e.html", _medium_file(
        "我也这么觉得，尤其是冬天…",
        '<p class="graf graf--p graf--leading graf--trailing">我也这么觉得，尤其是冬天的时候，'
        "厨房太冷，面团发得很慢。</p>"))
    write(posts / "2021-02-06_Marked-as-a-reply-1a2b3f.html", _medium_file(
        "On your post about ovens", '<p class="graf graf--p">I disagree, gently.</p>',
        header_extra='<p>In response to <a class="u-in-reply-to" '
                     'href="https://medium.com/@other/ovens-9">Ovens</a></p>'))
    # Stories: a title heading in the body (even one that starts "In response to"), or a
    # subtitle, make a post whatever its length.
    write(posts / "2021-03-01_In-Response-to-Critics-2b3c4d.html", _medium_file(
        "In Response to Critics",
        '<h3 class="graf graf--h3 graf--leading graf--title">In Response to Critics</h3>'
        '<p class="graf graf--p graf--trailing">My answer to the reviews, at length.</p>'))
    write(posts / "2021-03-02_Short-story-2b3c4e.html", _medium_file(
        "A short story", '<p class="graf graf--p graf--leading">A short story, untitled in '
                         'its body but with a subtitle.</p>', subtitle="Tiny"))
    report = importer.import_paths(store, [exports / "medium"])
    response = "a response, not a post (Medium keeps your replies to other stories in posts/ too)"
    found = reasons(report)
    assert {name for name, why in found.items() if why == response} == {
        "2021-02-03_Great-point-about-sourdough--though-I-find-rye-1a2b3c.html",
        "2021-02-04_Thanks--1a2b3d.html", "2021-02-05_我也这么觉得-1a2b3e.html",
        "2021-02-06_Marked-as-a-reply-1a2b3f.html"}
    assert report.imported == 3  # the bread story and the two stories above
    assert set(documents(store)) == {"Learning to bake bread", "In Response to Critics",
                                     "A short story"}
    assert "rye starters" not in all_text(store)
