"""Any OpenAI-compatible chat endpoint: OpenAI itself (a fine-tuned model id, GPT-4o…), a
llama.cpp server, vLLM, Ollama's /v1… Built on engine.llm's client; the API key comes
from the OS keyring or the environment, never from the database."""

from __future__ import annotations

from collections.abc import Iterator

from engine import openai_models
from engine.errors import OwnVoiceError
from engine.llm import OPENAI_BASE_URL, explain, make_openai_client
from engine.translation.backends import Backend, Request, Sampling, Usage
from engine.translation.guards import StopReason


class OpenAIBackend(Backend):
    kind = "openai"
    prompt_style = "chat"
    default_sampling = Sampling(temperature=0.3, top_p=1.0, seed=None)

    def __init__(self, *, model: str, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 120.0):
        self.model = model
        self.base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        self.is_openai = self.base_url == OPENAI_BASE_URL
        # Streaming is not retried half-way: a failed request fails, with what to do.
        self.client = make_openai_client(self.base_url, api_key, timeout=timeout,
                                         max_retries=3)

    def stream(self, request: Request) -> Iterator[str | Usage]:
        if request.messages is None:
            raise OwnVoiceError("OpenAI-compatible endpoints are used through chat messages.")
        self.check_fits(sum(self.count_tokens(m["content"]) for m in request.messages),
                        request.max_tokens)
        s = request.sampling
        # Reasoning models take a temperature only without reasoning (openai_models).
        params = openai_models.chat_params(self.model, base_url=self.base_url,
                                           max_tokens=request.max_tokens,
                                           temperature=s.temperature, top_p=s.top_p)
        if request.stop:
            params["stop"] = request.stop
        if s.seed is not None:
            params["seed"] = s.seed
        try:
            chunks = self.client.chat.completions.create(
                model=self.model, messages=request.messages, stream=True,
                stream_options={"include_usage": True}, **params)
            # The server's finish_reason: "stop" (end of turn, stop sequence), "length"
            # (the max_tokens budget), or rarer ones (content_filter…) read as stop.
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
        except Exception as exc:
            import openai

            if isinstance(exc, openai.OpenAIError):
                raise explain(exc, self.base_url) from exc
            raise
        if usage is None:  # servers that do not report usage while streaming: estimate
            prompt = sum(self.count_tokens(m["content"]) for m in request.messages)
            yield Usage(prompt_tokens=prompt, completion_tokens=produced,
                        finish_reason=StopReason.from_finish_reason(finish))
            return
        yield Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                    finish_reason=StopReason.from_finish_reason(finish))
