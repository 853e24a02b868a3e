"""Data: make training pairs (reverse synthesis), browse and fix them, export them, and run
the OpenAI fine-tuning pilot."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.table_models.rows import ROW_ROLE
from desktop.table_models.tables import pairs_model
from desktop.views.loss_plot import LossPlot
from desktop.views.widgets import Label, ask, language_combo, select_data, table_view
from engine import openai_models
from engine.jobs import Job, JobKind

FILTERS = {"All pairs": {}, "Kept": {"status": "ok"}, "Rejected": {"status": "rejected"},
           "Corrections": {"origin": "correction"},
           "Your published translations": {"origin": "published-translation"}}


def _state(status, provider_status: str | None) -> str:
    """A pilot's state for people, e.g. "training (OpenAI: running)"."""
    from engine.pairs.pilot import status_text  # imported when used: the app starts faster

    return status_text(status, provider_status)


class DataPage(QWidget):
    def __init__(self, runner, hub, store, parent=None):
        super().__init__(parent)
        self.runner, self.hub, self.store = runner, hub, store
        self.synth_task = None
        self.pilot_plan = None
        self._build()
        hub.corpus_changed.connect(self.reload)
        hub.history_changed.connect(self.reload)
        self.reload()

    # --- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        self.base_url = QLineEdit(placeholderText="https://api.openai.com/v1 (or a local server)")
        self.model = QLineEdit(openai_models.SYNTHESIS_MODEL)
        self.user_lang = language_combo()
        self.into = language_combo()
        select_data(self.into, "en")
        self.styles = QSpinBox(minimum=1, maximum=6, value=3)
        self.limit = QSpinBox(minimum=0, maximum=1_000_000, value=0, specialValueText="all")
        self.concurrency = QSpinBox(minimum=1, maximum=64, value=4)
        self.synth_button = QPushButton("Make pairs")
        self.synth_progress = QProgressBar(visible=False)
        self.synth_status = Label(wordWrap=True)
        synth_box = QGroupBox("Reverse synthesis: a model translates your paragraphs the "
                              "other way")
        form = QFormLayout(synth_box)
        form.addRow(Label("Endpoint"), self.base_url)
        form.addRow(Label("Model"), self.model)
        form.addRow(Label("Your writing is in"), self.user_lang)
        form.addRow(Label("Translate it into"), self.into)
        row = QHBoxLayout()
        for label, widget in (("Styles", self.styles), ("Paragraphs", self.limit),
                              ("Concurrency", self.concurrency)):
            row.addWidget(Label(label))
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.synth_button)
        form.addRow(row)
        form.addRow(self.synth_progress)
        form.addRow(self.synth_status)

        self.filter = QComboBox()
        self.filter.addItems(list(FILTERS))
        self.counts = Label()
        self.exclude = QCheckBox("Keep out of training")
        self.save_edit = QPushButton("Save edited machine text")
        self.export_button = QPushButton("Export…")
        bar = QHBoxLayout()
        for widget in (Label("Show"), self.filter, self.counts):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.export_button)
        self.pairs = pairs_model(self)
        self.pairs_view = table_view(self.pairs, stretch=("source_text", "target_text"))
        self.source_edit = QPlainTextEdit(placeholderText="The machine's text (the input)")
        self.target_view = QPlainTextEdit(readOnly=True, placeholderText="Your words")
        sides = QSplitter(Qt.Orientation.Horizontal)
        sides.addWidget(self.source_edit)
        sides.addWidget(self.target_view)
        pair_actions = QHBoxLayout()
        pair_actions.addWidget(self.exclude)
        pair_actions.addStretch(1)
        pair_actions.addWidget(self.save_edit)

        self.pilot_pairs = QSpinBox(minimum=10, maximum=10000, value=50)
        self.pilot_on = QComboBox()
        self.pilot_on.addItem("Tinker", "tinker")
        self.pilot_on.addItem("OpenAI (closing)", "openai")
        # Tinker: its base model; OpenAI: the model to fine-tune.
        self.pilot_model = QLineEdit(tinker_default_base())
        self.pilot_on.currentIndexChanged.connect(self._pilot_provider_changed)
        self.pilot_epochs = QSpinBox(minimum=1, maximum=10, value=3)
        self.pilot_button = QPushButton("Start pilot…")
        self.pilot_refresh = QPushButton("Check progress")
        self.pilot_use = QPushButton("Use the fine-tuned model")
        self.pilot_export = QPushButton("Export as GGUF")
        self.pilot_export.setToolTip("Download the Tinker pilot's adapter, merge it with the "
                                     "base and register it as voice-N")
        self.pilot_loss = LossPlot()
        self.pilot_loss.setMinimumHeight(120)
        self.pilot_status = Label(wordWrap=True)
        self.pilot_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        pilot_box = QGroupBox("Pilot: is your voice worth a fine-tune? (50 pairs: about a cent "
                              "on Tinker)")
        pilot_layout = QVBoxLayout(pilot_box)
        pilot_row = QHBoxLayout()
        for label, widget in (("On", self.pilot_on), ("Pairs", self.pilot_pairs),
                              ("Model", self.pilot_model), ("Epochs", self.pilot_epochs)):
            pilot_row.addWidget(Label(label))
            pilot_row.addWidget(widget)
        for button in (self.pilot_button, self.pilot_refresh, self.pilot_use,
                       self.pilot_export):
            pilot_row.addWidget(button)
        pilot_layout.addLayout(pilot_row)
        pilot_layout.addWidget(self.pilot_loss)
        pilot_layout.addWidget(self.pilot_status)

        browser = QWidget()
        browser_layout = QVBoxLayout(browser)
        browser_layout.setContentsMargins(0, 0, 0, 0)
        browser_layout.addLayout(bar)
        browser_layout.addWidget(self.pairs_view, 2)
        browser_layout.addWidget(sides, 1)
        browser_layout.addLayout(pair_actions)
        layout = QVBoxLayout(self)
        layout.addWidget(synth_box)
        layout.addWidget(browser, 1)
        layout.addWidget(pilot_box)

        self.synth_button.clicked.connect(self.synth_or_stop)
        self.user_lang.activated.connect(lambda _i: self.user_lang.setProperty("chosen", True))
        self.filter.currentTextChanged.connect(self.reload)
        self.pairs_view.selectionModel().currentRowChanged.connect(self._pair_selected)
        self.exclude.clicked.connect(self._toggle_excluded)
        self.save_edit.clicked.connect(self._save_edit)
        self.export_button.clicked.connect(self.choose_export)
        self.pilot_button.clicked.connect(self.start_pilot)
        self.pilot_refresh.clicked.connect(self.refresh_pilot)
        self.pilot_use.clicked.connect(self.use_pilot)
        self.pilot_export.clicked.connect(self.export_pilot)
        self._pilot_provider_changed()
        self._pair_selected()
        self._show_last_pilot()

    # --- pairs ---------------------------------------------------------------------------

    def reload(self, *_args) -> None:
        if not self.user_lang.property("chosen"):  # follow the data until the user picks
            made = self.store.pairs(origin="synthetic")
            main = made[-1]["target_lang"] if made else self.store.main_language()
            if main:
                select_data(self.user_lang, main)
                select_data(self.into, "zh" if main == "en" else "en")
        selected = self.selected()
        self.pairs.set_rows(self.store.pairs(**FILTERS[self.filter.currentText()]))
        stats = self.store.pair_stats()
        published = stats["by_origin"].get("published-translation/ok", 0)
        judged = self.store.preference_counts()["splits"]  # kept in step by the writers
        origins: dict[str, int] = {}
        for split in judged.values():
            for origin, n in split.items():
                origins[origin] = origins.get(origin, 0) + n
        self.counts.setText(f"{stats['pairs']} kept · {stats['rejected']} rejected · "
                            + (f"{published} from your published translations · "
                               if published else "") + f"${stats['cost_usd']:.4f} spent · "
                            f"{sum(origins.values())} preferences from your judgments")
        self.counts.setToolTip("Preferences (chosen over rejected, for preference training): "
                               + (", ".join(f"{n} from {origin}s" for origin, n
                                            in sorted(origins.items())) or "none yet")
                               + ". Correct, rate or choose between translations, or answer "
                               "a blind test, to add some.")
        if selected is not None:
            for i, row in enumerate(self.pairs.rows):
                if row["id"] == selected["id"]:
                    self.pairs_view.selectRow(i)
        self._pair_selected()

    def selected(self) -> dict | None:
        index = self.pairs_view.currentIndex()
        return self.pairs.data(index, ROW_ROLE) if index.isValid() else None

    def _pair_selected(self, *_args) -> None:
        pair = self.selected()
        self.source_edit.setPlainText(pair["source_text"] if pair else "")
        self.target_view.setPlainText(pair["target_text"] if pair else "")
        for widget in (self.exclude, self.save_edit, self.source_edit):
            widget.setEnabled(pair is not None)
        self.exclude.setChecked(bool(pair and pair["excluded"]))

    def _toggle_excluded(self, checked: bool) -> None:
        pair = self.selected()
        if pair is not None:
            self._write(lambda ctx: ctx.store.update_pair(pair["id"], excluded=checked))

    def _save_edit(self) -> None:
        pair = self.selected()
        text = self.source_edit.toPlainText().strip()
        if pair is not None and text:
            self._write(lambda ctx: ctx.store.update_pair(pair["id"], source_text=text))

    def _write(self, fn) -> None:
        task = self.runner.submit("saving the pair", fn, writes=True)
        task.succeeded.connect(self.reload)
        task.failed.connect(self.hub.status)

    def choose_export(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export training pairs", "train.jsonl",
            "Chat JSONL for OwnVoice's trainer (*.jsonl);;OpenAI fine-tuning JSONL (*.jsonl)")
        if path:
            self.export(path, "openai" if chosen.startswith("OpenAI") else "chat")

    def export(self, path: str, fmt: str, split: str = "train") -> None:
        def work(ctx):
            from engine.pairs import dataset

            report = dataset.export(ctx.store, split=split, fmt=fmt, out=path)
            problems = dataset.validate_openai(path, min_examples=1) if fmt == "openai" else []
            return report, problems

        task = self.runner.submit("exporting pairs", work)
        task.succeeded.connect(self._exported)
        task.failed.connect(self.hub.status)

    def _exported(self, value) -> None:
        report, problems = value
        self.hub.status.emit(f"Exported {report.examples} example(s) to {report.path}"
                             + (f" — {problems[0]}" if problems else "."))

    # --- synthesis -----------------------------------------------------------------------

    def synth_or_stop(self) -> None:
        if self.synth_task is not None:
            self.synth_task.cancel()
            self.synth_status.setText("Stopping after the requests in flight…")
            return
        base_url = self.base_url.text().strip() or None
        model = self.model.text().strip() or openai_models.SYNTHESIS_MODEL
        into, user_lang = self.into.currentData(), self.user_lang.currentData()
        styles, limit = self.styles.value(), self.limit.value() or None
        concurrency = self.concurrency.value()
        reports = []

        def work(ctx):
            from engine import llm
            from engine.pairs import synthesis

            if ctx.store.main_language() is None:
                from engine.errors import OwnVoiceError

                raise OwnVoiceError("Import your writing first (Corpus page).")
            config = synthesis.SynthConfig(user_lang=user_lang, into=into,
                                           styles=synthesis.STYLE_ORDER[:styles], limit=limit)
            client = llm.LLMClient(model=model, base_url=base_url,
                                   api_key=llm.key_for(base_url, None), concurrency=concurrency)

            def progress(report) -> None:
                reports.append(report)
                ctx.progress(report.done, report.planned, "")

            try:
                return synthesis.run(ctx.store, client, config, progress=progress,
                                     cancelled=ctx.cancelled)
            finally:
                client.close()

        self._reports = reports
        self.synth_task = self.runner.submit("making pairs", work, writes=True)
        self.synth_task.progress.connect(self._synth_progress)
        self.synth_task.succeeded.connect(self._synth_done)
        self.synth_task.failed.connect(self._synth_failed)
        self.synth_task.finished.connect(self._synth_ended)
        self.synth_button.setText("Stop")
        self.synth_progress.setRange(0, 0)
        self.synth_progress.show()
        self.synth_status.setText("Starting…")

    def _synth_progress(self, done: int, total: int, _what: str) -> None:
        self.synth_progress.setRange(0, max(1, total))
        self.synth_progress.setValue(done)
        if self._reports:
            r = self._reports[-1]
            self.synth_status.setText(f"{r.done}/{r.planned} · {r.kept} kept, {r.rejected} "
                                      f"rejected · {r.pairs_per_minute:.1f} pairs/min · "
                                      f"${r.cost_usd:.4f}")

    def _synth_done(self, report) -> None:
        reasons = ", ".join(f"{k} × {v}" for k, v in report.reasons.items())
        self.synth_status.setText(
            f"Made {report.done} pair(s): {report.kept} kept, {report.rejected} rejected"
            + (f" ({reasons})" if reasons else "")
            + (f"; {report.failed} failed — {report.errors[0]}" if report.failed else "")
            + f" · ${report.cost_usd:.4f}")
        self.reload()

    def _synth_failed(self, message: str) -> None:
        self.synth_status.setText(f"⚠ {message}")

    def _synth_ended(self) -> None:
        self.synth_task = None
        self.synth_button.setText("Make pairs")
        self.synth_progress.hide()

    # --- the OpenAI pilot ----------------------------------------------------------------

    def _pilot_base_url(self) -> str | None:
        return self.base_url.text().strip() or None

    def _pilot_provider_changed(self) -> None:
        tinker = self.pilot_on.currentData() == "tinker"
        self.pilot_model.setText(tinker_default_base() if tinker else "gpt-4o-mini-2024-07-18")
        self.pilot_refresh.setEnabled(not tinker)
        self.pilot_export.setEnabled(False)

    def start_pilot(self) -> None:
        from engine.errors import OwnVoiceError
        from engine.pairs import pilot

        if self.pilot_on.currentData() == "tinker":
            self.start_tinker_pilot()
            return
        try:
            plan = pilot.prepare(self.store, pairs=self.pilot_pairs.value(),
                                 model=self.pilot_model.text().strip(),
                                 epochs=self.pilot_epochs.value(),
                                 base_url=self._pilot_base_url())
        except OwnVoiceError as exc:
            self.pilot_status.setText(f"⚠ {exc}")
            return
        if not ask(self, "Start the OpenAI pilot",
                   f"{plan.examples} training pairs (about {plan.tokens:,} tokens), "
                   f"{plan.epochs} epoch(s) of {plan.model}: about "
                   f"${plan.estimated_cost_usd:.2f}. Start?"):
            return
        base_url = self._pilot_base_url()
        task = self.runner.submit("starting the pilot",
                                  lambda ctx: pilot.start(ctx.store, plan, base_url=base_url),
                                  writes=True)
        task.succeeded.connect(self._pilot_started)
        task.failed.connect(self._pilot_failed)

    def _pilot_started(self, job: Job) -> None:
        self.pilot_status.setText(f"Pilot {job.id} started ({job.provider_id}, "
                                  f"{_state(job.status, job.meta.provider_status)}). Check "
                                  "its progress now and then.")

    def start_tinker_pilot(self) -> None:
        """Prepare off the GUI thread (the base's tokenizer may come from the hub), then ask
        with the estimate, then train."""
        pairs, base = self.pilot_pairs.value(), self.pilot_model.text().strip()
        epochs = self.pilot_epochs.value()

        def work(ctx):
            from engine.training import tinker_pilot

            key = tinker_pilot.api_key()
            return key, tinker_pilot.prepare(ctx.store, pairs=pairs, base_model=base,
                                             epochs=epochs)

        task = self.runner.submit("pricing the pilot", work)
        task.succeeded.connect(lambda prepared: self._confirm_tinker_pilot(*prepared))
        task.failed.connect(self._pilot_failed)
        self.pilot_status.setText("Encoding the pairs and pricing the run…")

    def _confirm_tinker_pilot(self, key: str, plan) -> None:
        from engine import events
        from engine.training import tinker_pilot

        if not ask(self, "Start the pilot on Tinker",
                   f"{plan.examples} training pairs, {plan.tokens:,} training tokens "
                   f"({plan.steps} steps of {plan.run.base_model}): about "
                   f"${plan.estimated_cost_usd:.2f} at Tinker's listed prices. Start?"):
            return
        self.pilot_loss.clear()

        def work(ctx):
            def step(done: int, total: int, loss: float) -> None:
                ctx.emit_event(events.Step(step=done, total_steps=total, epoch=0.0, loss=loss,
                                           lr=plan.run.learning_rate, tokens_per_s=0.0,
                                           elapsed_s=0.0))

            return tinker_pilot.start(ctx.store, plan, key=key, on_step=step,
                                      stop=ctx.cancelled)

        task = self.runner.submit("training the pilot on Tinker", work, writes=True)
        task.event.connect(self.pilot_loss.add)
        task.succeeded.connect(self._tinker_pilot_done)
        task.failed.connect(self._pilot_failed)
        self.pilot_status.setText("Training on Tinker…")

    def _tinker_pilot_done(self, job: Job) -> None:
        losses = job.meta.losses or []
        trend = f": loss {losses[0]:.3f} → {losses[-1]:.3f}" if losses else ""
        if job.status.value != "done":
            self.pilot_status.setText(f"Pilot {job.id} {job.status.value} on Tinker{trend}.")
        else:
            self.pilot_status.setText(f"Pilot {job.id} trained on Tinker{trend}. Use it to "
                                      "translate and compare, or export it as a GGUF.")
        self.pilot_use.setEnabled(job.status.value == "done")
        self.pilot_export.setEnabled(job.status.value == "done")

    def export_pilot(self) -> None:
        jobs = self.store.jobs(kind=JobKind.TINKER_PILOT)
        if not jobs:
            return
        job_id = jobs[0].id

        def work(ctx):
            from engine.training import tinker_pilot

            return tinker_pilot.export(ctx.store, ctx.store.job(job_id))

        task = self.runner.submit("exporting the pilot", work, writes=True)
        task.succeeded.connect(self._pilot_exported)
        task.failed.connect(self._pilot_failed)
        self.pilot_status.setText("Downloading the adapter, merging, converting to GGUF…")

    def _latest_pilot(self) -> Job | None:
        jobs = [*self.store.jobs(kind=JobKind.TINKER_PILOT), *self.store.jobs(kind=JobKind.PILOT)]
        return max(jobs, key=lambda j: j.id) if jobs else None

    def refresh_pilot(self) -> None:
        jobs = self.store.jobs(kind=JobKind.PILOT)
        if not jobs:
            self.pilot_status.setText("No pilot yet.")
            return
        job_id = jobs[0].id

        def work(ctx):
            from engine.pairs import pilot

            return pilot.refresh(ctx.store, ctx.store.job(job_id))

        task = self.runner.submit("checking the pilot", work, writes=True)
        task.succeeded.connect(self._pilot_refreshed)
        task.failed.connect(self._pilot_failed)

    def _pilot_refreshed(self, state: dict) -> None:
        lines = [f"Pilot {state['id']}: {_state(state['status'], state['provider_status'])}"]
        lines += [f"step {c['step']}: train loss {c['train_loss']}, validation loss "
                  f"{c['valid_loss']}" for c in state["checkpoints"]]
        if state["fine_tuned_model"]:
            lines.append(f"Fine-tuned model: {state['fine_tuned_model']}")
        if state["error"]:
            lines.append(f"⚠ {state['error']}")
        self.pilot_status.setText("\n".join(lines))
        self.pilot_use.setEnabled(bool(state["fine_tuned_model"]))

    def use_pilot(self) -> None:
        latest = self._latest_pilot()
        if latest is None:
            return
        job_id, tinker = latest.id, latest.kind is JobKind.TINKER_PILOT

        def work(ctx):
            from engine.pairs import pilot
            from engine.training import tinker_pilot
            from engine.translation import registry

            job = ctx.store.job(job_id)
            row = tinker_pilot.use(ctx.store, job) if tinker else pilot.use(ctx.store, job)
            registry.use(ctx.store, row["name"])
            return row

        task = self.runner.submit("registering the fine-tuned model", work, writes=True)
        task.succeeded.connect(self._pilot_used)
        task.failed.connect(self._pilot_failed)

    def _pilot_exported(self, row: dict) -> None:
        self.hub.models_changed.emit()
        unverified = (row.get("meta") or {}).get("unverified")
        self.pilot_status.setText(f"Registered {row['name']} ({row['path']})."
                                  + (f" ⚠ Unverified: {unverified}" if unverified else ""))

    def _pilot_used(self, row: dict) -> None:
        self.hub.models_changed.emit()
        self.pilot_status.setText(self.pilot_status.text() + f"\n{row['name']} now translates "
                                  "(Translate page).")

    def _pilot_failed(self, message: str) -> None:
        self.pilot_status.setText(f"⚠ {message}")

    def _show_last_pilot(self) -> None:
        from engine import events

        job = self._latest_pilot()
        self.pilot_use.setEnabled(bool(job and (job.result or job.meta.sampler_path)))
        self.pilot_export.setEnabled(bool(job and job.kind is JobKind.TINKER_PILOT
                                          and job.meta.external_path))
        if job is not None and job.kind is JobKind.TINKER_PILOT:
            self.pilot_loss.clear()
            losses = job.meta.losses or []
            for step, loss in enumerate(losses, 1):
                self.pilot_loss.add(events.Step(step=step, total_steps=len(losses), epoch=0.0,
                                                loss=loss, lr=0.0, tokens_per_s=0.0,
                                                elapsed_s=0.0))
        if job is not None:
            self.pilot_status.setText(
                f"Pilot {job.id}: {_state(job.status, job.meta.provider_status)}"
                + (f" — {job.result}" if job.result else ""))


def tinker_default_base() -> str:
    from engine.training.tinker import DEFAULT_BASE

    return DEFAULT_BASE
