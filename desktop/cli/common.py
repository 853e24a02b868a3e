"""What every `ownvoice` command shares: the store, JSON output, error display."""

from __future__ import annotations

import json

import click

from engine.errors import OwnVoiceError


def open_store():
    from engine.store import Store

    return Store()


def print_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def warn_retiring(store, *, also: tuple[str, ...] = (), base_url: str | None = None,
                  only: tuple[str, ...] | None = None) -> list:
    """Warn on stderr (one line each) about the endpoint models that shut down within 90
    days or have (registered ones, and `also` served at `base_url`; just the model ids in
    `only` when given); returns them. The dates are read from the servers at most once a
    day; nothing here fails a command."""
    from engine.translation import registry

    notices = registry.refresh_shutdowns(store, also=also, base_url=base_url)
    if only is not None:
        notices = [n for n in notices if n.model in only]
    for notice in notices:
        click.echo(f"Warning: {notice.message()}", err=True)
    return notices


class Group(click.Group):
    """Shows the engine's errors as `Error: <what happened and what to do>`, exit 1; so is
    a write the data folder refuses (a read-only folder), wherever it happens."""

    def invoke(self, ctx: click.Context):
        from engine.paths import refused_write

        try:
            return super().invoke(ctx)
        except OwnVoiceError as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:
            problem = refused_write(exc)
            if problem is None:
                raise
            raise click.ClickException(str(problem)) from exc


class EventPrinter:
    """The one progress printer of the training commands: a progress line for steps (on a
    terminal), a line for each stage, checkpoint and log event; nothing with --json."""

    def __init__(self, as_json: bool):
        import sys

        self.as_json = as_json
        self.live = sys.stderr.isatty() and not as_json
        self.stage: tuple[str, str] | None = None

    def __call__(self, event) -> None:
        from engine import events

        if self.as_json:
            return
        if isinstance(event, events.Step):
            if self.live:
                eta = f", ETA {event.eta_s:.0f} s" if event.eta_s else ""
                click.echo(f"\rstep {event.step}/{event.total_steps} · loss {event.loss:.3f} · "
                           f"{event.tokens_per_s:.0f} tokens/s{eta}", nl=False, err=True)
            return
        line = events.describe(event)
        if isinstance(event, events.Stage):  # a rented box repeats its stage with its cost
            if (event.stage, event.detail) == self.stage:
                return
            self.stage = (event.stage, event.detail)
        if line:
            click.echo(("\n" if self.live else "") + line, err=True)


# Every whole number from the command line ends up in SQLite (an id, a LIMIT) or in a loop:
# bounded by SQLite's INTEGER, so 2**63 is a usage error, not an OverflowError.
SQLITE_MAX_INT = 2**63 - 1


def count(min: int = 1, max: int = SQLITE_MAX_INT) -> click.IntRange:  # noqa: A002
    """A whole-number option or argument between `min` and `max` (inclusive)."""
    return click.IntRange(min=min, max=max)


ID = count()
