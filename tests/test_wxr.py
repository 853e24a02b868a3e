"""WordPress exports: published posts and pages only, bodies cleaned of editor artefacts."""

from __future__ import annotations

import pytest

from engine.corpus import html, wxr
from tests.blog import BROKEN_WXR, WXR


def test_only_published_posts_and_pages_are_kept():
    export = wxr.parse(WXR)
    assert export.site == "https://wp.example.com"
    assert [(p.post_type, p.title) for p in export.posts] == [
        ("post", "Gutenberg & blocks"), ("post", "经典编辑器"), ("page", "About this site")]
    assert export.left_out == {"draft": 1, "private": 1, "attachment": 1}
    first = export.posts[0]
    assert first.guid == "https://wp.example.com/?p=11"
    assert first.date == "2021-03-04 10:00:00"
    assert first.meta["slug"] == "gutenberg"


def segments_of(body: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in html.fragment_segments(wxr.clean_body(body))]


def test_block_editor_comments_vanish_and_entities_are_decoded():
    body = wxr.parse(WXR).posts[0].body_html
    assert segments_of(body) == [
        ("prose", "Block editor posts wrap every paragraph in comments — we drop them."),
        ("image", ""),
        ("prose", "Café culture, as they say, is “mostly waiting”.")]


def test_classic_posts_get_paragraphs_and_lose_shortcodes():
    body = wxr.parse(WXR).posts[1].body_html
    assert segments_of(body) == [
        ("prose", "经典编辑器里的文章没有段落标签，空行就是分段。"),
        ("prose", "第二段有一个高亮短代码，和一个按钮。"),
        ("code", 'echo "不是正文"\n\necho "空行之后还是代码"'),
        ("prose", "第三段 包含实体&符号。")]


def test_plain_brackets_are_not_shortcodes():
    assert segments_of("He said [sic] that footnote [1] was wrong.") == [
        ("prose", "He said [sic] that footnote [1] was wrong.")]


def test_malformed_xml_says_where():
    with pytest.raises(wxr.MalformedXml, match=r"malformed XML \(.*line \d+"):
        wxr.parse(BROKEN_WXR)


def test_other_xml_is_not_a_wordpress_export():
    with pytest.raises(wxr.NotWxr):
        wxr.parse('<?xml version="1.0"?><urlset><url><loc>https://x</loc></url></urlset>')


def test_entity_expansion_attacks_are_refused():
    bomb = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            '<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><item>'
            '<title>&b;</title></item></channel></rss>')
    with pytest.raises(wxr.MalformedXml, match="refused XML"):
        wxr.parse(bomb)


def test_an_export_declaring_another_encoding_is_read_correctly(store, tmp_path):
    from engine.corpus import importer

    export = ('<?xml version="1.0" encoding="ISO-8859-1"?>'
              '<rss xmlns:wp="http://wordpress.org/export/1.2/"'
              ' xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
              "<link>https://fr.example.com</link><item><title>Café</title>"
              "<guid>https://fr.example.com/?p=1</guid>"
              "<content:encoded><![CDATA[<p>Un café crème, s'il vous plaît.</p>]]>"
              "</content:encoded><wp:status>publish</wp:status><wp:post_type>post</wp:post_type>"
              "</item></channel></rss>")
    (tmp_path / "export.xml").write_bytes(export.encode("latin-1"))
    report = importer.import_paths(store, [tmp_path])
    assert report.imported == 1, report
    assert [r["text"] for r in store.segments()] == ["Un café crème, s'il vous plaît."]
    assert store.segments()[0]["title"] == "Café"


def test_a_password_protected_post_is_left_out():
    """Second trial: a post behind a password was imported as published writing."""
    protected = WXR.replace("<wp:post_id>11</wp:post_id>",
                            "<wp:post_id>11</wp:post_id><wp:post_password>secret"
                            "</wp:post_password>", 1)
    assert protected != WXR
    export = wxr.parse(protected)
    assert "Gutenberg & blocks" not in [p.title for p in export.posts]
    assert export.left_out["password-protected"] == 1
