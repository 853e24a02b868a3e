"""Train and jobs: `ownvoice train --on local|mac|BOX|lambda:TYPE|tinker`, `ownvoice jobs
[attach N | cancel N]`, `ownvoice export`; `ownvoice finetune` stays as an alias of older commands.

Every path goes through one operation, engine.training.targets.run (the Train page calls
it too); remote.targets.target_for names the target.
"""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from desktop.cli.common import ID, EventPrinter, Group, count, open_store, print_json

QUANT_HELP = "auto: Q8_0 below 1.5B parameters (4-bit hurts small models most), Q4_K_M above."
QUANTS = ["auto", "Q4_K_M", "Q8_0", "F16"]
# A job id or a step: SQLite's integers stop at 2**63 - 1 (beyond, one clear line, not an
# OverflowError).


def _summary(store, job_id: int, row: dict, as_json: bool) -> None:
    job = store.job(job_id)
    meta = job.meta
    if as_json:
        print_json({"job": job.id, "model": row["name"], "gguf": row["path"],
                    "sha256": row["sha256"], "where": job.where,
                    "engine": meta.engine or "torch",
                    "memory_changes": meta.memory_changes or [],
                    "host": meta.remote.host if meta.remote else None,
                    "train": asdict(meta.train) if meta.train else None,
                    "checkpoint_scores": [asdict(s) for s in meta.checkpoint_scores or []],
                    "exported_adapter": meta.exported_adapter,
                    "smoke_test": asdict(meta.smoke_test) if meta.smoke_test else None,
                    "unverified": (row.get("meta") or {}).get("unverified"),
                    "cost_usd": meta.cloud.cost_usd if meta.cloud else None})
        return
    train = meta.train
    if train and train.best_val_loss is not None and train.base_val_loss is not None:
        click.echo(f"\nValidation loss {train.base_val_loss:.3f} (base) → "
                   f"{train.best_val_loss:.3f} (fine-tuned).")
    smoke = meta.smoke_test
    click.echo(f"\nRegistered {row['name']} ({row['path']}), trained on {job.where}."
               + (f" Smoke test: {smoke.input!r} → {smoke.output!r}." if smoke else "")
               + (f" The instance is terminated (about ${meta.cloud.cost_usd:.2f})."
                  if meta.cloud and meta.cloud.cost_usd is not None else "")
               + f" Use it with: ownvoice models use {row['name']}")
    for warning in (smoke.warnings if smoke else []):
        click.echo(f"Note: {warning}", err=True)
    if (row.get("meta") or {}).get("unverified"):
        click.echo(f"Warning: {row['name']} is registered as unverified: "
                   f"{row['meta']['unverified']}", err=True)


def _interrupted(target, job_id: int | None) -> None:
    """Ctrl-C: a job on your box goes on; one here stops (resumable); a rented box is
    stopped and terminated."""
    from engine.training.targets import LocalTarget
    from remote.targets import BoxTarget

    if job_id is None:
        click.echo("\nStopped before the job started.", err=True)
    elif isinstance(target, BoxTarget):
        click.echo(f"\nDetached. Job {job_id} keeps running on {target.name}; follow it "
                   f"again with: ownvoice jobs attach {job_id}", err=True)
    elif isinstance(target, LocalTarget):
        click.echo(f"\nStopped job {job_id}; continue it with: ownvoice train --resume "
                   f"{job_id}", err=True)
    elif target.name == "Tinker":
        click.echo(f"\nStopped job {job_id} on Tinker (it is not resumed: start a new run).",
                   err=True)
    else:
        click.echo(f"\nStopped job {job_id} and terminated its instance (a rented box bills "
                   "until it is gone); its checkpoints were on the box.", err=True)
    sys.exit(130)


def _ended(store, job_id: int, row: dict | None, as_json: bool) -> None:
    if row is None:
        click.echo(f"\nJob {job_id} goes on on its box: ownvoice jobs attach {job_id}",
                   err=True)
        return
    _summary(store, job_id, row, as_json)


class _Printer(EventPrinter):
    """The progress printer, remembering which job the events are about."""

    job_id: int | None = None

    def __call__(self, event) -> None:
        self.job_id = getattr(event, "job", None) or self.job_id
        super().__call__(event)


def start_training(*, on: str, base_model, max_steps, epochs, learning_rate, quant,
                   checkpoint_step, ssh_key_name=None, key_file=None, region=None,
                   max_hours=4.0, max_usd=None, watchdog_minutes=None, detach=False,
                   as_json=False, tokenizer=None, yes=False, improve=None) -> None:
    """`train --on …` through the shared operations: targets.run (or targets.start with
    --detach), as the Train page does."""
    from engine.training import targets
    from remote.rented import Budget
    from remote.targets import BoxTarget, target_for

    request = targets.TrainingRequest(base_model=base_model, max_steps=max_steps,
                                      epochs=epochs, learning_rate=learning_rate, quant=quant,
                                      checkpoint_step=checkpoint_step, improve=improve)
    target = target_for(on, ssh_key_name=ssh_key_name, key_file=key_file, region=region,
                        budget=Budget(max_hours=max_hours, max_usd=max_usd),
                        watchdog_idle_s=watchdog_minutes * 60 if watchdog_minutes else None,
                        tokenizer=tokenizer)
    if detach and not isinstance(target, BoxTarget):
        raise click.UsageError("--detach is for a job on your own box: a job here or on a "
                               "rented box needs this command to follow it.")
    printer = _Printer(as_json)
    with open_store() as store:
        try:
            if on == "tinker":  # it spends money: the estimate first, and a yes
                plan = target.prepare(store, request).options["tinker"]
                click.echo(f"{plan.examples} training pair(s), {plan.tokens:,} training tokens "
                           f"({plan.steps} steps of {plan.run.base_model} on Tinker): about "
                           f"${plan.estimated_cost_usd:.2f} at Tinker's listed prices.", err=True)
                if not yes:
                    if not sys.stdin.isatty():
                        raise click.ClickException("This spends money: run it in a terminal "
                                                   "to confirm, or pass --yes.")
                    click.confirm("Start training on Tinker?", abort=True, err=True)
            if detach:
                job = targets.start(target, store, request, on_event=printer)
                if as_json:
                    print_json({"job": job.id, "status": job.status.value})
                else:
                    click.echo(f"Job {job.id} started on {target.name}. Follow it with: "
                               f"ownvoice jobs attach {job.id}")
                return
            row = targets.run(target, store, request, on_event=printer)
        except targets.InvalidRequest as exc:  # found before anything was written or sent
            refused = click.ClickException(str(exc))
            refused.exit_code = 2  # like a bad option: nothing was done
            raise refused from exc
        except KeyboardInterrupt:
            _interrupted(target, printer.job_id)
        _ended(store, printer.job_id, row, as_json)


def _target_options(command):
    """The options of `train` and of the `finetune` alias that choose and size a target."""
    for decorator in reversed((
        click.option("--base", "base_model", help="Base model: a Hugging Face id, a folder or "
                     "a .gguf (default: the embedded Gemma 3 270M)."),
        click.option("--max-steps", type=count(), help="Stop after N steps."),
        click.option("--epochs", type=float, default=1.0, show_default=True),
        click.option("--learning-rate", type=float, default=2e-4, show_default=True),
        click.option("--quant", type=click.Choice(QUANTS), default="auto", show_default=True,
                     help=QUANT_HELP),
        click.option("--checkpoint", "checkpoint_step", type=ID,
                     help="Export the checkpoint of this step instead of the one OwnVoice "
                          "picks."),
        click.option("--ssh-key-name", help="lambda: the SSH key's name in your Lambda "
                                            "account."),
        click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True),
                     help="lambda: the private half of that key (default: the SSH agent, "
                          "then ~/.ssh)."),
        click.option("--region", help="lambda: the region (default: the first with "
                                      "capacity)."),
        click.option("--max-hours", type=click.FloatRange(0.01, 24 * 14), default=4.0,
                     show_default=True, help="lambda: stop and terminate after this long."),
        click.option("--max-usd", type=click.FloatRange(0.01, 100_000),
                     help="lambda: stop and terminate when it has cost this much; tinker: "
                          "refuse a run estimated above it."),
        click.option("--tokenizer", help="tinker: a local copy (or Hugging Face id) of the "
                                         "base's weights, for its tokenizer and the merge."),
        click.option("--yes", is_flag=True, help="tinker: do not ask before spending money."),
        click.option("--watchdog-minutes", type=click.FloatRange(1, 60 * 24 * 7),
                     help="BOX: stop the run when this app has not been heard from for so "
                          "long."),
        click.option("--detach", is_flag=True, help="BOX: start the job and return at once."),
        click.option("--json", "as_json", is_flag=True),
    )):
        command = decorator(command)
    return command


@click.command()
@click.option("--on", "on", metavar="local|mac|BOX|lambda:TYPE|tinker",
              help="Where to train: this machine (PyTorch), this Mac with MLX (`--base` an "
                   "MLX or Hugging Face model, e.g. mlx-community/Qwen3-4B-4bit; memory "
                   "checked first), one of your boxes (`ownvoice remote "
                   "list`), a Lambda Cloud instance rented for the job (e.g. "
                   "lambda:gpu_1x_gh200), or Tinker's managed training (`--base "
                   "Qwen/Qwen3-8B`; `ownvoice keys set tinker`).")
@click.option("--local", is_flag=True, help="The same as --on local.")
@click.option("--improve", "improve_job", type=ID,
              help="Preference training (DPO): improve the fine-tune of job N with your "
                   "judgments (corrections, ratings, choices, blind tests); registered as a "
                   "model of its own. On this machine (--on local, the default here); "
                   "defaults then --epochs 3, --learning-rate 5e-5.")
@click.option("--resume", "resume_job", type=ID,
              help="Continue job N after an interruption (the same as `ownvoice jobs "
                   "attach N`).")
@_target_options
@click.pass_context
def train(ctx, on, local, improve_job, resume_job, base_model, max_steps, epochs,
          learning_rate, quant, checkpoint_step, ssh_key_name, key_file, region, max_hours,
          max_usd, tokenizer, yes, watchdog_minutes, detach, as_json):
    """Fine-tune a model on your pairs, export it to GGUF and register it.

    Here (slowly on a CPU, for real; with MLX on a Mac: --on mac), on your GPU box over
    SSH, or on a Lambda Cloud GPU rented for the job and terminated when it ends. A job on
    a box survives this command: Ctrl-C detaches, `ownvoice jobs attach N` follows it
    again."""
    if resume_job is not None:
        if on is not None:  # (`--local --resume N`, the older spelling, still works)
            raise click.UsageError("--resume continues a job where it ran: leave out --on.")
        attach_job(resume_job, as_json=as_json, checkpoint_step=checkpoint_step,
                   quant=None if quant == "auto" else quant)
        return
    if local and on not in (None, "local"):
        raise click.UsageError(f"--local and --on {on} say two places: give one.")
    if local or (improve_job is not None and not on):  # preference training runs here
        on = "local"
    if not on:
        raise click.UsageError("Say where to train: --on local, --on mac (MLX), --on BOX (see "
                               "`ownvoice remote list`), --on lambda:TYPE or --on tinker.")
    if improve_job is not None:  # DPO's own starting points where none was given
        from click.core import ParameterSource

        from engine.training.pipeline import DPO_EPOCHS, DPO_LEARNING_RATE

        if ctx.get_parameter_source("epochs") is ParameterSource.DEFAULT:
            epochs = DPO_EPOCHS
        if ctx.get_parameter_source("learning_rate") is ParameterSource.DEFAULT:
            learning_rate = DPO_LEARNING_RATE
    start_training(on=on, base_model=base_model, max_steps=max_steps, epochs=epochs,
                   learning_rate=learning_rate, quant=quant, checkpoint_step=checkpoint_step,
                   ssh_key_name=ssh_key_name, key_file=key_file, region=region,
                   max_hours=max_hours, max_usd=max_usd, watchdog_minutes=watchdog_minutes,
                   detach=detach, as_json=as_json, tokenizer=tokenizer, yes=yes,
                   improve=improve_job)


def attach_job(job_id: int, *, as_json: bool, checkpoint_step: int | None = None,
               quant: str | None = None) -> None:
    """Follow a job again; a local one that was stopped continues from its checkpoint
    (`--checkpoint` and `--quant` then choose what it exports)."""
    from engine.jobs import JobKind, JobState
    from engine.training import targets
    from remote.targets import target_of

    with open_store() as store:
        job = store.job(job_id)
        if job is None:
            raise click.ClickException(f"No job {job_id} (see `ownvoice jobs`).")
        target = target_of(store, job)
        if job.status is JobState.DONE and job.result:
            raise click.ClickException(f"Job {job.id} is done: model {job.result}.")
        if job.status.terminal and job.kind is JobKind.TINKER and not job.meta.external_path:
            raise click.ClickException(f"Job {job.id} {job.status.value} on Tinker"
                                       + (f": {job.meta.error}" if job.meta.error else "."))
        if job.status.terminal and job.kind is JobKind.REMOTE:
            raise click.ClickException(f"Job {job.id} {job.status.value}"
                                       + (f": {job.meta.error}" if job.meta.error else "."))
        if not as_json:
            click.echo(f"Following job {job.id} on {job.where} ({job.status.value}).",
                       err=True)
        try:
            if isinstance(target, targets.LocalTarget):
                row = target.follow(store, job, on_event=EventPrinter(as_json),
                                    checkpoint_step=checkpoint_step, quant=quant)
            else:
                row = targets.follow(target, store, job, on_event=EventPrinter(as_json))
        except KeyboardInterrupt:
            _interrupted(target, job.id)
        _ended(store, job.id, row, as_json)


@click.group("jobs", cls=Group, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def jobs_group(ctx, as_json):
    """Every job (training here, on a box or rented; OpenAI pilots and batches) and where
    it stands; `attach N` follows a training job again, `cancel N` stops one."""
    if ctx.invoked_subcommand is not None:
        return
    from engine.training.pipeline import settle

    with open_store() as store:
        rows = [settle(store, job) for job in store.jobs()]  # a dead local run: interrupted
    if as_json:
        print_json([{"id": j.id, "kind": j.kind.value, "status": j.status.value,
                     "where": j.where, "model": j.model, "result": j.result,
                     "updated_at": j.updated_at} for j in rows])
        return
    if not rows:
        click.echo("No jobs yet: `ownvoice train --on local` starts one.")
    for j in rows:
        click.echo(f"{j.id:>4}  {j.kind.value:<13} {j.status.value:<13} {j.where:<22} "
                   f"{j.result or ''}")


@jobs_group.command("attach")
@click.argument("job_id", type=ID)
@click.option("--checkpoint", "checkpoint_step", type=ID,
              help="A local job that resumes here: export this step's checkpoint.")
@click.option("--quant", type=click.Choice(QUANTS), help="A local job that resumes here: "
              "this quantisation instead of the one it was started with.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def jobs_attach(job_id, checkpoint_step, quant, as_json):
    """Follow job N again until it ends (an interrupted local job resumes here)."""
    attach_job(job_id, as_json=as_json, checkpoint_step=checkpoint_step, quant=quant)


@jobs_group.command("cancel")
@click.argument("job_id", type=ID)
def jobs_cancel(job_id):
    """Stop job N (it writes a checkpoint first; a rented box is terminated)."""
    from remote.targets import target_of

    with open_store() as store:
        job = store.job(job_id)
        if job is None:
            raise click.ClickException(f"No job {job_id} (see `ownvoice jobs`).")
        if job.status.terminal:
            raise click.ClickException(f"Job {job.id} has already ended "
                                       f"({job.status.value}).")
        job = target_of(store, job).cancel(store, job)
    if job.status.terminal:
        click.echo(f"Job {job.id} cancelled; its last checkpoint stays where it trained."
                   + (f" The instance is terminated (about ${job.meta.cloud.cost_usd:.2f})."
                      if job.meta.cloud and job.meta.cloud.cost_usd is not None else ""))
    else:
        click.echo(f"Job {job.id} is asked to stop after its current step.")


@click.command(hidden=True)
@click.option("--remote", "host_name", help="= ownvoice train --on BOX")
@click.option("--lambda", "instance_type", help="= ownvoice train --on lambda:TYPE")
@click.option("--attach", "attach", type=ID, help="= ownvoice jobs attach N")
@click.option("--cancel", "cancel", type=ID, help="= ownvoice jobs cancel N")
@_target_options
@click.pass_context
def finetune(ctx, host_name, instance_type, attach, cancel, base_model, max_steps, epochs,
             learning_rate, quant, checkpoint_step, ssh_key_name, key_file, region, max_hours,
             max_usd, tokenizer, yes, watchdog_minutes, detach, as_json):
    """Older spelling of `ownvoice train --on …` and `ownvoice jobs attach|cancel N`."""
    if sum(x is not None for x in (host_name, instance_type, attach, cancel)) != 1:
        raise click.UsageError("Give one of --remote NAME, --lambda TYPE, --attach JOB or "
                               "--cancel JOB (or use `ownvoice train --on …`).")
    if attach is not None:
        attach_job(attach, as_json=as_json)
        return
    if cancel is not None:
        ctx.invoke(jobs_cancel, job_id=cancel)
        return
    start_training(on=host_name if host_name is not None else f"lambda:{instance_type}",
                   base_model=base_model, max_steps=max_steps, epochs=epochs,
                   learning_rate=learning_rate, quant=quant, checkpoint_step=checkpoint_step,
                   ssh_key_name=ssh_key_name, key_file=key_file, region=region,
                   max_hours=max_hours, max_usd=max_usd, watchdog_minutes=watchdog_minutes,
                   detach=detach, as_json=as_json, tokenizer=tokenizer, yes=yes)


@click.command("export")
@click.option("--base", "base_model", required=True, help="The base model (id, folder, .gguf).")
@click.option("--adapter", required=True, type=click.Path(file_okay=False, exists=True),
              help="The LoRA adapter folder (a run's or a checkpoint's adapter/), trained "
                   "with PyTorch or with MLX.")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--quant", type=click.Choice(QUANTS), default="auto", show_default=True,
              help=QUANT_HELP)
@click.option("--name", help="Register the GGUF under this name.")
@click.option("--from", "source", default="en", show_default=True,
              help="Language of the smoke test's input.")
@click.option("--to", "target", default="zh", show_default=True)
@click.option("--prompt", type=click.Choice(["voice", "instruction"]), default="voice",
              show_default=True, help="The system prompt its training data used (OwnVoice's "
              "datasets: voice; jobs from before 2026-11-30: instruction).")
@click.option("--json", "as_json", is_flag=True)
def export_(base_model, adapter, out, quant, name, source, target, prompt, as_json):
    """Merge an adapter into its base, convert to GGUF, quantise, smoke-test (and register)."""
    from engine.training import export as exporting
    from engine.training.merging import merge_for
    from engine.translation import registry

    merge = merge_for(adapter)  # a folder that is no adapter: one line, at once
    if name:  # a name that cannot be taken is refused before minutes of converting
        with open_store() as store:
            registry.check_name(store, name)
    result = exporting.export(base_model=base_model, adapter_dir=adapter, out_dir=out,
                              quant=quant, name=name or "ownvoice", source=source,
                              target=target, voice=prompt == "voice", merge=merge)
    from engine.training.pipeline import mark_verification

    if name:
        with open_store() as store:
            row = registry.add(store, result.gguf, name=name, base_model=base_model,
                               source_lang=source, target_lang=target, origin="fine-tuned",
                               sha256=result.sha256)
            mark_verification(store, row, result.smoke_test)
    if as_json:
        print_json({**asdict(result),
                    "unverified": exporting.unverified_reason(result.smoke_test)})
        return
    click.echo(f"Wrote {result.gguf} (sha256 {result.sha256[:12]}…); smoke test: "
               f"{result.smoke_test['input']!r} → {result.smoke_test['output']!r}."
               + (f" Registered as {name}." if name else ""))
    why = exporting.unverified_reason(result.smoke_test)
    if why:
        click.echo(f"Warning: the model is unverified: {why}", err=True)


COMMANDS = (train, jobs_group, finetune, export_)
