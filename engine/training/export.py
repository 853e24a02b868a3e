"""Export a fine-tune: merge the adapter into the base, convert to GGUF with the chat
template and stop tokens embedded, quantise, and prove the result works before calling it
done (llama-cpp-python loads it and translates a validation paragraph, and it stops).

    python -m engine.training.export --base BASE --adapter ADAPTER_DIR --out OUT_DIR [--quant auto]

This is the box's own export (peft's merge); `ownvoice export` also takes an MLX adapter
(engine/training/merging.py picks the merge by the adapter's files).

Also written: an Ollama Modelfile with the template and stop parameters, the GGUF's
sha256, and a model card (base, data size, metrics, config).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.download import file_sha256
from engine.errors import OwnVoiceError
from engine.training.converter import ensure_converter

QUANTS = {"Q4_K_M": "LLAMA_FTYPE_MOSTLY_Q4_K_M", "Q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
          "F16": None}
QUANT_CHOICES = ["auto", *QUANTS]
# Below this size 4-bit costs more quality than the memory it saves: a 270M fine-tune that
# stops cleanly in fp32 loops after Q4_K_M, and is fine at Q8_0 (measured on Gemma 3 270M).
SMALL_MODEL_PARAMS = 1_500_000_000


def auto_quant(parameters: int) -> str:
    return "Q8_0" if parameters < SMALL_MODEL_PARAMS else "Q4_K_M"


@dataclass
class ExportResult:
    gguf: str
    sha256: str
    size_bytes: int
    quant: str
    smoke_test: dict = field(default_factory=dict)
    modelfile: str | None = None
    model_card: str | None = None


def merge(base_model: str, adapter_dir: str | Path, out_dir: str | Path) -> tuple[Path, int]:
    """The base with the LoRA adapter folded in, saved as a plain HF model folder; returns
    the folder and the model's parameter count."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir = Path(out_dir)
    base = Path(base_model).expanduser()
    kwargs = {}
    if base.suffix == ".gguf":
        kwargs["gguf_file"], base = base.name, base.parent
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32, **kwargs)
    if getattr(model, "hf_quantizer", None) is not None:  # a GGUF base, dequantised on load
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    # The adapter folder's tokenizer carries the chat template used in training.
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    merged.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir, sum(p.numel() for p in merged.parameters())


def convert(hf_dir: str | Path, outfile: str | Path, *, outtype: str = "f16") -> Path:
    """llama.cpp's own converter (same version as the runtime); the tokenizer's chat
    template goes into the GGUF."""
    script = ensure_converter(quiet=True)
    # The converter puts its own gguf-py first on sys.path unless NO_LOCAL_GGUF is set;
    # PyPI's gguf (what transformers uses) is a different version that it cannot use.
    env = {k: v for k, v in os.environ.items() if k != "NO_LOCAL_GGUF"}
    result = subprocess.run([sys.executable, str(script), str(hf_dir), "--outfile",
                             str(outfile), "--outtype", outtype], capture_output=True,
                            text=True, env=env)
    if result.returncode != 0 or not Path(outfile).exists():
        raise OwnVoiceError("llama.cpp's converter failed: "
                            + (result.stderr.strip().splitlines() or ["no output"])[-1])
    return Path(outfile)


def quantize(source: str | Path, target: str | Path, quant: str) -> Path:
    import ctypes

    import llama_cpp

    from engine.translation.backends.llama import _quiet_llama_logs

    _quiet_llama_logs()  # llama.cpp reports every tensor it quantises
    if quant not in QUANTS:
        raise OwnVoiceError(f"Unknown quantisation {quant!r}; choose one of {sorted(QUANTS)}.")
    if QUANTS[quant] is None:
        os.replace(source, target)
        return Path(target)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANTS[quant])
    partial = Path(str(target) + ".part")
    code = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(),
                                          ctypes.byref(params))
    if code != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        raise OwnVoiceError(f"llama.cpp could not quantise to {quant} (code {code}).")
    os.replace(partial, target)
    return Path(target)


def smoke_test(gguf: str | Path, text: str, *, source: str, target: str,
               voice: bool = False) -> dict:
    """Load the GGUF with llama-cpp-python and translate one paragraph: it must answer and
    stop at the end of its turn, not at the token limit — or the export is broken. A wrong
    language or length is the model's quality, not the export's: reported, not fatal (a
    small base on a few pairs often echoes; the comparison report judges quality).
    `voice`: prompt it with the short system prompt it was trained with (prompts.VOICE_PROMPT)."""
    from engine.translation.backends.llama import LlamaCppBackend
    from engine.translation.guards import StopReason, wrong_language
    from engine.translation.translate import Translator

    backend = LlamaCppBackend(gguf)
    backend.voice_prompt = voice
    try:
        if backend.prompt_style != "chat":
            raise OwnVoiceError("The exported GGUF has no chat template: the translator would "
                                "not prompt it the way it was trained.")
        result = Translator(backend).translate(text, source=source, target=target)
    finally:
        backend.close()
    unit = result.units[0]
    # Ended its turn itself: not cut at the token limit, nor by the repetition guard.
    stopped = unit.stop_reason == StopReason.STOP
    right_language = wrong_language(unit.output, target) is None
    return {"input": text, "output": unit.output, "stopped": stopped,
            "right_language": right_language, "tokens_out": result.tokens_out,
            "warnings": unit.warnings,
            "passed": bool(unit.output.strip()) and stopped}


def unverified_reason(smoke: dict) -> str | None:
    """Why a model whose smoke test (smoke_test's dict) failed is not to be trusted, with
    what to try; None when it passed."""
    if smoke.get("passed"):
        return None
    why = "gave no answer" if not smoke.get("output", "").strip() else (
        "did not stop at the end of its turn")
    return (f"its smoke test failed: asked to translate {smoke.get('input', '')!r} it {why} "
            f"({smoke.get('output', '')[:120]!r}). Try more steps (--max-steps or --epochs), "
            "a higher --learning-rate, or another checkpoint (--checkpoint STEP).")


# Ollama only knows the templates it ships: a fine-tune needs its own TEMPLATE and stops.
_OLLAMA_TEMPLATES = {
    "<|im_start|>": ('{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}'
                     '<|im_start|>user\n{{ .Prompt }}<|im_end|>\n<|im_start|>assistant\n',
                     ["<|im_end|>", "<|im_start|>"]),
    "<start_of_turn>": ('<start_of_turn>user\n{{ if .System }}{{ .System }}\n\n{{ end }}'
                        '{{ .Prompt }}<end_of_turn>\n<start_of_turn>model\n',
                        ["<end_of_turn>"]),
}


def write_modelfile(gguf: Path, chat_template: str, system: str) -> Path | None:
    for marker, (template, stops) in _OLLAMA_TEMPLATES.items():
        if marker in chat_template:
            lines = [f"FROM ./{gguf.name}", f'TEMPLATE """{template}"""',
                     f'SYSTEM """{system}"""', "PARAMETER temperature 0.7",
                     "PARAMETER repeat_penalty 1.05", "PARAMETER repeat_last_n 512"]
            lines += [f'PARAMETER stop "{stop}"' for stop in stops]
            path = gguf.parent / "Modelfile"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            return path
    return None


def export(*, base_model: str, adapter_dir: str | Path, out_dir: str | Path,
           quant: str = "auto", name: str = "ownvoice", smoke_text: str | None = None,
           source: str = "en", target: str = "zh", voice: bool = False,
           card: dict | None = None, merge=merge) -> ExportResult:
    """merge → GGUF → quantise → smoke test → Modelfile → model card. `merge(base_model,
    adapter_dir, out_dir) → (folder, parameters)`: peft's (above) for a torch adapter,
    mlx_lora.fuse.fuse for an MLX one."""
    from engine.translation import prompts

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    merged, parameters = merge(base_model, adapter_dir, out_dir / "merged")
    if quant == "auto":
        quant = auto_quant(parameters)
    f16 = convert(merged, out_dir / f"{name}-f16.gguf")
    gguf = quantize(f16, out_dir / f"{name}-{quant.lower()}.gguf", quant)
    if gguf != f16:
        f16.unlink(missing_ok=True)
    # A failed smoke test keeps the GGUF (the training was paid for): the result says so,
    # and the model is registered as unverified (see unverified_reason).
    smoke = smoke_test(gguf, smoke_text or "Good morning.", source=source, target=target,
                       voice=voice)
    template = json.loads((merged / "tokenizer_config.json").read_text()).get(
        "chat_template") or ""
    if not template and (merged / "chat_template.jinja").exists():
        template = (merged / "chat_template.jinja").read_text()
    modelfile = write_modelfile(gguf, template,
                                prompts.system_prompt(source, target, voice=voice))
    result = ExportResult(gguf=str(gguf), sha256=file_sha256(gguf),
                          size_bytes=gguf.stat().st_size,
                          quant=quant, smoke_test=smoke,
                          modelfile=str(modelfile) if modelfile else None)
    card_path = out_dir / "model-card.json"
    card_path.write_text(json.dumps({"name": name, "base_model": base_model, **(card or {}),
                                     "export": asdict(result)}, indent=2, ensure_ascii=False))
    result.model_card = str(card_path)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.training.export", description=__doc__)
    parser.add_argument("--base", required=True, help="the base model (id, folder or .gguf)")
    parser.add_argument("--adapter", required=True, help="the LoRA adapter folder (PyTorch's)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--quant", default="auto", choices=QUANT_CHOICES,
                        help="auto: Q8_0 below 1.5B parameters, Q4_K_M above")
    parser.add_argument("--name", default="ownvoice")
    parser.add_argument("--prompt", default="voice", choices=("voice", "instruction"),
                        help="the system prompt its training data used (OwnVoice's datasets: "
                             "voice; jobs from before 2026-11-30: instruction)")
    args = parser.parse_args(argv)
    try:
        if (Path(args.adapter) / "adapters.safetensors").is_file():  # mlx-lm's file name
            raise OwnVoiceError(f"{args.adapter} is an MLX adapter: export it with `ownvoice "
                                "export` (fusing needs MLX, which a GPU box has not).")
        result = export(base_model=args.base, adapter_dir=args.adapter, out_dir=args.out,
                        quant=args.quant, name=args.name, voice=args.prompt == "voice")
    except OwnVoiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(result), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
