"""Substack exports (Settings → Export your data): a folder with posts.csv and posts/.

posts.csv has one row per post (`post_id`, `post_date`, `is_published`, `title`,
`subtitle`, `type`, `audience`…); each post's body is `posts/<post_id>.html`, where a
post id is `<number>.<slug>`. Rows with `is_published=false` are drafts and left out;
so is a row whose HTML file is missing, and an HTML file no row names (whether it was
published is unknown). Substack's widgets in the bodies (subscribe and share buttons,
embedded posts, polls, video and audio players) are not the writer's prose.
"""

from __future__ import annotations

import csv
import html as htmllib
import io
import re
from pathlib import Path

from engine.corpus import parsed
from engine.corpus.reading import SkipFile, decode_bytes

CHROME = re.compile(
    r"(^|\s)(subscription-widget\S*|subscribe-widget|captioned-button-wrap|button-wrapper|"
    r"embedded-post\S*|embedded-publication\S*|digest-post-embed|youtube-wrap|tweet|"
    r"instagram|spotify-wrap|apple-podcast\S*|poll-embed|image-gallery-embed|"
    r"install-substack-app\S*|community-chat\S*|native-video-embed|native-audio-embed|"
    r"vimeo-wrap|soundcloud-wrap|bandcamp-wrap|paywall\S*)(\s|$)")


class MalformedCsv(Exception):
    """posts.csv cannot be read as Substack's; the message says why."""


def is_export(folder: Path) -> bool:
    return (folder / "posts.csv").is_file() and (folder / "posts").is_dir()


_POST_FILE = re.compile(r"\d+\.[\w-]+\.html")


def orphan_reason(file: Path) -> str | None:
    """Why an HTML file that is a Substack export's post is not imported on its own: only
    posts.csv says whether it was published (drafts are in the same folder), and what its
    title and date are. None for any other file."""
    if not (_POST_FILE.fullmatch(file.name) and file.parent.name == "posts"):
        return None
    if is_export(file.parent.parent):
        return ("a post of a Substack export: it is read through the export's posts.csv "
                f"(import {file.parent.parent} itself)")
    return ("looks like a post of a Substack export, but posts.csv is not beside its posts "
            "folder: only posts.csv says whether it was published; import the whole export "
            "folder (posts.csv and posts/)")


def read(folder: Path) -> parsed.Export:
    """Every published post of the export in `folder`."""
    text, _ = decode_bytes((folder / "posts.csv").read_bytes())
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as exc:
        raise MalformedCsv(f"posts.csv is not readable CSV ({exc})") from exc
    if not rows or "post_id" not in rows[0] or "is_published" not in rows[0]:
        raise MalformedCsv("posts.csv has no post_id and is_published columns: not a "
                           "Substack export's")
    export = parsed.Export()
    files = {f.name: f for f in sorted((folder / "posts").iterdir()) if f.is_file()}
    named: set[str] = set()
    for row in rows:
        post_id = (row.get("post_id") or "").strip()
        if not post_id:
            export.left_out.append((str(folder / "posts.csv"), "a row without a post_id"))
            continue
        file = folder / "posts" / f"{post_id}.html"
        named.add(file.name)
        if (row.get("is_published") or "").strip().lower() != "true":
            export.left_out.append((str(file), "draft (posts.csv says is_published=false)"))
        elif file.name not in files:
            export.left_out.append((str(file), (
                f"posts.csv lists the published post {post_id}, but its HTML file is "
                "missing from posts/; export again from Substack to import it")))
        else:
            _add(export, row, post_id, file)
    for name, file in files.items():
        if name in named:
            continue
        if name.lower().endswith(".html"):
            export.left_out.append((str(file), (
                "not listed in posts.csv, so whether it was published is unknown; left out")))
        else:
            export.passed_over += 1  # email statistics (<post_id>.opens.csv…), images
    return export


def _add(export: parsed.Export, row: dict, post_id: str, file: Path) -> None:
    try:
        body, _ = decode_bytes(file.read_bytes())
    except SkipFile as exc:
        export.left_out.append((str(file), str(exc)))
        return
    except OSError as exc:
        export.left_out.append((str(file), f"cannot read: {exc.strerror or exc}"))
        return
    title = (row.get("title") or "").strip()
    subtitle = (row.get("subtitle") or "").strip()
    if subtitle:  # shown under the title: a heading, not running prose
        body = f"<h2>{htmllib.escape(subtitle)}</h2>\n{body}"
    date = (row.get("post_date") or "").strip() or None
    number = post_id.split(".", 1)[0]
    doc = parsed.ParsedDocument(
        key=f"substack:{number}", path=str(file), format="substack",
        content_hash=parsed.content_hash("\0".join((title, date or "", body))),
        split_key=f"substack:{number}", title=title or post_id, date=date,
        meta={"post_id": post_id, "type": row.get("type"), "audience": row.get("audience"),
              "subtitle": subtitle or None})
    export.posts.append(parsed.ExportedPost(doc, body))
