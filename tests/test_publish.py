"""Publishing a translated post: each profile's header rewrite, hostile model output, tag
maps, links to the writer's own posts (against a real imported corpus), and
`ownvoice translate post.md --to en --publish` end to end with the embedded model."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml

from engine.corpus import frontmatter, importer
from engine.errors import OwnVoiceError
from engine.translation import publish
from engine.translation.publish.header import _quoted as quoted
from tests.conftest import run_ownvoice


def tagged(text: str) -> str:
    """The fake translator: shows what it was given, so a test can tell it ran."""
    return f"EN[{text}]"


def rewrite(text: str, profile: str, *, translate=tagged, tags=None, target="en"):
    header = publish.split_header(text)
    lines, warnings = publish.rewrite_header(header, publish.PROFILES[profile], target=target,
                                             translate_text=translate, tags=tags)
    return "\n".join(lines) + "\n", warnings


JEKYLL = """---
# A Jekyll post; comments and order must survive.
layout: post
title: 我的第一篇博客   # shown in the browser tab
date: 2023-05-01
description: >-
  一段很长的描述，
  写成了两行。
tags:
  - 随笔  # essays
  - 技术
permalink: /2023/first-post/
---
"""


def test_jekyll_changes_only_the_named_fields_line_by_line():
    out, warnings = rewrite(JEKYLL, "jekyll", tags={"随笔": "essays"})
    assert warnings == []
    assert out == """---
# A Jekyll post; comments and order must survive.
layout: post
title: "EN[我的第一篇博客]"   # shown in the browser tab
date: 2023-05-01
description: "EN[一段很长的描述， 写成了两行。]"
tags:
  - "essays"  # essays
  - 技术
permalink: /2023/first-post/
lang: "en"
---
"""
    meta = yaml.safe_load(out.strip("-\n"))
    assert meta["permalink"] == "/2023/first-post/"  # Polyglot pairs by the same permalink


def test_jekyll_without_permalink_or_page_id_says_how_to_pair():
    _, warnings = rewrite("---\ntitle: 标题\n---\n", "jekyll")
    assert "page_id" in warnings[0]


HUGO_TOML = """+++
title = "写作的朴素"  # the title
date = 2022-11-03
description = 'A note'
tags = ["随笔",
        "技术"]
isCJKLanguage = true
translationKey = "plain-writing"

[params]
lang = "zh"
title = "not this one"
+++
"""


def test_hugo_toml_keeps_tables_and_adds_nothing_that_would_unlink_it():
    out, warnings = rewrite(HUGO_TOML, "hugo", tags={"随笔": "essays"})
    assert warnings == []
    assert out == """+++
title = "EN[写作的朴素]"  # the title
date = 2022-11-03
description = "EN[A note]"
tags = ["essays", "技术"]
isCJKLanguage = false
translationKey = "plain-writing"

[params]
lang = "zh"
title = "not this one"
+++
"""
    no_key, _ = rewrite("+++\ntitle = \"x\"\n+++\n", "hugo")
    assert "translationKey" not in no_key  # the original's path-derived key pairs them
    hugo = publish.PROFILES["hugo"]
    assert hugo.output_path(Path("content/post.md"), "en") == Path("content/post.en.md")
    assert hugo.output_path(Path("content/post.zh.md"), "en") == Path("content/post.en.md")


def test_hugo_yaml_page_bundle():
    out, _ = rewrite("---\ntitle: 标题\nsummary: 摘要\ndraft: false\n---\n", "hugo")
    assert out == '---\ntitle: "EN[标题]"\nsummary: "EN[摘要]"\ndraft: false\n---\n'
    assert publish.PROFILES["hugo"].output_path(Path("p/index.md"), "en") == Path(
        "p/index.en.md")


PELICAN = """Title: 京都笔记
Date: 2021-04-12 10:20
Category: travel
Tags: 随笔, trains
Slug: notes-from-kyoto
Summary: 新干线准时出发，
    正如大家所说。
"""


def test_pelican_keeps_the_slug_and_marks_the_translation():
    out, warnings = rewrite(PELICAN, "pelican", tags={"随笔": "essays"})
    assert warnings == []
    assert out == """Title: EN[京都笔记]
Date: 2021-04-12 10:20
Category: travel
Tags: essays, trains
Slug: notes-from-kyoto
Summary: EN[新干线准时出发， 正如大家所说。]
Lang: en
Translation: true
"""
    assert publish.PROFILES["pelican"].output_path(Path("k.md"), "en") == Path("k-en.md")
    lower, notes = rewrite("title: 标题\nlang: zh\n", "pelican")
    assert lower == "title: EN[标题]\nlang: en\ntranslation: true\n"  # its own key style
    assert "Slug" in notes[0]


HOSTILE = ['He said "no": #1 --- +++', "Title: line one\nDate: evil\n\n---\n+++",
           "tab\there\u2028and\x85there\x07\x00", "  yes  ", "no", "- [x] {y} & *z | >",
           "'single' \\back\\slash", "emoji 👩‍💻 and ‮rtl", "#", "..."]


@pytest.mark.parametrize("title", HOSTILE)
@pytest.mark.parametrize("post, profile", [(JEKYLL, "jekyll"), (HUGO_TOML, "hugo"),
                                           (PELICAN, "pelican")])
def test_model_output_is_data_and_never_breaks_the_header(title, post, profile):
    out, warnings = rewrite(post + "\nBody.\n", profile, translate=lambda _: title)
    assert warnings == []
    header = frontmatter.parse(out + "\nBody.\n")
    assert header.warning is None and header.body.strip() == "Body."
    meant = " ".join(title.split()).replace("\x07", "").replace("\x00", "")
    assert header.title == meant.strip()
    before = frontmatter.parse(post)
    for key, value in before.meta.items():
        if str(key).lower() not in ("title", "description", "summary", "lang", "tags",
                                    "iscjklanguage"):
            assert header.meta[key] == value


def test_a_field_that_fails_to_translate_keeps_its_text():
    def broken(text):
        if text == "京都笔记":
            raise OwnVoiceError("the model ran out of context")
        return "  \n "

    out, warnings = rewrite(PELICAN, "pelican", translate=broken)
    assert out.startswith("Title: 京都笔记\n") and "Summary: 新干线" in out
    assert warnings == ["title: not translated (the model ran out of context); the original "
                        "is kept.", "summary: the translation came back empty; the original "
                                    "is kept."]


def test_a_header_that_does_not_parse_is_copied_with_a_warning(tmp_path):
    post = "---\ntitle: [unclosed\n---\n\n正文。\n"
    result = publish.publish(post, "---\ntitle: [unclosed\n---\n\nBody.\n",
                             source_path=tmp_path / "p.md", target="en",
                             profile=publish.PROFILES["jekyll"], translate_text=tagged)
    # The header is not touched, so a comment at the end says who translated it.
    assert result.text == ("---\ntitle: [unclosed\n---\n\nBody.\n\n"
                           "<!-- translated_by: OwnVoice (machine translation) -->\n")
    assert len(result.warnings) == 1 and "does not parse" in result.warnings[0]
    assert result.path == tmp_path / "p-en.md"


def test_tag_maps_in_every_form():
    flow, _ = rewrite("---\ntitle: t\ntags: [随笔, 技术]  # two\n---\n", "jekyll",
                      tags={"随笔": "essays"})
    assert 'tags: ["essays", "技术"]  # two' in flow
    spaced, _ = rewrite("---\ntitle: t\ntags: 随笔 技术\n---\n", "jekyll", tags={"技术": "tech"})
    assert 'tags: "随笔 tech"' in spaced
    untouched, _ = rewrite("---\ntitle: t\ntags: [a, b]\n---\n", "jekyll", tags={"c": "d"})
    assert "tags: [a, b]\n" in untouched


def test_the_profile_comes_from_the_flag_the_folder_or_the_header(tmp_path):
    none = publish.Settings()
    guess = lambda text, path="post.md": publish.choose_profile(  # noqa: E731
        None, none, text, Path(path))[0].name
    assert guess(HUGO_TOML) == "hugo"
    assert guess(PELICAN) == "pelican"
    assert guess(JEKYLL) == "jekyll"
    assert guess("---\ntitle: t\nlastmod: 2024-01-01\n---\n") == "hugo"
    assert guess("---\ntitle: t\n---\n", "content/post.zh.md") == "hugo"
    assert guess("---\ntitle: t\ndraft: false\n---\n", "_posts/2020-01-01-x.md") == "jekyll"
    (tmp_path / "publish.json").write_text(json.dumps({"profile": "pelican", "tags": {
        "English": {"随笔": "essays"}}}), encoding="utf-8")
    settings = publish.load_settings(tmp_path)
    assert settings.tags == {"en": {"随笔": "essays"}}
    profile, why = publish.choose_profile(None, settings, HUGO_TOML, Path("p.md"))
    assert profile.name == "pelican" and "publish.json" in why
    assert publish.choose_profile("hugo", settings, PELICAN, Path("p.md"))[0].name == "hugo"
    for bad, said in (({"profil": "hugo"}, "unknown settings"), ({"profile": "zola"},
                      "unknown profile 'zola'"), ({"tags": {"en": ["x"]}}, '"tags" must map')):
        (tmp_path / "publish.json").write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(OwnVoiceError, match=said):
            publish.load_settings(tmp_path)
    assert publish.load_settings(tmp_path / "nowhere") == publish.Settings()


def write_site(folder: Path) -> dict[str, Path]:
    """A small bilingual blog: Chinese posts, some with English versions."""
    posts = {
        "first.md": "---\ntitle: 第一篇\nlang: zh\n---\n\n第一篇的正文。\n",
        "second.md": "---\ntitle: 第二篇\nlang: zh\n---\n\n第二篇的正文。\n",
        "second-en.md": "---\ntitle: The second\nlang: en\n---\n\nThe second post.\n",
        "third.md": ("---\ntitle: 第三篇\nlang: zh\nurl: /2023/third/\ntranslationKey: t3\n"
                     "---\n\n第三篇的正文。\n"),
        "third.en.md": ("---\ntitle: The third\nlang: en\nurl: /en/2023/the-third/\n"
                        "translationKey: t3\n---\n\nThe third post.\n"),
        "alone.md": "---\ntitle: 孤独\nlang: zh\n---\n\n没有译文。\n",
        "sub/deep.md": "---\ntitle: 深处\nlang: zh\n---\n\n在子目录里。\n",
        "sub/deep-en.md": "---\ntitle: Deep\nlang: en\n---\n\nIn a folder.\n",
    }
    written = {}
    for name, text in posts.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written[name] = path
    return written


BODY = """
See [the second](second.md), [the third](/2023/third/#part "title") and
[on the site](https://blog.example/2023/third/) — [alone](alone.md),
[outside](https://other.example/2023/third/), [deep](./sub/deep.md),
[Pelican]({filename}/sub/deep.md), [missing](nope.md), `[code](second.md)`.

```markdown
[in a fence](second.md)
```

[ref]: <second.md>
[unpublished]: later.md
"""


def test_links_to_own_posts_point_at_their_translations(store, tmp_path):
    site = tmp_path / "site"
    posts = write_site(site)
    report = importer.import_paths(store, [site])
    assert report.imported == len(posts) and not report.skipped
    # A post published before, never imported: found beside its original.
    (site / "later.md").write_text("---\ntitle: 以后\n---\n\n以后。\n", encoding="utf-8")
    (site / "later-en.md").write_text("---\ntitle: Later\n---\n\nLater.\n", encoding="utf-8")
    own = publish.own_posts(store)
    assert {p.lang for p in own} == {"zh", "en"}
    # One post on the site, known by its full URL (a WordPress import gives these).
    own += [publish.Post(None, "https://blog.example/2023/third/", "zh", {"slug": "x"}),
            publish.Post(None, "https://blog.example/en/third/", "en", {"slug": "x"})]
    body, count = publish.rewrite_links(BODY, posts=own, profile=publish.PROFILES["jekyll"],
                                        target="en", source=posts["first.md"],
                                        output=site / "first-en.md")
    assert body == """
See [the second](second-en.md), [the third](/en/2023/the-third/#part "title") and
[on the site](https://blog.example/en/third/) — [alone](alone.md),
[outside](https://other.example/2023/third/), [deep](./sub/deep-en.md),
[Pelican]({filename}/sub/deep-en.md), [missing](nope.md), `[code](second.md)`.

```markdown
[in a fence](second.md)
```

[ref]: <second-en.md>
[unpublished]: later-en.md
"""
    assert count == 7


def test_publishing_puts_it_together(tmp_path):
    source = tmp_path / "post.md"
    text = "Title: 标题\nSlug: s\n\n正文。\n"
    result = publish.publish(text, "Title: 标题\nSlug: s\n\nBody.\n", source_path=source,
                             target="en", profile=publish.PROFILES["pelican"],
                             translate_text=tagged)
    assert result.text == ("Title: EN[标题]\nSlug: s\nLang: en\nTranslation: true\n"
                           "Translated_by: OwnVoice\n\nBody.\n")
    assert (result.path, result.links, result.warnings) == (tmp_path / "post-en.md", 0, [])
    changed = publish.publish(text, "Title: Heading\nSlug: s\n\nBody.\n", source_path=source,
                              target="en", profile=publish.PROFILES["pelican"],
                              translate_text=tagged)
    assert changed.text == result.text and "differs" in changed.warnings[0]


def test_ownvoice_translate_publish(default_model, tmp_path):
    """Two model calls (the paragraph, the title); the refusals cost no model at all."""
    post = tmp_path / "post.md"
    post.write_text("""---
layout: post
title: 火车站
tags: [随笔]
---

火车站在哪儿？

```python
print("代码不是散文")
```
""", encoding="utf-8")
    result = run_ownvoice("translate", str(post), "--to", "en", "--publish")
    written = tmp_path / "post-en.md"
    assert result.stdout == ""
    assert f"Published {written} (jekyll profile, guessed from the YAML front matter)" in (
        result.stderr)
    text = written.read_text(encoding="utf-8")
    header = frontmatter.parse(text)
    assert header.meta["layout"] == "post" and header.meta["lang"] == "en"
    assert header.meta["tags"] == ["随笔"]
    assert header.title and header.title != "火车站"
    assert '```python\nprint("代码不是散文")\n```\n' in header.body
    assert "火车站在哪儿" not in header.body

    again = run_ownvoice("translate", str(post), "--to", "en", "--publish", check=False)
    assert again.returncode == 1 and written.read_text(encoding="utf-8") == text
    assert again.stderr.strip() == (f"Error: {written} already exists; pass --force to "
                                    "replace it.")
    stdin = run_ownvoice("translate", "--text", "你好", "--to", "en", "--publish", check=False)
    assert stdin.returncode == 2 and "give FILE" in stdin.stderr

    # New-user trial: the next import took the machine translation for the writer's own,
    # and made a published-translation pair of it. It is marked, and left out.
    assert header.meta["translated_by"] == "OwnVoice"
    imported = json.loads(run_ownvoice("import", str(tmp_path), "--json").stdout)
    assert imported["imported"] == 1  # the original
    assert [(Path(s["path"]).name, s["reason"]) for s in imported["skipped"]] == [
        ("post-en.md", "OwnVoice's own machine translation (it is marked translated_by: "
                       "OwnVoice), not your writing; if you have rewritten it yourself, "
                       "delete that line and import it again")]
    assert imported["published_translations"]["pairs"] == 0


SITES = {  # profile → (original, what the translator gave back for it)
    "jekyll": ("---\ntitle: 火车站\npermalink: /station/\n---\n\n火车站离我家很近，走路十分钟。\n",
               "---\ntitle: 火车站\npermalink: /station/\n---\n\nThe station is ten minutes "
               "away on foot.\n"),
    "hugo": ("+++\ntitle = \"火车站\"\n\n[params]\nmood = \"calm\"\n+++\n\n火车站离我家很近。\n",
             "+++\ntitle = \"火车站\"\n\n[params]\nmood = \"calm\"\n+++\n\nThe station is "
             "close to my home.\n"),
    "pelican": ("Title: 火车站\nSlug: station\n\n火车站离我家很近。\n",
                "Title: 火车站\nSlug: station\n\nThe station is close to my home.\n"),
}


@pytest.mark.parametrize("profile", [*SITES, "no header", "JSON header"])
def test_every_published_translation_is_marked_and_the_next_import_leaves_it_out(
        store, tmp_path, profile):
    """Each generator keeps the marker as a field it does not know (YAML, TOML, Pelican); a
    post whose header is not rewritten gets the comment, which no renderer shows."""
    original, translated = SITES.get(profile, ("火车站离我家很近。\n",
                                               "The station is close to my home.\n"))
    if profile == "JSON header":
        original, translated = (f'{{"title": "火车站"}}\n\n{text}' for text in (original,
                                                                               translated))
    source = tmp_path / "blog" / "station.md"
    source.parent.mkdir()
    source.write_text(original, encoding="utf-8")
    result = publish.publish(original, translated, source_path=source, target="en",
                             profile=publish.PROFILES.get(profile, publish.PROFILES["jekyll"]),
                             translate_text=tagged)
    result.path.write_text(result.text, encoding="utf-8")
    header = frontmatter.parse(result.text)
    if profile in SITES:
        assert {str(k).lower(): v for k, v in header.meta.items()}["translated_by"] == (
            "OwnVoice")
        assert "<!--" not in result.text
    else:
        assert result.text.endswith("\n\n<!-- translated_by: OwnVoice (machine translation) "
                                    "-->\n")
    report = importer.import_paths(store, [tmp_path / "blog"])
    assert report.imported == 1
    assert [(s.path, s.reason.split(",")[0]) for s in report.skipped] == [
        (str(result.path), "OwnVoice's own machine translation (it is marked translated_by: "
                           "OwnVoice)")]


def test_toml_reads_what_it_was_given():
    """The double-quoted form is one that TOML and YAML both read back exactly."""
    for value in HOSTILE:
        assert tomllib.loads(f"k = {quoted(value)}")["k"] == value
        assert yaml.safe_load(f"k: {quoted(value)}")["k"] == value


def test_a_translation_saved_beside_its_post_without_a_marker_is_left_out_too(default_model,
                                                                              tmp_path):
    """The app's Save… (and `ownvoice translate post.md > post-en.md`) writes the machine
    translation beside its post with no marker: the history knows its paragraphs."""
    from engine.translation import source_file

    blog = tmp_path / "blog"
    blog.mkdir()
    post = blog / "walk.md"
    post.write_text("那天早上下着小雨，咖啡馆里坐满了人，大家都在安静地读书。\n",
                    encoding="utf-8")
    printed = run_ownvoice("translate", str(post), "--to", "en").stdout
    text, envelope = source_file.read_bytes(printed.encode("utf-8"), "the translation")
    saved = source_file.write(source_file.translated_path(post, "en"), text, envelope)
    assert saved == blog / "walk-en.md"

    imported = json.loads(run_ownvoice("import", str(blog), "--json").stdout)
    assert imported["imported"] == 1
    [skipped] = imported["skipped"]
    assert skipped["path"] == str(saved)
    assert skipped["reason"].startswith("OwnVoice's own machine translation: 1 of its 1 "
                                        "paragraph(s) are word for word translation #1 in "
                                        "your history")
    assert imported["published_translations"]["pairs"] == 0
