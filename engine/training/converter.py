"""llama.cpp's HF → GGUF converter, from the same llama-cpp-python version that runs the
model (a converter of another version is the classic cause of "Can not map tensor").

The converter is not in the llama-cpp-python wheel but is in its source distribution:
`ensure_converter` downloads that once from PyPI and keeps convert_hf_to_gguf.py, its
conversion/ package and its own gguf-py in a cache folder. `make` does it at install time.
The sdist is pinned by its sha256 (pip's hash-checking mode refuses any other file), and
only regular files under the converter's folders are taken from it: no links, no absolute
names, no `..`. Standard library only: tools/llama_wheel.py runs this before OwnVoice is
installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from engine.errors import OwnVoiceError

VERSION = "0.3.36"  # the same as the llama-cpp-python OwnVoice runs (pyproject.toml)
# sha256 of llama_cpp_python-0.3.36.tar.gz as PyPI publishes it (76,589,250 bytes).
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
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
        archive = download_sdist(Path(tmp))
        staging = Path(tmp) / "converter"
        extract(archive, staging)
        if not (staging / "convert_hf_to_gguf.py").exists():
            raise ConverterError("The llama-cpp-python source has no convert_hf_to_gguf.py.")
        partial = target.with_name(target.name + ".part")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.move(str(staging), partial)
        os.replace(partial, target)  # complete or absent, never half there
    return script


class ConverterError(OwnVoiceError):
    """The GGUF converter could not be fetched or unpacked."""


def pinned_requirement() -> str:
    """The sdist as a hash-pinned requirement line (pip's --require-hashes mode)."""
    return f"llama-cpp-python=={VERSION} --hash=sha256:{SDIST_SHA256}\n"


def download_sdist(folder: Path) -> Path:
    """llama-cpp-python's sdist into `folder`, refused by pip unless its sha256 is
    SDIST_SHA256. Raises ConverterError (no network, another file)."""
    requirements = folder / "requirements.txt"
    requirements.write_text(pinned_requirement())
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
         "--require-hashes", "--quiet", "--disable-pip-version-check", "-d", str(folder),
         "-r", str(requirements)], capture_output=True, text=True)
    if result.returncode != 0:
        why = result.stderr.strip()
        if "THESE PACKAGES DO NOT MATCH THE HASHES" in why:
            why = (f"the file offered is not the llama-cpp-python {VERSION} source PyPI "
                   "publishes (its sha256 differs); check your package index or proxy")
        raise ConverterError("Could not download llama-cpp-python's source to get the GGUF "
                             f"converter: {why[-500:]}")
    return next(folder.glob("llama_cpp_python-*.tar.gz"))


def extract(archive: Path, staging: Path) -> None:
    """The converter's files from the sdist into `staging`: regular files under
    vendor/llama.cpp/{convert_hf_to_gguf.py, conversion/, gguf-py/} only."""
    prefix = f"llama_cpp_python-{VERSION}/vendor/llama.cpp/"
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = PurePosixPath(member.name)
            if name.is_absolute() or ".." in name.parts:
                raise ConverterError(f"The llama-cpp-python source holds a file named "
                                     f"{member.name!r}, outside its own folder; refused.")
            if not member.name.startswith(prefix) or not member.isfile():
                continue
            relative = member.name[len(prefix):]
            if relative.startswith(_KEEP):
                destination = staging / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, destination.open("wb") as out:
                    shutil.copyfileobj(source, out)
