"""Several paragraphs decoded at once: parallel sequences in one llama.cpp context.

A CPU (or a Mac's GPU) generating one token of a small model is mostly waiting for weights
to arrive from memory; a decode call that carries one token for each of several sequences
reads the weights once for all of them. `BatchedDecoder` keeps a llama.cpp context with one
KV-cache stream per slot (`n_seq_max` = the width, `kv_unified` off) and one thread that
runs it: each request is a sequence in a slot; every step decodes the next token of every
generating sequence in one `llama_decode`, and each sequence picks its next token and
streams its text exactly as `Llama.create_completion` would (engine.translation.backends.
sequence). A reader that stops reading (a guard cut it, the user cancelled) frees its slot
for the next request at the next step.

Identical to the one-at-a-time path, bit for bit, on the CPU backend: llama.cpp picks
different matrix kernels for different numbers of rows, and they round differently. So:
- generating: one token per stream per decode call, as when decoding alone (the attention of
  a stream with one query row takes the same kernel as a lone sequence's);
- a prompt is evaluated alone, in chunks of at least two rows (`prefill_chunks`), and the
  one-at-a-time path (LlamaCppBackend.stream) evaluates its prompts the same way;
- the model is loaded with kernels whose result for a row does not depend on how many rows
  are multiplied with it (LlamaCppBackend: no CPU weight repacking, no tiled K-quant matmul;
  both pick a different kernel from 4 or 8 rows on).
A prompt that shares its start with what a slot holds (the few-shot examples, the system
prompt) is evaluated from where they differ; a slot that holds less of it takes a copy of
a slot that holds more first (`llama_memory_seq_cp` across streams).
"""

from __future__ import annotations

import ctypes
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from engine.errors import OwnVoiceError
from engine.translation.backends import Sampling
from engine.translation.backends.sequence import (
    ChainSampler,
    CompletionText,
    GreedySampler,
    TokenText,
    seed_for,
)

# Copy another slot's cache only when that saves evaluating at least this many tokens.
COPY_MARGIN = 16
_POLL_S = 0.05  # how often a reader waiting for its first token asks `cancelled`


@dataclass
class Finished:
    """The end of a sequence: "stop" (end of turn, stop string), "length" (its budget) or
    "cancelled" (its reader's `cancelled` said so before it started); `generated`: tokens
    generated (create_completion's usage.completion_tokens)."""

    finish_reason: str
    generated: int


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def prefill_start(cached: int, total: int) -> int:
    """Where evaluation of a `total`-token prompt starts when its first `cached` tokens are
    already in the cache as prompt rows: the last two rows are always evaluated again, so a
    prompt never ends in a chunk of one row (llama.cpp takes other kernels for one row)."""
    return max(0, min(cached, total - 2))


def prefill_chunks(start: int, total: int, n_batch: int) -> list[tuple[int, int]]:
    """Prompt positions [start, total) cut into decode calls of at most `n_batch` rows, the
    last never of one row (a one-token prompt is the only exception)."""
    if n_batch < 2:
        raise ValueError("n_batch must be at least 2")
    chunks = []
    begin = start
    while begin < total:
        end = min(begin + n_batch, total)
        if total - end == 1:
            end -= 1
        chunks.append((begin, end))
        begin = end
    return chunks


@dataclass(eq=False)
class _Sequence:
    tokens: list[int]
    text: CompletionText
    sampler: GreedySampler | ChainSampler
    out: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    next_token: int | None = None  # sampled, to be decoded at the next step
    closed: bool = False  # the reader is gone


@dataclass(eq=False)
class _Slot:
    tokens: list[int] = field(default_factory=list)  # what its cache stream holds
    prompt_rows: int = 0  # how many of them were evaluated as prompt (not generated) rows
    seq: _Sequence | None = None


class BatchedDecoder:
    """Up to `width` sequences of one loaded model (a llama_cpp.Llama) decoded together.

    `n_ctx_seq`: tokens each sequence may hold, prompt and output (a multiple of 256); the
    context holds `width × n_ctx_seq`. `compute_lock`: held while decoding, shared with
    whatever else decodes with this model (two decodes at once would oversubscribe the
    CPU threads of both). `stream` may be called from several threads at once, one per
    sequence; the model's tokenizer is used read-only. `close` ends it."""

    def __init__(self, llm, *, width: int, n_ctx_seq: int,
                 compute_lock: threading.Lock | None = None):
        import llama_cpp
        from llama_cpp import _internals

        if width < 1:
            raise ValueError("width must be at least 1")
        self.llm = llm
        self.width = width
        self.asked = n_ctx_seq
        self._compute = compute_lock or threading.Lock()
        self.n_batch = llm.n_batch
        self.n_vocab = llm.n_vocab()
        params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)
        params.n_seq_max = width
        params.n_ctx = width * n_ctx_seq
        params.kv_unified = False  # a stream per sequence: each attends as if alone
        self._ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        self.n_ctx_seq = llama_cpp.llama_n_ctx_seq(self._ctx.ctx)
        self._memory = llama_cpp.llama_get_memory(self._ctx.ctx)
        self._batch = _internals.LlamaBatch(n_tokens=max(self.n_batch, width), embd=0,
                                            n_seq_max=1, verbose=False)
        self._logits_ith = llama_cpp.llama_get_logits_ith
        self._seq_rm = llama_cpp.llama_memory_seq_rm
        self._seq_cp = llama_cpp.llama_memory_seq_cp
        vocab = llm._model.vocab
        self._is_eog = lambda token: llama_cpp.llama_vocab_is_eog(vocab, token)
        self._detokenize = TokenText(llm._model)  # used by the decoding thread only
        self._slots = [_Slot() for _ in range(width)]
        self._pending: deque[_Sequence] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None

    # --- the readers' side ----------------------------------------------------------------

    def fits(self, prompt_tokens: int, max_tokens: int) -> bool:
        """Whether a request can be a sequence here (its prompt and its whole budget, as
        create_completion would cut it to the model's context, fit one stream)."""
        budget = self._budget(prompt_tokens, max_tokens)
        return prompt_tokens >= 1 and prompt_tokens + budget <= self.n_ctx_seq

    def _budget(self, prompt_tokens: int, max_tokens: int) -> int:
        n_ctx = self.llm.n_ctx()
        if max_tokens is None or max_tokens <= 0 or max_tokens + prompt_tokens >= n_ctx:
            return n_ctx - prompt_tokens
        return max_tokens

    def stream(self, tokens: list[int], *, stop: list[str], max_tokens: int,
               sampling: Sampling,
               cancelled: Callable[[], bool] | None = None) -> Iterator[str | Finished]:
        """The text pieces create_completion(tokens, stream=True, …) would yield for this
        prompt (empty pieces included), then one `Finished`. Closing the iterator early ends
        the sequence. Raises OwnVoiceError when llama.cpp fails or the decoder is closed;
        ValueError when the request does not `fit`."""
        if not self.fits(len(tokens), max_tokens):
            raise ValueError("the request does not fit a sequence of this decoder")
        text = CompletionText(prompt_tokens=tokens, stop=stop, max_tokens=max_tokens,
                              n_ctx=self.llm.n_ctx(), detokenize=self._detokenize,
                              is_eog=self._is_eog)
        last_n = self.llm.last_n_tokens_size
        if sampling.temperature == 0:
            sampler = GreedySampler(sampling.repeat_penalty, last_n)
        else:
            sampler = ChainSampler(sampling, n_vocab=self.n_vocab, last_n=last_n,
                                   seed=seed_for(sampling, self.llm._seed))
        return self._read(_Sequence(tokens=list(tokens), text=text, sampler=sampler),
                          cancelled)

    def _read(self, seq: _Sequence, cancelled) -> Iterator[str | Finished]:
        with self._cond:  # submitted when first read: an iterator never read costs nothing
            if self._closing:
                raise OwnVoiceError("The model was closed; translate again.")
            self._pending.append(seq)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ownvoice-decoder",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        try:
            while True:
                try:
                    item = seq.out.get(timeout=_POLL_S)
                except queue.Empty:
                    if cancelled is not None and cancelled():
                        yield Finished("cancelled", 0)
                        return
                    continue
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item, Finished):
                    return
        finally:
            seq.closed = True
            with self._cond:
                self._cond.notify()

    def close(self) -> None:
        """Stop the decoding thread and free the context; readers still waiting get an
        OwnVoiceError."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
        closed = OwnVoiceError("The model was closed while translating; translate again.")
        for seq in [*self._pending, *(s.seq for s in self._slots if s.seq)]:
            seq.out.put(closed)
        self._pending.clear()
        self._batch.close()
        self._ctx.close()

    # --- the decoding thread --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not self._pending and not self._busy():
                    self._cond.wait()
                if self._closing:
                    return
                self._busy()  # slots whose readers left are free for the waiting
                admitted = self._admit()
            try:
                with self._compute:
                    for slot, seq in admitted:
                        self._prefill(slot, seq)
                    self._step()
            except Exception as exc:  # noqa: BLE001 - every reader must hear of it
                self._fail(exc)

    def _busy(self) -> bool:
        for slot in self._slots:
            if slot.seq is not None and slot.seq.closed:
                self._end(slot)  # its reader left: the slot is free again
        return any(slot.seq is not None for slot in self._slots)

    def _admit(self) -> list[tuple[_Slot, _Sequence]]:
        """Waiting sequences into free slots, in order; each to the free slot whose cache
        shares the most of its prompt."""
        admitted = []
        free = [slot for slot in self._slots if slot.seq is None]
        while self._pending and free:
            seq = self._pending.popleft()
            if seq.closed:
                continue
            slot = max(free, key=lambda s: common_prefix(s.tokens[:s.prompt_rows], seq.tokens))
            free.remove(slot)
            slot.seq = seq
            admitted.append((slot, seq))
        return admitted

    def _prefill(self, slot: _Slot, seq: _Sequence) -> None:
        """Evaluate the prompt alone (as create_completion would, from the longest cached
        prefix), then choose the first token."""
        index = self._slots.index(slot)
        tokens = seq.tokens
        cached = common_prefix(slot.tokens[:slot.prompt_rows], tokens)
        donor = max(self._slots, key=lambda s: common_prefix(s.tokens[:s.prompt_rows], tokens))
        shared = common_prefix(donor.tokens[:donor.prompt_rows], tokens)
        if donor is not slot and shared >= cached + COPY_MARGIN:
            # A copy of the whole stream (llama.cpp copies across streams only whole).
            self._seq_cp(self._memory, self._slots.index(donor), index, -1, -1)
            slot.tokens, slot.prompt_rows, cached = list(donor.tokens), donor.prompt_rows, shared
        start = prefill_start(cached, len(tokens))
        self._seq_rm(self._memory, index, start, -1)
        del slot.tokens[start:]
        slot.prompt_rows = min(slot.prompt_rows, start)
        batch = self._batch.batch
        for begin, end in prefill_chunks(start, len(tokens), self.n_batch):
            batch.n_tokens = end - begin
            for i, position in enumerate(range(begin, end)):
                batch.token[i] = tokens[position]
                batch.pos[i] = position
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = index
                batch.logits[i] = position == len(tokens) - 1
            self._ctx.decode(self._batch)
        slot.tokens.extend(tokens[start:])
        slot.prompt_rows = len(tokens)
        self._advance(slot, seq, self._sample(seq, len(tokens) - 1 - begin))

    def _step(self) -> None:
        """One token for every generating sequence, in one decode call."""
        live = [(i, slot) for i, slot in enumerate(self._slots)
                if slot.seq is not None and not slot.seq.closed and slot.seq.next_token is not None]
        if not live:
            return
        batch = self._batch.batch
        batch.n_tokens = len(live)
        for row, (index, slot) in enumerate(live):
            batch.token[row] = slot.seq.next_token
            batch.pos[row] = len(slot.tokens)
            batch.n_seq_id[row] = 1
            batch.seq_id[row][0] = index
            batch.logits[row] = True
        self._ctx.decode(self._batch)
        for row, (_index, slot) in enumerate(live):
            seq = slot.seq
            slot.tokens.append(seq.next_token)
            self._advance(slot, seq, self._sample(seq, row))

    def _sample(self, seq: _Sequence, row: int) -> int:
        if isinstance(seq.sampler, GreedySampler):
            pointer = self._logits_ith(self._ctx.ctx, row)
            logits = np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)),
                                           shape=(self.n_vocab,))
            return seq.sampler.sample(logits)
        return seq.sampler.sample_at(self._ctx, row)

    def _advance(self, slot: _Slot, seq: _Sequence, token: int) -> None:
        """`token` was chosen: stream what it completes; end the sequence or queue it."""
        for piece in seq.text.feed(token):
            seq.out.put(piece)
        if seq.text.done:
            for piece in seq.text.flush():
                seq.out.put(piece)
            seq.out.put(Finished(seq.text.finish_reason, seq.text.generated))
            self._end(slot)
        else:
            seq.next_token = token

    def _end(self, slot: _Slot) -> None:
        seq, slot.seq = slot.seq, None
        if seq is not None and isinstance(seq.sampler, ChainSampler):
            seq.sampler.close()

    def _fail(self, exc: Exception) -> None:
        """llama.cpp failed: every sequence hears it, the cache starts empty."""
        import llama_cpp

        error = OwnVoiceError(f"llama.cpp could not decode: {exc}. Translate again; if it "
                              "keeps failing, set OWNVOICE_PARALLEL=1 to translate one "
                              "paragraph at a time.")
        for slot in self._slots:
            if slot.seq is not None:
                slot.seq.out.put(error)
                self._end(slot)
            slot.tokens, slot.prompt_rows = [], 0
        llama_cpp.llama_memory_clear(self._memory, True)
