"""`ownvoice train --on mac`: the MLX trainer as a training target, end to end on MLX's CPU
build — pairs in a real store → the memory check → MLX LoRA on the tiny base → fuse → GGUF →
llama.cpp smoke test → a registered `voice-N` that translates; `jobs`, `jobs cancel` and
`train --resume N` for a job that trains with MLX."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mlx.core", reason="MLX is not installed (the `mlx` extra)")
pytest.importorskip("mlx_lm", reason="mlx-lm is not installed (the `mlx` extra)")

from engine import events  # noqa: E402
from engine.errors import OwnVoiceError  # noqa: E402
from engine.jobs import JobKind, JobState  # noqa: E402
from engine.training import memory, mlx_bases, pipeline  # noqa: E402
from engine.training.config import FAMILY_TARGETS  # noqa: E402
from engine.training.mlx_target import MacTarget, pair_lengths  # noqa: E402
from engine.training.targets import InvalidRequest, TrainingRequest  # noqa: E402
from tests.conftest import run_ownvoice  # noqa: E402
from tests.test_finetune import add_correction_pairs, train_until_a_checkpoint  # noqa: E402


def test_train_on_mac_registers_a_model_that_translates(store, tiny_base, default_model):
    add_correction_pairs(store)
    out = json.loads(run_ownvoice("train", "--on", "mac", "--base", str(tiny_base),
                                  "--max-steps", "6", "--learning-rate", "1e-3", "--quant",
                                  "Q8_0", "--json").stdout)
    assert out["model"] == "voice-1" and out["train"]["steps"] == 6
    assert (out["engine"], out["where"]) == ("mlx", "this machine (MLX)")
    assert out["smoke_test"]["passed"], out["smoke_test"]
    job = store.job(1)
    assert job.kind is JobKind.MAC and job.status is JobState.DONE and job.meta.engine == "mlx"
    card = json.loads((pipeline.job_dir(1) / "export" / "model-card.json").read_text())
    assert card["engine"] == "mlx"
    assert (pipeline.job_dir(1) / "run" / "adapter" / "adapter_config.json").exists()  # MLX's
    translated = json.loads(run_ownvoice("translate", "--model", "voice-1", "--text",
                                         "Where is the station?", "--to", "zh",
                                         "--json").stdout)
    assert translated["output"].strip() and translated["warnings"] == []
    listed = json.loads(run_ownvoice("jobs", "--json").stdout)
    assert [(j["id"], j["kind"], j["status"], j["result"]) for j in listed] == [
        (1, "mac", "done", "voice-1")]


def test_jobs_cancel_then_resume_a_mac_job(store, tiny_base, default_model):
    add_correction_pairs(store)
    process = train_until_a_checkpoint("mac", tiny_base, steps=300)
    listed = json.loads(run_ownvoice("jobs", "--json").stdout)
    assert [(j["kind"], j["status"], j["where"]) for j in listed] == [
        ("mac", "training", "this machine (MLX)")]
    assert "asked to stop" in run_ownvoice("jobs", "cancel", "1").stdout
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1 and "ownvoice train --resume 1" in err
    assert store.job(1).status is JobState.CANCELLED
    progress = pipeline.job_dir(1) / "run" / "progress.jsonl"
    stopped_at = max(e.step for e in events.read(progress) if isinstance(e, events.Step))
    assert stopped_at < 300

    # Resumed for fewer steps (the job file is the user's to edit): the same job, with MLX.
    job_file = pipeline.job_dir(1) / "job.json"
    config = json.loads(job_file.read_text())
    job_file.write_text(json.dumps({**config, "max_steps": stopped_at + 2}))
    resumed = json.loads(run_ownvoice("train", "--resume", "1", "--json").stdout)
    assert resumed["model"] == "voice-1" and resumed["engine"] == "mlx"
    assert resumed["train"]["steps"] == stopped_at + 2
    steps = [e.step for e in events.read(progress) if isinstance(e, events.Step)]
    assert steps == list(range(1, stopped_at + 3))  # every step once, in order


def test_the_memory_check_adjusts_the_settings_and_says_so(store, tiny_base, monkeypatch):
    """A small budget: checkpointing on, a smaller micro-batch — written into the job file,
    kept in the job, said in the events; a tiny budget: refused in one line."""
    add_correction_pairs(store)
    target = MacTarget()
    request = TrainingRequest(base_model=str(tiny_base), max_steps=2)
    config_json = json.loads((tiny_base / "config.json").read_text())
    lengths = pair_lengths(store, str(tiny_base), config_json)
    longest = max(len(p["source_text"]) + len(p["target_text"])
                  for p in store.training_pairs(split="train"))
    assert 20 < lengths.longest < 20 + 4 * longest and 0 < lengths.logits_share < 1
    plain = memory.estimate(memory.Shape.from_config(config_json), batch_size=4,
                            max_length=lengths.longest, lora_r=16,
                            targets=FAMILY_TARGETS["llama"],
                            logits_share=lengths.logits_share)["total"]
    monkeypatch.setattr(memory, "available_bytes", lambda: plain - 1)
    plan = target.prepare(store, request)
    assert f"(the longest pair: {lengths.longest} tokens)" in plan.options["notes"][-1]
    changes = plan.options["memory_changes"]
    assert changes and "gradient checkpointing on" in changes[0]
    heard = []
    job = target.start(store, plan, on_event=heard.append)
    config = json.loads((pipeline.job_dir(job.id) / "job.json").read_text())
    assert config["gradient_checkpointing"] is True
    assert job.meta.engine == "mlx" and job.meta.memory_changes == changes
    said = [e.message for e in heard if isinstance(e, events.Log)]
    assert any("changed to fit" in line and "checkpointing" in line for line in said), said

    monkeypatch.setattr(memory, "available_bytes", lambda: 1024)
    with pytest.raises(InvalidRequest, match="needs about") as refused:
        target.prepare(store, request)
    assert "\n" not in str(refused.value)
    cli = run_ownvoice("train", "--on", "mac", "--base", str(tiny_base), check=False,
                       env={"OWNVOICE_TRAIN_MEMORY_GB": "0.000001"})
    assert cli.returncode == 2 and "Traceback" not in cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1 and "needs about" in cli.stderr


def test_bases_mlx_cannot_train_are_refused_or_warned_about(store, tmp_path):
    add_correction_pairs(store)
    target = MacTarget()
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    with pytest.raises(InvalidRequest, match="MLX cannot train on a GGUF file"):
        target.prepare(store, TrainingRequest(base_model=str(tmp_path / "model.gguf")))
    with pytest.raises(InvalidRequest, match="needs a base in safetensors"):
        target.prepare(store, TrainingRequest())
    # not downloaded here: its memory is checked when it is (nothing is fetched to check)
    plan = target.prepare(store, TrainingRequest(base_model="mlx-community/Qwen3.5-4B-4bit"))
    notes = plan.options["notes"]
    assert "first backward pass" in notes[0] and "Qwen3-4B-4bit" in notes[0]
    assert "Memory not checked" in notes[1]
    assert mlx_bases.warning_for("mlx-community/Qwen3-4B-4bit") is None
    assert mlx_bases.trainable()[0].model == "mlx-community/Qwen3-4B-4bit"


def test_lora_on_the_last_layers_only_in_mlx_and_in_torch(tiny_model, tmp_path):
    """`lora_layers` (what the memory check lowers): mlx-lm's num_layers and peft's
    layers_to_transform choose the same, last, layers."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.training.loop import with_lora
    from engine.training.mlx_lora import model as adapters
    from tests.test_train import config_for

    config = config_for(tiny_model, tmp_path, lora_layers=1)
    _, model, settings = adapters.load_for_training(config)
    assert settings["num_layers"] == 1
    assert [hasattr(layer.self_attn.q_proj, "lora_a") for layer in model.layers] == [
        False, True]

    peft_model = with_lora(AutoModelForCausalLM.from_pretrained(str(tiny_model)),
                           AutoTokenizer.from_pretrained(str(tiny_model)),
                           config_for(tiny_model, tmp_path, lora_layers=1))
    trained = {name.split(".layers.")[1].split(".")[0] for name, p in
               peft_model.named_parameters() if "lora_A" in name}
    assert trained == {"1"}


def test_a_mac_without_the_export_stack_is_told_before_training(store, tiny_base,
                                                                 monkeypatch):
    """The GGUF export runs llama.cpp's converter, which imports torch: a Mac with only MLX
    is told so before anything is written, not after a night of training."""
    import importlib.util

    add_correction_pairs(store)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(InvalidRequest, match=r"needs torch: `pip install 'ownvoice\[train,"
                                             r"mlx\]'`"):
        MacTarget().prepare(store, TrainingRequest(base_model=str(tiny_base)))
    assert store.jobs() == []


def children_running(module: str) -> list[int]:
    """This process's children whose command line runs `module` (Linux's /proc)."""
    import os
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and module in cmdline:
            found.append(int(entry.name))
    return found


def test_mlx_training_that_aborts_is_one_line_and_the_app_lives_on(store, tiny_base,
                                                                    default_model):
    """MLX trains in a child process: when Metal runs out of memory it aborts that process
    (SIGABRT, here sent by the test), not the app. The app says so in one line with what to
    do, the job keeps its checkpoint, and `train --resume` continues it to a model."""
    import os
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("finds the child process through Linux's /proc")
    add_correction_pairs(store)
    target = MacTarget()
    plan = target.prepare(store, TrainingRequest(base_model=str(tiny_base), max_steps=300,
                                                 learning_rate=1e-3, quant="Q8_0"))
    job = target.start(store, plan)
    job_file = pipeline.job_dir(job.id) / "job.json"
    killed = []

    def on_event(event) -> None:
        if isinstance(event, events.Checkpoint) and not killed:
            killed.extend(children_running("engine.training.mlx_lora"))
            assert len(killed) == 1, killed  # training runs in exactly one child
            os.kill(killed[0], signal.SIGABRT)

    with pytest.raises(OwnVoiceError) as stopped:
        target.follow(store, job, on_event=on_event)
    said = str(stopped.value)
    assert "\n" not in said and "killed by SIGABRT" in said, said
    assert "Metal running out of memory" in said and "OWNVOICE_TRAIN_MEMORY_GB" in said
    assert f"`ownvoice train --resume {job.id}`" in said
    failed = store.job(job.id)
    assert failed.status is JobState.FAILED and failed.meta.error == said

    config = json.loads(job_file.read_text())
    job_file.write_text(json.dumps({**config, "max_steps": 4}))
    row = target.follow(store, store.job(job.id))
    assert row["name"] == f"voice-{job.id}" and store.job(job.id).status is JobState.DONE
    assert children_running("engine.training.mlx_lora") == []


def test_each_base_known_to_fail_is_warned_about_with_its_own_report():
    nine = mlx_bases.warning_for("mlx-community/Qwen3.5-9B-4bit")
    assert "(M5 Max, M1 Pro)" in nine and "M3 Pro" not in nine
    four = mlx_bases.warning_for("mlx-community/Qwen3.5-4B-4bit")
    assert "M3 Pro" in four
    other = mlx_bases.warning_for("someone/Qwen3.5-2B-4bit")
    assert "Qwen3.5 4-bit bases (4B, 9B)" in other and mlx_bases.MLX_LM_1206 in other
    assert mlx_bases.warning_for("mlx-community/Qwen3-4B-4bit") is None
