"""Ghost exports (Settings → Migration → Export content): one JSON file, every post.

The file is `{"db": [{"meta": …, "data": {"posts": […], "settings": […]}}]}` (or the
inner `{"meta", "data"}` alone). We keep posts and pages whose status is `published` (or
`sent`: an email-only newsletter went out to readers); drafts and scheduled posts are left
out and named. A post's body is its rendered `html`; a post without one is rebuilt from
its `lexical` (Ghost 5) or `mobiledoc` (Ghost 1–4) source: paragraphs, headings, lists,
quotes, code, and the text of Markdown and HTML cards; other cards (images, galleries,
embeds, bookmarks, buttons, sign-up forms, callouts, toggles…) are left out.
"""

from __future__ import annotations

import html as htmllib
import json
import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from markdown_it import MarkdownIt

from engine.corpus import parsed

_KEEP_STATUSES = {"published", "sent"}
# Ghost's cards that are not the writer's prose: forms, buttons, other sites' previews, media.
CHROME = re.compile(
    r"(^|\s)kg-(signup|button|cta|product|bookmark|file|audio|video|embed|nft|email-cta)-card"
    r"(\s|$)")


class NotGhost(Exception):
    """A JSON file that is not a Ghost export."""


class MalformedJson(Exception):
    """The JSON cannot be parsed; the message says where."""


def looks_like_ghost(text: str) -> bool:
    """Ghost's export starts with its meta (`exported_on`); a truncated one still does."""
    head = text[:20000]
    return '"exported_on"' in head or ('"db"' in head and '"posts"' in text)


def parse(text: str, file: Path) -> parsed.Export:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"malformed JSON ({exc.msg} at line {exc.lineno}, column "
                            f"{exc.colno})") from exc
    dbs = data.get("db") if isinstance(data, dict) else None
    dbs = dbs if isinstance(dbs, list) else [data]
    tables = [db["data"] for db in dbs if isinstance(db, dict) and isinstance(db.get("data"), dict)
              and isinstance(db["data"].get("posts"), list)]
    if not tables:
        raise NotGhost("JSON, but not a Ghost export (no db[].data.posts)")
    export = parsed.Export()
    for table in tables:
        export.lang = export.lang or _site_lang(table.get("settings"))
        for post in table["posts"]:
            if isinstance(post, dict):
                _add(export, post, file)
    return export


def _add(export: parsed.Export, post: dict, file: Path) -> None:
    slug = str(post.get("slug") or post.get("id") or "")
    where = f"{file}#{slug}"
    status = str(post.get("status") or "draft").lower()
    if status not in _KEEP_STATUSES:
        what = "draft" if status == "draft" else f"not published ({status})"
        export.left_out.append((where, f"{what} (Ghost status: {status})"))
        return
    ident = str(post.get("uuid") or post.get("id") or slug)
    title = str(post.get("title") or "").strip()
    date = _date(post.get("published_at"))
    body = body_html(post)
    page = post.get("type") == "page" or post.get("page") in (True, 1, "1")
    doc = parsed.ParsedDocument(
        key=f"ghost:{ident}", path=where, format="ghost",
        content_hash=parsed.content_hash("\0".join((title, date or "", body))),
        split_key=f"ghost:{ident}", title=title or None, date=date,
        url=post.get("canonical_url") or None,
        meta={"id": post.get("id"), "slug": slug, "post_type": "page" if page else "post",
              "status": status, "visibility": post.get("visibility")})
    lang = post.get("locale") or post.get("language")  # old exports had a post language
    if lang:
        doc.meta["lang"] = str(lang).lower().replace("_", "-")
    export.posts.append(parsed.ExportedPost(doc, body))


def _site_lang(settings) -> str | None:
    for row in settings if isinstance(settings, list) else []:
        if isinstance(row, dict) and row.get("key") in ("locale", "lang") and row.get("value"):
            return str(row["value"]).lower().replace("_", "-")
    return None


def _date(value) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # milliseconds
        return datetime.fromtimestamp(value / 1000, UTC).isoformat()
    return str(value) if value else None


def body_html(post: dict) -> str:
    """The post's HTML: as Ghost rendered it, else rebuilt from its editor source."""
    if isinstance(post.get("html"), str) and post["html"].strip():
        return post["html"]
    for field, render in (("lexical", _lexical_html), ("mobiledoc", _mobiledoc_html)):
        source = post.get(field)
        try:
            tree = json.loads(source) if isinstance(source, str) else source
            rebuilt = render(tree) if isinstance(tree, dict) else ""
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
            rebuilt = ""  # a damaged editor source: try the next one
        if rebuilt.strip():
            return rebuilt
    plain = post.get("plaintext")
    if isinstance(plain, str):
        return "".join(f"<p>{htmllib.escape(p)}</p>" for p in re.split(r"\n\s*\n", plain))
    return ""


# --- Lexical (Ghost 5's editor): a tree of nodes ------------------------------------------

def _lexical_html(tree: dict) -> str:
    return _lexical_node(tree.get("root", tree))


def _lexical_node(node) -> str:
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind in ("text", "extended-text"):
        return htmllib.escape(str(node.get("text", "")))
    if kind == "linebreak":
        return "<br>"
    if kind == "tab":
        return " "
    if kind == "codeblock":
        return f"<pre>{htmllib.escape(str(node.get('code', '')))}</pre>"
    if kind in ("markdown", "html"):
        return _card(kind, node)
    inner = "".join(_lexical_node(child) for child in node.get("children") or [])
    if kind in ("heading", "extended-heading"):
        tag = node.get("tag") if re.fullmatch(r"h[1-6]", str(node.get("tag"))) else "h2"
        return f"<{tag}>{inner}</{tag}>"
    if kind == "list":
        tag = "ol" if node.get("listType") == "number" or node.get("tag") == "ol" else "ul"
        return f"<{tag}>{inner}</{tag}>"
    if kind in ("link", "autolink"):
        return f'<a href="{htmllib.escape(str(node.get("url", "")))}">{inner}</a>'
    if kind in ("quote", "extended-quote", "aside"):
        return f"<blockquote><p>{inner}</p></blockquote>"
    if kind in ("paragraph", "listitem"):
        tag = "p" if kind == "paragraph" else "li"
        return f"<{tag}>{inner}</{tag}>"
    if kind == "root":
        return inner
    return ""  # other cards: images, embeds, buttons, forms…


def _card(name: str, payload: dict) -> str:
    if name in ("markdown", "card-markdown"):
        return _markdown().render(str(payload.get("markdown", "")))
    if name == "html":
        return str(payload.get("html", ""))
    return ""


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


# --- Mobiledoc (Ghost 1–4): sections of markers, and cards -----------------------------------

def _mobiledoc_html(doc: dict) -> str:
    atoms, cards = doc.get("atoms") or [], doc.get("cards") or []
    out = []
    for section in doc.get("sections") or []:
        kind = section[0]
        if kind == 1:  # a markup section: [1, tag, markers]
            tag = str(section[1]).lower()
            tag = tag if re.fullmatch(r"p|h[1-6]|blockquote|aside|pull-quote", tag) else "p"
            tag = "blockquote" if tag in ("aside", "pull-quote") else tag
            out.append(f"<{tag}>{_markers(section[2], atoms)}</{tag}>")
        elif kind == 3:  # a list section: [3, tag, [markers per item]]
            tag = "ol" if str(section[1]).lower() == "ol" else "ul"
            items = "".join(f"<li>{_markers(item, atoms)}</li>" for item in section[2])
            out.append(f"<{tag}>{items}</{tag}>")
        elif kind == 10:  # a card: [10, index into cards]
            name, payload = cards[section[1]][:2]
            out.append(_card(name, payload or {}))
    return "\n".join(out)


def _markers(markers: list, atoms: list) -> str:
    text = []
    for marker in markers:
        if marker[0] == 0:  # text: [0, opened markups, closed count, text]
            text.append(htmllib.escape(str(marker[3])))
        elif marker[0] == 1:  # an atom: [1, …, index]; its second field is its text
            atom = atoms[marker[3]]
            text.append("<br>" if atom[0] == "soft-return" else htmllib.escape(str(atom[1])))
    return "".join(text)
