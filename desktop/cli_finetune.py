"""`ownvoice finetune --remote NAME`: one command from pairs to a registered model trained on
a GPU box; `--attach` and `--cancel` for a job that is already running; `ownvoice jobs`."""

from __future__ import annotations

import sys

import click

from desktop.cli_common import open_store, print_json


def _printer(as_json: bool):
    show = sys.stderr.isatty() and not as_json

    def progress(record: dict) -> None:
        if record["event"] == "train" and show:
            eta = f", ETA {record['eta_s']:.0f} s" if record.get("eta_s") else ""
            click.echo(f"\rstep {record['step']}/{record['total_steps']} · loss "
                       f"{record['loss']:.3f} · {record['tokens_per_s']:.0f} tokens/s{eta}",
                       nl=False, err=True)
        elif record["event"] in ("checkpoint", "early_stop") and not as_json:
            click.echo(f"\n{record['event']} at step {record['step']}: validation loss "
                       f"{record.get('val_loss') or record.get('best_val_loss')}", err=True)

    return progress


def _follow(store, session, job, as_json: bool) -> None:
    from remote import jobs

    states = []

    def on_state(state: dict) -> None:
        if not as_json and (not states or states[-1] != state["state"]):
            click.echo(f"\n[{state['state']}]", err=True)
        states.append(state["state"])

    try:
        row = jobs.follow(store, session, job, on_progress=_printer(as_json),
                          on_state=on_state)
    except KeyboardInterrupt:
        click.echo(f"\nDetached. Job {job['id']} keeps running on {session.host.name}; "
                   f"re-attach with: ownvoice finetune --attach {job['id']}", err=True)
        sys.exit(130)
    job = store.job(job["id"])
    if as_json:
        print_json({"job": job["id"], "model": row["name"], "gguf": row["path"],
                    "sha256": row["sha256"], "train": job["meta"].get("train"),
                    "smoke_test": job["meta"].get("smoke_test"),
                    "host": session.host.name})
        return
    click.echo(f"\nRegistered {row['name']} ({row['path']}), trained on "
               f"{session.host.name}. Use it with: ownvoice models use {row['name']}")


@click.command()
@click.option("--remote", "host_name", help="Train on this box (see `ownvoice remote add`).")
@click.option("--lambda", "instance_type", help="Rent a Lambda Cloud instance of this type "
              "for the job (e.g. gpu_1x_gh200; see `ownvoice cloud types`).")
@click.option("--region", help="Lambda region (default: the first with capacity).")
@click.option("--ssh-key-name", help="The SSH key's name in your Lambda account.")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True),
              help="The private half of that key (default: the SSH agent, then ~/.ssh).")
@click.option("--max-hours", type=click.FloatRange(min=0.01), default=4.0, show_default=True,
              help="Stop and terminate a rented box after this long.")
@click.option("--max-usd", type=click.FloatRange(min=0.01),
              help="Stop and terminate a rented box when it has cost this much.")
@click.option("--attach", "attach_job", type=int, help="Follow job N again (after a restart).")
@click.option("--cancel", "cancel_job", type=int, help="Stop job N on its box.")
@click.option("--base", "base_model", help="Base model: HF id, folder or .gguf "
                                            "(default: the embedded Gemma 3 270M).")
@click.option("--max-steps", type=click.IntRange(min=1))
@click.option("--epochs", type=float, default=1.0, show_default=True)
@click.option("--learning-rate", type=float, default=2e-4, show_default=True)
@click.option("--quant", type=click.Choice(["auto", "Q4_K_M", "Q8_0", "F16"]), default="auto",
              show_default=True)
@click.option("--watchdog-minutes", type=click.FloatRange(min=1),
              help="Stop the run when this app has not been heard from for so long.")
@click.option("--detach", is_flag=True, help="Start the job and return at once.")
@click.option("--json", "as_json", is_flag=True)
def finetune(host_name, instance_type, region, ssh_key_name, key_file, max_hours, max_usd,
             attach_job, cancel_job, base_model, max_steps, epochs, learning_rate,
             quant, watchdog_minutes, detach, as_json):
    """Fine-tune on a GPU box over SSH: upload, train detached, export, download, register.

    The run survives a dropped connection and this command being closed: Ctrl-C detaches,
    `--attach N` picks the job up again."""
    from engine import finetune as local
    from remote import hosts, jobs
    from remote.session import Host, Session

    if sum(x is not None for x in (host_name, instance_type, attach_job, cancel_job)) != 1:
        raise click.UsageError("Give one of --remote NAME, --lambda TYPE, --attach JOB or "
                               "--cancel JOB.")
    if instance_type is not None:
        _rented(instance_type, region, ssh_key_name, key_file, max_hours, max_usd, base_model,
                max_steps, epochs, learning_rate, quant, as_json)
        return
    with open_store() as store:
        if host_name is not None:
            host_row = store.host(host_name)
            host = hosts.get(store, host_name)
            job = local.prepare(store, base_model=base_model, max_steps=max_steps,
                                epochs=epochs, learning_rate=learning_rate, kind="remote")
            click.echo(f"Job {job['id']}: {job['meta']['pairs']} training pairs, base "
                       f"{job['model']}, on {host_name}.", err=True)
            with Session(host) as session:
                job = jobs.start(store, session, job, host_meta=host_row["meta"], quant=quant,
                                 watchdog_idle_s=watchdog_minutes * 60 if watchdog_minutes
                                 else None)
                click.echo(f"Started (pid {job['meta']['remote']['pid']} on {host_name}).",
                           err=True)
                if detach:
                    print_json({"job": job["id"], "status": job["status"]}) if as_json \
                        else click.echo(f"Follow it with: ownvoice finetune --attach "
                                        f"{job['id']}")
                    return
                _follow(store, session, job, as_json)
            return
        job = store.job(attach_job if attach_job is not None else cancel_job)
        if job is None or job["kind"] != "remote" or "remote" not in job["meta"]:
            raise click.ClickException(f"No remote job {attach_job or cancel_job}.")
        host_row = store.host(job["meta"]["remote"]["host"])
        if host_row is None:
            raise click.ClickException(f"Job {job['id']}'s box is gone (a rented box is "
                                       "terminated when its job ends).")
        with Session(Host.from_row(host_row)) as session:
            if cancel_job is not None:
                job = jobs.cancel(store, session, job)
                _release_if_rented(store, job)
                click.echo(f"Job {job['id']} cancelled; its last checkpoint stays on the box.")
                return
            if job["status"] == "done":
                raise click.ClickException(f"Job {job['id']} is done: model {job['result']}.")
            try:
                _follow(store, session, job, as_json)
            finally:
                if store.job(job["id"])["status"] in ("done", "failed", "cancelled"):
                    _release_if_rented(store, store.job(job["id"]))


def _release_if_rented(store, job: dict) -> None:
    from remote.cloud import LambdaCloud
    from remote.rented import release

    if (job["meta"].get("cloud") or {}).get("terminated_at") is None and \
            job["meta"].get("cloud"):
        cost = release(store, LambdaCloud.from_keyring(), job)
        click.echo(f"Instance terminated; it cost about ${cost:.2f}.", err=True)


def _rented(instance_type, region, ssh_key_name, key_file, max_hours, max_usd, base_model,
            max_steps, epochs, learning_rate, quant, as_json) -> None:
    from engine import finetune as local
    from remote import oneclick
    from remote.cloud import LambdaCloud
    from remote.rented import Budget

    if not ssh_key_name:
        raise click.UsageError("--lambda needs --ssh-key-name (the key's name in your Lambda "
                               "account; its private half must be in your agent or --key).")
    cloud = LambdaCloud.from_keyring()
    with open_store() as store:
        job = local.prepare(store, base_model=base_model, max_steps=max_steps, epochs=epochs,
                            learning_rate=learning_rate, kind="remote")
        kind = cloud.instance_type(instance_type)
        click.echo(f"Job {job['id']}: {job['meta']['pairs']} training pairs; renting "
                   f"{kind.name} at ${kind.usd_per_hour:.2f}/h (stops after {max_hours:g} h"
                   + (f" or ${max_usd:g}" if max_usd else "") + "). Ctrl-C stops and "
                   "terminates it.", err=True)
        shown: list[str] = []

        def on_state(state: dict) -> None:
            cost = state.get("cost")
            line = state["state"] + (f" · ${cost['usd']:.2f} so far" if cost else "")
            if not as_json and (not shown or shown[-1] != state["state"]):
                click.echo(f"\n[{line}]", err=True)
            shown.append(state["state"])

        row = oneclick.on_rented_box(store, job, cloud, instance_type=instance_type,
                                     region=region, ssh_key_name=ssh_key_name,
                                     key_file=key_file,
                                     budget=Budget(max_hours=max_hours, max_usd=max_usd),
                                     quant=quant, on_progress=_printer(as_json),
                                     on_state=on_state)
        job = store.job(job["id"])
    cost = job["meta"]["cloud"].get("cost_usd")
    if as_json:
        print_json({"job": job["id"], "model": row["name"], "gguf": row["path"],
                    "sha256": row["sha256"], "cost_usd": cost,
                    "train": job["meta"].get("train")})
        return
    click.echo(f"\nRegistered {row['name']} ({row['path']}); the instance is terminated "
               f"(about ${cost:.2f}). Use it with: ownvoice models use {row['name']}")


@click.command("jobs")
@click.option("--json", "as_json", is_flag=True)
def jobs_(as_json):
    """Training jobs (local, remote, OpenAI pilots) and where they stand."""
    with open_store() as store:
        rows = store.jobs()
    if as_json:
        print_json([{k: r[k] for k in ("id", "kind", "status", "model", "result",
                                       "updated_at")} for r in rows])
        return
    for r in rows:
        host = (r["meta"].get("remote") or {}).get("host", "")
        click.echo(f"{r['id']:>4}  {r['kind']:<13} {r['status']:<11} {host:<12} "
                   f"{r['result'] or ''}")


COMMANDS = (finetune, jobs_)
