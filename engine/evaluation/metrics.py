"""Prove it: how much a translation sounds like its user, and the failures to watch for.

Each measure compares a system's outputs on held-out pairs with the user's own text:

- **voice score** — a small classifier learnt from the user's paragraphs against their
  machine versions (character 1–3-gram TF-IDF + logistic regression; punctuation is
  normalised first, so quote style alone cannot win), reported as the mean probability
  "written by the user";
- **chrF++** (sacrebleu) against the user's original;
- **AI-tone markers** per 1,000 characters, from a lexicon learnt from the pairs by
  log-odds with an informative Dirichlet prior (Monroe et al., 2008);
- **collapse and run-on detectors** — number drift, length ratio, wrong language,
  repetition (a loop in the output, or the translator's repetition guard cut it), and
  "did not stop" (cut at the token budget); both read the translation's `stop_reason`.
"""

from __future__ import annotations

import math
import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field

from engine.corpus import lang as langdetect
from engine.pairs import filters
from engine.translation import guards
from engine.translation.guards import StopReason

# Quote and dash styles differ between people and machines in ways that are trivially
# learnable: fold them so the voice score must come from wording.
_FOLD = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "「": '"', "」": '"',
                       "『": '"', "』": '"', "‘": "'", "’": "'", "‚": "'", "—": "-",
                       "–": "-", "―": "-", "…": "...", "·": "."})
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*", re.UNICODE)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    return re.sub(r"\s+", " ", text).strip()


def terms(text: str) -> list[str]:
    """Words, or for CJK runs their characters and character bigrams (no word spaces)."""
    found: list[str] = []
    for word in _WORD.findall(normalise(text).lower()):
        if _CJK.search(word):
            found += list(word) + [word[i:i + 2] for i in range(len(word) - 1)]
        else:
            found.append(word)
    return found


class VoiceScorer:
    """P(written by the user) for a paragraph, learnt from the user's paragraphs against
    their machine versions."""

    def __init__(self, user_texts: list[str], machine_texts: list[str], *, seed: int = 0):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if len(user_texts) < 2 or len(machine_texts) < 2:
            raise ValueError("The voice score needs at least two texts on each side.")
        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3),
                                          sublinear_tf=True, preprocessor=normalise)
        features = self.vectorizer.fit_transform(user_texts + machine_texts)
        labels = [1] * len(user_texts) + [0] * len(machine_texts)
        self.model = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced",
                                        random_state=seed).fit(features, labels)

    def scores(self, texts: list[str]) -> list[float]:
        if not texts:
            return []
        return [float(p) for p in
                self.model.predict_proba(self.vectorizer.transform(texts))[:, 1]]


def chrf_pp(outputs: list[str], references: list[str]) -> float:
    """Corpus chrF++ (character n-grams plus word unigrams and bigrams), 0–100."""
    from sacrebleu.metrics import CHRF

    if not outputs:
        return 0.0
    return round(CHRF(word_order=2).corpus_score(outputs, [references]).score, 2)


@dataclass
class ToneLexicon:
    """Terms machines use far more than the user: z-scored log-odds, machine side."""

    markers: dict[str, float] = field(default_factory=dict)

    @classmethod
    def learn(cls, user_texts: list[str], machine_texts: list[str], *, z_min: float = 1.96,
              min_count: int = 2, prior_scale: float = 0.1) -> ToneLexicon:
        """`prior_scale`: the prior's weight as a share of the pooled counts (it keeps rare
        terms from looking extreme); a marker needs a z-score of at least `z_min`."""
        user = Counter(t for text in user_texts for t in terms(text))
        machine = Counter(t for text in machine_texts for t in terms(text))
        background = user + machine
        n_user, n_machine = sum(user.values()), sum(machine.values())
        a0 = prior_scale * sum(background.values())
        markers = {}
        for term, count in machine.items():
            if count < min_count:
                continue
            a = prior_scale * background[term]
            y_m, y_u = count, user.get(term, 0)
            delta = (math.log((y_m + a) / (n_machine + a0 - y_m - a))
                     - math.log((y_u + a) / (n_user + a0 - y_u - a)))
            z = delta / math.sqrt(1 / (y_m + a) + 1 / (y_u + a))
            if z >= z_min:
                markers[term] = round(z, 3)
        return cls(dict(sorted(markers.items(), key=lambda kv: -kv[1])))

    def hits(self, text: str) -> list[str]:
        return [t for t in terms(text) if t in self.markers]

    def per_1000(self, text: str) -> float:
        characters = len(normalise(text))
        return 1000 * len(self.hits(text)) / characters if characters else 0.0


def number_drift(source: str, output: str) -> bool:
    """Numbers of the source missing from the output (a changed fact)."""
    return filters.check_numbers(source, output) is not None


def repeats(output: str) -> bool:
    guard = guards.RepetitionGuard()
    return guard.feed(output)


def wrong_language(output: str, target: str) -> bool:
    if not output.strip():
        return True
    detected, _ = langdetect.detect(output)
    return detected is not None and detected.split("-")[0] != target.split("-")[0]


@dataclass
class Sample:
    source: str  # the machine text the system translated
    reference: str  # the user's own original
    output: str  # what the system wrote
    stop_reason: StopReason = StopReason.STOP  # the translation's (TranslationResult's)

    def __post_init__(self) -> None:
        self.stop_reason = StopReason(self.stop_reason)  # a stored "length" reads back too

    @property
    def stopped(self) -> bool:
        """False when generation hit the token limit (the "did not stop" detector)."""
        return self.stop_reason != StopReason.LENGTH

    @property
    def looped(self) -> bool:
        """The repetition guard cut it, or the output still holds a loop."""
        return self.stop_reason == StopReason.REPETITION or repeats(self.output)


@dataclass
class SystemScores:
    system: str
    samples: int
    voice: float
    chrf_pp: float
    tone_per_1000: float
    number_drift: float
    length_ratio: float
    wrong_language: float
    repetition: float
    no_stop: float
    per_sample: list[dict] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    # Where the held-out inputs come from, scored apart when there is more than one kind:
    # origin ("synthetic", "published-translation"…) → {"samples", "voice", "chrf_pp"}.
    by_origin: dict[str, dict] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def score_system(name: str, samples: list[Sample], *, target: str, voice: VoiceScorer,
                 tone: ToneLexicon) -> SystemScores:
    outputs = [s.output for s in samples]
    voice_scores = voice.scores(outputs)
    rows = []
    for sample, p_user in zip(samples, voice_scores, strict=True):
        rows.append({"voice": round(p_user, 4),
                     "tone_per_1000": round(tone.per_1000(sample.output), 2),
                     "tone_hits": tone.hits(sample.output),
                     "number_drift": number_drift(sample.source, sample.output),
                     "length_ratio": round(len(sample.output) / max(1, len(sample.reference)), 3),
                     "wrong_language": wrong_language(sample.output, target),
                     "repetition": sample.looped, "stopped": sample.stopped,
                     "stop_reason": str(sample.stop_reason)})

    def rate(key: str) -> float:
        return round(sum(bool(r[key]) for r in rows) / len(rows), 3) if rows else 0.0

    def mean(key: str) -> float:
        return round(statistics.fmean(r[key] for r in rows), 4) if rows else 0.0

    return SystemScores(system=name, samples=len(samples), voice=mean("voice"),
                        chrf_pp=chrf_pp(outputs, [s.reference for s in samples]),
                        tone_per_1000=mean("tone_per_1000"),
                        number_drift=rate("number_drift"), length_ratio=mean("length_ratio"),
                        wrong_language=rate("wrong_language"), repetition=rate("repetition"),
                        no_stop=round(sum(not r["stopped"] for r in rows) / len(rows), 3)
                        if rows else 0.0, per_sample=rows)


def split_by_origin(scores: SystemScores, samples: list[Sample],
                    origins: list[str]) -> None:
    """Fill `scores.by_origin` (when the inputs have more than one origin): voice and
    chrF++ on each kind of input apart — a synthesis model's text is not a person's."""
    if len(set(origins)) < 2:
        return
    for origin in sorted(set(origins)):
        picked = [i for i, o in enumerate(origins) if o == origin]
        scores.by_origin[origin] = {
            "samples": len(picked),
            "voice": round(statistics.fmean(scores.per_sample[i]["voice"] for i in picked), 4),
            "chrf_pp": chrf_pp([samples[i].output for i in picked],
                               [samples[i].reference for i in picked])}


# Overshoot: more "you" than you are, or drifting from what the source says.
# The user's own originals, scored like a system: the ceiling every system is read against.
# YOURS is its key in results and in the store (comparisons, blind trials): no model can be
# named so (registry.RESERVED_PREFIX); YOUR_TEXT is how it is shown (a reserved name too).
YOURS = "@yours"
YOUR_TEXT = "your own text"
VOICE_MARGIN = 0.15
MAX_NUMBER_DRIFT = 0.1
MAX_LENGTH_DRIFT = 0.35


def label(system: str) -> str:
    """How a system's key is shown: YOUR_TEXT for YOURS, a model or baseline name as it is."""
    return YOUR_TEXT if system == YOURS else system


def overshoot_flags(system: SystemScores, yours: SystemScores) -> list[str]:
    """Caricature, not voice: a voice score well above the user's own text, or outputs that
    drift from the source's content (numbers, length)."""
    flags = []
    if system.voice > yours.voice + VOICE_MARGIN:
        flags.append(f"voice score {system.voice:.2f} is well above your own text's "
                     f"{yours.voice:.2f}: caricature, not voice")
    if system.number_drift > MAX_NUMBER_DRIFT:
        flags.append(f"{system.number_drift:.0%} of paragraphs lost a number")
    if abs(system.length_ratio - 1) > MAX_LENGTH_DRIFT:
        flags.append(f"outputs are {system.length_ratio:.2f}× your length")
    for key, label in (("wrong_language", "in the wrong language"), ("repetition", "loop"),
                       ("no_stop", "did not stop")):
        if getattr(system, key) > 0:
            flags.append(f"{getattr(system, key):.0%} {label}")
    return flags
