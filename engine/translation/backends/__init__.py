"""The one contract between OwnVoice and a model: stream text for a request.

Two implementations: a local GGUF through llama-cpp-python (`llama.py`) and any
OpenAI-compatible endpoint (`openai_compat.py`). Capabilities are class attributes;
options are a dataclass that rejects unknown keys. A stream ends with a `Usage` whose
`finish_reason` is a `StopReason` (engine.translation.guards): the backend says whether the
model ended its turn or hit the token budget; nobody guesses it from the text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields

from engine.errors import OwnVoiceError
from engine.translation.guards import REQUEST_TOKEN_CEILING, StopReason


@dataclass
class Sampling:
    temperature: float = 0.0
    top_p: float = 1.0
    repeat_penalty: float = 1.0  # llama.cpp only; over the last 64 tokens
    seed: int | None = 0

    @classmethod
    def from_dict(cls, values: dict) -> Sampling:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise OwnVoiceError(f"Unknown sampling option(s) {sorted(unknown)}; "
                                f"known: {sorted(known)}")
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Request:
    """Either chat `messages` (the model's template formats them) or a raw `prompt`."""

    max_tokens: int
    messages: list[dict] | None = None
    prompt: str | None = None
    stop: list[str] = field(default_factory=list)
    sampling: Sampling = field(default_factory=Sampling)
    # Asked by a backend during work before the first token (rendering a chat template):
    # True ends the stream with a Usage whose finish_reason is "cancelled".
    cancelled: Callable[[], bool] | None = None


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int
    # stop (end of turn) | length (token budget); the Translator adds repetition and
    # cancelled when it ends a stream itself. A raw server value is mapped on the way in.
    finish_reason: StopReason = StopReason.STOP

    def __post_init__(self) -> None:
        self.finish_reason = StopReason.from_finish_reason(self.finish_reason)


class Backend(ABC):
    kind: str = ""
    prompt_style: str = "chat"  # "chat" or "completion" (base models without a template)
    # A model OwnVoice fine-tuned with the short system prompt (prompts.VOICE_PROMPT); set by
    # registry.open_backend from the model's meta.
    voice_prompt: bool = False
    default_sampling: Sampling = Sampling()
    # Tokens one request may use, prompt and output together: a local model's context; for
    # an endpoint, OwnVoice's own ceiling (a paragraph needing more is not a paragraph).
    context_tokens: int = REQUEST_TOKEN_CEILING
    # Requests the backend decodes at once: the Translator streams that many paragraphs at
    # a time from as many threads (`stream` must then be safe to call concurrently). 1: one
    # request at a time.
    parallel: int = 1

    def check_fits(self, prompt_tokens: int, max_tokens: int) -> None:
        """Refuse, before anything is sent or generated, a paragraph whose prompt and
        output budget exceed `context_tokens`. Raises OwnVoiceError (one line)."""
        if prompt_tokens + max_tokens > self.context_tokens:
            raise OwnVoiceError(
                f"This paragraph is too long to translate in one piece ({prompt_tokens:,} "
                f"prompt tokens + {max_tokens:,} to generate > the {self.context_tokens:,} "
                "this model takes). Split it into shorter paragraphs.")

    @abstractmethod
    def stream(self, request: Request) -> Iterator[str | Usage]:
        """Yield the generated text piece by piece, then one Usage that says why the
        model stopped (`finish_reason`: stop or length, from the runtime's own report)."""

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` for this model (an estimate where the tokenizer is remote)."""
        return max(1, len(text.encode("utf-8")) // 3)

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Free what the backend holds (a loaded model)."""
