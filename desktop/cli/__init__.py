"""The `ownvoice` command: every action of the app, without a window.

Output for people by default; `--json` prints one JSON document on stdout for
scripts (progress and hints go to stderr). PySide6 is imported only by `gui`.

One module per command group of `ownvoice --help`:

    corpus.py     import, corpus stats | segments | search
    translate.py  translate, history, rate, correct
    models.py     models list | add | use | remove | recommended, keys set | delete
    pairs.py      synth, dataset export | stats, pilot start | status | use
    train.py      train --on local|BOX|lambda:TYPE, jobs [attach | cancel], export
                  (and the hidden `finetune` alias)
    remote.py     remote add | list | check | remove | lambda-types
    compare.py    compare
    common.py     the store, JSON output, error display, the progress printer
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from desktop.cli.common import Group as _Group


@click.group(cls=_Group, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ownvoice")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """OwnVoice: translations that sound like you.

    Import your writing, turn it into training pairs, fine-tune an open model and
    translate offline. Data lives in one folder: the one chosen in the app's Settings, or
    your user data folder; OWNVOICE_HOME overrides both.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@cli.command()
@click.option("--screenshot", type=click.Path(dir_okay=False, path_type=Path),
              help="Render the main window with its current data to this PNG file and exit.")
@click.option("--page", type=click.Choice(["translate", "corpus", "data", "train",
                                           "compare", "models", "settings"]),
              help="The page to open on.")
def gui(screenshot: Path | None, page: str | None) -> None:
    """Open the desktop app."""
    from desktop.app import display_problem, run_app

    problem = display_problem()
    if problem:
        raise click.ClickException(problem)
    sys.exit(run_app(screenshot=screenshot, page=page))


def _register() -> None:
    from desktop.cli import compare, corpus, models, pairs, remote, train, translate

    for group in (corpus, translate, models, pairs, train, remote, compare):
        for command in group.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="ownvoice")
