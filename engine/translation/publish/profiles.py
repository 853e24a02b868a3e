"""The site generators a translated post is made ready for, each with its documented way of
pairing a translation with its original (see engine.translation.publish)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine import languages
from engine.translation.source_file import translated_path


def _get(meta: dict, *keys: str):
    """The first of `keys` (any case) with a value in a header's fields, or None."""
    lowered = {str(k).lower(): v for k, v in meta.items()}
    return next((lowered[k] for k in keys if lowered.get(k) not in (None, "", [], {})), None)


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
        if dot and languages.code(code) is not None:  # post.zh.md → post.en.md
            stem = base
        return source.with_name(f"{stem}.{target.lower()}{source.suffix}")  # zh-hant

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
