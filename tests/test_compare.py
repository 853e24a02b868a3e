"""`ownvoice compare` on a real imported corpus with synthetic pairs: real models (the
embedded Gemma, SmolLM2 as the instruction model for the baselines), every metric per
system, stored, and an HTML report a browser can read."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from engine.evaluation import baselines, compare
from engine.translation import prompts
from tests.conftest import run_ownvoice
from tests.essays import machine_english, write_essays
from tests.openai_fake import FakeOpenAI

METRICS = {"voice", "chrf_pp", "tone_per_1000", "length_ratio", "number_drift",
           "wrong_language", "repetition", "no_stop"}


def corpus_with_pairs(tmp_path):
    run_ownvoice("import", str(write_essays(tmp_path / "essays")))
    with FakeOpenAI(reply=machine_english) as fake:
        run_ownvoice("synth", "--base-url", fake.url, "--model", "gpt-4o-mini", "--lang", "zh",
                     "--into", "en", "--styles", "1", "--yes")


def test_compare_writes_every_metric_for_every_system(store, default_model, smol_file,
                                                      tmp_path):
    corpus_with_pairs(tmp_path)
    run_ownvoice("models", "add", str(smol_file), "--name", "smol")
    report = tmp_path / "report.html"
    out = json.loads(run_ownvoice("compare", "--models", "gemma-3-270m,smol", "--baselines",
                                  "--limit", "2", "--calibration", "6", "--report",
                                  str(report), "--json",
                                  timeout=900).stdout)
    systems = {s["system"]: s for s in out["systems"]}
    assert set(systems) == {"gemma-3-270m", "smol", compare.YOURS,
                            *(f"{kind} (smol)" for kind in baselines.BASELINES)}
    for scores in systems.values():
        assert set(scores) >= METRICS and scores["samples"] == out["paragraphs"] == 2
        assert 0 <= scores["voice"] <= 1
    yours = systems[compare.YOURS]
    assert yours["label"] == "your own text"
    assert yours["chrf_pp"] == 100.0 and yours["length_ratio"] == 1.0
    assert yours["voice"] > systems["prompt (smol)"]["voice"]  # the judge knows you
    assert yours["flags"] == [] and isinstance(systems["smol"]["flags"], list)

    html = report.read_text("utf-8")
    HTMLParser().feed(html)  # well-formed enough to parse
    assert "<table>" in html and "Your original" in html and "Voice score" in html
    assert html.count("class=para") == 2
    stored = store.comparison(out["comparison"])
    assert stored["report_path"] == str(report)
    assert len(stored["outputs"]) == 2 * len(systems)
    assert {m["system"] for m in stored["metrics"]} == set(systems)


def test_baselines_build_the_prompts_they_promise():
    from engine.translation.backends import Backend

    class Chat(Backend):
        kind = "test"

        def stream(self, request):
            yield from ()

    train = [{"source_text": f"Sentence number {i} about trains.", "target_text": f"句子{i}"}
             for i in range(6)] + [{"source_text": "My mother sends voice messages.",
                                    "target_text": "我妈发语音。"}]
    retrieved = baselines.translator("fewshot-retrieved", Chat(), train)
    messages = retrieved.request_for("Mother and her voice messages", "en", "zh").messages
    assert messages[1]["content"] == "My mother sends voice messages."
    assert messages[2] == {"role": "assistant", "content": "我妈发语音。"}
    assert messages[-1]["content"] == "Mother and her voice messages"
    styled = baselines.translator("style-prompt", Chat(), train)
    assert "personal blog" in styled.request_for("x", "en", "zh").messages[0]["content"]
    fixed = baselines.translator("fewshot-random", Chat(), train)
    first = fixed.request_for("a", "en", "zh").messages
    assert len(first) == 2 + 2 * baselines.EXAMPLES
    assert first[:-1] == fixed.request_for("b", "en", "zh").messages[:-1]  # fixed examples
    # The retry of a paragraph that lost its placeholders asks every baseline to keep them.
    strict = retrieved.request_for("Run ⟦1⟧ now", "en", "zh", strict=True)
    assert strict.messages[0]["content"].endswith(prompts.KEEP_MARKERS)
    assert strict.messages[1:] == retrieved.request_for("Run ⟦1⟧ now", "en", "zh").messages[1:]
    assert strict.sampling.temperature == 0.0


def test_did_not_stop_is_read_from_the_stop_reason_not_the_warning_text():
    from engine.translation.guards import StopReason
    from engine.translation.translate import TranslationResult, UnitResult

    class Canned:
        """A translator whose results say one thing in their field, another in their text."""

        def __init__(self, results):
            self.results = iter(results)

        def translate(self, text, *, source, target):
            reason, warning = next(self.results)
            return TranslationResult(
                source_text=text, output="译文。", source_lang=source, target_lang=target,
                units=[UnitResult(text, "译文。", [warning], stop_reason=reason)], tokens_in=1,
                tokens_out=1, ttft_ms=1.0, total_ms=1.0, warnings=[warning], settings={},
                stop_reason=reason)

    pairs = [{"source_text": f"Paragraph {i}.", "target_text": "原文。"} for i in range(3)]
    translator = Canned([
        (StopReason.LENGTH, "Ran out of room before it finished."),  # reworded: no "did not"
        (StopReason.STOP, "Quoted: 'the model did not stop' is a phrase in the text."),
        (StopReason.REPETITION, "Looped."),
    ])
    samples = compare._run(translator, pairs, source="en", target="zh", tick=lambda: None,
                           cancelled=None)
    assert [s.stop_reason for s in samples] == ["length", "stop", "repetition"]
    assert [s.stopped for s in samples] == [False, True, True]
    assert [s.looped for s in samples] == [False, False, True]


def test_a_report_that_cannot_be_written_loses_no_translation(store, default_model, smol_file,
                                                             tmp_path):
    """The results are saved before the report is written: a failed write is one line and
    the comparison is still there."""
    corpus_with_pairs(tmp_path)
    run_ownvoice("models", "add", str(smol_file), "--name", "smol")
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    result = run_ownvoice("compare", "--models", "smol", "--limit", "1", "--calibration", "4",
                          "--report", str(blocked / "report.html"), check=False, timeout=900)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Comparison 1 is saved, but its report was not written" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    comparison = store.comparison(1)
    assert {o["system"] for o in comparison["outputs"]} >= {"smol"}
    assert not list(tmp_path.rglob("*.part"))


def test_a_model_named_like_another_system_is_refused_before_any_work(store, default_model):
    """A model called like a baseline of the run would silently replace it in the results."""
    from engine.errors import OwnVoiceError
    from engine.translation import registry

    registry.add(store, "openai:reference", base_url="http://127.0.0.1:9/v1", name="ref")
    registry.add(store, "openai:other", base_url="http://127.0.0.1:9/v1", name="prompt (ref)")
    with pytest.raises(OwnVoiceError, match="'prompt \\(ref\\)' has the name this comparison "
                                            "gives to another system"):
        compare.run(store, model_names=["prompt (ref)"], with_baselines=True,
                    baseline_model="ref")
    assert store.latest_comparison_id() is None
