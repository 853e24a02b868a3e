"""A local GGUF model through llama-cpp-python.

The model stays loaded between requests, every layer goes to the GPU where llama.cpp
has one (Metal on a Mac), and on CPUs all cores are used (llama.cpp's default is half).
Chat prompts follow the chat template stored in the GGUF — the template the model was
trained with — rendered once per conversation shape in a sandboxed, time-limited process
and filled with the messages' texts as plain text (engine.translation.chat_template): text
never becomes control tokens. A prompt that starts like the previous one reuses its
evaluated prefix (llama-cpp-python keeps the KV cache of the last prompt).

Several requests at once (`parallel` > 1, the Translator sends that many paragraphs) are
decoded together, as parallel sequences of one llama.cpp context (engine.translation.
backends.batched), with the same output as one at a time: for that the model is loaded
with llama.cpp kernels whose result for a row does not depend on how many rows are
multiplied together (`batch_invariant`), and prompts are evaluated in chunks of at least
two rows on both paths. `parallel` = 1 (OWNVOICE_PARALLEL=1) is the one-at-a-time path
with llama.cpp's default kernels.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from engine.errors import OwnVoiceError
from engine.translation import chat_template
from engine.translation.backends import Backend, Request, Sampling, Usage
from engine.translation.backends.batched import (
    BatchedDecoder,
    Finished,
    common_prefix,
    prefill_chunks,
    prefill_start,
)
from engine.translation.gguf_meta import read_metadata
from engine.translation.guards import StopReason

# End-of-turn markers of common chat templates; added as stop strings when the template
# uses them, in case a fine-tune left the token unmarked as end-of-generation.
END_OF_TURN = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>", "<|endoftext|>", "</s>")


_GGML_LOG_ERROR = 4  # ggml.h: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5
_log = logging.getLogger("ownvoice.llama")
_log_callback = None  # kept referenced: llama.cpp calls it from C


def _quiet_llama_logs() -> None:
    """llama.cpp writes its chatter to stderr (and llama-cpp-python maps its levels wrongly,
    so warnings get through): keep only errors, and send them to Python's logging."""
    global _log_callback
    if _log_callback is not None:
        return
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level, text, _user_data):
        if level == _GGML_LOG_ERROR:
            _log.error(text.decode("utf-8", errors="replace").rstrip())

    _log_callback = callback
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


PARALLEL_ENV = "OWNVOICE_PARALLEL"
# Paragraphs decoded at once. The default model's 262k-word output layer makes even a
# 270M model compute-bound on 2 CPU cores: a step of 8 rows costs about 3.7 rows alone, so
# a 3,000-word post took 0.58× the one-at-a-time time at width 8 and 0.53× at 16
# (benchmarks/batched.py, benchmarks/RESULTS.md), while its cache stays small (16 × 1,024
# tokens: 300 MB there; a 7B model's, about 0.9 GB).
DEFAULT_PARALLEL = 16
# Tokens one of those sequences may hold (prompt and output); a paragraph needing more is
# translated on its own, one at a time (a few-shot prompt of ~90 tokens leaves room for a
# paragraph of ~270 tokens and its output budget).
SEQUENCE_TOKENS = 1024
# llama.cpp's CPU backend multiplies K-quant weights with a "tiled" kernel from 8 rows on,
# whose rounding differs from the one-row kernel's; a batch-invariant model needs it off.
# Read once per process by llama.cpp (at its first matrix product), so set before any.
_TILED_ENV = "GGML_CPU_TILED_MM"


def parallel_width() -> int:
    """Paragraphs decoded at once: OWNVOICE_PARALLEL (1 = one at a time) or the default.
    Raises OwnVoiceError for anything but a positive whole number."""
    value = os.environ.get(PARALLEL_ENV, "").strip()
    if not value:
        return DEFAULT_PARALLEL
    if not value.isdigit() or int(value) < 1:
        raise OwnVoiceError(f"{PARALLEL_ENV}={value!r} is not a number of paragraphs; set it "
                            "to 1 (one at a time) or more (e.g. 4).")
    return int(value)


if os.environ.get(PARALLEL_ENV, "").strip() != "1":
    os.environ.setdefault(_TILED_ENV, "0")


_model_params_lock = threading.Lock()


@contextlib.contextmanager
def _without_weight_repacking():
    """Models loaded meanwhile keep their weights as stored: llama.cpp's CPU backend
    otherwise repacks Q4_0/Q4_K/IQ4_NL weights for a kernel that rounds differently from 4
    rows on than for fewer. llama-cpp-python 0.3.36 does not pass `use_extra_bufts`, so its
    default model parameters are wrapped while `Llama(...)` reads them."""
    import llama_cpp.llama_cpp as lib

    with _model_params_lock:
        default = lib.llama_model_default_params

        def params():
            value = default()
            value.use_extra_bufts = False
            return value

        lib.llama_model_default_params = params
        try:
            yield
        finally:
            lib.llama_model_default_params = default


def cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


class LlamaCppBackend(Backend):
    kind = "llama.cpp"

    def __init__(self, path: Path | str, *, n_ctx: int = 4096, n_threads: int | None = None,
                 chat_template: str | None = None, parallel: int | None = None):
        """`parallel`: requests decoded at once (default: parallel_width()); more than 1
        loads the model with batch-invariant kernels, so that one at a time (`parallel` set
        to 1 later) and together give the same text."""
        self.path = Path(path)
        if not self.path.exists():
            raise OwnVoiceError(f"The model file {self.path} is missing. Add it again with "
                                "`ownvoice models add PATH`, or choose another model.")
        self.metadata = read_metadata(self.path)
        self.chat_template = chat_template or self.metadata.get("tokenizer.chat_template")
        self.prompt_style = "chat" if self.chat_template else "completion"
        self.n_ctx = self.context_tokens = n_ctx
        self.n_threads = n_threads or cpu_threads()
        self.parallel = parallel if parallel is not None else parallel_width()
        # Kernels chosen at load; without the tiled matmul switched off (someone set
        # GGML_CPU_TILED_MM) requests are decoded one at a time.
        self.batch_invariant = self.parallel > 1 and os.environ.get(_TILED_ENV) == "0"
        self.sequence_tokens = min(n_ctx, SEQUENCE_TOKENS)
        self._llm = None
        self._layouts: dict[tuple[str, ...], chat_template.Layout] = {}  # by the roles
        # Held while the model computes: a request alone holds it for its whole generation,
        # the batched decoder for each step.
        self._lock = threading.Lock()
        self._load_lock = threading.RLock()  # loading, chat layouts, the decoder
        self._cached_prompt: list[int] = []  # prompt rows in the model's own cache
        self._decoder: BatchedDecoder | None = None

    @property
    def default_sampling(self) -> Sampling:  # type: ignore[override]
        if self.prompt_style == "completion":
            # Few-shot base models: greedy, with a mild penalty against loops.
            return Sampling(temperature=0.0, repeat_penalty=1.1)
        # Fine-tuned / instruction models: greedy decoding copies the input in rewrite
        # tasks; 0.7 with a 1.05 repeat penalty is what worked for voice fine-tunes.
        return Sampling(temperature=0.7, top_p=0.95, repeat_penalty=1.05)

    def load(self):
        with self._load_lock:
            if self._llm is None:
                self._llm = self._open()
        return self._llm

    def _open(self):
        from jinja2 import TemplateError
        from llama_cpp import Llama

        _quiet_llama_logs()
        loading = (_without_weight_repacking() if self.batch_invariant
                   else contextlib.nullcontext())
        try:
            with loading:
                return Llama(model_path=str(self.path), n_ctx=self.n_ctx,
                             n_threads=self.n_threads, n_threads_batch=self.n_threads,
                             n_gpu_layers=-1, verbose=False)
        except TemplateError as exc:  # Llama() compiles the file's chat templates
            raise chat_template.load_error(self.path.name, exc) from exc
        except (ValueError, RuntimeError) as exc:
            raise OwnVoiceError(f"llama.cpp could not load {self.path}: {exc}. The file may "
                                "be damaged or of an architecture this llama.cpp does not "
                                "know; download it again or update OwnVoice.") from exc

    def count_tokens(self, text: str) -> int:
        return len(self.load().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prompt_tokens(self, request: Request) -> tuple[list[int], list[str]]:
        """The token ids of the request's prompt, and its stop strings. The request's texts
        are tokenized as plain text: "<|im_end|>" in a paragraph is not a control token.
        Raises chat_template.RenderCancelled when `request.cancelled` says so meanwhile."""
        llm = self.load()
        stop = list(request.stop)
        if request.messages is None:
            return llm.tokenize((request.prompt or "").encode("utf-8"), add_bos=True,
                                special=False), stop
        if not self.chat_template:
            raise OwnVoiceError(f"{self.path.name} has no chat template; it can only complete "
                                "text (use a completion prompt).")
        pieces = self._layout(request).fill([m["content"] for m in request.messages])
        # No bos added: the template writes its own (`{{ bos_token }}`), as llama-cpp-python's
        # chat formatter does; its stop is the eos text.
        tokens = chat_template.token_ids(pieces, lambda text, special: llm.tokenize(
            text.encode("utf-8"), add_bos=False, special=special))
        eos = _token_text(llm, llm.token_eos())
        stop += [eos] if eos else []
        stop += [marker for marker in END_OF_TURN if marker in self.chat_template]
        return tokens, sorted(set(stop))

    def _layout(self, request: Request) -> chat_template.Layout:
        roles = tuple(m["role"] for m in request.messages or [])
        with self._load_lock:  # paragraphs translated at once render a shape once
            if roles not in self._layouts:
                llm = self.load()
                self._layouts[roles] = chat_template.render_layout(
                    self.chat_template, roles, name=self.path.name,
                    bos_token=_token_text(llm, llm.token_bos()),
                    eos_token=_token_text(llm, llm.token_eos()), cancelled=request.cancelled)
            return self._layouts[roles]

    def stream(self, request: Request) -> Iterator[str | Usage]:
        """Yield the text as llama-cpp-python's create_completion streams it, then a Usage.
        With `parallel` > 1 the request is a sequence of the batched decoder (other
        threads' requests decode with it); one too long for a sequence there, or any with
        `parallel` = 1, runs alone on the model's own context. Raises OwnVoiceError (one
        line) for a request that does not fit the model (Backend.check_fits)."""
        try:
            tokens, stop = self.prompt_tokens(request)
        except chat_template.RenderCancelled:
            yield Usage(prompt_tokens=0, completion_tokens=0,
                        finish_reason=StopReason.CANCELLED)
            return
        self.check_fits(len(tokens), request.max_tokens)
        decoder = self._decoder_for(len(tokens), request.max_tokens)
        if decoder is not None:
            pieces = decoder.stream(tokens, stop=stop, max_tokens=request.max_tokens,
                                    sampling=request.sampling, cancelled=request.cancelled)
        else:
            pieces = self._alone(tokens, stop, request)
        finish, produced = "stop", 0
        try:
            for piece in pieces:
                if isinstance(piece, Finished):
                    finish = piece.finish_reason
                elif piece:
                    produced += 1
                    yield piece
        finally:
            pieces.close()  # a consumer that stops early (cancel, guard) ends generation
        # llama.cpp's own finish_reason: "stop" (end-of-generation token or a stop string)
        # or "length" (max_tokens reached); "cancelled" before the first token.
        yield Usage(prompt_tokens=len(tokens), completion_tokens=produced,
                    finish_reason=StopReason.from_finish_reason(finish))

    def _alone(self, tokens: list[int], stop: list[str],
               request: Request) -> Iterator[str | Finished]:
        """One request on the model's own context, through create_completion. The prompt
        is evaluated from the longest prefix the cache holds as prompt rows, in the chunks
        the batched decoder uses (`prefill_chunks`): all but the last here, the last by
        create_completion."""
        s = request.sampling
        llm = self.load()
        with self._lock:
            cached = min(common_prefix(self._cached_prompt, tokens), llm.n_tokens)
            self._cached_prompt = []
            chunks = prefill_chunks(prefill_start(cached, len(tokens)), len(tokens),
                                    llm.n_batch)
            llm.n_tokens = chunks[0][0]  # eval() drops the cache from here on
            for begin, end in chunks[:-1]:
                llm.eval(tokens[begin:end])
            finish = "stop"
            completion = llm.create_completion(
                tokens, max_tokens=request.max_tokens, stop=stop or None, stream=True,
                temperature=s.temperature, top_p=s.top_p, repeat_penalty=s.repeat_penalty,
                seed=s.seed)
            try:
                for chunk in completion:
                    self._cached_prompt = tokens  # evaluated once the first chunk is out
                    choice = chunk["choices"][0]
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    yield choice.get("text") or ""
            finally:
                completion.close()
        yield Finished(finish, 0)

    def _decoder_for(self, prompt_tokens: int, max_tokens: int) -> BatchedDecoder | None:
        """The batched decoder, when requests are decoded together and this one fits a
        sequence of it; None: decode it alone."""
        if self.parallel <= 1 or not self.batch_invariant:
            return None
        with self._load_lock:
            if self._decoder is not None and (self._decoder.width, self._decoder.asked) != (
                    self.parallel, self.sequence_tokens):
                self._decoder.close()  # changed between translations
                self._decoder = None
            if self._decoder is None:
                self._decoder = BatchedDecoder(self.load(), width=self.parallel,
                                               n_ctx_seq=self.sequence_tokens,
                                               compute_lock=self._lock)
            decoder = self._decoder
        return decoder if decoder.fits(prompt_tokens, max_tokens) else None

    def close(self) -> None:
        with self._load_lock:
            if self._decoder is not None:
                self._decoder.close()
                self._decoder = None
            if self._llm is not None:
                self._llm.close()
                self._llm = None
            self._cached_prompt = []


def _token_text(llm, token: int) -> str:
    if token < 0:
        return ""
    return llm.detokenize([token], special=True).decode("utf-8", errors="ignore")
