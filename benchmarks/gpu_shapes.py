"""The GPU training benchmark's pieces: real model shapes with random weights, a tokenizer
built in memory, its pairs, the FLOP count of a LoRA step and the GPUs' peak rates.

Speed does not depend on the weights, so a shape is built from its family's configuration
alone (no download): every value below is the released model's config.json (Qwen/Qwen2.5-3B,
Qwen/Qwen2.5-7B, Qwen/Qwen3-8B, meta-llama/Llama-3.1-8B; checked 2026-11-30). `tiny` is the
same code at a size the CPU runs in seconds (tests/test_bench_train.py).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SHAPES: dict[str, dict] = {
    "qwen2.5-3b": dict(model_type="qwen2", hidden_size=2048, num_hidden_layers=36,
                       num_attention_heads=16, num_key_value_heads=2, intermediate_size=11008,
                       vocab_size=151936, rope_theta=1e6, tie_word_embeddings=True,
                       rms_norm_eps=1e-6, max_position_embeddings=32768),
    "qwen2.5-7b": dict(model_type="qwen2", hidden_size=3584, num_hidden_layers=28,
                       num_attention_heads=28, num_key_value_heads=4, intermediate_size=18944,
                       vocab_size=152064, rope_theta=1e6, tie_word_embeddings=False,
                       rms_norm_eps=1e-6, max_position_embeddings=131072),
    "qwen3-8b": dict(model_type="qwen3", hidden_size=4096, num_hidden_layers=36,
                     num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                     intermediate_size=12288, vocab_size=151936, rope_theta=1e6,
                     tie_word_embeddings=False, rms_norm_eps=1e-6,
                     max_position_embeddings=40960),
    "llama3.1-8b": dict(model_type="llama", hidden_size=4096, num_hidden_layers=32,
                        num_attention_heads=32, num_key_value_heads=8, intermediate_size=14336,
                        vocab_size=128256, rope_theta=5e5, tie_word_embeddings=False,
                        rms_norm_eps=1e-5, max_position_embeddings=131072,
                        rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                      "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 8192}),
    "tiny": dict(model_type="qwen2", hidden_size=64, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
                 vocab_size=512, rope_theta=1e6, tie_word_embeddings=True, rms_norm_eps=1e-6,
                 max_position_embeddings=4096),
}

# Dense bf16 tensor-core peaks (FP32 accumulate), TFLOP/s, matched against
# torch.cuda.get_device_name() in this order (GH200 before H200, H100 PCIe/NVL before H100).
# Sources: NVIDIA's datasheets list these with 2:4 sparsity, twice the dense figure —
# H100 SXM 1,979 (dense 989.4), H100 PCIe 1,513 (756), H100 NVL 1,671 (835), H200 1,979,
# GH200 1,979 (the H100 SXM's tensor cores), A100 624 (312), L40S 733 (362.05); the GeForce
# figures are the architecture whitepapers' "FP16/BF16 tensor with FP32 accumulate", dense:
# RTX 4090 165.2 (Ada Lovelace whitepaper, appendix), RTX 5090 209.5 (RTX Blackwell
# whitepaper). An 8192³ bf16 matmul measured 769–798 TFLOP/s on the H200 lent here
# (/work/.library/device/KINDS.md): about 80 % of the datasheet's peak is a matmul's ceiling.
PEAK_BF16_TFLOPS: list[tuple[str, float]] = [
    ("GH200", 989.4), ("H200", 989.4), ("H100 PCIe", 756.0), ("H100 NVL", 835.0),
    ("H100", 989.4), ("A100", 312.0), ("L40S", 362.05), ("RTX 4090", 165.2),
    ("RTX 5090", 209.5),
]


def peak_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of a GPU by its torch name; None for one not in the table."""
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in device_name), None)


def build(name: str, *, device: str, dtype, attention: str | None = None):
    """A causal LM of shape `name` with random weights, created directly on `device` in
    `dtype` (no CPU copy of an 8B model; initialising on the GPU takes seconds)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    values = dict(SHAPES[name])
    config = AutoConfig.for_model(values.pop("model_type"), **values)
    kwargs = {"attn_implementation": attention} if attention else {}
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, **kwargs)
    return model


def byte_tokenizer():
    """A byte-level tokenizer made in memory (one token per UTF-8 byte, ChatML's turn
    tokens as specials): no tokenizer file has to travel to a GPU box. A Chinese character is
    3 tokens, an English letter 1, so pairs come out longer than a real BPE makes them."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from engine.training.base import CHATML

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    core = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>",
                                        additional_special_tokens=["<|im_start|>",
                                                                   "<|im_end|>"])
    tokenizer.chat_template = CHATML
    return tokenizer


def write_pairs(path: Path, count: int, *, join: tuple[int, int] = (1, 3),
                seed: int = 0) -> Path:
    """`count` English → Chinese pairs in the chat format OwnVoice's dataset export writes
    (engine/pairs/dataset.py), from a real writer's paragraphs (tests/essays.py): each pair
    1–3 consecutive paragraphs of one post (`join`), so lengths vary as a blog's do."""
    from engine.pairs.dataset import messages_for
    from tests.essays import POSTS

    rng = random.Random(seed)
    posts = [paragraphs for _, paragraphs in POSTS.values()]
    with Path(path).open("w", encoding="utf-8") as f:
        for _ in range(count):
            paragraphs = rng.choice(posts)
            n = min(rng.randint(*join), len(paragraphs))
            start = rng.randrange(len(paragraphs) - n + 1)
            chosen = paragraphs[start:start + n]
            pair = {"source_text": "\n\n".join(en for _, en in chosen), "source_lang": "en",
                    "target_lang": "zh", "target_text": "\n\n".join(zh for zh, _ in chosen)}
            f.write(json.dumps({"messages": messages_for(pair)}, ensure_ascii=False) + "\n")
    return Path(path)


def parameters(values: dict, target_modules: list[str], rank: int) -> dict[str, int]:
    """Weights of a shape: `body` (the layers' linear weights), `head` (the LM head, tied or
    not: its matmul runs either way) and `lora` (the adapters on `target_modules`)."""
    d, ff = values["hidden_size"], values["intermediate_size"]
    head_dim = values.get("head_dim") or d // values["num_attention_heads"]
    q = values["num_attention_heads"] * head_dim
    kv = values["num_key_value_heads"] * head_dim
    shapes = {"q_proj": (d, q), "k_proj": (d, kv), "v_proj": (d, kv), "o_proj": (q, d),
              "gate_proj": (d, ff), "up_proj": (d, ff), "down_proj": (ff, d)}
    layers = values["num_hidden_layers"]
    return {"body": layers * sum(a * b for a, b in shapes.values()),
            "head": d * values["vocab_size"],
            "lora": layers * sum(rank * (a + b) for m, (a, b) in shapes.items()
                                 if m in target_modules),
            "attention_width": q, "layers": layers}


def flops_per_token(counts: dict[str, int], *, learnt_fraction: float,
                    attended: float) -> float:
    """Model FLOPs of one trained token in a LoRA step (no recomputation counted):

        4·N_body                 frozen layer weights: forward 2·N, backward 2·N
                                 (activation gradients only; frozen weights get none)
      + 4·N_head·k               the LM head, only at the fraction k of positions that
                                 predict a learnt token (the trainer projects no others)
      + 6·n_lora                 adapters: forward 2·n, backward 4·n (activation and
                                 weight gradients)
      + 3·4·layers·h_q·s         attention (QKᵀ and AV): forward 4·layers·h_q·s, backward
                                 twice that; s = ΣL²/ΣL, the tokens' mean example length
                                 (a packed row attends within its example; counted whole,
                                 not halved for causality, as PaLM's MFU does)

    h_q = attention heads × head size."""
    return (4 * counts["body"] + 4 * counts["head"] * learnt_fraction + 6 * counts["lora"]
            + 12 * counts["layers"] * counts["attention_width"] * attended)
