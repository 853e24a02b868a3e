"""`ownvoice compare`: the fine-tune against the base model and the baselines, on held-out
paragraphs, with every metric, stored, and an HTML report."""

from __future__ import annotations

import sys

import click

from desktop.cli.common import count, open_store, print_json, warn_retiring

# What each kind of held-out input is, for people.
ORIGIN_NAMES = {"synthetic": "synthetic (machine-written)",
                "published-translation": "published-translation (written by a person)",
                "correction": "corrected"}


@click.command()
@click.option("--models", "model_names", required=True,
              help="Comma-separated model names (see `ownvoice models list`).")
@click.option("--baselines", "with_baselines", is_flag=True,
              help="Also run the plain prompt, style prompt and few-shot baselines.")
@click.option("--baseline-model", help="The instruction model the baselines run on "
                                       "(default: the first listed that is not a fine-tune).")
@click.option("--limit", type=count(), help="At most this many paragraphs.")
@click.option("--calibration", type=count(min=4), default=40, show_default=True,
              help="Training paragraphs the judge learns your voice from (each is machine-"
                   "translated once by the baseline model).")
@click.option("--report", type=click.Path(dir_okay=False), help="Write the HTML report here.")
@click.option("--json", "as_json", is_flag=True)
def compare(model_names, with_baselines, baseline_model, limit, calibration, report, as_json):
    """Run every system on the same held-out paragraphs and measure how much each sounds
    like you (voice score, chrF++, AI tone, and the failure detectors)."""
    from engine.evaluation import compare as comparing
    from engine.evaluation.metrics import label

    show = sys.stderr.isatty() and not as_json

    def progress(done: int, total: int, _what: str) -> None:
        if show:
            click.echo(f"\r{done}/{total} translations", nl=False, err=True)

    names = [n.strip() for n in model_names.split(",") if n.strip()]
    with open_store() as store:
        warn_retiring(store)
        result = comparing.run(store, model_names=names, with_baselines=with_baselines,
                               baseline_model=baseline_model, limit=limit,
                               calibration=calibration, report=report,
                               progress=progress)
    rows = [{**{k: v for k, v in s.as_dict().items() if k != "per_sample"},
             "label": label(s.system)} for s in result.systems]
    if as_json:
        print_json({"comparison": result.id, "report": result.report_path,
                    "paragraphs": len(result.pairs), "systems": rows})
        return
    click.echo(f"\n{'system':<34}{'voice':>7}{'chrF++':>8}{'AI/1k':>7}{'len':>6}"
               f"{'nums':>6}{'lang':>6}{'loop':>6}{'stop':>6}", err=False)
    for r in rows:
        click.echo(f"{r['label'][:33]:<34}{r['voice']:>7.2f}{r['chrf_pp']:>8.1f}"
                   f"{r['tone_per_1000']:>7.1f}{r['length_ratio']:>6.2f}"
                   f"{r['number_drift']:>6.2f}{r['wrong_language']:>6.2f}"
                   f"{r['repetition']:>6.2f}{r['no_stop']:>6.2f}")
        for flag in r["flags"]:
            click.echo(f"{'':<4}⚠ {flag}")
        for origin, part in r["by_origin"].items():
            click.echo(f"{'':<4}on {part['samples']} {ORIGIN_NAMES.get(origin, origin)} input(s):"
                       f" voice {part['voice']:.2f}, chrF++ {part['chrf_pp']:.1f}")
    if result.report_path:
        click.echo(f"Report: {result.report_path}")


COMMANDS = (compare,)
