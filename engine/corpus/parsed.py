"""What the corpus readers produce: documents cut into typed segments."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from engine.corpus.split import split_for

# Segment kinds. Only PROSE (the user's own running text) becomes training data by default.
PROSE = "prose"
HEADING = "heading"
LIST = "list"
QUOTE = "quote"  # someone else's words
CODE = "code"
TABLE = "table"
IMAGE = "image"
HTML = "html"  # raw HTML blocks inside Markdown
LINK = "link"  # a line that is only links / URLs
MARKUP = "markup"  # template tags, shortcodes, embeds
FOOTNOTE = "footnote"
MATH = "math"
CAPTION = "caption"

KINDS = (PROSE, HEADING, LIST, QUOTE, CODE, TABLE, IMAGE, HTML, LINK, MARKUP, FOOTNOTE, MATH,
         CAPTION)
# Kinds whose text is language: the others (code, tables, markup) get no language.
WORDY_KINDS = frozenset({PROSE, HEADING, LIST, QUOTE, FOOTNOTE, CAPTION})


@dataclass
class Segment:
    kind: str
    text: str  # the words, markup removed
    source: str  # the original markup of the block
    lang: str | None = None

    @property
    def text_hash(self) -> str:
        """sha256 of the words with white space folded: the same paragraph in two posts
        (or an unchanged one in a new version of a post) has the same hash."""
        return text_hash(self.text)


@dataclass
class ParsedDocument:
    key: str  # identity in the database
    path: str  # where it came from, for people
    format: str  # markdown | html | text | wxr | ghost | substack
    content_hash: str
    split_key: str  # stable across machines: decides train/val/test
    title: str | None = None
    date: str | None = None
    url: str | None = None
    lang: str | None = None
    meta: dict = field(default_factory=dict)
    segments: list[Segment] = field(default_factory=list)
    # What was wrong with its file (a header recovered line by line…): kept with it, so that
    # importing the unchanged file again says it again.
    warnings: list[str] = field(default_factory=list)

    @property
    def split(self) -> str:
        """train | val | test, from the split key alone (engine/corpus/split.py)."""
        return split_for(self.split_key)


@dataclass
class ExportedPost:
    """One post of a platform's export: its document, whose segments are parsed from
    `body_html` only when the post is new or changed."""
    doc: ParsedDocument
    body_html: str


@dataclass
class Export:
    """What a platform's export holds: its published posts, and what was left out (where,
    why: drafts, files the export does not account for)."""
    posts: list[ExportedPost] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)
    lang: str | None = None  # the site's declared language
    passed_over: int = 0  # files in the export that are not posts (statistics, images)


# Bumped whenever the readers change what a file becomes (its segments, kinds, languages,
# translations): a document's content hash includes it, so the next import reads every file
# once more with the new rules instead of keeping what the old ones made of it (segment ids
# and exclusions survive: save_document matches paragraphs by text).
READER_VERSION = "2026-11-30"


def content_hash(data: bytes | str) -> str:
    """The hash that tells an unchanged file (or post) from a changed one: its bytes and the
    READER_VERSION that read them."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return sha256_hex(READER_VERSION.encode("ascii") + b"\0" + data)


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


_SPACE = re.compile(r"\s+")


def text_hash(text: str) -> str:
    """Hash of a segment's words with white space folded, for dedupe across documents."""
    return sha256_hex(_SPACE.sub(" ", text).strip().casefold())
