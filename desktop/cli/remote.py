"""`ownvoice remote …`: the GPU boxes OwnVoice reaches over SSH."""

from __future__ import annotations

import re
import sys

import click

from desktop.cli.common import Group, count, open_store, print_json


@click.group(cls=Group)
def remote():
    """GPU boxes reached over SSH: add (pinning the host key), list, check, remove."""


@remote.command("add")
@click.argument("name")
@click.option("--host", "target", required=True, help="USER@HOST of the box.")
@click.option("--port", type=click.IntRange(1, 65535), help="SSH port (default 22).")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True),
              help="Private key file (default: the SSH agent, then ~/.ssh).")
@click.option("--fingerprint", help="The box's host key fingerprint (SHA256:…), as its "
                                    "provider shows it. Without it you are asked to confirm.")
@click.option("--python", help="A Python on the box that already has the training stack "
                               "(default: found or set up by OwnVoice).")
@click.option("--root", help="OwnVoice's folder on the box (default: ~/ownvoice).")
@click.option("--processes", type=count(),
              help="Training processes on the box (default: one per GPU).")
@click.option("--env", "environment", multiple=True, metavar="NAME=VALUE",
              help="An environment variable for the box's set-up and jobs, e.g. "
                   "PIP_INDEX_URL=… for a package mirror (repeatable; not for secrets).")
@click.option("--json", "as_json", is_flag=True)
def add(name, target, port, key_file, fingerprint, python, root, processes, environment,
        as_json):
    """Add a box by name; its host key is pinned only once you confirmed it."""
    from remote import hosts

    def confirm(presented: str) -> bool:
        if not sys.stdin.isatty() and as_json:
            return False
        click.echo(f"The box presents the host key {presented}.", err=True)
        return click.confirm("Is that the box's fingerprint (compare it with your "
                             "provider's console or `ssh-keygen -lf` on the box)?",
                             default=False, err=True)

    with open_store() as store:
        row = hosts.add(store, name, target, port=port, key_file=key_file,
                        fingerprint=fingerprint, confirm=confirm,
                        meta={k: v for k, v in (("python", python), ("root", root),
                                                ("processes", processes),
                                                ("environment", _environment(environment)))
                              if v})
    if as_json:
        print_json(_json_row(row))
        return
    click.echo(f"Added {row['name']}: {row['user']}@{row['host']}:{row['port']}, host key "
               f"{row['fingerprint']} pinned. Check it with: ownvoice remote check {name}")


def _environment(pairs: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE.", param_hint="--env")
        found[name] = value
    return found


def _json_row(row: dict) -> dict:
    return {key: row[key] for key in ("name", "user", "host", "port", "key_file",
                                      "fingerprint", "origin", "meta")}


@remote.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json):
    """The boxes you added."""
    with open_store() as store:
        rows = store.hosts()
    if as_json:
        print_json([_json_row(r) for r in rows])
        return
    if not rows:
        click.echo("No remote hosts yet: ownvoice remote add NAME --host USER@HOST")
    for row in rows:
        click.echo(f"{row['name']:<16} {row['user']}@{row['host']}:{row['port']}  "
                   f"{row['fingerprint']}")


@remote.command("check")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def check(name, as_json):
    """Connect and report the box's architecture, GPU, free disk, Python and torch."""
    from remote import hosts
    from remote.session import Session

    with open_store() as store:
        host = hosts.get(store, name)
    with Session(host) as session:
        report = hosts.check(session)
    if as_json:
        print_json(report)
        return
    gpus = ", ".join(report["gpu"] or []) or "none found (nvidia-smi missing or no GPU)"
    click.echo(f"{name}: {report['arch']}, Python {report['python'] or 'missing'}, "
               f"{report['disk_free_gb']} GB free\nGPU: {gpus}\n"
               f"torch: {report['torch'] or 'not installed (it will be)'}")


@remote.command("remove")
@click.argument("name")
def remove(name):
    """Forget a box and its pinned host key."""
    from remote import hosts
    from remote.session import unpin

    with open_store() as store:
        host = hosts.get(store, name)
        store.remove_host(name)
    unpin(host)
    click.echo(f"Removed {name}.")


@remote.command("lambda-types")
@click.option("--json", "as_json", is_flag=True)
def lambda_types(as_json):
    """Lambda Cloud instance types with live prices and the regions with capacity now."""
    from remote.cloud import LambdaCloud

    types = LambdaCloud.from_keyring().instance_types()
    if as_json:
        print_json([{"name": t.name, "gpu": t.gpu, "gpus": t.gpus,
                     "usd_per_hour": t.usd_per_hour, "regions": list(t.regions)}
                    for t in types])
        return
    for t in types:
        where = ", ".join(t.regions) or "no capacity now"
        click.echo(f"{t.name:<22} ${t.usd_per_hour:>6.2f}/h  {t.gpu:<24} {where}")


COMMANDS = (remote,)
