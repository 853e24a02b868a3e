"""The OpenAI fine-tuning pilot, end to end against a local stand-in that follows OpenAI's
documented schemas (files, fine_tuning.jobs, events, checkpoints, chat completions)."""

from __future__ import annotations

import json

import pytest

from engine.corpus.importer import import_paths
from engine.errors import OwnVoiceError
from engine.pairs import pilot
from tests.conftest import run_ownvoice
from tests.openai_fake import FakeOpenAI


def make_pairs(store, blog, styles=("plain", "formal"), limit=None) -> int:
    import_paths(store, [blog])
    count = 0
    for segment in store.synth_candidates(user_lang="zh", limit=limit):
        for style in styles:
            store.add_synthetic_pair(
                segment_id=segment["id"], style=style, source_text=f"{style}: {segment['id']}",
                target_text=segment["text"], source_lang="en", target_lang="zh",
                split=segment["split"], model="m", cost_usd=0.0, reject_reason=None)
            count += 1
    return count


def test_from_upload_to_a_usable_model_in_the_registry(store, blog, default_model):
    make_pairs(store, blog)
    with FakeOpenAI(reply=lambda messages: "我的声音。") as fake:
        started = json.loads(run_ownvoice(
            "pilot", "start", "--on", "openai", "--pairs", "12", "--epochs", "2",
            "--base-url", fake.url, "--yes", "--json").stdout)
        assert (started["status"], started["provider_status"]) == ("queued",
                                                                   "validating_files")
        assert started["plan"]["examples"] == 12
        assert started["plan"]["estimated_cost_usd"] > 0
        (uploaded,) = fake.files.values()
        lines = uploaded["content"].decode().splitlines()
        assert uploaded["purpose"] == "fine-tune" and len(lines) == 12
        assert json.loads(lines[0])["messages"][0]["role"] == "system"
        (job,) = fake.jobs.values()
        assert job["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2

        states = [json.loads(run_ownvoice("pilot", "status", "--json").stdout)
                  for _ in range(3)]
        assert [(s["status"], s["provider_status"]) for s in states] == [
            ("queued", "queued"), ("training", "running"), ("done", "succeeded")]
        final = states[-1]
        assert final["fine_tuned_model"].startswith("ft:gpt-4o-mini-2024-07-18:")
        assert [(c["step"], c["train_loss"]) for c in final["checkpoints"]] == [(10, 1.9),
                                                                                 (20, 1.2)]
        assert final["events"][-1]["message"] == "The job has successfully completed"
        human = run_ownvoice("pilot", "status").stdout
        assert "Pilot 1 (ftjob-0001): done (OpenAI: succeeded)" in human
        assert "checkpoint step 20: train loss 1.2, validation loss 1.3" in human

        run_ownvoice("pilot", "use", "--activate")
        listed = {m["name"]: m for m in
                  json.loads(run_ownvoice("models", "list", "--json").stdout)}
        pilot = listed["pilot-1"]
        assert (pilot["origin"], pilot["model_id"], pilot["active"]) == (
            "openai-fine-tuned", final["fine_tuned_model"], True)
        assert pilot["job_id"] == 1 and pilot["endpoint"] == fake.url

        translated = json.loads(run_ownvoice("translate", "--text", "Good morning.", "--to",
                                             "zh", "--json").stdout)
        assert translated["model"] == "pilot-1" and translated["output"] == "我的声音。"
        chat = [r for r in fake.requests if r["path"].endswith("/chat/completions")][-1]
        assert chat["body"]["model"] == final["fine_tuned_model"]
        # The model is prompted as it was trained: the short voice prompt, nothing more.
        assert chat["body"]["messages"][0] == {"role": "system", "content": "English → Chinese"}


def test_a_checkpoint_can_be_used_instead(store, blog, default_model):
    make_pairs(store, blog)
    with FakeOpenAI() as fake:
        run_ownvoice("pilot", "start", "--on", "openai", "--pairs", "10", "--base-url", fake.url,
                     "--yes")
        for _ in range(2):
            run_ownvoice("pilot", "status")
        run_ownvoice("pilot", "use", "--checkpoint", "10")
        models = {m["name"]: m for m in
                  json.loads(run_ownvoice("models", "list", "--json").stdout)}
    assert models["pilot-1-checkpoint"]["model_id"].endswith(":ckpt-step-10")


def test_spending_needs_a_yes_and_too_few_pairs_are_refused(store, blog, tmp_path):
    make_pairs(store, blog, styles=("plain",), limit=9)  # fewer than OpenAI's minimum
    with pytest.raises(OwnVoiceError, match="OpenAI needs at least 10"):
        pilot.prepare(store, pairs=50)
    make_pairs(store, blog, styles=("formal",))
    with FakeOpenAI() as fake:
        refused = run_ownvoice("pilot", "start", "--on", "openai", "--base-url", fake.url,
                               check=False)
        assert refused.returncode == 1 and "pass --yes" in refused.stderr
        assert "cost about $" in refused.stderr
        assert fake.files == {} and fake.jobs == {}


def test_the_plan_prefers_corrections_and_spreads_over_documents(store, blog):
    make_pairs(store, blog)
    pairs = store.training_pairs(split="train")
    pairs.append({**pairs[0], "id": 999, "origin": "correction", "document_id": None})
    picked = pilot.pick(pairs, 6, seed=1)
    assert picked[0]["origin"] == "correction"
    documents = [p["document_id"] for p in picked[1:]]
    distinct = len({p["document_id"] for p in pairs if p["origin"] != "correction"})
    assert len(set(documents[:distinct])) == distinct  # every document before any repeats
