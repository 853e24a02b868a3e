"""Translating documents with a real model: shape, streaming, guards, history, corrections."""

from __future__ import annotations

import pytest

from engine import corrections, models
from engine.backends import Sampling
from engine.backends.llama import LlamaCppBackend
from engine.corpus import lang
from engine.errors import OwnVoiceError
from engine.translate import Translator

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
    assert "| city | km |\n|------|----|\n| Kyoto | 12 |" in out
    assert "\n- " in out and "\n> " in out
    assert out.count("\n\n") == LONG_DOC.count("\n\n")
    assert len(result.units) == 7
    prose = [u.output for u in result.units]
    assert all(prose), prose
    assert sum(lang.detect(p)[0] == "zh" for p in prose) >= 5  # a tiny model, mostly right
    assert "Good morning" not in out and "harbour" not in out
    # Streaming delivered the document in order: the same text, piece by piece.
    assert "".join(streamed).replace("。\n", "\n").replace("。", "") == \
        out.replace("。\n", "\n").replace("。", "")
    assert result.tokens_in > 0 and result.tokens_out > 0
    assert result.ttft_ms is not None and 0 < result.ttft_ms <= result.total_ms


def test_source_language_is_detected(gemma_translator):
    result = gemma_translator.translate("Good morning.", target="zh")
    assert result.source_lang == "en" and result.target_lang == "zh"


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


def test_a_model_that_never_stops_is_cut_at_the_token_budget(gemma_file):
    backend = CountingModel(gemma_file)
    result = Translator(backend).translate("Count.", source="en", target="zh")
    backend.close()
    assert result.units[0].warnings[0].startswith("The model did not stop")
    assert result.tokens_out <= 60


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


def test_history_ratings_and_corrections(store, default_model):
    row = models.active(store)
    backend = models.open_backend(row)
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
