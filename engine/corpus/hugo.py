"""Hugo's content conventions: page bundles and translations by file name.

A leaf bundle is a folder whose post is `index.md`, with its images beside it (passed over
like any image); a branch bundle's `_index.md` is a section's list page, whose text is the
writer's own introduction to the section, so it is imported too (one with only a header
has no text and is skipped as such). Neither file name says anything: a bundle without a
title is named after its folder. `index.fr.md` (or `post.fr.md`) is the French
translation of `index.md`: the name declares its language, and it shares its original's
train/validation/test split (a post and its translations are one work).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from engine.languages import NAMES

_LANG_PART = re.compile(r"^(?P<base>[a-z]{2,3})(?:[-_][a-z0-9]{2,4})?$", re.I)


def filename_lang(name: str) -> str | None:
    """'index.en.md' → 'en', 'post.zh-tw.md' → 'zh-tw'; None without a known language."""
    parts = name.split(".")
    if len(parts) < 3:
        return None
    match = _LANG_PART.match(parts[-2])
    if match is None or match.group("base").lower() not in NAMES:
        return None
    return parts[-2].lower().replace("_", "-")


def bundle_title(path: PurePosixPath | str) -> str | None:
    """The folder's name for a bundle's `index.md` / `_index.md` (any language)."""
    path = PurePosixPath(path)
    stem = path.name.split(".")[0]
    return path.parent.name or None if stem in ("index", "_index") else None


def work_key(relative: str) -> str:
    """The split key of a post's original: 'posts/a/index.fr.md' → 'posts/a/index.md'."""
    path = PurePosixPath(relative)
    if filename_lang(path.name) is None:
        return relative
    parts = path.name.split(".")
    return str(path.with_name(".".join(parts[:-2] + parts[-1:])))
