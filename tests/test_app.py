"""The desktop window opens, shows the corpus, and renders to a PNG for screenshots."""

from __future__ import annotations

import os
import struct
import subprocess

from engine.corpus import importer
from tests.conftest import BIN, run_ownvoice


def test_window_shows_an_empty_corpus_guide(qtbot, store):
    from desktop.app import MainWindow

    window = MainWindow(store)
    qtbot.addWidget(window)
    window.show()
    assert window.windowTitle() == "OwnVoice"
    assert "corpus is empty" in window.summary.text()


def test_window_shows_what_was_imported(qtbot, store, blog):
    from desktop.app import MainWindow

    importer.import_paths(store, [blog])
    window = MainWindow(store)
    qtbot.addWidget(window)
    assert "<b>12</b> documents" in window.summary.text()


def test_gui_screenshot_writes_a_png_of_the_window(tmp_path):
    shot = tmp_path / "window.png"
    run_ownvoice("gui", "--screenshot", str(shot), env={"QT_QPA_PLATFORM": "offscreen"})
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 600 and height >= 400


def test_gui_without_a_screen_explains_instead_of_crashing():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([str(BIN / "ownvoice"), "gui"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 1
    assert "No screen to open a window on" in result.stderr
