"""llama.cpp's HF → GGUF converter, from the same llama-cpp-python version that runs the
model (a converter of another version is the classic cause of "Can not map tensor").

The converter is not in the llama-cpp-python wheel but is in its source distribution:
`ensure_converter` downloads that once from PyPI and keeps convert_hf_to_gguf.py, its
conversion/ package and its own gguf-py in a cache folder. `make` does it at install time.
Standard library only: tools/llama_wheel.py runs this before OwnVoice is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "0.3.36"  # the same as the llama-cpp-python OwnVoice runs (pyproject.toml)
_KEEP = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def converter_dir() -> Path:
    override = os.environ.get("OWNVOICE_CONVERTER_DIR")
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "ownvoice" / "llama-cpp-python" / f"converter-{VERSION}"


def converter_script() -> Path:
    return converter_dir() / "convert_hf_to_gguf.py"


def ensure_converter(*, quiet: bool = False) -> Path:
    """The converter script, fetched from PyPI's llama-cpp-python sdist the first time."""
    script = converter_script()
    if script.exists():
        return script
    target = converter_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f">> Fetching llama.cpp's GGUF converter (llama-cpp-python {VERSION} source, "
              "~75 MB, once)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
             "--quiet", "--disable-pip-version-check", "-d", tmp,
             f"llama-cpp-python=={VERSION}"], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError("Could not download llama-cpp-python's source to get the GGUF "
                               f"converter: {result.stderr.strip()[-500:]}")
        archive = next(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        staging = Path(tmp) / "converter"
        prefix = f"llama_cpp_python-{VERSION}/vendor/llama.cpp/"
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if not member.name.startswith(prefix) or not member.isfile():
                    continue
                relative = member.name[len(prefix):]
                if relative.startswith(_KEEP):
                    destination = staging / relative
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(member) as source, destination.open("wb") as out:
                        shutil.copyfileobj(source, out)
        if not (staging / "convert_hf_to_gguf.py").exists():
            raise RuntimeError("The llama-cpp-python source has no convert_hf_to_gguf.py.")
        partial = target.with_name(target.name + ".part")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.move(str(staging), partial)
        os.replace(partial, target)  # complete or absent, never half there
    return script
