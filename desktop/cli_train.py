"""`ownvoice train --local`: fine-tune on this machine and register the result."""

from __future__ import annotations

import sys

import click

from desktop.cli_common import open_store, print_json


@click.command()
@click.option("--local", is_flag=True, help="Train on this machine (CPU or local GPU).")
@click.option("--base", "base_model", help="Base model: HF id, folder or .gguf "
                                            "(default: the embedded Gemma 3 270M).")
@click.option("--max-steps", type=click.IntRange(min=1), help="Stop after N steps.")
@click.option("--epochs", type=float, default=1.0, show_default=True)
@click.option("--learning-rate", type=float, default=2e-4, show_default=True)
@click.option("--quant", type=click.Choice(["auto", "Q4_K_M", "Q8_0", "F16"]), default="auto",
              show_default=True, help="auto: Q8_0 below 1.5B parameters (4-bit hurts small "
              "models most), Q4_K_M above.")
@click.option("--resume", "resume_job", type=int, help="Continue job N after an interruption.")
@click.option("--checkpoint", "checkpoint_step", type=int,
              help="Export the checkpoint of this step instead of the one OwnVoice picks.")
@click.option("--json", "as_json", is_flag=True)
def train(local, base_model, max_steps, epochs, learning_rate, quant, resume_job,
          checkpoint_step, as_json):
    """Fine-tune a model on your pairs, export it to GGUF and register it."""
    from engine import finetune

    if not local:
        raise click.UsageError("Only --local training exists so far (remote GPU boxes come "
                               "next).")
    show = sys.stderr.isatty() and not as_json

    def progress(record: dict) -> None:
        if show and record["event"] == "train":
            eta = f", ETA {record['eta_s']:.0f} s" if record.get("eta_s") else ""
            click.echo(f"\rstep {record['step']}/{record['total_steps']} · loss "
                       f"{record['loss']:.3f} · {record['tokens_per_s']:.0f} tokens/s{eta}",
                       nl=False, err=True)
        elif not as_json and record["event"] in ("checkpoint", "early_stop"):
            click.echo(f"\n{record['event']} at step {record['step']}: validation loss "
                       f"{record.get('val_loss') or record.get('best_val_loss')}", err=True)

    with open_store() as store:
        if resume_job is not None:
            job = store.job(resume_job)
            if job is None or job["kind"] != "local":
                raise click.ClickException(f"No local training job {resume_job}.")
        else:
            job = finetune.prepare(store, base_model=base_model, max_steps=max_steps,
                                   epochs=epochs, learning_rate=learning_rate)
            click.echo(f"Job {job['id']}: {job['meta']['pairs']} training pairs, base "
                       f"{job['model']}.", err=True)
        row = finetune.run(store, job, resume=resume_job is not None, quant=quant,
                           checkpoint_step=checkpoint_step, on_progress=progress)
        job = store.job(job["id"])
    if as_json:
        print_json({"job": job["id"], "model": row["name"], "gguf": row["path"],
                    "sha256": row["sha256"], "train": job["meta"].get("train"),
                    "checkpoint_scores": job["meta"].get("checkpoint_scores"),
                    "exported_adapter": job["meta"].get("exported_adapter"),
                    "smoke_test": job["meta"].get("smoke_test")})
        return
    smoke = job["meta"]["smoke_test"]
    train = job["meta"].get("train") or {}
    if train.get("best_val_loss") is not None and train.get("base_val_loss") is not None:
        click.echo(f"\nValidation loss {train['base_val_loss']:.3f} (base) → "
                   f"{train['best_val_loss']:.3f} (fine-tuned).")
    click.echo(f"\nRegistered {row['name']} ({row['path']}). Smoke test: "
               f"{smoke['input']!r} → {smoke['output']!r}. Use it with: ownvoice models use "
               f"{row['name']}")
    for warning in smoke.get("warnings") or []:
        click.echo(f"Note: {warning}", err=True)


@click.command("export")
@click.option("--base", "base_model", required=True, help="The base model (id, folder, .gguf).")
@click.option("--adapter", required=True, type=click.Path(file_okay=False, exists=True),
              help="The LoRA adapter folder (a checkpoint's adapter/).")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--quant", type=click.Choice(["auto", "Q4_K_M", "Q8_0", "F16"]), default="auto",
              show_default=True, help="auto: Q8_0 below 1.5B parameters (4-bit hurts small "
              "models most), Q4_K_M above.")
@click.option("--name", help="Register the GGUF under this name.")
@click.option("--from", "source", default="en", show_default=True,
              help="Language of the smoke test's input.")
@click.option("--to", "target", default="zh", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def export_(base_model, adapter, out, quant, name, source, target, as_json):
    """Merge an adapter into its base, convert to GGUF, quantise, smoke-test (and register)."""
    from dataclasses import asdict

    from engine import export as exporting
    from engine import models

    result = exporting.export(base_model=base_model, adapter_dir=adapter, out_dir=out,
                              quant=quant, name=name or "ownvoice", source=source,
                              target=target)
    if name:
        with open_store() as store:
            models.add(store, result.gguf, name=name, base_model=base_model,
                       source_lang=source, target_lang=target, origin="fine-tuned",
                       sha256=result.sha256)
    if as_json:
        print_json(asdict(result))
        return
    click.echo(f"Wrote {result.gguf} (sha256 {result.sha256[:12]}…); smoke test: "
               f"{result.smoke_test['input']!r} → {result.smoke_test['output']!r}."
               + (f" Registered as {name}." if name else ""))


COMMANDS = (train, export_)
