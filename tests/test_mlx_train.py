"""The MLX trainer for real, on the CPU build of MLX (`mlx[cpu]`): the tiny Llama of the torch
trainer's tests (SmolLM2's tokenizer and ChatML template), full precision and quantised to 4
bits by mlx-lm; the same job files, folders and progress events as the torch trainer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

mx = pytest.importorskip("mlx.core", reason="MLX is not installed (pip install 'mlx[cpu]' "
                                            "mlx-lm, or the `mlx` extra)")
pytest.importorskip("mlx_lm", reason="mlx-lm is not installed (the `mlx` extra)")

from engine import events  # noqa: E402
from engine.errors import OwnVoiceError  # noqa: E402
from engine.training import data, export  # noqa: E402
from engine.training.mlx_lora import loss, optim  # noqa: E402
from engine.training.mlx_lora import model as adapters  # noqa: E402
from engine.training.mlx_lora.choose import score  # noqa: E402
from engine.training.mlx_lora.fuse import fuse  # noqa: E402
from engine.training.mlx_lora.loop import train  # noqa: E402
from engine.translation.gguf_meta import read_metadata  # noqa: E402
from tests.test_train import config_for, write_pairs  # noqa: E402


@pytest.fixture(scope="module")
def tiny_4bit(tiny_model, tmp_path_factory):
    """The tiny model converted by mlx-lm and quantised to 4 bits (groups of 64), as Mac
    users' bases come (e.g. mlx-community/…-4bit)."""
    from mlx_lm import convert

    folder = tmp_path_factory.mktemp("tiny-4bit") / "model"
    convert(str(tiny_model), str(folder), quantize=True, q_group_size=64, q_bits=4)
    return folder


@pytest.fixture(scope="module")
def tiny_qwen2(qwen2_vocab, tmp_path_factory):
    """A tiny Qwen2 (the family writers choose) with Qwen2's real tokenizer and chat template
    and an untied output head, as Qwen2.5-7B has, saved by transformers 5 (RoPE settings
    under `rope_parameters`)."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(qwen2_vocab.parent),
                                              gguf_file=qwen2_vocab.name)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        tie_word_embeddings=False, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id))
    folder = tmp_path_factory.mktemp("tiny-qwen2") / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_gemma3(gemma_file, tmp_path_factory):
    """A tiny Gemma 3 with Gemma's real tokenizer and chat template (read from the embedded
    model's GGUF), the family's layout (five sliding-window layers, then one that attends to
    everything: llama.cpp's Gemma 3 assumes that pattern), its scaled embedding and (1 + w)
    norms, queries scaled by the head size (as all but the 27B); it takes MLX's full-logits
    loss (loss.PLAIN_HEAD does not list it)."""
    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    tokenizer = AutoTokenizer.from_pretrained(str(gemma_file.parent),
                                              gguf_file=gemma_file.name)
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=6,
        num_attention_heads=4, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
        sliding_window=8, layer_types=["sliding_attention"] * 5 + ["full_attention"],
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id))
    folder = tmp_path_factory.mktemp("tiny-gemma3") / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def hf_logits(folder, ids) -> np.ndarray:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    with torch.no_grad():
        return model(torch.tensor(ids)).logits.numpy()


def predicts_in_llama_cpp(gguf, ids, expected) -> None:
    """llama.cpp's logits for `ids` (one row) are MLX's `expected`, within f16 rounding, and
    pick the same next tokens."""
    from llama_cpp import Llama

    llm = Llama(str(gguf), n_ctx=64, logits_all=True, verbose=False)
    try:
        llm.eval(ids[0])
        scores = np.array(llm.scores[:len(ids[0])])
    finally:
        llm.close()
    assert np.abs(scores - expected[0]).max() < 5e-2 * max(1.0, np.abs(expected).max())
    assert (scores.argmax(-1) == expected[0].argmax(-1)).all()


def losses_of(output) -> list[float]:
    return [e.loss for e in events.read(output / "progress.jsonl")
            if isinstance(e, events.Step)]


def test_the_loss_falls_and_the_run_is_written_as_torch_writes_it(tiny_model, tmp_path):
    heard = []
    result = train(config_for(tiny_model, tmp_path, max_steps=8), on_progress=heard.append)
    out = tmp_path / "out"
    recorded = events.read(out / "progress.jsonl")
    assert heard == recorded
    losses = losses_of(out)
    assert len(losses) == 8 and losses[-1] < losses[0] - 0.3, losses
    first = next(e for e in recorded if isinstance(e, events.Step))
    assert first.tokens_per_s > 0 and first.lr == pytest.approx(1e-2 * 7 / 8)
    assert first.eta_s is not None
    # Peak memory is Metal's; MLX's CPU build has none to report.
    assert (first.gpu_memory_gb is None) == (not mx.metal.is_available())
    assert isinstance(recorded[0], events.Evaluation) and recorded[0].base
    assert isinstance(recorded[-1], events.Log) and "finished" in recorded[-1].message
    checkpoints = sorted((out / "checkpoints").iterdir())
    assert [c.name for c in checkpoints] == [f"step-{s:06d}" for s in (2, 4, 6, 8)]
    saved = json.loads((checkpoints[0] / "config.json").read_text())
    assert saved["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                       "up_proj", "down_proj"]
    assert json.loads((checkpoints[0] / "metrics.json").read_text())["step"] == 2
    adapter = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter["lora_parameters"]["scale"] == 2.0 and len(
        adapter["lora_parameters"]["keys"]) == 7
    assert result.base_val_loss > result.best_val_loss
    best = min(result.history, key=lambda h: h["val_loss"])["step"]
    assert result.best_checkpoint == str(out / "checkpoints" / f"step-{best:06d}")
    assert json.loads((out / "result.json").read_text())["steps"] == 8

    scores = score(config_for(tiny_model, tmp_path, max_steps=8), top=2, examples=2)
    assert len(scores) == 2 and scores[0]["score"] <= scores[1]["score"]
    assert {"length_drift", "number_drift", "stop_rate"} <= set(scores[0])


def test_a_4bit_base_trains_qlora(tiny_4bit, tmp_path):
    import mlx.nn as nn

    config = config_for(tiny_4bit, tmp_path, max_steps=6, learning_rate=2e-2)
    tokenizer, model, _ = adapters.load_for_training(config)
    assert isinstance(model.layers[0].self_attn.q_proj.linear, nn.QuantizedLinear)
    assert isinstance(model.model.embed_tokens.base, nn.QuantizedEmbedding)
    result = train(config)
    losses = losses_of(tmp_path / "out")
    assert len(losses) == 6 and losses[-1] < losses[0], losses
    assert result.best_val_loss < result.base_val_loss - 0.3


def test_the_loss_is_the_torch_trainers_number(tiny_model, tmp_path):
    """Same weights, same batch, pair weights 3, 1, 1, 2: MLX's loss equals torch's
    `weighted_loss` (LoRA starts with no effect, so both are the base's)."""
    import torch
    from transformers import AutoModelForCausalLM

    from engine.training.loop import weighted_loss

    config = config_for(tiny_model, tmp_path)
    config.train_file = str(write_pairs(tmp_path / "w.jsonl", count=4,
                                        weights=[3.0, 1.0, 1.0, 2.0]))
    tokenizer, model, _ = adapters.load_for_training(config)
    model.eval()
    train_set, _ = data.encode_files(tokenizer, config)
    batch = data.padded(train_set, tokenizer.pad_token_id)
    ours, tokens = loss.batch_loss(model, loss.arrays(batch))

    reference = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32)
    collated = data.collate(train_set, tokenizer.pad_token_id)
    with torch.no_grad():
        logits = reference(input_ids=collated["input_ids"],
                           attention_mask=collated["attention_mask"]).logits
        theirs, their_tokens = weighted_loss(logits, collated["labels"], collated["weights"])
    assert tokens.item() == int(their_tokens)
    assert ours.item() == pytest.approx(float(theirs), rel=1e-5)
    even, _ = weighted_loss(logits, collated["labels"], torch.ones(4))
    assert float(even) != pytest.approx(float(theirs), rel=1e-4)  # the weights count


def test_the_learning_rate_follows_the_torch_trainers_schedule():
    import torch
    from transformers import get_linear_schedule_with_warmup

    for warmup, total in ((0, 7), (3, 10)):
        parameter = torch.nn.Parameter(torch.zeros(1))
        sgd = torch.optim.SGD([parameter], lr=0.5)
        scheduler = get_linear_schedule_with_warmup(sgd, warmup, total)
        rate = optim.linear_schedule(0.5, warmup, total)
        for k in range(total + 1):
            assert rate(k).item() == pytest.approx(scheduler.get_last_lr()[0], abs=1e-7)
            sgd.step()
            scheduler.step()


def test_the_end_of_turn_row_learns_and_fuses_into_the_embedding(tiny_model, tmp_path):
    from mlx.utils import tree_flatten
    from mlx_lm.utils import load_model
    from transformers import AutoTokenizer

    config = config_for(tiny_model, tmp_path, max_steps=3)
    result = train(config)
    adapter = tmp_path / "out" / "adapter"
    rows = json.loads((adapter / "adapter_config.json").read_text())["token_rows"]
    assert AutoTokenizer.from_pretrained(str(adapter)).convert_ids_to_tokens(rows) == [
        "<|im_end|>"]
    deltas = mx.load(str(adapter / adapters.ROWS_FILE))
    assert list(deltas) == ["model.embed_tokens.delta"]  # tied: the head shares the rows
    assert mx.abs(deltas["model.embed_tokens.delta"]).max().item() > 0

    fused, parameters = fuse(config.base_model, result.adapter_dir, tmp_path / "fused")
    before = load_model(tiny_model)[0].model.embed_tokens.weight
    after = load_model(fused)[0].model.embed_tokens.weight
    changed = mx.abs(after - before).max(axis=1) > 0
    assert mx.array(rows).tolist() == [i for i, c in enumerate(changed.tolist()) if c]
    assert parameters == sum(v.size for _, v in tree_flatten(load_model(fused)[0].parameters()))


def test_resume_gives_the_same_adapter_as_an_uninterrupted_run(tiny_model, tmp_path):
    straight = train(config_for(tiny_model, tmp_path / "a", max_steps=6, grad_accum=2,
                                batch_size=2))
    steps = []

    def interrupt_after_3() -> bool:
        steps.append(1)
        return len(steps) >= 3

    config = config_for(tiny_model, tmp_path / "b", max_steps=6, grad_accum=2, batch_size=2)
    assert train(config, cancelled=interrupt_after_3).steps == 3
    assert (tmp_path / "b" / "out" / "checkpoints" / "step-000003").exists()
    resumed = train(config_for(tiny_model, tmp_path / "b", max_steps=6, grad_accum=2,
                               batch_size=2), resume=True)
    assert resumed.steps == straight.steps == 6
    for name in (adapters.LORA_FILE, adapters.ROWS_FILE):
        a = mx.load(str(tmp_path / "a" / "out" / "adapter" / name))
        b = mx.load(str(tmp_path / "b" / "out" / "adapter" / name))
        assert a.keys() == b.keys()
        for key in a:
            assert mx.allclose(a[key], b[key], rtol=1e-5, atol=1e-7).item(), key
    assert straight.history[-1]["val_loss"] == pytest.approx(resumed.history[-1]["val_loss"],
                                                             rel=1e-6)
    steps_logged = [e.step for e in events.read(tmp_path / "b" / "out" / "progress.jsonl")
                    if isinstance(e, events.Step)]
    assert steps_logged == list(range(1, 7))  # every step once, in order


def test_a_4bit_fuse_is_a_dequantised_hugging_face_folder(tiny_4bit, tmp_path):
    """It loads in transformers and predicts what the adapted 4-bit model predicts."""
    from transformers import AutoTokenizer

    config = config_for(tiny_4bit, tmp_path, max_steps=2)
    result = train(config)
    folder, _ = fuse(config.base_model, result.adapter_dir, tmp_path / "fused")
    saved = json.loads((folder / "config.json").read_text())
    assert "quantization" not in saved and "quantization_config" not in saved
    assert AutoTokenizer.from_pretrained(str(folder)).chat_template  # training's template

    model, _ = adapters.load_model(config.base_model)
    adapters.attach(model, result.adapter_dir)
    model.eval()
    ids = [[1, 504, 3458, 30, 2]]
    expected = np.array(model(mx.array(ids)).astype(mx.float32))
    got = hf_logits(folder, ids)
    assert np.abs(got - expected).max() < 2e-2 * max(1.0, np.abs(expected).max())

    # llama.cpp's own converter (export.py) makes a GGUF of it that llama.cpp runs alike.
    predicts_in_llama_cpp(export.convert(folder, tmp_path / "fused-f16.gguf"), ids, expected)


def test_a_gemma3_trains_on_full_logits_with_torchs_loss_and_exports(tiny_gemma3, tmp_path):
    """Gemma 3 (the embedded model's family) in MLX: the model predicts as transformers does
    (over 12 tokens, past the sliding window of 8), the first step's loss is the torch
    trainer's on the same pairs (MLX's full-logits loss), and the fused model goes through
    llama.cpp's converter into a GGUF that predicts as MLX does."""
    from engine.training.loop import train as train_torch

    ids = [[2, 818, 5279, 529, 7001, 236761, 1018, 3385, 563, 1535, 236761, 106]]
    plain, _ = adapters.load_model(str(tiny_gemma3))
    assert plain.model_type not in loss.PLAIN_HEAD  # the full-logits path is the one tested
    assert np.abs(np.array(plain(mx.array(ids))) - hf_logits(tiny_gemma3, ids)).max() < 1e-4

    mlx_run = train(config_for(tiny_gemma3, tmp_path / "mlx", max_steps=3, batch_size=2))
    torch_run = train_torch(config_for(tiny_gemma3, tmp_path / "torch", max_steps=1,
                                       batch_size=2))
    # Step 1's loss is the base's (LoRA's B starts at 0): the same data, batches and loss.
    assert losses_of(tmp_path / "mlx" / "out")[0] == pytest.approx(
        losses_of(tmp_path / "torch" / "out")[0], rel=1e-4)
    assert torch_run.steps == 1 and mlx_run.steps == 3

    folder, _ = fuse(str(tiny_gemma3), mlx_run.adapter_dir, tmp_path / "fused")
    model, _ = adapters.load_model(str(tiny_gemma3))
    adapters.attach(model, mlx_run.adapter_dir)
    model.eval()
    expected = np.array(model(mx.array(ids)))
    assert np.abs(hf_logits(folder, ids) - expected).max() < 1e-3
    gguf = export.convert(folder, tmp_path / "fused-f16.gguf")
    meta = read_metadata(gguf)
    assert meta["general.architecture"] == "gemma3"
    assert "<start_of_turn>" in meta["tokenizer.chat_template"]
    predicts_in_llama_cpp(gguf, ids, expected)


def test_transformers_5_settings_reach_mlx_lm_in_its_own_keys(tmp_path):
    """RoPE per layer type and Gemma 3's layer types, written by transformers 5, become the
    keys mlx-lm reads; a layout mlx-lm cannot express is one line."""
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "gemma3_text", "layer_types": ["sliding_attention"] * 5 + [
            "full_attention"] + ["sliding_attention"] * 2,
        "rope_parameters": {"full_attention": {"rope_theta": 1e6, "rope_type": "default"},
                            "sliding_attention": {"rope_theta": 1e4, "rope_type": "default"}}}))
    assert adapters.older_settings(tmp_path) == {
        "rope_theta": 1e6, "rope_local_base_freq": 1e4, "sliding_window_pattern": 6}
    assert adapters.sliding_pattern(["sliding_attention"] * 3) == 4  # no full layer at all
    with pytest.raises(OwnVoiceError, match="takes every Nth layer as full attention"):
        adapters.sliding_pattern(["full_attention", "sliding_attention", "sliding_attention",
                                  "full_attention"])
    (tmp_path / "config.json").write_text(json.dumps({"rope_theta": 1e4, "model_type": "qwen2"}))
    assert adapters.older_settings(tmp_path) == {}  # the older keys are there already


def test_the_export_command_fuses_an_mlx_adapter(tiny_4bit, tmp_path):
    """`ownvoice export` on an MLX run's adapter: fused (not peft), converted, quantised and
    smoke-tested like a PyTorch one."""
    from tests.conftest import run_ownvoice

    result = train(config_for(tiny_4bit, tmp_path, max_steps=2))
    out = json.loads(run_ownvoice("export", "--base", str(tiny_4bit), "--adapter",
                                  str(result.adapter_dir), "--out", str(tmp_path / "e"),
                                  "--quant", "Q8_0", "--json").stdout)
    assert out["quant"] == "Q8_0" and out["smoke_test"]["input"]
    meta = read_metadata(out["gguf"])
    assert meta["general.architecture"] == "llama" and "<|im_start|>" in meta[
        "tokenizer.chat_template"]
    merged = json.loads((tmp_path / "e" / "merged" / "config.json").read_text())
    assert "quantization" not in merged  # dequantised by the fuse


@pytest.mark.apple
@pytest.mark.skipif(not mx.metal.is_available(), reason="needs Apple silicon (Metal)")
def test_on_apple_silicon_metal_memory_is_reported_and_is_the_budget(tiny_4bit, tmp_path,
                                                                     monkeypatch):
    """A 4-bit base trains on Metal; every step reports Metal's peak memory, and the memory
    check's budget is Metal's recommended working set."""
    from engine.training import memory

    train(config_for(tiny_4bit, tmp_path, max_steps=2))
    steps = [e for e in events.read(tmp_path / "out" / "progress.jsonl")
             if isinstance(e, events.Step)]
    assert len(steps) == 2 and all(s.gpu_memory_gb and s.gpu_memory_gb > 0 for s in steps)
    monkeypatch.delenv("OWNVOICE_TRAIN_MEMORY_GB", raising=False)
    assert memory.available_bytes() == mx.device_info()["max_recommended_working_set_size"]


def test_a_gguf_base_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(OwnVoiceError, match="MLX cannot train on a GGUF file"):
        adapters.local_folder(str(tmp_path / "model.gguf"))


def test_an_untied_qwen2_learns_its_end_of_turn_rows_in_and_out(tiny_qwen2, tmp_path):
    """Both the embedding's and the output head's end-of-turn rows learn, and fuse; MLX reads
    transformers 5's RoPE settings (a fused model predicts as transformers does, and as
    llama.cpp does after the GGUF export)."""
    from mlx_lm.utils import load_model

    ids = [[1, 504, 3458, 30, 2]]
    plain, _ = adapters.load_model(str(tiny_qwen2))
    assert np.abs(np.array(plain(mx.array(ids))) - hf_logits(tiny_qwen2, ids)).max() < 1e-4

    config = config_for(tiny_qwen2, tmp_path, max_steps=3)
    result = train(config)
    deltas = mx.load(str(tmp_path / "out" / "adapter" / adapters.ROWS_FILE))
    assert sorted(deltas) == ["lm_head.delta", "model.embed_tokens.delta"]
    assert all(mx.abs(d).max().item() > 0 for d in deltas.values())
    rows = json.loads((tmp_path / "out" / "adapter" / "adapter_config.json").read_text())[
        "token_rows"]

    folder, _ = fuse(config.base_model, result.adapter_dir, tmp_path / "fused")
    head_before = load_model(tiny_qwen2)[0].lm_head.weight
    head_after = load_model(folder)[0].lm_head.weight
    changed = (mx.abs(head_after - head_before).max(axis=1) > 0).tolist()
    assert [i for i, c in enumerate(changed) if c] == rows
    model, _ = adapters.load_model(config.base_model)
    adapters.attach(model, result.adapter_dir)
    model.eval()
    expected = np.array(model(mx.array(ids)))
    assert np.abs(hf_logits(folder, ids) - expected).max() < 1e-3

    # The fused Qwen2 (q/k/v biases, untied head, Qwen's tokenizer and template) goes through
    # llama.cpp's converter and predicts in llama.cpp as in MLX.
    gguf = export.convert(folder, tmp_path / "fused-f16.gguf")
    assert "<|im_start|>" in read_metadata(gguf)["tokenizer.chat_template"]
    predicts_in_llama_cpp(gguf, ids, expected)


def test_gradient_checkpointing_trains_alike_and_is_undone(tiny_model, tmp_path):
    """With gradient checkpointing (what the memory check turns on first for real bases)
    the losses are the plain run's; afterwards the layer class is as it was, so checkpoint
    choice's generation and later jobs do not run through mlx-lm's patch."""
    from engine.training.mlx_lora.choose import score

    plain_model, _ = adapters.load_model(str(tiny_model))
    layer_class = type(plain_model.layers[0])
    before = layer_class.__call__
    plain = train(config_for(tiny_model, tmp_path / "plain", max_steps=3, lora_dropout=0.0))
    config = config_for(tiny_model, tmp_path / "ckpt", max_steps=3, lora_dropout=0.0,
                        gradient_checkpointing=True)
    checkpointed = train(config)
    assert layer_class.__call__ is before
    assert losses_of(tmp_path / "ckpt" / "out") == pytest.approx(
        losses_of(tmp_path / "plain" / "out"), rel=1e-5)
    assert checkpointed.best_val_loss == pytest.approx(plain.best_val_loss, rel=1e-5)
    scored = score(config, examples=2)
    assert scored and all("stop_rate" in c for c in scored)


def test_an_adapter_of_another_base_is_refused_in_one_line(tiny_model, tmp_path):
    """An array with no place in the base (a deeper model's layer) or another shape (a wider
    one's): refused, naming the base it was trained on — never a raw error, never the
    plain base exported as if it were the fine-tune."""
    result = train(config_for(tiny_model, tmp_path, max_steps=1))
    adapter = Path(result.adapter_dir)
    arrays = mx.load(str(adapter / adapters.LORA_FILE))
    key = next(iter(arrays))
    deeper = re.sub(r"layers\.\d+", "layers.7", key)  # the tiny model has 2 layers
    for name, changed in (("deeper", {**arrays, deeper: arrays[key]}),
                          ("wider", {**arrays, key: mx.zeros((3, 5))})):
        mx.save_safetensors(str(adapter / adapters.LORA_FILE), changed)
        with pytest.raises(OwnVoiceError, match=f"does not fit this base .*trained on "
                                                f"{str(tiny_model)}"):
            fuse(str(tiny_model), result.adapter_dir, tmp_path / name)


def test_the_memory_check_runs_when_training_starts(tiny_model, tmp_path, monkeypatch):
    """A job whose base was not downloaded when it was prepared is checked once the base is
    here, before the first step: too little memory changes the settings (said in the
    progress log, kept for a resumed run) or refuses the run in one line."""
    from engine.training import memory
    from engine.training.base import load_tokenizer, settle_chat_template
    from engine.training.config import FAMILY_TARGETS

    config = config_for(tiny_model, tmp_path, max_steps=2)
    tokenizer = load_tokenizer(config)
    settle_chat_template(tokenizer, config)
    train_set, val_set = data.encode_files(tokenizer, config)
    # the examples' own lengths, logits at the learnt positions only (a Llama: plain head)
    lengths = memory.Lengths.of(train_set + val_set, selected_logits=True)
    assert lengths.longest < config.max_length and lengths.logits_share < 1
    shape = memory.Shape.from_config(json.loads((tiny_model / "config.json").read_text()))
    plain = memory.estimate(shape, batch_size=4, max_length=lengths.longest, lora_r=16,
                            targets=FAMILY_TARGETS["llama"],
                            logits_share=lengths.logits_share)["total"]
    monkeypatch.setattr(memory, "available_bytes", lambda: plain - 1)
    train(config, cancelled=lambda: True)  # stops after step 1
    out = tmp_path / "out"
    logs = [e.message for e in events.read(out / "progress.jsonl") if isinstance(e, events.Log)]
    assert any("changed to fit" in m and "gradient checkpointing on" in m for m in logs), logs
    assert json.loads((out / "config.json").read_text())["gradient_checkpointing"] is True
    monkeypatch.setattr(memory, "available_bytes", lambda: 10 * plain)  # more memory now
    train(config, resume=True)
    assert json.loads((out / "config.json").read_text())["gradient_checkpointing"] is True
    monkeypatch.setattr(memory, "available_bytes", lambda: 1024)
    with pytest.raises(OwnVoiceError, match="needs about"):
        train(config_for(tiny_model, tmp_path / "small", max_steps=2))


def test_a_bf16_base_trains_and_fuses_shard_by_shard_into_a_gguf(tiny_model, tmp_path):
    """mlx-community's full-precision conversions are bfloat16: LoRA trains on it (the loss
    falls), and the fuse writes the bf16 model in shards (each computed and written in turn,
    with the Hugging Face index) that llama.cpp's converter reads into a GGUF predicting as
    the adapted MLX model does."""
    from mlx_lm import convert

    base = tmp_path / "tiny-bf16"
    convert(str(tiny_model), str(base), dtype="bfloat16")
    config = config_for(base, tmp_path, max_steps=8, learning_rate=1e-3)
    result = train(config)
    losses = losses_of(tmp_path / "out")
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses

    folder, parameters = fuse(config.base_model, result.adapter_dir, tmp_path / "fused",
                              shard_bytes=1 << 20)
    shards = sorted(folder.glob("model-*-of-*.safetensors"))
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    assert len(shards) > 1 and set(index["weight_map"].values()) == {s.name for s in shards}
    written = {}
    for shard in shards:
        written.update(mx.load(str(shard)))
    assert {a.dtype for a in written.values()} == {mx.bfloat16}
    assert sum(a.size for a in written.values()) == parameters

    model, _ = adapters.load_model(config.base_model)
    adapters.attach(model, result.adapter_dir)
    model.eval()
    ids = [[1, 504, 3458, 30, 2]]
    expected = np.array(model(mx.array(ids)).astype(mx.float32))
    predicts_in_llama_cpp(export.convert(folder, tmp_path / "fused.gguf"), ids, expected)


def test_the_training_child_stops_at_a_checkpoint_once_its_app_is_gone(tiny_model, tmp_path):
    """`python -m engine.training.mlx_lora train` (what the app starts) whose `--parent` is
    no longer its parent — the app died and the child was handed to another process —
    stops after its step with a checkpoint, as when cancelled, instead of training on
    unwatched; its events are JSON lines on stdout."""
    import os
    import subprocess
    import sys

    from engine.training.checkpoint import complete

    config = config_for(tiny_model, tmp_path, max_steps=50)
    config.save(tmp_path / "job.json")
    done = subprocess.run([sys.executable, "-m", "engine.training.mlx_lora", "train",
                           str(tmp_path / "job.json"), "--parent", str(os.getpid() + 1)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    heard = [events.decode(line) for line in lines[:-1]]
    assert [e.step for e in heard if isinstance(e, events.Step)] == [1]
    assert json.loads(lines[-1])["result"]["steps"] == 1
    assert [p.name for p in complete(tmp_path / "out")] == ["step-000001"]
