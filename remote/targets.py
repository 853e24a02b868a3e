"""Training targets that cross SSH: your own GPU box, and a Lambda Cloud box rented for
one job; and `target_for(spec)`, which names every target the app and the CLI offer.

Both run the same steps — start the job detached on the box, follow its progress, fetch
and register the GGUF (remote/jobs.py) — behind the contract of engine/training/targets.py.
A rented box is terminated whatever happens: the job ends, fails, runs over its budget, is
cancelled, or this process is interrupted.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine import events
from engine.errors import OwnVoiceError
from engine.jobs import Job, JobKind, JobState
from engine.training import pipeline
from engine.training.targets import (
    EventSink,
    InvalidRequest,
    LocalTarget,
    Plan,
    Stop,
    TrainingTarget,
)
from remote import jobs
from remote.rented import Budget, BudgetExceeded, meter, release, rent
from remote.session import Host, Session

# A rented box powers itself off when the app has not been heard from for this long.
RENTED_WATCHDOG_S = 30 * 60
_INSTANCE_TYPE = re.compile(r"^[a-z0-9_]+$")


class BoxTarget(TrainingTarget):
    """One of your boxes (`ownvoice remote add NAME …`). The job goes on when this process
    stops following it; `ownvoice jobs attach N` follows it again."""

    kind = JobKind.REMOTE

    def __init__(self, host_name: str, *, watchdog_idle_s: float | None = None):
        self.name = self.host_name = host_name
        self.watchdog_idle_s = watchdog_idle_s

    def check(self, store) -> dict:
        if store.host(self.host_name) is None:
            raise InvalidRequest(f"No box named {self.host_name}: add it with `ownvoice remote "
                                f"add {self.host_name} --host USER@ADDRESS`.")
        return {"host": self.host_name}

    def start(self, store, plan: Plan, *, on_event: EventSink | None = None) -> Job:
        job = _prepared(store, plan, on_event)
        host_row = store.host(self.host_name)
        with _session(store, self.host_name) as session:
            return jobs.start(store, session, job, host_meta=host_row["meta"],
                              checkpoint_step=plan.request.checkpoint_step,
                              watchdog_idle_s=self.watchdog_idle_s)

    def follow(self, store, job: Job, *, on_event: EventSink | None = None,
               stop: Stop | None = None) -> dict | None:
        job = store.job(job.id)
        if job.status is JobState.DONE:
            return self.fetch(store, job)
        with _session(store, job.meta.remote.host) as session:
            return jobs.follow(store, session, job, on_event=on_event, stop=stop)

    def cancel(self, store, job: Job) -> Job:
        if job.meta.remote is None:
            return store.update_job(job.id, status=JobState.CANCELLED)
        with _session(store, job.meta.remote.host) as session:
            return jobs.cancel(store, session, job)

    def fetch(self, store, job: Job) -> dict:
        return _fetch(store, job)


class RentedTarget(TrainingTarget):
    """A Lambda Cloud instance rented for the job, terminated when it ends (or fails, or
    runs over `budget`, or is cancelled, or this process is interrupted)."""

    kind = JobKind.REMOTE

    def __init__(self, instance_type: str, *, ssh_key_name: str | None,
                 budget: Budget | None = None, region: str | None = None,
                 key_file: str | None = None, cloud=None, user: str = "ubuntu",
                 port: int = 22, host_meta: dict | None = None,
                 watchdog_idle_s: float = RENTED_WATCHDOG_S, watchdog_action: str = "shutdown"):
        self.instance_type, self.ssh_key_name = instance_type, ssh_key_name
        self.budget = budget or Budget(max_hours=4.0)
        self.region, self.key_file, self._cloud = region, key_file, cloud
        self.user, self.port, self.host_meta = user, port, host_meta or {}
        self.watchdog_idle_s, self.watchdog_action = watchdog_idle_s, watchdog_action
        self.name = f"a rented Lambda {instance_type}"

    @property
    def cloud(self):
        if self._cloud is None:
            from remote.cloud import LambdaCloud

            self._cloud = LambdaCloud.from_keyring()
        return self._cloud

    def check(self, store) -> dict:
        if not _INSTANCE_TYPE.match(self.instance_type or ""):
            raise InvalidRequest(f"{self.instance_type!r} is not a Lambda instance type (e.g. "
                                "gpu_1x_gh200; `ownvoice remote lambda-types` lists them).")
        if not self.ssh_key_name:
            raise InvalidRequest("A rented box needs the name of your SSH key in your Lambda "
                                "account (--ssh-key-name); its private half must be in your "
                                "agent or given with --key.")
        if self.key_file and not Path(self.key_file).expanduser().is_file():
            raise InvalidRequest(f"The key file {self.key_file} does not exist.")
        for name, value in (("hours", self.budget.max_hours), ("dollars", self.budget.max_usd)):
            if value is not None and value <= 0:
                raise InvalidRequest(f"The budget in {name} must be above 0 (got {value}).")
        return {"instance_type": self.instance_type, "region": self.region,
                "max_hours": self.budget.max_hours, "max_usd": self.budget.max_usd}

    def start(self, store, plan: Plan, *, on_event: EventSink | None = None) -> Job:
        job = _prepared(store, plan, on_event)
        try:
            host_row = rent(store, self.cloud, job, instance_type=self.instance_type,
                            region=self.region, ssh_key_name=self.ssh_key_name,
                            key_file=self.key_file, user=self.user, port=self.port,
                            budget=self.budget,
                            on_status=lambda s: _stage(on_event, store.job(job.id),
                                                       JobState.LAUNCHING, f"instance {s}"))
            if self.host_meta:
                store.update_host(host_row["name"], meta={**host_row["meta"],
                                                          **self.host_meta})
                host_row = store.host(host_row["name"])
            with Session(Host.from_row(host_row)) as session:
                return jobs.start(store, session, store.job(job.id),
                                  host_meta=host_row["meta"],
                                  checkpoint_step=plan.request.checkpoint_step,
                                  watchdog_idle_s=self.watchdog_idle_s,
                                  watchdog_action=self.watchdog_action)
        except BaseException as exc:
            self._ended_by(store, job, exc)
            raise

    def follow(self, store, job: Job, *, on_event: EventSink | None = None,
               stop: Stop | None = None) -> dict | None:
        """Follow until the job ends; then (or on any failure or interruption) terminate."""
        over: list[str] = []

        def over_budget() -> bool:
            info = store.job(job.id).meta.cloud
            reason = self.budget.exceeded(info.launched_at, info.cents_per_hour)
            if reason is None and stop is not None and stop():
                reason = "your cancel"
            if reason:
                over.append(reason)
            return bool(reason)

        try:
            job = store.job(job.id)
            if job.status is JobState.DONE:
                return _fetch(store, job)
            host_row = store.host(job.meta.cloud.host or "") if job.meta.cloud else None
            if host_row is None:
                raise OwnVoiceError(f"Job {job.id}'s rented box is gone.")
            with Session(Host.from_row(host_row)) as session:
                row = jobs.follow(store, session, job, on_event=on_event, stop=over_budget,
                                  meter=lambda: meter(store.job(job.id)))
                if row is None:
                    jobs.cancel(store, session, store.job(job.id), grace_s=120)
                    if over[0] == "your cancel":
                        raise OwnVoiceError(f"Job {job.id} cancelled; the instance is "
                                            "terminated.")
                    raise BudgetExceeded(f"Job {job.id} reached {over[0]}: stopped, and the "
                                         "instance terminated. Its checkpoints were on the "
                                         "box.")
                return row
        except BaseException as exc:
            self._ended_by(store, job, exc)
            raise
        finally:
            release(store, self.cloud, store.job(job.id))

    def _ended_by(self, store, job: Job, exc: BaseException) -> None:
        current = store.job(job.id)
        if not current.status.terminal:
            store.update_job(job.id, status=JobState.CANCELLED if isinstance(
                exc, KeyboardInterrupt | BudgetExceeded) else JobState.FAILED,
                meta=current.meta.replace(error=str(exc)))
        release(store, self.cloud, store.job(job.id))

    def cancel(self, store, job: Job) -> Job:
        host = store.host(job.meta.cloud.host) if job.meta.cloud and job.meta.cloud.host \
            else None
        try:
            if host is not None and job.meta.remote is not None:
                with Session(Host.from_row(host)) as session:
                    job = jobs.cancel(store, session, job)
            else:
                job = store.update_job(job.id, status=JobState.CANCELLED)
        finally:
            release(store, self.cloud, store.job(job.id))
        return store.job(job.id)

    def fetch(self, store, job: Job) -> dict:
        return _fetch(store, job)


def _prepared(store, plan: Plan, on_event: EventSink | None) -> Job:
    request = plan.request
    job = pipeline.prepare(store, base_model=request.base_model, max_steps=request.max_steps,
                           epochs=request.epochs, learning_rate=request.learning_rate,
                           quant=request.quant, kind=JobKind.REMOTE)
    _stage(on_event, job, JobState.PREPARED, f"{job.meta.pairs} training pairs, base "
                                             f"{job.model}, on {plan.target}")
    return job


def _session(store, host_name: str) -> Session:
    """A session to a box the store knows by name."""
    row = store.host(host_name)
    if row is None:
        raise OwnVoiceError(f"The box {host_name} is no longer known (a rented box is "
                            "forgotten when its job ends).")
    return Session(Host.from_row(row))


def _fetch(store, job: Job) -> dict:
    """The model of a job that finished on its box: registered already, or fetched now."""
    if job.result and store.model(job.result):
        return store.model(job.result)
    with _session(store, job.meta.remote.host) as session:
        state = jobs.status(session, job)
        if state.job_state is not JobState.DONE:
            raise OwnVoiceError(f"Job {job.id} is not finished on its box ({state.state}).")
        return jobs.fetch(store, session, job, state)


def _stage(on_event: EventSink | None, job: Job, state: JobState, detail: str) -> None:
    if on_event is not None:
        on_event(events.Stage(stage=state.value, job=job.id, detail=detail))


def target_for(spec: str, **options) -> TrainingTarget:
    """"local" → this machine; "mac" → this machine with MLX (a Mac); "tinker" → Tinker's
    managed training (options: tokenizer, a local copy of the base; budget, whose max_usd
    caps the estimate); "lambda:TYPE" → a rented Lambda box of that type (options:
    ssh_key_name, budget, region, key_file); anything else → your box of that name
    (options: watchdog_idle_s)."""
    if spec == "local":
        return LocalTarget()
    if spec == "mac":
        from engine.training.mlx_target import MacTarget

        return MacTarget()
    if spec == "tinker":
        from engine.training.tinker_target import TinkerTarget

        budget = options.get("budget")
        return TinkerTarget(tokenizer=options.get("tokenizer"),
                            max_usd=budget.max_usd if budget is not None else None)
    if spec.startswith("lambda:"):
        return RentedTarget(spec.partition(":")[2], **{
            k: v for k, v in options.items()
            if k in ("ssh_key_name", "budget", "region", "key_file")})
    return BoxTarget(spec, watchdog_idle_s=options.get("watchdog_idle_s"))


def target_of(store, job: Job) -> TrainingTarget:
    """The target a job runs on, from its row (to attach to it or cancel it)."""
    if job.kind is JobKind.LOCAL:
        return LocalTarget()
    if job.kind is JobKind.MAC:
        from engine.training.mlx_target import MacTarget

        return MacTarget()
    if job.kind is JobKind.PILOT:
        raise OwnVoiceError(f"Job {job.id} is an OpenAI pilot, not a training run here: see "
                            f"`ownvoice pilot status --job {job.id}`.")
    if job.kind in (JobKind.TINKER, JobKind.TINKER_PILOT):  # cancel; attach exports it
        from engine.training.tinker_target import TinkerTarget

        return TinkerTarget()
    if job.kind is not JobKind.REMOTE:
        raise OwnVoiceError(f"Job {job.id} is an OpenAI batch of reverse synthesis: "
                            "`ownvoice synth --batch` collects it when it is done.")
    if job.meta.cloud is not None:  # the budget it was launched with still holds
        rental = job.meta.cloud
        return RentedTarget(rental.instance_type, ssh_key_name=None,
                            budget=Budget(max_hours=rental.max_hours, max_usd=rental.max_usd))
    if job.meta.remote is None:
        raise OwnVoiceError(f"Job {job.id} never reached its box ({job.status.value}).")
    return BoxTarget(job.meta.remote.host)
