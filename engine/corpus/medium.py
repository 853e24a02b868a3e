"""Medium exports (Settings → Download your information): medium-export/posts/*.html.

Each post is an HTML file with Medium's markup: `<article class="h-entry">`, the title in
`<h1 class="p-name">`, a subtitle section, the body in `<section data-field="body">` and a
footer with the date, the canonical link and "Exported from Medium". Unpublished posts are
the files named `draft_…`. The rest of the export (claps, bookmarks, highlights, lists,
profile, sessions…) is the account's data, not writing: only posts/ is read.

posts/ also holds the writer's *responses* (replies under other people's stories), each an
HTML file shaped like a post, and the export does not say which is which. What tells them
apart: a story's body opens with its title as a heading (`graf--title`) and often a
subtitle; a response has neither, and its title is only the opening of its text (Medium
makes one from the first words). A file marked as a reply (`u-in-reply-to`, the
microformats way, or "In response to" in its header) is a response too. Responses are left
out, named in the report: conversation under someone else's story, not the writer's posts.

The HTML reader already takes the title from the `<h1>`, the date from `<time>` and drops
the footer; here we leave out drafts, turn the subtitle into a heading (the writer's words,
but not running prose), drop the body's repeat of the title and subtitle and the preview
description, and keep the canonical link.
"""

from __future__ import annotations

import os
import re
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


def left_out_reason(file: Path, data: bytes) -> str | None:
    """Why a file of a Medium export is not imported (a draft, a response), or None."""
    return draft_reason(file, data) or response_reason(data)


_REPLY_MARK = re.compile(r"(^|\s)[pu]-in-reply-to(\s|$)")
_IN_RESPONSE = re.compile(r"^\s*in response to\b", re.I)


def response_reason(data: bytes | str) -> str | None:
    """"a response, not a post" for a Medium response (see the module's docstring)."""
    if not is_post(data):
        return None
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    soup = BeautifulSoup(text, "lxml")
    reason = ("a response, not a post (Medium keeps your replies to other stories in posts/ "
              "too)")
    body = soup.find("section", attrs={"data-field": "body"})
    if soup.find(class_=_REPLY_MARK) is not None or any(
            _links_to_the_story(line, body) for line in soup.find_all(string=_IN_RESPONSE)):
        return reason
    if body is None or body.find(class_="graf--title") is not None \
            or soup.find("section", attrs={"data-field": "subtitle"}) is not None:
        return None
    name = soup.find(class_="p-name")
    title = _letters(name.get_text(" ") if name is not None else "")  # "Great poi…" too
    return reason if _letters(body.get_text(" ")).startswith(title) else None


def _links_to_the_story(line, body) -> bool:
    """Whether the text `line` ("In response to …") is a note outside the body and the
    title that links to the story it answers (not a title that starts so)."""
    holder = line.parent
    if holder is None or "p-name" in (holder.get("class") or []) or holder.name == "title" \
            or body is not None and body in holder.parents:
        return False
    return holder.find("a") is not None or (holder.parent is not None
                                             and holder.parent.find("a") is not None)


def _letters(text: str) -> str:
    """Only the word characters, case folded: a title and the text it came from compare
    equal however Medium spaced or punctuated either."""
    return "".join(re.findall(r"\w", text.casefold()))


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
