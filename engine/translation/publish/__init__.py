"""A translated post made ready to publish beside its original, for a site generator.

`ownvoice translate post.md --to en --publish` translates the post, then a *profile*
rewrites the copied front matter the way the site generator pairs a translation with its
original, points links to the writer's own posts at their translations where those exist,
and the CLI writes the result beside the original, marked as OwnVoice's machine translation
(`translated_by: OwnVoice` in its header, else a comment at its end: engine/corpus/machine.py)
so that the next import of the blog leaves it out. Three profiles ship, each following its
generator's documented convention (read 2026-11-30):

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
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine import languages
from engine.corpus import machine
from engine.errors import OwnVoiceError
from engine.translation.publish.header import TranslateText, rewrite_header, split_header
from engine.translation.publish.links import Post, own_posts, rewrite_links
from engine.translation.publish.profiles import PROFILES, Profile

SETTINGS_FILE = "publish.json"
__all__ = ["PROFILES", "Post", "Profile", "Published", "Settings", "choose_profile",
           "load_settings", "own_posts", "publish", "rewrite_header", "rewrite_links",
           "split_header"]


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
    return code.lower() if dot and base and languages.code(code) is not None else None


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
                                     translate_text=translate_text, tags=tags, mark=True)
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
    if not machine.is_marked(text):  # no header, or one copied as it was: a comment says it
        text = text.rstrip("\n") + "\n\n" + machine.COMMENT + "\n"
    return Published(text, output, count, warnings)
