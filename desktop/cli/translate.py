"""`ownvoice translate`, and what follows a translation: history, rate, correct."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from desktop.cli.common import ID, count, open_store, print_json, warn_retiring

if TYPE_CHECKING:
    from engine.translation.document import Envelope


def _read_input(file, text: str | None) -> tuple[str, Envelope]:
    """FILE, standard input or --text as text: bytes are decoded the way `import` decodes
    files (engine.translation.source_file), and an argument from a terminal that is not
    UTF-8 is recovered the same way; what cannot be read is one line. The envelope says
    how a file's translation is written back (BOM, line endings)."""
    from engine.translation import source_file
    from engine.translation.document import Envelope

    if text is not None and file is not None:
        raise click.UsageError("Give either FILE or --text, not both.")
    if text is not None:
        try:
            text.encode("utf-8")
            return text, Envelope()
        except UnicodeEncodeError:  # bytes the terminal's encoding could not decode
            data, what = text.encode("utf-8", "surrogateescape"), "--text"
    elif file is None:
        if sys.stdin.isatty():
            raise click.UsageError("Nothing to translate: give FILE, --text TEXT, or pipe text in.")
        data, what = sys.stdin.buffer.read(), "standard input"
    else:
        data, what = file.read(), getattr(file, "name", "the file")
        what = "standard input" if what == "<stdin>" else what
    decoded, envelope = source_file.read_bytes(data, what)
    return decoded, envelope if what != "--text" else Envelope()


@click.command()
@click.argument("file", required=False, type=click.File("rb"))
@click.option("--text", help="The text to translate (instead of FILE or standard input).")
@click.option("--to", "target", help="Language to translate into (zh, en, …).")
@click.option("--from", "source", help="Language of the text (detected when left out).")
@click.option("--model", help="A name from `ownvoice models list` (default: the active one).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result, its history id and timings as JSON.")
@click.option("--publish", is_flag=True,
              help="Write the translation beside FILE (post-en.md), its front matter and "
                   "links made ready for your site generator.")
@click.option("--profile", type=click.Choice(["pelican", "hugo", "jekyll"]),
              help="The site generator --publish writes for (default: the data folder's "
                   "publish.json, else guessed from the front matter).")
@click.option("--force", is_flag=True, help="With --publish: replace an existing file.")
def translate(file, text, target, source, model, as_json, publish, profile, force):
    """Translate FILE (or - for standard input, or --text) offline with the active model.

    Markdown keeps its shape: headings, lists and quotes are translated in place, code
    blocks and tables are left as they are. Every translation goes into the history.
    With --publish, the translation is written beside FILE, ready for Pelican, Hugo or
    Jekyll.
    """
    from pathlib import Path

    from engine import languages, paths
    from engine.translation import document, registry
    from engine.translation import publish as publishing
    from engine.translation.translate import AlreadyInTarget, Translator, detect_source

    if (profile or force) and not publish:
        raise click.UsageError("--profile and --force go with --publish.")
    if publish and (file is None or text is not None or file.name in ("-", "<stdin>")):
        raise click.UsageError("--publish writes the translation beside its file: give FILE "
                               "(not standard input or --text).")
    content, envelope = _read_input(file, text)
    with open_store() as store:
        row = registry.resolve(store, model)
        if row["backend"] == "openai":
            warn_retiring(store, only=(row["model_id"],))
        given = languages.normalise(source) if source else None
        guessed = given or detect_source(content)
        target = languages.normalise(target or store.meta("default_target_lang")
                                     or ("en" if languages.family(guessed) == "zh" else "zh"))
        if given == target:
            raise click.UsageError(f"The text is already in {languages.name(target)}; "
                                   "choose another language with --to.")
        if publish:  # where it goes is known, and free, before any time is spent
            settings = publishing.load_settings(paths.data_dir())
            chosen, why = publishing.choose_profile(profile, settings, content, Path(file.name))
            destination = chosen.output_path(Path(file.name), target)
            if destination.exists() and not force:
                raise click.ClickException(f"{destination} already exists; pass --force to "
                                           "replace it.")
        streaming = not as_json and not publish and sys.stdout.isatty()
        translator = Translator(registry.open_backend(row))
        try:  # without --from, each paragraph is translated from its own language
            result = translator.translate(
                content, source=given, target=target, format=document.format_of(
                    file.name if file is not None else None),
                on_text=(lambda piece: click.echo(piece, nl=False)) if streaming else None)
        except AlreadyInTarget as exc:
            raise click.UsageError(f"The text is already in {languages.name(target)}; "
                                   "choose another language with --to.") from exc
        result.id = store.add_translation(model_id=row["id"], model_name=row["name"],
                                          result=result)
        published = None
        if publish:  # the fields are short texts, translated from the post's language
            published = publishing.publish(
                content, result.output, source_path=Path(file.name), target=target,
                profile=chosen, posts=publishing.own_posts(store),
                tags=settings.tags.get(target),
                translate_text=lambda field: translator.translate(
                    field, target=target, source=result.source_lang, format="text").output)
    if published is not None:
        from engine.translation import source_file

        source_file.write(published.path, published.text, envelope)  # BOM, line endings
    if as_json:
        extra = {"published": str(published.path)} if published is not None else {}
        print_json({"id": result.id, "model": row["name"], **result.as_json(), **extra})
        return
    if not streaming and published is None:  # the file's own shape: BOM, line endings…
        sys.stdout.buffer.write(envelope.apply(result.output).encode("utf-8"))
        sys.stdout.flush()
    for warning in [*result.warnings, *(published.warnings if published else [])]:
        click.echo(f"warning: {warning}", err=True)
    if published is not None:
        links = (f"; {published.links} link(s) to your posts now point at their "
                 f"{languages.name(target)} versions") if published.links else ""
        click.echo(f"Published {published.path} ({chosen.name} profile, {why}){links}.",
                   err=True)
    click.echo(f"#{result.id} · {row['name']} · {languages.name(result.source_lang)} → "
               f"{languages.name(target)} · {result.tokens_out} tokens in "
               f"{result.total_ms / 1000:.1f} s · rate it: ownvoice rate {result.id} up|down · "
               f"fix it: ownvoice correct {result.id}", err=True)
    if row["origin"] == "default":
        click.echo("(The embedded model is tiny: fine for short, plain sentences. "
                   "`ownvoice models recommended` lists better ones.)", err=True)


@click.command()
@click.option("--search", help="Only translations whose text contains these words.")
@click.option("--limit", type=count(), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
def history(search, limit, as_json):
    """Past translations, newest first."""
    with open_store() as store:
        rows = store.translations(search=search, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No translations yet." if not search else "No translation matches.", err=True)
    rating = {1: "👍", -1: "👎", None: "  ", 0: "  "}
    for row in rows:
        output = (row["corrected_text"] or row["output_text"]).replace("\n", " ")
        source = row["source_text"].replace("\n", " ")
        mark = "✎" if row["corrected_text"] else " "
        click.echo(f"#{row['id']:<4} {row['created_at'][:16]} {rating[row['rating']]}{mark} "
                   f"[{row['model_name']}] {source[:40]} → {output[:60]}")


@click.command()
@click.argument("translation_id", type=ID)
@click.argument("verdict", type=click.Choice(["up", "down", "clear"]))
def rate(translation_id, verdict):
    """Rate a translation from the history: up, down, or clear."""
    from engine.pairs import preferences

    with open_store() as store:
        if store.translation(translation_id) is None:
            raise click.ClickException(f"No translation #{translation_id} in the history.")
        store.rate_translation(translation_id, {"up": 1, "down": -1, "clear": 0}[verdict])
        preferences.sync(store)
    click.echo(f"#{translation_id} rated {verdict}.")


@click.command()
@click.argument("translation_id", type=ID)
@click.option("--text", help="The corrected translation.")
@click.option("--file", "file", type=click.File("rb"),
              help="Read the corrected translation from this file (- for standard input).")
@click.option("--json", "as_json", is_flag=True, help="Print the pairs and the diff as JSON.")
def correct(translation_id, text, file, as_json):
    """Save your correction of a translation; it becomes a training pair."""
    from engine.pairs import corrections, preferences

    corrected = _read_input(file, text)[0].strip()
    if not corrected:
        raise click.UsageError("The correction is empty.")
    with open_store() as store:
        row = store.translation(translation_id)
        if row is None:
            raise click.ClickException(f"No translation #{translation_id} in the history.")
        pairs = corrections.correction_pairs(row, corrected)
        ids = store.correct_translation(translation_id, corrected, pairs)
        preferences.sync(store)
    diff = corrections.word_diff(row["output_text"].strip(), corrected)
    if as_json:
        print_json({"id": translation_id, "pair_ids": ids,
                    "diff": [{"op": op, "text": t} for op, t in diff],
                    "pairs": [{"source_text": p["source_text"], "target_text": p["target_text"],
                               "weight": p["weight"]} for p in pairs]})
        return
    click.echo(corrections.render_diff(diff))
    click.echo(f"Saved. {len(ids)} training pair(s) from your correction "
               f"(weight {corrections.CORRECTION_WEIGHT:g}).", err=True)


@click.command()
@click.argument("translation_id", type=ID)
@click.option("--pick", type=click.Choice(["first", "second", "neither"]),
              help="Which is better (default: asked in a terminal, else nothing is stored).")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1),
              help="The sampling seed (default: a new one each time).")
@click.option("--json", "as_json", is_flag=True)
def another(translation_id, pick, seed, as_json):
    """Translate a history translation once more, differently, and keep which is better
    (a preference for training)."""
    import random

    from engine.pairs import preferences
    from engine.translation import registry
    from engine.translation.translate import Translator

    with open_store() as store:
        row = store.translation(translation_id)
        if row is None:
            raise click.ClickException(f"No translation #{translation_id} in the history.")
        model = store.model(row["model_id"]) if row["model_id"] is not None else None
        if model is None:
            raise click.ClickException(f"The model of #{translation_id} ({row['model_name']}) "
                                       "is gone: translate the text again first.")
        translator = Translator(registry.open_backend(model)).another(
            random.randrange(2**31) if seed is None else seed)
        from engine.pairs.corrections import format_of

        result = translator.translate(row["source_text"], source=row["source_lang"],
                                      target=row["target_lang"], format=format_of(row))
        first, second = row["output_text"].strip(), result.output.strip()
        asked = pick is None and first != second and not as_json and sys.stdin.isatty()
        if asked:
            click.echo(f"1: {first}\n2: {second}")
            pick = {"1": "first", "2": "second"}.get(
                click.prompt("Which is better? 1, 2 or n for neither", default="n"), "neither")
        choice_id = None
        if pick in ("first", "second") and first != second:
            chosen, rejected = (first, second) if pick == "first" else (second, first)
            choice_id = preferences.add_choice(store, row, chosen, rejected)
    if as_json:
        print_json({"id": translation_id, "first": first, "second": second,
                    "same": first == second, "choice_id": choice_id})
        return
    if first == second:
        click.echo("The same words again: nothing to choose (try again).", err=True)
        return
    if not asked:
        click.echo(f"1: {first}\n2: {second}")
    if choice_id is None and pick is None:
        click.echo("Nothing stored: say which is better with --pick first|second.", err=True)
    if choice_id is not None:
        click.echo(f"Saved: the {pick} is better (preference #{choice_id}).", err=True)


COMMANDS = (translate, history, rate, correct, another)
