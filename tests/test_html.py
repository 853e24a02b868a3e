"""HTML pages: the article's words only, never the site around them."""

from __future__ import annotations

from engine.corpus import html
from tests.blog import ABOUT_HTML


def test_a_full_page_yields_the_article_only():
    page = html.parse_page(ABOUT_HTML)
    assert (page.title, page.date, page.lang) == ("About me", "2020-02-02", "en")
    assert [(s.kind, s.text) for s in page.segments] == [
        ("prose", "I write about writing, which is a little like photographing cameras."),
        ("prose", "Before this blog I spent ten years editing technical manuals & release notes."),
        ("heading", "Elsewhere"),
        ("link", "RSS · Mail"),
        ("quote", "Omit needless words."),
        ("list", "Editing\nHiking"),
        ("code", 'no = "prose here"'),
        ("image", ""),
        ("caption", "Me, squinting."),
    ]
    everything = " ".join(s.text + s.source for s in page.segments)
    for chrome in ("tracking", "color: red", "Archive", "A blog about writing", "Share this",
                   "Great post", "Popular posts", "All rights reserved"):
        assert chrome not in everything


def test_each_segment_keeps_its_html():
    page = html.parse_page(ABOUT_HTML)
    assert page.segments[0].source.startswith("<p>I write about writing")


def test_old_pages_without_paragraph_tags_split_on_double_breaks():
    page = html.parse_page(
        "<html><body><div id='content'>第一段，写在\n没有段落标签的页面里。<br><br>"
        "Second paragraph,<br>with a line break.<br/><br/>"
        "<a href='/next'>Next post</a></div></body></html>")
    assert [(s.kind, s.text) for s in page.segments] == [
        ("prose", "第一段，写在没有段落标签的页面里。"),
        ("prose", "Second paragraph,\nwith a line break."),
        ("link", "Next post")]


def test_layout_tables_are_walked_and_data_tables_are_tables():
    page = html.parse_page(
        "<html><body><table><tr><td><p>Text laid out by a table in 2003.</p></td></tr></table>"
        "<table><tr><th>Year</th><th>Posts</th></tr><tr><td>2003</td><td>12</td></tr></table>"
        "</body></html>")
    assert [(s.kind, s.text) for s in page.segments] == [
        ("prose", "Text laid out by a table in 2003."), ("table", "Year | Posts\n2003 | 12")]


def test_content_container_is_found_without_article_tags():
    page = html.parse_page(
        "<html><head><title>T</title></head><body><div class='menu'><p>Menu words</p></div>"
        "<div class='post-content'><p>The post's own words.</p></div>"
        "<div class='sidebar'><p>Sidebar words</p></div></body></html>")
    assert [s.text for s in page.segments] == ["The post's own words."]


def test_bare_url_links_lose_their_url():
    page = html.parse_page("<html><body><main><p>See <a href='https://x.io'>https://x.io</a> "
                           "for the details.</p></main></body></html>")
    assert [s.text for s in page.segments] == ["See for the details."]


def test_fragments_keep_every_block():
    segments = html.fragment_segments("<h2>标题</h2><p>正文。</p><nav>not chrome here</nav>")
    assert [(s.kind, s.text) for s in segments] == [("heading", "标题"), ("prose", "正文。")]


def test_a_page_without_an_article_keeps_its_paragraphs_and_drops_side_boxes():
    """Trial finding: `post-meta`, `article-share`, `embedded-post` boxes were taken for the
    post's content (their class has "post" or "article" in it) and the writer's paragraphs
    were lost."""
    from engine.corpus import html

    page = html.parse_page(
        "<html><body><h1>T</h1><p>My first paragraph is here and long enough.</p>"
        "<p>My second paragraph as well.</p><div class='post-meta'>OTHER text</div>"
        "<div class='article-share'>Share this</div>"
        "<div class='embedded-post'>Someone else wrote this.</div>"
        "<div class='pullquote'>My first paragraph is here</div></body></html>")
    assert [(s.kind, s.text) for s in page.segments] == [
        ("prose", "My first paragraph is here and long enough."),
        ("prose", "My second paragraph as well.")]


def test_footnote_references_are_markup_and_the_notes_are_footnotes():
    """Trial finding: `gate.<sup><a href="#fn1">1</a></sup>` came in as prose "gate.1", and
    the notes as a list ending in ↩ (Markdown renderers) or as prose (Substack)."""
    from engine.corpus import html

    page = html.parse_page(
        '<html><body><article><p>Now I stop at every gate.<sup><a href="#fn1" id="fnref1">1'
        '</a></sup> It takes longer.</p><section class="footnotes"><ol><li id="fn1"><p>Mostly'
        ' sheep gates. <a href="#fnref1">↩</a></p></li></ol></section></article></body></html>')
    assert [(s.kind, s.text) for s in page.segments] == [
        ("prose", "Now I stop at every gate. It takes longer."),
        ("footnote", "Mostly sheep gates.")]
    substack = html.fragment_segments(
        '<p>It costs twice as much.<a class="footnote-anchor" href="#footnote-1" '
        'id="footnote-anchor-1">1</a></p><div class="footnote"><a class="footnote-number" '
        'href="#footnote-anchor-1">1</a><div class="footnote-content"><p>At least in winter.'
        '</p></div></div>')
    assert [(s.kind, s.text) for s in substack] == [("prose", "It costs twice as much."),
                                                    ("footnote", "At least in winter.")]
