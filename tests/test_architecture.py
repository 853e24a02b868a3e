"""The package boundaries of shared/ARCHITECTURE.md, checked on the source itself.

engine/ is one package per stretch of the loop, and imports run one way:

    evaluation, training → pairs → translation → corpus → store → the shared ground

(`remote` may import `engine`; `desktop` may import both.) Lazy imports inside functions
count: an arrow against the grain is an arrow whenever it runs.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("engine", "remote", "desktop")
HEAVY = {"torch", "transformers", "peft", "accelerate", "trl", "datasets"}
# Modules allowed to import the ML stack (lazily, inside functions).
TRAINING_MODULES = {"engine/training/__main__.py", "engine/training/export.py",
                    "engine/training/loop.py", "engine/training/data.py",
                    "engine/training/choose.py", "engine/training/base.py",
                    "engine/training/checkpoint.py", "engine/training/progress.py",
                    "engine/training/dpo.py",
                    "engine/training/tinker.py",  # a base's tokenizer, for Tinker's datums
                    "engine/training/mlx_lora/fuse.py",  # the fused model's tokenizer
                    "engine/training/mlx_lora/choose.py",  # the adapters' tokenizers
                    "engine/training/mlx_target.py",  # the pairs' lengths in the base's tokens
                    "remote/runner.py"}  # runs on the GPU box, inside its training env
# The rooms, lowest first. A module may import its own room and any room of a lower rank;
# rooms of equal rank (training, evaluation) never import each other.
ROOMS = {"engine": 0,  # the shared ground: errors, paths, secrets, languages, download, llm…
         "engine.store": 1, "engine.corpus": 2, "engine.translation": 3, "engine.pairs": 4,
         "engine.training": 5, "engine.evaluation": 5, "remote": 6, "desktop": 7}


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for package in PROJECT for p in python_files(package)}


def imports_of(path: Path) -> list[tuple[str, bool]]:
    """(imported module's full name, imported at module level?) for every import in a
    file; `from package import name` names the submodule when `name` is one."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base
                                                                             else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                     for a in node.names]
        else:
            continue
        found += [(name, id(node) in top_level) for name in names if name]
    return found


def room(module: str) -> str:
    best = ""
    for name in ROOMS:
        if (module == name or module.startswith(name + ".")) and len(name) > len(best):
            best = name
    return best


def graph() -> dict[str, set[str]]:
    return {name: {m for m, _ in imports_of(path) if m in MODULES and m != name}
            for name, path in MODULES.items()}


def test_engine_and_remote_never_import_qt_or_the_desktop():
    for package, forbidden in (("engine", {"PySide6", "desktop", "remote"}),
                               ("remote", {"PySide6", "desktop"})):
        for path in python_files(package):
            bad = {name.split(".")[0] for name, _ in imports_of(path)} & forbidden
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_imports_run_one_way_between_the_rooms():
    against = []
    for name, targets in graph().items():
        mine = room(name)
        for target in targets:
            theirs = room(target)
            if theirs != mine and ROOMS[theirs] >= ROOMS[mine]:
                against.append(f"{name} → {target}")
    assert not against, "imports against the grain:\n" + "\n".join(sorted(against))


def test_the_rooms_are_checked_on_every_module():
    """Every engine module outside the shared ground lives in a room of its own."""
    shared = sorted(n for n in MODULES if room(n) == "engine")
    assert shared == ["engine", "engine.download", "engine.errors", "engine.events", "engine.files",
                      "engine.jobs", "engine.jsonl", "engine.languages", "engine.llm",
                      "engine.openai_models", "engine.paths", "engine.retry_after",
                      "engine.secrets"], shared


def test_there_is_no_import_cycle_anywhere():
    edges = graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_the_ml_stack_is_imported_lazily_and_only_by_training_code():
    for package in PROJECT:
        for path in python_files(package):
            rel = path.relative_to(ROOT).as_posix()
            for name, at_top in imports_of(path):
                if name.split(".")[0] in HEAVY:
                    assert rel in TRAINING_MODULES and not at_top, f"{rel} imports {name}"


def test_mlx_lives_in_its_package_which_is_imported_lazily():
    """engine/training/mlx_lora/ imports MLX at the top of its modules; anywhere else MLX and
    that package are imported only inside functions (a Mac that only translates never
    loads MLX, and a Linux box without it never tries)."""
    package = "engine.training.mlx_lora"
    for name, path in MODULES.items():
        inside = name == package or name.startswith(package + ".")
        for imported, at_top in imports_of(path):
            lazy_only = imported.split(".")[0] in ("mlx", "mlx_lm") or (
                imported.startswith(package + ".") and imported != package)
            assert inside or not (lazy_only and at_top), (
                f"{name} imports {imported} at module level")


def test_cli_and_engine_start_without_qt_or_torch():
    code = ("import sys, desktop.cli, engine.store, engine.corpus.importer;"
            "bad = [m for m in ('PySide6', 'torch', 'transformers') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sql_lives_in_the_store():
    for path in python_files("engine") + python_files("desktop") + python_files("remote"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("engine/store/"):
            continue
        source = path.read_text(encoding="utf-8")
        for keyword in ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM", "CREATE TABLE"):
            assert keyword not in source, f"{rel} holds SQL ({keyword.strip()})"
