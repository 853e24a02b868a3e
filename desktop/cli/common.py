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


class Group(click.Group):
    """Shows the engine's errors as `Error: <what happened and what to do>`, exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OwnVoiceError as exc:
            raise click.ClickException(str(exc)) from exc


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
