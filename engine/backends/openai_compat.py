"""Any OpenAI-compatible chat endpoint: OpenAI itself (a fine-tuned model id, GPT-4o…), a
llama.cpp server, vLLM, Ollama's /v1… The API key comes from the OS keyring or the
environment, never from the database."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import OwnVoiceError
from . import Backend, Request, Sampling, Usage

OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAIBackend(Backend):
    kind = "openai"
    prompt_style = "chat"
    default_sampling = Sampling(temperature=0.3, top_p=1.0, seed=None)

    def __init__(self, *, model: str, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 120.0):
        from openai import OpenAI

        self.model = model
        self.base_url = base_url or OPENAI_BASE_URL
        self.is_openai = self.base_url.rstrip("/") == OPENAI_BASE_URL
        if self.is_openai and not api_key:
            raise OwnVoiceError("No OpenAI API key: store one with `ownvoice keys set openai` "
                                "(it goes to the OS keyring) or set OPENAI_API_KEY.")
        # Local servers usually need no key, but the client insists on one.
        self.client = OpenAI(base_url=self.base_url, api_key=api_key or "no-key-needed",
                             timeout=timeout, max_retries=3)

    def stream(self, request: Request) -> Iterator[str | Usage]:
        import openai

        if request.messages is None:
            raise OwnVoiceError("OpenAI-compatible endpoints are used through chat messages.")
        s = request.sampling
        limit = {"max_completion_tokens" if self.is_openai else "max_tokens": request.max_tokens}
        try:
            chunks = self.client.chat.completions.create(
                model=self.model, messages=request.messages, stream=True,
                temperature=s.temperature, top_p=s.top_p, stop=request.stop or None,
                stream_options={"include_usage": True},
                **({"seed": s.seed} if s.seed is not None else {}), **limit)
            finish, produced, usage = "stop", 0, None
            for chunk in chunks:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        produced += 1
                        yield choice.delta.content
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except openai.AuthenticationError as exc:
            raise OwnVoiceError(f"{self.base_url} refused the API key ({exc.status_code}). "
                                "Store a valid one with `ownvoice keys set …`.") from exc
        except openai.APIConnectionError as exc:
            raise OwnVoiceError(f"Cannot reach {self.base_url}: {exc}. Is the server running "
                                "and the address right?") from exc
        except openai.APIStatusError as exc:
            raise OwnVoiceError(f"{self.base_url} answered {exc.status_code}: "
                                f"{exc.message}") from exc
        if usage is None:  # servers that do not report usage while streaming: estimate
            prompt = sum(self.count_tokens(m["content"]) for m in request.messages)
            yield Usage(prompt_tokens=prompt, completion_tokens=produced, finish_reason=finish)
            return
        yield Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                    finish_reason=finish)
