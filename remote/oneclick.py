"""One click: a prepared job → a GPU box (yours, or rented for the job) → a registered model.

Both paths run the same steps — start the job detached, follow its progress, fetch and
register the GGUF — and a rented box is terminated whatever happens: the job ends, fails,
runs over its budget, or this process is interrupted.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import OwnVoiceError

from . import jobs
from .cloud import LambdaCloud
from .rented import Budget, BudgetExceeded, meter, release, rent
from .session import Host, Session

# A rented box powers itself off when the app has not been heard from for this long.
RENTED_WATCHDOG_S = 30 * 60


def on_own_box(store, job: dict, host_row: dict, *, quant: str = "auto",
               watchdog_idle_s: float | None = None,
               on_progress: Callable[[dict], None] | None = None,
               on_state: Callable[[dict], None] | None = None,
               stop: Callable[[], bool] | None = None) -> dict | None:
    with Session(Host.from_row(host_row)) as session:
        job = jobs.start(store, session, job, host_meta=host_row["meta"], quant=quant,
                         watchdog_idle_s=watchdog_idle_s)
        return jobs.follow(store, session, job, on_progress=on_progress, on_state=on_state,
                           stop=stop)


def on_rented_box(store, job: dict, cloud: LambdaCloud, *, instance_type: str,
                  region: str | None, ssh_key_name: str, key_file: str | None,
                  budget: Budget, quant: str = "auto", user: str = "ubuntu", port: int = 22,
                  host_meta: dict | None = None,
                  on_progress: Callable[[dict], None] | None = None,
                  on_state: Callable[[dict], None] | None = None,
                  watchdog_idle_s: float = RENTED_WATCHDOG_S,
                  watchdog_action: str = "shutdown",
                  cancelled: Callable[[], bool] | None = None) -> dict:
    """Rent, train, fetch, register — and terminate the instance in every case (`cancelled`
    returning True stops the job and terminates too)."""
    try:
        host_row = rent(store, cloud, job, instance_type=instance_type, region=region,
                        ssh_key_name=ssh_key_name, key_file=key_file, user=user, port=port,
                        on_status=lambda s: on_state and on_state({"state": f"instance {s}"}))
        if host_meta:
            store.update_host(host_row["name"], meta={**host_row["meta"], **host_meta})
            host_row = store.host(host_row["name"])
        job = store.job(job["id"])
        info = job["meta"]["cloud"]
        over: list[str] = []

        def over_budget() -> bool:
            reason = budget.exceeded(info["launched_at"], info["cents_per_hour"])
            if reason is None and cancelled is not None and cancelled():
                reason = "your cancel"
            if reason:
                over.append(reason)
            return bool(reason)

        def state_with_cost(state: dict) -> None:
            if on_state:
                on_state({**state, "cost": meter(store.job(job["id"]))})

        with Session(Host.from_row(host_row)) as session:
            job = jobs.start(store, session, job, host_meta=host_row["meta"], quant=quant,
                             watchdog_idle_s=watchdog_idle_s, watchdog_action=watchdog_action)
            row = jobs.follow(store, session, job, on_progress=on_progress,
                              on_state=state_with_cost, stop=over_budget)
            if row is None:
                jobs.cancel(store, session, store.job(job["id"]), grace_s=120)
                if over[0] == "your cancel":
                    raise OwnVoiceError(f"Job {job['id']} cancelled; the instance is "
                                        "terminated.")
                raise BudgetExceeded(f"Job {job['id']} reached {over[0]}: stopped, and the "
                                     "instance terminated. Its checkpoints were on the box.")
            return row
    except BaseException as exc:
        current = store.job(job["id"])
        if current["status"] not in jobs.TERMINAL:
            store.update_job(job["id"], status="cancelled" if isinstance(
                exc, KeyboardInterrupt) else "failed", meta={**current["meta"],
                                                             "error": str(exc)})
        raise
    finally:
        release(store, cloud, store.job(job["id"]))

