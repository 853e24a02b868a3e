"""Starting the app: the window, its screenshot option, and a box without a screen."""

from __future__ import annotations

import os
import struct
import subprocess
import sys

from tests.conftest import BIN, ROOT, run_ownvoice


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


def test_gui_screenshot_writes_a_png_of_the_window(tmp_path, default_model):
    shot = tmp_path / "window.png"
    run_ownvoice("gui", "--screenshot", str(shot), "--page", "corpus",
                 env={"QT_QPA_PLATFORM": "offscreen"})
    width, height = png_size(shot.read_bytes())
    assert width >= 800 and height >= 600


def test_gui_without_a_screen_explains_instead_of_crashing():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([str(BIN / "ownvoice"), "gui"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 1
    assert "No screen to open a window on" in result.stderr


def test_the_window_starts_without_torch_or_llama_cpp(default_model):
    """Start-up stays light: the ML stack and llama.cpp load only when needed."""
    code = ("import sys; from desktop.app import make_app; from desktop.main_window import "
            "MainWindow; from engine.store import Store; app = make_app(); "
            "w = MainWindow(Store()); w.runner.wait(); "
            "bad = [m for m in ('torch', 'transformers', 'llama_cpp') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120, env={**os.environ,
                                                        "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stdout + result.stderr
