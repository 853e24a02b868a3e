"""`ownvoice models …` and `ownvoice keys …`: which models translate, and their API keys."""

from __future__ import annotations

import sys

import click

from desktop.cli.common import Group, open_store, print_json, warn_retiring


def _where(row: dict) -> str:
    if row["backend"] == "llama.cpp":
        return row["path"]
    return f"{row['base_url'] or 'https://api.openai.com/v1'} ({row['model_id']})"


def _json_row(row: dict) -> dict:
    return {"name": row["name"], "backend": row["backend"], "path": row["path"],
            "endpoint": row["base_url"] if row["backend"] == "openai" else None,
            "model_id": row["model_id"], "origin": row["origin"], "active": row.get("active"),
            "sha256": row["sha256"], "size_bytes": row["size_bytes"],
            "prompt_style": row["prompt_style"], "base_model": row["base_model"],
            "source_lang": row["source_lang"], "target_lang": row["target_lang"],
            "job_id": row["job_id"], "unverified": (row.get("meta") or {}).get("unverified"),
            "shutdown_date": row.get("shutdown_date"), "retired": row.get("retired", False)}


@click.group(cls=Group)
def models():
    """The models that translate: list, add, choose, remove."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json):
    """Installed models; * marks the active one."""
    from engine.translation import registry

    with open_store() as store:
        warn_retiring(store)
        rows = registry.list_models(store)
    if as_json:
        print_json([_json_row(r) for r in rows])
        return
    for row in rows:
        size = f"{row['size_bytes'] / 1e6:,.0f} MB" if row["size_bytes"] else ""
        ends = (f"  [retired {row['shutdown_date']}]" if row["retired"] else
                f"  [shuts down {row['shutdown_date']}]" if row["shutdown_date"] else "")
        click.echo(f"{'*' if row['active'] else ' '} {row['name']:<28} "
                   f"{registry.origin_label(row):<11} "
                   f"{row['prompt_style']:<10} {size:>9}  {_where(row)}{ends}")


@models.command()
@click.argument("spec", metavar="PATH_OR_ID")
@click.option("--name", help="Name in the registry (default: from the file or model id).")
@click.option("--model-id", help="The endpoint's model name (for a base URL).")
@click.option("--key", "key_name", help="Keyring entry with the endpoint's API key.")
@click.option("--base", "base_model", help="The base model it was made from.")
@click.option("--from", "source_lang", help="Source language it was trained for.")
@click.option("--to", "target_lang", help="Target language it was trained for.")
@click.option("--sha256", help="Expected sha256 of a downloaded file.")
@click.option("--use", "make_active", is_flag=True, help="Make it the active model.")
def add(spec, name, model_id, key_name, base_model, source_lang, target_lang, sha256,
        make_active):
    """Add a model: a GGUF file, hf:OWNER/REPO/FILE.gguf, an https URL of a GGUF,
    openai:MODEL, or an OpenAI-compatible base URL with --model-id.

    \b
      ownvoice models add ~/models/my-voice-q4_k_m.gguf
      ownvoice models add hf:bartowski/Qwen2.5-3B-Instruct-GGUF/Qwen2.5-3B-Instruct-Q4_K_M.gguf
      ownvoice models add openai:gpt-4o
      ownvoice models add http://127.0.0.1:8080/v1 --model-id local --name my-server
    """
    from engine.translation import registry

    show = sys.stderr.isatty()

    def progress(done: int, total: int | None) -> None:
        if show:
            of = f" of {total / 1e6:,.0f}" if total else ""
            click.echo(f"\rDownloading {done / 1e6:,.0f}{of} MB", nl=False, err=True)

    with open_store() as store:
        row = registry.add(store, spec, name=name, model_id=model_id, key_name=key_name,
                           base_model=base_model, source_lang=source_lang,
                           target_lang=target_lang, sha256=sha256, progress=progress)
        if make_active:
            registry.use(store, row["name"])
    if show and spec.startswith(("hf:", "http")):
        click.echo("", err=True)
    click.echo(f"Added {row['name']} ({row['backend']}, {row['prompt_style']} prompts)."
               + ("" if make_active else f" Use it with: ownvoice models use {row['name']}"))


@models.command()
@click.argument("name")
def use(name):
    """Make NAME the model that translates by default."""
    from engine.translation import registry

    with open_store() as store:
        row = registry.use(store, name)
    click.echo(f"{row['name']} is now the active model.")
    if (row.get("meta") or {}).get("unverified"):
        click.echo(f"Note: {row['name']} is unverified: {row['meta']['unverified']}", err=True)


@models.command()
@click.argument("name")
@click.option("--delete-file", is_flag=True, help="Also delete a file OwnVoice downloaded.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove(name, delete_file, yes):
    """Remove a model from the registry."""
    from engine.translation import registry

    if not yes:
        click.confirm(f"Remove {name}?", abort=True)
    with open_store() as store:
        registry.remove(store, name, delete_file=delete_file)
    click.echo(f"Removed {name}.")


@models.command()
def recommended():
    """Models worth downloading, and the command that adds each."""
    from engine.translation import registry

    for item in registry.RECOMMENDED:
        click.echo(f"{item['name']} ({item['size']}): {item['about']}\n"
                   f"  ownvoice models add {item['spec']} --name {item['name']} --use")


@click.group(cls=Group)
def keys():
    """API keys, kept in the OS keyring (never in the database or files)."""


@keys.command("set")
@click.argument("name")
def set_key(name):
    """Store the API key NAME (e.g. openai); it is read from a hidden prompt or stdin."""
    from engine.secrets import set_secret

    value = click.prompt(f"API key for {name}", hide_input=True) if sys.stdin.isatty() \
        else sys.stdin.readline().strip()
    if not value:
        raise click.UsageError("The key is empty.")
    set_secret(name, value)
    click.echo(f"Stored the key {name!r} in the OS keyring.")


@keys.command("delete")
@click.argument("name")
def delete_key(name):
    """Forget the API key NAME."""
    from engine.secrets import delete_secret

    click.echo(f"Deleted {name!r}." if delete_secret(name) else f"No key named {name!r}.")


COMMANDS = (models, keys)
