"""A local GGUF model through llama-cpp-python.

The model stays loaded between requests, every layer goes to the GPU where llama.cpp
has one (Metal on a Mac), and on CPUs all cores are used (llama.cpp's default is half).
Chat prompts follow the chat template stored in the GGUF — the template the model was
trained with — rendered once per conversation shape in a sandboxed, time-limited process
and filled with the messages' texts as plain text (engine.translation.chat_template): text
never becomes control tokens. A prompt that starts like the previous one reuses its
evaluated prefix (llama-cpp-python keeps the KV cache of the last prompt).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from engine.errors import OwnVoiceError
from engine.translation import chat_template
from engine.translation.backends import Backend, Request, Sampling, Usage
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


def cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


class LlamaCppBackend(Backend):
    kind = "llama.cpp"

    def __init__(self, path: Path | str, *, n_ctx: int = 4096, n_threads: int | None = None,
                 chat_template: str | None = None):
        self.path = Path(path)
        if not self.path.exists():
            raise OwnVoiceError(f"The model file {self.path} is missing. Add it again with "
                                "`ownvoice models add PATH`, or choose another model.")
        self.metadata = read_metadata(self.path)
        self.chat_template = chat_template or self.metadata.get("tokenizer.chat_template")
        self.prompt_style = "chat" if self.chat_template else "completion"
        self.n_ctx = self.context_tokens = n_ctx
        self.n_threads = n_threads or cpu_threads()
        self._llm = None
        self._layouts: dict[tuple[str, ...], chat_template.Layout] = {}  # by the roles
        self._lock = threading.Lock()  # one generation at a time per loaded model

    @property
    def default_sampling(self) -> Sampling:  # type: ignore[override]
        if self.prompt_style == "completion":
            # Few-shot base models: greedy, with a mild penalty against loops.
            return Sampling(temperature=0.0, repeat_penalty=1.1)
        # Fine-tuned / instruction models: greedy decoding copies the input in rewrite
        # tasks; 0.7 with a 1.05 repeat penalty is what worked for voice fine-tunes.
        return Sampling(temperature=0.7, top_p=0.95, repeat_penalty=1.05)

    def load(self):
        if self._llm is None:
            from jinja2 import TemplateError
            from llama_cpp import Llama

            _quiet_llama_logs()
            try:
                self._llm = Llama(model_path=str(self.path), n_ctx=self.n_ctx,
                                  n_threads=self.n_threads, n_threads_batch=self.n_threads,
                                  n_gpu_layers=-1, verbose=False)
            except TemplateError as exc:  # Llama() compiles the file's chat templates
                raise chat_template.load_error(self.path.name, exc) from exc
            except (ValueError, RuntimeError) as exc:
                raise OwnVoiceError(f"llama.cpp could not load {self.path}: {exc}. The file may "
                                    "be damaged or of an architecture this llama.cpp does not "
                                    "know; download it again or update OwnVoice.") from exc
        return self._llm

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
        if roles not in self._layouts:
            llm = self.load()
            self._layouts[roles] = chat_template.render_layout(
                self.chat_template, roles, name=self.path.name,
                bos_token=_token_text(llm, llm.token_bos()),
                eos_token=_token_text(llm, llm.token_eos()), cancelled=request.cancelled)
        return self._layouts[roles]

    def stream(self, request: Request) -> Iterator[str | Usage]:
        try:
            tokens, stop = self.prompt_tokens(request)
        except chat_template.RenderCancelled:
            yield Usage(prompt_tokens=0, completion_tokens=0,
                        finish_reason=StopReason.CANCELLED)
            return
        self.check_fits(len(tokens), request.max_tokens)
        s = request.sampling
        with self._lock:
            finish, produced = "stop", 0
            chunks = self.load().create_completion(
                tokens, max_tokens=request.max_tokens, stop=stop or None, stream=True,
                temperature=s.temperature, top_p=s.top_p, repeat_penalty=s.repeat_penalty,
                seed=s.seed)
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    if choice.get("text"):
                        produced += 1
                        yield choice["text"]
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            finally:
                chunks.close()  # a consumer that stops early (cancel, guard) ends generation
        # llama.cpp's own finish_reason: "stop" (end-of-generation token or a stop string)
        # or "length" (max_tokens reached).
        yield Usage(prompt_tokens=len(tokens), completion_tokens=produced,
                    finish_reason=StopReason.from_finish_reason(finish))

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None


def _token_text(llm, token: int) -> str:
    if token < 0:
        return ""
    return llm.detokenize([token], special=True).decode("utf-8", errors="ignore")
