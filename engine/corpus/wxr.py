"""WordPress export files (WXR): published posts and pages, as HTML bodies.

A WXR file is RSS with WordPress' own namespace. We keep items whose post type is
`post` or `page` and whose status is `publish` (without a password). Drafts, private,
pending, scheduled, trashed and password-protected posts and pages are left out and named
in the report, one by one with their titles. Of the items of other types, the site's
furniture (attachments, menus, revisions, templates, styles) is passed over in silence, and
anything else (a theme's portfolio, a shop's products, reusable blocks) is left out with one
line per type.

Post bodies carry Gutenberg block comments and shortcodes, and classic-editor posts have no
<p> tags at all (WordPress adds them when it renders): we undo all three before the HTML
reader sees them, and turn WordPress's own markup into what it means, so that no words are
lost and none is taken for prose that is not:

- `[caption]<img> words[/caption]` (the classic editor's captioned image) is an image and
  its caption; a block image's, embed's, video's or gallery's `<figcaption>` is a caption.
- A pull quote (`wp:pullquote`) is a quote, its `<cite>` left out like a quote's.
- An embed (`wp:embed`, `[embed]url[/embed]`) is its URL, a link; `[gallery]`, `[audio]`,
  `[video]`, `[playlist]` and other media shortcodes hold no words and are dropped, as are
  lone shortcodes (`[toc]`, `[contact-form-7 id="1"]`) standing in a paragraph of their own.
- A verse block (`wp:verse`, poetry and lyrics) is the writer's lines, read as a poem
  written in Markdown is: one paragraph per stanza, its line breaks kept. Preformatted text
  (`wp:preformatted`, like any `<pre>`) stays code.
- A table block's `<figure>` is its table and its caption.
- Footnotes (`wp:footnotes`, WordPress 6.3+) live in the post's `footnotes` meta, not its
  body: they become the post's footnotes, and the numbered references in the text go.

Multilingual sites: Polylang names a post's language as `<category domain="language"
nicename="en">` and its translations share a `<category domain="post_translations"
nicename="pll_…">`; WPML's export (WPML Export and Import) writes the post meta
`_wpml_import_language_code`, `_wpml_import_translation_group` and, on a translation,
`_wpml_import_source_language_code`. Both become the post's `language`, `translation_group`
and `source_language` (engine/corpus/works.py links the versions of a post).
"""

from __future__ import annotations

import html as htmllib
import json
import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

from bs4 import BeautifulSoup, Tag
from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

_CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
_KEEP_TYPES = {"post", "page"}


class NotWxr(Exception):
    """An XML file that is not a WordPress export."""


class MalformedXml(Exception):
    """The XML cannot be parsed; the message says where."""


@dataclass
class WxrPost:
    post_id: str
    guid: str
    title: str
    link: str | None
    date: str | None
    post_type: str
    body_html: str
    meta: dict = field(default_factory=dict)


@dataclass
class WxrExport:
    site: str | None
    posts: list[WxrPost]
    # (where, why) for every post or page that is not published, and one line per other
    # type of item that might hold writing: for the report
    left_out: list[tuple[str, str]] = field(default_factory=list)


def looks_like_wxr(head: str) -> bool:
    return "wordpress.org/export/" in head


# Item types that are the site's furniture, never writing: passed over in silence.
_FURNITURE = {"attachment", "nav_menu_item", "revision", "custom_css", "customize_changeset",
              "oembed_cache", "user_request", "wp_template", "wp_template_part",
              "wp_global_styles", "wp_navigation", "wp_font_family", "wp_font_face",
              "jp_pay_order", "jp_pay_product", "feedback", "amp_validated_url"}
_NOT_PUBLISHED = {"draft": "draft", "auto-draft": "draft", "pending": "draft awaiting review",
                  "future": "scheduled, not published yet",
                  "private": "private, seen only by the site's editors", "trash": "in the trash"}


def parse(text: str, file: str = "") -> WxrExport:
    """The export's published posts and pages; `file` names it in what is left out."""
    try:
        # From the decoded text: re-encoding would contradict an encoding="…" declaration.
        root = SafeET.fromstring(text)
    except ParseError as exc:  # its message names the line and column
        raise MalformedXml(f"malformed XML ({exc})") from exc
    except DefusedXmlException as exc:
        raise MalformedXml(f"refused XML with entity declarations ({type(exc).__name__})") \
            from exc
    wp = _wp_namespace(root)
    if wp is None:
        raise NotWxr("XML, but not a WordPress export (no wp: namespace)")
    channel = root.find("channel")
    if channel is None:
        raise NotWxr("XML, but not a WordPress export (no <channel>)")
    export = WxrExport(site=_text(channel.find("link")), posts=[])
    other_types: dict[str, int] = {}
    for item in channel.findall("item"):
        post_type = _text(item.find(f"{{{wp}}}post_type")) or "post"
        status = _text(item.find(f"{{{wp}}}status")) or "publish"
        if post_type in _FURNITURE:
            continue
        if post_type not in _KEEP_TYPES:
            other_types[post_type] = other_types.get(post_type, 0) + 1
            continue
        post_id = _text(item.find(f"{{{wp}}}post_id")) or ""
        slug = _text(item.find(f"{{{wp}}}post_name"))
        title = htmllib.unescape(_text(item.find("title")) or "").strip()
        where = f"{file}#{slug or f'p={post_id}'}"
        named = f"“{title}”" if title else f"untitled {post_type} {post_id}".rstrip()
        if status != "publish":
            what = _NOT_PUBLISHED.get(status, "not published")
            export.left_out.append((where, f"{what} (WordPress status: {status}): {named}"))
            continue
        if _text(item.find(f"{{{wp}}}post_password")):  # published for a few, not the public
            export.left_out.append((where, "password-protected (published for the few who "
                                           f"have its password, not the public): {named}"))
            continue
        guid = (_text(item.find("guid")) or _text(item.find("link"))
                or f"{export.site}?p={post_id}")
        export.posts.append(WxrPost(
            post_id=post_id,
            guid=guid,
            title=title,
            link=_text(item.find("link")),
            date=_text(item.find(f"{{{wp}}}post_date")) or _text(item.find("pubDate")),
            post_type=post_type,
            body_html=(_text(item.find(f"{{{_CONTENT_NS}}}encoded")) or "")
            + _footnotes_html(item, wp),
            meta={"post_id": post_id, "post_type": post_type,
                  "slug": slug,
                  "categories": [c.text for c in item.findall("category")
                                 if c.text and c.get("domain") not in _LANGUAGE_DOMAINS],
                  **_languages(item, wp)},
        ))
    for post_type, count in sorted(other_types.items()):
        export.left_out.append((file, f"{count} item(s) of the type ‘{post_type}’: not posts "
                                      "or pages, so not read"))
    return export


def _footnotes_html(item: Element, wp: str) -> str:
    """The block editor's footnotes (the post meta `footnotes`, a JSON list of
    {content, id}) as a footnotes list after the body; "" when there are none."""
    for meta in item.findall(f"{{{wp}}}postmeta"):
        if _text(meta.find(f"{{{wp}}}meta_key")) != "footnotes":
            continue
        try:
            notes = json.loads(_text(meta.find(f"{{{wp}}}meta_value")) or "[]")
        except ValueError:
            return ""
        items = [f"<li>{note['content']}</li>" for note in notes if isinstance(note, dict)
                 and isinstance(note.get("content"), str) and note["content"].strip()]
        return f'\n\n<ol class="footnotes">{"".join(items)}</ol>' if items else ""
    return ""


_LANGUAGE_DOMAINS = ("language", "post_translations")
_WPML = {"_wpml_import_language_code": "language",
         "_wpml_import_translation_group": "translation_group",
         "_wpml_import_source_language_code": "source_language"}


def _languages(item: Element, wp: str) -> dict:
    """A post's language and translation group (Polylang or WPML); {} on a one-language site."""
    found = {}
    for category in item.findall("category"):
        domain, name = category.get("domain"), category.get("nicename")
        if domain == "language" and name:
            found["language"] = name
        elif domain == "post_translations" and name:
            found["translation_group"] = name
    for meta in item.findall(f"{{{wp}}}postmeta"):
        key = _WPML.get(_text(meta.find(f"{{{wp}}}meta_key")) or "")
        value = _text(meta.find(f"{{{wp}}}meta_value"))
        if key and value:
            found[key] = value
    return found


def _wp_namespace(root: Element) -> str | None:
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str) and tag.startswith("{http://wordpress.org/export/"):
            return tag[1:tag.index("}")]
    return None


def _text(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


# --- post bodies --------------------------------------------------------------------------

_BLOCK_COMMENT = re.compile(r"<!--\s*/?wp:.*?-->", re.DOTALL)
_MORE = re.compile(r"<!--\s*(more|nextpage|noteaser)\b.*?-->", re.DOTALL)
# Shortcodes whose whole content is media or a form: dropped with what they wrap.
_DROPPED_SHORTCODES = ("gallery", "video", "audio", "playlist", "youtube", "vimeo", "tweet",
                       "soundcloud", "contact-form", "contact-form-7", "instagram",
                       "googlemaps", "wpvideo", "spotify", "slideshow")
_CODE_SHORTCODES = ("code", "sourcecode", "source")
_QUOTE_SHORTCODES = ("quote", "pullquote", "blockquote")
_CAPTION = re.compile(r"\[(?:wp_)?caption\b([^\]]*)\](.*?)\[/(?:wp_)?caption\]",
                      re.DOTALL | re.I)
_CAPTION_MEDIA = re.compile(r"\s*(<a\b[^>]*>\s*<img\b[^>]*>\s*</a>|<img\b[^>]*>)", re.I)
_EMBED = re.compile(r"\[embed\b[^\]]*\](.*?)\[/embed\]", re.DOTALL | re.I)
# A paragraph or line that is nothing but shortcodes ([toc], [/column], [mc4wp_form id="1"]):
# lower-case names, attributes as `name=value` only, so "[Updated in 2021]" stays words.
_LONE_SHORTCODES = (r"(?:\[/?[a-z][a-z0-9_-]*(?:\s+[\w-]+=(?:\"[^\"\n]*\"|'[^'\n]*'|"
                    r"[^\s\]]*))*\s*/?\][ \t]*)+")
_VERSE = re.compile(r"<pre\b[^>]*\bclass=\"[^\"]*\bwp-block-verse\b[^\"]*\"[^>]*>(.*?)</pre>",
                    re.DOTALL | re.I)
_PRE = re.compile(r"(<pre\b.*?</pre>)", re.DOTALL | re.I)
_BLOCK_TAG = re.compile(
    r"^\s*<(p|div|h[1-6]|ul|ol|dl|li|blockquote|pre|table|figure|hr|section|article|"
    r"address|form|iframe|script|style)\b", re.I)


def clean_body(body: str) -> str:
    """A WordPress post body as plain HTML: blocks, shortcodes and auto-paragraphs resolved."""
    body = _BLOCK_COMMENT.sub("", body)
    body = _MORE.sub("", body)
    body = _VERSE.sub(_verse, body)
    for name in _CODE_SHORTCODES:
        body = re.sub(rf"\[{name}\b[^\]]*\](.*?)\[/{name}\]",
                      lambda m: f"\n\n<pre>{htmllib.escape(m.group(1))}</pre>\n\n", body,
                      flags=re.DOTALL | re.I)
    # Shortcodes outside code blocks: `[gallery]` in a code sample is the sample's.
    body = "".join(part if i % 2 else _shortcodes(part)
                   for i, part in enumerate(_PRE.split(body)))
    return _wordpress_markup(_autop(body))


def _shortcodes(body: str) -> str:
    body = _CAPTION.sub(_caption, body)
    body = _EMBED.sub(lambda m: _link_paragraph(htmllib.unescape(m.group(1)).strip()), body)
    for name in _QUOTE_SHORTCODES:
        body = re.sub(rf"\[{name}\b[^\]]*\](.*?)\[/{name}\]",
                      lambda m: f"\n\n<blockquote>{m.group(1).strip()}</blockquote>\n\n", body,
                      flags=re.DOTALL | re.I)
    for name in _DROPPED_SHORTCODES:
        body = re.sub(rf"\[{name}\b[^\]]*\].*?\[/{name}\]", "", body, flags=re.DOTALL | re.I)
        body = re.sub(rf"\[{name}\b[^\]]*/?\]", "", body, flags=re.I)
    # Lines and paragraphs that hold nothing but shortcodes are markup, never words.
    body = re.sub(rf"(?m)^[ \t]*{_LONE_SHORTCODES}(?:\n|$)", "", body)
    body = re.sub(rf"<p\b[^>]*>\s*{_LONE_SHORTCODES}\s*</p>", "", body)
    # Other shortcodes: keep what a pair wraps ([highlight]text[/highlight]); drop lone tags
    # that carry attributes ([button url="…"]). Plain brackets like [sic] or [1] stay.
    body = re.sub(r"\[([a-z][\w-]*)(?:\s[^\]]*)?\](.*?)\[/\1\]", r"\2", body,
                  flags=re.DOTALL | re.I)
    return re.sub(r"\[[a-z][\w-]*\s+[\w-]+=[^\]]*\]", "", body, flags=re.I)


def _caption(match: re.Match) -> str:
    """The classic editor's `[caption …]<img …> words[/caption]` (or, before WordPress 3.4,
    `[caption caption="words"]<img …>[/caption]`): the image, then its caption."""
    attributes, inner = match.group(1), match.group(2)
    media = _CAPTION_MEDIA.match(inner)
    image = media.group(1) if media else ""
    words = inner[media.end():] if media else inner
    if not words.strip():
        old = re.search(r"\bcaption=([\"'])(.*?)\1", attributes, re.DOTALL)
        words = old.group(2) if old else ""
    caption = f"<figcaption>{words.strip()}</figcaption>" if words.strip() else ""
    return f"\n\n<figure>{image}{caption}</figure>\n\n"


def _link_paragraph(url: str) -> str:
    """An embedded URL: a paragraph of its own (read as a link, like a bare URL on its own
    line, which WordPress embeds too)."""
    if not url:
        return ""
    return f"\n\n<p>{htmllib.escape(url)}</p>\n\n"


def _verse(match: re.Match) -> str:
    """A verse block's lines: one paragraph per stanza, line breaks kept (as a poem written in
    Markdown with hard breaks is read)."""
    stanzas = re.split(r"\n[ \t]*\n", match.group(1).replace("\r\n", "\n").strip("\n"))
    return "\n\n" + "\n".join("<p>" + "<br>".join(s.split("\n")) + "</p>" for s in stanzas
                              if s.strip()) + "\n\n"


# WordPress's own blocks whose class names the HTML reader would take for a site's chrome
# (`pullquote`, `embed`), or whose figure it would take for one image.
_MARKUP_HINT = re.compile(r"wp-block-(pullquote|embed|table|gallery)|\bdata-fn=|"
                          r'class="fn"', re.I)


def _wordpress_markup(html: str) -> str:
    """Pull quotes, embeds, tables and galleries in plain HTML the reader reads right."""
    if not _MARKUP_HINT.search(html):
        return html
    soup = BeautifulSoup(html, "lxml")
    for sup in soup.find_all("sup", attrs={"data-fn": True}) + soup.find_all("sup", class_="fn"):
        if not sup.decomposed:
            sup.decompose()  # a footnote's number in the text (the notes follow the body)
    for quote in soup.find_all(["figure", "blockquote"], class_="wp-block-pullquote"):
        if not quote.decomposed:
            _unlabel(quote)
    for figure in soup.find_all("figure", class_=["wp-block-embed", "wp-block-table",
                                                  "wp-block-gallery"]):
        if figure.decomposed or figure.parent is None:
            continue
        caption = figure.find("figcaption", recursive=False)
        if "wp-block-embed" in figure["class"]:
            wrapper = figure.find(class_="wp-block-embed__wrapper")
            url = wrapper.get_text(" ", strip=True) if wrapper is not None else ""
            parts = [BeautifulSoup(_link_paragraph(url), "lxml").p] if url else []
        elif "wp-block-table" in figure["class"]:
            parts = [figure.find("table")]
        else:  # a gallery: each image with its own caption
            parts = [f for f in figure.find_all("figure") if f is not figure]
        for part in [*parts, caption]:
            if part is not None:
                _unlabel(part)
                figure.insert_before(part.extract())
        figure.decompose()
    root = soup.body or soup
    return root.decode_contents()


def _unlabel(tag: Tag) -> None:
    """Drop the class names of `tag` and what it holds (WordPress's, not the site's)."""
    for element in [tag, *tag.find_all(True)]:
        del element["class"]


def _autop(body: str) -> str:
    """What WordPress' wpautop does when it renders: blank lines separate paragraphs."""
    # <pre> blocks keep their blank lines: set them aside first.
    kept: list[str] = []

    def keep(match: re.Match) -> str:
        kept.append(match.group(0))
        return f"\n\n<pre data-kept=\"{len(kept) - 1}\"></pre>\n\n"

    body = re.sub(r"<pre\b.*?</pre>", keep, body.replace("\r\n", "\n"), flags=re.DOTALL | re.I)
    out = []
    for chunk in re.split(r"\n\s*\n", body):
        chunk = chunk.strip()
        if not chunk:
            continue
        if _BLOCK_TAG.match(chunk):
            out.append(chunk)
        else:
            out.append("<p>" + chunk.replace("\n", "<br>\n") + "</p>")
    html = "\n".join(out)
    return re.sub(r'<pre data-kept="(\d+)"></pre>', lambda m: kept[int(m.group(1))], html)
