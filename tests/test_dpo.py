"""Preference training (DPO) on the tests' tiny model: from a supervised adapter, on TRL's
preference format, in OwnVoice's loop — held-out accuracy above 0.5, the margin growing,
exact resume, and an export that still answers and stops."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from engine import events
from engine.errors import OwnVoiceError
from engine.pairs import preferences
from engine.training import dpo, export
from engine.training.config import TrainConfig
from engine.training.loop import train
from engine.translation import prompts
from tests.test_train import PAIRS, config_for

# The writer ends a sentence with "。"; the machine with "!". Held-out prompts are others.
HELD_OUT = [("See you tomorrow.", "明天见"), ("The tea is hot.", "茶很热"),
            ("I am reading.", "我在看书")]


def write_preferences(path, pairs, count: int) -> str:
    with path.open("w", encoding="utf-8") as f:
        for i in range(count):
            source, target = pairs[i % len(pairs)]
            target = target.rstrip("。")
            f.write(json.dumps({
                "prompt": prompts.chat_messages(source, "en", "zh", voice=True),
                "chosen": [{"role": "assistant", "content": target + "。"}],
                "rejected": [{"role": "assistant", "content": target + "!"}],
                "weight": 1.0}, ensure_ascii=False) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def supervised(tiny_base, tmp_path_factory):
    """The tiny base after a short supervised run: its adapter."""
    tmp = tmp_path_factory.mktemp("sft")
    train(config_for(tiny_base, tmp, max_steps=6, learning_rate=1e-3))
    return tmp / "out" / "adapter"


def dpo_config(tiny_base, supervised, tmp_path, **changes) -> TrainConfig:
    tmp_path.mkdir(parents=True, exist_ok=True)
    values = dict(base_model=str(tiny_base), objective="dpo", init_adapter=str(supervised),
                  train_file=write_preferences(tmp_path / "t.jsonl", PAIRS, 16),
                  val_file=write_preferences(tmp_path / "v.jsonl", HELD_OUT, 6),
                  output_dir=str(tmp_path / "out"), max_steps=8, learning_rate=5e-3,
                  batch_size=4, num_workers=0, evals_per_epoch=2, seed=3,
                  early_stopping_patience=10)  # the adapter's dropout (0.05): turned off
    values.update(changes)
    return TrainConfig(**values)


def test_preferences_are_learnt_on_held_out_prompts_and_resume_exactly(tiny_base, supervised,
                                                                       tmp_path):
    result = train(dpo_config(tiny_base, supervised, tmp_path / "a"))
    history = result.history
    assert history[0]["preference_accuracy"] > 0.5
    assert history[-1]["preference_accuracy"] == 1.0
    assert history[-1]["margin"] > history[0]["margin"] > 0
    assert result.best_val_loss < result.base_val_loss == pytest.approx(0.6931, abs=1e-3)
    # Dropout off: before its first update the policy is the reference, margin 0, loss log 2.
    first = next(e for e in events.read(tmp_path / "a" / "out" / "progress.jsonl")
                 if isinstance(e, events.Step))
    assert first.loss == pytest.approx(0.69315, abs=1e-4)
    logs = [e.message for e in events.read(tmp_path / "a" / "out" / "progress.jsonl")
            if isinstance(e, events.Log)]
    assert any("held-out preference accuracy" in m for m in logs)
    assert (tmp_path / "a" / "out" / dpo.REFERENCE_FILE).exists()

    # Interrupted after its first step and resumed: the uninterrupted run's adapter.
    train(dpo_config(tiny_base, supervised, tmp_path / "b"), cancelled=lambda: True)
    assert train(dpo_config(tiny_base, supervised, tmp_path / "b"), resume=True).steps == 8
    a = load_file(tmp_path / "a" / "out" / "adapter" / "adapter_model.safetensors")
    b = load_file(tmp_path / "b" / "out" / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)

    # The preference-trained adapter exports like any other, and the model still stops.
    exported = export.export(base_model=str(tiny_base), adapter_dir=result.adapter_dir,
                             out_dir=tmp_path / "export", quant="Q8_0", name="dpo")
    assert exported.smoke_test["passed"], exported.smoke_test


def test_the_loss_accuracy_and_margin_are_the_papers():
    policy = torch.tensor([-1.0, -3.0, -2.0, -2.0])  # preference 0 won, 1 tied
    reference = torch.tensor([-2.0, -2.0, -2.0, -2.0])
    loss, accuracy, margin = dpo.loss_of(policy, reference, torch.tensor([1.0, 3.0]), 0.5)
    expected = (-torch.nn.functional.logsigmoid(torch.tensor(0.5 * 2.0)) * 1
                - torch.nn.functional.logsigmoid(torch.tensor(0.0)) * 3) / 4
    assert float(loss) == pytest.approx(float(expected))
    assert float(accuracy) == pytest.approx((1 * 1 + 0.5 * 3) / 4)
    assert float(margin) == pytest.approx(2.0 / 4)


def test_a_preference_run_needs_its_adapter_and_the_format(tiny_base, tmp_path):
    with pytest.raises(OwnVoiceError, match="starts from a supervised adapter"):
        TrainConfig(base_model="b", train_file="t", output_dir="o", objective="dpo")
    with pytest.raises(OwnVoiceError, match="objective must be sft or dpo"):
        TrainConfig(base_model="b", train_file="t", output_dir="o", objective="ppo")
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"messages": [{"role": "user", "content": "Hi"},
                                             {"role": "assistant", "content": "Hey"}]}) + "\n")
    (tmp_path / "adapter").mkdir()
    with pytest.raises(OwnVoiceError, match="is not a LoRA adapter folder"):
        train(TrainConfig(base_model=str(tiny_base), train_file=str(chat),
                          output_dir=str(tmp_path / "o"), objective="dpo",
                          init_adapter=str(tmp_path / "adapter"), num_workers=0))


def test_train_improve_registers_a_preference_trained_model(store, tiny_base, default_model):
    """`ownvoice train --local --improve 1`: too few judgments are refused with how many
    more are needed, nothing written; with enough, job 2 continues job 1's adapter and
    registers voice-2, which translates and stops."""
    from engine.jobs import JobState
    from engine.training import pipeline
    from tests.conftest import run_ownvoice
    from tests.test_corrections import history_row
    from tests.test_finetune import add_correction_pairs

    add_correction_pairs(store)
    first = json.loads(run_ownvoice("train", "--local", "--base", str(tiny_base), "--max-steps",
                                    "6", "--learning-rate", "1e-3", "--quant", "Q8_0",
                                    "--json").stdout)
    assert first["model"] == "voice-1"
    refused = run_ownvoice("train", "--improve", "1", check=False)  # here: the default
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    have = len(preferences.training(store, "train"))
    assert (f"needs {pipeline.MIN_PREFERENCES} judgments; you have {have}. Correct, rate or "
            f"choose between {pipeline.MIN_PREFERENCES - have} more") in refused.stderr
    assert store.job(2) is None
    elsewhere = run_ownvoice("train", "--on", "mac", "--improve", "1", check=False)
    assert elsewhere.returncode == 2 and "runs on this machine: use --on local" in \
        elsewhere.stderr

    for i in range(pipeline.MIN_PREFERENCES + 8):
        source, target = PAIRS[i % len(PAIRS)]
        row = history_row(store, f"{source} ({i})\n", target, "markdown")
        preferences.add_choice(store, row, target.rstrip("。") + "。", target.rstrip("。") + "!")
    out = json.loads(run_ownvoice("train", "--local", "--improve", "1", "--max-steps", "4",
                                  "--learning-rate", "5e-3", "--quant", "Q8_0",
                                  "--json").stdout)
    assert out["model"] == "voice-2" and out["train"]["steps"] == 4
    assert out["smoke_test"]["passed"]
    job = store.job(2)
    assert job.status is JobState.DONE and (job.meta.objective, job.meta.improves) == ("dpo", 1)
    assert job.meta.preferences + job.meta.val_preferences >= pipeline.MIN_PREFERENCES
    config = TrainConfig.load(job.meta.job_file)
    assert config.objective == "dpo" and config.init_adapter == store.job(1).meta.exported_adapter
    assert config.base_model == str(tiny_base) and config.epochs == 3.0
    models = {m["name"]: m for m in json.loads(run_ownvoice("models", "list", "--json").stdout)}
    assert models["voice-2"]["origin"] == "fine-tuned" and models["voice-2"]["job_id"] == 2


def test_the_dpo_benchmark_runs_and_the_supervised_habit_is_the_other_way():
    from benchmarks.dpo import main

    rows = main(["--counts", "4", "--seeds", "1", "--steps", "3", "--no-record"])
    assert rows["sft"][0]["logp_accuracy"] == 0.0  # SFT learnt "。", the writer prefers "！"
    (run,) = rows["4"]
    assert run["steps"] == 3 and run["margin"] > 0 and run["preference_accuracy"] > 0.5
