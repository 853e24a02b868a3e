"""WordPress export files (WXR): published posts and pages, as HTML bodies.

A WXR file is RSS with WordPress' own namespace. We keep items whose post type is
`post` or `page` and whose status is `publish` (without a password); drafts, private and
password-protected posts, revisions,
attachments and menu items are left out. Post bodies carry Gutenberg block comments
and shortcodes, and classic-editor posts have no <p> tags at all (WordPress adds
them when it renders): we undo all three before the HTML reader sees them.

Multilingual sites: Polylang names a post's language as `<category domain="language"
nicename="en">` and its translations share a `<category domain="post_translations"
nicename="pll_…">`; WPML's export (WPML Export and Import) writes the post meta
`_wpml_import_language_code`, `_wpml_import_translation_group` and, on a translation,
`_wpml_import_source_language_code`. Both become the post's `language`, `translation_group`
and `source_language` (engine/corpus/works.py links the versions of a post).
"""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

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
    left_out: dict  # status or type → count, for the report


def looks_like_wxr(head: str) -> bool:
    return "wordpress.org/export/" in head


def parse(text: str) -> WxrExport:
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
    site = _text(channel.find("link"))
    posts: list[WxrPost] = []
    left_out: dict[str, int] = {}
    for item in channel.findall("item"):
        post_type = _text(item.find(f"{{{wp}}}post_type")) or "post"
        status = _text(item.find(f"{{{wp}}}status")) or "publish"
        if post_type not in _KEEP_TYPES:
            left_out[post_type] = left_out.get(post_type, 0) + 1
            continue
        if status != "publish":
            left_out[status] = left_out.get(status, 0) + 1
            continue
        if _text(item.find(f"{{{wp}}}post_password")):  # published for a few, not the public
            left_out["password-protected"] = left_out.get("password-protected", 0) + 1
            continue
        post_id = _text(item.find(f"{{{wp}}}post_id")) or ""
        guid = _text(item.find("guid")) or _text(item.find("link")) or f"{site}?p={post_id}"
        posts.append(WxrPost(
            post_id=post_id,
            guid=guid,
            title=htmllib.unescape(_text(item.find("title")) or "").strip(),
            link=_text(item.find("link")),
            date=_text(item.find(f"{{{wp}}}post_date")) or _text(item.find("pubDate")),
            post_type=post_type,
            body_html=_text(item.find(f"{{{_CONTENT_NS}}}encoded")) or "",
            meta={"post_id": post_id, "post_type": post_type,
                  "slug": _text(item.find(f"{{{wp}}}post_name")),
                  "categories": [c.text for c in item.findall("category")
                                 if c.text and c.get("domain") not in _LANGUAGE_DOMAINS],
                  **_languages(item, wp)},
        ))
    return WxrExport(site=site, posts=posts, left_out=left_out)


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
# Shortcodes whose whole content is media or an embed: dropped with what they wrap.
_DROPPED_SHORTCODES = ("caption", "wp_caption", "gallery", "embed", "video", "audio",
                       "playlist", "youtube", "vimeo", "tweet", "soundcloud", "contact-form",
                       "contact-form-7", "instagram", "googlemaps")
_CODE_SHORTCODES = ("code", "sourcecode", "source")
_BLOCK_TAG = re.compile(
    r"^\s*<(p|div|h[1-6]|ul|ol|dl|li|blockquote|pre|table|figure|hr|section|article|"
    r"address|form|iframe|script|style)\b", re.I)


def clean_body(body: str) -> str:
    """A WordPress post body as plain HTML: blocks, shortcodes and auto-paragraphs resolved."""
    body = _BLOCK_COMMENT.sub("", body)
    body = _MORE.sub("", body)
    for name in _CODE_SHORTCODES:
        body = re.sub(rf"\[{name}\b[^\]]*\](.*?)\[/{name}\]",
                      lambda m: f"\n\n<pre>{htmllib.escape(m.group(1))}</pre>\n\n", body,
                      flags=re.DOTALL | re.I)
    for name in _DROPPED_SHORTCODES:
        body = re.sub(rf"\[{name}\b[^\]]*\].*?\[/{name}\]", "", body, flags=re.DOTALL | re.I)
        body = re.sub(rf"\[{name}\b[^\]]*/?\]", "", body, flags=re.I)
    # Other shortcodes: keep what a pair wraps ([highlight]text[/highlight]); drop lone tags
    # that carry attributes ([button url="…"]). Plain brackets like [sic] or [1] stay.
    body = re.sub(r"\[([a-z][\w-]*)(?:\s[^\]]*)?\](.*?)\[/\1\]", r"\2", body,
                  flags=re.DOTALL | re.I)
    body = re.sub(r"\[[a-z][\w-]*\s+[\w-]+=[^\]]*\]", "", body, flags=re.I)
    return _autop(body)


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
