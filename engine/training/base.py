"""The base model: loading it (HF id, local folder or GGUF), its precision, its attention
implementation and the batch layout that suits it, its chat template and its end-of-turn
tokens."""

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


ATTENTION = ("auto", "sdpa", "eager", "flash_attention_2", "flash_attention_3")
# Implementations that run a packed row as separate variable-length sequences (cu_seqlens),
# computing no attention across examples; the others get a block-diagonal mask over the
# whole row and compute all of it.
VARLEN_ATTENTION = ("flash_attention_2", "flash_attention_3", "flash_attention_4")


def load_base(config, dtype, *, attn_implementation: str | None = None):
    """Tokenizer (`load_tokenizer`) and model from a Hugging Face id (the hub cache,
    downloaded when online), a local folder, or a .gguf file (transformers reads GGUF weights
    into torch). `attn_implementation`: None for transformers' default (sdpa where the family
    has it)."""
    from transformers import AutoModelForCausalLM

    base, kwargs = _located(config.base_model)
    model_kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    tokenizer = load_tokenizer(config)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype, **kwargs,
                                                     **model_kwargs)
    except OSError as exc:
        raise OwnVoiceError(f"Cannot load the base model {config.base_model}: {exc}") from exc
    return tokenizer, model


def load_tokenizer(config):
    """The base's tokenizer (HF id, local folder or .gguf file), its pad token set (the end
    of sequence where it has none). Raises OwnVoiceError when it does not load."""
    from transformers import AutoTokenizer

    base, kwargs = _located(config.base_model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(base), **kwargs)
    except OSError as exc:
        raise OwnVoiceError(f"Cannot load the base model {config.base_model}: {exc}") from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _located(base_model: str) -> tuple[Path, dict]:
    """A base's folder (or id) and the keyword arguments that pick its .gguf file."""
    base = Path(base_model).expanduser()
    if base.suffix == ".gguf":
        return base.parent, {"gguf_file": base.name}
    return base, {}


def precision(requested: str, *, cuda: bool, bf16_supported: bool) -> str:
    """bf16 on GPUs that have it, fp32 on CPUs (and GPUs without bf16)."""
    if requested not in ("auto", "bf16", "fp32"):
        raise OwnVoiceError(f"dtype must be auto, bf16 or fp32, not {requested!r}.")
    if requested == "auto":
        return "bf16" if cuda and bf16_supported else "fp32"
    if requested == "bf16" and not (cuda and bf16_supported):
        raise OwnVoiceError("bf16 needs a GPU that supports it; use dtype auto or fp32.")
    return requested


def attention(requested: str, *, cuda: bool, bf16: bool) -> str | None:
    """The attention implementation to load the base with; None: transformers' default.

    `auto` takes flash-attention 2 on a bf16 GPU where the `flash_attn` package is
    installed (packed rows then run as variable-length sequences, no mask at all), else
    the default: sdpa, which gets a block-diagonal boolean mask for packed rows. Every
    choice here honours packed rows' boundaries (tests/test_train_packing.py). Raises
    OwnVoiceError for a name not in ATTENTION."""
    import importlib.util

    if requested not in ATTENTION:
        raise OwnVoiceError(f"attention must be one of {', '.join(ATTENTION)}, not "
                            f"{requested!r}.")
    if requested != "auto":
        return requested
    if cuda and bf16 and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return None


def packing(requested, implementation: str | None) -> bool:
    """Whether micro-batches are packed: `requested` on/off (or true/false) as asked; auto
    packs under a variable-length attention (VARLEN_ATTENTION) only. `implementation`: the
    loaded model's (`model.config._attn_implementation`). Raises OwnVoiceError for any
    other value."""
    value = {True: "on", False: "off"}.get(requested, requested)
    if value not in ("auto", "on", "off"):
        raise OwnVoiceError(f"packing must be auto, on or off, not {requested!r}.")
    return value == "on" or (value == "auto" and implementation in VARLEN_ATTENTION)


def settle_chat_template(tokenizer, config) -> None:
    """Sets the template training formats with on `tokenizer`: the config's, else the
    base's own, else its family's default (which `config.chat_template` then records, to be
    embedded in the exported GGUF)."""
    if config.chat_template:
        tokenizer.chat_template = config.chat_template
    if not tokenizer.chat_template:
        config.chat_template = default_chat_template(tokenizer)
        tokenizer.chat_template = config.chat_template


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
