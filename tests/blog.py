"""A small blog written on the fly: every format the importer reads, and its edge cases.

Chinese and English, hard-wrapped lines, front matter of three kinds, a drafted post,
legacy encodings, a binary file in disguise, an empty file, a WordPress export and a
broken one, and the images and PDFs that sit beside posts.
"""

from __future__ import annotations

from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"\x00" * 64

ZH_POST = """---
title: 我的第一篇博客
date: 2023-05-01
tags: [生活, 技术]
---

# 为什么要写博客

写博客是为了整理思路。很多时候，想法在脑子里转来转去，
写下来之后才发现哪里不通。

我们用 **Docker** 部署服务，详情见[这篇文章](https://example.com/docker)。

![截图](images/shot.png)

[上一篇](/prev/) | [下一篇](/next/)

https://example.com/just-a-link

- 第一点：少写废话
- 第二点：多写例子

> 知之为知之，不知为不知。

```python
print("代码不是散文")
```

    indented = "also code"

| 名字 | 数量 |
|------|------|
| 苹果 | 3 |

<div class="note">一段原始 HTML</div>

{{< figure src="photo.jpg" caption="照片" >}}

最后一段：火车站离我家很近，走路十分钟就到。
"""

EN_TOML_POST = """+++
title = "On Writing Plainly"
date = 2022-11-03
draft = false
+++

Most writing advice boils down to one idea: say the thing. Cut the throat-clearing,
the hedges and the adjectives that do no work.

## A second heading

I keep a list of words I never use. "Leverage" is at the top, followed closely by
"utilize", which is just "use" wearing a suit.

[^1]: A footnote that should not be prose.
"""

PELICAN_POST = """Title: Notes from Kyoto
Date: 2021-04-12 10:20
Category: travel
Tags: japan, trains

The Shinkansen left exactly on time, as everyone had promised it would. I still checked
my watch twice.
"""

DRAFT_POST = """---
title: Half-finished thoughts
draft: true
---

This is not ready to be read by anyone.
"""

BUNDLE_POST = """---
title: "Page bundle"
---

A post that lives in its own folder with its cover image beside it.

![cover](cover.jpg)
"""

ABOUT_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
  <title>About me | Plain Words</title>
  <meta property="og:title" content="About me">
  <style>body { color: red; }</style>
  <script>var tracking = "should never be imported";</script>
</head>
<body>
  <nav><a href="/">Home</a> <a href="/archive">Archive</a></nav>
  <header class="site-header"><h1>Plain Words</h1><p>A blog about writing</p></header>
  <main>
    <article>
      <header><h1>About me</h1><time datetime="2020-02-02">2 Feb 2020</time></header>
      <p>I write about writing, which is a little like
         photographing cameras.</p>
      <p>Before this blog I spent ten years editing technical manuals&nbsp;&amp; release notes.</p>
      <h2>Elsewhere</h2>
      <p><a href="https://example.com/feed">RSS</a> · <a href="mailto:me@example.com">Mail</a></p>
      <blockquote><p>Omit needless words.</p></blockquote>
      <ul><li>Editing</li><li>Hiking</li></ul>
      <pre><code>no = "prose here"</code></pre>
      <figure><img src="me.jpg"><figcaption>Me, squinting.</figcaption></figure>
      <div class="share-buttons"><p>Share this on every network you can find</p></div>
      <section id="comments"><p>Great post! Visit my site.</p></section>
    </article>
    <aside class="sidebar"><p>Popular posts you might like</p></aside>
  </main>
  <footer><p>© 2024 Plain Words. All rights reserved.</p></footer>
</body>
</html>
"""

JOURNAL_TXT = """Monday. The rain did not stop all day, so I finally sorted the photos from last
summer and wrote captions for half of them.

Tuesday. Sun, at last. Walked to the harbour and back.

https://example.com/harbour-photos
"""

GB18030_TXT = "这是一篇用旧编码保存的文章。那时候的博客软件默认用 GBK，我们都没有注意到。\n\n第二段也是中文。"
BIG5_MD = "# 舊文章\n\n這是一篇用繁體中文寫的舊文章，存成了 Big5 編碼。\n"
LATIN1_TXT = "Un café au lait, s'il vous plaît. La façade était très élégante.\n"

WXR = """<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0"
  xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
  xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
  <title>My WordPress Blog</title>
  <link>https://wp.example.com</link>
  <wp:wxr_version>1.2</wp:wxr_version>
  <item>
    <title>Gutenberg &amp; blocks</title>
    <link>https://wp.example.com/2021/gutenberg/</link>
    <guid isPermaLink="false">https://wp.example.com/?p=11</guid>
    <content:encoded><![CDATA[<!-- wp:paragraph -->
<p>Block editor posts wrap every paragraph in comments &#8212; we drop them.</p>
<!-- /wp:paragraph -->

<!-- wp:image {"id":5} -->
<figure class="wp-block-image"><img src="https://wp.example.com/a.jpg" alt=""/></figure>
<!-- /wp:image -->

<!-- wp:paragraph -->
<p>Caf&eacute; culture, as they say, is “mostly waiting”.</p>
<!-- /wp:paragraph -->]]></content:encoded>
    <wp:post_id>11</wp:post_id>
    <wp:post_date>2021-03-04 10:00:00</wp:post_date>
    <wp:post_name>gutenberg</wp:post_name>
    <wp:status>publish</wp:status>
    <wp:post_type>post</wp:post_type>
  </item>
  <item>
    <title>经典编辑器</title>
    <link>https://wp.example.com/2019/classic/</link>
    <guid isPermaLink="false">https://wp.example.com/?p=12</guid>
    <content:encoded><![CDATA[经典编辑器里的文章没有段落标签，空行就是分段。

[caption id="attachment_3" align="aligncenter" width="300"]<img src="x.jpg" /> 图片说明不该成为正文[/caption]

第二段有一个[highlight]高亮[/highlight]短代码，和一个按钮[button url="https://x"]。
[gallery ids="1,2,3"]

[code lang="bash"]
echo "不是正文"

echo "空行之后还是代码"
[/code]

第三段&nbsp;包含实体&amp;符号。]]></content:encoded>
    <wp:post_id>12</wp:post_id>
    <wp:post_date>2019-07-08 09:30:00</wp:post_date>
    <wp:post_name>classic</wp:post_name>
    <wp:status>publish</wp:status>
    <wp:post_type>post</wp:post_type>
  </item>
  <item>
    <title>About this site</title>
    <link>https://wp.example.com/about/</link>
    <guid isPermaLink="false">https://wp.example.com/?page_id=2</guid>
    <content:encoded><![CDATA[<p>This page is published and belongs in the corpus.</p>]]></content:encoded>
    <wp:post_id>2</wp:post_id>
    <wp:status>publish</wp:status>
    <wp:post_type>page</wp:post_type>
  </item>
  <item>
    <title>A draft</title>
    <guid isPermaLink="false">https://wp.example.com/?p=13</guid>
    <content:encoded><![CDATA[<p>Drafts are never imported.</p>]]></content:encoded>
    <wp:post_id>13</wp:post_id>
    <wp:status>draft</wp:status>
    <wp:post_type>post</wp:post_type>
  </item>
  <item>
    <title>Private thoughts</title>
    <guid isPermaLink="false">https://wp.example.com/?p=14</guid>
    <content:encoded><![CDATA[<p>Private posts are never imported.</p>]]></content:encoded>
    <wp:post_id>14</wp:post_id>
    <wp:status>private</wp:status>
    <wp:post_type>post</wp:post_type>
  </item>
  <item>
    <title>a.jpg</title>
    <guid isPermaLink="false">https://wp.example.com/a.jpg</guid>
    <content:encoded><![CDATA[]]></content:encoded>
    <wp:post_id>5</wp:post_id>
    <wp:status>inherit</wp:status>
    <wp:post_type>attachment</wp:post_type>
  </item>
</channel>
</rss>
"""

BROKEN_WXR = WXR[: WXR.index("<item>", WXR.index("<item>") + 1)] + "<item><title>cut off"


def write(path: Path, content: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode(encoding))
    return path


def write_blog(root: Path) -> Path:
    write(root / "posts" / "2023-05-01-first.md", ZH_POST)
    write(root / "posts" / "plainly.md", EN_TOML_POST)
    write(root / "posts" / "kyoto.markdown", PELICAN_POST)
    write(root / "posts" / "draft.md", DRAFT_POST)
    write(root / "posts" / "bundle" / "index.md", BUNDLE_POST)
    write(root / "posts" / "bundle" / "cover.jpg", JPEG)
    write(root / "pages" / "about.html", ABOUT_HTML)
    write(root / "notes" / "journal.txt", JOURNAL_TXT)
    write(root / "legacy" / "gbk.txt", GB18030_TXT, "gb18030")
    write(root / "legacy" / "big5.md", BIG5_MD, "big5")
    write(root / "legacy" / "latin1.txt", LATIN1_TXT, "latin-1")
    write(root / "broken" / "fake.md", PNG)
    write(root / "broken" / "empty.md", "")
    write(root / "broken" / "cut.xml", BROKEN_WXR)
    write(root / "export" / "wordpress.xml", WXR)
    write(root / "export" / "sitemap.xml",
          '<?xml version="1.0"?><urlset><url><loc>https://x</loc></url></urlset>')
    for i in range(3):
        write(root / "images" / f"photo{i}.png", PNG)
    write(root / "files" / "paper.pdf", PDF)
    write(root / ".git" / "config", "[core]\n")  # hidden folders are never walked
    return root


# What the importer must make of the blog above.
EXPECTED_DOCUMENTS = 12  # 9 files + 3 WordPress items (2 posts, 1 page)
# the draft, the PNG named .md, the empty file, the cut-off export, and the WordPress export's
# draft and private post (named one by one)
EXPECTED_SKIPPED = 6
EXPECTED_PASSED_OVER = 6  # cover.jpg, 3 PNGs, a PDF, sitemap.xml


# --- a bilingual blog: Chinese originals, English translations ----------------------------

def _zh_paragraphs(i: int) -> list[str]:
    return [f"第{i}篇文章的开头：我们在城市里走了很久，火车站离我家很近，走路十分钟就到。"
            f"那天早上下着小雨，咖啡馆里坐满了人，大家都在安静地读书。",
            f"第{i}篇文章的结尾：写作是为了整理思路，很多想法写下来之后才发现哪里不通。"]


def _en_paragraphs(i: int) -> list[str]:
    return [f"The beginning of post number {i}: we walked around the city for a long time; the "
            f"railway station is close to my home, a ten-minute walk. That morning it drizzled "
            f"and the cafe was full of people, all of them reading quietly.",
            f"The end of post number {i}: I write to sort out my thoughts, and many ideas only "
            f"show where they do not hold once they are written down."]


def write_bilingual_pelican(root: Path, *, posts: int = 9, translated: int = 6) -> Path:
    """A Pelican blog by a Chinese writer: `posts` Chinese posts, the first `translated` of them
    also published in English in Pelican's three ways: `NAME-en.md` with `Translation: true`,
    `NAME.en.md` with `Lang: en`, or another file name sharing only the `Slug`. Headers have
    Pelican's quirks: no closing `---`, colons inside values."""
    for i in range(posts):
        name, slug = f"2023-{i % 12 + 1:02d}-walk-{i}", f"walk-{i}"
        header = (["---", f"Title: 散步 {i}: 城市", "Date: 2023-01-01 10:00", f"Slug: {slug}",
                   "Lang: zh"] if i % 2 == 0  # an unterminated fence, a colon in the title
                  else [f"Title: 散步 {i}", "Date: 2023-01-01 10:00", f"Slug: {slug}"])
        write(root / "content" / f"{name}.md",
              "\n".join(header) + "\n\n" + "\n\n".join(_zh_paragraphs(i)) + "\n")
        if i >= translated:
            continue
        way = i % 3
        file = (f"{name}-en.md", f"{name}.en.md", f"english-{i}.md")[way]
        en_header = [f"Title: A walk {i}: the city", f"Date: 2023-0{1 + way}-02 10:00",
                     f"Slug: {slug}", "Lang: en"] + (["Translation: true"] if way != 1 else [])
        write(root / "content" / file,
              "\n".join(en_header) + "\n\n" + "\n\n".join(_en_paragraphs(i)) + "\n")
    return root


def write_bilingual_hugo(root: Path) -> Path:
    """Hugo: a page bundle with `index.md` and `index.en.md`; posts in `content/LANG/` trees,
    one pair linked by `translationKey` (different file names), one by its path alone."""
    write(root / "content" / "posts" / "trip" / "index.md",
          "---\ntitle: 旅行\ndate: 2022-03-01\n---\n\n" + _zh_paragraphs(1)[0] + "\n")
    write(root / "content" / "posts" / "trip" / "index.en.md",
          "---\ntitle: Trip\ndate: 2022-03-01\n---\n\n" + _en_paragraphs(1)[0] + "\n")
    write(root / "content" / "zh" / "posts" / "cafe.md",
          "+++\ntitle = \"咖啡\"\ndate = 2022-04-01\ntranslationKey = \"cafe\"\n+++\n\n"
          + _zh_paragraphs(2)[0] + "\n")
    write(root / "content" / "en" / "posts" / "coffee.md",
          "+++\ntitle = \"Coffee\"\ndate = 2022-04-01\ntranslationKey = \"cafe\"\n+++\n\n"
          + _en_paragraphs(2)[0] + "\n")
    write(root / "content" / "zh" / "posts" / "tea.md",
          "---\ntitle: 茶\ndate: 2022-05-01\n---\n\n" + _zh_paragraphs(3)[0] + "\n")
    write(root / "content" / "en" / "posts" / "tea.md",
          "---\ntitle: Tea\ndate: 2022-05-01\n---\n\n" + _en_paragraphs(3)[0] + "\n")
    write(root / "content" / "zh" / "posts" / "alone.md",
          "---\ntitle: 独自\ndate: 2022-06-01\n---\n\n" + _zh_paragraphs(4)[0] + "\n")
    return root


def write_bilingual_jekyll(root: Path) -> Path:
    """Jekyll: `lang` with a shared `ref` (the English version written two days later), and
    `lang` with a shared `permalink` (both the same day); one Chinese post alone."""
    def post(name: str, lang: str, key: str, date: str, text: str) -> None:
        write(root / "_posts" / name,
              f"---\nlayout: post\ntitle: {name}\nlang: {lang}\n{key}\ndate: {date}\n---\n\n"
              f"{text}\n")

    post("2021-01-01-ni-hao.md", "zh", "ref: greeting", "2021-01-01", _zh_paragraphs(5)[0])
    post("2021-01-03-hello.md", "en", "ref: greeting", "2021-01-03", _en_paragraphs(5)[0])
    post("2021-02-01-about.md", "en", "permalink: /about/", "2021-02-01",
         _en_paragraphs(6)[0])
    post("2021-02-01-guanyu.md", "zh", "permalink: /about/", "2021-02-01",
         _zh_paragraphs(6)[0])
    post("2021-03-01-alone.md", "zh", "ref: alone", "2021-03-01", _zh_paragraphs(7)[0])
    return root


def bilingual_wxr() -> str:
    """A WordPress export of a bilingual site: a Polylang pair (language and
    post_translations categories) and a WPML pair (WPML Export and Import's post meta)."""
    def item(post_id: int, lang: str, text: str, extra: str) -> str:
        return (f"<item><title>Post {post_id}</title><guid isPermaLink=\"false\">"
                f"https://wp.example.com/?p={post_id}</guid>"
                f"<content:encoded><![CDATA[<p>{text}</p>]]></content:encoded>"
                f"<wp:post_id>{post_id}</wp:post_id><wp:post_date>2020-01-0{post_id % 9 + 1}"
                f" 10:00:00</wp:post_date><wp:post_name>post-{post_id}</wp:post_name>"
                f"<wp:status>publish</wp:status><wp:post_type>post</wp:post_type>{extra}</item>")

    def polylang(lang: str, group: str) -> str:
        return (f'<category domain="language" nicename="{lang}"><![CDATA[{lang}]]></category>'
                f'<category domain="post_translations" nicename="{group}">'
                f'<![CDATA[{group}]]></category>')

    def wpml(lang: str, group: str, source: str | None) -> str:
        meta = [("_wpml_import_language_code", lang), ("_wpml_import_translation_group", group)]
        meta += [("_wpml_import_source_language_code", source)] if source else []
        return "".join(f"<wp:postmeta><wp:meta_key>{k}</wp:meta_key><wp:meta_value>{v}"
                       f"</wp:meta_value></wp:postmeta>" for k, v in meta)

    items = [item(21, "zh", _zh_paragraphs(8)[0], polylang("zh", "pll_5f1a")),
             item(22, "en", _en_paragraphs(8)[0], polylang("en", "pll_5f1a")),
             item(31, "zh", _zh_paragraphs(9)[0], wpml("zh", "wpml_7", None)),
             item(30, "en", _en_paragraphs(9)[0], wpml("en", "wpml_7", "zh")),
             item(41, "zh", _zh_paragraphs(10)[0], polylang("zh", "pll_alone"))]
    return ('<?xml version="1.0" encoding="UTF-8" ?>\n<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:wp="http://wordpress.org/export/1.2/"><channel><title>Bilingual</title>'
            '<link>https://wp.example.com</link><wp:wxr_version>1.2</wp:wxr_version>'
            + "".join(items) + "</channel></rss>")
