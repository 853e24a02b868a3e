"""Pairs: `ownvoice synth` (reverse synthesis), `ownvoice dataset export | stats` and `ownvoice
pilot start | status | use` (the OpenAI fine-tuning pilot): training pairs from your writing."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from desktop.cli.common import ID, Group, count, open_store, print_json, warn_retiring
from engine import openai_models

if TYPE_CHECKING:
    from engine.jobs import Job


def _estimate(candidates: int, styles: int, chars: int, model: str) -> tuple[int, float]:
    from engine import llm

    requests = candidates * styles
    tokens_in = requests * 60 + styles * llm.estimate_tokens("x" * chars)
    tokens_out = int(styles * llm.estimate_tokens("x" * chars) * 1.4)
    return requests, llm.cost_usd(model, tokens_in, tokens_out)


@click.command()
@click.option("--base-url", help="An OpenAI-compatible endpoint (default: OpenAI).")
@click.option("--model", default=openai_models.SYNTHESIS_MODEL, show_default=True,
              help="The model that translates your paragraphs.")
@click.option("--key", "key_name", help="Keyring entry holding the endpoint's API key.")
@click.option("--lang", "user_lang", help="Language of your writing (default: most of it).")
@click.option("--into", help="Language to translate your paragraphs into (default: English, or "
                             "Chinese when you write in English).")
@click.option("--styles", type=click.IntRange(1, 6), default=3, show_default=True,
              help="Prompt styles per paragraph: plain, formal, literal, ai-article, condensed, "
                   "expanded (the first N).")
@click.option("--limit", type=count(), help="At most this many paragraphs.")
@click.option("--split", "splits", multiple=True, type=click.Choice(["train", "val", "test"]),
              help="Only these splits (default: all; val and test pairs measure the model).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--batch", is_flag=True, help="Use OpenAI's Batch API: half the price, results "
                                            "within 24 h; run again later to collect them.")
@click.option("--yes", is_flag=True, help="Do not ask before spending money.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def synth(base_url, model, key_name, user_lang, into, styles, limit, splits, concurrency, batch,
          yes, as_json):
    """Make training pairs: a model translates your paragraphs into the other language.

    Interrupt it whenever you like: run it again and it continues where it stopped.
    """
    from engine import languages, llm
    from engine.pairs import synthesis

    with open_store() as store:
        warn_retiring(store, also=(model,), base_url=base_url, only=(model,))
        user_lang = languages.normalise(user_lang) if user_lang else store.main_language()
        if user_lang is None:
            raise click.ClickException("No prose imported yet: `ownvoice import FOLDER` first.")
        into = languages.normalise(into) if into else ("zh" if user_lang == "en" else "en")
        config = synthesis.SynthConfig(user_lang=user_lang, into=into,
                                       styles=synthesis.STYLE_ORDER[:styles],
                                       splits=tuple(splits) or ("train", "val", "test"),
                                       limit=limit)
        if batch:
            _synth_batch(store, config, model=model, base_url=base_url, yes=yes,
                         as_json=as_json)
            return
        todo, already, too_long = synthesis.plan(store, config)
        chars = sum(len(segment["text"]) for segment, _ in todo) // max(1, styles)
        requests, cost = _estimate(len(todo) // max(1, styles), styles, chars, model)
        click.echo(f"{languages.name(user_lang)} → {languages.name(into)}: {requests} "
                   f"request(s) to make ({already} pair(s) exist already"
                   + (f", {too_long} paragraph(s) too long for one request left out"
                      if too_long else "") + "), "
                   f"estimated cost ${cost:.2f} with {model}.", err=True)
        if cost >= 0.01 and not yes:
            if not sys.stdin.isatty():
                raise click.ClickException("This would spend money: run it in a terminal to "
                                           "confirm, or pass --yes.")
            click.confirm("Go ahead?", abort=True, err=True)
        client = llm.LLMClient(model=model, base_url=base_url,
                               api_key=llm.key_for(base_url, key_name), concurrency=concurrency)
        show = sys.stderr.isatty() and not as_json

        def progress(report) -> None:
            if show:
                click.echo(f"\r{report.done}/{report.planned} · {report.kept} kept, "
                           f"{report.rejected} rejected · {report.pairs_per_minute:.1f} "
                           f"pairs/min · ${report.cost_usd:.4f}", nl=False, err=True)

        try:
            report = synthesis.run(store, client, config, progress=progress)
        finally:
            client.close()
        if show:
            click.echo("", err=True)
    if as_json:
        print_json(report.as_json())
        return
    click.echo(f"Made {report.done} pair(s): {report.kept} kept, {report.rejected} rejected"
               f"{f', {report.failed} failed (run again to retry)' if report.failed else ''}; "
               f"{report.pairs_per_minute:.1f} pairs/min; ${report.cost_usd:.4f}.")
    for reason, times in sorted(report.reasons.items(), key=lambda kv: -kv[1]):
        click.echo(f"  rejected: {reason} × {times}")
    for error in report.errors:
        click.echo(f"error: {error}", err=True)


def _synth_batch(store, config, *, model, base_url, yes, as_json) -> None:
    """Collect finished batches, then send what is left as a new one."""
    from engine.pairs import pilot, synthesis, synthesis_batch

    collected = []
    for job in synthesis.open_batches(store):
        job, report = synthesis_batch.collect(store, job)
        collected.append({"job": job.id, "status": job.status.value,
                          "provider_status": job.meta.provider_status,
                          "report": report.as_json() if report else None})
        if not as_json:
            if report is not None:
                outcome = (f" — {report.kept} kept, {report.rejected} rejected, "
                           f"{report.failed} failed, ${report.cost_usd:.4f}")
            elif job.status.terminal:
                outcome = f" — {job.meta.error}" if job.meta.error else ""
            else:
                outcome = " (check again later)"
            click.echo(f"Batch {job.id}: "
                       f"{pilot.status_text(job.status, job.meta.provider_status)}{outcome}")
    todo = synthesis.plan(store, config).todo
    submitted = None
    if todo:
        chars = sum(len(segment["text"]) for segment, _ in todo) // max(1, len(config.styles))
        requests, cost = _estimate(len(todo) // max(1, len(config.styles)),
                                   len(config.styles), chars, model)
        cost /= 2  # the Batch API's discount
        click.echo(f"{requests} request(s) for a new batch, estimated ${cost:.2f}.", err=True)
        if cost >= 0.01 and not yes:
            if not sys.stdin.isatty():
                raise click.ClickException("This would spend money: run it in a terminal to "
                                           "confirm, or pass --yes.")
            click.confirm("Send the batch?", abort=True, err=True)
        job = synthesis_batch.submit(store, config, model=model, base_url=base_url)
        if job is not None:
            submitted = {"job": job.id, "provider_id": job.provider_id,
                         "requests": len(job.meta.custom_ids or ())}
            if not as_json:
                click.echo(f"Sent batch {job.id} ({submitted['requests']} requests). Run "
                           "`ownvoice synth --batch` again later (up to 24 h) to collect it.")
    if as_json:
        print_json({"collected": collected, "submitted": submitted})


@click.group(cls=Group)
def dataset():
    """Export pairs as JSONL for fine-tuning, and count them."""


@dataset.command()
@click.option("--format", "fmt", type=click.Choice(["chat", "openai", "preference"]),
              default="chat", show_default=True,
              help="chat: the pairs for OwnVoice's trainer (with weights); openai: for OpenAI "
                   "fine-tuning; preference: your judgments (corrections, ratings, choices, "
                   "blind tests) as chosen/rejected pairs in TRL's format, for DPO.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="train",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True)
@click.option("--json", "as_json", is_flag=True)
def export(fmt, split, out, as_json):
    """Write the pairs (or preferences) of one split as JSONL."""
    from dataclasses import asdict

    from engine.pairs import dataset as datasets
    from engine.pairs import preferences

    if fmt == "preference":
        with open_store() as store:
            written = preferences.export(store, split=split, out=out)
        if as_json:
            print_json(asdict(written))
            return
        click.echo(f"Wrote {written.preferences} preference(s), about {written.tokens:,} "
                   f"tokens, to {written.path}.")
        return
    with open_store() as store:
        report = datasets.export(store, split=split, fmt=fmt, out=out)
    # OpenAI wants at least 10 examples in a training file; a validation file may be smaller.
    minimum = datasets.OPENAI_MIN_EXAMPLES if split == "train" else 1
    problems = datasets.validate_openai(out, min_examples=minimum) if fmt == "openai" else []
    if as_json:
        print_json({**asdict(report), "problems": problems})
        return
    click.echo(f"Wrote {report.examples} example(s) from {report.pairs} pair(s), about "
               f"{report.tokens:,} tokens, to {report.path}.")
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)


@dataset.command()
@click.option("--model", default="gpt-4o-mini-2024-07-18", show_default=True,
              help="OpenAI model whose fine-tuning price to quote.")
@click.option("--json", "as_json", is_flag=True)
def stats(model, as_json):
    """Pairs, tokens, preferences, and the cost of an OpenAI fine-tune for 1–3 epochs."""
    from engine.pairs import dataset as datasets
    from engine.pairs import preferences

    with open_store() as store:
        data = datasets.stats(store, model=model)
        data["preferences"] = preferences.stats(store)
    if as_json:
        print_json(data)
        return
    for split, values in data["splits"].items():
        origins = data["preferences"]["splits"][split]
        mix = ", ".join(f"{n} {origin}" for origin, n in sorted(origins.items()))
        click.echo(f"{split:<6} {values['pairs']:>6} pairs  ~{values['tokens']:>9,} tokens  "
                   f"{sum(origins.values()):>5} preferences" + (f" ({mix})" if mix else ""))
    click.echo(f"rejected: {data['rejected']}  ·  spent on synthesis: ${data['cost_usd']:.4f}")
    if data["openai_fine_tune_usd"]:
        costs = ", ".join(f"{k.replace('_', ' ')} ${v:.2f}"
                          for k, v in data["openai_fine_tune_usd"].items())
        click.echo(f"OpenAI fine-tune of {model} on train: {costs}")


@click.group(cls=Group)
def pilot():
    """The pilot: is your voice worth a real fine-tune? 50 pairs on Tinker (about a cent), or
    on OpenAI where OpenAI still lets your organisation fine-tune (~$3; closing 2027-01-06)."""


def _pilot_job(store, job_id: int | None) -> Job:
    from engine.jobs import JobKind

    jobs = [j for kind in (JobKind.TINKER_PILOT, JobKind.PILOT)
            for j in store.jobs(kind=kind, job_id=job_id)]
    if not jobs:
        raise click.ClickException("No pilot yet: start one with `ownvoice pilot start`."
                                   if job_id is None else f"No pilot job {job_id}.")
    return max(jobs, key=lambda j: j.id)


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.ClickException("This spends money: run it in a terminal to confirm, or "
                                   "pass --yes.")
    click.confirm(question, abort=True, err=True)


@pilot.command()
@click.option("--on", "provider", type=click.Choice(["tinker", "openai"]), default="tinker",
              show_default=True, help="Where the pilot trains.")
@click.option("--pairs", type=click.IntRange(10, 10000), default=50, show_default=True)
@click.option("--base", "base_model", help="tinker: the base model (default "
              "Qwen/Qwen3-4B-Instruct-2507; `ownvoice pilot bases` lists them).")
@click.option("--tokenizer", help="tinker: the base's Hugging Face id or a local folder with "
                                  "its tokenizer (default: the base's id on the hub).")
@click.option("--model", help="openai: the OpenAI model to fine-tune (default "
                              "gpt-4o-mini-2024-07-18).")
@click.option("--epochs", type=click.IntRange(1, 10), default=3, show_default=True)
@click.option("--base-url", help="Another address for the service (default: Tinker's or "
                                 "OpenAI's own).")
@click.option("--yes", is_flag=True, help="Do not ask before spending money.")
@click.option("--json", "as_json", is_flag=True)
def start(provider, pairs, base_model, tokenizer, model, epochs, base_url, yes, as_json):
    """Pick pairs, check them, price them, and train (Tinker) or start a job (OpenAI)."""
    from dataclasses import asdict

    if provider == "tinker":
        if model is not None:
            raise click.UsageError("--model names an OpenAI model; on Tinker choose the base "
                                   "with --base.")
        _start_tinker(pairs, base_model, tokenizer, epochs, base_url, yes, as_json)
        return
    if base_model is not None or tokenizer is not None:
        raise click.UsageError("--base and --tokenizer are for Tinker; on OpenAI choose the "
                               "model with --model.")
    from engine.pairs import pilot

    model = model or pilot.DEFAULT_MODEL

    with open_store() as store:
        plan = pilot.prepare(store, pairs=pairs, model=model, epochs=epochs, base_url=base_url)
        click.echo(f"{plan.examples} training and {plan.validation_examples} validation "
                   f"example(s), about {plan.tokens:,} tokens; {epochs} epoch(s) of {model} "
                   f"cost about ${plan.estimated_cost_usd:.2f}.", err=True)
        _confirm(yes, "Start the fine-tune?")
        job = pilot.start(store, plan, base_url=base_url)
    if as_json:
        print_json({"job": job.id, "provider_id": job.provider_id, "status": job.status.value,
                    "provider_status": job.meta.provider_status, "plan": asdict(plan)})
        return
    click.echo(f"Started pilot job {job.id} ({job.provider_id}, "
               f"{pilot.status_text(job.status, job.meta.provider_status)}). "
               "Follow it with: ownvoice pilot status --watch")


def _start_tinker(pairs, base_model, tokenizer, epochs, base_url, yes, as_json) -> None:
    from engine.training import tinker, tinker_pilot

    live = sys.stderr.isatty() and not as_json

    def step(done: int, total: int, loss: float) -> None:
        if not as_json:
            start = "\r" if live else ""
            click.echo(f"{start}step {done}/{total} · loss {loss:.3f}", nl=not live, err=True)

    with open_store() as store:
        key = tinker_pilot.api_key()
        plan = tinker_pilot.prepare(store, pairs=pairs, base_model=base_model or
                                    tinker.DEFAULT_BASE, tokenizer=tokenizer, epochs=epochs,
                                    base_url=base_url)
        click.echo(f"{plan.examples} training example(s), {plan.tokens:,} training tokens "
                   f"({plan.steps} steps of {plan.run.base_model} on Tinker): about "
                   f"${plan.estimated_cost_usd:.2f} at Tinker's listed prices.", err=True)
        _confirm(yes, "Start the pilot?")
        job = tinker_pilot.start(store, plan, key=key, on_step=step)
    if live:
        click.echo("", err=True)
    losses = job.meta.losses or []
    if as_json:
        print_json({"job": job.id, "status": job.status.value, "base_model": job.model,
                    "examples": plan.examples, "tokens": plan.tokens,
                    "estimated_cost_usd": plan.estimated_cost_usd, "losses": losses,
                    "sampler_path": job.meta.sampler_path})
        return
    trend = f": loss {losses[0]:.3f} → {losses[-1]:.3f}" if losses else ""
    click.echo(f"Pilot {job.id} trained on Tinker{trend}. Translate and compare with it: "
               "ownvoice pilot use; bring it home as a GGUF: ownvoice pilot export")


@pilot.command()
def bases():
    """The base models a Tinker pilot can train, with Tinker's listed prices."""
    from engine.training import tinker

    for base, hub in tinker.BASES.items():
        price = tinker.prices(base)
        click.echo(f"{base:<36} train ${price['train']:.2f}, sample ${price['sample']:.2f} per "
                   f"1M tokens (prices of {price['read_on']}); weights: {hub}")


@pilot.command()
@click.option("--job", "job_id", type=ID, help="Which pilot (default: the latest).")
@click.option("--watch", is_flag=True, help="Check again every 30 s until it ends.")
@click.option("--json", "as_json", is_flag=True)
def status(job_id, watch, as_json):
    """The pilot's status, its losses (Tinker) or events and checkpoints (OpenAI)."""
    import time

    from engine.jobs import JobKind
    from engine.pairs import pilot

    with open_store() as store:
        job = _pilot_job(store, job_id)
        if job.kind is JobKind.TINKER_PILOT:
            _tinker_status(job, as_json)
            return
        while True:
            state = pilot.refresh(store, job)
            if as_json or not watch or state["status"].terminal:
                break
            click.echo(f"{pilot.status_text(state['status'], state['provider_status'])}…",
                       err=True)
            time.sleep(30)
    if as_json:
        print_json(state)
        return
    click.echo(f"Pilot {state['id']} ({state['provider_id']}): "
               f"{pilot.status_text(state['status'], state['provider_status'])}")
    for event in state["events"][-8:]:
        click.echo(f"  {event['at']}  {event['message']}")
    for point in state["checkpoints"]:
        click.echo(f"  checkpoint step {point['step']}: train loss {point['train_loss']}, "
                   f"validation loss {point['valid_loss']}")
    if state["fine_tuned_model"]:
        click.echo(f"Fine-tuned model: {state['fine_tuned_model']}. Register it with: "
                   "ownvoice pilot use")
    if state["error"]:
        click.echo(f"error: {state['error']}", err=True)


def _tinker_status(job: Job, as_json: bool) -> None:
    losses = job.meta.losses or []
    if as_json:
        print_json({"id": job.id, "kind": job.kind.value, "status": job.status.value,
                    "base_model": job.model, "losses": losses,
                    "sampler_path": job.meta.sampler_path, "error": job.meta.error})
        return
    click.echo(f"Pilot {job.id} on Tinker ({job.model}): {job.status.value}")
    for step, loss in list(enumerate(losses, 1))[-12:]:
        click.echo(f"  step {step}: loss {loss:.3f}")
    if job.meta.error:
        click.echo(f"error: {job.meta.error}", err=True)


@pilot.command()
@click.option("--job", "job_id", type=ID, help="Which pilot (default: the latest).")
@click.option("--checkpoint", type=ID, help="openai: use the checkpoint of this step instead.")
@click.option("--activate", is_flag=True, help="Also make it the model that translates.")
def use(job_id, checkpoint, activate):
    """Register the pilot's fine-tuned model, so it can translate and be compared."""
    from engine.jobs import JobKind
    from engine.pairs import pilot
    from engine.translation import registry

    with open_store() as store:
        job = _pilot_job(store, job_id)
        if job.kind is JobKind.TINKER_PILOT:
            from engine.training import tinker_pilot

            row = tinker_pilot.use(store, job)
        else:
            chosen = None
            if checkpoint is not None:
                state = pilot.refresh(store, job)
                chosen = next((c["model"] for c in state["checkpoints"]
                               if c["step"] == checkpoint), None)
                if chosen is None:
                    raise click.ClickException(f"No checkpoint at step {checkpoint}.")
            row = pilot.use(store, store.job(job.id), checkpoint_model=chosen)
        if activate:
            registry.use(store, row["name"])
    click.echo(f"Registered {row['name']} ({row['model_id']})."
               + ("" if activate else f" Translate with it: ownvoice translate --model "
                                       f"{row['name']} …"))


@pilot.command("export")
@click.option("--job", "job_id", type=ID, help="Which pilot (default: the latest).")
@click.option("--quant", type=click.Choice(["auto", "Q4_K_M", "Q8_0", "F16"]), default="auto",
              show_default=True)
def export_pilot(job_id, quant):
    """Bring a Tinker pilot home: download its LoRA adapter, merge it with the base (from the
    Hugging Face hub), convert to GGUF and register it as voice-N."""
    from engine.jobs import JobKind
    from engine.training import tinker_pilot

    with open_store() as store:
        job = _pilot_job(store, job_id)
        if job.kind is not JobKind.TINKER_PILOT:
            raise click.ClickException("Only a Tinker pilot can be exported: OpenAI keeps its "
                                       "fine-tunes' weights.")
        row = tinker_pilot.export(store, job, quant=quant)
    unverified = (row.get("meta") or {}).get("unverified")
    click.echo(f"Registered {row['name']} ({row['path']})."
               + (f" Unverified: {unverified}" if unverified else ""))


COMMANDS = (synth, dataset, pilot)
