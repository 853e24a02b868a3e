"""Gradient accumulation and several processes (torchrun / `accelerate launch`) split the same work:
on a dataset of one repeated pair, a batch of 4 in one step, 2 × 2 accumulated, and 2
processes of 2 under accelerate must all make the same update."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from engine import events
from engine.training import data
from engine.training.config import TrainConfig
from engine.training.loop import train
from engine.translation import prompts
from tests.conftest import ROOT


def same_pair_file(path, count=8):
    messages = prompts.chat_messages("Good morning.", "en", "zh") + [
        {"role": "assistant", "content": "早上好。"}]
    path.write_text("".join(json.dumps({"messages": messages}, ensure_ascii=False) + "\n"
                            for _ in range(count)), "utf-8")
    return str(path)


def config(tiny_model, folder, **changes) -> TrainConfig:
    folder.mkdir(parents=True, exist_ok=True)
    values = dict(base_model=str(tiny_model), train_file=same_pair_file(folder / "t.jsonl"),
                  val_file=same_pair_file(folder / "v.jsonl", 2), output_dir=str(folder / "out"),
                  epochs=1, learning_rate=1e-2, lora_dropout=0.0, num_workers=0,
                  evals_per_epoch=1, seed=5)
    values.update(changes)
    return TrainConfig(**values)


def adapter(folder):
    return load_file(folder / "out" / "adapter" / "adapter_model.safetensors")


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


def test_a_step_plan_shares_every_batch_out_once():
    lengths = list(range(10))  # 10 examples, batches of 2 → 5 micro-batches
    single = data.step_plan(lengths, 2, 0, 0)
    assert len(single) == 5 and all(len(step) == 1 for step in single)
    accumulated = data.step_plan(lengths, 2, 0, 0, accumulate=2)
    assert [len(step) for step in accumulated] == [2, 2, 1]
    assert [b for step in accumulated for b in step] == [s[0] for s in single]
    shared = data.step_plan(lengths, 2, 0, 0, processes=2)
    assert [len(step) for step in shared] == [2, 2, 2]  # the last one topped up
    seen = [i for step in shared for batch in step for i in batch]
    assert sorted(set(seen)) == list(range(10))
    assert data.step_plan(lengths, 2, 0, 1) != single  # each epoch its own order


@pytest.mark.parametrize("packing", ["off", "on"])
def test_accumulated_micro_batches_make_the_same_update_as_one_batch(tiny_model, tmp_path,
                                                                      packing):
    whole = train(config(tiny_model, tmp_path / "whole", batch_size=4, packing=packing))
    accumulated = train(config(tiny_model, tmp_path / "acc", batch_size=2, grad_accum=2,
                               packing=packing))
    assert whole.steps == accumulated.steps == 2
    assert_same(adapter(tmp_path / "whole"), adapter(tmp_path / "acc"))


def test_two_processes_under_torchrun_train_as_one(tiny_model, tmp_path):
    one = train(config(tiny_model, tmp_path / "one", batch_size=4))
    job = tmp_path / "two" / "job.json"
    config(tiny_model, tmp_path / "two", batch_size=2).save(job)
    # torchrun is what `accelerate launch --multi_gpu` runs; on CPUs it is the way to get
    # two processes (accelerate's --cpu launches one unless MPI is set up).
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                          "2", "-m", "engine.training", str(job)], cwd=ROOT, capture_output=True,
                         text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert_same(adapter(tmp_path / "one"), adapter(tmp_path / "two"))
    train_steps = [e.step for e in events.read(tmp_path / "two" / "out" / "progress.jsonl")
                   if isinstance(e, events.Step)]
    assert train_steps == list(range(1, one.steps + 1))  # one writer, every step once
    result = json.loads((tmp_path / "two" / "out" / "result.json").read_text())
    assert result["best_val_loss"] is not None
    assert abs(result["best_val_loss"] - one.best_val_loss) < 1e-4
    checkpoint = tmp_path / "two" / "out" / "checkpoints" / f"step-{one.steps:06d}"
    assert (checkpoint / "rng-0.pt").exists() and (checkpoint / "rng-1.pt").exists()


def test_resuming_with_another_number_of_processes_is_refused(tiny_model, tmp_path):
    from engine.errors import OwnVoiceError

    settings = config(tiny_model, tmp_path, batch_size=2, max_steps=2, evals_per_epoch=4)
    train(settings)
    state_file = sorted((tmp_path / "out" / "checkpoints").glob("step-*"))[-1] / "trainer_state.pt"
    state = torch.load(state_file, weights_only=False)
    state["processes"] = 2
    torch.save(state, state_file)
    with pytest.raises(OwnVoiceError, match="trained by 2 process"):
        train(settings, resume=True)
