"""Small text helpers the format readers share: joining lines, template tags, words."""

from __future__ import annotations

import re

_CJK = re.compile(
    r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
    r"\uff00-\uffef\U00020000-\U0002ffff]"
)


# Stands for a real line break (<br>, Markdown hard break) while source line breaks are
# being folded; private use, so strip() keeps it and no real text contains it.
BREAK_MARK = "\ue000"


def is_wide(ch: str) -> bool:
    """CJK characters and full-width punctuation: no space goes between two of them."""
    return bool(ch) and bool(_CJK.match(ch))


def join_lines(lines: list[str]) -> str:
    """Join hard-wrapped lines: a space between words, nothing between CJK characters."""
    out = ""
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        if out and not (is_wide(out[-1]) and is_wide(line[0])):
            out += " "
        out += line
    return out


def fold_spaces(text: str) -> str:
    """Collapse runs of spaces/tabs inside lines; trim each line; keep line breaks."""
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in text.split("\n")]
    return "\n".join(ln for ln in lines if ln)


# Static-site template tags: Hugo {{< x >}} / {{% x %}}, Jekyll/Liquid {% x %}, {{ x }}.
_TEMPLATE_TAG = re.compile(r"\{\{[<%].*?[%>]\}\}|\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)


def strip_template_tags(text: str) -> str:
    return _TEMPLATE_TAG.sub("", text)


def has_template_tags(text: str) -> bool:
    return bool(_TEMPLATE_TAG.search(text))


# An e-mail address is looked for only from the start of a run of non-space characters
# (where the leftmost match starts anyway): tried from every position of a long run with no
# "@" (a Chinese paragraph has no spaces), it took time quadratic in the run's length.
_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+|(?<!\S)\S+@\S+\.\w+")
_WORD_CHAR = re.compile(r"[^\W\d_]", re.UNICODE)


def has_words(text: str) -> bool:
    """Whether any letter (or CJK character) is left once URLs and e-mails are removed."""
    return bool(_WORD_CHAR.search(_URL.sub("", text)))


def is_url_only(text: str) -> bool:
    """A line that holds URLs or e-mail addresses and no other words."""
    stripped = text.strip()
    return bool(_URL.search(stripped)) and not has_words(stripped)


# What an image's alt text or title says when it says nothing: a placeholder word, a file
# name, a camera's or a screenshot tool's name for the file.
_PLACEHOLDER_NAMES = {
    "image", "img", "images", "photo", "picture", "pic", "screenshot", "screen shot",
    "screen", "figure", "fig", "alt", "alt text", "untitled", "banner", "cover", "thumbnail",
    "header", "hero", "logo", "icon", "placeholder", "title", "caption", "bild", "foto",
    "imagen", "immagine", "截图", "图片", "图", "照片", "截屏", "配图", "插图", "圖片", "截圖",
    "画像", "写真", "スクリーンショット", "이미지", "사진"}
_FILE_NAME = re.compile(r"\S+\.(?:png|jpe?g|gif|webp|svg|avif|heic|bmp|tiff?)", re.I)
# IMG_1234, my-cat-photo, "Screenshot 2023-01-01 at 10.00.00"
_NAME_LIKE = re.compile(r"[\w.-]*[\d_][\w.-]*|[\w]+(?:-[\w]+)+|(?i:screen ?shot|截屏|截图)\b.*\d.*")


def is_caption(text: str) -> bool:
    """Whether an image's alt text or title says something about it: not a placeholder
    ("image", "截图"), a file name or a camera's name for the file."""
    words = text.strip()
    if len(_WORD_CHAR.findall(words)) < 2 or _FILE_NAME.fullmatch(words) or (
            _NAME_LIKE.fullmatch(words)):
        return False
    return re.sub(r"[\s\d#._:-]+$", "", words).casefold() not in _PLACEHOLDER_NAMES
