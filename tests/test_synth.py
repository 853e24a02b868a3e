"""Reverse synthesis against a real OpenAI-compatible server on loopback (llama.cpp serving
SmolLM2): pairs, filters, resuming after kill -9 with an exact count."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from engine.corpus.importer import import_paths
from engine.llm import LLMClient
from engine.pairs import filters, synthesis
from engine.translation import guards
from tests.conftest import BIN, ROOT
from tests.llama_server import LlamaServer
from tests.openai_fake import FakeOpenAI


@pytest.fixture(scope="module")
def server(smol_file):
    with LlamaServer(smol_file, alias="smol") as running:
        yield running


@pytest.mark.parametrize("original, output, reason", [
    ("我们在2023年卖了1,200台。", "We sold 1200 units in 2023.", None),
    ("我们在2023年卖了1200台。", "We sold many units last year.",
     "numbers not preserved (kept 0 of 2)"),
    ("我们在２０２３年卖了很多。", "We sold a lot in 2023.", None),  # full-width digits
])
def test_numbers_must_survive(original, output, reason):
    assert filters.check_numbers(original, output) == reason


def test_review_rejects_what_is_not_a_translation():
    zh = "今天天气很好，我们走到了港口，看了很久的船，然后回家吃饭。"
    good = "The weather was nice today, so we walked to the harbour and watched the boats."
    assert filters.review(zh, "Here is the translation: " + good, user_lang="zh",
                                into="en", others={}) == (good, None)
    assert filters.review(zh, zh, user_lang="zh", into="en", others={})[1] == (
        "wrong language (Chinese, not English)")
    assert filters.review(zh, "I'm sorry, I cannot translate this text for you today.",
                                user_lang="zh", into="en", others={})[1] == (
        "the model refused or chatted instead of translating")
    assert filters.review(zh, "Nice.", user_lang="zh", into="en", others={})[1].startswith(
        "length ratio out of range")
    assert filters.review(zh, good, user_lang="zh", into="en",
                                others={"plain": good + " "})[1] == (
        "near-duplicate of the plain version")


def test_pairs_from_a_fake_endpoint_are_stored_with_everything(store, blog):
    import_paths(store, [blog])
    english = {"plain": "The weather is fine and we walk to the station, ten minutes away.",
               "formal": "The railway station is located a mere ten minutes' walk from home."}

    def reply(messages):
        return english["formal" if "formal" in messages[0]["content"] else "plain"]

    with FakeOpenAI(reply=reply, prompt_tokens=100, completion_tokens=50) as fake:
        client = LLMClient(model="gpt-4o-mini", base_url=fake.url, concurrency=2)
        config = synthesis.SynthConfig(user_lang="zh", into="en", styles=["plain", "formal"],
                                   limit=3)
        report = synthesis.run(store, client, config)
        client.close()
    assert (report.planned, report.done) == (6, 6)
    assert report.kept + report.rejected == 6
    assert report.cost_usd == pytest.approx(6 * (100 * 0.15 + 50 * 0.6) / 1e6)
    rows = store.pairs(origin="synthetic")
    assert len(rows) == 6
    first = rows[0]
    segment = store.conn.execute("SELECT text FROM segments WHERE id = ?",
                                 (first["segment_id"],)).fetchone()[0]
    assert first["target_text"] == segment  # the user's own words are the answer
    assert (first["source_lang"], first["target_lang"], first["model"]) == ("en", "zh",
                                                                           "gpt-4o-mini")
    assert {r["style"] for r in rows} == {"plain", "formal"}
    again = synthesis.plan(store, config)
    assert again == ([], 6, 0)


def test_synthesis_against_a_real_server(store, blog, server):
    import_paths(store, [blog])
    client = LLMClient(model="smol", base_url=server.url, concurrency=2)
    config = synthesis.SynthConfig(user_lang="zh", into="en", styles=["plain"], limit=2)
    report = synthesis.run(store, client, config)
    client.close()
    assert report.done == 2 and report.failed == 0
    rows = store.pairs(origin="synthetic")
    assert len(rows) == 2
    assert all(r["source_text"] for r in rows)
    assert all((r["status"] == "ok") == (r["reject_reason"] is None) for r in rows)
    assert report.pairs_per_minute > 0


def test_kill_9_halfway_then_resume_gives_an_exact_count(blog, server, ownvoice_home):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([str(BIN / "ownvoice"), "import", str(blog)], env=env, check=True,
                   capture_output=True)
    args = [str(BIN / "ownvoice"), "synth", "--base-url", server.url, "--model", "smol",
            "--lang", "zh", "--into", "en", "--styles", "2", "--limit", "4",
            "--concurrency", "1", "--json"]
    db = ownvoice_home / "ownvoice.db"

    def count() -> int:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM pairs").fetchone()[0]

    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while count() < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = count()
    assert 2 <= killed_at < 8

    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["already"] == killed_at
    assert report["done"] == 8 - killed_at
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM pairs").fetchone()[0] == 8
        assert conn.execute("SELECT COUNT(DISTINCT segment_id || style) FROM pairs"
                            ).fetchone()[0] == 8


def test_batch_mode_sends_once_and_collects_later(blog, ownvoice_home):
    from tests.conftest import run_ownvoice

    run_ownvoice("import", str(blog))
    english = ("The station is ten minutes from my home, so I walk there every single day "
               "without thinking about it.")
    with FakeOpenAI(reply=lambda messages: english, prompt_tokens=200,
                    completion_tokens=100) as fake:
        args = ("synth", "--batch", "--base-url", fake.url, "--model", "gpt-4o-mini",
                "--lang", "zh", "--into", "en", "--styles", "2", "--limit", "3", "--yes",
                "--json")
        first = json.loads(run_ownvoice(*args).stdout)
        assert first["collected"] == [] and first["submitted"]["requests"] == 6
        (batch,) = fake.batches.values()
        assert batch["endpoint"] == "/v1/chat/completions"
        assert batch["completion_window"] == "24h"
        (upload,) = [f for f in fake.files.values() if f["purpose"] == "batch"]
        lines = [json.loads(line) for line in upload["content"].decode().splitlines()]
        assert lines[0]["url"] == "/v1/chat/completions" and lines[0]["method"] == "POST"
        assert lines[0]["custom_id"].startswith("seg-")

        second = json.loads(run_ownvoice(*args).stdout)  # still in progress: nothing resent
        assert (second["collected"][0]["status"],
                second["collected"][0]["provider_status"]) == ("running", "in_progress")
        assert second["submitted"] is None and len(fake.batches) == 1
        direct = json.loads(run_ownvoice("synth", "--base-url", fake.url, "--model",
                                         "gpt-4o-mini", "--lang", "zh", "--into", "en",
                                         "--styles", "2", "--limit", "3", "--yes",
                                         "--json").stdout)
        assert direct["planned"] == 0  # the direct mode does not duplicate the batch either

        third = json.loads(run_ownvoice(*args).stdout)
        report = third["collected"][0]["report"]
        assert (third["collected"][0]["status"],
                third["collected"][0]["provider_status"]) == ("done", "completed")
        assert report["done"] == 6 and report["kept"] + report["rejected"] == 6
        # Half price: 6 requests × (200 × $0.15 + 100 × $0.60) / 1M / 2.
        assert report["cost_usd"] == pytest.approx(6 * (200 * 0.15 + 100 * 0.6) / 1e6 / 2)
        assert third["submitted"] is None
    stats = json.loads(run_ownvoice("dataset", "stats", "--json").stdout)
    assert stats["by_origin"].get("synthetic/ok", 0) + stats["rejected"] == 6


def test_a_paragraph_too_long_for_one_request_is_left_out_not_sent(store, tmp_path):
    """The same ceiling as translation: no request with a budget of millions of tokens."""
    posts = tmp_path / "posts"
    posts.mkdir()
    sentence = "今天天气很好，我们走到了港口，看了很久的船，然后回家吃饭。"
    (posts / "short.md").write_text(f"# 短文\n\n{sentence}\n", encoding="utf-8")
    (posts / "huge.md").write_text("# 长文\n\n" + sentence * 3000 + "\n", encoding="utf-8")
    import_paths(store, [posts])
    config = synthesis.SynthConfig(user_lang="zh", into="en", styles=["plain"])
    planned = synthesis.plan(store, config)
    assert planned.too_long == 1 and len(planned.todo) == 1
    with FakeOpenAI(reply=lambda m: "The weather is fine; we walked to the harbour.") as fake:
        client = LLMClient(model="gpt-4o-mini", base_url=fake.url, concurrency=1)
        report = synthesis.run(store, client, config)
        client.close()
    assert report.too_long == 1 and report.done == 1
    budgets = [r["body"]["max_tokens"] for r in fake.requests if "body" in r]
    assert len(budgets) == 1 and budgets[0] < guards.REQUEST_TOKEN_CEILING
