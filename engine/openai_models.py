"""OpenAI's models as they are now: which request parameters each family takes, and when
each one shuts down.

Request parameters (`chat_params`). OpenAI's current models reason before they answer
(GPT-6 Luna, Sol, Astra; GPT-5.x), and their rules differ from GPT-4o's (OpenAI's GPT-6
guide and model pages, read 2026-11-30):
- `temperature` and `top_p` are accepted only with `reasoning_effort: "none"`; with any
  other effort they are refused. The default effort is `medium`, which also bills reasoning
  tokens: a translation needs none.
- gpt-6-luna, gpt-6-sol, gpt-6.1-terra and GPT-5.1 to 5.6 take `none`; gpt-6.1-sol,
  gpt-6.2-sol and gpt-6-astra do not (`low` is their least), nor do gpt-5, o1, o3 and o4
  (`minimal`/`low`); these get the least effort and no sampling parameters.
- Every model on api.openai.com takes `max_completion_tokens` (`max_tokens` is refused by
  the reasoning ones); other OpenAI-compatible servers (llama.cpp, vLLM) get `max_tokens`,
  unless the model is one of OpenAI's reasoning families (a proxy in front of OpenAI).
A model this table does not know is sent the GPT-4o form; if OpenAI refuses a parameter,
`adapted` gives the other form once, and engine.llm's client remembers it for that model
(the streaming translation backend sends the table's form and fails in one line).

Retirement (`shutdowns`, `retirements`). `GET /v1/models` gives each model's optional
`shutdown_date` (YYYY-MM-DD, OpenAI's deprecations page); it is read at most once a day and
cached in the data folder. Within `WARN_DAYS` of the date a model is *retiring* (the CLI
warns, the app shows a banner naming the replacement); past it, *retired* (not offered).
The replacements OpenAI recommends are not in the API: they come from
resources/openai_models.json (dated, from the deprecations page).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources

from engine import paths
from engine.errors import OwnVoiceError

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
WARN_DAYS = 90
CACHE_FILE = "openai_models.json"
CACHE_MAX_AGE_S = 24 * 3600
FAILED_RETRY_S = 3600  # an endpoint that did not answer is asked again after an hour

# Current defaults (resources/openai_models.json says why and when they were chosen).
SYNTHESIS_MODEL = "gpt-6-luna"
BASELINE_MODEL = "gpt-6-sol"

_EFFORTS_WITH_NONE = ("none", "low", "medium", "high", "xhigh", "max")
# Longest prefix first wins. Efforts in order of cost; the first is what OwnVoice sends.
_FAMILIES: dict[str, tuple[str, ...]] = {
    "gpt-6.1-sol": ("low", "medium", "high", "xhigh", "max"),
    "gpt-6.2-sol": ("low", "medium", "high", "xhigh", "max"),
    "gpt-6-astra": ("low", "medium", "high", "xhigh", "max"),
    "gpt-6": _EFFORTS_WITH_NONE,
    "gpt-5.1": _EFFORTS_WITH_NONE, "gpt-5.2": _EFFORTS_WITH_NONE,
    "gpt-5.3": _EFFORTS_WITH_NONE, "gpt-5.4": _EFFORTS_WITH_NONE,
    "gpt-5.5": _EFFORTS_WITH_NONE, "gpt-5.6": _EFFORTS_WITH_NONE,
    "gpt-5": ("minimal", "low", "medium", "high"),
    "o1": ("low", "medium", "high"), "o3": ("low", "medium", "high"),
    "o4": ("low", "medium", "high"),
}


def base_of(model: str) -> str:
    """The base model of a fine-tune: 'ft:gpt-4o-mini-2024-07-18:org::id' → its base name;
    anything else unchanged."""
    return model.split(":")[1] if model.startswith("ft:") and model.count(":") >= 1 else model


def efforts(model: str) -> tuple[str, ...] | None:
    """The reasoning efforts `model` accepts, least first; None for a model that does not
    reason (GPT-4o, GPT-4.1, their fine-tunes, models this table does not know)."""
    name = base_of(model)
    for prefix in sorted(_FAMILIES, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "-") or name.startswith(prefix + "."):
            return _FAMILIES[prefix]
    return None


def is_openai(base_url: str | None) -> bool:
    return (base_url or OPENAI_BASE_URL).rstrip("/") == OPENAI_BASE_URL


def chat_params(model: str, *, base_url: str | None, max_tokens: int,
                temperature: float | None = None, top_p: float | None = None,
                reasoning: bool | None = None) -> dict:
    """The sampling and length parameters of one chat completion for `model` at `base_url`
    (None: api.openai.com): a dict to spread into `chat.completions.create` or a Batch
    body. `reasoning` forces the reasoning form (True) or the classic form (False), learnt
    from a refusal (see `adapted`)."""
    sampling = {k: v for k, v in (("temperature", temperature), ("top_p", top_p))
                if v is not None}
    accepted = efforts(model)
    if not is_openai(base_url) and accepted is None and not reasoning:
        return {**sampling, "max_tokens": max_tokens}
    if accepted is None and reasoning:
        accepted = ("low",)  # refused a temperature: reasons, and the least effort is safe
    if accepted is None or reasoning is False:
        return {**sampling, "max_completion_tokens": max_tokens}
    if accepted[0] == "none":
        return {**sampling, "reasoning_effort": "none", "max_completion_tokens": max_tokens}
    return {"reasoning_effort": accepted[0], "max_completion_tokens": max_tokens}


def adapted(exc: Exception, model: str, params: dict) -> dict | None:
    """The parameters to try once more when OpenAI refused `params` for an unknown model
    (a 400 naming temperature, top_p, max_tokens or reasoning_effort); None when the
    refusal is something else or the other form was tried already."""
    body = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else {}
    param = (error or {}).get("param") if isinstance(error, dict) else None
    if getattr(exc, "status_code", None) != 400 or param not in (
            "temperature", "top_p", "max_tokens", "reasoning_effort"):
        return None
    limit = params.get("max_completion_tokens", params.get("max_tokens", 1024))
    if param == "reasoning_effort" and params.get("reasoning_effort") == "none":
        # A reasoning model without "none" (a newer Sol or Astra): its least effort, and no
        # sampling parameters, which it refuses at any other effort.
        return {"reasoning_effort": "low", "max_completion_tokens": limit}
    if param == "reasoning_effort" and "reasoning_effort" in params:
        return {"max_completion_tokens": limit, **{k: params[k] for k in ("temperature",
                                                                          "top_p") if k in params}}
    if "reasoning_effort" in params:
        if params["reasoning_effort"] == "none":  # no none: the least effort, no sampling
            return {"reasoning_effort": "low", "max_completion_tokens": limit}
        return None
    return {"reasoning_effort": "low", "max_completion_tokens": limit}


# --- retirement ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def catalogue() -> dict:
    """resources/openai_models.json: defaults, recommended replacements, the date read."""
    text = resources.files("resources").joinpath("openai_models.json").read_text("utf-8")
    return json.loads(text)


def replacement(model: str) -> str | None:
    """OpenAI's recommended replacement for `model` (or for a fine-tune's base)."""
    table = catalogue()["replacements"]
    name = base_of(model)
    for prefix in sorted(table, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "-"):
            return table[prefix]
    return None


@dataclass(frozen=True)
class Retirement:
    model: str
    shutdown: date
    days_left: int  # negative once past
    replacement: str | None

    @property
    def retired(self) -> bool:
        return self.days_left <= 0

    def message(self) -> str:
        """One line for the CLI and the banner."""
        instead = ""
        if self.model.startswith("ft:"):
            instead = (" Fine-tunes of it stop with it: retrain on a current base (this "
                       "machine, a rented box, or Tinker).")
        elif self.replacement:
            instead = f" OpenAI recommends {self.replacement} instead."
        if self.retired:
            return f"{self.model} was shut down on {self.shutdown.isoformat()}.{instead}"
        days = f"{self.days_left} day" + ("" if self.days_left == 1 else "s")
        return f"{self.model} shuts down on {self.shutdown.isoformat()} (in {days}).{instead}"


def _cache_path():
    return paths.data_dir() / CACHE_FILE


def _read_cache() -> dict:
    """{base url: {"fetched_at": seconds, "models": {id: date}, "failed": bool}}."""
    try:
        data = json.loads(_cache_path().read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def cached(base_url: str | None = None) -> dict[str, str]:
    """The shutdown dates last read from `base_url` (None: OpenAI), without asking it."""
    entry = _read_cache().get((base_url or OPENAI_BASE_URL).rstrip("/")) or {}
    models = entry.get("models")
    return models if isinstance(models, dict) else {}


def shutdowns(connect, *, base_url: str | None = None, max_age_s: float = CACHE_MAX_AGE_S,
              now: float | None = None) -> dict[str, str]:
    """{model id: shutdown date 'YYYY-MM-DD'} for every model `GET /v1/models` lists with
    a date (fine-tunes of the key's organisation included), read at most once per
    `max_age_s` (cached in the data folder, per endpoint); `connect()` makes the client
    (called only when the cache is stale). An endpoint that cannot be read is not asked
    again for an hour; the last answer it gave (or {}) stands — a warning is never worth
    failing a command for."""
    from engine import files

    url = (base_url or OPENAI_BASE_URL).rstrip("/")
    now = time.time() if now is None else now
    cache = _read_cache()
    entry = cache.get(url) if isinstance(cache.get(url), dict) else None
    if entry is not None:
        age = now - float(entry.get("fetched_at", 0))
        if age < (min(max_age_s, FAILED_RETRY_S) if entry.get("failed") else max_age_s):
            return dict(entry.get("models") or {})
    try:
        client = connect()
        found = {}
        for model in client.models.list():
            extra = getattr(model, "model_extra", None) or {}
            stamp = getattr(model, "shutdown_date", None) or extra.get("shutdown_date")
            if stamp:
                found[model.id] = str(stamp)[:10]
        entry = {"fetched_at": now, "models": found, "failed": False}
    except Exception as exc:  # noqa: BLE001 - offline, no key, a proxy: keep the last answer
        log.info("model shutdown dates not read from %s: %s", url, exc)
        found = dict((entry or {}).get("models") or {})
        entry = {"fetched_at": now, "models": found, "failed": True}
    cache[url] = entry
    try:
        with files.atomic_write(_cache_path()) as out:
            json.dump(cache, out)
    except (OSError, OwnVoiceError) as exc:
        log.info("model shutdown dates not cached: %s", exc)
    return found


def retirements(models, *, dates: dict[str, str], today: date | None = None,
                warn_days: int = WARN_DAYS) -> list[Retirement]:
    """The models among `models` that shut down within `warn_days` or already have, by
    `dates` (from `shutdowns`); a fine-tune with no date of its own takes its base's."""
    today = today or date.today()
    found = []
    for model in dict.fromkeys(m for m in models if m):
        stamp = dates.get(model) or dates.get(base_of(model))
        if not stamp:
            continue
        try:
            day = date.fromisoformat(stamp)
        except ValueError:
            continue
        left = (day - today).days
        if left <= warn_days:
            found.append(Retirement(model, day, left, replacement(model)))
    return sorted(found, key=lambda r: (r.shutdown, r.model))
