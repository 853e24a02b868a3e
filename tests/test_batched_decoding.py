"""Paragraphs decoded together (engine/translation/backends/batched.py) on real GGUF models:
the same text as one at a time, the document's order, guards, cancelling, limits."""

from __future__ import annotations

import ctypes
import os
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

from engine.errors import OwnVoiceError
from engine.translation import prompts
from engine.translation.backends import Request, Sampling, Usage
from engine.translation.backends.batched import BatchedDecoder, prefill_chunks, prefill_start
from engine.translation.backends.llama import LlamaCppBackend, parallel_width
from engine.translation.backends.sequence import GreedySampler
from engine.translation.guards import StopReason
from engine.translation.in_order import InOrder
from engine.translation.translate import Translator

# Headings, a list, a table, a link and inline code (protected spans: a few-shot prompt with
# markers), a paragraph already in Chinese, one that makes the model loop.
POST = """---
title: A slow morning
---

# Waking up early

I started waking up an hour earlier, not to work more, but to do nothing for a while.

- The kettle, the window, and no phone until the coffee is gone.
- Water the seedlings in the morning, not at night.

| Day | What happened |
|---|---|
| 1 | We walked to the harbour and watched the boats come in. |

See the [release notes](https://example.org/notes.html) for what changed, then run `make test`.

这一段已经是中文了，不需要翻译。

She finally fixed the bug after three days of searching.

ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha

Most writing advice boils down to one idea: say the thing.
"""

COUNTING = b"1, 2, 3, 4, 5, 6, 7, 8,"  # the model keeps counting: a long sequence

CHAT_POST = """The weather was bad, so we stayed at home.

Where is the nearest train station?

She finally fixed the bug.

I like green tea very much.
"""


@pytest.fixture(scope="module")
def gemma(gemma_file):
    backend = LlamaCppBackend(gemma_file, parallel=4)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def smol(smol_file):
    backend = LlamaCppBackend(smol_file, parallel=4)
    yield backend
    backend.close()


@contextmanager
def parallel(backend, width: int):
    before, backend.parallel = backend.parallel, width
    try:
        yield backend
    finally:
        backend.parallel = before


def translate(translator: Translator, text: str, **kwargs):
    pieces: list[str] = []
    result = translator.translate(text, source="en", target="zh", on_text=pieces.append,
                                  **kwargs)
    return result, "".join(pieces)


def same_result(a, b) -> None:
    assert [u.output for u in a.units] == [u.output for u in b.units]
    assert [u.stop_reason for u in a.units] == [u.stop_reason for u in b.units]
    assert [u.warnings for u in a.units] == [u.warnings for u in b.units]
    assert (a.output, a.warnings, a.stop_reason) == (b.output, b.warnings, b.stop_reason)
    assert (a.tokens_in, a.tokens_out) == (b.tokens_in, b.tokens_out)


def run(backend, request) -> list:
    return list(backend.stream(request))


def completion(text: str, **kwargs) -> Request:
    values = {"max_tokens": 60, "prompt": prompts.completion_prompt(text, "en", "zh"),
              "stop": prompts.COMPLETION_STOP, "sampling": Sampling(repeat_penalty=1.1)}
    return Request(**{**values, **kwargs})


# --- the same text as one paragraph at a time ------------------------------------------------


def test_a_document_reads_the_same_decoded_together_as_one_at_a_time(gemma):
    """The few-shot completion path (Gemma 3 270M base): every unit, warning, stop reason
    and token count, and the streamed text, identical at temperature 0."""
    translator = Translator(gemma)
    with parallel(gemma, 1):
        alone, alone_stream = translate(translator, POST)
    together, together_stream = translate(translator, POST)
    same_result(alone, together)
    assert together_stream == alone_stream  # the document's order, piece for piece
    assert StopReason.REPETITION in [u.stop_reason for u in together.units]  # the guard ran


@pytest.mark.parametrize("temperature", [0.0, 0.7])
def test_a_chat_model_reads_the_same_decoded_together(smol, temperature):
    """The chat-template path (SmolLM2-135M-Instruct): greedy, and sampled with the seeded
    sampler create_completion builds (the same seed gives the same draws per sequence)."""
    translator = Translator(smol, sampling=Sampling(temperature=temperature, top_p=0.95,
                                                    repeat_penalty=1.05))
    with parallel(smol, 1):
        alone, alone_stream = translate(translator, CHAT_POST)
    together, together_stream = translate(translator, CHAT_POST)
    same_result(alone, together)
    assert together_stream == alone_stream


def test_the_backend_streams_the_pieces_create_completion_streams(gemma):
    """Requests decoded together from several threads (more than the width: slots are
    reused) stream the very pieces, and report the same Usage, as create_completion one at
    a time: Chinese (multi-byte) text, a stop string, a token budget."""
    requests = [completion("The weather is nice today."),
                completion("Where is the nearest train station from the hotel?"),
                completion("Most writing advice boils down to one idea: say the thing.",
                           max_tokens=3),
                Request(max_tokens=12, prompt="1, 2, 3, 4, 5, 6, 7, 8,",
                        sampling=Sampling(repeat_penalty=1.1)),
                completion("She finally fixed the bug.", stop=["\n", "。"]),
                completion("We walked to the harbour and watched the boats come in.")]
    with parallel(gemma, 1):
        expected = [run(gemma, r) for r in requests]
    got: list = [None] * len(requests)

    def worker(i):
        got[i] = run(gemma, requests[i])

    with parallel(gemma, 3):
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(requests))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert got == expected
    assert expected[2][-1].finish_reason == StopReason.LENGTH
    assert all(isinstance(items[-1], Usage) for items in got)


def test_a_shared_prompt_start_is_evaluated_once(gemma):
    """The few-shot examples (91 tokens) are in a slot's cache after its first paragraph:
    later paragraphs evaluate only their own text (plus the last two prompt rows)."""
    texts = ["Where is the train station?", "I like green tea very much.",
             "The soil was dry.", "We stayed at home.", "She fixed the bug.",
             "Say the thing."]
    requests = [completion(t) for t in texts]
    with parallel(gemma, 2):
        run(gemma, requests[0])  # the decoder exists, its slots may be warm or not
        decoder = gemma._decoder
        rows = []
        decode = decoder._ctx.decode

        def counting(batch):
            rows.append(batch.batch.n_tokens)
            return decode(batch)

        decoder._ctx.decode = counting
        try:
            for request in requests:
                run(gemma, request)
        finally:
            decoder._ctx.decode = decode
    prompt_rows = sum(n for n in rows if n > 1)
    prompt_tokens = sum(len(gemma.prompt_tokens(r)[0]) for r in requests)
    assert prompt_rows < prompt_tokens / 3


def test_a_paragraph_too_long_for_a_sequence_is_decoded_alone_with_the_same_text(gemma):
    long = " ".join(["We walked to the harbour, watched the boats come in and talked "
                     "about nothing"] * 9) + "."
    text = f"The soil was dry.\n\n{long}\n\nShe fixed the bug.\n"
    translator = Translator(gemma)
    with parallel(gemma, 1):
        alone, _ = translate(translator, text)
    before, gemma.sequence_tokens = gemma.sequence_tokens, 512  # too small for the long one
    try:
        together, _ = translate(translator, text)
        assert not gemma._decoder.fits(*_request_size(gemma, translator, long))
    finally:
        gemma.sequence_tokens = before
    same_result(alone, together)


def _request_size(backend, translator, text):
    request = translator.request_for(text, "en", "zh")
    return len(backend.prompt_tokens(request)[0]), request.max_tokens


# --- guards, cancelling, errors ----------------------------------------------------------------


def test_a_sequence_cut_by_its_reader_frees_its_slot_and_leaves_the_others_alone(gemma):
    """One slot: a reader that stops after two pieces (what a guard does) ends its
    sequence; the next request takes the slot and streams what it streams alone."""
    whole = completion("I like green tea.")
    with parallel(gemma, 1):
        expected = run(gemma, whole)
    decoder = BatchedDecoder(gemma.load(), width=1, n_ctx_seq=1024)
    try:
        items = decoder.stream(gemma.load().tokenize(COUNTING), stop=[], max_tokens=200,
                               sampling=Sampling(repeat_penalty=1.1))
        assert [next(items), next(items)]
        items.close()
        tokens, stop = gemma.prompt_tokens(whole)
        got = list(decoder.stream(tokens, stop=stop, max_tokens=60, sampling=whole.sampling))
    finally:
        decoder.close()
    assert [p for p in got[:-1] if p] == [p for p in expected if isinstance(p, str)]
    assert got[-1].finish_reason == "stop"


def test_cancelling_stops_every_paragraph_and_keeps_the_document_order(gemma):
    translator = Translator(gemma)
    with parallel(gemma, 1):
        alone, alone_stream = translate(translator, POST)
    stop = threading.Event()
    pieces: list[str] = []

    def on_text(piece):
        pieces.append(piece)
        if len("".join(pieces)) > len(alone_stream) // 3:
            stop.set()

    result = translator.translate(POST, source="en", target="zh", on_text=on_text,
                                  cancelled=stop.is_set)
    assert result.cancelled and result.stop_reason == StopReason.CANCELLED
    cut = next(i for i, u in enumerate(result.units) if u.stop_reason == StopReason.CANCELLED)
    assert [u.output for u in result.units[:cut]] == [u.output for u in alone.units[:cut]]
    assert all(u.output == "" for u in result.units[cut + 1:])
    # Shown in the document's order: what one at a time shows, up to the cancelled unit's
    # part (its partial text may be tidied differently).
    shown = "".join(pieces)
    agree = len(os.path.commonprefix([shown, alone_stream]))
    assert len(shown) - agree <= len(result.units[cut].output) + 1 < len(alone_stream) - agree
    # Every slot was given back: the next document decodes as usual.
    again, again_stream = translate(translator, POST)
    assert again_stream == alone_stream and not again.cancelled


def test_prompts_that_start_together_evaluate_their_shared_start_once(gemma):
    """Three few-shot prompts admitted at once (their examples in common, which no slot
    holds yet): the examples are evaluated once, for the first; the other two copy its
    stream and evaluate only their own paragraph; each text is the text its prompt gets
    alone. (Each prompt is evaluated in decode calls of its own: prompts evaluated together
    in one call gave the same first token, but the text of the embedded Gemma at width 16
    then differed a few tokens later in 4 of 43 paragraphs; the cause, somewhere in
    llama.cpp's batches of several streams, is not traced.)"""
    llm = gemma.load()
    requests = [completion(text, max_tokens=24) for text in
                ("The soil was dry.", "I like green tea.", "She fixed the bug at last.")]
    prompts_ = [gemma.prompt_tokens(r)[0] for r in requests]
    shared = len(os.path.commonprefix(prompts_))
    assert shared > 60

    def text_of(decoder, tokens, request):
        return "".join(p for p in decoder.stream(tokens, stop=request.stop, max_tokens=24,
                                                 sampling=request.sampling)
                       if isinstance(p, str))

    alone = []
    for tokens, request in zip(prompts_, requests, strict=True):
        decoder = BatchedDecoder(llm, width=1, n_ctx_seq=1024)
        try:
            alone.append(text_of(decoder, tokens, request))
        finally:
            decoder.close()

    lock = threading.Lock()
    decoder = BatchedDecoder(llm, width=4, n_ctx_seq=1024, compute_lock=lock)
    calls: list[list[int]] = []  # each decode call's streams, row by row
    decode = decoder._ctx.decode

    def recorded(batch):
        calls.append([batch.batch.seq_id[i][0] for i in range(batch.batch.n_tokens)])
        return decode(batch)

    decoder._ctx.decode = recorded
    together: dict[int, str] = {}
    try:
        with lock:  # the decoder waits: all three are admitted in one round
            busy = decoder.stream(llm.tokenize(COUNTING), stop=[], max_tokens=40,
                                  sampling=Sampling(repeat_penalty=1.1))
            readers = [threading.Thread(target=lambda i=i: together.__setitem__(
                i, text_of(decoder, prompts_[i], requests[i]))) for i in range(3)]
            first = threading.Thread(target=lambda: list(busy))
            first.start()
            while not decoder._slots[0].seq:  # the counting prompt took a slot
                time.sleep(0.01)
            for reader in readers:
                reader.start()
            while len(decoder._pending) < 3:
                time.sleep(0.01)
        for thread in (first, *readers):
            thread.join(120)
    finally:
        decoder.close()
    assert [together[i] for i in range(3)] == alone
    prefill = [c for c in calls if len(c) > 4]  # generation steps have a row per stream
    rows = sum(len(c) for c in prefill) - len(llm.tokenize(COUNTING))
    own = sum(len(t) - shared for t in prompts_)
    assert rows <= shared + own + 3 * 2  # not three times the examples (two rows again each)
    assert all(len(set(c)) == 1 for c in prefill)


def test_a_request_cancelled_while_it_waits_for_a_slot_ends_as_cancelled(gemma):
    decoder = BatchedDecoder(gemma.load(), width=1, n_ctx_seq=1024)
    waiting = completion("Hello.")
    try:
        busy = decoder.stream(gemma.load().tokenize(COUNTING), stop=[], max_tokens=200,
                              sampling=Sampling(repeat_penalty=1.1))
        next(busy)  # holds the only slot for a while
        got = list(decoder.stream(gemma.prompt_tokens(waiting)[0], stop=waiting.stop,
                                  max_tokens=60, sampling=waiting.sampling,
                                  cancelled=lambda: True))
        busy.close()
    finally:
        decoder.close()
    assert [item.finish_reason for item in got] == ["cancelled"]


def test_a_paragraph_too_long_for_the_model_is_one_error_line(gemma):
    sentence = " ".join(["the kettle, the window and the phone"] * 40)
    text = f"The soil was dry.\n\nI like green tea.\n\n{sentence}\n\nShe fixed the bug.\n"
    before, gemma.context_tokens = gemma.context_tokens, 400
    try:
        with pytest.raises(OwnVoiceError) as error:
            Translator(gemma).translate(text, source="en", target="zh")
    finally:
        gemma.context_tokens = before
    message = str(error.value)
    assert "too long to translate in one piece" in message and "\n" not in message


# --- the parts ---------------------------------------------------------------------------------


def test_the_width_is_a_setting_and_one_means_the_default_kernels(gemma, gemma_file,
                                                                  monkeypatch):
    assert gemma.batch_invariant and gemma.load().model_params.use_extra_bufts is False
    monkeypatch.setenv("OWNVOICE_PARALLEL", "1")
    assert parallel_width() == 1
    assert not LlamaCppBackend(gemma_file).batch_invariant  # loads nothing yet
    monkeypatch.setenv("OWNVOICE_PARALLEL", "many")
    with pytest.raises(OwnVoiceError, match="OWNVOICE_PARALLEL='many' is not a number"):
        parallel_width()
    monkeypatch.delenv("OWNVOICE_PARALLEL")
    assert parallel_width() == 16


def test_the_document_is_shown_in_order_while_units_finish_out_of_order():
    shown: list[str] = []
    pieces = [("verbatim", "# "), ("unit", 0), ("verbatim", "\n\n"), ("unit", 1),
              ("verbatim", "\n\n"), ("unit", 2), ("verbatim", "\n")]
    order = InOrder(pieces, shown.append)
    assert shown == ["# "]
    order.text(1, "B1")  # unit 1 streams before unit 0: held
    order.text(0, "A1")  # the current unit: live
    assert shown == ["# ", "A1"]
    order.text(2, "C1")
    order.done(2)
    order.text(1, "B2")
    order.done(0)
    assert shown == ["# ", "A1", "\n\n", "B1", "B2"]
    order.text(1, "B3")  # now the current unit: live
    order.done(1)
    assert "".join(shown) == "# A1\n\nB1B2B3\n\nC1\n"


def test_nothing_is_shown_after_a_cancelled_unit():
    shown: list[str] = []
    order = InOrder([("unit", 0), ("verbatim", " | "), ("unit", 1), ("verbatim", "!")],
                    shown.append)
    order.text(1, "B")
    order.done(1)
    order.text(0, "A")
    order.done(0, last=True)
    assert shown == ["A"]


def test_prompts_are_evaluated_in_chunks_of_at_least_two_rows():
    assert prefill_start(cached=91, total=120) == 91
    assert prefill_start(cached=120, total=120) == 118  # a repeated prompt: the last two again
    assert prefill_start(cached=0, total=1) == 0
    assert prefill_chunks(0, 10, 512) == [(0, 10)]
    assert prefill_chunks(0, 513, 512) == [(0, 511), (511, 513)]
    assert prefill_chunks(100, 1125, 512) == [(100, 612), (612, 1123), (1123, 1125)]
    for start, total in [(0, 2), (3, 700), (0, 1025), (7, 1031)]:
        chunks = prefill_chunks(start, total, 512)
        assert chunks[0][0] == start and chunks[-1][1] == total
        assert all(b - a >= 2 for a, b in chunks)


def test_the_greedy_sampler_picks_what_llama_cpp_picks():
    """Penalties then greedy, against llama.cpp's own sampler chain: ties, a penalised
    winner, negative logits, a penalty below 1."""
    import llama_cpp
    from llama_cpp import _internals

    rng = np.random.default_rng(0)
    vocab = 50
    for penalty in (1.1, 1.05, 0.9, 1.0):
        chain = _internals.LlamaSampler()
        chain.add_penalties(n_vocab=vocab, penalty_last_n=4, penalty_repeat=penalty,
                            penalty_freq=0.0, penalty_present=0.0)
        chain.add_greedy()
        ours = GreedySampler(penalty, 4)
        for step in range(40):
            logits = rng.normal(size=vocab).astype(np.float32)
            if step % 3 == 0:  # ties at the top, some of them penalised
                logits[[3, 7, 11]] = logits.max() + 0.5
            data = (llama_cpp.llama_token_data * vocab)(
                *[llama_cpp.llama_token_data(i, float(x), 0.0) for i, x in enumerate(logits)])
            array = llama_cpp.llama_token_data_array(data, vocab, -1, False)
            llama_cpp.llama_sampler_apply(chain.sampler, ctypes.byref(array))
            expected = array.data[array.selected].id
            assert ours.sample(logits) == expected
            chain.accept(expected)
        chain.close()
