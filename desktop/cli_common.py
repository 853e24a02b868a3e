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
