"""Train: fine-tune on this machine, on your own GPU box over SSH, or on a Lambda Cloud
instance rented for the job — with the live loss curve, ETA, cost, log tail and cancel.

A remote job keeps running when the window closes; the page re-attaches to it at the next
start, from the database."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
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

ROLE = Qt.ItemDataRole.UserRole
ACTIVE_REMOTE = ("uploading", "launching", "running")


def _describe(record: dict) -> str | None:
    event = record.get("event")
    if event == "train":
        return None  # the status line shows those
    if event == "eval" and record.get("base"):
        return f"base model validation loss {record['val_loss']:.4f}"
    if event == "checkpoint":
        val = record.get("val_loss")
        return (f"checkpoint at step {record['step']}"
                + (f", validation loss {val:.4f}" if val is not None else "")
                + (" (best so far)" if record.get("best") else ""))
    if event == "early_stop":
        return f"stopped early at step {record['step']}: validation loss stopped improving"
    if event == "state":
        cost = record.get("cost")
        return f"[{record['state']}]" + (f" ${cost['usd']:.2f} so far" if cost else "")
    if event == "done":
        return f"training finished at step {record['step']}"
    return None


class TrainPage(QWidget):
    def __init__(self, runner, hub, store, parent=None):
        super().__init__(parent)
        self.runner, self.hub, self.store = runner, hub, store
        self.task = None
        self.job_id: int | None = None
        self._build()
        self.reload()
        if not self._reattach() and self.jobs.count():
            self.jobs.setCurrentRow(0)  # the latest job's curve, not an empty plot

    # --- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        self.target = QComboBox()
        self.target.currentIndexChanged.connect(self._target_changed)
        self.base = QLineEdit(placeholderText="the embedded Gemma 3 270M — or a Hugging Face "
                                              "id, a model folder, a .gguf")
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
        self.prices = QLabel(wordWrap=True)
        prices_button = QPushButton("Prices and capacity")
        prices_button.clicked.connect(self.load_prices)
        self.cloud_box = QGroupBox("Lambda Cloud (terminated when the job ends)")
        cloud_form = QFormLayout(self.cloud_box)
        cloud_form.addRow("Instance type", self.instance_type)
        cloud_form.addRow("SSH key name", self.ssh_key_name)
        budget = QHBoxLayout()
        budget.addWidget(self.max_hours)
        budget.addWidget(self.max_usd)
        budget.addWidget(prices_button)
        cloud_form.addRow("Budget", budget)
        cloud_form.addRow(self.prices)

        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.cancel_button.clicked.connect(self.cancel)
        settings = QGroupBox("Fine-tune a model on your pairs")
        form = QFormLayout(settings)
        form.addRow("Train on", self.target)
        form.addRow("Base model", self.base)
        row = QHBoxLayout()
        for label, widget in (("Steps", self.steps), ("Epochs", self.epochs),
                              ("Learning rate", self.learning_rate), ("GGUF", self.quant)):
            row.addWidget(QLabel(label))
            row.addWidget(widget)
        row.addStretch(1)
        form.addRow(row)
        form.addRow(self.cloud_box)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.train_button)
        form.addRow(buttons)

        self.status = QLabel("No training yet.", wordWrap=True)
        self.plot = LossPlot()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(2000)
        self.jobs = QListWidget()
        self.jobs.currentItemChanged.connect(self._job_selected)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("Jobs"))
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
        for host in self.store.hosts():
            if host["origin"] == "manual":
                self.target.addItem(f"{host['name']} — {host['user']}@{host['host']}",
                                    f"remote:{host['name']}")
        self.target.addItem("Rent a Lambda Cloud GPU", "lambda")
        index = self.target.findData(current) if current else 0
        self.target.setCurrentIndex(max(0, index))
        self.target.blockSignals(False)
        self._target_changed()
        self.jobs.blockSignals(True)
        self.jobs.clear()
        for job in self.store.jobs():
            if job["kind"] not in ("local", "remote"):
                continue
            where = (job["meta"].get("remote") or {}).get("host") or job["kind"]
            item = QListWidgetItem(f"#{job['id']} {where} · {job['status']}"
                                   + (f" → {job['result']}" if job["result"] else ""))
            item.setData(ROLE, job["id"])
            self.jobs.addItem(item)
            if job["id"] == self.job_id:
                self.jobs.setCurrentItem(item)
        self.jobs.blockSignals(False)

    def _target_changed(self, *_args) -> None:
        self.cloud_box.setVisible(self.target.currentData() == "lambda")

    # --- running --------------------------------------------------------------------------

    def _options(self) -> dict:
        return {"base_model": self.base.text().strip() or None,
                "max_steps": self.steps.value() or None, "epochs": self.epochs.value(),
                "learning_rate": self.learning_rate.value()}

    def start(self) -> None:
        if self.task is not None:
            return
        kind, _, host_name = (self.target.currentData() or "local").partition(":")
        options, quant = self._options(), self.quant.currentText()
        cloud = {"instance_type": self.instance_type.text().strip(),
                 "ssh_key_name": self.ssh_key_name.text().strip(),
                 "max_hours": self.max_hours.value(), "max_usd": self.max_usd.value() or None}
        if kind == "lambda" and not cloud["ssh_key_name"]:
            self.status.setText("Give the name of your SSH key in your Lambda account.")
            return

        def work(ctx):
            from engine import finetune
            from remote import oneclick

            store = ctx.store

            def emit(record: dict) -> None:
                ctx.emit_text(json.dumps(record))

            def state(value: dict) -> None:
                emit({"event": "state", "step": 0, **value})

            job = finetune.prepare(store, kind="local" if kind == "local" else "remote",
                                   **options)
            emit({"event": "job", "job": job["id"], "step": 0})
            if kind == "local":
                return finetune.run(store, job, quant=quant, on_progress=emit,
                                    cancelled=ctx.cancelled)
            if kind == "remote":
                return oneclick.on_own_box(store, job, store.host(host_name), quant=quant,
                                           on_progress=emit, on_state=state,
                                           stop=ctx.cancelled)
            from remote.cloud import LambdaCloud
            from remote.rented import Budget

            return oneclick.on_rented_box(
                store, job, LambdaCloud.from_keyring(), instance_type=cloud["instance_type"],
                region=None, ssh_key_name=cloud["ssh_key_name"], key_file=None,
                budget=Budget(max_hours=cloud["max_hours"], max_usd=cloud["max_usd"]),
                quant=quant, on_progress=emit, on_state=state, cancelled=ctx.cancelled)

        self.plot.clear()
        self.log.clear()
        self._run("training", work)

    def _run(self, name: str, work) -> None:
        self.task = self.runner.submit(name, work)
        self.task.text.connect(self._record)
        self.task.succeeded.connect(self._done)
        self.task.failed.connect(self._failed)
        self.task.finished.connect(self._ended)
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Starting…")

    def _record(self, text: str) -> None:
        record = json.loads(text)
        if record["event"] == "job":
            self.job_id = record["job"]
            self.reload()
            return
        self.plot.add(record)
        if record["event"] == "train":
            eta = f" · ETA {record['eta_s'] / 60:.1f} min" if record.get("eta_s") else ""
            memory = (f" · GPU {record['gpu_memory_gb']} GB" if record.get("gpu_memory_gb")
                      else "")
            self.status.setText(f"Job {self.job_id}: step {record['step']}/"
                                f"{record['total_steps']} · loss {record['loss']:.3f} · "
                                f"{record['tokens_per_s']:.0f} tokens/s{eta}{memory}")
        line = _describe(record)
        if line:
            self.log.appendPlainText(line)
            if record["event"] == "state" and record.get("cost"):
                self.status.setText(f"Job {self.job_id}: {record['state']} · "
                                    f"${record['cost']['usd']:.2f} so far "
                                    f"(${record['cost']['usd_per_hour']:.2f}/h)")

    def _done(self, row) -> None:
        if row is None:
            self.status.setText(f"Job {self.job_id} goes on on its box; OwnVoice follows it "
                                "again at the next start.")
            return
        self.status.setText(f"Registered {row['name']}: choose it on the Translate page.")
        self.log.appendPlainText(f"registered {row['name']} ({row['path']})")
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
        """Local and rented runs stop through their task; a job on your own box is told to
        stop on the box (it writes a checkpoint), and the follower sees it end."""
        if self.task is None:
            return
        job = self.store.job(self.job_id) if self.job_id else None
        if job is None or job["kind"] == "local" or job["meta"].get("cloud"):
            self.task.cancel()
            self.status.setText("Stopping after the current step…")
            return
        host_row = self.store.host(job["meta"]["remote"]["host"])

        def work(ctx):
            from remote import jobs
            from remote.session import Host, Session

            with Session(Host.from_row(host_row)) as session:
                return jobs.cancel(ctx.store, session, ctx.store.job(job["id"]))

        task = self.runner.submit("cancelling the job", work)
        task.failed.connect(self._failed)
        self.status.setText(f"Asking the box to stop job {job['id']}…")

    # --- re-attaching and past jobs ---------------------------------------------------------

    def _reattach(self) -> bool:
        """Follow the latest remote job that was running when the app last closed."""
        for job in self.store.jobs(kind="remote"):
            if job["status"] in ACTIVE_REMOTE and (job["meta"].get("remote") or {}).get("pid"):
                self.attach(job["id"])
                return True
        return False

    def attach(self, job_id: int) -> None:
        self.job_id = job_id
        self._show_history(job_id)
        job = self.store.job(job_id)
        host_row = self.store.host(job["meta"]["remote"]["host"])
        if host_row is None:
            self.status.setText(f"Job {job_id}'s box is no longer known.")
            return

        def work(ctx):
            from remote import jobs
            from remote.session import Host, Session

            def emit(record: dict) -> None:
                ctx.emit_text(json.dumps(record))

            with Session(Host.from_row(host_row)) as session:
                return jobs.follow(ctx.store, session, ctx.store.job(job_id), on_progress=emit,
                                   on_state=lambda s: emit({"event": "state", "step": 0, **s}),
                                   stop=ctx.cancelled)

        self._run("following the job", work)
        self.log.appendPlainText(f"re-attached to job {job_id} on {host_row['name']}")

    def _show_history(self, job_id: int) -> None:
        from remote.jobs import local_progress_file

        self.plot.clear()
        job = self.store.job(job_id)
        path = local_progress_file(job)
        if not path.exists() and job["meta"].get("job_file"):
            from pathlib import Path

            path = Path(job["meta"]["job_file"]).parent / "run" / "progress.jsonl"
        self.log.clear()
        if path.exists():
            for line in path.read_text("utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    self.plot.add(record)
                    described = _describe(record)
                    if described:
                        self.log.appendPlainText(described)

    def _job_selected(self, item, _previous=None) -> None:
        if item is not None and self.task is None:
            self.job_id = item.data(ROLE)
            self._show_history(self.job_id)
            job = self.store.job(self.job_id)
            train = job["meta"].get("train") or {}
            if train.get("best_val_loss") is not None and train.get("base_val_loss"):
                self.status.setText(f"Job {job['id']} ({job['status']}): validation loss "
                                    f"{train['base_val_loss']:.3f} (base) → "
                                    f"{train['best_val_loss']:.3f}"
                                    + (f", model {job['result']}" if job["result"] else ""))
            else:
                self.status.setText(f"Job {job['id']}: {job['status']}"
                                    + (f", model {job['result']}" if job["result"] else ""))

    def load_prices(self) -> None:
        def work(_ctx):
            from remote.cloud import LambdaCloud

            return LambdaCloud.from_keyring().instance_types()

        task = self.runner.submit("asking Lambda for prices", work)
        task.succeeded.connect(lambda types: self.prices.setText("<br>".join(
            f"<b>{t.name}</b> ${t.usd_per_hour:.2f}/h — "
            f"{', '.join(t.regions) or 'no capacity now'}" for t in types)))
        task.failed.connect(self.prices.setText)
