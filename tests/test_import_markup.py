"""Headers are read leniently and never become prose; markup never becomes prose (issue #15).

The fixture blog tests/blogs/messy/ holds what real blogs hold: Pelican `Key: value`
headers between `---` lines with colons in values, a header whose closing fence is
missing, tabs, dates that do not exist, JSON front matter, Jekyll highlight / codeblock /
raw blocks, MDX statements and components, Obsidian callouts and comments, raw HTML.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.corpus import frontmatter, importer, markdown
from engine.translation import document
from tests.blog import write

MESSY = Path(__file__).parent / "blogs" / "messy"

# What must never be found in a prose segment's text.
LEAKS = {
    "an HTML tag": re.compile(r"</?[A-Za-z][^<>]*>"),
    "a header line": re.compile(r"(?i)\b(title|date|draft|status|published|slug|lang|tags|"
                                r"category|summary|translation(key)?|page_id)\s*[:=]\s*\S"),
    "a Liquid tag or shortcode": re.compile(r"\{%|%\}|\{\{|\}\}"),
    "an Obsidian comment": re.compile(r"%%"),
    "a callout marker": re.compile(r"\[![\w-]+\]"),
    "an ESM line": re.compile(r"\bimport\s.+\sfrom\s|\bexport\s+(default|const|let|function)\b"),
    "an MDX expression": re.compile(r"\{[A-Za-z_$][\w$.]*\}|\{/\*"),
    "a tag's attribute": re.compile(r"\b\w+=[\"'{]"),
}


def leaks(text: str) -> list[str]:
    return [what for what, pattern in LEAKS.items() if pattern.search(text)]


def kinds_and_texts(body: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in markdown.segments(body)]


# --- the whole corpus ----------------------------------------------------------------------

def test_a_messy_blog_leaves_no_header_or_markup_in_any_prose(store):
    report = importer.import_paths(store, [MESSY])
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert skipped == {
        "json-draft.md": "draft (front matter says draft: true)",
        "undecidable.md": skipped["undecidable.md"]}
    assert skipped["undecidable.md"].startswith("cannot tell whether it is a draft: YAML front "
                                                "matter is invalid (")
    assert report.imported == len(list(MESSY.iterdir())) - 2
    prose = [row["text"] for row in store.segments(kind="prose")]
    assert len(prose) >= 15
    assert {text: leaks(text) for text in prose if leaks(text)} == {}
    texts = " ".join(row["text"] for row in store.segments())
    for never in ("JSON_DRAFT_TEXT", "UNDECIDED_TEXT", "private comment", "private reminder",
                  "page number"):
        assert never not in texts


def test_importing_the_messy_blog_again_changes_nothing(store):
    importer.import_paths(store, [MESSY])
    query = "SELECT id, kind, text FROM segments ORDER BY id"
    before = store.conn.execute(query).fetchall()
    again = importer.import_paths(store, [MESSY])
    assert (again.imported, again.updated, again.segments_added) == (0, 0, 0)
    assert store.conn.execute(query).fetchall() == before


def test_titles_and_dates_come_from_headers_that_are_not_valid_yaml(store):
    importer.import_paths(store, [MESSY])
    documents = {Path(path).name: (title, date) for path, title, date in
                 store.conn.execute("SELECT path, title, date FROM documents")}
    assert documents["pelican-fenced.md"] == ("Harbour notes: the early boats",
                                              "2021-08-02 10:20")
    assert documents["pelican-unterminated.md"] == ("Night train: notes from the sleeper",
                                                    "2019-11-03")
    assert documents["tabs-pelican.md"] == ("Tabs: and spaces", "2020-01-05")
    assert documents["tabs-yaml.md"] == ("Bread: a second attempt", "2023-02-30")
    assert documents["impossible-date.md"] == ("Leap day thoughts", "2023-02-29")
    assert documents["frost.md"] == ("Frost on the allotment", "2022-02-30")
    assert documents["json-post.md"] == ("Seeds", "2023-04-01")


def test_translation_keeps_the_same_lines_out_of_its_units():
    for path in sorted(MESSY.iterdir()):
        units = document.split(path.read_text(encoding="utf-8")).units
        found = {u.text: leaks(u.text) for u in units}
        # Inline tags, Liquid, `%%…%%` and MDX expressions are spans inside a unit; whole
        # lines of header or markup never reach a unit.
        assert {text: what for text, what in found.items() if set(what) - {
            "an HTML tag", "a Liquid tag or shortcode", "an Obsidian comment",
            "an MDX expression", "a tag's attribute"}} == {}, path.name


# --- case import/16: malformed YAML on drafts ----------------------------------------------

CASE_16 = {
    "colon-title-draft.md": ("---\ntitle: Bridges, part 2: the long span\ndate: 2022-09-18\n"
                             "draft: true\n---\n\nCOLON_DRAFT_TEXT The second part is still "
                             "missing its ending and is not ready for anyone to read.\n"),
    "tab-indent-draft.md": ('---\ntitle: "Notes on bread flour"\ndraft: true\ntags:\n\t- baking\n'
                            "\t- flour\n---\n\nTAB_DRAFT_TEXT These flour notes are half done "
                            "and marked as a draft.\n"),
    "impossible-date.md": ('---\ntitle: "Leap day plans"\ndate: 2023-02-30\npublished: false\n'
                           "---\n\nDATE_DRAFT_TEXT A post about a day that does not exist, kept "
                           "unpublished on purpose.\n"),
}


@pytest.mark.parametrize("name, reason, warning", [
    ("colon-title-draft.md", "draft (front matter says draft: true)",
     "YAML front matter is invalid (mapping values are not allowed here); read line by line: "
     "title, date, draft"),
    ("tab-indent-draft.md", "draft (front matter says draft: true)",
     "YAML front matter is invalid (found character '\\t' that cannot start any token); read "
     "line by line: title, draft, tags"),
    ("impossible-date.md", "draft (front matter says published: false)",
     "YAML front matter: the date 2023-02-30 does not exist; kept as written"),
])
def test_a_draft_with_a_malformed_header_is_still_a_draft(store, tmp_path, name, reason,
                                                          warning):
    post = write(tmp_path / name, CASE_16[name])
    report = importer.import_paths(store, [post])
    assert report.imported == 0
    assert [(s.path, s.reason) for s in report.skipped] == [(str(post), reason)]
    assert [s.reason for s in report.warnings] == [warning]
    assert store.corpus_stats()["documents"] == 0


def test_the_malformed_headers_keep_their_other_keys():
    colon = frontmatter.parse(CASE_16["colon-title-draft.md"])
    assert (colon.title, colon.date) == ("Bridges, part 2: the long span", "2022-09-18")
    tabs = frontmatter.parse(CASE_16["tab-indent-draft.md"])
    assert (tabs.title, tabs.meta["tags"]) == ("Notes on bread flour", ["baking", "flour"])
    leap = frontmatter.parse(CASE_16["impossible-date.md"])
    assert (leap.title, leap.date, leap.meta["published"]) == ("Leap day plans", "2023-02-30",
                                                               False)
    for header in (colon, tabs, leap):
        assert header.body.lstrip().split(" ")[0].endswith("_DRAFT_TEXT")


# --- headers -------------------------------------------------------------------------------

def test_pelican_lines_between_fences_are_a_header_colons_and_all():
    header = frontmatter.parse((MESSY / "pelican-fenced.md").read_text())
    assert header.title == "Harbour notes: the early boats"
    assert header.meta["Summary"] == "Boats: gulls, and nothing to do."
    assert (header.lang, header.get("translation")) == ("en", "harbour-notes-zh")
    assert header.body.lstrip().startswith("The harbour was empty")


def test_a_header_without_its_closing_fence_ends_at_the_first_blank_line():
    header = frontmatter.parse("---\nTitle: No closing fence\nSlug: open\n\nBody.\n\n---\n\n"
                               "More.\n")
    assert (header.title, header.url) == ("No closing fence", "open")
    assert header.warning == ("YAML front matter: it has no closing ---; read up to the blank "
                              "line before the body")
    assert header.body == "\nBody.\n\n---\n\nMore.\n"  # the later rule is the body's
    rule = "---\n\nA post that opens with a horizontal rule.\n\n---\n\nAnd has another.\n"
    assert frontmatter.parse(rule).body == rule


def test_a_blank_line_inside_a_broken_header_ends_it_when_prose_follows():
    header = frontmatter.parse((MESSY / "pelican-unterminated.md").read_text())
    assert header.get("translationkey") == "night-train"
    assert header.body.lstrip().startswith("The night train left on time")
    assert "---" in header.body


def test_line_by_line_reading_recovers_language_slug_and_translation_keys():
    header = frontmatter.parse("---\ntitle: Two: parts\nlocale: zh_CN\nslug: two-parts\n"
                               "translationKey: two\nref: two-ref\npage_id: 42\npermalink: /two/\n"
                               "draft: false # done\n---\nBody.\n")
    assert header.warning.endswith("read line by line: title, locale, slug, translationkey, ref, "
                                   "page_id, permalink, draft")
    assert (header.lang, header.url, header.draft_reason) == ("zh-cn", "/two/", None)
    assert [header.get(k) for k in ("translationkey", "ref", "page_id")] == ["two", "two-ref",
                                                                            "42"]


@pytest.mark.parametrize("text, reason", [
    ('{\n  "title": "Seeds: later",\n  "draft": true,\n}\n\nBody.\n', "draft: true"),
    ("+++\ntitle = 'x'\ndate = 2021-02-30\ndraft = true\n+++\nBody.\n", "draft: true"),
    ("---\ntitle: x: y\nStatus: draft\n---\nBody.\n", "status: draft"),
])
def test_drafts_are_found_in_json_toml_and_broken_headers(text, reason):
    assert reason in frontmatter.parse(text).draft_reason


@pytest.mark.parametrize("text", [
    "---\ntitle: [x\ndraft yes\n---\nBody.\n",
    '{\n  "title": "x"\n  "draft": tru\n}\n\nBody.\n',
    "---\ntitle: x: y\nparams:\n  draft: true\n---\nBody.\n",
])
def test_a_header_that_cannot_say_whether_it_is_a_draft_is_not_imported(text):
    reason = frontmatter.parse(text).draft_reason
    assert reason.startswith("cannot tell whether it is a draft: ")
    assert reason.endswith("; fix the header to import it")


def test_valid_json_front_matter_and_text_that_only_starts_with_a_brace():
    header = frontmatter.parse('{\n  "title": "Seeds",\n  "draft": false\n}\n\nBody.\n')
    assert (header.title, header.draft_reason, header.body) == ("Seeds", None, "\nBody.\n")
    for text in ("{{< youtube abc >}}\n\nBody.\n", "{% include x.html %}\nBody.\n"):
        assert frontmatter.parse(text).body == text


# --- markup --------------------------------------------------------------------------------

def test_jekyll_highlight_raw_and_codeblock_are_never_prose():  # case import/01
    body = frontmatter.parse((MESSY / "retry-loops.md").read_text()).body
    assert [kind for kind, _ in kinds_and_texts(body)] == [
        "prose", "code", "code", "markup", "markup", "prose"]
    segments = markdown.segments(body)
    assert segments[1].text.startswith("def fetch_with_retry(url, attempts=4):\n    delay = 0.5\n")
    assert segments[1].source.startswith("{% highlight python %}\n")
    assert segments[2].text == 'puts "Title: not a header"'
    assert segments[3].text == ("Templates in this post use {{ page.title }} and "
                                "{% include note.html %} literally.")


def test_one_line_raw_does_not_swallow_what_follows():
    assert kinds_and_texts("{% raw %}{{ x }}{% endraw %}\n\nProse after it.\n\n{% raw %}\ny\n"
                           "{% endraw %}") == [
        ("markup", "{{ x }}"), ("prose", "Prose after it."), ("markup", "y")]


def test_mdx_statements_are_markup_and_a_components_words_are_the_writers():
    body = frontmatter.parse((MESSY / "installing.mdx").read_text()).body
    assert kinds_and_texts(body) == [
        ("markup", ""), ("prose", "Pick the way of installing that suits your machine best."),
        ("prose", "Install it with Homebrew."),
        ("prose", "Fast builds start in about a second on most laptops."), ("markup", "")]


def test_obsidian_comments_are_dropped_and_callouts_are_the_writers_words():
    body = (MESSY / "vault-note.md").read_text()
    assert kinds_and_texts(body) == [
        ("heading", "Reading notes"), ("heading", "What stayed with me"),
        ("prose", "Slow reading makes the book longer and the week shorter."),
        ("heading", "Spoilers"), ("prose", "The ending is quiet, and better for it."),
        ("prose", "The chapter on small habits links to Deep Work."),
        ("prose", "Reading on paper still beats reading on a screen. Mostly.")]


def test_markup_lines_inside_a_paragraph_are_not_its_words():
    assert kinds_and_texts("{% if page.x %}\nShown to some.\n{% endif %}\n\n%%note%%\n\n"
                           "{% include a.html %}") == [("prose", "Shown to some."),
                                                       ("markup", "")]


def test_raw_html_gives_its_captions_and_prose_never_its_tags():
    body = frontmatter.parse((MESSY / "figures.md").read_text()).body
    assert [pair for pair in kinds_and_texts(body) if pair[0] != "html"] == [
        ("image", ""), ("caption", "Boats at anchor, just after sunrise."),
        ("prose", "The light lasted about ten minutes, then the fog rolled back in."),
        ("prose", "A paragraph the writer wrapped in a styled box."),
        ("prose", "Plain prose to close the post, with an inline icon.")]
    assert kinds_and_texts('<img src="a.png" alt="Gulls &amp; boats">') == [
        ("image", ""), ("caption", "Gulls & boats")]


def test_translation_keeps_a_codeblock_verbatim():
    doc = document.split("Before.\n\n{% codeblock %}\nputs 'x'\n{% endcodeblock %}\n\nAfter.\n")
    assert [u.text for u in doc.units] == ["Before.", "After."]


def test_admonition_markers_are_markup_and_their_words_are_prose():
    """Trial finding: `:::note … :::` came in as one prose paragraph with its markers."""
    from engine.corpus import markdown

    found = [(s.kind, s.text) for s in markdown.segments(
        ":::note\nBack up your configuration.\n:::\n\n:::tip[Pro tip]\nKeep *two* copies.\n"
        ":::\n\nAfter the notes.")]
    assert found == [("prose", "Back up your configuration."), ("heading", "Pro tip"),
                     ("prose", "Keep two copies."), ("prose", "After the notes.")]


def test_a_quote_callout_is_someone_elses_words_and_tags_are_not_prose():
    """Trial findings: `> [!quote] Seneca` came in as the writer's prose; `#tags` after a
    paragraph stayed in its text."""
    from engine.corpus import markdown

    found = [(s.kind, s.text) for s in markdown.segments(
        "> [!quote] Seneca\n> Luck is what happens when preparation meets opportunity.\n\n"
        "I keep it above my desk. #motivation #quotes\n\n#journal #daily\n\n"
        "I love C# and #1 things.")]
    assert found == [("heading", "Seneca"),
                     ("quote", "Luck is what happens when preparation meets opportunity."),
                     ("prose", "I keep it above my desk."), ("markup", ""),
                     ("prose", "I love C# and #1 things.")]


def test_a_figure_shortcodes_caption_and_a_details_summary_are_not_lost_or_prose():
    """Trial findings: `{{< figure caption="…" >}}` came in as empty markup; a <details>'
    summary as prose."""
    from engine.corpus import markdown

    found = [(s.kind, s.text) for s in markdown.segments(
        '{{< figure src="a.jpg" caption="早上六点的樱花" >}}\n\nText here.\n\n'
        "<details><summary>Camera settings</summary>\n\nISO 200, f/8.\n\n</details>")]
    assert found[:4] == [("caption", "早上六点的樱花"), ("prose", "Text here."),
                         ("heading", "Camera settings"), ("prose", "ISO 200, f/8.")]


@pytest.mark.parametrize("header", [
    "status: unpublished", "status: private", "private: true", "publish: false",
    "hidden: true", "visibility: private", "permalink: false", "build:\n  render: never",
    "publishDate: 2999-01-01", "Status: Not started"])
def test_every_common_unpublished_marker_keeps_a_post_out(header):
    """Second trial: only draft/published/status: draft were read."""
    from engine.corpus import frontmatter

    reason = frontmatter.parse(f"---\ntitle: x\n{header}\n---\n\nBody.\n").draft_reason
    assert reason is not None and "not published" in reason


def test_quotation_tags_are_someone_elses_words_and_translated_for_the_reader():
    from engine.corpus import markdown
    from engine.translation import document

    text = ("Intro by me.\n\n{% blockquote David Levithan %}\nDo you think so?\n"
            "{% endblockquote %}\n\n{% quote(author=\"Albert Camus\") %}\nAn invincible summer."
            "\n{% end %}\n\nOutro by me.")
    assert [(s.kind, s.text) for s in markdown.segments(text)] == [
        ("prose", "Intro by me."), ("quote", "Do you think so?"),
        ("quote", "An invincible summer."), ("prose", "Outro by me.")]
    assert [u.text for u in document.split(text).units] == [
        "Intro by me.", "Do you think so?", "An invincible summer.", "Outro by me."]


def test_quarto_is_markdown_and_unread_formats_are_said_not_passed_over(store, tmp_path):
    from engine.corpus import importer

    (tmp_path / "post.qmd").write_text(
        "---\ntitle: Knitting\n---\n\nMy own words about it.\n\n```{r}\nsummary(cars)\n```\n")
    (tmp_path / "notes.org").write_text("* Heading\nSome text.\n")
    (tmp_path / "scaffolds").mkdir()
    (tmp_path / "scaffolds" / "post.md").write_text("---\ntitle: {{ title }}\n---\n\nScaffold.\n")
    report = importer.import_paths(store, [tmp_path])
    assert report.imported == 1
    assert [(s["kind"], s["text"]) for s in store.segments()] == [
        ("prose", "My own words about it."), ("code", "summary(cars)")]
    [skipped] = report.skipped
    assert skipped.reason.startswith("Org mode is not read yet")


def test_a_notion_pages_properties_are_its_header(store, tmp_path):
    """Second trial: Notion's `Status: … Tags: … Created: …` lines came in as prose, and a
    page with `Status: Draft` was imported."""
    from engine.corpus import importer

    (tmp_path / "My Trip to Kyoto 3f2a1b0c.md").write_text(
        "# My Trip to Kyoto\n\nStatus: Published\nTags: travel, japan\nCreated: January 5, "
        "2023 3:14 PM\nURL: https://example.com/kyoto\n\nThe temples were quiet at dawn.\n")
    (tmp_path / "Unfinished 9a8b7c.md").write_text(
        "# Unfinished\n\nStatus: Draft\nTags: travel\n\nNot ready yet.\n")
    report = importer.import_paths(store, [tmp_path])
    assert report.imported == 1
    assert [(s["kind"], s["text"]) for s in store.segments()] == [
        ("heading", "My Trip to Kyoto"), ("prose", "The temples were quiet at dawn.")]
    assert [s.reason for s in report.skipped] == ["not published (front matter says status: "
                                                  "Draft)"]


def test_an_attributed_quotation_is_a_quote_and_an_mdx_comment_is_markup():
    """Second trial: `"…" — George Orwell` and `{/* … */}` came in as the writer's prose."""
    from engine.corpus import markdown

    found = [(s.kind, s.text) for s in markdown.segments(
        '"Political language is designed to make lies sound truthful." — George Orwell\n\n'
        "{/* a JSX comment */}\n\n"
        '"Come here," she said — quietly, as she always did.\n\n'
        "“我们都是这样。” —— 鲁迅")]
    assert found == [
        ("quote", '"Political language is designed to make lies sound truthful." — George '
                  "Orwell"),
        ("markup", ""),
        ("prose", '"Come here," she said — quietly, as she always did.'),
        ("quote", "“我们都是这样。” —— 鲁迅")]
