"""`ownvoice train --local`: pairs → dataset → LoRA → GGUF → registered model that
translates, with the tiny base (the same steps the embedded Gemma takes, in seconds)."""

from __future__ import annotations

import json

import pytest

from engine import events
from engine.errors import OwnVoiceError
from engine.jobs import JobState
from engine.training import pipeline
from engine.translation.translate import TranslationResult, UnitResult
from tests.conftest import run_ownvoice
from tests.test_train import PAIRS


def add_correction_pairs(store, repeat: int = 4) -> None:
    for i in range(len(PAIRS) * repeat):
        source, target = PAIRS[i % len(PAIRS)]
        result = TranslationResult(source_text=source, output="?", source_lang="en",
                                   target_lang="zh", units=[UnitResult(source, "?")],
                                   tokens_in=1, tokens_out=1, ttft_ms=1, total_ms=1,
                                   warnings=[], settings={})
        translation = store.add_translation(model_id=None, model_name="m", result=result)
        store.correct_translation(translation, target, [{
            "source_lang": "en", "target_lang": "zh", "source_text": source,
            "target_text": target, "weight": 3.0}])


def train_until_a_checkpoint(on: str, base, *, steps: int):
    """`ownvoice train --on ON` (job 1) in another process, returned once its first
    checkpoint is complete."""
    import os
    import subprocess
    import time

    from tests.conftest import BIN, ROOT

    args = ["train", "--on", on, "--base", str(base), "--max-steps", str(steps),
            "--learning-rate", "1e-3", "--quant", "Q8_0", "--json"]
    process = subprocess.Popen([str(BIN / "ownvoice"), *args],
                               env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoints = pipeline.job_dir(1) / "run" / "checkpoints"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not any(
            not p.name.endswith(".part") for p in checkpoints.glob("step-*")):
        time.sleep(0.05)
    return process


def test_train_local_registers_a_model_that_translates(store, tiny_base, default_model):
    add_correction_pairs(store)
    out = json.loads(run_ownvoice("train", "--local", "--base", str(tiny_base), "--max-steps",
                                  "6", "--learning-rate", "1e-3", "--quant", "Q8_0",
                                  "--json").stdout)
    assert out["model"] == "voice-1" and out["train"]["steps"] == 6
    assert out["smoke_test"]["passed"] and out["smoke_test"]["output"] == "早上好。"
    models = {m["name"]: m for m in json.loads(run_ownvoice("models", "list", "--json").stdout)}
    voice = models["voice-1"]
    assert (voice["origin"], voice["job_id"], voice["prompt_style"]) == ("fine-tuned", 1,
                                                                        "chat")
    assert (voice["source_lang"], voice["target_lang"]) == ("en", "zh")
    assert voice["base_model"] == str(tiny_base)
    translated = json.loads(run_ownvoice("translate", "--model", "voice-1", "--text",
                                         "Where is the station?", "--to", "zh",
                                         "--json").stdout)
    assert translated["output"] == "车站在哪里？"
    assert translated["warnings"] == []  # it stopped by itself
    job = store.job(1)
    assert job.status is JobState.DONE and job.result == "voice-1"
    assert (pipeline.job_dir(1) / "job.json").exists()


def test_a_hugging_face_id_is_read_from_the_hub_cache(store, tiny_base, default_model,
                                                      tmp_path):
    """`--base org/name` goes through the hub's own resolution (here offline, from a cache
    laid out as huggingface_hub lays it out; on a GPU box the same call downloads)."""
    import shutil

    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--ownvoice-test--tiny-base"
    shutil.copytree(tiny_base, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    add_correction_pairs(store)
    hub = {"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = json.loads(run_ownvoice("train", "--local", "--base", "ownvoice-test/tiny-base",
                                  "--max-steps", "6", "--learning-rate", "1e-3", "--quant",
                                  "Q8_0", "--json", env=hub).stdout)
    assert out["smoke_test"]["output"] == "早上好。"
    assert store.model(out["model"])["base_model"] == "ownvoice-test/tiny-base"
    missing = run_ownvoice("train", "--local", "--base", "ownvoice-test/absent", "--json",
                           env=hub, check=False)
    assert missing.returncode != 0 and "Cannot load the base model ownvoice-test/absent" in \
        missing.stderr


def test_no_pairs_no_training(store, default_model):
    with pytest.raises(OwnVoiceError, match="No training pairs yet"):
        pipeline.prepare(store)
    refused = run_ownvoice("train", "--base", "x", check=False)
    assert refused.returncode == 2 and "Say where to train" in refused.stderr


def test_checkpoints_are_scored_and_the_choice_can_be_overridden(tiny_base, tmp_path):
    from engine.training import choose
    from tests.test_train import config_for

    config = config_for(tiny_base, tmp_path, max_steps=6, learning_rate=1e-3)
    from engine.training.loop import train

    train(config)
    scores = choose.score(config, top=2, examples=2)
    assert len(scores) == 2
    assert scores[0]["score"] <= scores[1]["score"]
    for entry in scores:
        assert {"path", "step", "val_loss", "length_drift", "number_drift", "stop_rate",
                "score"} <= set(entry)
        assert entry["stop_rate"] == 1.0  # the tiny base answers and stops
        assert entry["length_drift"] < 0.5


def test_train_local_exports_the_checkpoint_asked_for(store, tiny_base, default_model):
    add_correction_pairs(store)
    out = json.loads(run_ownvoice("train", "--local", "--base", str(tiny_base), "--max-steps",
                                  "4", "--learning-rate", "1e-3", "--quant", "Q8_0",
                                  "--checkpoint", "2", "--json").stdout)
    assert out["exported_adapter"].endswith("step-000002/adapter")


def test_kill_9_during_training_then_resume_changes_nothing(store, tiny_base, default_model,
                                                             ownvoice_home):
    """Two jobs on the same pairs: one runs straight, one is killed mid-training and resumed
    with `ownvoice train --local --resume`; their adapters are the same."""
    import os
    import signal
    import subprocess
    import time

    from safetensors.torch import load_file

    from tests.conftest import BIN, ROOT

    add_correction_pairs(store)
    args = ["train", "--local", "--base", str(tiny_base), "--max-steps", "24",
            "--learning-rate", "1e-3", "--quant", "Q8_0", "--json"]
    json.loads(run_ownvoice(*args).stdout)  # job 1, uninterrupted
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([str(BIN / "ownvoice"), *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    checkpoints = pipeline.job_dir(2) / "run" / "checkpoints"
    deadline = time.monotonic() + 180
    def complete() -> list[str]:
        return sorted(p.name for p in checkpoints.glob("step-*") if not p.name.endswith(".part"))

    while time.monotonic() < deadline and len(complete()) < 2:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert store.job(2).status is JobState.TRAINING
    assert 2 <= len(complete()) < 12  # killed part-way (a checkpoint every 2 steps)

    resumed = json.loads(run_ownvoice("train", "--local", "--resume", "2", "--quant", "Q8_0",
                                      "--json").stdout)
    assert resumed["model"] == "voice-2" and resumed["train"]["steps"] == 24
    straight = load_file(pipeline.job_dir(1) / "run" / "adapter" / "adapter_model.safetensors")
    again = load_file(pipeline.job_dir(2) / "run" / "adapter" / "adapter_model.safetensors")
    for key in straight:
        assert (straight[key] - again[key]).abs().max() < 1e-5, key
    steps = [e.step for e in events.read(pipeline.job_dir(2) / "run" / "progress.jsonl")
             if isinstance(e, events.Step)]
    assert steps == list(range(1, 25))  # every step once, in order


@pytest.mark.slow
def test_a_real_corpus_becomes_a_voice_that_beats_its_base(store, default_model, tmp_path):
    """Done-when of the trainer, the whole loop on a laptop: an imported corpus → synthetic
    pairs → `train --local` on the embedded Gemma 3 270M (the default base, read from its
    GGUF; LoRA on the CPU) → a registered GGUF of the gemma3 family with its chat template,
    whose validation loss is below the base's and that stops after each translation.
    (OpenAI, unreachable here, is played by the stand-in that answers with the recorded
    machine English of each paragraph.)"""
    from tests.essays import POSTS, machine_english, write_essays
    from tests.openai_fake import FakeOpenAI

    run_ownvoice("import", str(write_essays(tmp_path / "essays")))
    with FakeOpenAI(reply=machine_english) as fake:
        report = json.loads(run_ownvoice("synth", "--base-url", fake.url, "--model",
                                         "gpt-4o-mini", "--lang", "zh", "--into", "en",
                                         "--styles", "1", "--yes", "--json").stdout)
    assert report["kept"] == sum(len(p) for _, p in POSTS.values()) == 24
    out = json.loads(run_ownvoice("train", "--local", "--epochs", "2", "--learning-rate",
                                  "1e-3", "--json", timeout=1200).stdout)
    job = store.job(out["job"])
    assert job.meta.held_out_documents >= 1 and job.meta.val_pairs >= 3
    train = out["train"]
    assert train["best_val_loss"] < train["base_val_loss"]
    assert out["smoke_test"]["passed"] and out["smoke_test"]["stopped"], out["smoke_test"]
    row = store.model(out["model"])
    assert row["origin"] == "fine-tuned" and row["base_model"].endswith(".gguf")
    from engine.translation.gguf_meta import read_metadata

    metadata = read_metadata(row["path"])  # the base's family and chat template, embedded
    assert metadata["general.architecture"] == "gemma3"
    assert "<start_of_turn>" in metadata["tokenizer.chat_template"]
    result = json.loads(run_ownvoice("translate", "--model", out["model"], "--text",
                                     "It rained all day, so I stayed at home.", "--to", "zh",
                                     "--json").stdout)
    assert result["output"].strip()
    assert not any("did not stop" in w for w in result["warnings"]), result


def test_jobs_cancel_stops_a_local_run_in_another_process(store, tiny_base, default_model,
                                                           ownvoice_home):
    """`ownvoice jobs cancel N` from a second terminal stops a run on this machine after its
    current step (`train --resume N`, tested above, continues such a run)."""
    add_correction_pairs(store)
    process = train_until_a_checkpoint("local", tiny_base, steps=400)
    listed = json.loads(run_ownvoice("jobs", "--json").stdout)
    assert [(j["id"], j["kind"], j["status"], j["where"]) for j in listed] == [
        (1, "local", "training", "this machine")]
    asked = run_ownvoice("jobs", "cancel", "1")
    assert "asked to stop" in asked.stdout
    _, err = process.communicate(timeout=240)
    assert process.returncode == 1 and "ownvoice train --resume 1" in err
    job = store.job(1)
    assert job.status is JobState.CANCELLED and job.meta.pid is None
    stopped_at = max(e.step for e in events.read(pipeline.job_dir(1) / "run" / "progress.jsonl")
                     if isinstance(e, events.Step))
    assert stopped_at < 400
    again = run_ownvoice("jobs", "cancel", "1", check=False)
    assert again.returncode == 1 and "already ended" in again.stderr
