"""The Batch tab: open a ticket file, map its columns, classify it in the background, review, export.

This module is the state machine that wires the panels together: :class:`FilePanel` ("File"),
:class:`ColumnsPanel` ("Columns"), :class:`RunPanel` ("Run"), the preview table and
:class:`ResultsView` (filter/order bar, results table with its key columns kept in place, the selected
ticket's :class:`TicketPanel` above the :class:`AccuracyPanel`, summary).

Threads: reading the file, the classification run and an export are jobs
(:func:`triage_app.gui.widgets.start_job`) running the plain functions of
:mod:`triage_app.gui.batch.jobs`; widgets change only in the slots here.

States of a run (``run_state``): ``idle`` -> ``running`` -> (``cancelling``) -> ``finished`` |
``cancelled`` | ``failed``.  A run fills a new :class:`ResultsModel` off screen; it replaces the
table only when the run finished, so a cancelled or failed run leaves the previous results.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QScrollArea,
    QSplitter,
    QStyle,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from triage_app import io as tio
from triage_app import review
from triage_app.gui import widgets
from triage_app.gui.batch.columns_panel import ColumnsPanel
from triage_app.gui.batch.file_panel import FilePanel
from triage_app.gui.batch.jobs import classify_work, read_work
from triage_app.gui.batch.results_view import ResultsView, setup_table
from triage_app.gui.batch.run_panel import RunPanel
from triage_app.gui.results_model import FrameModel, ResultsModel
from triage_app.gui.widgets import TABLE_FILTER, show_error, start_job
from triage_app.mapping import check_mapping

PAGE_PREVIEW, PAGE_RESULTS = range(2)
# The "does not fit" banner: a labelled file of at least FIT_MIN_ROWS rows on which the model's
# accuracy is FIT_GAP or more below its own test accuracy.
FIT_MIN_ROWS, FIT_GAP = 30, 0.15
EXPORT_FILTER = "CSV (*.csv);;Excel (*.xlsx);;TSV (*.tsv);;JSON (*.json);;JSON Lines (*.jsonl)"


class BatchTab(QWidget):
    fileLoaded = Signal(str)
    retrainRequested = Signal(str)     # path of a labelled file to train on
    runFinished = Signal(str)      # "finished" | "cancelled" | "failed"
    exported = Signal(str)

    batch_size: int | None = None  # the engine's default for its device
    progress_interval = 0.1        # seconds between progress events

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.path: str | None = None
        self.df = None
        self.model: ResultsModel | None = None
        self.job = None
        self.load_job = None
        self.export_job = None
        self.run_state = "idle"          # idle | running | cancelling | finished | cancelled | failed
        self._run_model: ResultsModel | None = None
        self._run_meta: dict = {}
        self._mapping_confirmed = False
        self._build()
        ctx.modelChanged.connect(lambda _c: (self._update_mapping_note(), self._update_buttons()))
        ctx.thresholdsChanged.connect(self._on_thresholds)
        self._update_buttons()

    # ---- UI ------------------------------------------------------------------------------------
    def _build(self):
        outer = QHBoxLayout(self)
        outer.setContentsMargins(10, 10, 10, 10)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        outer.addWidget(split)

        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 6, 0)
        self.file_panel = FilePanel()
        self.columns_panel = ColumnsPanel()
        self.run_panel = RunPanel()
        for w in (self.file_panel, self.columns_panel, self.run_panel):
            sl.addWidget(w)
        sl.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        # wide enough for the setup column and a vertical scroll bar: no sideways scrolling
        scroll.setMinimumWidth(side.minimumSizeHint().width()
                               + scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent) + 4)
        split.addWidget(scroll)

        self.inner = QTabWidget()
        self.inner.setDocumentMode(True)
        self.preview_model = FrameModel()
        self.preview = QTableView()
        self.preview.setModel(self.preview_model)
        setup_table(self.preview)
        self.inner.addTab(self.preview, "Preview")
        self.results = ResultsView(self._labels, self.ctx)
        self.inner.addTab(self.results, "Results")
        split.addWidget(self.inner)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([340, 900])

        self.file_panel.openRequested.connect(self.open_dialog)
        self.file_panel.sheetChosen.connect(lambda sheet: self.open_file(self.path, sheet))
        self.columns_panel.changed.connect(self._mapping_changed)
        self.run_panel.classifyRequested.connect(self.classify)
        self.run_panel.cancelRequested.connect(self.cancel)
        self.results.reviewRequested.connect(self.open_review)
        self.results.exportRequested.connect(self.export_dialog)
        self._fit = None
        self.results.fit_banner.add_action("Raise the review threshold", self.raise_threshold_for_file,
                                           "For these results: review every ticket the model is less sure of "
                                           "than it needs to be right as often as on its own test set")
        self.results.fit_banner.add_action("Retrain on this file", lambda: self.retrainRequested.emit(self.path),
                                           "Open the Train tab with this file loaded")

        # the widgets tests and scripts (docs/take_screenshots.py) reach through the tab
        self.sheet_combo = self.file_panel.sheet_combo
        self.col_combos = self.columns_panel.col_combos
        self.mapping_note = self.columns_panel.mapping_note
        self.classify_btn = self.run_panel.classify_btn
        self.status_label = self.run_panel.status_label
        self.proxy = self.results.proxy
        self.table = self.results.table
        self.filter_edit = self.results.filter_edit
        self.review_only = self.results.review_only
        self.export_btn = self.results.export_btn
        self.acc_box = self.results.acc_box

    def _labels(self) -> list[str]:
        return self.model.labels if self.model else (self.ctx.classifier.labels if self.ctx.classifier else [])

    @property
    def accuracy(self) -> float | None:
        """Accuracy of the last finished run against the file's label column (None: none shown)."""
        return self.acc_box.accuracy

    @property
    def confusion(self):
        return self.acc_box.confusion

    # ---- state ---------------------------------------------------------------------------------
    def _update_buttons(self):
        running = self.job is not None and self.job.is_running()
        loading = self.load_job is not None and self.load_job.is_running()
        has_model = self.ctx.classifier is not None
        self.classify_btn.setEnabled(not running and not loading and self.df is not None and has_model
                                     and self._mapping_ok())
        self.run_panel.cancel_btn.setEnabled(running and self.run_state == "running")
        self.file_panel.open_btn.setEnabled(not running and not loading)
        has_results = self.model is not None and self.model.n > 0 and not running
        exporting = self.export_job is not None and self.export_job.is_running()
        self.export_btn.setEnabled(has_results and not exporting)
        self.results.review_btn.setEnabled(has_results)
        self.columns_panel.set_editable(not running and self.df is not None)

    # ---- open ----------------------------------------------------------------------------------
    def open_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open ticket file", self.ctx.last_dir("open"), TABLE_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path, sheet: str | None = None):
        """Read ``path`` in the background; ``fileLoaded`` fires when the preview is ready."""
        if self.job is not None and self.job.is_running():
            self.status_label.setText("A batch is running; cancel it before opening another file.")
            return None
        path = str(path)
        fixed = self.model.n_corrected() if self.model is not None else 0
        if fixed and not widgets.ask(
                self, "Replace the reviewed results?",
                f"The results of {self.model.source} hold {fixed:,} corrected label"
                f"{'s' if fixed != 1 else ''} (saved in the corrections store). Opening "
                f"{Path(path).name} replaces these results; export them first to keep the file.",
                yes="Open the new file", no="Keep these results"):
            return None
        self.ctx.remember_dir("open", path)
        work = read_work(path, sheet, self._model_meta())     # the meta: a plain dict, read by the worker
        self.status_label.setText(f"Reading {Path(path).name}…")
        self.load_job = start_job(self.ctx, self, "read file", work, f"Could not open {Path(path).name}",
                                  on_finished=self._on_loaded, on_failed=lambda m, d: self._load_failed(path, m, d))
        if self.load_job is not None:
            self.load_job.done.connect(self._update_buttons)
        self._update_buttons()
        return self.load_job

    def _load_failed(self, path, msg, details):
        self.status_label.setText("Could not open the file.")
        show_error(self, f"Could not open {Path(path).name}", msg,
                   "Check the file type and encoding (CSV/TSV/XLSX/JSON/JSONL) and try again.", details)

    def _on_loaded(self, res):
        path, df, report, sheets, sheet, suggested = res
        self.path, self.df = path, df
        if self.model is not None:      # results belong to the file they came from: never shown for another
            self.model = None
            self._show_model(None)
            self.results.update_summary()
            self._update_accuracy()
        self.file_panel.show_file(path, df, report, sheets, sheet)
        cols = [str(c) for c in df.columns]
        saved = self.ctx.get_json(self._mapping_key(cols))
        # a mapping the user chose for these columns before counts as confirmed
        self._mapping_confirmed = isinstance(saved, dict)
        self.columns_panel.set_columns(cols, saved if isinstance(saved, dict) else suggested)
        self.preview_model.set_frame(df, 200)
        self.preview.resizeColumnsToContents()
        for c in range(self.preview_model.columnCount()):
            self.preview.setColumnWidth(c, min(self.preview.columnWidth(c), 380))
        self.inner.setCurrentIndex(PAGE_PREVIEW)
        self._update_mapping_note()
        self.status_label.setText("Check the columns, then press Classify all." if self._mapping_ok() else
                                  "Choose a Text column, or Title and/or Body.")
        self.run_panel.reset()
        self._update_buttons()
        self.fileLoaded.emit(path)

    # ---- column mapping ------------------------------------------------------------------------
    @staticmethod
    def _mapping_key(cols) -> str:
        return "batch/columns/" + hashlib.sha1("\x1f".join(cols).encode("utf-8")).hexdigest()[:16]

    def mapping(self) -> dict:
        return self.columns_panel.mapping()

    def set_mapping(self, **kw) -> None:
        self.columns_panel.set_mapping(**kw)

    def _mapping_ok(self) -> bool:
        return self.columns_panel.mapping_ok()

    def _mapping_changed(self, _i=None):
        if self.df is not None:
            self.ctx.set_json(self._mapping_key([str(c) for c in self.df.columns]), self.mapping())
            self._mapping_confirmed = True        # the user chose: names need not match any more
        self._update_mapping_note()
        self._update_buttons()

    def _model_meta(self) -> dict:
        clf = self.ctx.classifier
        return clf.bundle.meta if clf is not None else {}

    def _update_mapping_note(self) -> None:
        """Tell the user when the mapped columns are not what the active model was trained on."""
        msg = None
        if self.df is not None and self.ctx.classifier is not None and self._mapping_ok():
            msg = check_mapping(self.mapping(), self._model_meta(), [str(c) for c in self.df.columns],
                                confirmed=self._mapping_confirmed)
        self.columns_panel.set_note(msg)

    # ---- classify ------------------------------------------------------------------------------
    def classify(self):
        clf = self.ctx.classifier
        if clf is None or self.df is None or (self.job is not None and self.job.is_running()):
            return None
        m = self.mapping()
        if not self._mapping_ok():
            self.status_label.setText("Choose a Text column, or Title and/or Body.")
            return None
        fields = {k: m[k] for k in ("title", "body", "text") if m[k]}
        if m["text"]:
            fields = {"text": m["text"]}
        total = len(self.df)
        work = classify_work(clf, self.df, fields, self.batch_size, self.progress_interval)
        self._run_labels = (list(clf.labels), min(3, len(clf.labels)), clf.threshold, dict(clf.class_thresholds))
        self._run_targets = list(clf.targets)
        self._run_model = None
        self._run_meta = {"fields": fields, "label": m["label"], "model_version": clf.version,
                          "model": clf.name, "path": self.path, "bundle": str(clf.bundle.path)}
        self.job = start_job(self.ctx, self, "batch", work, "Classifying the file failed",
                             on_finished=self._on_finished, on_event=self._on_event,
                             on_cancelled=self._on_cancelled, on_failed=self._on_failed)
        if self.job is None:
            return None
        self.run_state = "running"
        self.run_panel.reset("Starting…")
        self.status_label.setText(f"Classifying {total:,} tickets with {clf.name} v{clf.version}…")
        self.job.done.connect(self._update_buttons)
        self._update_buttons()
        return self.job

    def cancel(self):
        if self.job is not None and self.job.is_running():
            self.job.cancel()
            self.run_state = "cancelling"
            self.status_label.setText("Cancelling…")
            self._update_buttons()

    def _on_event(self, ev):
        if self.run_state not in ("running", "cancelling"):
            return
        kind = ev[0]
        if kind == "start":
            labels, top_k, g, ct = self._run_labels
            # Rows are appended to this model in chunks while it is not shown: the table keeps the
            # previous results (or the preview) until the run finishes, so a cancelled run leaves
            # no partial table and the GUI thread does not repaint 10 columns per chunk.
            self._run_model = ResultsModel(self.df, labels, top_k=top_k, lazy_inputs=True,
                                           targets=self._run_targets)
            self._run_model.set_thresholds(g, ct)
        elif kind == "chunk" and self._run_model is not None:
            self._run_model.append_chunk(*ev[1:])
        elif kind == "progress":
            self.run_panel.show_progress(ev[1], ev[2], ev[3])

    def _show_model(self, model: ResultsModel | None):
        self.results.show_model(model)
        if model is not None:
            try:
                model.corrected.connect(self._on_corrected, Qt.ConnectionType.UniqueConnection)
                model.targetCorrected.connect(self._on_target_corrected, Qt.ConnectionType.UniqueConnection)
            except (RuntimeError, TypeError):
                pass

    def _on_finished(self, res):
        self.run_state = "finished"
        if self._run_model is None:  # empty file: no "start" event was needed
            labels, top_k, g, ct = self._run_labels
            self._run_model = ResultsModel(self.df, labels, top_k=top_k, targets=self._run_targets)
        self.model = self._run_model
        self._run_model = None
        self.model.model_version = self._run_meta["model_version"]
        self.model.model_name, self.model.model_path = self._run_meta["model"], self._run_meta["bundle"]
        self.model.fields = self._run_meta["fields"]
        self.model.label_col = self._run_meta.get("label")
        self.model.source = (f"{Path(self._run_meta['path']).name} · {self.model.n:,} rows · model "
                             f"{self._run_meta['model']} v{self._run_meta['model_version']}")
        self.model.source_path = self._run_meta["path"]
        self._show_model(self.model)
        self.inner.setCurrentIndex(PAGE_RESULTS)
        self.results.apply_order()
        self._apply_filter()
        self.run_panel.show_done(res["rows"], res["seconds"])
        self.status_label.setText(f"Done: {res['rows']:,} tickets classified.")
        self.results.update_summary()
        self._update_accuracy()
        self._update_buttons()
        self.runFinished.emit("finished")

    def _on_cancelled(self):
        self.run_state = "cancelled"
        done = self._run_model.n if self._run_model is not None else 0
        self._run_model = None      # never shown; the previous results are still on screen
        self.run_panel.reset()
        kept = " Previous results kept." if self.model is not None else ""
        self.status_label.setText(f"Cancelled, {done:,} rows done; nothing was kept from this run.{kept}")
        self._update_buttons()
        self.runFinished.emit("cancelled")

    def _on_failed(self, msg, details):
        self.run_state = "failed"
        self._run_model = None
        self.run_panel.progress.setValue(0)
        self.status_label.setText("Failed — see the message.")
        show_error(self, "Classifying the file failed", msg, "Check the column mapping and the model, "
                   "then try again.", details)
        self._update_buttons()
        self.runFinished.emit("failed")

    # ---- results -------------------------------------------------------------------------------
    def _apply_filter(self, *_):
        self.results.apply_filter()

    def set_order(self, text: str):
        self.results.set_order(text)

    def _update_accuracy(self):
        m, lab = self.model, self._run_meta.get("label")
        usable = m is not None and lab and self.df is not None and lab in self.df.columns
        table = getattr(m, "target_table", None)
        self.acc_box.show_results(m, self.df[lab].iloc[: m.n] if usable else None,
                                  table.targets[0].name if table is not None else "")
        self.acc_box.show_targets(table.truth_rows(self.df, m.n) if table is not None and self.df is not None else [])
        if m is not None:
            m.set_truth(self.df[lab].iloc[: m.n].tolist() if usable else None)
        self._check_fit(self.df[lab].iloc[: m.n] if usable else None)

    def _check_fit(self, truth) -> None:
        """A labelled file on which the model does far worse than on its own test set gets a banner
        that says so in plain words, with both figures, and offers what helps."""
        banner = self.results.fit_banner
        m, clf = self.model, self.ctx.classifier
        self._fit = None
        if m is None or truth is None or clf is None or self.acc_box.accuracy is None:
            banner.hide()
            return
        s = clf.bundle.summary()
        y = truth.astype(str).str.strip()
        n = int((y != "").sum())
        own, acc = s.get("accuracy"), self.acc_box.accuracy
        if not isinstance(own, (int, float)) or n < FIT_MIN_ROWS or acc >= own - FIT_GAP:
            banner.hide()
            return
        self._fit = {"accuracy": acc, "rows": n, "own": own, "own_rows": s.get("rows")}
        own_n = f" of {s['rows']:,}" if s.get("rows") else ""
        banner.show_message(
            f"<b>The model does not fit this file.</b> It is right on {acc:.1%} of the {n:,} labelled "
            f"tickets here, against {own:.1%}{own_n} on its own test tickets: its confidences and the "
            f"auto-route badges are not to be trusted for this file. Raise the review threshold for these "
            f"results, or retrain on this file.")

    def raise_threshold_for_file(self) -> float | None:
        """Review threshold for these results only: the one at which the auto-routed rows of this file
        are right as often as the model is on its own test set (the best reachable otherwise)."""
        m, lab = self.model, self._run_meta.get("label")
        if m is None or self._fit is None:
            return None
        y = self.df[lab].iloc[: m.n].astype(str).str.strip().tolist()
        keep = [i for i, v in enumerate(y) if v in m.labels]
        s = review.suggest(m.probs[keep], [y[i] for i in keep], self._fit["own"], labels=m.labels)
        t = s["threshold"] if s["threshold"] is not None else 1.0
        t = max(t, m.review_threshold())          # raising never lets more tickets through
        m.set_thresholds(t, {})
        s = review.routed_summary(m.probs[keep], [y[i] for i in keep], t, {}, labels=m.labels)
        self._apply_filter()
        self.results.update_summary()
        self.status_label.setText(
            f"Review threshold for these results raised to {t:.2f}: {s['coverage']:.1%} of this file's labelled "
            f"tickets auto-routed at {s['precision']:.1%} precision. To keep it for the model, save it in "
            "Models → Review thresholds.")
        return t

    def _on_thresholds(self):
        clf = self.ctx.classifier
        if clf is None:
            return
        for m in (self.model, self._run_model):
            if m is not None and m.labels == clf.labels:
                m.set_thresholds(clf.threshold, clf.class_thresholds)
                if m.target_table is not None and m.target_table.set_targets(clf.targets, m.n) and m.rowCount():
                    m.dataChanged.emit(m.index(0, m.c_targets[0]), m.index(m.rowCount() - 1, m.c_targets[-1]))
        self._apply_filter()
        self.results.update_summary()

    def _on_corrected(self, data_row: int, label: str):
        m = self.model
        if m is None or self.df is None:
            return
        self._store_correction(data_row, m.predicted(data_row), float(m.conf[data_row]), label, None)

    def _on_target_corrected(self, data_row: int, target: str, predicted: str, label: str, conf: float):
        if self.model is not None and self.df is not None:
            self._store_correction(data_row, predicted, conf, label, target)

    def _store_correction(self, data_row: int, predicted: str, conf: float, label: str, target: str | None):
        """One row's correction into the store (``target``: another target of a multi-target model)."""
        m = self.model
        fields = getattr(m, "fields", {}) or {}
        row = self.df.iloc[data_row]
        if "text" in fields:
            text = str(row[fields["text"]])
            f = {"text": text}
        else:
            title = str(row[fields["title"]]) if fields.get("title") else ""
            body = str(row[fields["body"]]) if fields.get("body") else ""
            text = f"{title}. {body}" if title and body else (title or body)
            f = {"title": title, "body": body}
        try:
            n = self.ctx.add_correction(text, f, predicted, conf, label, getattr(m, "model_version", ""), target)
        except (ValueError, OSError) as e:
            show_error(self, "The correction was not saved", str(e))
            return
        what = f"{target} " if target else ""
        self.status_label.setText(f"Correction saved for row {data_row + 1}: {what}{label} ({n:,} stored).")

    def ticket_of(self, data_row: int) -> dict:
        """The row's mapped fields (title/body/text), and ``file_label`` when the file has a label column."""
        fields = getattr(self.model, "fields", {}) or {}
        row = self.df.iloc[data_row]
        out = {k: str(row[c]) for k, c in fields.items() if c}
        lab = getattr(self.model, "label_col", None)
        if lab and lab in self.df.columns and str(row[lab]).strip():
            out["file_label"] = str(row[lab]).strip()
        return out

    def _target_ticket(self, data_row: int, column: str) -> dict:
        """:meth:`ticket_of` with ``file_label`` from another target's label column (when the file has it)."""
        out = {k: v for k, v in self.ticket_of(data_row).items() if k != "file_label"}
        if column in self.df.columns and str(self.df.iloc[data_row][column]).strip():
            out["file_label"] = str(self.df.iloc[data_row][column]).strip()
        return out

    # ---- review + export -----------------------------------------------------------------------
    def open_review(self, target: str = ""):
        """The review queue (``target``: another target of a multi-target model; "" the primary)."""
        if self.model is None or not self.model.n:
            return None
        from triage_app.gui.results_targets import TargetReview
        from triage_app.gui.review_dialog import ReviewDialog
        view = TargetReview(self.model, target) if target else self.model
        dlg = ReviewDialog(view, self.ticket_of if not target else lambda r: self._target_ticket(r, view.info.column),
                           self)     # owned by the tab (its Qt parent)
        if target:
            dlg.setWindowTitle(f"Review queue — {target} — most uncertain first")
        dlg.open()
        return dlg

    def export_dialog(self):
        if self.model is None:
            return
        src = getattr(self.model, "source_path", None) or self.path   # named after the file they came from
        base = Path(src).stem + "-triaged.csv" if src else "triaged.csv"
        path, _ = QFileDialog.getSaveFileName(self, "Export results", str(Path(self.ctx.last_dir("export")) / base),
                                              EXPORT_FILTER)
        if path:
            if not Path(path).suffix:
                path += ".csv"
            self.export_to(path)

    def export_to(self, path):
        if self.model is None or not self.model.n or (self.job is not None and self.job.is_running()):
            return None
        path = str(path)
        self.ctx.remember_dir("export", path)
        frame = self.model.to_frame()

        def work(emit, should_stop):
            tio.write_table(frame, path)
            return path

        def ok(p):
            self.status_label.setText(f"Exported {len(frame):,} rows to {Path(p).name}.")
            self.exported.emit(p)

        self.export_job = start_job(self.ctx, self, "export", work, f"Export to {Path(path).name} failed",
                                    on_finished=ok)
        if self.export_job is not None:
            self.status_label.setText(f"Exporting to {Path(path).name}…")
            self.export_job.done.connect(self._update_buttons)
        self._update_buttons()
        return self.export_job
