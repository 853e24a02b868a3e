"""Every test gets its own OwnVoice data folder; Qt runs offscreen; nothing reaches a hub."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def ownvoice_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ownvoice-home"
    monkeypatch.setenv("OWNVOICE_HOME", str(home))
    return home


@pytest.fixture
def store(ownvoice_home: Path):
    from engine.store import Store

    with Store() as opened:
        yield opened


@pytest.fixture
def blog(tmp_path: Path) -> Path:
    """A small blog in every format the importer reads, with its awkward cases."""
    from tests.blog import write_blog

    return write_blog(tmp_path / "blog")


def run_ownvoice(*args: str, input: str | None = None, check: bool = True,
                 env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed `ownvoice` command as a user would."""
    result = subprocess.run([str(BIN / "ownvoice"), *args], capture_output=True, text=True,
                            input=input, env={**os.environ, **(env or {})}, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"ownvoice {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result
