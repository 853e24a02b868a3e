"""Tinker as a training target: `ownvoice train --on tinker` (and the Train page) fine-tunes
on Tinker's managed GPUs — an 8B base without renting a machine — and brings the result home
as a GGUF, registered as `voice-N` like a fine-tune made here or on a box.

The run is the pilot's (engine/training/tinker_pilot.py) with every training pair: the same
encoding (OwnVoice's chat template, loss on the answer's tokens, each pair's weight), the
loss of every step as progress events, then download → PEFT → merge → GGUF → smoke test.
Before anything is sent the cost is estimated from the token count at Tinker's listed prices;
a run above `max_usd` is refused. The compute is Tinker's, but this process drives it: a
job whose follower ended cannot be re-attached (its state is saved on Tinker; start again).
"""

from __future__ import annotations

from engine import events
from engine.errors import OwnVoiceError
from engine.jobs import Job, JobKind, JobState
from engine.training import tinker, tinker_pilot
from engine.training.targets import (
    EventSink,
    InvalidRequest,
    Plan,
    Stop,
    TrainingRequest,
    TrainingTarget,
    registered_model,
)


class TinkerTarget(TrainingTarget):
    kind = JobKind.TINKER
    name = "Tinker"

    def __init__(self, *, tokenizer: str | None = None, base_url: str | None = None,
                 max_usd: float | None = None):
        self.tokenizer, self.base_url, self.max_usd = tokenizer, base_url, max_usd
        self._plans: dict[int, tinker_pilot.TinkerPlan] = {}
        self._prepared: dict[TrainingRequest, Plan] = {}

    def prepare(self, store, request: TrainingRequest) -> Plan:
        """The request, the key, the base (one Tinker trains), the training stack for the
        merge, the pairs encoded and priced; nothing sent. Raises InvalidRequest. The same
        request is prepared once (the estimate shown is the plan that runs)."""
        if request.improve is not None:
            self.check_preferences(store, request)  # says where preference training runs
        if request in self._prepared:
            return self._prepared[request]
        if request.max_steps is not None or request.checkpoint_step is not None:
            raise InvalidRequest("Tinker runs whole epochs and exports its last weights: "
                                 "--max-steps and --checkpoint do not apply (use --epochs).")
        missing = tinker_pilot.missing_training_stack()
        if missing:
            raise InvalidRequest(f"The model comes home as a GGUF, merged here: that needs "
                                 f"{', '.join(missing)} (OwnVoice's `train` extra). Install "
                                 "PyTorch for your machine, then `pip install "
                                 "'ownvoice[train]'` in OwnVoice's environment.")
        plan = super().prepare(store, request)
        base = request.base_model or tinker.DEFAULT_BASE
        try:
            tinker_pilot.api_key()
            tinker.prices(base)
            if self.tokenizer is None:
                tinker.tokenizer_for(base)
        except OwnVoiceError as exc:
            raise InvalidRequest(str(exc)) from exc
        try:
            run_plan = tinker_pilot.prepare(store, pairs=None, base_model=base,
                                            tokenizer=self.tokenizer, epochs=request.epochs,
                                            base_url=self.base_url,
                                            learning_rate=request.learning_rate)
        except OwnVoiceError as exc:
            raise InvalidRequest(str(exc)) from exc
        if self.max_usd is not None and run_plan.estimated_cost_usd > self.max_usd:
            raise InvalidRequest(f"Training {run_plan.tokens:,} tokens on Tinker costs about "
                                 f"${run_plan.estimated_cost_usd:.2f}, above --max-usd "
                                 f"{self.max_usd:g}.")
        self._prepared[request] = Plan(request=request, target=self.name, pairs=plan.pairs,
                                       options={"tinker": run_plan})
        return self._prepared[request]

    def start(self, store, plan: Plan, *, on_event: EventSink | None = None) -> Job:
        run_plan: tinker_pilot.TinkerPlan = plan.options["tinker"]
        job = tinker_pilot.new_job(store, run_plan, kind=JobKind.TINKER,
                                   status=JobState.PREPARED)
        job = store.update_job(job.id, status=JobState.PREPARED,
                               meta=job.meta.replace(quant=plan.request.quant))
        self._plans[job.id] = run_plan
        if on_event is not None:
            on_event(events.Stage(
                stage=JobState.PREPARED.value, job=job.id,
                detail=f"{run_plan.examples} training pairs, {run_plan.tokens:,} tokens on "
                       f"{run_plan.run.base_model}: about ${run_plan.estimated_cost_usd:.2f}"))
        return job

    def follow(self, store, job: Job, *, on_event: EventSink | None = None,
               stop: Stop | None = None) -> dict | None:
        job = store.job(job.id)
        if job.status is JobState.DONE and job.result and store.model(job.result):
            return self.fetch(store, job)
        if job.meta.external_path:  # trained (and paid for): only the export is left
            return self._export(store, job, on_event)
        run_plan = self._plans.get(job.id)
        if run_plan is None:
            raise OwnVoiceError(f"Job {job.id} ran on Tinker from a process that has ended; "
                                "start a new one with `ownvoice train --on tinker`.")

        def step(done: int, total: int, loss: float) -> None:
            if on_event is not None:
                on_event(events.Step(step=done, total_steps=total,
                                     epoch=run_plan.run.epochs * done / max(total, 1),
                                     loss=loss, lr=run_plan.run.learning_rate,
                                     tokens_per_s=0.0, elapsed_s=0.0))

        if on_event is not None:
            on_event(events.Stage(stage=JobState.TRAINING.value, job=job.id,
                                  detail=f"on Tinker ({run_plan.run.base_model})"))
        job = tinker_pilot.train_job(store, job, run_plan, key=tinker_pilot.api_key(),
                                     on_step=step, stop=stop)
        if job.status is not JobState.DONE:
            return None
        return self._export(store, job, on_event)

    def _export(self, store, job: Job, on_event: EventSink | None) -> dict:
        """Download, merge, convert, register. A failure keeps the trained job (done, with
        the error): `ownvoice jobs attach N` tries the export again, nothing is retrained."""
        if on_event is not None:
            on_event(events.Stage(stage=JobState.EXPORTING.value, job=job.id,
                                  detail="downloading the adapter, merging, converting"))
        try:
            row = tinker_pilot.export(store, store.job(job.id), quant=job.meta.quant or "auto")
        except Exception as exc:
            store.update_job(job.id, status=JobState.DONE, meta=store.job(job.id).meta.replace(
                error=f"{exc} (the training is kept: `ownvoice jobs attach {job.id}` exports "
                      "it again)"))
            raise OwnVoiceError(f"Job {job.id} trained on Tinker, but its export failed: {exc}"
                                f" Try again with `ownvoice jobs attach {job.id}`.") from exc
        store.update_job(job.id, status=JobState.DONE, result=row["name"],
                         meta=store.job(job.id).meta.replace(error=None))
        return row

    def cancel(self, store, job: Job) -> Job:
        if job.status.terminal:
            return job
        return store.update_job(job.id, status=JobState.CANCELLED)

    def fetch(self, store, job: Job) -> dict:
        return registered_model(store, job)
