"""Train: fine-tune on this machine (PyTorch, or MLX on a Mac), on your own GPU box over SSH,
or on a Lambda Cloud instance rented for the job — with the live loss curve, ETA, cost, log
tail and cancel.

A remote job keeps running when the window closes; the page re-attaches to it at the next
start, from the database."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.views.loss_plot import LossPlot
from desktop.views.widgets import Label, ask
from engine import events
from engine.errors import OwnVoiceError
from engine.jobs import JobKind, JobState

ROLE = Qt.ItemDataRole.UserRole
BASE_HINT = "the embedded Gemma 3 270M — or a Hugging Face id, a model folder, a .gguf"


class TrainPage(QWidget):
    def __init__(self, runner, hub, store, parent=None):
        super().__init__(parent)
        self.runner, self.hub, self.store = runner, hub, store
        self.task = None
        self.job_id: int | None = None
        self._cancel = threading.Event()  # set by Cancel: stop the job, not only the follow
        self._build()
        self.reload()
        if not self._reattach() and self.jobs.count():
            self.jobs.setCurrentRow(0)  # the latest job's curve, not an empty plot

    # --- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        self.target = QComboBox()
        self.target.currentIndexChanged.connect(self._target_changed)
        self.base = QLineEdit(placeholderText=BASE_HINT)
        self.base.textChanged.connect(self._base_changed)
        self.base_note = Label(wordWrap=True)
        self.base_note.setVisible(False)
        self.steps = QSpinBox(minimum=0, maximum=1_000_000, value=0,
                              specialValueText="whole epochs")
        self.epochs = QDoubleSpinBox(minimum=0.05, maximum=20, value=1.0, singleStep=0.25)
        self.learning_rate = QDoubleSpinBox(decimals=6, minimum=0.000001, maximum=0.1,
                                            value=0.0002, singleStep=0.0001)
        self.quant = QComboBox()
        self.quant.addItems(["auto", "Q4_K_M", "Q8_0", "F16"])
        self.instance_type = QLineEdit("gpu_1x_gh200")
        self.ssh_key_name = QLineEdit(placeholderText="the key's name in your Lambda account")
        self.max_hours = QDoubleSpinBox(minimum=0.1, maximum=72, value=4.0, suffix=" h")
        self.max_usd = QDoubleSpinBox(minimum=0, maximum=10_000, value=0, prefix="$",
                                      specialValueText="no limit")
        self.prices = Label(wordWrap=True)
        prices_button = QPushButton("Prices and capacity")
        prices_button.clicked.connect(self.load_prices)
        self.cloud_box = QGroupBox("Lambda Cloud (terminated when the job ends)")
        cloud_form = QFormLayout(self.cloud_box)
        cloud_form.addRow(Label("Instance type"), self.instance_type)
        cloud_form.addRow(Label("SSH key name"), self.ssh_key_name)
        budget = QHBoxLayout()
        budget.addWidget(self.max_hours)
        budget.addWidget(self.max_usd)
        budget.addWidget(prices_button)
        cloud_form.addRow(Label("Budget"), budget)
        cloud_form.addRow(self.prices)

        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.cancel_button.clicked.connect(self.cancel)
        # Preference training (DPO) of the latest fine-tune made here, on your judgments.
        self.improve_button = QPushButton(visible=False)
        self.improve_button.clicked.connect(self.improve)
        self.improvable: int | None = None  # the job the button improves
        settings = QGroupBox("Fine-tune a model on your pairs")
        form = QFormLayout(settings)
        form.addRow(Label("Train on"), self.target)
        form.addRow(Label("Base model"), self.base)
        form.addRow(self.base_note)
        row = QHBoxLayout()
        for label, widget in (("Steps", self.steps), ("Epochs", self.epochs),
                              ("Learning rate", self.learning_rate), ("GGUF", self.quant)):
            row.addWidget(Label(label))
            row.addWidget(widget)
        row.addStretch(1)
        form.addRow(row)
        form.addRow(self.cloud_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.improve_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.train_button)
        form.addRow(buttons)

        self.status = Label("No training yet.", wordWrap=True)
        self.plot = LossPlot()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(2000)
        self.jobs = QListWidget()
        self.jobs.currentItemChanged.connect(self._job_selected)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(Label("Jobs"))
        left_layout.addWidget(self.jobs)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.plot)
        right.addWidget(self.log)
        right.setStretchFactor(0, 3)
        body = QSplitter()
        body.addWidget(left)
        body.addWidget(right)
        body.setStretchFactor(1, 4)
        layout = QVBoxLayout(self)
        layout.addWidget(settings)
        layout.addWidget(self.status)
        layout.addWidget(body, 1)

    def reload(self, *_args) -> None:
        """The targets (this machine, your boxes, Lambda) and the job list."""
        current = self.target.currentData()
        self.target.blockSignals(True)
        self.target.clear()
        self.target.addItem("This machine", "local")
        from engine.training.mlx_lora import available as mlx_available

        if mlx_available():  # Apple silicon, or wherever mlx imports
            self.target.addItem("This Mac (MLX)", "mac")
        for host in self.store.hosts():
            if host["origin"] == "manual":
                self.target.addItem(f"{host['name']} — {host['user']}@{host['host']}",
                                    f"remote:{host['name']}")
        self.target.addItem("Rent a Lambda Cloud GPU", "lambda")
        self.target.addItem("Tinker (managed training: Base e.g. Qwen/Qwen3-8B)", "tinker")
        index = self.target.findData(current) if current else 0
        self.target.setCurrentIndex(max(0, index))
        self.target.blockSignals(False)
        self._target_changed()
        self.jobs.blockSignals(True)
        self.jobs.clear()
        for job in self.store.jobs():
            if job.kind not in (JobKind.LOCAL, JobKind.MAC, JobKind.REMOTE, JobKind.TINKER):
                continue
            item = QListWidgetItem(f"#{job.id} {job.where} · {job.status.value}"
                                   + (f" → {job.result}" if job.result else ""))
            item.setData(ROLE, job.id)
            self.jobs.addItem(item)
            if job.id == self.job_id:
                self.jobs.setCurrentItem(item)
        self.jobs.blockSignals(False)
        self._offer_improvement()

    def _offer_improvement(self) -> None:
        """"Improve voice-N with your M judgments" for the latest supervised fine-tune made
        on this machine: enabled once there are enough judgments, else says how many more."""
        from engine.training import pipeline

        done = [j for j in self.store.jobs() if j.kind is JobKind.LOCAL and j.result
                and j.status is JobState.DONE and j.meta.objective is None]
        job = None
        for candidate in done:  # newest first
            try:
                job = pipeline.improvable(self.store, candidate.id)
                break
            except OwnVoiceError:
                continue
        self.improvable = job.id if job else None
        self.improve_button.setVisible(job is not None)
        if job is None:
            return
        have = sum(self.store.preference_counts()["splits"]["train"].values())
        enough = have >= pipeline.MIN_PREFERENCES
        self.improve_button.setEnabled(enough and self.task is None)
        self.improve_button.setText(
            f"Improve {job.result} with your {have} judgments" if enough else
            f"{pipeline.MIN_PREFERENCES - have} more judgments to improve {job.result}")
        self.improve_button.setToolTip(
            "Preference training (DPO) on this machine: your corrections, ratings, choices "
            "and blind-test answers teach which of two translations is yours; the result is "
            "a model of its own." + ("" if enough else " Correct, rate or choose between "
                                     "translations (Translate page) to add judgments."))

    def improve(self) -> None:
        """Preference training of `improvable` here, with DPO's starting points."""
        if self.task is not None or self.improvable is None:
            return
        from engine.training.pipeline import DPO_EPOCHS, DPO_LEARNING_RATE
        from engine.training.targets import TrainingRequest
        from remote.targets import target_for

        request = TrainingRequest(improve=self.improvable, epochs=DPO_EPOCHS,
                                  learning_rate=DPO_LEARNING_RATE,
                                  max_steps=self.steps.value() or None,
                                  quant=self.quant.currentText())
        target = target_for("local")
        try:
            target.prepare(self.store, request)
        except OwnVoiceError as exc:
            self.status.setText(str(exc))
            return
        self._train(target, request)

    def _target_changed(self, *_args) -> None:
        self.cloud_box.setVisible(self.target.currentData() == "lambda")
        mac = self.target.currentData() == "mac"
        if mac:  # the bases known to train with MLX, tested ones first
            from engine.training import mlx_bases

            known = [b.model for b in mlx_bases.trainable()]
            completer = QCompleter(known, self.base)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            self.base.setCompleter(completer)
            self.base.setPlaceholderText(f"a Hugging Face id or an MLX model folder, e.g. "
                                         f"{known[0]}")
        else:
            self.base.setCompleter(None)
            self.base.setPlaceholderText(BASE_HINT)
        self._base_changed()

    def _base_changed(self, *_args) -> None:
        """On MLX: one line about the chosen base when it is known (not) to train."""
        note = None
        if self.target.currentData() == "mac":
            from engine.training import mlx_bases

            text = self.base.text().strip()
            note = mlx_bases.warning_for(text) or next(
                (f"{b.size}: {b.note} ({b.source})" for b in mlx_bases.KNOWN
                 if b.trains and b.model == text), None)
        self.base_note.setText(note or "")
        self.base_note.setVisible(bool(note))

    # --- running --------------------------------------------------------------------------

    def _request(self):
        from engine.training.targets import TrainingRequest

        return TrainingRequest(base_model=self.base.text().strip() or None,
                               max_steps=self.steps.value() or None, epochs=self.epochs.value(),
                               learning_rate=self.learning_rate.value(),
                               quant=self.quant.currentText())

    def _target(self):
        """The chosen target (engine/training/targets.py, remote/targets.py)."""
        from remote.rented import Budget
        from remote.targets import target_for

        spec = self.target.currentData() or "local"
        if spec.startswith("remote:"):
            spec = spec.partition(":")[2]
        elif spec == "lambda":
            spec = f"lambda:{self.instance_type.text().strip()}"
        elif spec == "tinker":
            return target_for("tinker")
        return target_for(spec, ssh_key_name=self.ssh_key_name.text().strip() or None,
                          budget=Budget(max_hours=self.max_hours.value(),
                                        max_usd=self.max_usd.value() or None))

    def start(self) -> None:
        """Train through the one training operation (engine.training.targets.run): the
        target checks every value before anything is written, rented or sent."""
        if self.task is not None:
            return
        request = self._request()
        try:
            target = self._target()
            if target.name == "Tinker":  # it encodes every pair: off the GUI thread
                self._price_on_tinker(target, request)
                return
            target.prepare(self.store, request)
        except OwnVoiceError as exc:
            self.status.setText(str(exc))
            return
        self._train(target, request)

    def _price_on_tinker(self, target, request) -> None:
        task = self.runner.submit("pricing the run on Tinker",
                                  lambda ctx: target.prepare(ctx.store, request))
        task.failed.connect(self.status.setText)

        def priced(plan) -> None:
            run = plan.options["tinker"]
            if ask(self, "Train on Tinker",
                   f"{run.examples} training pairs, {run.tokens:,} training tokens "
                   f"({run.steps} steps of {run.run.base_model}): about "
                   f"${run.estimated_cost_usd:.2f} at Tinker's listed prices. Start?"):
                self._train(target, request)
            else:
                self.status.setText("Not started.")

        task.succeeded.connect(priced)
        self.status.setText("Encoding the pairs and pricing the run on Tinker…")

    def _train(self, target, request) -> None:
        cancel = self._cancel = threading.Event()

        def work(ctx):
            from engine.training.targets import run

            return run(target, ctx.store, request, on_event=ctx.emit_event,
                       stop=ctx.cancelled, cancel=cancel.is_set)

        self.job_id = None
        self.plot.clear()
        self.log.clear()
        self._run("training", work)

    def _run(self, name: str, work) -> None:
        self.task = self.runner.submit(name, work)
        self.task.event.connect(self._event)
        self.task.succeeded.connect(self._done)
        self.task.failed.connect(self._failed)
        self.task.finished.connect(self._ended)
        self.train_button.setEnabled(False)
        self.improve_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Starting…")

    def _event(self, event) -> None:
        """A progress event from the running job (engine/events.py)."""
        if isinstance(event, events.Stage) and event.job is not None \
                and event.job != self.job_id:
            self.job_id = event.job
            self.reload()
        self.plot.add(event)
        if isinstance(event, events.Step):
            eta = f" · ETA {event.eta_s / 60:.1f} min" if event.eta_s else ""
            memory = f" · GPU {event.gpu_memory_gb} GB" if event.gpu_memory_gb else ""
            self.status.setText(f"Job {self.job_id}: step {event.step}/{event.total_steps} · "
                                f"loss {event.loss:.3f} · {event.tokens_per_s:.0f} "
                                f"tokens/s{eta}{memory}")
        line = events.describe(event)
        if line:
            self.log.appendPlainText(line)
        if isinstance(event, events.Stage) and event.cost_usd is not None:
            self.status.setText(f"Job {self.job_id}: {event.stage} · ${event.cost_usd:.2f} "
                                f"so far (${event.usd_per_hour:.2f}/h)")

    def _done(self, row) -> None:
        if row is None and self._cancel.is_set():
            self.status.setText(f"Job {self.job_id} cancelled; its last checkpoint stays on "
                                "its box.")
            return
        if row is None:
            self.status.setText(f"Job {self.job_id} goes on on its box; OwnVoice follows it "
                                "again at the next start.")
            return
        unverified = (row.get("meta") or {}).get("unverified")
        if unverified:
            self.status.setText(f"Registered {row['name']} as unverified: {unverified}")
        else:
            self.status.setText(f"Registered {row['name']}: choose it on the Translate page.")
        self.log.appendPlainText(f"registered {row['name']} ({row['path']})"
                                 + (f", unverified: {unverified}" if unverified else ""))
        self.hub.models_changed.emit()

    def _failed(self, message: str) -> None:
        self.status.setText(message)
        self.log.appendPlainText(message)

    def _ended(self) -> None:
        self.task = None
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.reload()

    def cancel(self) -> None:
        """Stop the job itself, wherever it runs: here after the current step, on your box
        by a signal to its runner (it writes a checkpoint first), on a rented box by
        stopping it and terminating the instance. (Closing the window only lets go of a job
        on your box: it goes on, and the page follows it again at the next start.)"""
        if self.task is None:
            return
        self._cancel.set()
        self.task.cancel()
        self.status.setText("Stopping the job after its current step…")

    # --- re-attaching and past jobs ---------------------------------------------------------

    def _reattach(self) -> bool:
        """Follow the latest job on a box that was running when the app last closed."""
        for job in self.store.jobs(kind=JobKind.REMOTE):
            if job.status.active and job.meta.remote is not None and job.meta.remote.pid:
                self.attach(job.id)
                return True
        return False

    def attach(self, job_id: int) -> None:
        self.job_id = job_id
        self._show_history(job_id)
        job = self.store.job(job_id)
        where = job.where

        cancel = self._cancel = threading.Event()

        def work(ctx):
            from engine.training.targets import follow
            from remote.targets import target_of

            current = ctx.store.job(job_id)
            return follow(target_of(ctx.store, current), ctx.store, current,
                          on_event=ctx.emit_event, stop=ctx.cancelled, cancel=cancel.is_set)

        self._run("following the job", work)
        self.log.appendPlainText(f"re-attached to job {job_id} on {where}")

    def _show_history(self, job_id: int) -> None:
        from remote.jobs import local_progress_file

        self.plot.clear()
        job = self.store.job(job_id)
        path = local_progress_file(job)
        if not path.exists() and job.meta.job_file:
            from pathlib import Path

            path = Path(job.meta.job_file).parent / "run" / "progress.jsonl"
        self.log.clear()
        for event in events.read(path):
            self.plot.add(event)
            described = events.describe(event)
            if described:
                self.log.appendPlainText(described)

    def _job_selected(self, item, _previous=None) -> None:
        if item is not None and self.task is None:
            self.job_id = item.data(ROLE)
            self._show_history(self.job_id)
            job = self.store.job(self.job_id)
            train = job.meta.train
            model = f", model {job.result}" if job.result else ""
            if train and train.best_val_loss is not None and train.base_val_loss:
                self.status.setText(f"Job {job.id} ({job.status.value}): validation loss "
                                    f"{train.base_val_loss:.3f} (base) → "
                                    f"{train.best_val_loss:.3f}{model}")
            else:
                self.status.setText(f"Job {job.id}: {job.status.value}{model}"
                                    + (f" — {job.meta.error}"
                                       if job.status is JobState.FAILED and job.meta.error
                                       else ""))

    def load_prices(self) -> None:
        def work(_ctx):
            from remote.cloud import LambdaCloud

            return LambdaCloud.from_keyring().instance_types()

        task = self.runner.submit("asking Lambda for prices", work)
        task.succeeded.connect(lambda types: self.prices.setText("<br>".join(
            f"<b>{t.name}</b> ${t.usd_per_hour:.2f}/h — "
            f"{', '.join(t.regions) or 'no capacity now'}" for t in types)))
        task.failed.connect(self.prices.setText)
