"""What llama-cpp-python's `Llama.create_completion(tokens, stream=True, …)` does for one
sequence, token by token, outside its own decode loop: how the next token is chosen, and
how the generated tokens become the text pieces it streams and the reason it stops.

The batched decoder (engine.translation.backends.batched) decodes several sequences in one
llama.cpp context and uses these, so that each sequence streams exactly the pieces that
`create_completion` would have streamed for it — the guards, which read the pieces, then
see the same thing on either path. Written against llama-cpp-python 0.3.36
(`Llama._create_completion` with `stream=True`, no logprobs, no suffix, a token prompt;
`Llama._init_sampler`); tests/test_batched_decoding.py holds both paths to it.
"""

from __future__ import annotations

import ctypes
import random
from collections import Counter, deque
from collections.abc import Callable

import numpy as np

from engine.translation.backends import Sampling

# create_completion's defaults for what OwnVoice does not pass.
TOP_K = 40
MIN_P = 0.05
TYPICAL_P = 1.0


class GreedySampler:
    """Temperature 0: llama.cpp's penalties sampler then greedy, computed on the logits with
    numpy (25× cheaper than building llama.cpp's 262k-entry candidate array per token).

    The same arithmetic as llama-sampler.cpp: each token among the last `last_n` chosen
    (the prompt is not counted: llama-cpp-python's sampler only accepts generated tokens)
    has its float32 logit multiplied by `repeat_penalty` when <= 0, divided when > 0; then
    the first index of the largest logit wins."""

    def __init__(self, repeat_penalty: float, last_n: int):
        self.penalty = np.float32(repeat_penalty)
        self.last_n = last_n
        self.recent: deque[int] = deque()
        self.counts: Counter[int] = Counter()

    def sample(self, logits: np.ndarray) -> int:
        """`logits`: this sequence's float32 row (n_vocab,), not modified."""
        if self.counts and self.last_n and self.penalty != 1:
            ids = np.fromiter(self.counts, dtype=np.int64, count=len(self.counts))
            picked = logits[ids]
            penalised = np.where(picked <= 0, picked * self.penalty, picked / self.penalty)
            top = int(np.argmax(logits))
            best = logits[top]
            if top in self.counts:  # the winner itself is penalised: look at every logit
                row = logits.copy()
                row[ids] = penalised
                token = int(np.argmax(row))
            else:
                # Penalties only lower a logit, so the winner is the unpenalised maximum
                # unless a penalised token still beats it (or ties it at a lower index).
                token = top
                for tid, value in zip(ids.tolist(), penalised.tolist(), strict=True):
                    if value > best or (value == best and tid < token):
                        token, best = tid, value
        else:
            token = int(np.argmax(logits))
        self.accept(token)
        return token

    def accept(self, token: int) -> None:
        if not self.last_n:
            return
        self.counts[token] += 1
        if len(self.recent) >= self.last_n:
            old = self.recent.popleft()
            self.counts[old] -= 1
            if not self.counts[old]:
                del self.counts[old]
        self.recent.append(token)


class ChainSampler:
    """Temperature > 0: the very sampler chain llama-cpp-python builds (penalties, top-k 40,
    typical 1.0, top-p, min-p 0.05, temperature, seeded distribution), sampling the row at
    batch index `idx` of a context."""

    def __init__(self, sampling: Sampling, *, n_vocab: int, last_n: int, seed: int):
        from llama_cpp import _internals

        chain = _internals.LlamaSampler()
        chain.add_penalties(n_vocab=n_vocab, penalty_last_n=last_n,
                            penalty_repeat=sampling.repeat_penalty, penalty_freq=0.0,
                            penalty_present=0.0)
        if sampling.temperature < 0:
            chain.add_dist(seed)
        else:
            chain.add_top_k(TOP_K)
            chain.add_typical(TYPICAL_P, 1)
            chain.add_top_p(sampling.top_p, 1)
            chain.add_min_p(MIN_P, 1)
            chain.add_temp(sampling.temperature)
            chain.add_dist(seed)
        self.chain = chain

    def sample_at(self, context, idx: int) -> int:
        return self.chain.sample(context, idx)

    def close(self) -> None:
        self.chain.close()


def seed_for(sampling: Sampling, llama_seed: int) -> int:
    """The seed create_completion gives its sampler: the request's, else one drawn from
    the model's own seed (its `random.Random(self._seed).randint(0, 2**32)`)."""
    if sampling.seed is not None:
        return sampling.seed
    return random.Random(llama_seed).randint(0, 2**32)


class TokenText:
    """`Llama.detokenize(tokens)` (llama-cpp-python 0.3.36's LlamaModel.detokenize: each
    token's piece, special tokens as their empty text, a leading space dropped after a BOS),
    with each token's piece read from llama.cpp once: the streaming below detokenizes the
    whole completion after every token, as create_completion does."""

    def __init__(self, model):
        self.vocab = model.vocab
        self.bos = model.token_bos()
        self.pieces: dict[int, bytes] = {}
        self._buffer = (ctypes.c_char * 32)()

    def piece(self, token: int) -> bytes:
        piece = self.pieces.get(token)
        if piece is None:
            import llama_cpp

            n = llama_cpp.llama_token_to_piece(self.vocab, llama_cpp.llama_token(token),
                                               self._buffer, 32, 0, False)
            piece = self.pieces[token] = bytes(self._buffer[:n])
        return piece

    def __call__(self, tokens: list[int]) -> bytes:
        output = b"".join([self.piece(token) for token in tokens])
        if tokens and tokens[0] == self.bos and output[:1] == b" ":
            return output[1:]
        return output


class CompletionText:
    """The text pieces `create_completion(stream=True)` yields for a sequence of generated
    tokens, and why it stops: `feed` each sampled token in turn; it returns the pieces to
    stream and whether generation is over (then `finish_reason` is "stop" or "length").

    A faithful port of the streaming branch of `Llama._create_completion` (0.3.36): the
    multi-byte UTF-8 hold-back, stop strings held back while they may still be forming,
    end-of-generation tokens, `max_tokens` (checked after a piece, and skipped for a token
    that ends inside a UTF-8 character, as there), and the final flush. Call `flush` once
    when it is over for the last pieces (possibly empty strings, as create_completion's)."""

    def __init__(self, *, prompt_tokens: list[int], stop: list[str], max_tokens: int,
                 n_ctx: int, detokenize: Callable[[list[int]], bytes],
                 is_eog: Callable[[int], bool]):
        self.detok = detokenize
        self.is_eog = is_eog
        self.stops = [s.encode("utf-8") for s in stop]
        # create_completion: no budget means the rest of the context, and the budget is cut
        # to what the context has left.
        if max_tokens is None or max_tokens <= 0:
            max_tokens = n_ctx - len(prompt_tokens)
        if max_tokens + len(prompt_tokens) >= n_ctx:
            max_tokens = n_ctx - len(prompt_tokens)
        self.max_tokens = max_tokens
        self.completion: list[int] = []
        self.returned = 0
        self.multibyte_fix = 0
        self.finish_reason = "length"
        self.done = False

    def feed(self, token: int) -> list[str]:
        """The pieces streamed after `token` was sampled; sets `done` when it ends."""
        if self.is_eog(token):
            self.finish_reason, self.done = "stop", True
            return []
        self.completion.append(token)
        all_text = self.detok(self.completion)
        for k, char in enumerate(all_text[-3:]):
            k = 3 - k
            for num, pattern in ((2, 192), (3, 224), (4, 240)):
                if num > k and pattern & char == pattern:
                    self.multibyte_fix = num - k
        if self.multibyte_fix > 0:
            self.multibyte_fix -= 1
            return []
        if any(s in all_text for s in self.stops):
            self.finish_reason, self.done = "stop", True
            return []
        pieces = self._stream_ready()
        if len(self.completion) >= self.max_tokens:
            self.finish_reason, self.done = "length", True
        return pieces

    def _stream_ready(self) -> list[str]:
        remaining = self.completion[self.returned:]
        remaining_text = self.detok(remaining)
        remaining_length = len(remaining_text)
        held = 0  # the longest stop-string prefix the text ends with: not streamed yet
        for s in self.stops:
            for i in range(min(len(s), remaining_length), 0, -1):
                if remaining_text.endswith(s[:i]):
                    held = max(held, i)
                    break
        pieces: list[str] = []
        end = 0
        while remaining:
            for i in range(1, len(remaining) + 1):
                try:
                    chunk = self.detok(remaining[:i])
                    text = chunk.decode("utf-8")
                    break
                except UnicodeError:
                    pass
            else:
                break
            end += len(chunk)
            if end > remaining_length - held:
                break
            remaining = remaining[i:]
            self.returned += i
            pieces.append(text)
        return pieces

    def flush(self) -> list[str]:
        """The last pieces, once `done`: what is left, cut before a stop string."""
        remaining = self.completion[self.returned:]
        remaining_text = self.detok(remaining)
        found = [s for s in self.stops if s in remaining_text]
        end = min(remaining_text.index(s) for s in found) if found else len(remaining_text)
        pieces = []
        position = 0
        for token in remaining:
            position += len(self.detok([token]))
            if position >= end:
                last = self.detok([token])
                if position == end - 1:
                    break
                self.returned += 1
                pieces.append(last[:len(last) - (position - end)].decode("utf-8",
                                                                         errors="ignore"))
                break
            self.returned += 1
            pieces.append(self.detok([token]).decode("utf-8", errors="ignore"))
        return pieces

    @property
    def generated(self) -> int:
        """Tokens generated so far (create_completion's usage.completion_tokens)."""
        return len(self.completion)
