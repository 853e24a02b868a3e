"""The `ownvoice` command: every action of the app, without a window.

Output for people by default; `--json` prints one JSON document on stdout for
scripts (progress and hints go to stderr). PySide6 is imported only by `gui`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from desktop.cli_common import Group as _Group
from desktop.cli_common import open_store as _store
from desktop.cli_common import print_json as _print_json


@click.group(cls=_Group, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ownvoice")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """OwnVoice: translations that sound like you.

    Import your writing, turn it into training pairs, fine-tune an open model and
    translate offline. Data lives in one folder (OWNVOICE_HOME overrides it).
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


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_(paths: tuple[Path, ...], as_json: bool) -> None:
    """Import your writing: Markdown, HTML, text files, WordPress exports, or folders of them.

    Importing the same files again adds nothing; changed files replace their old version.
    """
    from engine.corpus.importer import import_paths

    show_progress = sys.stderr.isatty()

    def progress(done: int, total: int, path: str) -> None:
        if show_progress and total:
            width = shutil.get_terminal_size((80, 20)).columns
            line = f"\rImporting {done}/{total} {Path(path).name}"[:width - 1]
            click.echo(line.ljust(width - 1), nl=done == total, err=True)

    with _store() as store:
        report = import_paths(store, paths, progress=progress)
    if as_json:
        _print_json(report.as_json())
        return
    click.echo(
        f"Imported {report.imported} new document(s), updated {report.updated}, "
        f"{report.unchanged} unchanged; {report.segments_added} new segment(s).")
    if report.passed_over:
        click.echo(f"Passed over {report.passed_over} file(s) that are not documents "
                   "(images, PDFs, media, other XML).")
    for title, items in (("Skipped", report.skipped), ("Warnings", report.warnings)):
        if items:
            click.echo(f"{title} ({len(items)}):")
            for item in items:
                click.echo(f"  {item.path}: {item.reason}")
    if report.imported or report.updated:
        click.echo("Next: `ownvoice corpus stats` to see what came in.", err=True)


@cli.group(cls=_Group)
def corpus() -> None:
    """Look at your imported writing."""


@corpus.command()
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def stats(as_json: bool) -> None:
    """Counts of documents and segments, by kind, language and split."""
    with _store() as store:
        data = store.corpus_stats()
    if as_json:
        _print_json(data)
        return
    click.echo(f"Documents: {data['documents']}   Segments: {data['segments']}   "
               f"Prose: {data['prose_segments']} ({data['unique_prose_segments']} unique, "
               f"{data['prose_characters']:,} characters)")
    for label, key in (("Documents by split", "by_split"), ("Documents by format", "by_format"),
                       ("Segments by kind", "by_kind"), ("Segments by language", "by_lang")):
        if data[key]:
            click.echo(f"{label}: " + ", ".join(f"{k} {v}" for k, v in data[key].items()))
    if not data["documents"]:
        click.echo("Nothing imported yet: `ownvoice import FOLDER` brings in your writing.")


def _segment_lines(rows: list[dict]) -> None:
    width = shutil.get_terminal_size((100, 20)).columns
    for row in rows:
        text = row["text"].replace("\n", " ⏎ ")
        line = f"[{row['kind']}/{row['lang'] or '-'}/{row['split']}] {row['title'] or ''}: {text}"
        click.echo(line if len(line) <= width else line[:width - 1] + "…")


@corpus.command()
@click.option("--kind", help="Only this kind (prose, heading, list, quote, code, …).")
@click.option("--lang", help="Only this language code (zh, en, …).")
@click.option("--split", type=click.Choice(["train", "val", "test"]), help="Only this split.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many segments.")
@click.option("--json", "as_json", is_flag=True, help="Print the segments as JSON.")
def segments(kind, lang, split, limit, as_json: bool) -> None:
    """List segments with their document, kind, language and split."""
    with _store() as store:
        rows = store.segments(kind=kind, lang=lang, split=split, limit=limit)
    if as_json:
        _print_json(rows)
    else:
        _segment_lines(rows)


@corpus.command()
@click.argument("text", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the matches as JSON.")
def search(text: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Find segments containing every word of TEXT (Chinese words of any length work)."""
    with _store() as store:
        rows = store.search_segments(" ".join(text), limit=limit)
    if as_json:
        _print_json(rows)
    elif rows:
        _segment_lines(rows)
    else:
        click.echo("No segment matches.", err=True)


def _register() -> None:
    from desktop import (
        cli_compare,
        cli_data,
        cli_finetune,
        cli_models,
        cli_remote,
        cli_train,
        cli_translate,
    )

    for command in (*cli_translate.COMMANDS, *cli_models.COMMANDS, *cli_data.COMMANDS,
                    *cli_train.COMMANDS, *cli_remote.COMMANDS,
                    *cli_finetune.COMMANDS, *cli_compare.COMMANDS):
        cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="ownvoice")
