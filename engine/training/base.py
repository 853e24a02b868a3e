"""The base model: loading it (HF id, local folder or GGUF), its precision, its chat
template and its end-of-turn tokens."""

from __future__ import annotations

from pathlib import Path

from engine.errors import OwnVoiceError

END_OF_TURN = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>")
# For base models without a chat template: the family's own turn tokens where the
# vocabulary has them (their end-of-turn row is then trained), ChatML otherwise.
GEMMA = ("{{ bos_token }}{% for message in messages %}{% set role = 'model' if "
         "message['role'] == 'assistant' else message['role'] %}{{ '<start_of_turn>' + role + "
         "'\n' + message['content'] + '<end_of_turn>\n' }}{% endfor %}"
         "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}")
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def load_base(config, dtype):
    """Tokenizer and model from a Hugging Face id (the hub cache, downloaded when online),
    a local folder, or a .gguf file (transformers reads GGUF weights into torch)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = Path(config.base_model).expanduser()
    kwargs = {}
    if base.suffix == ".gguf":
        kwargs["gguf_file"] = base.name
        base = base.parent
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(base), **kwargs)
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype, **kwargs)
    except OSError as exc:
        raise OwnVoiceError(f"Cannot load the base model {config.base_model}: {exc}") from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, model


def precision(requested: str, *, cuda: bool, bf16_supported: bool) -> str:
    """bf16 on GPUs that have it, fp32 on CPUs (and GPUs without bf16)."""
    if requested not in ("auto", "bf16", "fp32"):
        raise OwnVoiceError(f"dtype must be auto, bf16 or fp32, not {requested!r}.")
    if requested == "auto":
        return "bf16" if cuda and bf16_supported else "fp32"
    if requested == "bf16" and not (cuda and bf16_supported):
        raise OwnVoiceError("bf16 needs a GPU that supports it; use dtype auto or fp32.")
    return requested


def default_chat_template(tokenizer) -> str:
    vocabulary = tokenizer.get_vocab()
    if "<start_of_turn>" in vocabulary and "<end_of_turn>" in vocabulary:
        return GEMMA
    return CHATML


def end_of_turn_ids(tokenizer) -> list[int]:
    ids = set()
    unknown = tokenizer.unk_token_id
    for marker in END_OF_TURN:
        token = tokenizer.convert_tokens_to_ids(marker)
        if isinstance(token, int) and token != unknown and token >= 0:
            ids.add(token)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)
