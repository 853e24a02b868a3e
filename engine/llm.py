"""The one OpenAI-compatible client every LLM call goes through.

OpenAI itself or any `base_url` (a llama.cpp server, vLLM…). It bounds concurrency,
retries with exponential backoff on 429, 5xx, timeouts and dropped connections
(honouring Retry-After), and keeps token and cost accounting from a price table the
user can edit. Keys come from the keyring (engine.secrets) and never appear in logs.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from engine import openai_models, paths, retry_after
from engine.errors import OwnVoiceError
from engine.openai_models import OPENAI_BASE_URL


@dataclass
class ChatResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    finish_reason: str


@dataclass
class Usage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]")


def estimate_tokens(text: str) -> int:
    """Tokens of `text` for OpenAI's tokenizers, estimated without downloading one: about a
    token per CJK character and per four bytes of anything else."""
    cjk = len(_CJK.findall(text))
    rest = len(text.encode("utf-8")) - cjk * 3
    return cjk + max(0, rest) // 4 + 1


# --- prices ----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _shipped(name: str) -> str:
    return resources.files("resources").joinpath(name).read_text("utf-8")


def price_file(name: str) -> dict:
    """A price table: resources/NAME as shipped, with NAME in the data folder (if the user
    has one) laid over it — its "models" added to or replacing the shipped ones by name, its
    other keys (batch_discount, read_on…) replacing theirs. Raises OwnVoiceError for a file
    that is not JSON."""
    table = json.loads(_shipped(name))
    override = paths.data_dir() / name
    if override.exists():
        try:
            user = json.loads(override.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise OwnVoiceError(f"{override} is not valid JSON ({exc}); fix or delete it.") \
                from exc
        table["models"].update(user.get("models", {}))
        table.update({k: v for k, v in user.items() if k != "models"})
    return table


def price_table() -> dict:
    """OpenAI's prices (resources/prices.json, or the user's prices.json over it)."""
    return price_file("prices.json")


def price_for(model: str) -> dict | None:
    """Prices of the longest listed name `model` starts with ("gpt-4o-mini-2024-07-18")."""
    models = price_table()["models"]
    for name in sorted(models, key=len, reverse=True):
        if model.startswith(name):
            return models[name]
    return None


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int, *,
             batch: bool = False, cached_tokens: int = 0) -> float:
    """US dollars for one request: `prompt_tokens` (of which `cached_tokens` were a cache
    hit, billed at `cached_input` where listed) and `completion_tokens` (reasoning tokens
    included, as OpenAI counts them)."""
    price = price_for(model)
    if price is None:
        return 0.0  # a local server: free
    cached = min(max(cached_tokens, 0), prompt_tokens)
    cost = ((prompt_tokens - cached) * price.get("input", 0)
            + cached * price.get("cached_input", price.get("input", 0))
            + completion_tokens * price.get("output", 0))
    cost /= 1_000_000
    return cost * (price_table()["batch_discount"] if batch else 1.0)


# --- the client ------------------------------------------------------------------------------


def make_openai_client(base_url: str | None, api_key: str | None, *, timeout: float = 120.0,
                       max_retries: int = 0):
    from openai import OpenAI

    base_url = base_url or OPENAI_BASE_URL
    if base_url.rstrip("/") == OPENAI_BASE_URL and not api_key:
        raise OwnVoiceError("No OpenAI API key: store one with `ownvoice keys set openai` "
                            "(it goes to the OS keyring) or set OPENAI_API_KEY.")
    # Local servers usually need no key, but the client insists on one.
    return OpenAI(base_url=base_url, api_key=api_key or "no-key-needed", timeout=timeout,
                  max_retries=max_retries)


def explain(exc: Exception, base_url: str) -> OwnVoiceError:
    """An API failure as a message that says what happened and what to do."""
    import openai

    if isinstance(exc, openai.AuthenticationError):
        return OwnVoiceError(f"{base_url} refused the API key ({exc.status_code}). Store a "
                             "valid one with `ownvoice keys set …`.")
    if isinstance(exc, openai.APITimeoutError):
        return OwnVoiceError(f"{base_url} did not answer in time. Try again, or lower the "
                             "concurrency.")
    if isinstance(exc, openai.APIConnectionError):
        return OwnVoiceError(f"Cannot reach {base_url}: {exc}. Is the server running and the "
                             "address right?")
    if isinstance(exc, openai.RateLimitError):
        return OwnVoiceError(f"{base_url} keeps answering 429 (rate limit or quota): "
                             f"{exc.message}. Wait, lower the concurrency, or check billing.")
    if isinstance(exc, openai.APIStatusError):
        return OwnVoiceError(f"{base_url} answered {exc.status_code}: {exc.message}")
    return OwnVoiceError(f"{base_url}: {exc}")


def _retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError,
                        openai.RateLimitError)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    return retry_after.seconds(response.headers.get("retry-after")
                               if response is not None else None)


class LLMClient:
    def __init__(self, *, model: str, base_url: str | None = None, api_key: str | None = None,
                 concurrency: int = 4, max_retries: int = 5, timeout: float = 120.0,
                 backoff: float = 1.0):
        self.model = model
        self.base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        self.is_openai = self.base_url == OPENAI_BASE_URL
        self.client = make_openai_client(self.base_url, api_key, timeout=timeout)
        self._reasoning: bool | None = None  # learnt from a refusal, for unknown models
        self.concurrency = max(1, concurrency)
        self.max_retries = max_retries
        self.backoff = backoff
        self.usage = Usage()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="llm")

    def chat(self, messages: list[dict], *, max_tokens: int = 1024, temperature: float = 0.7,
             **params) -> ChatResult:
        """One chat completion, retried on transient failures. The sampling and length
        parameters take the form the model accepts (engine.openai_models.chat_params)."""
        sampling = openai_models.chat_params(self.model, base_url=self.base_url,
                                             max_tokens=max_tokens, temperature=temperature,
                                             reasoning=self._reasoning)
        attempt, adapted = 0, False
        while True:
            try:
                response = self.client.chat.completions.create(
                    model=self.model, messages=messages, **sampling, **params)
                break
            except Exception as exc:
                other = None if adapted else openai_models.adapted(exc, self.model, sampling)
                if other is not None:
                    adapted = True
                    sampling = other
                    self._reasoning = "reasoning_effort" in other
                    continue
                if not _retryable(exc) or attempt >= self.max_retries:
                    raise explain(exc, self.base_url) from exc
                asked = _retry_after(exc)  # the server's word (0: now) before our backoff
                delay = asked if asked is not None else self.backoff * (2 ** attempt) * (
                    0.5 + random.random())
                attempt += 1
                with self._lock:
                    self.usage.retries += 1
                time.sleep(min(delay, 60.0))
        choice = response.choices[0]
        usage = response.usage
        prompt = usage.prompt_tokens if usage else 0
        completion = usage.completion_tokens if usage else 0
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        cost = cost_usd(self.model, prompt, completion,
                        cached_tokens=getattr(details, "cached_tokens", 0) or 0)
        with self._lock:
            self.usage.requests += 1
            self.usage.prompt_tokens += prompt
            self.usage.completion_tokens += completion
            self.usage.cost_usd += cost
        return ChatResult(text=choice.message.content or "", prompt_tokens=prompt,
                          completion_tokens=completion, cost_usd=cost,
                          finish_reason=choice.finish_reason or "stop")

    def submit(self, messages: list[dict], **params) -> Future:
        """The same call on the client's pool: at most `concurrency` run at once."""
        return self._pool.submit(self.chat, messages, **params)

    def close(self, *, cancel_pending: bool = True) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel_pending)


def shutdown_dates(base_url: str | None = None, *, max_age_s: float | None = None) -> dict:
    """{model id: 'YYYY-MM-DD'} from the endpoint's `GET /v1/models` (cached a day; {} when
    it cannot be read): see engine.openai_models.shutdowns."""
    def connect():
        return make_openai_client(base_url, key_for(base_url, "openai"), timeout=5.0,
                                  max_retries=0)

    extra = {} if max_age_s is None else {"max_age_s": max_age_s}
    return openai_models.shutdowns(connect, base_url=base_url, **extra)


def key_for(base_url: str | None, key_name: str | None) -> str | None:
    """The API key for an endpoint: the named keyring entry, or OpenAI's for OpenAI."""
    from engine.secrets import get_secret

    if key_name:
        return get_secret(key_name)
    if (base_url or OPENAI_BASE_URL).rstrip("/") == OPENAI_BASE_URL:
        return get_secret("openai")
    return None
