"""Train/val/test split decided by the document, never by the paragraph.

Paragraphs of one post share wording: a paragraph-level split leaks a post into
both training and test. The split is a hash of the document's stable key, so the
same corpus gets the same split on any machine; once stored it never changes.
"""

from __future__ import annotations

import hashlib

SPLITS = ("train", "val", "test")
# Percent of documents per split: about 90 / 5 / 5.
TRAIN_PERCENT = 90
VAL_PERCENT = 5


def split_for(split_key: str) -> str:
    bucket = int.from_bytes(hashlib.sha256(split_key.encode("utf-8")).digest()[:8], "big") % 100
    if bucket < TRAIN_PERCENT:
        return "train"
    if bucket < TRAIN_PERCENT + VAL_PERCENT:
        return "val"
    return "test"
