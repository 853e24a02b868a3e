"""Compare: your models against each other and the baselines on held-out paragraphs, with
every metric, the HTML report, and a blind test of your own judgement."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.views.widgets import Label, tooltip
from engine.evaluation.metrics import label
from engine.evaluation.report import COLUMNS


class ComparePage(QWidget):
    def __init__(self, runner, hub, store, parent=None):
        super().__init__(parent)
        self.runner, self.hub, self.store = runner, hub, store
        self.task = None
        self.comparison_id: int | None = None
        self.trial: dict | None = None
        self._build()
        hub.models_changed.connect(self.reload)
        self.reload()

    def _build(self) -> None:
        self.models = QListWidget(maximumHeight=80)
        self.with_baselines = QCheckBox("Baselines (plain prompt, style prompt, few-shot)")
        self.baseline_model = QComboBox()
        self.limit = QSpinBox(minimum=1, maximum=10_000, value=20, suffix=" paragraphs")
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(self.start)
        self.progress = QProgressBar(visible=False)
        self.note = Label(wordWrap=True)
        setup = QGroupBox("Run every system on the same held-out paragraphs")
        form = QVBoxLayout(setup)
        form.addWidget(self.models)
        row = QHBoxLayout()
        row.addWidget(self.with_baselines)
        row.addWidget(Label("on"))
        row.addWidget(self.baseline_model, 1)
        row.addWidget(self.limit)
        row.addWidget(self.compare_button)
        form.addLayout(row)
        form.addWidget(self.progress)
        form.addWidget(self.note)

        self.table = QTableWidget(0, len(COLUMNS) + 1)
        self.table.setHorizontalHeaderLabels(["System"] + [label for _, label, _ in COLUMNS])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setMinimumHeight(220)
        self.open_report = QPushButton("Open the report", enabled=False)
        self.open_report.clicked.connect(self._open_report)

        self.question = Label("Start a blind test after a comparison.", wordWrap=True)
        self.left, self.right = QTextBrowser(), QTextBrowser()
        for browser in (self.left, self.right):
            browser.setMinimumHeight(90)
            browser.setMaximumHeight(170)
        self.pick_left, self.pick_right = QPushButton("This one"), QPushButton("This one")
        self.pick_left.clicked.connect(lambda: self.answer("left"))
        self.pick_right.clicked.connect(lambda: self.answer("right"))
        self.blind_button = QPushButton("Start the blind test")
        self.blind_button.clicked.connect(self.start_blind)
        self.blind_results = Label(wordWrap=True)
        blind = QGroupBox("Blind test: two texts, unlabelled — you pick")
        blind_layout = QVBoxLayout(blind)
        blind_layout.addWidget(self.question)
        sides = QHBoxLayout()
        for browser, button in ((self.left, self.pick_left), (self.right, self.pick_right)):
            column = QVBoxLayout()
            column.addWidget(browser)
            column.addWidget(button)
            sides.addLayout(column)
        blind_layout.addLayout(sides)
        buttons = QHBoxLayout()
        buttons.addWidget(self.blind_results, 1)
        buttons.addWidget(self.blind_button)
        blind_layout.addLayout(buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(setup)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.open_report, alignment=Qt.AlignmentFlag.AlignRight)
        layout.addWidget(blind, 2)
        self._show_trial(None)

    def reload(self, *_args) -> None:
        from engine.translation import registry

        checked = {self.models.item(i).text() for i in range(self.models.count())
                   if self.models.item(i).checkState() == Qt.CheckState.Checked}
        self.models.clear()
        self.baseline_model.clear()
        for row in registry.list_models(self.store):
            if row["retired"]:  # its provider shut it down: not offered
                continue
            item = QListWidgetItem(row["name"])
            item.setCheckState(Qt.CheckState.Checked if row["name"] in checked
                               else Qt.CheckState.Unchecked)
            self.models.addItem(item)
            if row["origin"] != "fine-tuned":
                self.baseline_model.addItem(row["name"])
        latest = self.store.latest_comparison_id()
        if latest is not None:
            self._show_comparison(latest)

    # --- comparing --------------------------------------------------------------------------

    def start(self) -> None:
        names = [self.models.item(i).text() for i in range(self.models.count())
                 if self.models.item(i).checkState() == Qt.CheckState.Checked]
        if not names:
            self.note.setText("Tick the models to compare.")
            return
        baselines = self.with_baselines.isChecked()
        baseline_model = self.baseline_model.currentText() if baselines else None
        limit = self.limit.value()

        def work(ctx):
            from datetime import datetime

            from engine import paths
            from engine.evaluation import compare

            report = (paths.data_dir() / "reports" /
                      f"comparison-{datetime.now():%Y%m%d-%H%M%S}.html")
            result = compare.run(ctx.store, model_names=names, with_baselines=baselines,
                                 baseline_model=baseline_model, limit=limit, report=report,
                                 progress=ctx.progress, cancelled=ctx.cancelled)
            return result.id

        self.task = self.runner.submit("comparing", work, writes=True)
        self.task.progress.connect(self._progress)
        self.task.succeeded.connect(self._show_comparison)
        self.task.failed.connect(self.note.setText)
        self.task.finished.connect(self._ended)
        self.compare_button.setEnabled(False)
        self.progress.setVisible(True)
        self.note.setText("Translating…")

    def _progress(self, done: int, total: int, _what: str) -> None:
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)

    def _ended(self) -> None:
        self.task = None
        self.compare_button.setEnabled(True)
        self.progress.setVisible(False)

    def _show_comparison(self, comparison_id: int) -> None:
        comparison = self.store.comparison(comparison_id)
        if comparison is None:
            return
        self.comparison_id = comparison_id
        metrics = comparison["metrics"]
        self.table.setRowCount(len(metrics))
        for row, system in enumerate(metrics):
            name = QTableWidgetItem(("⚠ " if system.get("flags") else "")
                                    + label(system["system"]))
            name.setToolTip(tooltip("\n".join(system.get("flags") or []) or "no warning"))
            self.table.setItem(row, 0, name)
            for column, (key, _, _) in enumerate(COLUMNS, 1):
                item = QTableWidgetItem(f"{system[key]:.3g}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.open_report.setEnabled(bool(comparison["report_path"]))
        settings = comparison["settings"]
        self.note.setText(f"Comparison {comparison_id}: {settings.get('pairs')} held-out "
                          f"paragraphs, {settings.get('source')} → {settings.get('target')}.")
        self._show_results()

    def _open_report(self) -> None:
        comparison = self.store.comparison(self.comparison_id)
        QDesktopServices.openUrl(QUrl.fromLocalFile(comparison["report_path"]))

    # --- the blind test ---------------------------------------------------------------------

    def start_blind(self) -> None:
        if self.comparison_id is None:
            self.question.setText("Run a comparison first.")
            return
        comparison_id = self.comparison_id

        def work(ctx):
            from engine.evaluation import blind

            return blind.make_trials(ctx.store, comparison_id)

        task = self.runner.submit("preparing the blind test", work, writes=True)
        task.succeeded.connect(lambda _n: self._next_trial())
        task.failed.connect(self.question.setText)

    def _next_trial(self) -> None:
        waiting = self.store.blind_trials(self.comparison_id, answered=False)
        self._show_trial(waiting[0] if waiting else None)
        self._show_results()

    def _show_trial(self, trial: dict | None) -> None:
        from engine.evaluation.blind import QUESTIONS

        self.trial = trial
        for widget in (self.pick_left, self.pick_right):
            widget.setEnabled(trial is not None)
        if trial is None:
            self.left.clear()
            self.right.clear()
            if self.comparison_id is not None and self.store.blind_trials(self.comparison_id):
                self.question.setText("Done — thank you. Your answers are below.")
            return
        self.question.setText(QUESTIONS[trial["question"]])
        self.left.setPlainText(trial["left_text"])
        self.right.setPlainText(trial["right_text"])

    def answer(self, side: str) -> None:
        if self.trial is None:
            return
        trial_id = self.trial["id"]
        for widget in (self.pick_left, self.pick_right):
            widget.setEnabled(False)
        from engine.pairs import preferences

        task = self.runner.submit("saving your answer", preferences.judged(
            lambda store: store.answer_blind_trial(trial_id, side)), writes=True)
        task.succeeded.connect(lambda _r: self._next_trial())
        task.failed.connect(self.question.setText)

    def _show_results(self) -> None:
        from engine.evaluation import blind

        if self.comparison_id is None:
            return
        result = blind.results(self.store, self.comparison_id)
        if not result["answered"]:
            self.blind_results.setText(f"{result['waiting']} pairs waiting."
                                       if result["waiting"] else "")
            return
        lines = [f"{result['answered']} answered, {result['waiting']} waiting."]
        if result["recognition_rate"] is not None:
            lines.append(f"You found your own text {result['recognition_rate']:.0%} of the "
                         "time.")
        lines += [f"{system}: taken for yours {rate:.0%}"
                  for system, rate in result["taken_for_yours"].items()]
        lines += [f"{system}: preferred {rate:.0%}"
                  for system, rate in result["win_rate"].items()]
        self.blind_results.setText("\n".join(lines))
