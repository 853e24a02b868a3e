"""Corpus: import writing (dialog or drag and drop), browse documents and segments, exclude."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.table_models.rows import ROW_ROLE
from desktop.table_models.tables import documents_model, segments_model
from desktop.views.widgets import Label, rich_label, table_view

GUIDE = """
<h2>Start with your own writing</h2>
<p>OwnVoice learns your voice from what you have already written.</p>
<ol>
<li><b>Import your writing</b>: drop your blog's folder here, or use the buttons above.
Markdown, HTML, text files and WordPress exports are read; images and other files beside
them are passed over.</li>
<li><b>Make training pairs</b>: a machine translates your paragraphs the other way.</li>
<li><b>Fine-tune</b> a model on them, locally or on a rented GPU, and translate in your voice.</li>
</ol>
<p>Meanwhile the <b>Translate</b> page already works with the built-in model.</p>
"""


class CorpusPage(QWidget):
    def __init__(self, runner, hub, store, parent=None):
        super().__init__(parent)
        self.runner, self.hub, self.store = runner, hub, store
        self.task = None
        self.last_report = None
        self.setAcceptDrops(True)
        self._build()
        hub.corpus_changed.connect(self.reload)
        self.reload()

    def _build(self) -> None:
        self.files_button = QPushButton("Import files…")
        self.folder_button = QPushButton("Import folder…")
        self.cancel_button = QPushButton("Cancel", visible=False)
        self.progress = QProgressBar(visible=False)
        self.search = QLineEdit(placeholderText="Search your writing (部署, deploy…)",
                                clearButtonEnabled=True)
        top = QHBoxLayout()
        for widget in (self.files_button, self.folder_button, self.cancel_button):
            top.addWidget(widget)
        top.addWidget(self.progress, 1)
        top.addWidget(self.search, 1)
        self.summary = Label(wordWrap=True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A post and its translations are one work: which languages are the writer's own.
        self.languages = QLineEdit(
            placeholderText="not said: a post's original is its unmarked or older version",
            toolTip="The languages you write in originally, e.g. zh or zh, en. The other "
                    "versions of your posts are translations, not your prose.")
        self.translated_by_me = QCheckBox("I translated the other versions myself")
        self.translated_by_me.setToolTip("Then your posts' translations are your prose too, "
                                         "and training pairs are made from them.")
        self.languages_button = QPushButton("Save languages")
        self.works = Label(wordWrap=True)
        works_row = QHBoxLayout()
        works_row.addWidget(Label("You write originally in:"))
        for widget in (self.languages, self.translated_by_me, self.languages_button):
            works_row.addWidget(widget)
        works_row.addWidget(self.works, 1)

        self.guide = rich_label(GUIDE, wordWrap=True, alignment=Qt.AlignmentFlag.AlignTop)
        self.documents = documents_model(self)
        self.documents_view = table_view(self.documents, stretch="title")
        self.segments = segments_model(self)
        self.segments_view = table_view(self.segments, stretch="text")
        self.exclude_document = QCheckBox("Keep this document out of training")
        self.exclude_segment = QCheckBox("Keep this paragraph out of training")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.documents_view)
        left_layout.addWidget(self.exclude_document)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.segments_view)
        right_layout.addWidget(self.exclude_segment)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setSizes([500, 500])
        self.stack = QStackedWidget()
        self.stack.addWidget(self.guide)
        self.stack.addWidget(self.splitter)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addLayout(works_row)
        layout.addWidget(self.stack, 1)

        self.files_button.clicked.connect(self.choose_files)
        self.folder_button.clicked.connect(self.choose_folder)
        self.cancel_button.clicked.connect(self.cancel_import)
        self.languages_button.clicked.connect(self.save_languages)
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(self.reload)
        self.search.textChanged.connect(self._search_timer.start)
        self.documents_view.selectionModel().currentRowChanged.connect(self._document_selected)
        self.segments_view.selectionModel().currentRowChanged.connect(self._segment_selected)
        self.exclude_document.clicked.connect(self._toggle_document)
        self.exclude_segment.clicked.connect(self._toggle_segment)
        self._segment_selected()

    # --- browsing ------------------------------------------------------------------------

    def reload(self) -> None:
        selected = self.selected_document()
        self.documents.set_rows(self.store.documents(search=self.search.text()))
        empty = not self.documents.rows and not self.search.text()
        self.stack.setCurrentIndex(0 if empty else 1)
        index = next((i for i, row in enumerate(self.documents.rows)
                      if selected is not None and row["id"] == selected["id"]), 0)
        if self.documents.rows:
            self.documents_view.selectRow(index)
        self._document_selected()
        self._show_works(self.store.work_stats())

    # --- works: a post and its translations ---------------------------------------------

    def _show_works(self, stats: dict) -> None:
        from engine.corpus.works import summary

        if not self.languages.hasFocus():
            self.languages.setText(", ".join(stats["original_languages"]))
        self.translated_by_me.setChecked(stats["translated_by_me"])
        self.works.setText(summary(stats) if stats["works"] else "")

    def save_languages(self) -> None:
        codes = [c for c in self.languages.text().replace(",", " ").split() if c]
        translated_by_me = self.translated_by_me.isChecked()

        def work(ctx):
            from engine.corpus.works import set_languages
            from engine.pairs import published

            stats = set_languages(ctx.store, codes, translated_by_me=translated_by_me)
            published.refresh(ctx.store)  # which versions are originals decides the pairs
            return stats

        task = self.runner.submit("saving your languages", work, writes=True)
        task.succeeded.connect(self._languages_saved)
        task.failed.connect(self._languages_failed)

    def _languages_saved(self, stats: dict) -> None:
        self.languages.clearFocus()
        self._show_works(stats)
        self.hub.corpus_changed.emit()

    def _languages_failed(self, message: str) -> None:
        self.works.setText(f"⚠ {message}")

    def selected_document(self) -> dict | None:
        index = self.documents_view.currentIndex()
        return self.documents.data(index, ROW_ROLE) if index.isValid() else None

    def selected_segment(self) -> dict | None:
        index = self.segments_view.currentIndex()
        return self.segments.data(index, ROW_ROLE) if index.isValid() else None

    def _document_selected(self, *_args) -> None:
        document = self.selected_document()
        self.segments.set_rows(self.store.segments(document_id=document["id"])
                               if document else [])
        self.exclude_document.setEnabled(document is not None)
        self.exclude_document.setChecked(bool(document and document["excluded"]))
        self._segment_selected()

    def _segment_selected(self, *_args) -> None:
        segment = self.selected_segment()
        self.exclude_segment.setEnabled(segment is not None)
        self.exclude_segment.setChecked(bool(segment and segment["segment_excluded"]))

    def _toggle_document(self, checked: bool) -> None:
        document = self.selected_document()
        if document is not None:
            self._set_excluded("documents", document["id"], checked)

    def _toggle_segment(self, checked: bool) -> None:
        segment = self.selected_segment()
        if segment is not None:
            self._set_excluded("segments", segment["id"], checked)

    def _set_excluded(self, table: str, row_id: int, excluded: bool) -> None:
        task = self.runner.submit("excluding from training",
                                  lambda ctx: ctx.store.set_excluded(table, row_id, excluded),
                                  writes=True)
        task.succeeded.connect(self._excluded_saved)
        task.failed.connect(self.hub.status)

    def _excluded_saved(self, _value) -> None:
        segment = self.selected_segment()
        self.reload()
        if segment is not None:
            for i, row in enumerate(self.segments.rows):
                if row["id"] == segment["id"]:
                    self.segments_view.selectRow(i)

    # --- importing -----------------------------------------------------------------------

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Import your writing", str(Path.home()),
            "Writing (*.md *.markdown *.mdx *.html *.htm *.txt *.xml *.json *.csv);;"
            "All files (*)")
        if files:
            self.import_paths(files)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder of your writing",
                                                  str(Path.home()))
        if folder:
            self.import_paths([folder])

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.import_paths(paths)

    def import_paths(self, paths: list[str]) -> None:
        if self.task is not None:
            self.hub.status.emit("An import is already running.")
            return

        def work(ctx):
            from engine.corpus.importer import import_paths
            from engine.pairs import published

            report = import_paths(ctx.store, paths, progress=ctx.progress,
                                  cancelled=ctx.cancelled)
            return report, published.refresh(ctx.store)

        self.task = self.runner.submit("importing your writing", work, writes=True)
        self.task.progress.connect(self._progress)
        self.task.succeeded.connect(self._imported)
        self.task.failed.connect(self._import_failed)
        self.task.finished.connect(self._import_ended)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.summary.setText("Importing…")

    def cancel_import(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _progress(self, done: int, total: int, what: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        if what:
            self.summary.setText(f"Importing {done + 1} of {total}: {Path(what).name}")

    def _imported(self, value) -> None:
        report, aligned = value
        self.last_report = report
        lines = [f"Imported {report.imported} new document(s), updated {report.updated}, "
                 f"{report.unchanged} unchanged; {report.segments_added} new paragraph(s)."]
        if report.passed_over:
            lines.append(f"Passed over {report.passed_over} file(s) that are not writing "
                         "(images, PDFs, media…).")
        if self.task is not None and self.task.cancelled():
            lines.append("Stopped before the end: import again to continue.")
        for title, items in (("Skipped", report.skipped), ("Warnings", report.warnings)):
            if items:
                lines.append(f"{title}: " + "; ".join(f"{Path(i.path).name}: {i.reason}"
                                                      for i in items[:12])
                             + (f"; and {len(items) - 12} more" if len(items) > 12 else ""))
        if aligned.pairs:
            from engine.pairs.published import summary

            lines.append(summary(aligned))
        self.summary.setText("\n".join(lines))
        self.hub.corpus_changed.emit()

    def _import_failed(self, message: str) -> None:
        self.summary.setText(f"⚠ {message}")

    def _import_ended(self) -> None:
        self.task = None
        self.progress.hide()
        self.cancel_button.hide()
