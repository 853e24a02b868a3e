"""Links to the writer's own posts pointed at their translations, where those exist (see
engine.translation.publish)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from markdown_it import MarkdownIt

from engine import languages
from engine.corpus import frontmatter
from engine.errors import OwnVoiceError
from engine.translation.publish.profiles import Profile, _get


@dataclass(frozen=True)
class Post:
    """One of the writer's posts: its file (None for a post of a WordPress, Ghost or
    Substack export), its URL or permalink as its header gives it, its language, its
    header."""
    path: Path | None
    url: str | None
    lang: str | None
    meta: dict = field(default_factory=dict, hash=False, compare=False)


def own_posts(store) -> list[Post]:
    """The writer's imported posts, from the corpus."""
    rows = store.document_addresses()
    posts = []
    for row in rows:
        meta = json.loads(row["meta"] or "{}")
        path = None if row["format"] in ("wxr", "ghost", "substack") else Path(row["key"])
        posts.append(Post(path, row["url"], _declared(meta) or row["lang"], meta))
    return posts


def _declared(meta: dict) -> str | None:
    value = _get(meta, "lang", "language", "locale")
    try:
        return languages.normalise(str(value)) if value else None
    except OwnVoiceError:
        return None


_INLINE_TARGET = re.compile(
    r"\]\([ \t]*(?P<target><[^<>\n]*>|[^\s()<>]*(?:\([^\s()<>]*\)[^\s()<>]*)*)(?=[ \t]|\))")
_DEFINITION = re.compile(r"^[ ]{0,3}\[[^\]\n]+\]:[ \t]*(?P<target><[^<>\n]*>|\S+)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


class _Links:
    """Finds the target-language version of a linked post, and the link to it."""

    def __init__(self, posts: Iterable[Post], profile: Profile, target: str, source: Path,
                 output: Path):
        self.posts, self.profile, self.target = list(posts), profile, target
        self.source, self.output = source, output
        self.by_path = {p.path.resolve(): p for p in self.posts if p.path is not None}
        self.hosts = {urlsplit(p.url).netloc.lower() for p in self.posts
                      if p.url and "://" in p.url}

    def new_target(self, raw: str) -> str | None:
        angle = raw.startswith("<")
        target = raw[1:-1] if angle else raw
        link, hash_, fragment = target.partition("#")
        if not link:
            return None
        match = re.match(r"\{filename\}|\|filename\|", link)
        parts = urlsplit(link)
        if match:
            new = self._file_link(link[match.end():], pelican=True)
            new = match.group() + new if new else None
        elif parts.scheme or parts.netloc or link.startswith("/"):
            new = self._url_link(link)
        else:
            new = self._file_link(link)
        if new is None:
            return None
        new += hash_ + fragment
        return f"<{new}>" if angle else new

    def _file_link(self, link: str, pelican: bool = False) -> str | None:
        path = unquote(link.split("?")[0])
        if pelican and path.startswith("/"):  # Pelican: from the content folder
            found = [p for p in self.by_path if p.as_posix().endswith(path)]
            file = found[0] if len(found) == 1 else None
        else:
            file = (self.source.parent / path).resolve()
        if file is None or not file.is_file():
            return None
        version = self._version(self.by_path.get(file) or Post(file, None, None))
        if version is None or version.path is None:
            return None
        if pelican and path.startswith("/"):
            root = Path(*file.parts[:len(file.parts) - len(Path(path.lstrip("/")).parts)])
            if not version.path.is_relative_to(root):
                return None
            new = "/" + version.path.relative_to(root).as_posix()
        else:
            new = Path(os.path.relpath(version.path, self.output.parent)).as_posix()
            new = "./" + new if link.startswith("./") and not new.startswith(".") else new
        return quote(new, safe="/._-~{}|") if "%" in link else new

    def _url_link(self, link: str) -> str | None:
        parts = urlsplit(link)
        if (parts.scheme or parts.netloc) and (
                parts.scheme not in ("http", "https") or parts.netloc.lower() not in self.hosts):
            return None  # someone else's site
        found = [p for p in self.posts if _same_url(p.url, parts)]  # a full URL first
        post = max(found, key=lambda p: bool(_address(p.url).netloc) == bool(parts.netloc),
                   default=None)
        version = self._version(post) if post is not None else None
        if version is None or not _is_address(version.url):
            return None  # a bare slug says nothing of the translation's address
        new = _address(version.url)
        if _same_url(post.url, new):
            return None  # one address for both (Polyglot prefixes the language itself)
        if parts.netloc:
            new_link = f"{new.scheme or parts.scheme}://{new.netloc or parts.netloc}{new.path}"
        elif new.netloc and new.netloc.lower() != _address(post.url).netloc.lower():
            return None
        else:
            new_link = new.path
        query = new.query or (parts.query if not _address(post.url).query else "")
        return new_link + ("?" + query if query else "")

    def _version(self, post: Post) -> Post | None:
        """The post's version in the target language: in the corpus, or the file this
        profile writes for it."""
        if post.lang == self.target:
            return None
        keys = _work_keys(post)
        for other in self.posts:
            if other.lang == self.target and other != post and keys & _work_keys(other):
                return other
        if post.path is not None:
            written = self.profile.output_path(post.path, self.target)
            if written.is_file():
                header = frontmatter.parse(written.read_text(encoding="utf-8", errors="replace"))
                return Post(written.resolve(), header.url, self.target, header.meta)
        return None


def _work_keys(post: Post) -> set[tuple[str, str]]:
    """What pairs a post with its translations: Hugo's translationKey, Polyglot's page_id
    and permalink, Pelican's slug, and the file name with its language suffix taken off
    (Hugo's post.en.md, Polyglot's and OwnVoice's post-en.md, beside post.md)."""
    keys = {(name, str(value)) for name in ("translationkey", "page_id", "permalink", "slug")
            if (value := _get(post.meta, name)) is not None}
    if post.path is not None:
        stem = post.path.stem
        for sep in (".", "-"):
            if post.lang and stem.endswith(sep + post.lang):
                stem = stem[:-len(post.lang) - 1]
        keys.add(("file", (post.path.parent / stem).as_posix()))
    return keys


def _is_address(url: str | None) -> bool:
    """A full URL or a path from the site's root; not a bare slug, which says nothing of
    where a page is."""
    return bool(url) and ("://" in url or url.startswith("/") or "/" in url.strip("/"))


def _address(url: str):
    """A post's URL split; a path without its leading slash ("posts/a/") gets one."""
    return urlsplit(url if "://" in url or url.startswith("/") else "/" + url)


def _same_url(url: str | None, parts) -> bool:
    """Whether a post's URL is the one `parts` (a split link) points at."""
    if not _is_address(url):
        return False
    mine = _address(url)
    if parts.netloc and mine.netloc and parts.netloc.lower() != mine.netloc.lower():
        return False
    if mine.query and mine.query != parts.query:
        return False
    return _path_key(mine.path) == _path_key(parts.path)


def _path_key(path: str) -> str:
    path = unquote(path)
    path = path.removesuffix("index.html").rstrip("/")
    return path or "/"


def rewrite_links(body: str, *, posts: Iterable[Post], profile: Profile, target: str,
                  source: Path, output: Path) -> tuple[str, int]:
    """The body with links to the writer's posts pointed at their target-language versions,
    and how many changed. Links are found with a regex on `](target)` and on reference
    definitions, outside code: markdown-it's inline tokens carry no positions and their
    hrefs are normalised (percent-encoded), so they cannot say where a target is written;
    its block tokens do say which lines are code, and those lines are left alone."""
    links = _Links(posts, profile, target, source.resolve(), output.resolve())
    lines = body.split("\n")
    code: set[int] = set()
    for token in MarkdownIt("commonmark").parse(body):
        if token.type in ("fence", "code_block", "html_block") and token.map:
            code.update(range(*token.map))
    changed = 0

    def swap(line: str, pattern: re.Pattern) -> str:
        nonlocal changed
        masked = _CODE_SPAN.sub(lambda m: "\0" * len(m.group()), line)
        for match in reversed(list(pattern.finditer(masked))):
            new = links.new_target(match.group("target"))
            if new is not None:
                line = line[:match.start("target")] + new + line[match.end("target"):]
                changed += 1
        return line

    for i, line in enumerate(lines):
        if i not in code and ("](" in line or "]:" in line):
            lines[i] = swap(swap(line, _INLINE_TARGET), _DEFINITION)
    return "\n".join(lines), changed
