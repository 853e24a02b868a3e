"""Translating documents with a real model: shape, streaming, guards, history, corrections."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.corpus import lang
from engine.errors import OwnVoiceError
from engine.pairs import corrections
from engine.translation import document, protect, registry
from engine.translation.backends import Backend, Sampling, Usage
from engine.translation.backends.llama import LlamaCppBackend
from engine.translation.guards import StopReason
from engine.translation.translate import Translator

LONG_DOC = """---
title: 周末
---

# Weekend notes

Good morning.

The weather is nice today, so we walked to the harbour.

- Where is the train station?
- I like green tea.

```bash
echo "code is never translated"
```

| city | km |
|------|----|
| Kyoto | 12 |

> I wrote this post to sort out my thoughts.

Thank you for reading.
"""


@pytest.fixture(scope="module")
def gemma_translator(gemma_file):
    backend = LlamaCppBackend(gemma_file)
    yield Translator(backend)
    backend.close()


def test_a_long_markdown_document_keeps_its_shape(gemma_translator):
    streamed = []
    result = gemma_translator.translate(LONG_DOC, source="en", target="zh",
                                        on_text=streamed.append)
    out = result.output
    assert out.startswith("---\ntitle: 周末\n---\n\n# ")
    assert '```bash\necho "code is never translated"\n```' in out
    # Table cells are translated one by one; the pipes, the delimiter row and "12" stay.
    assert re.search(r"\n\| [^|\n]+ \| [^|\n]+ \|\n\|------\|----\|\n\| [^|\n]+ \| 12 \|\n", out)
    assert "\n- " in out and "\n> " in out
    assert out.count("\n\n") == LONG_DOC.count("\n\n")
    assert len(result.units) == 11  # 7 paragraphs, 4 table cells
    prose = [u.output for u in result.units if u.source != "12"]
    assert all(prose), prose
    assert sum(lang.detect(p)[0] == "zh" for p in prose) >= 7  # a tiny model, mostly right
    assert "Good morning" not in out and "harbour" not in out
    # Streaming delivered the document in order: the same text, piece by piece.
    assert "".join(streamed).replace("。\n", "\n").replace("。", "") == \
        out.replace("。\n", "\n").replace("。", "")
    assert result.tokens_in > 0 and result.tokens_out > 0
    assert result.ttft_ms is not None and 0 < result.ttft_ms <= result.total_ms


@pytest.mark.parametrize("name", ["garden-log.md", "averages.md", "page.html"])
def test_the_handed_cases_keep_shape_and_protected_spans_with_the_embedded_model(
        gemma_translator, name):
    """Cases translate/05 (Hugo shortcodes, anchors) and 06 (math, footnotes, links), and an
    HTML page, through the real tiny model: whatever its wording, the document verifies —
    the same markup, blocks and protected spans — and what it could not keep is named."""
    path = Path(__file__).parent / "documents" / name
    doc = document.split(path.read_text(encoding="utf-8"), document.format_of(name))
    result = gemma_translator.translate(doc.text, source="en", target="zh",
                                        format=doc.format)
    assert doc.verify(result.output) is None
    changed = [u for u in result.units if u.output != u.source]
    assert changed and any(lang.detect(u.output)[0] == "zh" for u in changed)
    kept = [u for u in result.units if u.output == u.source and protect.mask(u.source).prose]
    assert len([w for w in result.warnings if "Kept untranslated" in w]) == len(kept)


def test_source_language_is_detected(gemma_translator):
    result = gemma_translator.translate("Good morning.", target="zh")
    assert result.source_lang == "en" and result.target_lang == "zh"
    # A normal answer: the model ended its turn itself.
    assert result.stop_reason == StopReason.STOP == result.units[0].stop_reason
    assert not result.cancelled


def test_nothing_to_translate_is_an_error(gemma_translator):
    with pytest.raises(OwnVoiceError, match="nothing to translate"):
        gemma_translator.translate("```\nonly code\n```", source="en", target="zh")


class LoopingModel(LlamaCppBackend):
    """The real Gemma, prompted so that it never stops: it continues "ha ha ha …"."""

    def prompt_tokens(self, request):
        return self.load().tokenize(b"ha ha ha ha ha ha ha ha ha ha ha ha", add_bos=True), []


class CountingModel(LlamaCppBackend):
    """The real Gemma continuing a count with no stop sequence: runs until the budget."""

    def prompt_tokens(self, request):
        return self.load().tokenize(b"1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,", add_bos=True), []


def test_a_model_that_loops_is_cut_off_with_a_warning(gemma_file):
    backend = LoopingModel(gemma_file)
    greedy = Sampling(temperature=0.0, repeat_penalty=1.0)  # nothing to hold the loop back
    result = Translator(backend, sampling=greedy).translate("Laughing all day.", source="en",
                                                            target="zh")
    backend.close()
    assert result.units[0].warnings[0] == ("The model started repeating itself; the loop was "
                                           "cut off.")
    assert result.output == "ha"  # one honest instance of the loop is kept
    assert result.tokens_out < 30  # stopped as soon as the loop was certain
    assert result.units[0].stop_reason == StopReason.REPETITION == result.stop_reason


def test_a_model_that_never_stops_is_cut_at_the_token_budget(gemma_file):
    backend = CountingModel(gemma_file)
    result = Translator(backend).translate("Count.", source="en", target="zh")
    backend.close()
    # Cut at the budget, twice (counting is no translation: tried again, then kept).
    assert result.units[0].warnings[0].startswith("Kept untranslated: the model returned no "
                                                  "words")
    assert result.tokens_out <= 2 * 60
    assert result.units[0].stop_reason == StopReason.LENGTH == result.stop_reason


def test_cancel_stops_between_tokens(gemma_file):
    backend = CountingModel(gemma_file)
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 3

    result = Translator(backend).translate("Count.\n\nSecond paragraph.", source="en",
                                           target="zh", cancelled=cancelled)
    backend.close()
    assert result.cancelled
    assert result.tokens_out <= 4
    assert result.units[1].output == ""  # never started
    assert result.stop_reason == StopReason.CANCELLED
    assert [u.stop_reason for u in result.units] == [StopReason.CANCELLED] * 2
    assert result.as_json()["stop_reason"] == "cancelled"


class Scripted(Backend):
    """A backend that streams fixed pieces, then reports the finish reason it is given, the
    way a server does (a raw string: "stop", "length", "content_filter"…)."""

    kind = "scripted"

    def __init__(self, pieces: list[str], finish: str | None):
        self.pieces, self.finish = pieces, finish

    def stream(self, request):
        yield from self.pieces
        if self.finish is not None:
            yield Usage(10, len(self.pieces), self.finish)


@pytest.mark.parametrize("pieces, finish, reason", [
    (["早上", "好。"], "stop", StopReason.STOP),
    (["早上", "好。"], None, StopReason.STOP),  # a stream that reports no usage
    (["早上", "好。"], "content_filter", StopReason.STOP),  # ended by the server, not run on
    (["早上好，", "今天", "天气"], "length", StopReason.LENGTH),
    (["早上好。"] + ["然后"] * 40, "stop", StopReason.REPETITION),  # the guard cuts first
])
def test_every_paragraph_says_why_it_stopped(pieces, finish, reason):
    result = Translator(Scripted(pieces, finish)).translate("Good morning.", source="en",
                                                            target="zh")
    assert result.units[0].stop_reason == reason == result.stop_reason
    assert isinstance(result.stop_reason, StopReason)
    assert result.as_json()["stop_reason"] == reason.value
    assert result.cancelled is (reason == StopReason.CANCELLED)


def test_a_cancel_is_a_reason_not_a_warning():
    result = Translator(Scripted(["早上", "好", "。"], "stop")).translate(
        "Good morning.\n\nThank you.", source="en", target="zh", cancelled=lambda: True)
    assert result.cancelled and result.stop_reason == StopReason.CANCELLED
    assert [u.stop_reason for u in result.units] == [StopReason.CANCELLED] * 2


def test_the_document_takes_its_worst_paragraphs_reason():
    class PerParagraph(Scripted):
        def __init__(self):
            self.finishes = iter(["stop", "length", "stop"])

        def stream(self, request):
            yield "一句话。"
            yield Usage(5, 1, next(self.finishes))

    result = Translator(PerParagraph()).translate("One.\n\nTwo.\n\nThree.", source="en",
                                                  target="zh")
    assert [u.stop_reason for u in result.units] == ["stop", "length", "stop"]
    assert result.stop_reason == StopReason.LENGTH and not result.cancelled


def test_history_ratings_and_corrections(store, default_model):
    row = registry.active(store)
    backend = registry.open_backend(row)
    result = Translator(backend).translate("Good morning.\n\nWhere is the train station?",
                                           source="en", target="zh")
    backend.close()
    history_id = store.add_translation(model_id=row["id"], model_name=row["name"],
                                       result=result)
    saved = store.translation(history_id)
    assert saved["source_text"] == "Good morning.\n\nWhere is the train station?"
    assert saved["output_text"] == result.output
    assert saved["model_name"] == "gemma-3-270m"
    assert saved["tokens_out"] == result.tokens_out and saved["total_ms"] > 0
    assert saved["settings"]["prompt_style"] == "completion"

    store.rate_translation(history_id, -1)
    assert store.translation(history_id)["rating"] == -1

    corrected = result.units[0].output + "\n\n火车站在哪儿呢？"
    pairs = corrections.correction_pairs(saved, corrected)
    store.correct_translation(history_id, corrected, pairs)
    stored = store.pairs(translation_id=history_id)
    assert [(p["origin"], p["source_text"], p["target_text"], p["weight"]) for p in stored] == [
        ("correction", "Where is the train station?", "火车站在哪儿呢？",
         corrections.CORRECTION_WEIGHT)]
    assert stored[0]["weight"] > 1.0 and stored[0]["split"] == "train"

    # Correcting again replaces the pairs of the first correction.
    store.correct_translation(history_id, "早安。\n\n车站在哪？",
                              corrections.correction_pairs(saved, "早安。\n\n车站在哪？"))
    assert [p["target_text"] for p in store.pairs(translation_id=history_id)] == [
        "早安。", "车站在哪？"]
    assert [r["id"] for r in store.translations(search="车站")] == [history_id]
    assert [r["id"] for r in store.translations(search="train station")] == [history_id]
    assert store.translations(search="不存在") == []


def test_a_correction_that_reshapes_the_text_is_one_pair():
    translation = {"units": [{"source": "A.", "output": "甲。"},
                             {"source": "B.", "output": "乙。"}],
                   "source_lang": "en", "target_lang": "zh", "source_text": "A.\n\nB.",
                   "output_text": "甲。\n\n乙。"}
    pairs = corrections.correction_pairs(translation, "甲乙。")
    assert [(p["source_text"], p["target_text"]) for p in pairs] == [("A.\n\nB.", "甲乙。")]


def test_word_diff_marks_what_changed():
    ops = corrections.word_diff("我们需要一些API来处理任务。", "我们需要几个 API 来处理任务。")
    assert corrections.render_diff(ops) == "我们需要[-一些-]{+几个 +}API{+ +}来处理任务。"
    english = corrections.word_diff("We need some APIs.", "We need a few APIs.")
    assert corrections.render_diff(english) == "We need [-some-]{+a few+} APIs."


class RecordingModel(LlamaCppBackend):
    """The real Gemma; remembers the language pair of every request it gets."""

    def __init__(self, path):
        super().__init__(path)
        self.asked: list[str] = []

    def stream(self, request):
        self.asked.append(request.prompt or request.messages[-1]["content"])
        yield from super().stream(request)


def test_each_paragraph_is_translated_from_its_own_language(gemma_file):
    """Case hardening/14: Arabic, Hebrew and English paragraphs into English. Without a
    source language each paragraph is detected on its own: the Arabic and Hebrew ones are
    translated from Arabic and Hebrew, the English one is kept as it is (not refused)."""
    text = ("أين محطة القطار؟ 🚆 نريد أن نصل قبل الظهر.\n\n"
            "נפגשים מחר בשעה 10:00 ליד הספרייה, אחרי השיעור 📚\n\n"
            "The build passed after the fix in version 2.1, and we went home early.\n")
    backend = RecordingModel(gemma_file)
    result = Translator(backend).translate(text, target="en")
    backend.close()
    assert len(backend.asked) == 2  # the English paragraph never went to the model
    # Paragraphs are decoded side by side, so the order of the requests is not fixed:
    # each prompt is told by its paragraph, and names that paragraph's own language.
    arabic = next(p for p in backend.asked if "محطة القطار" in p)
    hebrew = next(p for p in backend.asked if "הספרייה" in p)
    assert "Arabic: أين" in arabic and "Hebrew: נפגשים" in hebrew
    assert "Hebrew: נפגשים" not in arabic and "Arabic: أين" not in hebrew
    kept = result.units[2]
    assert kept.output == kept.source and "Already in English" in kept.warnings[0]
    assert result.output.rstrip().endswith("we went home early.")
    with pytest.raises(OwnVoiceError, match="already in English"):
        Translator(backend).translate("Only English here, in two lines.\n\nAnd more.",
                                      target="en")
