"""The package boundaries of shared/ARCHITECTURE.md, checked on the source itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"torch", "transformers", "peft", "accelerate", "trl", "datasets"}
# Modules allowed to import the ML stack (lazily, inside functions).
TRAINING_MODULES = {"engine/train.py", "engine/export.py", "engine/training/loop.py",
                    "engine/training/data.py", "engine/training/choose.py",
                    "engine/training/base.py", "engine/training/checkpoint.py",
                    "engine/training/progress.py",
                    "remote/runner.py"}  # runs on the GPU box, inside its training env


def imports_of(path: Path) -> list[tuple[str, bool]]:
    """(top-level package name, imported at module level?) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(name.split(".")[0], id(node) in top_level) for name in names]
    return found


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_engine_and_remote_never_import_qt_or_the_desktop():
    for package, forbidden in (("engine", {"PySide6", "desktop", "remote"}),
                               ("remote", {"PySide6", "desktop"})):
        for path in python_files(package):
            bad = {name for name, _ in imports_of(path)} & forbidden
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_ml_stack_is_imported_lazily_and_only_by_training_code():
    for package in ("engine", "remote", "desktop"):
        for path in python_files(package):
            rel = path.relative_to(ROOT).as_posix()
            for name, at_top in imports_of(path):
                if name in HEAVY:
                    assert rel in TRAINING_MODULES and not at_top, f"{rel} imports {name}"


def test_cli_and_engine_start_without_qt_or_torch():
    code = ("import sys, desktop.cli, engine.store, engine.corpus.importer;"
            "bad = [m for m in ('PySide6', 'torch', 'transformers') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sql_lives_in_the_store_and_migrations():
    for path in python_files("engine") + python_files("desktop") + python_files("remote"):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ("engine/store.py", "engine/migrations.py"):
            continue
        source = path.read_text(encoding="utf-8")
        for keyword in ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM", "CREATE TABLE"):
            assert keyword not in source, f"{rel} holds SQL ({keyword.strip()})"
