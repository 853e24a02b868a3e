"""Deciding what a paragraph-shaped block is: the user's prose, or something else.

Shared by the Markdown, HTML and plain-text readers, so the same paragraph gets the
same kind whatever file it came from.
"""

from __future__ import annotations

import re

from engine.corpus import parsed
from engine.corpus.cleanup import (
    fold_spaces,
    has_template_tags,
    has_words,
    is_url_only,
    strip_template_tags,
)

_MATH = re.compile(r"^\s*(\$\$|\\\[|\\begin\{)")
# kramdown attribute lists ({: .class}, {:toc}) and Markdown-in-HTML leftovers.
_ATTRIBUTE_LIST = re.compile(r"\{:[^}]*\}")


def classify_paragraph(*, text: str, text_outside_links: str, images: int, links: int,
                       raw: str, had_html: bool = False,
                       holes: bool | None = None) -> parsed.Segment | None:
    """A segment for a paragraph, or None when nothing of it is worth keeping.

    text: the paragraph's words (link text included, URLs and markup removed);
    text_outside_links: the same without link text; raw: the original markup;
    holes: whether template tags in the words stand for words the site fills in when it is
    built (`Welcome to {{ site.title }}`), by default whether there are any. A paragraph
    with a hole is markup, its text kept as written: never a sentence with a hole in it.
    """
    bare = fold_spaces(_ATTRIBUTE_LIST.sub("", strip_template_tags(text)))
    if _MATH.match(raw):
        return parsed.Segment(parsed.MATH, bare, raw)
    if not has_words(bare):
        if images:
            return parsed.Segment(parsed.IMAGE, bare, raw)
        if has_template_tags(text) or _ATTRIBUTE_LIST.search(text):
            return parsed.Segment(parsed.MARKUP, bare, raw)
        if is_url_only(bare) or links:
            return parsed.Segment(parsed.LINK, bare, raw)
        if had_html:
            return parsed.Segment(parsed.HTML, bare, raw)
        return None if not bare else parsed.Segment(parsed.MARKUP, bare, raw)
    if has_template_tags(text) if holes is None else holes:
        return parsed.Segment(parsed.MARKUP, fold_spaces(text), raw)
    # What is left of a tag is the writer's (a code span that shows one): keep it.
    cleaned = fold_spaces(_ATTRIBUTE_LIST.sub("", text))
    outside = strip_template_tags(text_outside_links)
    if links and not has_words(outside):
        return parsed.Segment(parsed.LINK, cleaned, raw)
    if is_url_only(cleaned):
        return parsed.Segment(parsed.LINK, cleaned, raw)
    if _ATTRIBUTED_QUOTATION.fullmatch(cleaned):  # “…” — George Orwell: someone else's words
        return parsed.Segment(parsed.QUOTE, cleaned, raw)
    return parsed.Segment(parsed.PROSE, cleaned, raw)


# A paragraph that is a quotation in quotation marks followed by its author after a dash.
_ATTRIBUTED_QUOTATION = re.compile(
    r"[\"“„«「『].+[\"”“»」』]\s*(?:—|–|--|―)\s*[^\s.,;:!?][^.!?。！？]{0,80}", re.S)
