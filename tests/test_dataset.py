"""Dataset export: chat JSONL for the trainer, OpenAI's format for the pilot, and stats."""

from __future__ import annotations

import json

import pytest

from engine.corpus.importer import import_paths
from engine.errors import OwnVoiceError
from engine.pairs import dataset
from engine.translation import prompts
from tests.conftest import run_ownvoice


def make_pairs(store, blog) -> list[dict]:
    import_paths(store, [blog])
    segments = store.synth_candidates(user_lang="zh")
    for i, segment in enumerate(segments):
        store.add_synthetic_pair(
            segment_id=segment["id"], style="plain", source_text=f"Machine version {i}.",
            target_text=segment["text"], source_lang="en", target_lang="zh",
            split=("train", "val", "test")[i % 3], model="m", cost_usd=0.001,
            reject_reason="wrong language (Chinese, not English)" if i == 1 else None)
    store.correct_translation(_translation(store), "我改好的译文。", [{
        "source_lang": "en", "target_lang": "zh", "source_text": "My source.",
        "target_text": "我改好的译文。", "weight": 3.0}])
    return segments


def _translation(store) -> int:
    from engine.translation.translate import TranslationResult, UnitResult

    result = TranslationResult(source_text="My source.", output="我的源。", source_lang="en",
                               target_lang="zh", units=[UnitResult("My source.", "我的源。")],
                               tokens_in=1, tokens_out=1, ttft_ms=1, total_ms=2, warnings=[],
                               settings={})
    return store.add_translation(model_id=None, model_name="m", result=result)


def test_chat_export_uses_the_inference_prompt_and_keeps_weights(store, blog, tmp_path):
    segments = make_pairs(store, blog)
    report = dataset.export(store, split="train", fmt="chat", out=tmp_path / "train.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    train_kept = len([i for i in range(len(segments)) if i % 3 == 0 and i != 1])
    assert report.pairs == train_kept + 1 == len(lines)  # + the correction
    first = lines[0]
    assert first["messages"][:2] == prompts.chat_messages("Machine version 0.", "en", "zh",
                                                          voice=True)
    assert first["messages"][0]["content"] == "English → Chinese"  # the direction, no more
    assert first["messages"][2] == {"role": "assistant", "content": segments[0]["text"]}
    assert first["weight"] == 1.0 and first["origin"] == "synthetic"
    correction = lines[-1]
    assert correction["weight"] == 3.0 and correction["origin"] == "correction"
    assert not (tmp_path / "train.jsonl.part").exists()


def test_openai_export_passes_the_format_checks(store, blog, tmp_path):
    make_pairs(store, blog)
    out = tmp_path / "openai.jsonl"
    report = dataset.export(store, split="train", fmt="openai", out=out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(set(r) == {"messages"} for r in records)
    assert report.examples == report.pairs + 2  # the correction appears 3 times
    assert dataset.validate_openai(out, min_examples=1) == []
    assert dataset.validate_openai(out) == [f"{report.examples} example(s): OpenAI needs at "
                                            "least 10"]


def test_the_format_checks_catch_what_openai_would_refuse(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([
        "not json",
        json.dumps({"prompt": "old completion format"}),
        json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
        json.dumps({"messages": [{"role": "robot", "content": "x"},
                                 {"role": "assistant", "content": ""}]}),
        json.dumps({"messages": [{"role": "assistant", "content": "ok", "extra": 1}],
                    "weight": 2}),
    ]))
    problems = dataset.validate_openai(bad, min_examples=1)
    assert "line 1: not JSON (Expecting value)" in problems
    assert "line 2: no 'messages' list" in problems
    assert "line 3: no assistant message" in problems
    assert "line 4: unknown role 'robot'" in problems
    assert "line 4: empty assistant content" in problems
    assert "line 5: unexpected keys ['weight']" in problems
    assert "line 5: unexpected message keys ['extra']" in problems


def test_splits_follow_documents_and_exclusions_hold(store, blog, tmp_path):
    segments = make_pairs(store, blog)
    store.set_excluded("segments", segments[0]["id"], True)
    train = store.training_pairs(split="train")
    assert segments[0]["id"] not in {p["segment_id"] for p in train}
    val = store.training_pairs(split="val")
    assert {p["segment_id"] for p in val} <= {s["id"] for i, s in enumerate(segments)
                                             if i % 3 == 1}
    with pytest.raises(OwnVoiceError, match="No test pairs"):
        store.conn.execute("DELETE FROM pairs WHERE split = 'test'")
        dataset.export(store, split="test", fmt="chat", out=tmp_path / "t.jsonl")


def test_stats_and_the_cli(store, blog, tmp_path):
    make_pairs(store, blog)
    stats = dataset.stats(store)
    assert stats["splits"]["train"]["pairs"] > 0 and stats["rejected"] == 1
    one, three = stats["openai_fine_tune_usd"]["1_epochs"], stats["openai_fine_tune_usd"][
        "3_epochs"]
    assert three == pytest.approx(3 * one, abs=2e-4) and one > 0  # each rounded to 4 places
    out = json.loads(run_ownvoice("dataset", "export", "--format", "openai", "--out",
                                  str(tmp_path / "x.jsonl"), "--json").stdout)
    assert out["examples"] > 0 and out["problems"] == (  # OpenAI wants 10 to train on
        [] if out["examples"] >= 10 else [f"{out['examples']} example(s): OpenAI needs at "
                                          "least 10"])
    human = run_ownvoice("dataset", "stats").stdout
    assert "train" in human and "OpenAI fine-tune of gpt-4o-mini-2024-07-18" in human


def test_jsonl_records_stay_one_line_for_every_line_reader(store, tmp_path):
    """Shared case hardening/10: a correction pasted with U+2028 (from Word) and U+0085; six
    examples, fewer than OpenAI's ten, get a warning."""
    import codecs

    from engine import events

    for text in ("第一行\u2028第二行。", "下一段\u0085还在同一段。"):
        store.correct_translation(_translation(store), text, [{
            "source_lang": "en", "target_lang": "zh", "source_text": "My source.",
            "target_text": text, "weight": 3.0}])
    out = tmp_path / "openai-train.jsonl"
    result = run_ownvoice("dataset", "export", "--format", "openai", "--split", "train",
                          "--out", str(out))
    assert "OpenAI needs at least 10" in result.stderr
    raw = out.read_text(encoding="utf-8")
    with codecs.open(str(out), encoding="utf-8") as reader:
        codec_lines = list(reader)
    for lines in (raw.splitlines(), codec_lines):
        records = [json.loads(line) for line in lines if line.strip()]
        assert len(records) == 6  # two corrections, each three times (their weight)
    texts = {r["messages"][-1]["content"] for r in records}
    assert texts == {"第一行\u2028第二行。", "下一段\u0085还在同一段。"}  # the same text, escaped
    logged = events.encode(events.Log(message="a\u2028b", step=1))
    assert len(logged.splitlines()) == 1 and events.decode(logged).message == "a\u2028b"


def test_a_disk_that_fills_up_mid_export_leaves_nothing_half_written(store, blog, tmp_path):
    """A real write failure: the export runs under a file-size limit (RLIMIT_FSIZE; Python
    ignores SIGXFSZ, so a write past it fails with EFBIG, the way a full disk fails with
    ENOSPC). One line, no `.part` left, the earlier dataset untouched."""
    import resource
    import subprocess

    from tests.conftest import BIN

    make_pairs(store, blog)
    out = tmp_path / "train.jsonl"
    out.write_text("the dataset exported yesterday\n")
    fresh = dataset.export(store, split="train", fmt="chat", out=tmp_path / "fresh.jsonl")
    limit = 1000  # bytes per file written (reading the larger database is not writing)
    assert (tmp_path / "fresh.jsonl").stat().st_size > limit and fresh.examples > 1

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run([str(BIN / "ownvoice"), "dataset", "export", "--split", "train",
                             "--format", "chat", "--out", str(out)], capture_output=True,
                            text=True, preexec_fn=small_disk, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: There is no room to write"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert out.read_text() == "the dataset exported yesterday\n"
    assert not list(tmp_path.glob("*.part"))


def test_an_export_into_a_path_that_cannot_be_a_folder_is_one_line(store, blog, tmp_path):
    make_pairs(store, blog)
    blocker = tmp_path / "a file"
    blocker.write_text("")
    with pytest.raises(OwnVoiceError, match="Writing .*train.jsonl failed"):
        dataset.export(store, split="train", fmt="chat", out=blocker / "train.jsonl")
