"""A translated post made ready to publish beside its original, for a site generator.

`ownvoice translate post.md --to en --publish` translates the post, then a *profile*
rewrites the copied front matter the way the site generator pairs a translation with its
original, points links to the writer's own posts at their translations where those exist,
and the CLI writes the result beside the original. Three profiles ship, each following its
generator's documented convention (checked June 2025):

- **pelican** (docs.getpelican.com, "Translations"): articles with the same slug are
  translations of one another and `lang` says each one's language, so the `Slug` is kept as
  it is (not suffixed), `Lang` is set and `Translation: true` marks the translation. Title
  and Summary are translated. Written as `post-en.md`.
- **hugo** (gohugo.io, "Multilingual mode: translation by file name"): `about.md` and
  `about.en.md`, same path and base name, are linked translations, and the language comes from
  the file name, so the profile writes `post.en.md`. A page's translation key is its path
  unless the front matter sets `translationKey` (gohugo.io/methods/page/translationkey):
  one set on the translation alone would unlink it from an original without one, so the
  original's is copied and none is added; `slug` and `url` are per language (Hugo prefixes
  the language) and stay. Title, description and summary are translated; `isCJKLanguage`,
  when present, is set for the target.
- **jekyll** (jekyll-polyglot's README, github.com/untra/polyglot): `lang` in the front
  matter says a page's language; translations share their `permalink`, or their `page_id`
  (Polyglot 1.7+). Both are copied; `lang` is set. Title, description and excerpt are
  translated. Written as `post-en.md`, Polyglot's own naming for posts.

The header is edited line by line, never re-dumped: only the named fields' lines change,
and every other line (order, comments, quoting) stays byte for byte. New values are written
as double-quoted strings (YAML, TOML) or on one line (Pelican), so a translated title holding
`"`, `:`, `#`, `---` or line breaks cannot break the header; the edited header is parsed
again and compared with what was meant before it is used.

A data folder may hold `publish.json`: `{"profile": "hugo", "tags": {"en": {"随笔": "essays"}}}`
(the folder's profile; a tag map per target language).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import yaml
from markdown_it import MarkdownIt

from engine import languages
from engine.corpus import frontmatter
from engine.errors import OwnVoiceError
from engine.translation.source_file import translated_path

TranslateText = Callable[[str], str]  # a field's text → its translation (raises on failure)
SETTINGS_FILE = "publish.json"


# --- profiles -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    name: str
    translated: tuple[str, ...]  # fields whose text is translated

    def output_path(self, source: Path, target: str) -> Path:
        return translated_path(source, target)

    def fields(self, meta: dict, target: str) -> tuple[dict[str, object], list[str]]:
        """The fields to set (name → value) and what the user should know."""
        return {}, []


class _Pelican(Profile):
    def fields(self, meta, target):
        notes = [] if _get(meta, "slug") else [
            "The post has no Slug: Pelican pairs translations by slug and makes a missing one "
            "from the title, which is now translated. Add the same `Slug:` to both files."]
        return {"lang": target, "translation": "true"}, notes


class _Hugo(Profile):
    def output_path(self, source, target):
        stem = source.stem
        base, dot, code = stem.rpartition(".")
        if dot and code.lower() in languages.NAMES:  # post.zh.md → post.en.md
            stem = base
        return source.with_name(f"{stem}.{target}{source.suffix}")

    def fields(self, meta, target):
        if _get(meta, "iscjklanguage") is None:
            return {}, []
        return {"isCJKLanguage": target in languages.CJK}, []


class _Jekyll(Profile):
    def fields(self, meta, target):
        notes = [] if _get(meta, "permalink", "page_id") else [
            "The post has neither permalink nor page_id: jekyll-polyglot pairs translations "
            "by them. Add the same `page_id:` to both files."]
        return {"lang": target}, notes


PROFILES: dict[str, Profile] = {
    "pelican": _Pelican("pelican", ("title", "summary")),
    "hugo": _Hugo("hugo", ("title", "description", "summary")),
    "jekyll": _Jekyll("jekyll", ("title", "description", "excerpt")),
}
# Front matter keys only Hugo reads: YAML front matter with one of them is Hugo's.
_HUGO_KEYS = {"translationkey", "lastmod", "weight", "aliases", "publishdate", "expirydate",
              "linktitle", "iscjklanguage", "headless", "cascade", "outputs", "draft"}


@dataclass
class Settings:
    """A data folder's publish.json."""
    profile: str | None = None
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # target → {tag: tag}


def load_settings(folder: Path) -> Settings:
    path = Path(folder) / SETTINGS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        raise OwnVoiceError(f"Cannot read {path} ({exc}). Fix it or delete it.") from exc
    example = '{"profile": "hugo", "tags": {"en": {"随笔": "essays"}}}'
    if not isinstance(data, dict) or set(data) - {"profile", "tags"}:
        raise OwnVoiceError(f"{path} holds unknown settings; it may hold only \"profile\" "
                            f"and \"tags\", e.g. {example}.")
    profile, tags = data.get("profile"), data.get("tags", {})
    if profile is not None and profile not in PROFILES:
        raise OwnVoiceError(f"{path}: unknown profile {profile!r}; use one of "
                            f"{', '.join(PROFILES)}.")
    if not (isinstance(tags, dict) and all(
            isinstance(m, dict) and all(isinstance(k, str) and isinstance(v, str)
                                        for k, v in m.items()) for m in tags.values())):
        raise OwnVoiceError(f"{path}: \"tags\" must map a language to {{tag: tag}}, e.g. "
                            f"{example}.")
    return Settings(profile, {languages.normalise(code): m for code, m in tags.items()})


def choose_profile(name: str | None, settings: Settings, text: str,
                   path: Path) -> tuple[Profile, str]:
    """The profile to use, and why (said to the user): --profile, else the data folder's,
    else a guess from the header: `+++` → hugo, `Key: value` → pelican, `---` → jekyll
    unless the post sits in `_posts` or has keys only Hugo reads."""
    if name:
        return PROFILES[name], "--profile"
    if settings.profile:
        return PROFILES[settings.profile], f"the data folder's {SETTINGS_FILE}"
    header = split_header(text)
    keys = {str(k).lower() for k in header.meta}
    if header.kind == "toml":
        return PROFILES["hugo"], "guessed from the TOML front matter"
    if header.kind == "pelican":
        return PROFILES["pelican"], "guessed from the Key: value header"
    if header.kind != "yaml":
        return PROFILES["jekyll"], "the default for a post without YAML, TOML or Pelican header"
    if "_posts" not in path.parts and (keys & _HUGO_KEYS or _language_suffix(path.stem)):
        return PROFILES["hugo"], "guessed from front matter only Hugo reads"
    return PROFILES["jekyll"], "guessed from the YAML front matter"


def _language_suffix(stem: str) -> str | None:
    base, dot, code = stem.rpartition(".")
    return code.lower() if dot and base and code.lower() in languages.NAMES else None


# --- the header, line by line ----------------------------------------------------------------

@dataclass
class Header:
    kind: str  # yaml | toml | pelican | json (copied, not rewritten) | "" (none)
    lines: list[str]  # the header's lines, fences included
    body: str  # the text after it
    meta: dict = field(default_factory=dict)
    warning: str | None = None  # it does not parse


def split_header(text: str) -> Header:
    lines = text.split("\n")
    first = lines[0].strip()
    if first in ("---", "+++"):
        closers = ("---", "...") if first == "---" else ("+++",)
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in closers), None)
        if end is not None:
            parsed = frontmatter.parse(text)
            return Header("yaml" if first == "---" else "toml", lines[:end + 1],
                          "\n".join(lines[end + 1:]), parsed.meta, parsed.warning)
    elif text.startswith("{"):
        try:
            _, end_at = json.JSONDecoder().raw_decode(text)
            count = text[:end_at].count("\n") + 1
            return Header("json", lines[:count], "\n".join(lines[count:]))
        except ValueError:
            pass
    else:
        parsed = frontmatter.parse(text)
        if parsed.meta:
            end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
            return Header("pelican", lines[:end], "\n".join(lines[end:]), parsed.meta)
    return Header("", [], text)


_KEY = {"yaml": re.compile(r"""(?P<key>[A-Za-z_][\w.-]*|"[^"\n]+"|'[^'\n]+')[ \t]*:(?:[ \t]+|$)"""),
        "toml": re.compile(r"""[ \t]*(?P<key>[\w-]+|"[^"\n]*"|'[^'\n]*')[ \t]*=[ \t]*"""),
        "pelican": re.compile(r"(?P<key>[A-Za-z][\w -]{0,40}?)[ \t]*:[ \t]*")}


def _quoted(value: str) -> str:
    """A double-quoted string that YAML (1.1 and 1.2) and TOML both read back exactly."""
    return re.sub(r"[\x7f-\x9f\u2028\u2029\ufeff]", lambda m: f"\\u{ord(m.group()):04x}",
                  json.dumps(value, ensure_ascii=False))


def _load(kind: str, value_text: str):
    """A value's text on its own, as the header's format reads it."""
    if kind == "yaml":
        return (yaml.safe_load(f"k: {value_text}") or {}).get("k")
    return tomllib.loads(f"k = {value_text}")["k"]


class _Editor:
    """The entries between a header's fences, changed one field at a time."""

    def __init__(self, kind: str, lines: list[str]):
        self.kind, self.lines = kind, list(lines)
        self.meant: dict[str, object] = {}  # lower-case key → the value it should read as

    def _spans(self) -> dict[str, tuple[int, int, int]]:
        """Lower-case key → (first line, end line, where the value starts on the first)."""
        limit = len(self.lines)
        if self.kind == "toml":  # top-level keys end at the first [table]
            limit = next((i for i, line in enumerate(self.lines)
                          if line.lstrip().startswith("[")), limit)
        spans, i = {}, 0
        while i < limit:
            match = _KEY[self.kind].match(self.lines[i])
            if not match:
                i += 1
                continue
            end = self._end(i, limit)
            spans.setdefault(match.group("key").strip("\"'").lower(), (i, end, match.end()))
            i = end
        return spans

    def _end(self, start: int, limit: int) -> int:
        if self.kind == "toml":  # the first end at which the entry reads whole
            for end in range(start + 1, limit + 1):
                try:
                    tomllib.loads("\n".join(self.lines[start:end]))
                    return end
                except tomllib.TOMLDecodeError:
                    continue
            return start + 1
        end = start + 1
        for j in range(start + 1, limit):
            line = self.lines[j]
            if line[:1] in (" ", "\t") and line.strip() or (
                    self.kind == "yaml" and line.startswith("-") and not line.startswith("---")):
                end = j + 1
            elif line.strip() or self.kind == "pelican":
                break
        return end

    def set(self, key: str, value: object) -> None:
        """Give `key` the value `value`, written as the header's format writes it."""
        text = self._format(value)
        span = self._spans().get(key.lower())
        self.meant[key.lower()] = value
        if span is None:
            self._insert(key, text)
            return
        start, end, at = span
        first = self.lines[start]
        prefix = first[:at]
        if self.kind != "toml" and not prefix.endswith((" ", "\t")):
            prefix += " "
        comment = first[at + self._comment_at(first[at:]):] if end - start == 1 else ""
        self.lines[start:end] = [prefix + text + comment]

    def map_tags(self, meta: dict, mapping: dict[str, str]) -> None:
        """Rename tags by `mapping`. A YAML block list is changed item by item (its
        comments stay); any other form is written again on one line."""
        key = next((k for k in meta if str(k).lower() == "tags"), None)
        tags = meta.get(key) if key is not None else None
        if isinstance(tags, list):
            new: object = [mapping.get(t, t) if isinstance(t, str) else t for t in tags]
        elif isinstance(tags, str):  # "a, b" (Pelican, some YAML) or "a b" (Jekyll)
            sep = "," if "," in tags or self.kind == "pelican" else None
            parts = [t.strip() for t in tags.split(sep) if t.strip()]
            if all(mapping.get(t, t) == t for t in parts):
                return
            new = (", " if sep else " ").join(mapping.get(t, t) for t in parts)
        else:
            return
        if new == tags:
            return
        start, end, _ = self._spans()["tags"]
        items = [j for j in range(start + 1, end) if re.match(r"\s*-[ \t]", self.lines[j])]
        if self.kind == "yaml" and isinstance(new, list) and len(items) == len(tags):
            for j, old, tag in zip(items, tags, new, strict=True):
                if old != tag:
                    line = self.lines[j]
                    at = re.match(r"\s*-[ \t]+", line).end()
                    self.lines[j] = line[:at] + self._format(tag) + line[
                        at + self._comment_at(line[at:]):]
            self.meant["tags"] = new
        else:
            self.set(str(key), new)

    def _format(self, value: object) -> str:
        if self.kind == "pelican":
            items = value if isinstance(value, list) else [value]
            return ", ".join(_one_line(str(v)) for v in items)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "[" + ", ".join(self._format(v) for v in value) + "]"
        return _quoted(str(value))

    def _comment_at(self, value_text: str) -> int:
        """Where a trailing `# comment` starts in a one-line value (its length if none)."""
        if self.kind == "pelican" or "#" not in value_text:
            return len(value_text)
        try:
            whole = _load(self.kind, value_text)
        except Exception:  # noqa: BLE001 — a value this cannot read keeps its whole text
            return len(value_text)
        for match in re.finditer(r"[ \t]+#", value_text):
            try:
                if _load(self.kind, value_text[:match.start()]) == whole:
                    return match.start()
            except Exception:  # noqa: BLE001 — cut inside a string: not a comment
                continue
        return len(value_text)

    def _insert(self, key: str, text: str) -> None:
        if self.kind == "pelican" and sum(line[:1].isupper() for line in self.lines) * 2 > len(
                self.lines):
            key = key[:1].upper() + key[1:]  # the header's own style: "Lang:" beside "Title:"
        at = len(self.lines)
        if self.kind == "toml":
            at = next((i for i, line in enumerate(self.lines) if line.lstrip().startswith("[")),
                      at)
        while at > 0 and not self.lines[at - 1].strip():
            at -= 1
        self.lines.insert(at, key + (" = " if self.kind == "toml" else ": ") + text)


def _get(meta: dict, *keys: str):
    lowered = {str(k).lower(): v for k, v in meta.items()}
    return next((lowered[k] for k in keys if lowered.get(k) not in (None, "", [], {})), None)


def _one_line(text: str) -> str:
    """Model output as one line: white space (line breaks included) folded, control
    characters dropped."""
    text = " ".join(text.split())
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cs"))


def rewrite_header(header: Header, profile: Profile, *, target: str,
                   translate_text: TranslateText,
                   tags: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """(the header's new lines, warnings). A header that does not parse, or that this
    could not rewrite exactly, is kept as it is, with a warning."""
    if not header.lines:
        return [], []
    if header.kind == "json":
        return header.lines, ["JSON front matter is copied as it is, not rewritten."]
    if header.warning:
        return header.lines, [f"The front matter does not parse ({header.warning}); it is "
                              "copied as it is, not rewritten."]
    fenced = header.kind != "pelican"
    editor = _Editor(header.kind, header.lines[1:-1] if fenced else header.lines)
    warnings: list[str] = []
    for name in profile.translated:
        original = _get(header.meta, name)
        if not isinstance(original, str):
            continue
        try:
            translated = _one_line(translate_text(original))
        except Exception as exc:  # noqa: BLE001 — one field's failure keeps its text
            warnings.append(f"{name}: not translated ({exc}); the original is kept.")
            continue
        if not translated:
            warnings.append(f"{name}: the translation came back empty; the original is kept.")
            continue
        key = next(k for k in header.meta if str(k).lower() == name)
        editor.set(str(key), translated)
    values, notes = profile.fields(header.meta, target)
    for name, value in values.items():
        key = next((k for k in header.meta if str(k).lower() == name.lower()), name)
        editor.set(str(key), value)
    if tags:
        editor.map_tags(header.meta, tags)
    lines = [header.lines[0], *editor.lines, header.lines[-1]] if fenced else editor.lines
    reread = frontmatter.parse("\n".join(lines) + "\n\n")
    meant = {str(k).lower(): v for k, v in header.meta.items()}
    meant.update(editor.meant)
    if {str(k).lower(): v for k, v in reread.meta.items()} != meant or reread.warning:
        return header.lines, [*notes, "The front matter could not be rewritten exactly; it is "
                                      "copied as it is. Please report this post's header."]
    return lines, [*notes, *warnings]


# --- links to the writer's own posts ---------------------------------------------------------

@dataclass(frozen=True)
class Post:
    """One of the writer's posts: its file (None for a WordPress export), its URL or
    permalink as its header gives it, its language, its header."""
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
        path = None if row["format"] == "wxr" else Path(row["key"])
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


# --- the whole post ---------------------------------------------------------------------------

@dataclass
class Published:
    text: str  # the post to write (LF line endings)
    path: Path  # where it goes
    links: int  # links pointed at translations
    warnings: list[str]


def publish(source_text: str, translated: str, *, source_path: Path, target: str,
            profile: Profile, translate_text: TranslateText, posts: Iterable[Post] = (),
            tags: dict[str, str] | None = None) -> Published:
    """The translation of the post at `source_path`, made ready to publish by `profile`.
    `translated` is the translator's output for `source_text` (front matter copied);
    `translate_text` translates one field's text; `posts` are the writer's posts."""
    source_path = Path(source_path)
    header = split_header(source_text)
    lines, warnings = rewrite_header(header, profile, target=target,
                                     translate_text=translate_text, tags=tags)
    copied = "\n".join(header.lines) + "\n" if header.lines else ""
    if translated.startswith(copied):
        body = translated[len(copied):]
    else:  # the translator changed the header: its body still follows one
        body = split_header(translated).body
        warnings.append("The translation's front matter differs from the original's; the "
                        "original's is used.")
    output = profile.output_path(source_path, target)
    body, count = rewrite_links(body, posts=posts, profile=profile, target=target,
                                source=source_path, output=output)
    text = "\n".join(lines) + "\n" + body if lines else body
    return Published(text, output, count, warnings)
