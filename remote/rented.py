"""A rented GPU box for one job: launch it with a host key we made, pin that key, and
terminate it when the job ends, fails, or runs over the time or money budget.

The instance id is written into the job's row before anything else happens, so whatever
goes wrong later — this process killed included — `release` (or `ownvoice jobs
attach N`) can still find the instance and terminate it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.errors import OwnVoiceError
from engine.jobs import Job, JobState, Rental
from remote import session as ssh
from remote.cloud import LambdaCloud, cloud_config, cost_usd, generate_host_key
from remote.session import Host, HostKeyError, RemoteError


@dataclass
class Budget:
    max_hours: float | None = None
    max_usd: float | None = None

    def exceeded(self, started_at: float, cents_per_hour: int, now: float | None = None
                 ) -> str | None:
        now = now or time.time()
        hours = (now - started_at) / 3600
        if self.max_hours is not None and hours > self.max_hours:
            return f"the time budget of {self.max_hours:g} h"
        if self.max_usd is not None and cost_usd(started_at, cents_per_hour, now) > self.max_usd:
            return f"the budget of ${self.max_usd:g}"
        return None


def _wait_for_ssh(host: str, port: int, timeout_s: float, sleep) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RemoteError(f"{host}:{port} never accepted SSH connections.") from None
            sleep(2)


def rent(store, cloud: LambdaCloud, job: Job, *, instance_type: str, region: str | None,
         ssh_key_name: str, key_file: str | None, user: str = "ubuntu", port: int = 22,
         on_status: Callable[[str], None] | None = None, boot_timeout_s: float = 1200,
         budget: Budget | None = None) -> dict:
    """Launch, wait until it is up, pin its host key and register it; returns the host row."""
    host_key = generate_host_key()
    instance_id, kind, region = cloud.launch_where_possible(
        instance_type=instance_type, region=region, ssh_key_name=ssh_key_name,
        name=f"ownvoice-job-{job.id}", user_data=cloud_config(host_key))
    rental = Rental(provider="lambda", instance_id=instance_id, instance_type=kind.name,
                    region=region, cents_per_hour=kind.cents_per_hour, launched_at=time.time(),
                    max_hours=budget.max_hours if budget else None,
                    max_usd=budget.max_usd if budget else None)
    job = store.update_job(job.id, status=JobState.LAUNCHING,
                           meta=store.job(job.id).meta.replace(cloud=rental))
    try:
        instance = cloud.wait_active(instance_id, timeout_s=boot_timeout_s,
                                     on_status=on_status)
        name = f"lambda-{instance_id[:8]}"
        host = Host(name=name, user=user, host=instance["ip"], port=port, key_file=key_file)
        _wait_for_ssh(host.host, port, boot_timeout_s, cloud.sleep)
        deadline = time.monotonic() + min(300, boot_timeout_s)
        while True:  # sshd may answer before cloud-init has put our key in place
            try:
                pinned = ssh.pin(host, host_key.fingerprint)
                break
            except HostKeyError:
                if time.monotonic() > deadline:
                    raise
                cloud.sleep(5)
        row = store.host(name) or store.add_host(
            name=name, user=user, host=host.host, port=port, key_file=key_file,
            fingerprint=pinned, origin="lambda", meta={"instance_id": instance_id})
        fresh = store.job(job.id)
        store.update_job(job.id, status=JobState.LAUNCHING,
                         meta=fresh.meta.replace(cloud=fresh.meta.cloud.replace(host=name)))
        return row
    except BaseException:
        release(store, cloud, store.job(job.id))
        raise


def release(store, cloud: LambdaCloud, job: Job) -> float | None:
    """Terminate the job's instance (if any, if not yet) and record the final cost (US
    dollars); None when there was nothing to terminate."""
    info = job.meta.cloud
    if info is None or info.terminated_at:
        return None
    cloud.terminate(info.instance_id)
    now = time.time()
    cost = cost_usd(info.launched_at, info.cents_per_hour, now)
    fresh = store.job(job.id)
    store.update_job(job.id, status=fresh.status, meta=fresh.meta.replace(
        cloud=fresh.meta.cloud.replace(terminated_at=now, cost_usd=cost)))
    host = info.host or fresh.meta.cloud.host
    if host and store.host(host):
        ssh.unpin(Host.from_row(store.host(host)))
        store.remove_host(host)
    return cost


def meter(job: Job) -> dict | None:
    """Elapsed time and cost so far, for the cost display: hours, usd (US dollars),
    usd_per_hour, instance_id, running."""
    info = job.meta.cloud
    if info is None:
        return None
    end = info.terminated_at or time.time()
    return {"hours": round((end - info.launched_at) / 3600, 3),
            "usd": cost_usd(info.launched_at, info.cents_per_hour, end),
            "usd_per_hour": info.cents_per_hour / 100,
            "instance_id": info.instance_id, "running": not info.terminated_at}


class BudgetExceeded(OwnVoiceError):
    pass
