"""Tinker (Thinking Machines' managed LoRA training service) as a training target: OwnVoice
encodes its chat records itself, Tinker trains and samples remotely, and the LoRA comes
back as a PEFT adapter folder that engine.training.export merges into a GGUF.

    run = TinkerRun(base_model=DEFAULT_BASE, tokenizer="Qwen/Qwen3-4B-Instruct-2507")
    batch = datums(records, run)              # records: {"messages": [...], "weight": w}
    print(estimate(batch, run))               # tokens, steps, US dollars (dated prices)
    done = train(run, batch, api_key=key, on_step=print)
    sample(run, done.sampler_path, [messages], api_key=key)
    download_adapter(run, done.external_path, Path("adapter"), api_key=key)

The SDK (`tinker`, pinned in the core dependencies) is imported inside the functions;
its telemetry is off unless TINKER_TELEMETRY says otherwise. The wire,
the checkpoint layout and the prices are in docs/design/tinker.md. OwnVoice never uses the
SDK's tokenizer: `TinkerRun.tokenizer` (a local folder or hub id of the same model) formats
the chat, masks the loss and later merges the adapter.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine import llm, paths
from engine.errors import OwnVoiceError
from engine.training import data

DEFAULT_BASE = "Qwen/Qwen3-4B-Instruct-2507"
# Tinker id → the Hugging Face id of the same weights (tokenizer, chat template, merge).
# Dense, text-only and llama.cpp-convertible; Tinker's full list is get_server_capabilities.
BASES = {
    "Qwen/Qwen3-4B-Instruct-2507": "Qwen/Qwen3-4B-Instruct-2507",
    "Qwen/Qwen3-8B": "Qwen/Qwen3-8B",
    "meta-llama/Llama-3.1-8B-Instruct": "meta-llama/Llama-3.1-8B-Instruct",
}
PRODUCTION_URL = "https://tinker.thinkingmachines.dev/services/tinker-prod"
PRICES_FILE = "tinker_prices.json"
STEP_TIMEOUT_S = 1800.0   # one future: Tinker queues work, so minutes are normal
CREATE_TIMEOUT_S = 3600.0  # a new training client can wait for capacity
EXTERNAL_TTL_S = 7 * 86400  # the downloadable copy is billed storage: it expires in a week


@dataclass
class TinkerRun:
    base_model: str              # Tinker's id, e.g. "Qwen/Qwen3-4B-Instruct-2507"
    tokenizer: str               # local folder or hub id of the same model
    rank: int = 16               # LoRA rank
    learning_rate: float = 5e-4  # peak; decays linearly to 0 over the run
    epochs: float = 3.0          # passes over the data (a fraction ends mid-epoch)
    batch_size: int = 8          # datums per optimizer step
    max_length: int = 1024       # tokens per example; longer ones are cut
    seed: int = 0                # LoRA initialisation and batch order
    base_url: str | None = None  # None: TINKER_BASE_URL, else Tinker's production service


@dataclass
class Estimate:
    train_tokens: int  # tokens Tinker bills for training (every datum token, every epoch)
    steps: int         # optimizer steps
    usd: float         # train_tokens at the dated train price


@dataclass
class TrainedRun:
    model_id: str                # Tinker's training-run id ("<session>:train:<n>")
    sampler_path: str | None     # tinker://…/sampler_weights/final (None when stopped)
    external_path: str | None    # tinker://…/external_weights/final (None when stopped)
    state_path: str | None       # tinker://…/weights/… (weights + optimizer: resumable)
    steps: int                   # optimizer steps done
    losses: list[float] = field(default_factory=list)  # per-token NLL of each step


def tokenizer_for(base: str) -> str:
    """The Hugging Face id of a Tinker base's weights (tokenizer, chat template, merge).
    Raises OwnVoiceError for a base OwnVoice does not know: pass a tokenizer explicitly."""
    if base not in BASES:
        raise OwnVoiceError(f"OwnVoice does not know the Hugging Face model of {base}; give "
                            f"its tokenizer (id or folder), or choose one of "
                            f"{', '.join(BASES)}.")
    return BASES[base]


# --- prices ----------------------------------------------------------------------------


def prices(base: str) -> dict:
    """USD per million tokens for `base` ("prefill", "cached_prefill", "sample", "train") and
    the date they were read ("read_on"). resources/tinker_prices.json, overridden by
    tinker_prices.json in the data folder. Raises OwnVoiceError for a base with no price."""
    table = llm.price_file(PRICES_FILE)
    if base not in table["models"]:
        raise OwnVoiceError(f"No Tinker price for {base}; known: {', '.join(table['models'])}."
                            f" Add it to {paths.data_dir() / PRICES_FILE}.")
    return {**table["models"][base], "read_on": table["read_on"]}


# --- data ------------------------------------------------------------------------------


def load_tokenizer(run: TinkerRun):
    """The run's tokenizer, with OwnVoice's default chat template if it has none."""
    from transformers import AutoTokenizer

    from engine.training.base import default_chat_template

    where = Path(run.tokenizer).expanduser()
    looks_local = run.tokenizer.startswith(("/", ".", "~")) or "\\" in run.tokenizer
    if looks_local and not where.exists():
        raise OwnVoiceError(f"The tokenizer folder {run.tokenizer} does not exist.")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(where) if looks_local else run.tokenizer)
    except (OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise OwnVoiceError(f"Cannot load the tokenizer of {run.tokenizer}: {first} (a gated "
                            "model on the Hugging Face hub needs `hf auth login`; a folder "
                            "must hold the model's tokenizer files).") from exc
    if not tokenizer.chat_template:
        tokenizer.chat_template = default_chat_template(tokenizer)
    return tokenizer


def datums(records: list[dict], run: TinkerRun) -> list:
    """OwnVoice chat records ({"messages": [system, user, assistant], "weight": w}) as
    Tinker cross_entropy datums: input = ids[:-1], target_tokens = ids[1:], and weights =
    the record's weight on the answer's tokens (end of turn included), 0 on the prompt.
    A record whose answer is cut away entirely by max_length is left out (it would be
    billed and teach nothing); none left raises OwnVoiceError."""
    from tinker import types

    tokenizer = load_tokenizer(run)
    out = []
    for record in records:
        example = data.encode(tokenizer, record, run.max_length)
        ids = example.input_ids
        weights = [0.0 if label == data.IGNORE else example.weight
                   for label in example.labels[1:len(ids)]]
        if len(ids) < 2 or not any(weights):
            continue
        out.append(types.Datum(model_input=types.ModelInput.from_ints(ids[:-1]),
                               loss_fn_inputs={"target_tokens": ids[1:], "weights": weights}))
    if not out:
        raise OwnVoiceError(f"No example has an answer within {run.max_length} tokens; "
                            "raise max_length or shorten the pairs.")
    return out


def schedule(batch: list, run: TinkerRun) -> list[list[int]]:
    """The optimizer steps as lists of datum indices: epochs of length-grouped batches
    (engine.training.data.batch_order), cut after epochs × batches-per-epoch steps."""
    lengths = [d.model_input.length for d in batch]
    per_epoch = math.ceil(len(batch) / run.batch_size)
    total = max(1, math.ceil(per_epoch * run.epochs))
    steps: list[list[int]] = []
    epoch = 0
    while len(steps) < total:
        steps += data.batch_order(lengths, run.batch_size, run.seed, epoch)
        epoch += 1
    return steps[:total]


def estimate(batch: list, run: TinkerRun) -> Estimate:
    """What `train` will send and what Tinker will bill for it (train tokens only; the
    dated train price of run.base_model). Raises OwnVoiceError for a base with no price."""
    steps = schedule(batch, run)
    tokens = sum(batch[i].model_input.length for step in steps for i in step)
    return Estimate(train_tokens=tokens, steps=len(steps),
                    usd=tokens * prices(run.base_model)["train"] / 1e6)


# --- the service -----------------------------------------------------------------------


def _base_url(run: TinkerRun) -> str:
    return (run.base_url or os.environ.get("TINKER_BASE_URL") or PRODUCTION_URL).rstrip("/")


def openai_base_url(base_url: str | None) -> str:
    """Tinker's OpenAI-compatible sampling endpoint for a Tinker base URL (None: the
    production one). Its `model` is a base id or a tinker://…/sampler_weights/… path."""
    return (base_url or os.environ.get("TINKER_BASE_URL") or PRODUCTION_URL).rstrip("/") \
        + "/oai/api/v1"


def _check_reachable(url: str) -> None:
    """Fail fast when nothing answers (the SDK retries a refused connection for long)."""
    try:
        urllib.request.urlopen(url + "/api/v1/healthz", timeout=15).close()
    except urllib.error.HTTPError:
        return  # it answered
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OwnVoiceError(f"Cannot reach Tinker at {url} ({reason}); check the network "
                            "or the base URL.") from exc


def _explain(exc: BaseException, url: str) -> OwnVoiceError:
    """An SDK or connection failure as one line that says what to do."""
    import concurrent.futures

    import tinker

    text = " ".join(str(exc).split()) or type(exc).__name__
    status = getattr(exc, "status_code", None)
    if isinstance(exc, tinker.AuthenticationError) or status == 401 or re.search(
            r"api[ _]key", text, re.I):  # the SDK checks a key's form before sending it
        return OwnVoiceError("Tinker refused the API key: check it (keys start with tml-) "
                             "and store it again with `ownvoice keys set tinker`.")
    if isinstance(exc, tinker.BillingError) or status == 402:
        return OwnVoiceError("Tinker refused for billing (402): add credit or a payment "
                             "method in the Tinker console, then try again.")
    if isinstance(exc, tinker.APIConnectionError):
        return OwnVoiceError(f"Cannot reach Tinker at {url} ({text}); check the network.")
    if isinstance(exc, (TimeoutError, concurrent.futures.TimeoutError)):
        return OwnVoiceError(f"Tinker at {url} did not answer in time; try again later.")
    if isinstance(exc, tinker.RequestFailedError):
        return OwnVoiceError(f"Tinker failed the request: {text}")
    return OwnVoiceError(f"Tinker: {text}"[:400])


def _client(run: TinkerRun, api_key: str):
    # The SDK reports usage telemetry to Thinking Machines unless told not to: OwnVoice
    # sends nothing nobody asked for (set TINKER_TELEMETRY=1 to allow it).
    os.environ.setdefault("TINKER_TELEMETRY", "0")
    import tinker

    url = _base_url(run)
    _check_reachable(url)
    try:
        return tinker.ServiceClient({"app": "ownvoice"}, base_url=url, api_key=api_key)
    except Exception as exc:
        raise _explain(exc, url) from exc


class _Session:
    """A Tinker session for one call: `with _Session(run, key) as session:` gives
    `session.client`; the SDK's errors leave as one OwnVoiceError line, and the session is
    closed with `session.status` ("errored" unless the call set "success"/"interrupted")."""

    def __init__(self, run: TinkerRun, api_key: str):
        self.url = _base_url(run)
        self.client = _client(run, api_key)
        self.status = "errored"

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, kind, exc, _traceback) -> None:
        import contextlib

        with contextlib.suppress(Exception):  # the session ends server-side anyway
            self.client.close(self.status).result(timeout=30)
        if exc is not None and isinstance(exc, Exception) \
                and not isinstance(exc, OwnVoiceError):
            raise _explain(exc, self.url) from exc


def train(run: TinkerRun, batch: list, *, api_key: str,
          on_step: Callable[[int, int, float], None] | None = None,
          stop: Callable[[], bool] | None = None) -> TrainedRun:
    """Train a LoRA on Tinker. `on_step(step, total_steps, loss)` after every optimizer
    step, loss = per-token NLL of the step's batch (loss:sum / Σ weights). `stop()` is
    asked after each step: True saves a resumable state and returns (no sampler or
    external paths). Done: sampler weights, external (downloadable, a week's TTL) weights
    and a final state, all named "final". Raises OwnVoiceError (one line) for a refused key,
    an unreachable service, billing (402) or a failed request."""
    from tinker import types

    steps = schedule(batch, run)
    with _Session(run, api_key) as session:
        trainer = session.client.create_lora_training_client(
            run.base_model, rank=run.rank, seed=run.seed, train_unembed=False,
        ).result(timeout=CREATE_TIMEOUT_S)
        losses: list[float] = []
        for number, indices in enumerate(steps, 1):
            chunk = [batch[i] for i in indices]
            lr = run.learning_rate * (1 - (number - 1) / len(steps))
            # Pipelined: the optimizer step is queued before the forward-backward is awaited.
            forward = trainer.forward_backward(chunk, "cross_entropy")
            optim = trainer.optim_step(types.AdamParams(learning_rate=lr))
            result = forward.result(timeout=STEP_TIMEOUT_S)
            optim.result(timeout=STEP_TIMEOUT_S)
            weight = sum(sum(d.loss_fn_inputs["weights"].data) for d in chunk)
            losses.append(result.metrics["loss:sum"] / max(weight, 1e-9))
            if on_step:
                on_step(number, len(steps), losses[-1])
            if stop and stop() and number < len(steps):
                state = trainer.save_state(f"step-{number}").result(timeout=STEP_TIMEOUT_S)
                session.status = "interrupted"
                return TrainedRun(model_id=trainer.model_id, sampler_path=None,
                                  external_path=None, state_path=state.path, steps=number,
                                  losses=losses)
        sampler = trainer.save_weights_for_sampler("final").result(timeout=STEP_TIMEOUT_S)
        external = trainer.save_weights_external("final", ttl_seconds=EXTERNAL_TTL_S) \
            .result(timeout=STEP_TIMEOUT_S)
        state = trainer.save_state("final").result(timeout=STEP_TIMEOUT_S)
        session.status = "success"
        return TrainedRun(model_id=trainer.model_id, sampler_path=sampler.path,
                          external_path=external.path, state_path=state.path,
                          steps=len(steps), losses=losses)


def sample(run: TinkerRun, model_path: str, prompts: list[list[dict]], *, api_key: str,
           max_tokens: int = 512) -> list[str]:
    """Greedy answers to chat `prompts` (each a list of messages, the run's chat template
    formats them) from `model_path`: a tinker://…/sampler_weights/… path, or a base id.
    Generation stops at the end of the turn. Raises OwnVoiceError as `train` does."""
    from tinker import types

    from engine.training.base import end_of_turn_ids

    tokenizer = load_tokenizer(run)
    stops = end_of_turn_ids(tokenizer)
    with _Session(run, api_key) as session:
        where = {"model_path": model_path} if model_path.startswith("tinker://") \
            else {"base_model": model_path}
        sampler = session.client.create_sampling_client(**where)
        if hasattr(sampler, "result"):
            sampler = sampler.result(timeout=CREATE_TIMEOUT_S)
        params = types.SamplingParams(max_tokens=max_tokens, temperature=0.0, stop=stops)
        futures = [sampler.sample(types.ModelInput.from_ints(data.template_ids(
            tokenizer, messages, add_generation_prompt=True)), 1, params)
            for messages in prompts]  # all in flight at once
        answers = []
        for future in futures:
            tokens = [t for t in future.result(timeout=STEP_TIMEOUT_S).sequences[0].tokens
                      if t not in stops]
            answers.append(tokenizer.decode(tokens, skip_special_tokens=True).strip())
        session.status = "success"
        return answers


# --- the adapter -----------------------------------------------------------------------


def download_adapter(run: TinkerRun, external_path: str, dest: Path, *, api_key: str) -> Path:
    """Fetch an external_weights checkpoint through Tinker's signed URLs into dest/tinker,
    and write a PEFT adapter folder at `dest` (the LoRA tensors without the unembed ones,
    adapter_config.json with base_model_name_or_path = run.tokenizer, the tokenizer with
    its chat template) that engine.training.export.export(base_model=run.tokenizer,
    adapter_dir=dest) merges. Raises OwnVoiceError for a failed download, an unsafe file
    name, or an adapter OwnVoice cannot convert (mixture-of-experts)."""
    import tinker

    url = _base_url(run)
    _check_reachable(url)
    raw = Path(dest) / "tinker"
    raw.mkdir(parents=True, exist_ok=True)
    try:
        rest = tinker.RestClient(base_url=url, api_key=api_key)
        links = rest.get_external_weights_urls(external_path).result(timeout=STEP_TIMEOUT_S)
    except Exception as exc:
        raise _explain(exc, url) from exc
    for name, link in links.urls.items():
        if "/" in name or "\\" in name or ".." in name or not name:
            raise OwnVoiceError(f"Tinker offered a file with an unsafe name ({name!r}); "
                                "not downloaded.")
        try:
            with urllib.request.urlopen(link, timeout=600) as response, \
                    (raw / (name + ".part")).open("wb") as out:
                while block := response.read(1 << 20):
                    out.write(block)
        except (urllib.error.URLError, OSError) as exc:
            raise OwnVoiceError(f"Downloading {name} from Tinker failed "
                                f"({getattr(exc, 'reason', exc)}); try again.") from exc
        (raw / (name + ".part")).replace(raw / name)
    return to_peft(raw, Path(dest), tokenizer=run.tokenizer, tokenizer_object=load_tokenizer(run))


def to_peft(adapter: Path, out: Path, *, tokenizer: str, tokenizer_object=None) -> Path:
    """Tinker's adapter files (dense models) as a PEFT LoRA folder: the tensor names are
    PEFT's already; the unembed LoRA is dropped (OwnVoice trains with train_unembed=False)."""
    weights, config = adapter / "adapter_model.safetensors", adapter / "adapter_config.json"
    if not weights.exists() or not config.exists():
        raise OwnVoiceError(f"{adapter} lacks adapter_model.safetensors or "
                            "adapter_config.json: not a Tinker adapter.")
    cfg = json.loads(config.read_text("utf-8"))
    names = _filter_safetensors(weights, out / "adapter_model.safetensors",
                                keep=lambda name: "unembed_tokens" not in name)
    if any(".experts." in n for n in names):
        raise OwnVoiceError("This adapter is for a mixture-of-experts model, which OwnVoice "
                            "cannot convert yet; choose a dense base.")
    targets = sorted({n.split(".lora_")[0].rsplit(".", 1)[-1] for n in names if ".lora_" in n})
    (out / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": cfg["r"],
        "lora_alpha": cfg.get("lora_alpha", 32), "lora_dropout": 0.0, "bias": "none",
        "target_modules": targets, "base_model_name_or_path": tokenizer,
        "inference_mode": True}, indent=2), encoding="utf-8")
    if tokenizer_object is None:
        tokenizer_object = load_tokenizer(TinkerRun(base_model="", tokenizer=tokenizer))
    tokenizer_object.save_pretrained(out)  # export.merge reads the chat template from here
    return out


def _filter_safetensors(source: Path, target: Path, *, keep: Callable[[str], bool]) \
        -> list[str]:
    """Copy a safetensors file keeping the tensors whose names `keep` accepts (any dtype,
    bf16 included, without loading a framework); returns the kept names."""
    with source.open("rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        start = 8 + size
        meta = header.pop("__metadata__", None)
        kept, blobs, offset = {}, [], 0
        for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
            if not keep(name):
                continue
            begin, end = info["data_offsets"]
            f.seek(start + begin)
            blobs.append(f.read(end - begin))
            kept[name] = {**info, "data_offsets": [offset, offset + end - begin]}
            offset += end - begin
    if meta is not None:
        kept["__metadata__"] = meta
    encoded = json.dumps(kept, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the format pads the header to 8 bytes
    partial = target.with_name(target.name + ".part")
    with partial.open("wb") as out:
        out.write(struct.pack("<Q", len(encoded)) + encoded)
        for blob in blobs:
            out.write(blob)
    partial.replace(target)
    return [n for n in kept if n != "__metadata__"]


def checkpoint_name(path: str) -> str:
    """A tinker:// path as a file-name-safe string (run ids hold ':', invalid on Windows)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", path.removeprefix("tinker://"))
