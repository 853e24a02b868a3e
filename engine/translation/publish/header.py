"""A post's header edited line by line: only the named fields' lines change; every other
line (order, comments, quoting) stays byte for byte (see engine.translation.publish)."""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yaml

from engine.corpus import frontmatter, machine
from engine.translation.publish.profiles import _get

if TYPE_CHECKING:
    from engine.translation.publish.profiles import Profile

TranslateText = Callable[[str], str]  # a field's text → its translation (raises on failure)


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


def _one_line(text: str) -> str:
    """Model output as one line: white space (line breaks included) folded, control
    characters dropped."""
    text = " ".join(text.split())
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cs"))


def rewrite_header(header: Header, profile: Profile, *, target: str,
                   translate_text: TranslateText, tags: dict[str, str] | None = None,
                   mark: bool = False) -> tuple[list[str], list[str]]:
    """(the header's new lines, warnings). A header that does not parse, or that this
    could not rewrite exactly, is kept as it is, with a warning. `mark`: say in it that
    OwnVoice translated the post (`translated_by: OwnVoice`, engine/corpus/machine.py), so
    that importing the blog again never takes it for the writer's own translation."""
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
    if mark:
        key = next((k for k in header.meta if str(k).lower() == machine.MARKER_KEY),
                   machine.MARKER_KEY)
        editor.set(str(key), machine.MARKER_VALUE)
    lines = [header.lines[0], *editor.lines, header.lines[-1]] if fenced else editor.lines
    reread = frontmatter.parse("\n".join(lines) + "\n\n")
    meant = {str(k).lower(): v for k, v in header.meta.items()}
    meant.update(editor.meant)
    if {str(k).lower(): v for k, v in reread.meta.items()} != meant or reread.warning:
        return header.lines, [*notes, "The front matter could not be rewritten exactly; it is "
                                      "copied as it is. Please report this post's header."]
    return lines, [*notes, *warnings]
