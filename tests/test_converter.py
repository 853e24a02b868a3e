"""llama.cpp's GGUF converter comes from one pinned file: the llama-cpp-python sdist whose
sha256 PyPI publishes. Another file is refused by pip's hash check, and nothing outside the
converter's own folders is ever written from the archive."""

from __future__ import annotations

import io
import sys
import tarfile

import pytest

from engine.training import converter

PREFIX = f"llama_cpp_python-{converter.VERSION}/vendor/llama.cpp/"


def sdist(path, members: dict[str, bytes], links: dict[str, str] | None = None):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def test_only_the_converters_regular_files_are_taken(tmp_path):
    archive = sdist(tmp_path / "a.tar.gz", {
        PREFIX + "convert_hf_to_gguf.py": b"print('converter')\n",
        PREFIX + "conversion/models.py": b"X = 1\n",
        PREFIX + "gguf-py/gguf/__init__.py": b"",
        PREFIX + "Makefile": b"all:\n",
        "llama_cpp_python-0.3.36/setup.py": b""},
        links={PREFIX + "conversion/evil.py": "/etc/passwd"})
    converter.extract(archive, tmp_path / "out")
    found = sorted(p.relative_to(tmp_path / "out").as_posix()
                   for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert found == ["conversion/models.py", "convert_hf_to_gguf.py", "gguf-py/gguf/__init__.py"]
    assert not (tmp_path / "out" / "conversion" / "evil.py").exists()


@pytest.mark.parametrize("name", [PREFIX + "conversion/../../../../escape.py",
                                  "/tmp/ownvoice-absolute.py"])
def test_names_that_leave_the_folder_are_refused(tmp_path, name):
    archive = sdist(tmp_path / "a.tar.gz", {PREFIX + "convert_hf_to_gguf.py": b"",
                                            name: b"owned\n"})
    with pytest.raises(converter.ConverterError, match="outside its own folder"):
        converter.extract(archive, tmp_path / "deep" / "out")
    assert not list(tmp_path.rglob("escape.py"))


def test_an_sdist_with_another_sha256_is_refused(tmp_path, monkeypatch):
    """A package index (a mirror, a proxy) that serves another file under the same name."""
    links = tmp_path / "index"
    links.mkdir()
    sdist(links / f"llama_cpp_python-{converter.VERSION}.tar.gz",
          {PREFIX + "convert_hf_to_gguf.py": b"import os; os.system('touch pwned')\n"})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    with pytest.raises(converter.ConverterError, match="sha256 differs"):
        (tmp_path / "download").mkdir()
        converter.download_sdist(tmp_path / "download")
    assert "--hash=sha256:" + converter.SDIST_SHA256 in converter.pinned_requirement()


def test_the_pin_names_the_version_the_app_runs():
    from importlib import metadata

    assert metadata.version("llama-cpp-python") == converter.VERSION
    sys.path.insert(0, str(converter.Path(__file__).resolve().parent.parent / "tools"))
    import llama_wheel

    assert llama_wheel.VERSION == converter.VERSION
