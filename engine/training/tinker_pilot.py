"""The pilot on Tinker: does fine-tuning move your voice, for about a cent, before renting
anything? (OpenAI's self-serve fine-tuning, the pilot's first home, is closing:
engine/pairs/pilot.py.)

prepare (pick the pairs as the OpenAI pilot does — corrections first, then many documents —
encode them with OwnVoice's chat template and assistant-only weights, count the tokens,
price them) → start (LoRA on Tinker, the loss of every step saved on the job) → use (the
pilot translates through Tinker's OpenAI-compatible sampling endpoint, registered as
`pilot-N`, so `translate` and `compare` score it like any model) → export (its adapter
downloaded as a PEFT folder, merged with the base, converted to GGUF and registered as
`voice-N`, like a fine-tune made on this machine).

The key comes from the keyring (`ownvoice keys set tinker`); the base's tokenizer (and, for
the export, its weights) from the Hugging Face hub, or a local folder (`tokenizer=`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine import paths
from engine.errors import OwnVoiceError
from engine.jobs import Job, JobKind, JobMeta, JobState
from engine.pairs import dataset
from engine.pairs import pilot as openai_pilot
from engine.training import tinker
from engine.translation import prompts

KEY_NAME = "tinker"
MIN_PAIRS = 10


@dataclass
class TinkerPlan:
    run: tinker.TinkerRun
    records: list[dict]
    examples: int
    tokens: int  # billed training tokens, all epochs
    steps: int
    estimated_cost_usd: float
    source_lang: str
    target_lang: str


def api_key() -> str:
    from engine.secrets import get_secret

    key = get_secret(KEY_NAME)
    if not key:
        raise OwnVoiceError("No Tinker API key: store one with `ownvoice keys set tinker` (it "
                            "goes to the OS keyring), or set OWNVOICE_KEY_TINKER.")
    return key


def missing_training_stack() -> list[str]:
    """The distributions of the `train` extra (torch, peft…) not installed here."""
    from importlib.util import find_spec

    from engine.training.stages import REQUIRED

    return [name for name, module in REQUIRED.items() if find_spec(module) is None]


def prepare(store, *, pairs: int | None = 50, base_model: str = tinker.DEFAULT_BASE,
            tokenizer: str | None = None, epochs: float = 3.0, base_url: str | None = None,
            seed: int = 0, learning_rate: float | None = None) -> TinkerPlan:
    """Pick (`pairs` of them; None: every training pair) and encode the pairs and price the
    run; nothing is sent. Raises OwnVoiceError with too few pairs or a base Tinker does not
    train (tinker.prices)."""
    tinker.prices(base_model)  # an unknown base is refused before the tokenizer loads
    everything = store.training_pairs(split="train")
    chosen = openai_pilot.pick(everything, pairs or len(everything), seed)
    if len(chosen) < MIN_PAIRS:
        raise OwnVoiceError(f"Only {len(chosen)} training pair(s): the pilot needs at least "
                            f"{MIN_PAIRS}. Make more with `ownvoice synth`.")
    records = [{"messages": dataset.messages_for(p), "weight": p.get("weight") or 1.0}
               for p in chosen]
    run = tinker.TinkerRun(base_model=base_model,
                           tokenizer=tokenizer or tinker.tokenizer_for(base_model),
                           epochs=epochs, base_url=base_url, seed=seed,
                           **({"learning_rate": learning_rate} if learning_rate else {}))
    estimate = tinker.estimate(tinker.datums(records, run), run)
    return TinkerPlan(run=run, records=records, examples=len(records),
                      tokens=estimate.train_tokens, steps=estimate.steps,
                      estimated_cost_usd=round(estimate.usd, 4),
                      source_lang=chosen[0]["source_lang"], target_lang=chosen[0]["target_lang"])


def new_job(store, plan: TinkerPlan, *, kind: JobKind = JobKind.TINKER_PILOT,
            status: JobState = JobState.TRAINING) -> Job:
    """The job row of a Tinker run of `plan` (a pilot, or a training target's job)."""
    run = plan.run
    first = plan.records[0]["messages"]
    meta = JobMeta(model=run.base_model, tokenizer=run.tokenizer, epochs=run.epochs,
                   examples=plan.examples, pairs=plan.examples, tokens=plan.tokens,
                   base_url=run.base_url, estimated_cost_usd=plan.estimated_cost_usd,
                   losses=[], source_lang=plan.source_lang, target_lang=plan.target_lang,
                   smoke_text=first[1]["content"][:400], prompt=dataset.PROMPT)
    return store.add_job(kind=kind, status=status, provider_id=None, model=run.base_model,
                         meta=meta)


def start(store, plan: TinkerPlan, *, key: str | None = None,
          on_step: Callable[[int, int, float], None] | None = None,
          stop: Callable[[], bool] | None = None) -> Job:
    """Train the plan on Tinker as a pilot (the compute is Tinker's; this waits for it),
    saving the loss of every step on the job; returns the finished job. A failure is
    recorded on the job (status failed, its reason) and raised as one OwnVoiceError line."""
    key = key or api_key()
    return train_job(store, new_job(store, plan), plan, key=key, on_step=on_step, stop=stop)


def train_job(store, job: Job, plan: TinkerPlan, *, key: str,
              on_step: Callable[[int, int, float], None] | None = None,
              stop: Callable[[], bool] | None = None) -> Job:
    """Run `plan` on Tinker for `job`: its state, each step's loss, and at the end Tinker's
    paths of the weights are saved on the job; returns it (done, or cancelled by `stop`)."""
    run = plan.run
    job = store.update_job(job.id, status=JobState.TRAINING)
    losses: list[float] = []

    def step(done: int, total: int, loss: float) -> None:
        losses.append(loss)
        store.update_job(job.id, status=JobState.TRAINING,
                         meta=store.job(job.id).meta.replace(losses=list(losses)))
        if on_step is not None:
            on_step(done, total, loss)

    try:
        trained = tinker.train(run, tinker.datums(plan.records, run), api_key=key,
                               on_step=step, stop=stop)
    except BaseException as exc:
        cancelled = isinstance(exc, KeyboardInterrupt)
        store.update_job(job.id, status=JobState.CANCELLED if cancelled else JobState.FAILED,
                         meta=store.job(job.id).meta.replace(error=str(exc) or type(exc)
                                                             .__name__))
        raise
    stopped = trained.sampler_path is None  # stopped by `stop`: only its state was saved
    return store.update_job(
        job.id, status=JobState.CANCELLED if stopped else JobState.DONE,
        meta=store.job(job.id).meta.replace(
            losses=trained.losses or losses, tinker_model_id=trained.model_id,
            sampler_path=trained.sampler_path, external_path=trained.external_path,
            state_path=trained.state_path))


def use(store, job: Job) -> dict:
    """Register the pilot (`pilot-N`) as a model served by Tinker's OpenAI-compatible
    sampling endpoint, keyed by the Tinker key; returns its registry row."""
    from engine.translation import registry

    if job.status is not JobState.DONE or not job.meta.sampler_path:
        raise OwnVoiceError(f"Pilot job {job.id} has no trained model (status: "
                            f"{job.status.value}).")
    name = f"pilot-{job.id}"
    existing = store.model(name)
    if existing is not None:
        return existing
    return registry.add(store, f"openai:{job.meta.sampler_path}", name=name,
                        base_url=tinker.openai_base_url(job.meta.base_url), key_name=KEY_NAME,
                        base_model=job.model, origin="tinker-fine-tuned", job_id=job.id,
                        prompt=job.meta.prompt)


def export(store, job: Job, *, key: str | None = None, quant: str = "auto") -> dict:
    """Download the pilot's LoRA adapter as a PEFT folder, merge it with the base, convert
    and quantise to GGUF, smoke-test it and register it as `voice-N`; returns the model
    row. The base's weights come from the Hugging Face hub (or the local folder given as
    the tokenizer when the pilot was prepared)."""
    from engine.training import export as exporting
    from engine.training import pipeline

    if not job.meta.external_path:
        raise OwnVoiceError(f"Job {job.id} has no downloadable weights (status: "
                            f"{job.status.value}).")
    missing = missing_training_stack()
    if missing:
        raise OwnVoiceError(f"Bringing the model home (merge, GGUF) needs {', '.join(missing)} "
                            "(OwnVoice's `train` extra): install PyTorch for your machine, "
                            "then `pip install 'ownvoice[train]'` in OwnVoice's environment.")
    key = key or api_key()
    run = tinker.TinkerRun(base_model=job.model, tokenizer=job.meta.tokenizer,
                           base_url=job.meta.base_url)
    folder = paths.data_dir() / "jobs" / f"pilot-{job.id}"
    adapter = tinker.download_adapter(run, job.meta.external_path, folder / "adapter",
                                      api_key=key)
    first = job.meta.smoke_text or "Good morning."
    result = exporting.export(base_model=run.tokenizer, adapter_dir=adapter,
                              out_dir=folder / "export", quant=quant, name=f"voice-{job.id}",
                              smoke_text=first, source=job.meta.source_lang or "en",
                              target=job.meta.target_lang or "zh",
                              voice=job.meta.prompt == prompts.VOICE,
                              card={"trained_on": "tinker", "tinker_base": job.model})
    row = pipeline.register(store, job, gguf=result.gguf, sha256=result.sha256,
                            base_model=run.tokenizer)
    return pipeline.mark_verification(store, row, result.smoke_test)
