"""The pilot on Tinker, as a user runs it: `ownvoice pilot start` prices and trains 50 pairs
on a stand-in that the real `tinker` SDK talks to (it trains the tests' tiny model for real),
`pilot status` shows the loss of every step, `pilot use` translates through Tinker's
OpenAI-compatible sampling, and `pilot export` brings the adapter home as a GGUF voice-N."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_ownvoice
from tests.test_finetune import add_correction_pairs

BASE = "Qwen/Qwen3-4B-Instruct-2507"


@pytest.fixture
def fake_tinker(tmp_path, tiny_base):
    from tests.tinker_fake import FakeTinker

    with FakeTinker({BASE: str(tiny_base)}, tmp_path / "tinker") as fake:
        yield fake


def env(fake) -> dict:
    return {"OWNVOICE_KEY_TINKER": fake.api_key, "TINKER_TELEMETRY": "0",
            "HF_HUB_OFFLINE": "1", "TINKER_BASE_URL": fake.base_url}


def test_a_pilot_on_tinker_trains_translates_and_comes_home(store, tiny_base, fake_tinker,
                                                            default_model):
    add_correction_pairs(store)
    started = json.loads(run_ownvoice(
        "pilot", "start", "--base", BASE, "--tokenizer", str(tiny_base), "--base-url",
        fake_tinker.base_url, "--pairs", "12", "--epochs", "2", "--yes", "--json",
        env=env(fake_tinker)).stdout)
    assert started["status"] == "done" and started["base_model"] == BASE
    assert started["tokens"] == fake_tinker.trained_tokens  # the estimate is the bill
    assert started["estimated_cost_usd"] > 0
    # 12 pairs, batches of 8, 2 epochs: 4 steps, each loss saved (the tiny base already knows
    # these pairs, so it starts low; tests/test_tinker.py watches a loss fall).
    losses = started["losses"]
    assert len(losses) == 4 and all(0 < loss < 5 for loss in losses)

    status = run_ownvoice("pilot", "status", env=env(fake_tinker)).stdout
    assert f"Pilot {started['job']} on Tinker ({BASE}): done" in status
    assert "step 1: loss" in status

    run_ownvoice("pilot", "use", env=env(fake_tinker))
    listed = {m["name"]: m for m in json.loads(
        run_ownvoice("models", "list", "--json", env=env(fake_tinker)).stdout)}
    pilot = listed[f"pilot-{started['job']}"]
    assert pilot["model_id"] == started["sampler_path"]
    assert pilot["endpoint"].endswith("/oai/api/v1")
    out = run_ownvoice("translate", "--model", pilot["name"], "--text", "Good morning.",
                       "--from", "en", "--to", "zh", "--json", env=env(fake_tinker))
    assert json.loads(out.stdout)["output"].strip()

    exported = run_ownvoice("pilot", "export", env=env(fake_tinker)).stdout
    assert f"Registered voice-{started['job']}" in exported
    voice = {m["name"]: m for m in json.loads(
        run_ownvoice("models", "list", "--json").stdout)}[f"voice-{started['job']}"]
    assert voice["origin"] == "fine-tuned" and voice["path"].endswith(".gguf")


def test_no_key_too_few_pairs_and_an_unknown_base_are_one_line_each(store, fake_tinker,
                                                                    tiny_base):
    no_key = run_ownvoice("pilot", "start", "--yes", check=False,
                          env={"TINKER_BASE_URL": fake_tinker.base_url})
    assert no_key.returncode == 1 and "ownvoice keys set tinker" in no_key.stderr
    too_few = run_ownvoice("pilot", "start", "--tokenizer", str(tiny_base), "--yes",
                           check=False, env=env(fake_tinker))
    assert too_few.returncode == 1 and "training pair(s)" in too_few.stderr
    unknown = run_ownvoice("pilot", "start", "--base", "acme/NotAModel", "--yes", check=False,
                           env=env(fake_tinker))
    assert unknown.returncode == 1 and "acme/NotAModel" in unknown.stderr
    for result in (no_key, too_few, unknown):
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_the_data_page_trains_the_pilot_on_tinker_and_draws_its_loss(qtbot, window, store,
                                                                    tiny_base, fake_tinker,
                                                                    monkeypatch):
    from engine.jobs import JobKind
    from engine.training import tinker
    from tests.test_gui import answer_yes

    add_correction_pairs(store)
    for name, value in env(fake_tinker).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setitem(tinker.BASES, BASE, str(tiny_base))  # the base's "hub" copy
    answer_yes(monkeypatch)
    page = window.data_page
    assert page.pilot_on.currentData() == "tinker" and page.pilot_model.text() == BASE
    page.pilot_pairs.setValue(12)
    page.pilot_epochs.setValue(1)
    page.start_pilot()
    qtbot.waitUntil(lambda: "trained on Tinker" in page.pilot_status.text(), timeout=60000)
    (job,) = store.jobs(kind=JobKind.TINKER_PILOT)
    assert len(page.pilot_loss.train) == len(job.meta.losses) == 2
    assert page.pilot_use.isEnabled() and page.pilot_export.isEnabled()
    page.pilot_use.click()
    qtbot.waitUntil(lambda: "now translates" in page.pilot_status.text(), timeout=10000)
    assert store.model(f"pilot-{job.id}")["origin"] == "tinker-fine-tuned"


def test_train_on_tinker_registers_a_gguf_voice_model(store, tiny_base, fake_tinker,
                                                      default_model):
    """`ownvoice train --on tinker`: every training pair, the loss of each step as progress,
    then the adapter home as a GGUF registered as voice-N; a run estimated above --max-usd
    is refused before anything is sent."""
    from engine import paths

    add_correction_pairs(store)
    prices = paths.data_dir() / "tinker_prices.json"  # the user's own prices: very dear
    prices.write_text(json.dumps({"models": {BASE: {"prefill": 1, "cached_prefill": 1,
                                                    "sample": 1, "train": 1_000_000}}}))
    refused = run_ownvoice("train", "--on", "tinker", "--base", BASE, "--tokenizer",
                           str(tiny_base), "--max-usd", "5", "--yes", check=False,
                           env=env(fake_tinker))
    assert refused.returncode == 2 and "above --max-usd 5" in refused.stderr
    assert fake_tinker.trained_tokens == 0 and "Traceback" not in refused.stderr
    prices.unlink()
    trained_before = fake_tinker.trained_tokens
    unconfirmed = run_ownvoice("train", "--on", "tinker", "--base", BASE, "--tokenizer",
                               str(tiny_base), check=False, env=env(fake_tinker))
    assert unconfirmed.returncode == 1 and "pass --yes" in unconfirmed.stderr
    assert "training tokens" in unconfirmed.stderr and fake_tinker.trained_tokens == 0
    out = run_ownvoice("train", "--on", "tinker", "--base", BASE, "--tokenizer",
                       str(tiny_base), "--epochs", "1", "--yes", "--json",
                       env=env(fake_tinker))
    assert fake_tinker.trained_tokens > trained_before
    jobs = json.loads(run_ownvoice("jobs", "--json").stdout)
    tinker_jobs = [j for j in jobs if j["kind"] == "tinker"]
    assert tinker_jobs and tinker_jobs[-1]["status"] == "done"
    assert tinker_jobs[-1]["where"] == "Tinker"
    name = tinker_jobs[-1]["result"]
    assert name.startswith("voice-") and name in out.stdout
    voice = {m["name"]: m for m in json.loads(
        run_ownvoice("models", "list", "--json").stdout)}[name]
    assert voice["path"].endswith(".gguf") and voice["origin"] == "fine-tuned"


def test_a_failed_export_keeps_the_paid_training_and_attach_exports_it_again(
        store, tiny_base, fake_tinker, default_model, monkeypatch):
    from engine.errors import OwnVoiceError
    from engine.jobs import JobState
    from engine.training import targets, tinker_pilot
    from engine.training.tinker_target import TinkerTarget

    add_correction_pairs(store)
    for name, value in env(fake_tinker).items():
        monkeypatch.setenv(name, value)
    real_export = tinker_pilot.export

    def full_disk(*_args, **_kwargs):
        raise OwnVoiceError("No space left on the disk for the merged model.")

    monkeypatch.setattr(tinker_pilot, "export", full_disk)
    target = TinkerTarget(tokenizer=str(tiny_base))
    request = targets.TrainingRequest(base_model=BASE, epochs=1.0)
    with pytest.raises(OwnVoiceError, match="export failed.*jobs attach"):
        targets.run(target, store, request)
    (job,) = store.jobs()
    assert job.status is JobState.DONE and job.meta.external_path and job.result is None
    trained = fake_tinker.trained_tokens
    monkeypatch.setattr(tinker_pilot, "export", real_export)
    row = TinkerTarget().follow(store, job)  # a new process: nothing is trained again
    assert row["name"] == f"voice-{job.id}" and fake_tinker.trained_tokens == trained
    assert store.job(job.id).result == row["name"] and store.job(job.id).meta.error is None


@pytest.mark.parametrize("tokenizer, says", [("/no/such/folder", "does not exist"),
                                             ("EMPTY", "Cannot load the tokenizer")])
def test_a_bad_tokenizer_is_one_line(store, tmp_path, fake_tinker, tokenizer, says):
    add_correction_pairs(store)
    if tokenizer == "EMPTY":
        (tmp_path / "empty").mkdir()
        tokenizer = str(tmp_path / "empty")
    result = run_ownvoice("pilot", "start", "--tokenizer", tokenizer, "--yes", check=False,
                          env=env(fake_tinker))
    assert result.returncode == 1 and says in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
