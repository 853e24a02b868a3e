"""The GPU training benchmark (benchmarks/train.py --gpu-shape): its shapes are the real
families', its FLOP count matches the models it builds, and the whole run works on the CPU
with the tiny shape (on a GPU the same code runs the real ones)."""

from __future__ import annotations

import pytest
import torch

from benchmarks import gpu_shapes
from engine.training.config import FAMILY_TARGETS

# Parameters of the released models (their model cards): the shapes must add up to them.
PUBLISHED = {"qwen2.5-3b": 3.09e9, "qwen2.5-7b": 7.62e9, "qwen3-8b": 8.19e9,
             "llama3.1-8b": 8.03e9}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_a_shape_is_its_familys_model(name):
    model = gpu_shapes.build(name, device="meta", dtype=torch.bfloat16)  # no memory
    total = sum(p.numel() for p in model.parameters())
    assert total == pytest.approx(PUBLISHED[name], rel=0.005)
    values = gpu_shapes.SHAPES[name]
    counts = gpu_shapes.parameters(values, FAMILY_TARGETS[values["model_type"]], rank=16)
    linear = sum(m.weight.numel() for n, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear) and ".layers." in n)
    assert counts["body"] == linear
    assert counts["head"] == model.lm_head.weight.numel()


def test_the_lora_count_is_what_peft_trains():
    from peft import LoraConfig, get_peft_model

    values = gpu_shapes.SHAPES["tiny"]
    targets = FAMILY_TARGETS[values["model_type"]]
    model = get_peft_model(gpu_shapes.build("tiny", device="cpu", dtype=torch.float32),
                           LoraConfig(r=16, target_modules=targets, task_type="CAUSAL_LM"))
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert gpu_shapes.parameters(values, targets, rank=16)["lora"] == trained


def test_flops_per_token_and_the_peak_table():
    counts = {"body": 100, "head": 10, "lora": 5, "layers": 2, "attention_width": 4}
    assert gpu_shapes.flops_per_token(counts, learnt_fraction=0.5, attended=3) == (
        400 + 20 + 30 + 12 * 2 * 4 * 3)
    assert gpu_shapes.peak_tflops("NVIDIA GH200 480GB") == 989.4
    assert gpu_shapes.peak_tflops("NVIDIA H200") == 989.4
    assert gpu_shapes.peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert gpu_shapes.peak_tflops("NVIDIA H100 80GB HBM3") == 989.4
    assert gpu_shapes.peak_tflops("NVIDIA GeForce RTX 4090") == 165.2
    assert gpu_shapes.peak_tflops("Some future GPU") is None


def test_the_gpu_benchmark_runs_its_tiny_shape_on_the_cpu(capsys):
    from benchmarks.train import main

    rows = main(["--gpu-shape", "tiny", "--steps", "2", "--warmup", "1", "--pairs", "24",
                 "--compare-padding", "--no-record"])
    padded, packed = rows
    assert (padded["layout"], packed["layout"]) == ("padded", "packed")
    assert padded["padding"] > 0 and packed["padding"] == 0
    assert padded["first_loss"] == pytest.approx(packed["first_loss"], rel=1e-5)
    for row in rows:
        assert row["tokens_per_s"] > 0 and row["minutes_2000_pairs"] > 0
        assert 0 < row["learnt_fraction"] < 1 and row["tokens_per_example"] > 100
        assert row["mfu_percent"] is None  # a CPU has no entry in the peak table
    out = capsys.readouterr().out
    assert "LoRA training of tiny (random weights) on CPU" in out and "packed ÷ padded" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="refused only without a GPU")
def test_a_real_shape_needs_a_gpu():
    from benchmarks.train import main
    from engine.errors import OwnVoiceError

    with pytest.raises(OwnVoiceError, match="needs a CUDA GPU; --gpu-shape tiny runs"):
        main(["--gpu-shape", "qwen2.5-3b", "--no-record"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_gpu_benchmark_on_a_gpu():
    from benchmarks.train import main

    (row,) = main(["--gpu-shape", "tiny", "--steps", "2", "--warmup", "1", "--pairs", "24",
                   "--no-record"])
    assert row["bf16"] and row["gpu_memory_gb"] > 0 and row["tokens_per_s"] > 0
