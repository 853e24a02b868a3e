"""Metadata headers at the top of Markdown posts.

Three conventions: YAML between `---` lines (Jekyll, Hugo, Hexo…), TOML between
`+++` lines (Hugo, Zola), and `Key: value` lines up to the first blank line
(Pelican, MultiMarkdown).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime

import yaml

# Keys that make a `Key: value` block a header rather than prose ("Note: …").
_KNOWN_KEYS = {"title", "date", "modified", "tags", "category", "categories", "slug", "author",
               "authors", "summary", "status", "lang", "language", "url", "save_as", "template",
               "keywords", "description", "subtitle", "series", "draft"}
_KEY_LINE = re.compile(r"^([A-Za-z][\w -]{0,40}?)\s*:\s*(.*)$")


@dataclass
class FrontMatter:
    meta: dict = field(default_factory=dict)
    body: str = ""
    warning: str | None = None  # malformed header: body still imported

    def get(self, *keys: str):
        lowered = {str(k).lower(): v for k, v in self.meta.items()}
        for key in keys:
            value = lowered.get(key)
            if value not in (None, "", [], {}):
                return value
        return None

    @property
    def title(self) -> str | None:
        value = self.get("title")
        return str(value).strip() if value is not None else None

    @property
    def date(self) -> str | None:
        value = self.get("date", "published", "created")
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        return str(value).strip() if value is not None else None

    @property
    def url(self) -> str | None:
        value = self.get("permalink", "url", "slug")
        return str(value) if value is not None else None

    @property
    def lang(self) -> str | None:
        value = self.get("lang", "language", "locale")
        return str(value).strip().lower().replace("_", "-") if value is not None else None

    @property
    def draft_reason(self) -> str | None:
        """Why this post is unpublished, or None: drafts are never imported."""
        draft = self.get("draft")
        if draft is True or str(draft).lower() in ("true", "yes", "1"):
            return "draft (front matter says draft: true)"
        published = self.get("published")
        if published is False or str(published).lower() in ("false", "no", "0"):
            return "draft (front matter says published: false)"
        status = self.get("status")
        if status is not None and str(status).strip().lower() == "draft":
            return "draft (front matter says status: draft)"
        return None


def parse(text: str) -> FrontMatter:
    lines = text.split("\n")
    first = lines[0].strip() if lines else ""
    if first == "---":
        return _fenced(lines, ("---", "..."), _load_yaml, "YAML")
    if first == "+++":
        return _fenced(lines, ("+++",), tomllib.loads, "TOML")
    return _key_value(lines)


def _fenced(lines: list[str], closers: tuple[str, ...], load, what: str) -> FrontMatter:
    for end in range(1, len(lines)):
        if lines[end].strip() in closers:
            break
    else:
        # No closing fence: a `---` at the top was a horizontal rule, not a header.
        return FrontMatter(body="\n".join(lines))
    raw = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1:])
    try:
        meta = load(raw) if raw.strip() else {}
    except Exception as exc:  # yaml.YAMLError, tomllib.TOMLDecodeError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return FrontMatter(body=body, warning=f"malformed {what} front matter ignored ({reason})")
    if not isinstance(meta, dict):
        return FrontMatter(body=body, warning=f"{what} front matter is not a mapping; ignored")
    return FrontMatter(meta=meta, body=body)


def _load_yaml(raw: str):
    return yaml.safe_load(raw)


def _key_value(lines: list[str]) -> FrontMatter:
    meta: dict[str, str] = {}
    key = None
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    for line in lines[:end]:
        match = _KEY_LINE.match(line)
        if match:
            key = match.group(1).strip().lower()
            meta[key] = match.group(2).strip()
        elif key and line[:1] in (" ", "\t"):  # MultiMarkdown continuation line
            meta[key] = f"{meta[key]} {line.strip()}".strip()
        else:
            return FrontMatter(body="\n".join(lines))
    if not meta or not (set(meta) & _KNOWN_KEYS) or next(iter(meta)) not in _KNOWN_KEYS:
        return FrontMatter(body="\n".join(lines))
    return FrontMatter(meta=meta, body="\n".join(lines[end:]))
