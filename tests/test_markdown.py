"""Markdown: front matter of every kind, and paragraphs cut and typed the way a writer expects."""

from __future__ import annotations

import pytest

from engine.corpus import frontmatter, markdown
from tests.blog import ZH_POST


def kinds_and_texts(body: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in markdown.segments(body)]


def test_yaml_front_matter():
    header = frontmatter.parse(ZH_POST)
    assert header.title == "我的第一篇博客"
    assert header.date == "2023-05-01"
    assert header.meta["tags"] == ["生活", "技术"]
    assert header.body.lstrip().startswith("# 为什么要写博客")
    assert header.warning is None and header.draft_reason is None


def test_toml_front_matter():
    header = frontmatter.parse('+++\ntitle = "Plain"\ndate = 2022-11-03\nlang = "en_GB"\n+++\n'
                               "Body.\n")
    assert (header.title, header.date, header.lang) == ("Plain", "2022-11-03", "en-gb")
    assert header.body.strip() == "Body."


def test_pelican_and_multimarkdown_headers():
    header = frontmatter.parse("Title: Notes from Kyoto\nDate: 2021-04-12 10:20\n"
                               "Summary: a long summary\n    that continues here\n\nBody text.\n")
    assert header.title == "Notes from Kyoto"
    assert header.meta["summary"] == "a long summary that continues here"
    assert header.body.strip() == "Body text."


def test_prose_that_starts_like_a_header_is_not_one():
    text = "Note: this is just how the post begins.\n\nSecond paragraph."
    header = frontmatter.parse(text)
    assert header.meta == {} and header.body == text


def test_a_leading_rule_without_a_closing_fence_is_not_front_matter():
    text = "---\n\nA post that starts with a horizontal rule.\n"
    assert frontmatter.parse(text).body == text


def test_malformed_yaml_is_reported_and_the_body_still_imported():
    header = frontmatter.parse("---\ntitle: [unclosed\n---\nThe body survives.\n")
    assert header.warning.startswith("YAML front matter is invalid (")
    assert header.warning.endswith("; read line by line: title")
    assert header.body.strip() == "The body survives."


@pytest.mark.parametrize("meta, reason", [
    ("draft: true", "draft: true"), ("published: false", "published: false"),
    ("status: draft", "status: draft"), ("Draft: yes", "draft: true"),
])
def test_drafts_are_recognised(meta, reason):
    header = frontmatter.parse(f"---\n{meta}\n---\nNot yet.\n")
    assert reason in header.draft_reason


def test_published_posts_are_not_drafts():
    assert frontmatter.parse("---\ndraft: false\nstatus: published\n---\nx").draft_reason is None


def test_blocks_get_their_kinds():
    segments = markdown.segments(frontmatter.parse(ZH_POST).body)
    assert [s.kind for s in segments] == [
        "heading", "prose", "prose", "image", "link", "link", "list", "quote", "code", "code",
        "table", "prose", "caption", "prose"]  # the figure shortcode's caption
    prose = [s.text for s in segments if s.kind == "prose"]
    assert prose == [
        "写博客是为了整理思路。很多时候，想法在脑子里转来转去，写下来之后才发现哪里不通。",
        "我们用 Docker 部署服务，详情见这篇文章。",
        "一段原始 HTML",  # the words of a <div> the writer wrapped them in
        "最后一段：火车站离我家很近，走路十分钟就到。",
    ]


def test_each_segment_keeps_its_original_markdown():
    segments = markdown.segments(frontmatter.parse(ZH_POST).body)
    by_text = {s.text: s.source for s in segments}
    assert by_text["我们用 Docker 部署服务，详情见这篇文章。"] == (
        "我们用 **Docker** 部署服务，详情见[这篇文章](https://example.com/docker)。")
    code = next(s for s in segments if s.kind == "code")
    assert code.source == '```python\nprint("代码不是散文")\n```'
    assert code.text == 'print("代码不是散文")'


def test_hard_wrapped_english_is_joined_with_spaces_and_chinese_without():
    assert kinds_and_texts("one line\nand the next\n\n第一行\n第二行\n\nmixed 中文\nEnglish") == [
        ("prose", "one line and the next"), ("prose", "第一行第二行"),
        ("prose", "mixed 中文 English")]


def test_inline_markup_is_reduced_to_its_words():
    assert kinds_and_texts(
        "Some *emphasis*, **strong**, `code`, ~~struck~~, a [link](http://x.y \"t\"), "
        "an autolink <https://auto.link>, an image ![alt](i.png) and a<br>break.") == [
        ("prose", "Some emphasis, strong, code, struck, a link, an autolink, an image and a\n"
                  "break.")]


def test_link_only_and_image_only_lines_are_not_prose():
    assert kinds_and_texts("[Home](/) · [Archive](/archive)\n\n![](a.png) ![](b.png)\n\n"
                           "https://example.com/x\n\n<https://example.com>") == [
        ("link", "Home · Archive"), ("image", ""), ("link", "https://example.com/x"),
        ("link", "")]


def test_tag_only_lines_are_markup_and_a_sentence_with_a_tag_in_it_is_not_prose():
    assert kinds_and_texts("{{< youtube abc >}}\n\n{% include note.html %}\n\n"
                           "Words around {{ site.title }} a tag.\n\n* TOC\n{:toc}") == [
        ("markup", ""), ("markup", ""), ("markup", "Words around {{ site.title }} a tag."),
        ("list", "TOC")]


def test_footnotes_wiki_links_heading_ids_and_comments():
    assert kinds_and_texts(
        "## Heading {#custom-id}\n\nText with a note[^1] and [[Other Page|a wiki link]].\n\n"
        "![[diagram.png]]\n\n<!--more-->\n\n[^1]: The note itself.") == [
        ("heading", "Heading"), ("prose", "Text with a note and a wiki link."),
        ("footnote", "The note itself.")]


def test_setext_headings_nested_lists_and_math():
    assert kinds_and_texts("Title\n=====\n\n- a\n  - b\n- c\n\n1. one\n2. two\n\n$$\nx^2\n$$"
                           "\n\n```math\ny\n```") == [
        ("heading", "Title"), ("list", "a\nb\nc"), ("list", "one\ntwo"), ("math", "$$ x^2 $$"),
        ("math", "y")]


def test_raw_html_blocks_are_read_as_html_their_words_kept_never_their_tags():
    segments = markdown.segments('<div class="x">\n<p>Inside raw HTML.</p>\n</div>\n\nAfter.\n\n'
                                 "<script>var tracking = 1;</script>")
    assert [(s.kind, s.text) for s in segments] == [("prose", "Inside raw HTML."),
                                                   ("prose", "After."), ("html", "")]
