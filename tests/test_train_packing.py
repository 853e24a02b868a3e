"""Packed micro-batches (engine/training/data.py `pack`): a row of examples end to end gives
each example exactly what it gets alone, and the trainer's loss and updates are the same
packed and padded.

The attention tests build tiny models in memory (a Llama, and a Gemma 3 with sliding-window
and global layers whose window is shorter than the examples) and feed them random ids: no
tokenizer, so the same check runs on a GPU (marked `gpu`) as on this CPU."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from engine.training import data
from engine.training.loop import micro_batch_loss, on_device, train, weighted_loss
from tests.test_train import config_for

LENGTHS = (7, 3, 11, 5)


def tiny(family: str, attention: str, dtype=torch.float32, device="cpu"):
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    shape = dict(vocab_size=128, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                 num_key_value_heads=2, attn_implementation=attention)
    if family == "llama":
        model = LlamaForCausalLM(LlamaConfig(num_hidden_layers=2, **shape))
    else:  # window 4 < the examples: the sliding layers' own mask must respect boundaries
        model = Gemma3ForCausalLM(Gemma3TextConfig(
            num_hidden_layers=4, head_dim=8, sliding_window=4, layer_types=[
                "sliding_attention", "full_attention", "sliding_attention",
                "full_attention"], **shape))
    return model.to(device=device, dtype=dtype).eval()


def examples(lengths=LENGTHS, vocab=128) -> list[data.Example]:
    """Random ids; the second half of each example learnt, weights 1, 2, 3, …"""
    generator = torch.Generator().manual_seed(1)
    found = []
    for i, n in enumerate(lengths):
        ids = torch.randint(0, vocab, (n,), generator=generator).tolist()
        labels = [data.IGNORE] * (n // 2) + ids[n // 2:]
        found.append(data.Example(input_ids=ids, labels=labels, weight=float(i + 1)))
    return found


def packed_versus_alone(model, device="cpu") -> float:
    """Largest |logit| difference between a packed row and each example run alone."""
    batch = data.pack(examples())
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"].to(device),
                       position_ids=batch["position_ids"].to(device),
                       use_cache=False).logits[0].float()
        alone = torch.cat([model(input_ids=torch.tensor([e.input_ids], device=device),
                                 use_cache=False).logits[0].float() for e in examples()])
    return float((packed - alone).abs().max())


def test_a_packed_row_holds_each_example_with_its_own_positions_and_weights():
    batch = data.pack(examples())
    assert batch["input_ids"].shape == (1, sum(LENGTHS))
    assert batch["position_ids"][0].tolist() == [p for n in LENGTHS for p in range(n)]
    starts = [sum(LENGTHS[:i]) for i in range(len(LENGTHS))]
    assert all(batch["labels"][0, s] == data.IGNORE for s in starts)  # never a target
    assert batch["weights"][0].tolist() == [i + 1.0 for i, n in enumerate(LENGTHS)
                                            for _ in range(n)]
    padded = data.collate(examples(), pad_id=0)
    assert padded["input_ids"].shape == (len(LENGTHS), max(LENGTHS))
    # The boundaries flash-attention gets are those transformers would read off the
    # position ids itself.
    from transformers.modeling_flash_attention_utils import (
        prepare_fa_kwargs_from_position_ids,
    )

    (cu_q, cu_k), (max_q, _) = prepare_fa_kwargs_from_position_ids(batch["position_ids"])
    assert batch["cu_seq_lens"].tolist() == cu_q.tolist() == cu_k.tolist()
    assert on_device(batch, "cpu")["max_length"] == int(max_q) == max(LENGTHS)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_a_packed_row_gives_each_example_what_it_gets_alone(family, attention):
    model = tiny(family, attention)
    assert packed_versus_alone(model) < 1e-5
    # The check has teeth: the same row read as one sequence (positions not restarting)
    # lets examples see each other.
    batch = data.pack(examples())
    with torch.no_grad():
        joined = model(input_ids=batch["input_ids"], use_cache=False).logits[0]
        alone = torch.cat([model(input_ids=torch.tensor([e.input_ids]),
                                 use_cache=False).logits[0] for e in examples()])
    assert float((joined - alone).abs().max()) > 1e-2


def test_with_a_cache_transformers_would_join_packed_examples():
    """Why the trainer passes use_cache=False: a cache turns off packed-row detection."""
    model = tiny("llama", "sdpa")
    batch = data.pack(examples())
    with torch.no_grad():
        cached = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                       use_cache=True).logits[0]
        uncached = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                         use_cache=False).logits[0]
    assert float((cached - uncached).abs().max()) > 1e-2


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_the_loss_is_the_same_packed_padded_and_one_by_one(family):
    """Σ weight × cross-entropy / Σ weight over the learnt tokens, whichever the layout."""
    import torch.nn.functional as F

    model = tiny(family, "sdpa")
    batch = examples()
    with torch.no_grad():
        packed, packed_tokens = micro_batch_loss(model, data.pack(batch))
        padded, padded_tokens = micro_batch_loss(model, data.collate(batch, pad_id=0))
        full, _ = micro_batch_loss(model, data.pack(batch), select_logits=False)
        numerator = denominator = 0.0
        for e in batch:
            logits = model(input_ids=torch.tensor([e.input_ids]), use_cache=False).logits[0]
            targets = torch.tensor(e.labels[1:])
            learnt = targets != data.IGNORE
            loss = F.cross_entropy(logits[:-1][learnt], targets[learnt], reduction="sum")
            numerator += e.weight * float(loss)
            denominator += e.weight * int(learnt.sum())
    expected = numerator / denominator
    assert int(packed_tokens) == int(padded_tokens) == sum(n - n // 2 for n in LENGTHS)
    for value in (packed, padded, full):
        assert float(value) == pytest.approx(expected, rel=1e-5)
    logits = model(**{k: v for k, v in data.collate(batch, 0).items()
                      if k in ("input_ids", "attention_mask")}).logits
    old, _ = weighted_loss(logits, data.collate(batch, 0)["labels"], torch.tensor(
        [e.weight for e in batch]))
    assert float(old) == pytest.approx(expected, rel=1e-5)


def test_padding_fraction():
    assert data.padding_fraction([4, 2, 3, 3], [[0, 1], [2, 3]]) == pytest.approx(2 / 14)
    assert data.padding_fraction([3, 3], [[0, 1]]) == 0.0


def adapter(folder):
    return load_file(folder / "out" / "adapter" / "adapter_model.safetensors")


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_packed_and_padded_batches_give_the_same_gradients(family):
    grads = []
    for batch in (data.pack(examples()), data.collate(examples(), pad_id=0)):
        model = tiny(family, "sdpa").train()
        loss, _ = micro_batch_loss(model, batch)
        loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    packed, padded = grads
    for name in packed:
        torch.testing.assert_close(packed[name], padded[name], rtol=1e-4, atol=1e-7)


def test_packing_is_chosen_by_the_attention_that_runs_it():
    from engine.errors import OwnVoiceError
    from engine.training.base import attention, packing

    assert packing("auto", "flash_attention_2") and not packing("auto", "sdpa")
    assert packing("on", "sdpa") and packing(True, "eager") and not packing(False, "sdpa")
    assert not packing("off", "flash_attention_2")
    with pytest.raises(OwnVoiceError, match="packing must be auto, on or off"):
        packing("yes", "sdpa")
    assert attention("auto", cuda=False, bf16=False) is None  # transformers' default: sdpa
    assert attention("eager", cuda=False, bf16=False) == "eager"
    with pytest.raises(OwnVoiceError, match="attention must be one of"):
        attention("flash", cuda=True, bf16=True)


def test_packed_training_equals_padded_and_resumes_exactly(tiny_model, tmp_path):
    def run(name, **changes):
        return train(config_for(tiny_model, tmp_path / name, max_steps=4, lora_dropout=0.0,
                                **changes), **({"resume": True} if name == "resumed" else {}))

    packed, padded = run("packed", packing="on"), run("padded", packing="off")
    steps = [[e["loss"] for e in map(json.loads, (tmp_path / name / "out" / "progress.jsonl")
                                     .read_text().splitlines()) if e["event"] == "step"]
             for name in ("packed", "padded")]
    assert steps[0] == pytest.approx(steps[1], rel=1e-6)
    a, b = adapter(tmp_path / "packed"), adapter(tmp_path / "padded")
    assert a.keys() == b.keys()
    # Adam divides each gradient by its own size: an element whose gradient is nearly 0
    # turns float rounding (another summation order) into a visible part of its step.
    # 2e-4 is 2 % of one step at this learning rate (1e-2); a wrong loss moves whole steps.
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-3, atol=2e-4)
    assert packed.history[-1]["val_loss"] == pytest.approx(padded.history[-1]["val_loss"],
                                                           rel=1e-5)
    logs = [json.loads(line)["message"] for line in (tmp_path / "packed" / "out" /
            "progress.jsonl").read_text().splitlines() if '"log"' in line]
    assert "batches packed, attention sdpa" in logs

    # Interrupted after step 1 and resumed: exactly the uninterrupted packed run.
    train(config_for(tiny_model, tmp_path / "resumed", max_steps=4, lora_dropout=0.0,
                     packing="on"), cancelled=lambda: True)
    assert run("resumed", packing="on").steps == 4
    c = adapter(tmp_path / "resumed")
    for key in a:
        torch.testing.assert_close(a[key], c[key], rtol=1e-5, atol=1e-6)


def test_a_run_from_before_packing_resumes_padded(tiny_model, tmp_path):
    """Checkpoints written before packing existed do not say `packed`: such a run continues
    padded, as it began, even when its job now asks for packing."""
    straight = train(config_for(tiny_model, tmp_path / "a", max_steps=6, packing="off"))
    train(config_for(tiny_model, tmp_path / "b", max_steps=6, packing="off"),
          cancelled=lambda: True)  # stops after step 1, its checkpoint written
    for saved in (tmp_path / "b" / "out" / "checkpoints").glob("*/trainer_state.pt"):
        state = torch.load(saved, weights_only=True)
        del state["packed"]
        torch.save(state, saved)
    resumed = train(config_for(tiny_model, tmp_path / "b", max_steps=6, packing="on"),
                    resume=True)
    assert resumed.steps == straight.steps == 6
    a, b = adapter(tmp_path / "a"), adapter(tmp_path / "b")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("packing", ["on", "off"])
def test_bf16_training_on_a_gpu_resumes_where_it_stopped(tiny_model, tmp_path, packing):
    """The CPU test above, on a GPU in bf16: interrupted after step 1 and resumed, the run
    ends where the uninterrupted one does — much nearer to it than the last three steps
    moved it (GPU kernels may sum in another order, so not bit for bit)."""
    def run(name, **more):
        return train(config_for(tiny_model, tmp_path / name, max_steps=4, lora_dropout=0.0,
                                dtype="bf16", packing=packing), **more)

    straight = run("straight")
    assert straight.steps == 4
    run("resumed", cancelled=lambda: True)  # stops after step 1, its checkpoint written
    (first_checkpoint,) = (tmp_path / "resumed" / "out" / "checkpoints").glob("step-*")
    first = load_file(first_checkpoint / "adapter" / "adapter_model.safetensors")
    assert run("resumed", resume=True).steps == 4
    a, c = adapter(tmp_path / "straight"), adapter(tmp_path / "resumed")
    for key in a:
        gap, moved = (a[key] - c[key]).abs().max(), (a[key] - first[key]).abs().max()
        assert moved > 0 and gap <= 0.05 * moved, key
    lines = (tmp_path / "straight" / "out" / "progress.jsonl").read_text()
    assert '"gpu_memory_gb"' in lines


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("attention", ["sdpa", "flash_attention_2"])
@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_a_packed_row_on_a_gpu_in_bf16(family, attention):
    import importlib.util

    if attention == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        pytest.skip("flash-attn is not installed")
    model = tiny(family, attention, dtype=torch.bfloat16, device="cuda")
    assert packed_versus_alone(model, device="cuda") < 5e-2  # bf16 rounding, not leakage
    # The trainer's own call: flash-attention gets the boundaries as they are.
    with torch.no_grad():
        packed, _ = micro_batch_loss(model, on_device(data.pack(examples()), "cuda"),
                                     varlen=attention.startswith("flash"))
        padded, _ = micro_batch_loss(model, on_device(data.collate(examples(), 0), "cuda"))
    assert float(packed) == pytest.approx(float(padded), rel=2e-2)
