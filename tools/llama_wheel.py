"""Build (once) and install the llama-cpp-python wheel that suits this machine.

    python tools/llama_wheel.py            # build if needed, then install into this Python

llama-cpp-python is source-only on PyPI: pip compiles llama.cpp (about 5 minutes on
2 cores). We build it ourselves, with flags we choose, into a cache folder named after
those flags, because pip's own wheel cache ignores CMAKE_ARGS and would hand back a
wheel built with other flags.

Why flags: a `-march=native` build on an x86 CPU that reports AMX (Sapphire Rapids and
later) uses ggml's AMX kernels, which crash with a segmentation fault in virtual
machines that do not let the process use AMX tiles. We keep every other native
instruction (AVX-512, VNNI…) and switch AMX off. Apple Silicon gets the default
build, which uses Metal. Set OWNVOICE_LLAMA_CMAKE_ARGS to choose other flags.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path

VERSION = "0.3.36"  # keep in step with pyproject.toml (the GGUF converter must match it)
_NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"


def cmake_args() -> str:
    if "OWNVOICE_LLAMA_CMAKE_ARGS" in os.environ:
        return os.environ["OWNVOICE_LLAMA_CMAKE_ARGS"]
    if platform.machine().lower() in ("x86_64", "amd64"):
        return f"-DGGML_NATIVE=ON -DCMAKE_C_FLAGS='{_NO_AMX}' -DCMAKE_CXX_FLAGS='{_NO_AMX}'"
    return ""


def cache_dir(args: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    key = hashlib.sha256(f"{VERSION} {platform.machine()} {sys.version_info[:2]} {args}"
                         .encode()).hexdigest()[:16]
    return base / "ownvoice" / "llama-cpp-python" / key


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # engine/, not installed yet
    args = cmake_args()
    folder = cache_dir(args)
    wheels = sorted(folder.glob(f"llama_cpp_python-{VERSION}-*.whl"))
    if not wheels:
        print(f">> Compiling llama.cpp for llama-cpp-python {VERSION} "
              f"(about 5 minutes on 2 cores, once per machine)", flush=True)
        print(f"   CMAKE_ARGS={args or '(defaults)'}", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        from engine.training.converter import pinned_requirement

        pinned = folder / "requirements.txt"  # the sdist PyPI publishes, by its sha256
        pinned.write_text(pinned_requirement())
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir",
             "--require-hashes", "--progress-bar", "off", "--wheel-dir", str(folder),
             "-r", str(pinned)],
            env={**os.environ, "CMAKE_ARGS": args}, check=True)
        wheels = sorted(folder.glob(f"llama_cpp_python-{VERSION}-*.whl"))
    else:
        print(f">> Using the llama-cpp-python {VERSION} wheel built earlier in {folder}")
    # --force-reinstall: a wheel of the same version built with other flags may be there.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--force-reinstall", "--disable-pip-version-check", str(wheels[-1])],
                   check=True)
    # The GGUF converter of the same version, for exporting fine-tuned models.
    from engine.training.converter import ensure_converter

    print(f">> GGUF converter: {ensure_converter()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
