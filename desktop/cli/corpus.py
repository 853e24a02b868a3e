"""Corpus: `ownvoice import` brings the writer's files in; `ownvoice corpus stats |
segments | search` looks at what came in; `ownvoice corpus languages` says which languages
the writer writes in originally (engine/corpus, engine/corpus/works.py,
engine/store/corpus.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from desktop.cli.common import Group, count, open_store, print_json


@click.command("import")
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

    from engine.pairs import published

    with open_store() as store:
        report = import_paths(store, paths, progress=progress)
        aligned = published.refresh(store)  # your published translations, as pairs
    if as_json:
        print_json({**report.as_json(), "published_translations": aligned.as_json()})
        return
    click.echo(
        f"Imported {report.imported} new document(s), updated {report.updated}, "
        f"{report.unchanged} unchanged; {report.segments_added} new segment(s).")
    if report.passed_over:
        click.echo(f"Passed over {report.passed_over} file(s) that are not documents "
                   "(images, PDFs, media, data and configuration files).")
    for title, items in (("Skipped", report.skipped), ("Warnings", report.warnings)):
        if items:
            click.echo(f"{title} ({len(items)}):")
            for item in items:
                click.echo(f"  {item.path}: {item.reason}")
    if report.relinked:
        click.echo(f"Linked {report.relinked} document(s) to their translations or originals "
                   "(`ownvoice corpus languages` says which versions are your originals).")
    if aligned.pairs or aligned.removed:
        click.echo(published.summary(aligned))
    if report.imported or report.updated:
        click.echo("Next: `ownvoice corpus stats` to see what came in.", err=True)


@click.group(cls=Group)
def corpus() -> None:
    """Look at your imported writing."""


@corpus.command()
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def stats(as_json: bool) -> None:
    """Counts of documents and segments, by kind, language and split."""
    with open_store() as store:
        data = store.corpus_stats()
    if as_json:
        print_json(data)
        return
    click.echo(f"Documents: {data['documents']}   Segments: {data['segments']}   "
               f"Prose: {data['prose_segments']} ({data['unique_prose_segments']} unique, "
               f"{data['prose_characters']:,} characters)")
    for label, key in (("Documents by split", "by_split"), ("Documents by format", "by_format"),
                       ("Segments by kind", "by_kind"), ("Segments by language", "by_lang")):
        if data[key]:
            click.echo(f"{label}: " + ", ".join(f"{k} {v}" for k, v in data[key].items()))
    if data["documents"]:
        from engine.corpus.works import summary

        click.echo(summary(data["works"]))
    else:
        click.echo("Nothing imported yet: `ownvoice import FOLDER` brings in your writing.")


@corpus.command()
@click.argument("codes", nargs=-1)
@click.option("--clear", is_flag=True,
              help="Forget the languages: decide each work's original by its markers and dates.")
@click.option("--translated-by-me/--not-translated-by-me", default=None,
              help="Whether you translated your posts' other versions yourself: then they are "
                   "your prose too and training pairs are made from them (default: not).")
@click.option("--json", "as_json", is_flag=True, help="Print the settings and works as JSON.")
def languages(codes: tuple[str, ...], clear: bool, translated_by_me: bool | None,
              as_json: bool) -> None:
    """Show or set the languages you write in originally (CODES: zh, en…).

    A post published in several languages is one work; its original is your own writing and
    the other versions are translations, which are not made into training pairs unless you
    translated them yourself (--translated-by-me). Without CODES, the original of a work is
    the version without a translation marker, else the older one.
    """
    from engine.corpus.works import set_languages, summary
    from engine.pairs import published

    if clear and codes:
        raise click.UsageError("Give language codes or --clear, not both.")
    with open_store() as store:
        if codes or clear or translated_by_me is not None:
            data = set_languages(store, [] if clear else list(codes) if codes else None,
                                 translated_by_me=translated_by_me)
            published.refresh(store)  # which versions are originals decides the pairs
        else:
            data = store.work_stats()
        data["main_language"] = store.main_language()
    if as_json:
        print_json(data)
        return
    chosen = ", ".join(data["original_languages"])
    click.echo(f"You write originally in: {chosen}" if chosen else
               "You write originally in: not said (each work's original is the version without "
               "a translation marker, else the older one); `ownvoice corpus languages zh` says it.")
    click.echo(f"Your main language (words in your originals): {data['main_language'] or '-'}")
    click.echo(summary(data))


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
@click.option("--limit", type=count(), help="At most this many segments.")
@click.option("--json", "as_json", is_flag=True, help="Print the segments as JSON.")
def segments(kind, lang, split, limit, as_json: bool) -> None:
    """List segments with their document, kind, language and split."""
    with open_store() as store:
        rows = store.segments(kind=kind, lang=lang, split=split, limit=limit)
    if as_json:
        print_json(rows)
    else:
        _segment_lines(rows)


@corpus.command()
@click.argument("text", nargs=-1, required=True)
@click.option("--limit", type=count(), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the matches as JSON.")
def search(text: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Find segments containing every word of TEXT (Chinese words of any length work)."""
    with open_store() as store:
        rows = store.search_segments(" ".join(text), limit=limit)
    if as_json:
        print_json(rows)
    elif rows:
        _segment_lines(rows)
    else:
        click.echo("No segment matches.", err=True)


COMMANDS = (import_, corpus)
