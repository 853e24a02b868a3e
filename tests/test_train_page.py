"""The Train page, driven as a user would: train here with a live loss curve, train on a box
over SSH (a real sshd on loopback), and re-attach to a job after the app restarts."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from PySide6.QtGui import QColor

from desktop.main_window import MainWindow
from desktop.views.loss_plot import TRAIN, VAL, LossPlot
from engine import events
from engine.jobs import JobState
from tests.conftest import run_ownvoice
from tests.sshd import SSHServer
from tests.test_finetune import add_correction_pairs


def colour_present(image, colour: QColor) -> bool:
    for x in range(0, image.width(), 2):
        for y in range(0, image.height(), 2):
            pixel = image.pixelColor(x, y)
            if (abs(pixel.red() - colour.red()) < 20 and abs(pixel.green() - colour.green()) < 20
                    and abs(pixel.blue() - colour.blue()) < 20):
                return True
    return False


def test_the_loss_plot_draws_training_and_validation(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(500, 260)
    assert not colour_present(plot.grab().toImage(), TRAIN)
    plot.add(events.Evaluation(step=0, total_steps=4, val_loss=3.0, base=True))
    for step, loss in enumerate((2.9, 2.4, 2.0, 1.7), 1):
        plot.add(events.Step(step=step, total_steps=4, epoch=step / 4, loss=loss, lr=1e-3,
                             tokens_per_s=100.0, elapsed_s=float(step)))
    plot.add(events.Checkpoint(step=2, total_steps=4, val_loss=2.5, path="c2"))
    plot.add(events.Checkpoint(step=4, total_steps=4, val_loss=2.1, path="c4"))
    plot.add(events.Log(message="not a point", step=4))
    assert plot.train[-1] == (4, 1.7) and plot.val == [(2, 2.5), (4, 2.1)] and plot.base == 3.0
    image = plot.grab().toImage()
    assert colour_present(image, TRAIN) and colour_present(image, VAL)


@pytest.fixture
def window(qtbot, store, default_model):
    win = MainWindow(store)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.runner.cancel_all()
    win.runner.wait(120000)


@pytest.mark.parametrize("target", ["local", pytest.param("mac", marks=pytest.mark.skipif(
    importlib.util.find_spec("mlx_lm") is None, reason="MLX is not installed"))])
def test_training_here_shows_the_curve_and_registers_the_model(qtbot, window, store,
                                                               tiny_base, target):
    """With PyTorch ("This machine") and with MLX ("This Mac (MLX)", offered where MLX
    imports)."""
    add_correction_pairs(store)
    page = window.train_page
    window.show_page(3)
    assert window.pages.currentWidget() is page
    page.target.setCurrentIndex(page.target.findData(target))
    assert page.target.currentData() == target
    page.base.setText(str(tiny_base))
    page.steps.setValue(4)
    page.learning_rate.setValue(0.001)
    page.quant.setCurrentText("Q8_0")
    assert not page.cloud_box.isVisible()
    page.train_button.click()
    qtbot.waitUntil(lambda: page.task is None and "Registered" in page.status.text(),
                    timeout=300000)
    assert [step for step, _ in page.plot.train] == [1, 2, 3, 4]
    assert "checkpoint at step 4" in page.log.toPlainText()
    assert store.model("voice-1")["origin"] == "fine-tuned"
    combo = window.translate_page.model_combo
    qtbot.waitUntil(lambda: any("voice-1" in combo.itemText(i) for i in range(combo.count())),
                    timeout=10000)
    assert page.jobs.count() == 1 and "done" in page.jobs.item(0).text()
    assert store.job(1).kind.value == target


def test_a_lambda_target_asks_for_its_ssh_key(window):
    page = window.train_page
    window.show_page(3)
    page.target.setCurrentIndex(page.target.findData("lambda"))
    assert page.cloud_box.isVisible()
    page.train_button.click()
    assert "SSH key" in page.status.text() and page.task is None


def test_a_tinker_target_asks_for_its_key_and_a_base_it_trains(qtbot, window, store,
                                                                monkeypatch):
    add_correction_pairs(store)
    page = window.train_page
    window.show_page(3)
    page.target.setCurrentIndex(page.target.findData("tinker"))
    assert not page.cloud_box.isVisible()
    monkeypatch.delenv("OWNVOICE_KEY_TINKER", raising=False)
    page.train_button.click()  # priced off the GUI thread: the refusal arrives as status
    qtbot.waitUntil(lambda: "ownvoice keys set tinker" in page.status.text(), timeout=10000)
    assert page.task is None
    monkeypatch.setenv("OWNVOICE_KEY_TINKER", "tml-not-used")
    page.base.setText("acme/not-a-tinker-model")
    page.train_button.click()
    qtbot.waitUntil(lambda: "acme/not-a-tinker-model" in page.status.text(), timeout=10000)
    assert page.task is None


@pytest.fixture
def sshd(tmp_path):
    with SSHServer(tmp_path / "sshd") as server:
        yield server


def test_a_job_on_a_box_and_re_attaching_after_a_restart(qtbot, store, default_model,
                                                          tiny_base, sshd, tmp_path):
    add_correction_pairs(store)
    run_ownvoice("remote", "add", "box", "--host", f"{sshd.user}@127.0.0.1", "--port",
                 str(sshd.port), "--key", str(sshd.client_key), "--fingerprint",
                 sshd.fingerprint, "--python", sys.executable, "--root",
                 str(tmp_path / "box"))
    first = MainWindow(store)
    qtbot.addWidget(first)
    page = first.train_page
    page.target.setCurrentIndex(page.target.findData("remote:box"))
    page.base.setText(str(tiny_base))
    page.steps.setValue(30)
    page.learning_rate.setValue(0.001)
    page.quant.setCurrentText("Q8_0")
    page.train_button.click()
    qtbot.waitUntil(lambda: len(page.plot.train) >= 2, timeout=300000)
    page.task.cancel()  # closing the window: stop following, the job goes on
    first.runner.wait(120000)
    first.close()
    assert store.job(1).status is JobState.TRAINING  # the job goes on on its box

    second = MainWindow(store)  # the app starts again: it re-attaches by itself
    qtbot.addWidget(second)
    page = second.train_page
    assert page.task is not None and page.job_id == 1
    qtbot.waitUntil(lambda: page.task is None, timeout=300000)
    assert "Registered voice-1" in page.status.text(), page.status.text()
    assert [step for step, _ in page.plot.train] == list(range(1, 31))
    mirror = [e.step for e in
              events.read(tmp_path / "ownvoice-home" / "jobs" / "job-0001" / "progress.jsonl")
              if isinstance(e, events.Step)]
    assert mirror == list(range(1, 31))
    second.runner.wait()


def test_the_mac_target_offers_the_bases_known_to_train_and_warns_of_the_others(window):
    pytest.importorskip("mlx_lm", reason="MLX is not installed")
    page = window.train_page
    page.target.setCurrentIndex(page.target.findData("mac"))
    assert page.target.currentText() == "This Mac (MLX)"
    completer = page.base.completer()
    assert completer.model().index(0, 0).data() == "mlx-community/Qwen3-4B-4bit"
    page.base.setText("mlx-community/Qwen3.5-9B-4bit")
    assert not page.base_note.isHidden() and "first backward pass" in page.base_note.text()
    page.target.setCurrentIndex(page.target.findData("local"))
    assert page.base_note.isHidden() and page.base.completer() is None
