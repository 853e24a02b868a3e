"""A post and its published translation, aligned paragraph by paragraph.

The method is Gale & Church (1993), "A Program for Aligning Sentences in Bilingual
Corpora" (Computational Linguistics 19(1)), applied to paragraphs: a translated passage is
about as long as its original, so the difference of lengths, scaled by the square root
of the length, is roughly normal. A dynamic program over the two lists chooses the chain
of groups ("beads": 1–1, 1–2, 2–1 merges, 1–0 and 0–1 skips) with the highest probability;
the forward–backward sums over all chains give each chosen group its posterior
probability, which is its confidence. Numbers, link targets and inline code found on both
sides of a group are near-certain correspondences and raise its score (anchors).

Why not a library: `galechurch` (PyPI, 0.1.0, one release, a Rust core) and NLTK's
`gale_church` take lengths only, so neither can use anchors, and neither gives a
probability per group; the whole method is a page of Python.

    groups = align(original, "zh", translation, "en")
    kept, left_out = confident_pairs(groups)
    pairs, left_out = published_pairs(original, "zh", translation, "en")
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from engine import languages
from engine.pairs.corrections import CORRECTION_WEIGHT
from engine.translation import guards

ORIGIN = "published-translation"
# Lengths are counted in "English characters": non-space characters, where a CJK
# character counts as the English characters it takes to translate it. Chinese: 3.5, between
# the 4.2 measured on tests/essays.py (a literal machine translation) and the 3.2 of
# tests/translated_posts.py (a writer's own, terser); Traditional Chinese the same. Japanese
# and Korean mix in kana or hangul, which carry less each: 2.5 is a rough guess. Other
# scripts count 1 (Gale & Church: c ≈ 1 for English–French and English–German).
CJK_CHAR_LENGTH = {"zh": 3.5, "ja": 2.5, "ko": 2.5}
# Variance of the length difference per character: Gale & Church's s² = 6.8 (English–
# German/French sentences). Chinese–English paragraphs, counted as above, measured 3.1
# (tests/essays.py) and 3.3 (tests/translated_posts.py): 6.8 leaves room for freer
# translations and other language pairs.
VARIANCE = 6.8
# Prior probability of each kind of group. Gale & Church's, for sentences, are 0.89 (1–1),
# 0.089 (1–2, 2–1 together), 0.0099 (skips), 0.011 (2–2). Paragraphs are merged or split
# less often than sentences, and a post's translation drops an aside or adds a translator's
# note more often; 2–2 is left out (two 1–1 groups say the same).
PRIORS = {(1, 1): 0.86, (1, 2): 0.04, (2, 1): 0.04, (1, 0): 0.03, (0, 1): 0.03}
# Anchors: each one a group shares adds ANCHOR_BONUS nats to its log-probability (about a
# factor of 20: a 2-digit number, a URL or a piece of code on both sides is rarely chance);
# one present on only one side takes away ANCHOR_PENALTY (numbers are sometimes written out
# in words in a translation: a weak sign against). At most MAX_ANCHORS count each way.
ANCHOR_BONUS = 3.0
ANCHOR_PENALTY = 0.7
MAX_ANCHORS = 3
# A group is kept as a training pair when its posterior probability reaches this. On
# tests/translated_posts.py: 0.9 keeps 29 of 38 true groups, all right; 0.8 keeps 33, all
# right; 0.7 keeps 36 with one wrong. A wrong pair weighs 3× a synthetic one: stay high.
THRESHOLD = 0.9
# The dynamic program visits the cells within BAND·max(n, m) of the diagonal (at least
# MIN_BAND), so a long post costs O(n·band) time rather than O(n·m).
BAND = 0.1
MIN_BAND = 30

_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_SPACE = re.compile(r"\s+")
_LINK_TARGET = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*[\"'])?\s*\)")  # [text](url)
_HREF = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\"'\]]+", re.IGNORECASE)
_CODE = re.compile(r"(`+)(.+?)\1")


@dataclass(frozen=True)
class Group:
    """Paragraphs of the first text (`left`) matched with paragraphs of the second
    (`right`), by index; one side is empty for a paragraph the other text leaves out."""

    left: tuple[int, ...]
    right: tuple[int, ...]
    confidence: float  # posterior probability of this group, 0–1
    anchors: int = 0  # anchors found on both sides

    @property
    def kind(self) -> str:
        return f"{len(self.left)}-{len(self.right)}"


def anchors(text: str) -> Counter[str]:
    """What a translation keeps verbatim: link targets and URLs, inline code, and numbers
    of two characters or more ("2019", "3.5", "1,460" read as "1460")."""
    found: Counter[str] = Counter()
    for pattern in (_LINK_TARGET, _HREF, _URL):
        for match in pattern.finditer(text):
            found["url:" + (match.group(1) if pattern.groups else match.group(0))
                  .rstrip(".,;:!?。，").lower()] += 1
        text = pattern.sub(" ", text)
    found.update("code:" + m.group(2).strip() for m in _CODE.finditer(text))
    text = _CODE.sub(" ", text)
    found.update("n:" + n for n in guards.numbers(text) if len(n) >= 2)
    return found


def length(text: str, lang: str) -> float:
    """The length of a paragraph in English characters (see CJK_CHAR_LENGTH); link
    targets and inline code are left out (they are anchors, the same on both sides)."""
    for pattern in (_LINK_TARGET, _HREF, _URL, _CODE):
        text = pattern.sub(" ", text)
    text = _SPACE.sub("", text)
    cjk = len(_CJK_CHAR.findall(text))
    return cjk * CJK_CHAR_LENGTH.get(languages.family(lang), 1.0) + (len(text) - cjk)


def _log_two_tailed(delta: float) -> float:
    """log P(|N(0,1)| ≥ |delta|) = log erfc(|delta|/√2), without underflow."""
    x = abs(delta) / math.sqrt(2)
    if x < 25:
        return math.log(math.erfc(x))
    return -x * x - math.log(x * math.sqrt(math.pi))  # the asymptotic expansion of erfc


class _Scorer:
    """log-probability of a group: prior + Gale–Church length term + anchors."""

    def __init__(self, left: Sequence[str], left_lang: str, right: Sequence[str],
                 right_lang: str) -> None:
        self.left_len = [length(t, left_lang) for t in left]
        self.right_len = [length(t, right_lang) for t in right]
        self.left_anchors = [anchors(t) for t in left]
        self.right_anchors = [anchors(t) for t in right]
        self.left_has = [bool(a) for a in self.left_anchors]
        self.right_has = [bool(a) for a in self.right_anchors]
        self.log_prior = {bead: math.log(p) for bead, p in PRIORS.items()}

    def shared(self, i: int, di: int, j: int, dj: int) -> tuple[int, int]:
        """(anchors on both sides, anchors on one side only) of a 1–1, 1–2 or 2–1 group."""
        if not (di and dj) or not (self.left_has[i] or self.left_has[i + di - 1]
                                   or self.right_has[j] or self.right_has[j + dj - 1]):
            return 0, 0
        a, b = self.left_anchors[i:i + di], self.right_anchors[j:j + dj]
        left, right = sum(a, Counter()), sum(b, Counter())
        both = sum((left & right).values())
        return both, left.total() + right.total() - 2 * both

    def __call__(self, i: int, di: int, j: int, dj: int) -> float:
        score = self.log_prior[(di, dj)]
        if di and dj:
            l1 = self.left_len[i] + (self.left_len[i + 1] if di == 2 else 0.0)
            l2 = self.right_len[j] + (self.right_len[j + 1] if dj == 2 else 0.0)
            score += _log_two_tailed((l2 - l1) / math.sqrt(VARIANCE * max(
                (l1 + l2) / 2, 1.0)))
            both, one_side = self.shared(i, di, j, dj)
            score += ANCHOR_BONUS * min(both, MAX_ANCHORS)
            score -= ANCHOR_PENALTY * min(one_side, MAX_ANCHORS)
        return score


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def align(left: Sequence[str], left_lang: str, right: Sequence[str],
          right_lang: str) -> list[Group]:
    """The most probable chain of groups covering both lists in order, each group with its
    posterior probability. Deterministic; O(n·band) time."""
    left_lang, right_lang = languages.normalise(left_lang), languages.normalise(right_lang)
    n, m = len(left), len(right)
    if not n or not m:
        return ([Group((i,), (), 1.0) for i in range(n)]
                + [Group((), (j,), 1.0) for j in range(m)])
    score = _Scorer(left, left_lang, right, right_lang)
    # Wide enough that consecutive rows overlap however lopsided the two lists are.
    band = max(MIN_BAND, math.ceil(BAND * max(n, m)), math.ceil(m / n))

    def columns(i: int) -> range:
        centre = i * m / n
        return range(max(0, math.floor(centre) - band), min(m, math.ceil(centre) + band) + 1)

    neg = -math.inf
    forward = [[neg] * (m + 1) for _ in range(n + 1)]
    best = [[neg] * (m + 1) for _ in range(n + 1)]
    back: dict[tuple[int, int], tuple[int, int]] = {}
    beads: dict[tuple[int, int, int, int], float] = {}  # (i, j, di, dj) → log-probability
    forward[0][0] = best[0][0] = 0.0
    for i in range(n + 1):
        for j in columns(i):
            if i == j == 0:
                continue
            sums, top, top_bead = [], neg, None
            for di, dj in PRIORS:
                pi, pj = i - di, j - dj
                if pi < 0 or pj < 0 or forward[pi][pj] == neg:
                    continue
                p = beads[(pi, pj, di, dj)] = score(pi, di, pj, dj)
                sums.append(forward[pi][pj] + p)
                if best[pi][pj] + p > top:
                    top, top_bead = best[pi][pj] + p, (di, dj)
            if sums:
                forward[i][j] = _logsumexp(sums)
                best[i][j] = top
                back[(i, j)] = top_bead
    backward = [[neg] * (m + 1) for _ in range(n + 1)]
    backward[n][m] = 0.0
    for i in range(n, -1, -1):
        for j in reversed(columns(i)):
            if (i, j) == (n, m):
                continue
            nexts = [beads[(i, j, di, dj)] + backward[i + di][j + dj] for di, dj in PRIORS
                     if (i, j, di, dj) in beads]
            if nexts:
                backward[i][j] = _logsumexp(nexts)
    total = forward[n][m]
    groups: list[Group] = []
    i, j = n, m
    while (i, j) != (0, 0):
        di, dj = back[(i, j)]
        i, j = i - di, j - dj
        posterior = math.exp(forward[i][j] + beads[(i, j, di, dj)] + backward[i + di][j + dj]
                             - total)
        groups.append(Group(tuple(range(i, i + di)), tuple(range(j, j + dj)),
                            min(1.0, posterior), score.shared(i, di, j, dj)[0]))
    return groups[::-1]


def confident_pairs(groups: Sequence[Group], *,
                    threshold: float = THRESHOLD) -> tuple[list[Group], int]:
    """The 1–1, 1–2 and 2–1 groups whose confidence reaches `threshold`, and how many
    paragraphs of the first text (the writer's original) are in none of them."""
    kept = [g for g in groups if g.left and g.right and g.confidence >= threshold]
    total = sum(len(g.left) for g in groups)
    return kept, total - sum(len(g.left) for g in kept)


def published_pairs(original: list[str], original_lang: str, translation: list[str],
                    translation_lang: str, *,
                    threshold: float = THRESHOLD) -> tuple[list[dict], int]:
    """Training pairs from a post and its published translation: the translation's
    paragraph(s) are the input, the writer's original the output, weighted like a
    correction (both are the writer's own). Also: how many of the original's paragraphs
    were left out (no confident match)."""
    original_lang = languages.normalise(original_lang)
    translation_lang = languages.normalise(translation_lang)
    groups = align(original, original_lang, translation, translation_lang)
    kept, left_out = confident_pairs(groups, threshold=threshold)
    pairs = [{"origin": ORIGIN, "source_lang": translation_lang, "target_lang": original_lang,
              "source_text": "\n\n".join(translation[j] for j in g.right),
              "target_text": "\n\n".join(original[i] for i in g.left),
              "weight": CORRECTION_WEIGHT,
              "meta": {"original_paragraphs": list(g.left),
                       "translation_paragraphs": list(g.right),
                       "confidence": round(g.confidence, 4), "anchors": g.anchors}}
             for g in kept]
    return pairs, left_out
