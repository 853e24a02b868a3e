"""The models registry: the embedded default, GGUF files, hub downloads, endpoints."""

from __future__ import annotations

import json
import shutil

import pytest

from engine import download
from engine.errors import OwnVoiceError
from engine.translation import registry
from tests.conftest import run_ownvoice
from tests.http_files import FileServer


def test_the_embedded_model_is_registered_and_active_on_first_use(store, default_model):
    rows = registry.list_models(store)
    assert [(r["name"], r["origin"], r["prompt_style"], r["active"]) for r in rows] == [
        ("gemma-3-270m", "default", "completion", True)]
    assert rows[0]["sha256"] == "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    assert rows[0]["size_bytes"] == default_model.stat().st_size


def test_the_embedded_model_is_assembled_when_missing(store):
    row = registry.ensure_default(store)  # no file in this data folder yet: assembles it
    assert row["path"].endswith("gemma-3-270m-q4_k_m.gguf")
    assert download.file_sha256(row["path"]) == row["sha256"]
    assert not list((registry.models_dir()).glob("*.part"))


def test_adding_a_gguf_reads_its_template_and_hash(store, default_model, smol_file):
    row = registry.add(store, str(smol_file), name="smol", base_model="HuggingFaceTB/SmolLM2-135M")
    assert (row["backend"], row["prompt_style"], row["origin"]) == ("llama.cpp", "chat",
                                                                    "imported")
    assert row["sha256"] == download.file_sha256(smol_file)
    assert row["meta"]["architecture"] == "llama"
    assert registry.active(store)["name"] == "gemma-3-270m"
    registry.use(store, "smol")
    assert registry.active(store)["name"] == "smol"
    with pytest.raises(OwnVoiceError, match="exists already"):
        registry.add(store, str(smol_file), name="smol")
    registry.remove(store, "smol")
    assert registry.active(store)["name"] == "gemma-3-270m"  # falls back to the default
    with pytest.raises(OwnVoiceError, match="cannot be removed"):
        registry.remove(store, "gemma-3-270m")
    with pytest.raises(OwnVoiceError, match="No model named 'nope'"):
        registry.use(store, "nope")


def test_endpoints_are_registered_without_keys(store, default_model):
    row = registry.add(store, "openai:gpt-4o-mini")
    assert (row["backend"], row["model_id"], row["base_url"], row["key_name"]) == (
        "openai", "gpt-4o-mini", None, "openai")
    local = registry.add(store, "http://127.0.0.1:9/v1/", model_id="local", name="my-server")
    assert local["base_url"] == "http://127.0.0.1:9/v1"
    with pytest.raises(OwnVoiceError, match="--model-id"):
        registry.add(store, "http://127.0.0.1:9/v1")


def test_a_hub_model_downloads_resumes_after_a_cut_and_is_verified(
        store, default_model, smol_file, tmp_path, monkeypatch):
    repo = tmp_path / "hub" / "someone" / "Small-GGUF" / "resolve" / "main"
    repo.mkdir(parents=True)
    shutil.copy(smol_file, repo / "small.gguf")
    with FileServer(tmp_path / "hub") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        server.cut_after = 3_000_000  # the first response dies after 3 MB
        with pytest.raises(download.DownloadError, match="interrupted|stopped at"):
            registry.add(store, "hf:someone/Small-GGUF/small.gguf")
        part = registry.models_dir() / "small.gguf.part"
        assert part.stat().st_size == 3_000_000
        assert store.model("small") is None  # a partial file is never registered
        seen = []
        row = registry.add(store, "hf:someone/Small-GGUF/small.gguf",
                         progress=lambda done, total: seen.append((done, total)))
        assert server.requests[-1]["range"] == "bytes=3000000-"
    assert row["origin"] == "downloaded" and row["prompt_style"] == "chat"
    assert row["sha256"] == download.file_sha256(smol_file)
    assert seen[-1] == (smol_file.stat().st_size, smol_file.stat().st_size)
    assert not part.exists()


def test_a_damaged_download_is_deleted_not_kept(tmp_path):
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "m.gguf").write_bytes(b"GGUF" + b"\0" * 1000)
    with FileServer(tmp_path / "srv") as server:
        with pytest.raises(download.DownloadError, match="damaged"):
            download.download(f"{server.url}/m.gguf", tmp_path / "out" / "m.gguf",
                              sha256="0" * 64)
        with pytest.raises(download.DownloadError, match="HTTP 404"):
            download.download(f"{server.url}/missing.gguf", tmp_path / "out" / "x.gguf")
    assert not (tmp_path / "out" / "m.gguf").exists()
    assert not (tmp_path / "out" / "m.gguf.part").exists()


def test_hub_names_become_resolve_urls(monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert download.hf_url("bartowski/Qwen2.5-3B-Instruct-GGUF/Qwen2.5-3B-Instruct-Q4_K_M.gguf") \
        == ("https://huggingface.co/bartowski/Qwen2.5-3B-Instruct-GGUF/resolve/main/"
            "Qwen2.5-3B-Instruct-Q4_K_M.gguf")
    with pytest.raises(OwnVoiceError, match="OWNER/REPO/FILE"):
        download.hf_url("just-a-file.gguf")


def test_models_cli(default_model, smol_file):
    listed = json.loads(run_ownvoice("models", "list", "--json").stdout)
    assert [(m["name"], m["backend"], m["origin"], m["active"]) for m in listed] == [
        ("gemma-3-270m", "llama.cpp", "default", True)]
    assert listed[0]["path"].endswith(".gguf") and listed[0]["endpoint"] is None
    run_ownvoice("models", "add", str(smol_file), "--name", "smol", "--use")
    run_ownvoice("models", "add", "http://127.0.0.1:9/v1", "--model-id", "x", "--name", "srv")
    listed = {m["name"]: m for m in json.loads(run_ownvoice("models", "list", "--json").stdout)}
    assert listed["smol"]["active"] and not listed["gemma-3-270m"]["active"]
    assert listed["srv"]["endpoint"] == "http://127.0.0.1:9/v1"
    assert "* smol" in run_ownvoice("models", "list").stdout
    run_ownvoice("models", "use", "gemma-3-270m")
    run_ownvoice("models", "remove", "smol", "--yes")
    names = [m["name"] for m in json.loads(run_ownvoice("models", "list", "--json").stdout)]
    assert names == ["gemma-3-270m", "srv"]
    assert "Qwen2.5-3B-Instruct-Q4_K_M.gguf" in run_ownvoice("models", "recommended").stdout
    missing = run_ownvoice("models", "use", "nope", check=False)
    assert missing.returncode == 1 and "No model named 'nope'" in missing.stderr


def test_a_stopped_download_keeps_its_part_and_resumes(store, default_model, smol_file,
                                                       tmp_path, monkeypatch):
    repo = tmp_path / "hub" / "someone" / "Small-GGUF" / "resolve" / "main"
    repo.mkdir(parents=True)
    shutil.copy(smol_file, repo / "small.gguf")
    chunks = []
    with FileServer(tmp_path / "hub") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        with pytest.raises(download.DownloadError, match="Download stopped"):
            registry.add(store, "hf:someone/Small-GGUF/small.gguf",
                       progress=lambda done, total: chunks.append(done),
                       cancelled=lambda: len(chunks) >= 2)
        part = registry.models_dir() / "small.gguf.part"
        assert part.stat().st_size == chunks[-1] > 0
        row = registry.add(store, "hf:someone/Small-GGUF/small.gguf")
        assert server.requests[-1]["range"] == f"bytes={chunks[-1]}-"
    assert row["sha256"] == download.file_sha256(smol_file)
