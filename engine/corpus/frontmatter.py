"""Metadata headers at the top of Markdown posts, read leniently and never as prose.

Four conventions: YAML between `---` lines (Jekyll, Hugo, Hexo…), TOML between `+++`
lines (Hugo, Zola), a JSON object `{ … }` (Hugo), and `Key: value` lines up to the first
blank line (Pelican, MultiMarkdown), with or without `---` fences around them.

Real headers are often not valid YAML: an unquoted colon in a title, a tab, a date that
does not exist, a missing closing fence. When the strict parse fails the header is read
line by line (`key: value`, `key = value`, `"key": value`) and the warning says which keys
were recovered; a post whose draft status cannot be told that way is not imported (see
`FrontMatter.draft_reason`). The header's lines are never part of the body.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime

import yaml

# Keys that make a `Key: value` block a header rather than prose ("Note: …").
_KNOWN_KEYS = {"title", "date", "modified", "tags", "category", "categories", "slug", "author",
               "authors", "summary", "status", "lang", "language", "url", "save_as", "template",
               "keywords", "description", "subtitle", "series", "draft", "published", "locale",
               "permalink", "translation", "translationkey", "created", "updated", "layout"}
_KEY_LINE = re.compile(r"^([A-Za-z][\w -]{0,40}?)\s*:\s*(.*)$")
# One `key: value` (YAML, Pelican), `key = value` (TOML) or `"key": value` (JSON) line,
# read when the strict parse fails. Only unindented lines are top-level keys.
_LENIENT_LINE = {
    "YAML": re.compile(r"([A-Za-z_][\w .-]{0,40}?)[ \t]*:(?:[ \t]+(.*)|[ \t]*)"),
    "TOML": re.compile(r"([A-Za-z_][\w.-]*|\"[^\"]+\")[ \t]*=[ \t]*(.*)"),
    "JSON": re.compile(r"[ \t]*\"([^\"]+)\"[ \t]*:[ \t]*(.*?)[ \t]*,?[ \t]*"),
}
# A line that may say whether the post is a draft; unread, it leaves the question open.
_DRAFT_LOOKING = re.compile(
    r"(?i)^[\s\"'{,]*(draft|published|status)[\"']?\s*(?:[:=]|\s+(?:true|false|yes|no|on|off"
    r"|draft)\b)")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
# `status:` values of posts that are not on the site (WordPress-like, Hexo, Notion), or not
# listed on it (Pelican's `Status: hidden`: written out, linked from nowhere).
_UNPUBLISHED_STATUS = {"draft", "unpublished", "private", "pending", "scheduled", "future",
                       "trash", "idea", "in progress", "not started", "hidden"}
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class FrontMatter:
    meta: dict = field(default_factory=dict)
    body: str = ""
    warning: str | None = None  # a header that did not parse cleanly: what was read of it
    undecided: str | None = None  # why its draft status cannot be told (then not imported)

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
        for key in ("date", "published", "created"):
            value = self.get(key)
            if isinstance(value, (datetime, date)):
                return value.isoformat()
            if value is not None and not _is_flag(value):  # `published: true` is no date
                return str(value).strip()
        return None

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
        """Why this post is not imported as published writing, or None: drafts are never
        imported, nor are posts whose header cannot say whether they are drafts."""
        if self.undecided:
            return self.undecided
        draft = self.get("draft")
        if draft is True or str(draft).lower() in _TRUE:
            return "draft (front matter says draft: true)"
        published = self.get("published")
        if published is False or str(published).lower() in _FALSE:
            return "draft (front matter says published: false)"
        status = self.get("status")
        said = str(status).strip() if status is not None else ""
        if said.lower() in _UNPUBLISHED_STATUS:
            what = "hidden, listed on no page of the site" if said.lower() == "hidden" \
                else "not published"
            return f"{what} (front matter says status: {said})"
        for key in ("private", "hidden"):  # Hexo, Jekyll themes: kept off the site
            value = self.get(key)
            if value is True or str(value).lower() in _TRUE:
                return f"not published (front matter says {key}: true)"
        publish = self.get("publish")
        if publish is False or str(publish).lower() in _FALSE:
            return "not published (front matter says publish: false)"
        visibility = self.get("visibility")
        if visibility is not None and str(visibility).strip().lower() == "private":
            return "not published (front matter says visibility: private)"
        if self.get("permalink") is False:  # Eleventy: never written out
            return "not published (front matter says permalink: false)"
        build = self.get("build")
        if isinstance(build, dict) and str(build.get("render", "")).lower() in ("never",
                                                                               "false"):
            return "not published (Hugo front matter says build: render: never)"
        future = self.get("publishdate", "publish_date")
        when = future.isoformat() if isinstance(future, (datetime, date)) else str(future or "")
        if _ISO_DAY.match(when) and when[:10] > date.today().isoformat():
            return f"not published yet (front matter says publishDate: {when[:10]})"
        return None


def parse(text: str) -> FrontMatter:
    lines = text.split("\n")
    first = lines[0].strip() if lines else ""
    if first == "---":
        return _fenced(lines, ("---", "..."), _load_yaml, "YAML")
    if first == "+++":
        return _fenced(lines, ("+++",), _load_toml, "TOML")
    if re.match(r"\{[ \t]*(?:$|\")", lines[0]):
        return _json(text, lines)
    return _key_value(lines)


def _fenced(lines: list[str], closers: tuple[str, ...], load, what: str) -> FrontMatter:
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in closers), None)
    if end is None:
        return _unterminated(lines, load, what)
    raw = lines[1:end]
    try:
        meta, notes = load("\n".join(raw)) if "".join(raw).strip() else ({}, [])
    except Exception as exc:  # yaml.YAMLError, tomllib.TOMLDecodeError
        # A header that runs into the body (its closing fence forgotten, a later `---` taken
        # for it) ends where a blank line is followed by something that is not a key.
        stop = _header_end(raw, what)
        if stop < len(raw):
            return _unterminated(lines, load, what, stop=1 + stop)
        return _lenient(raw, lines[end + 1:], what, _reason(exc))
    if isinstance(meta, str):  # words between two horizontal rules, not a header
        return FrontMatter(body="\n".join(lines))
    body = "\n".join(lines[end + 1:])
    if not isinstance(meta, dict):
        return FrontMatter(body=body, warning=f"{what} front matter is not a mapping; ignored")
    return FrontMatter(meta=meta, body=body,
                       warning=f"{what} front matter: {'; '.join(notes)}" if notes else None)


def _unterminated(lines: list[str], load, what: str, *, stop: int | None = None) -> FrontMatter:
    """A `---` (or `+++`) at the top with no closing fence: a header if `key: value` lines
    follow it (Pelican posts often forget the closing `---`), read up to line `stop` (by
    default the first blank line); otherwise a horizontal rule, and everything is body."""
    guessed = stop is None  # no closing fence anywhere: only a known key makes it a header
    if stop is None:
        stop = next((i for i in range(1, len(lines)) if not lines[i].strip()), len(lines))
    raw = lines[1:stop]
    match = _LENIENT_LINE[what].fullmatch(raw[0]) if raw else None
    if not match or guessed and _key_name(match.group(1)) not in _KNOWN_KEYS:
        return FrontMatter(body="\n".join(lines))
    note = f"it has no closing {lines[0].strip()}; read up to the blank line before the body"
    try:
        meta, notes = load("\n".join(raw))
    except Exception as exc:  # yaml.YAMLError, tomllib.TOMLDecodeError
        return _lenient(raw, lines[stop:], what, _reason(exc), note=note)
    if not isinstance(meta, dict):
        return _lenient(raw, lines[stop:], what, "not a mapping", note=note)
    return FrontMatter(meta=meta, body="\n".join(lines[stop:]),
                       warning="; ".join([f"{what} front matter: {note}", *notes]))


def _header_end(raw: list[str], what: str) -> int:
    """Where a header's lines stop being header: at a blank line followed by a line that is
    neither a key, an indented continuation nor a comment (else: all of them)."""
    for i, line in enumerate(raw):
        if line.strip():
            continue
        after = next((ln for ln in raw[i + 1:] if ln.strip()), None)
        if after is not None and not (_LENIENT_LINE[what].fullmatch(after)
                                      or after[:1] in (" ", "\t", "#", "-", "[")):
            return i
    return len(raw)


def _json(text: str, lines: list[str]) -> FrontMatter:
    """Hugo's JSON front matter: an object at the top, its closing brace ending a line."""
    try:
        meta, end = json.JSONDecoder().raw_decode(text)
    except ValueError as exc:
        raw = [lines[0].lstrip()[1:], *lines[1:]]
        close = next((i for i, ln in enumerate(raw) if ln.strip() == "}"), None)
        if close is not None:
            return _lenient(raw[:close], lines[close + 1:], "JSON", _reason(exc))
        stop = next((i for i, ln in enumerate(raw) if not ln.strip()), len(raw))
        return _lenient(raw[:stop], lines[stop:], "JSON", _reason(exc),
                        note="it has no closing brace; read up to the first blank line")
    rest = text[end:]
    if rest.strip() and not rest.lstrip(" \t").startswith("\n") or not isinstance(meta, dict):
        return FrontMatter(body=text)
    count = text[:end].count("\n") + 1
    return FrontMatter(meta=meta, body="\n".join(lines[count:]))


def _load_yaml(raw: str) -> tuple[object, list[str]]:
    """YAML, with a date that does not exist (2023-02-30) kept as the text it is, and said."""
    loader = _Loader(raw)
    try:
        meta = loader.get_single_data()
    finally:
        loader.dispose()
    return meta, [f"the date {value} does not exist; kept as written"
                  for value in loader.bad_dates]


def _load_toml(raw: str) -> tuple[object, list[str]]:
    return tomllib.loads(raw), []


class _Loader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self.bad_dates: list[str] = []


def _timestamp(loader: _Loader, node):
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:
        loader.bad_dates.append(node.value)
        return node.value


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _reason(exc: Exception) -> str:
    text = getattr(exc, "problem", None) or str(exc).split("\n")[0] or type(exc).__name__
    return re.sub(r"\s*\(at line \d+, column \d+\)$|: line \d+ column \d+ \(char \d+\)$", "",
                  str(text))


def _lenient(raw: list[str], body: list[str], what: str, reason: str, *,
             note: str | None = None) -> FrontMatter:
    """A header the strict parser rejected, read line by line: unindented keys and their
    values (quotes and comments taken off; indented `- item` lines make a list)."""
    meta: dict = {}
    unread: list[str] = []
    key = None
    pattern = _LENIENT_LINE[what]
    for line in raw:
        match = pattern.fullmatch(line) if what == "JSON" or line[:1] not in (" ", "\t") \
            else None
        if match:
            key = _key_name(match.group(1), lower=False)
            meta[key] = _value(match.group(2) or "", what)
            continue
        item = re.fullmatch(r"[ \t]+-[ \t]+(.*)", line)
        if key is not None and item and (meta[key] == "" or isinstance(meta[key], list)):
            meta[key] = [*(meta[key] or []), _value(item.group(1), what)]
        elif key is not None and line[:1] in (" ", "\t") and isinstance(meta[key], str) \
                and meta[key] and what != "JSON":
            meta[key] = f"{meta[key]} {line.strip()}"  # a value continued on the next line
        elif line.strip():
            unread.append(line)
    prefix = f"{what} front matter is invalid ({reason}" + (f"; {note}" if note else "") + ")"
    read = ", ".join(str(k).lower() for k in meta)
    warning = f"{prefix}; read line by line: {read}" if meta else \
        f"{prefix}; nothing could be read from it"
    header = FrontMatter(meta=meta, body="\n".join(body), warning=warning)
    doubtful = next((ln for ln in unread if _DRAFT_LOOKING.match(ln)), None)
    if doubtful is None:
        doubtful = next((f"{k}: {v}" for k, v in meta.items() if _unclear(str(k).lower(), v)),
                        None)
    if doubtful is not None and header.draft_reason is None:
        header.undecided = (f"cannot tell whether it is a draft: {prefix}, and its line "
                            f"{doubtful.strip()!r} cannot be read; fix the header to import it")
    return header


def _is_flag(value) -> bool:
    return isinstance(value, bool) or str(value).strip().lower() in _TRUE + _FALSE


def _unclear(key: str, value) -> bool:
    """A draft flag read line by line whose value says neither yes nor no (`draft: tru`)."""
    if key == "draft":
        return not _is_flag(value)
    if key == "published":  # a flag, or the date it was published
        return not (_is_flag(value) or re.match(r"\d{4}-", str(value)))
    return False


def _key_name(key: str, *, lower: bool = True) -> str:
    key = key.strip().strip("\"'")
    return key.lower() if lower else key


def _value(text: str, what: str) -> str:
    text = text.strip()
    if what == "JSON":
        text = text.rstrip(",").strip()
    if text[:1] in ("\"", "'"):
        end = text.find(text[0], 1)
        if end > 0:
            return text[1:end]
    if what != "JSON":
        text = re.sub(r"\s+#.*$", "", text)  # a comment after the value
    return text


def notion(text: str) -> FrontMatter | None:
    """A Notion page exported as Markdown: `# Title`, a blank line, then its properties as
    `Key: value` lines (`Status: Published`, `Tags: …`, `Created: …`), then the page. The
    properties as a header (the title from the heading), the rest as the body; None when the
    text is not shaped so."""
    lines = text.split("\n")
    if not lines or not lines[0].startswith("# "):
        return None
    start = next((i for i in range(1, len(lines)) if lines[i].strip()), None)
    if start is None or start == 1:
        return None
    header = _key_value(lines[start:])
    if len(header.meta) < 2:
        return None
    header.meta.setdefault("title", lines[0][2:].strip())
    header.body = "\n".join(lines[:1] + [""] + header.body.split("\n"))
    return header


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
