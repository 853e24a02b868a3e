"""Medium exports (Settings → Download your information): medium-export/posts/*.html.

Each post is an HTML file with Medium's markup: `<article class="h-entry">`, the title in
`<h1 class="p-name">`, a subtitle section, the body in `<section data-field="body">` and a
footer with the date, the canonical link and "Exported from Medium". Unpublished posts are
the files named `draft_…`. The rest of the export (claps, bookmarks, highlights, lists,
profile, sessions…) is the account's data, not writing: only posts/ is read.

The HTML reader already takes the title from the `<h1>`, the date from `<time>` and drops
the footer; here we leave out drafts, turn the subtitle into a heading (the writer's words,
but not running prose), drop the body's repeat of the title and subtitle and the preview
description, and keep the canonical link.
"""

from __future__ import annotations

import os
from pathlib import Path

from bs4 import BeautifulSoup

# Folders of a Medium export beside posts/: the account's data, never the writer's posts.
_ACCOUNT_FOLDERS = {"blocks", "bookmarks", "claps", "highlights", "interests", "ips", "lists",
                    "profile", "pubs-following", "sessions", "topics-following",
                    "users-following", "partner-program", "twitter", "referrals"}


def is_post(data: bytes | str) -> bool:
    head = data[:20000] if isinstance(data, str) else data[:20000].decode("utf-8", "replace")
    return 'class="h-entry"' in head and 'data-field="body"' in head


def draft_reason(file: Path, data: bytes) -> str | None:
    if file.name.startswith("draft_") and is_post(data):
        return "draft (Medium names unpublished posts draft_…)"
    return None


def skip_account_data(folder: str, dirs: list[str], files: list[str]) -> int:
    """In a Medium export's top folder, walk only posts/: prunes `dirs` and `files` (as
    os.walk gives them) and returns how many files were left out."""
    named = os.path.basename(os.path.normpath(folder)).startswith("medium-export")
    if "posts" not in dirs or not (named or len(_ACCOUNT_FOLDERS & set(dirs)) >= 2):
        return 0
    left_out = len(files)
    for name in dirs:
        if name != "posts":
            left_out += sum(len(f) for _, _, f in os.walk(os.path.join(folder, name)))
    dirs[:] = ["posts"]
    files[:] = []
    return left_out


def clean(text: str) -> str:
    """A Medium post's HTML ready for the HTML reader; other HTML is returned unchanged."""
    if not is_post(text):
        return text
    soup = BeautifulSoup(text, "lxml")
    for section in soup.find_all("section", attrs={"data-field": "description"}):
        section.decompose()  # the preview text: a repeat of the post's opening
    subtitles = soup.find_all("section", attrs={"data-field": "subtitle"})
    for section in subtitles:
        section.name = "h2"
        del section["data-field"]
    # The body repeats the title (and the subtitle) as its first lines.
    for repeat in soup.find_all(class_=["graf--title", "graf--subtitle"] if subtitles
                                else "graf--title"):
        repeat.decompose()
    canonical = soup.find("a", class_="p-canonical")
    if canonical is not None and canonical.get("href") and soup.head is not None:
        soup.head.append(soup.new_tag("link", rel="canonical", href=canonical["href"]))
    return str(soup)
