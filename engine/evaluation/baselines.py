"""The baselines a fine-tune must beat — the ones writers try first, and that fail:

- `prompt`: the plain translation prompt;
- `style-prompt`: the prompt plus instructions to write in a personal, plain voice;
- `fewshot-random`: a few of the user's own pairs as examples, chosen at random;
- `fewshot-retrieved`: the user's pairs most similar to the paragraph at hand (TF-IDF over
  their machine side — the side in the paragraph's language), as examples.

Each runs on any chat model through the same Translator (guards, stop, repetition cut);
only the prompt differs.
"""

from __future__ import annotations

import random

from engine.errors import OwnVoiceError
from engine.translation import prompts
from engine.translation.backends import Backend, Request
from engine.translation.translate import Translator

BASELINES = ("prompt", "style-prompt", "fewshot-random", "fewshot-retrieved")
STYLE_INSTRUCTIONS = (
    " Write it the way a person writes a personal blog, not the way a translator or an AI "
    "writes: plain everyday words, short sentences, no filler, no stock phrases such as "
    "'furthermore' or 'it is worth noting'. Keep every fact and number.")
EXAMPLES = 3


class PromptedTranslator(Translator):
    """A Translator whose chat prompt is built by `messages_for(text, source, target)`."""

    def __init__(self, backend: Backend, messages_for, **kwargs):
        if backend.prompt_style != "chat":
            raise OwnVoiceError("Baselines need a chat (instruction) model; this one is a base "
                                "model without a chat template.")
        super().__init__(backend, **kwargs)
        self.messages_for = messages_for

    def request_for(self, text: str, source: str, target: str, *,
                    strict: bool = False) -> Request:
        request = super().request_for(text, source, target, strict=strict)
        messages = self.messages_for(text, source, target)
        if strict:  # the retry after lost placeholders: the same instruction as OwnVoice's
            messages = [{**messages[0], "content": messages[0]["content"]
                         + prompts.KEEP_MARKERS}, *messages[1:]]
        request.messages = messages
        return request


def _examples_messages(system: str, examples: list[dict], text: str) -> list[dict]:
    messages = [{"role": "system", "content": system}]
    for pair in examples:
        messages += [{"role": "user", "content": pair["source_text"]},
                     {"role": "assistant", "content": pair["target_text"]}]
    return messages + [{"role": "user", "content": text}]


class Retriever:
    """The training pairs whose machine side is closest to a paragraph (TF-IDF cosine)."""

    def __init__(self, pairs: list[dict]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.pairs = pairs
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4),
                                          sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform([p["source_text"] for p in pairs])

    def nearest(self, text: str, k: int) -> list[dict]:
        scores = (self.matrix @ self.vectorizer.transform([text]).T).toarray().ravel()
        order = sorted(range(len(self.pairs)), key=lambda i: (-scores[i], i))
        return [self.pairs[i] for i in order[:k]]


def translator(kind: str, backend: Backend, train_pairs: list[dict], *, seed: int = 0,
               examples: int = EXAMPLES) -> Translator:
    """The baseline `kind` on `backend`; `train_pairs` supply the examples."""
    if kind not in BASELINES:
        raise OwnVoiceError(f"Unknown baseline {kind!r}; choose from {', '.join(BASELINES)}.")
    if kind.startswith("fewshot") and not train_pairs:
        raise OwnVoiceError("Few-shot baselines need training pairs for their examples.")
    if kind == "prompt":
        return PromptedTranslator(backend, prompts.chat_messages)
    if kind == "style-prompt":
        def styled(text, source, target):
            return [{"role": "system",
                     "content": prompts.system_prompt(source, target) + STYLE_INSTRUCTIONS},
                    {"role": "user", "content": text}]
        return PromptedTranslator(backend, styled)
    if kind == "fewshot-random":
        chosen = random.Random(seed).sample(train_pairs, min(examples, len(train_pairs)))

        def fixed(text, source, target):
            return _examples_messages(prompts.system_prompt(source, target), chosen, text)
        return PromptedTranslator(backend, fixed)
    retriever = Retriever(train_pairs)

    def retrieved(text, source, target):
        return _examples_messages(prompts.system_prompt(source, target),
                                  retriever.nearest(text, examples), text)
    return PromptedTranslator(backend, retrieved)
