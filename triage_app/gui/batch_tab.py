"""Batch tab: open a ticket file, map its columns, classify it in the background, review, export."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from triage_app import io as tio
from triage_app.errors import Cancelled
from triage_app.gui.results_model import FrameModel, LabelDelegate, ResultsModel, ResultsProxy
from triage_app.gui.widgets import TABLE_FILTER, Heatmap, muted_label, show_error, start_job
from triage_app.mapping import check_mapping, suggest_mapping

NONE = "(none)"
ORDERS = [("Input order", "input", True), ("Lowest confidence first", "confidence", True),
          ("Most uncertain first", "uncertainty", False)]


def fmt_eta(seconds: float) -> str:
    if not np.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class BatchTab(QWidget):
    fileLoaded = Signal(str)
    runFinished = Signal(str)      # "finished" | "cancelled" | "failed"
    exported = Signal(str)

    batch_size: int | None = None  # the engine's default for its device
    progress_interval = 0.1        # seconds between progress events

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.path: str | None = None
        self.df = None
        self.report = None
        self.model: ResultsModel | None = None
        self.job = None
        self.load_job = None
        self.export_job = None
        self.run_state = "idle"          # idle | running | cancelling | finished | cancelled | failed
        self._run_model: ResultsModel | None = None
        self._run_meta: dict = {}
        self._last_progress = (0, 0, 0.0)
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
        self.splitter = split

        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 6, 0)

        fbox = QGroupBox("File")
        fl = QVBoxLayout(fbox)
        row = QHBoxLayout()
        self.open_btn = QPushButton("Open file…")
        self.open_btn.setToolTip("Open a CSV, TSV, Excel, JSON or JSON Lines file (Ctrl+O), or drop it on the window")
        self.open_btn.clicked.connect(self.open_dialog)
        row.addWidget(self.open_btn)
        row.addStretch(1)
        fl.addLayout(row)
        self.file_label = QLabel("No file open")
        self.file_label.setWordWrap(True)
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        fl.addWidget(self.file_label)
        self.report_label = muted_label("CSV, TSV, XLSX, JSON or JSONL — or drop a file anywhere on the window.")
        fl.addWidget(self.report_label)
        srow = QHBoxLayout()
        self.sheet_label = QLabel("Sheet")
        self.sheet_combo = QComboBox()
        self.sheet_combo.activated.connect(lambda _i: self.open_file(self.path, self.sheet_combo.currentText()))
        srow.addWidget(self.sheet_label)
        srow.addWidget(self.sheet_combo, 1)
        fl.addLayout(srow)
        self.sheet_label.hide()
        self.sheet_combo.hide()
        sl.addWidget(fbox)

        cbox = QGroupBox("Columns")
        cf = QFormLayout(cbox)
        cf.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        cf.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.col_combos: dict[str, QComboBox] = {}
        for key, text, tip in [("title", "Title", "Short summary of the ticket"),
                               ("body", "Body", "Ticket description"),
                               ("text", "Text", "One column with the whole ticket (instead of title/body)"),
                               ("label", "Label (optional)", "True labels: accuracy and confusion matrix")]:
            cb = QComboBox()
            cb.setToolTip(tip)
            cb.setMinimumContentsLength(14)
            cb.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            cb.currentIndexChanged.connect(self._mapping_changed)
            self.col_combos[key] = cb
            cf.addRow(text, cb)
        # shown when the file does not offer what the active model was trained on
        self.mapping_note = QLabel()
        self.mapping_note.setObjectName("mappingNote")
        self.mapping_note.setWordWrap(True)
        self.mapping_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.mapping_note.hide()
        cf.addRow(self.mapping_note)
        self._mapping_confirmed = False
        sl.addWidget(cbox)

        rbox = QGroupBox("Run")
        rl = QVBoxLayout(rbox)
        brow = QHBoxLayout()
        self.classify_btn = QPushButton("Classify all")
        self.classify_btn.setObjectName("primary")
        self.classify_btn.clicked.connect(self.classify)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel)
        brow.addWidget(self.classify_btn, 1)
        brow.addWidget(self.cancel_btn)
        rl.addLayout(brow)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setFormat("%p %")
        rl.addWidget(self.progress)
        self.speed_label = muted_label("")
        rl.addWidget(self.speed_label)
        self.status_label = QLabel("Open a file to start.")
        self.status_label.setWordWrap(True)
        rl.addWidget(self.status_label)
        sl.addWidget(rbox)

        sl.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(320)
        split.addWidget(scroll)

        self.inner = QTabWidget()
        self.inner.setDocumentMode(True)
        self.preview_model = FrameModel()
        self.preview = QTableView()
        self.preview.setModel(self.preview_model)
        self._setup_table(self.preview)
        self.inner.addTab(self.preview, "Preview")

        res = QWidget()
        rl2 = QVBoxLayout(res)
        rl2.setContentsMargins(0, 6, 0, 0)
        bar = QHBoxLayout()
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter rows (any text column or label)…")
        self.filter_edit.setClearButtonEnabled(True)
        self._filter_timer = QTimer(self, singleShot=True, interval=250)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.filter_edit.textChanged.connect(lambda _t: self._filter_timer.start())
        bar.addWidget(self.filter_edit, 2)
        self.review_only = QCheckBox("Needs review only")
        self.review_only.toggled.connect(self._apply_filter)
        bar.addWidget(self.review_only)
        bar.addWidget(QLabel("Order"))
        self.order_combo = QComboBox()
        for text, _k, _a in ORDERS:
            self.order_combo.addItem(text)
        self.order_combo.activated.connect(self._apply_order)
        bar.addWidget(self.order_combo)
        self.review_btn = QPushButton("Review queue…")
        self.review_btn.setToolTip("Go through the least certain tickets with the keyboard")
        self.review_btn.clicked.connect(self.open_review)
        bar.addWidget(self.review_btn)
        self.export_btn = QPushButton("Export…")
        self.export_btn.clicked.connect(self.export_dialog)
        bar.addWidget(self.export_btn)
        rl2.addLayout(bar)
        self.proxy = ResultsProxy(self)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self._setup_table(self.table)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked |
                                   QAbstractItemView.EditTrigger.SelectedClicked |
                                   QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setItemDelegateForColumn(3, LabelDelegate(self._labels, self.table))
        self.acc_box = QGroupBox("Accuracy against the label column")
        al = QVBoxLayout(self.acc_box)
        self.acc_label = QLabel("")
        self.acc_label.setWordWrap(True)
        al.addWidget(self.acc_label)
        al.addWidget(muted_label("Confusion matrix — rows: true label, columns: predicted"))
        self.heatmap = Heatmap()
        al.addWidget(self.heatmap, 1)
        self.acc_box.setMinimumWidth(280)
        rsplit = QSplitter(Qt.Orientation.Horizontal)
        rsplit.setChildrenCollapsible(False)
        rsplit.addWidget(self.table)
        rsplit.addWidget(self.acc_box)
        rsplit.setStretchFactor(0, 1)
        rsplit.setStretchFactor(1, 0)
        rsplit.setSizes([700, 320])
        self.acc_box.hide()
        rl2.addWidget(rsplit, 1)
        self.summary_label = muted_label("")
        rl2.addWidget(self.summary_label)
        self.inner.addTab(res, "Results")
        split.addWidget(self.inner)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([340, 900])

    @staticmethod
    def _setup_table(t: QTableView):
        t.setAlternatingRowColors(True)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setWordWrap(False)
        t.setTextElideMode(Qt.TextElideMode.ElideRight)
        vh = t.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(t.fontMetrics().height() + 8)
        hh = t.horizontalHeader()
        hh.setDefaultSectionSize(160)
        hh.setResizeContentsPrecision(200)
        hh.setStretchLastSection(True)
        hh.setHighlightSections(False)

    def _labels(self) -> list[str]:
        return self.model.labels if self.model else (self.ctx.classifier.labels if self.ctx.classifier else [])

    # ---- state ---------------------------------------------------------------------------------
    def busy(self) -> bool:
        return any(j is not None and j.is_running() for j in (self.job, self.load_job, self.export_job))

    def _update_buttons(self):
        running = self.job is not None and self.job.is_running()
        loading = self.load_job is not None and self.load_job.is_running()
        has_model = self.ctx.classifier is not None
        self.classify_btn.setEnabled(not running and not loading and self.df is not None and has_model
                                     and self._mapping_ok())
        self.cancel_btn.setEnabled(running and self.run_state == "running")
        self.open_btn.setEnabled(not running and not loading)
        has_results = self.model is not None and self.model.n > 0 and not running
        exporting = self.export_job is not None and self.export_job.is_running()
        self.export_btn.setEnabled(has_results and not exporting)
        self.review_btn.setEnabled(has_results)
        for cb in self.col_combos.values():
            cb.setEnabled(not running and self.df is not None)

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
        self.ctx.remember_dir("open", path)

        meta = self._model_meta()       # a plain dict, read by the worker

        def work(emit, should_stop):
            sheets = tio.list_sheets(path)
            use = sheet if sheet else (sheets[0] if sheets else None)
            df, report = tio.read_table(path, sheet=use)
            # the column guess may scan the text of every row: done here, off the GUI thread
            return path, df, report, sheets, use, suggest_mapping([str(c) for c in df.columns], df, meta)

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
        self.path, self.df, self.report = path, df, report
        name = Path(path).name
        self.file_label.setText(f"<b>{name}</b><br>{len(df):,} rows · {df.shape[1]} columns")
        self.file_label.setToolTip(path)
        warn = ("; " + "; ".join(report.warnings[:2])) if getattr(report, "warnings", None) else ""
        self.report_label.setText(report.summary() + warn)
        multi = len(sheets) > 1
        self.sheet_label.setVisible(multi)
        self.sheet_combo.setVisible(multi)
        if multi:
            self.sheet_combo.blockSignals(True)
            self.sheet_combo.clear()
            self.sheet_combo.addItems(sheets)
            self.sheet_combo.setCurrentText(sheet or sheets[0])
            self.sheet_combo.blockSignals(False)
        cols = [str(c) for c in df.columns]
        saved = self.ctx.get_json(self._mapping_key(cols))
        # a mapping the user chose for these columns before counts as confirmed
        self._mapping_confirmed = isinstance(saved, dict)
        guess = saved if isinstance(saved, dict) else suggested
        for key, cb in self.col_combos.items():
            cb.blockSignals(True)
            cb.clear()
            cb.addItem(NONE)
            cb.addItems(cols)
            v = guess.get(key)
            cb.setCurrentText(v if v in cols else NONE)
            cb.blockSignals(False)
        self.preview_model.set_frame(df, 200)
        self.preview.resizeColumnsToContents()
        for c in range(self.preview_model.columnCount()):
            self.preview.setColumnWidth(c, min(self.preview.columnWidth(c), 380))
        self.inner.setCurrentIndex(0)
        self._update_mapping_note()
        self.status_label.setText("Check the columns, then press Classify all." if self._mapping_ok() else
                                  "Choose a Text column, or Title and/or Body.")
        self.progress.setValue(0)
        self.speed_label.setText("")
        self._update_buttons()
        self.fileLoaded.emit(path)

    @staticmethod
    def _mapping_key(cols) -> str:
        return "batch/columns/" + hashlib.sha1("\x1f".join(cols).encode("utf-8")).hexdigest()[:16]

    def mapping(self) -> dict:
        return {k: (cb.currentText() if cb.currentText() != NONE and cb.currentIndex() > 0 else None)
                for k, cb in self.col_combos.items()}

    def set_mapping(self, **kw) -> None:
        for k, v in kw.items():
            self.col_combos[k].setCurrentText(v or NONE)

    def _mapping_ok(self) -> bool:
        m = self.mapping()
        return bool(m["text"] or m["title"] or m["body"])

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
        self.mapping_note.setText(msg or "")
        self.mapping_note.setVisible(bool(msg))

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
        from triage_app.engine import tickets_from_frame
        df = self.df
        total = len(df)
        labels, top_k = list(clf.labels), min(3, len(clf.labels))
        batch, interval = self.batch_size, self.progress_interval
        chunk = 512 if total <= 20000 else 2048

        def work(emit, should_stop):
            t0 = time.perf_counter()
            tickets = tickets_from_frame(df, fields)
            emit(("start", None))
            last = [0.0]
            # a small first chunk gives early progress and a short first burst of Python work
            starts = [0] + list(range(min(64, total), total, chunk)) if total else []
            for i, start in enumerate(starts):
                part = tickets[start: starts[i + 1] if i + 1 < len(starts) else total]

                def prog(done, _n, start=start):
                    now = time.perf_counter()
                    if last[0] == 0.0 or now - last[0] >= interval:
                        last[0] = now
                        emit(("progress", start + done, total, now - t0))
                probs = clf.predict_proba(part, batch, should_stop=should_stop, on_progress=prog)
                emit(("chunk", start, probs))
                if should_stop():
                    raise Cancelled()
            emit(("progress", total, total, time.perf_counter() - t0))
            return {"rows": total, "seconds": time.perf_counter() - t0}

        self._run_labels = (labels, top_k, clf.threshold, dict(clf.class_thresholds))
        self._run_model = None
        self._run_meta = {"fields": fields, "label": m["label"], "model_version": clf.version,
                          "model_name": clf.name, "started": time.perf_counter()}
        self._prev_model = self.model
        self.job = start_job(self.ctx, self, "batch", work, "Classifying the file failed",
                             on_finished=self._on_finished, on_event=self._on_event,
                             on_cancelled=self._on_cancelled, on_failed=self._on_failed)
        if self.job is None:
            return None
        self.run_state = "running"
        self.progress.setValue(0)
        self.speed_label.setText("Starting…")
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
            self._run_model = ResultsModel(self.df, labels, top_k=top_k, lazy_inputs=True)
            self._run_model.set_thresholds(g, ct)
        elif kind == "chunk" and self._run_model is not None:
            self._run_model.append_chunk(ev[1], ev[2])
        elif kind == "progress":
            done, total, elapsed = ev[1], ev[2], ev[3]
            self._last_progress = (done, total, elapsed)
            pct = int(100 * done / total) if total else 100
            if pct != self.progress.value():
                self.progress.setValue(pct)
            rate = done / elapsed if elapsed > 0 else 0.0
            eta = (total - done) / rate if rate > 0 else float("nan")
            self.speed_label.setText(f"{done:,} / {total:,} rows · {rate:,.0f} rows/s · ETA {fmt_eta(eta)}")

    def _show_model(self, model: ResultsModel | None):
        self.proxy.setSourceModel(model)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        if model is not None:
            try:
                model.corrected.connect(self._on_corrected, Qt.ConnectionType.UniqueConnection)
            except (RuntimeError, TypeError):
                pass
            widths = {0: 170, 1: 90, 2: 70, 3: 150}
            for c in range(model.columnCount()):
                self.table.setColumnWidth(c, widths.get(c, 220))

    def _on_finished(self, res):
        self.run_state = "finished"
        if self._run_model is None:  # empty file: no "start" event was needed
            labels, top_k, g, ct = self._run_labels
            self._run_model = ResultsModel(self.df, labels, top_k=top_k)
        self.model = self._run_model
        self._run_model = None
        self.model.model_version = self._run_meta["model_version"]
        self.model.fields = self._run_meta["fields"]
        self._show_model(self.model)
        self.inner.setCurrentIndex(1)
        self._apply_order()
        self._apply_filter()
        self.progress.setValue(100)
        secs = res["seconds"]
        self.speed_label.setText(f"{res['rows']:,} rows in {secs:.1f} s · {res['rows'] / max(secs, 1e-9):,.0f} rows/s")
        self.status_label.setText(f"Done: {res['rows']:,} tickets classified.")
        self._update_summary()
        self._update_accuracy()
        self._update_buttons()
        self.runFinished.emit("finished")

    def _restore_previous(self):
        self._run_model = None      # never shown; the previous results are still on screen

    def _on_cancelled(self):
        self.run_state = "cancelled"
        done = self._run_model.n if self._run_model is not None else 0
        self._restore_previous()
        self.progress.setValue(0)
        self.speed_label.setText("")
        kept = " Previous results kept." if self.model is not None else ""
        self.status_label.setText(f"Cancelled, {done:,} rows done; nothing was kept from this run.{kept}")
        self._update_buttons()
        self.runFinished.emit("cancelled")

    def _on_failed(self, msg, details):
        self.run_state = "failed"
        self._restore_previous()
        self.progress.setValue(0)
        self.status_label.setText("Failed — see the message.")
        show_error(self, "Classifying the file failed", msg, "Check the column mapping and the model, "
                   "then try again.", details)
        self._update_buttons()
        self.runFinished.emit("failed")

    # ---- results -------------------------------------------------------------------------------
    def _apply_filter(self, *_):
        if self.proxy.sourceModel() is not None:
            self.proxy.set_filter(self.filter_edit.text(), self.review_only.isChecked())
            self._update_summary()

    def _apply_order(self, *_):
        m = self.proxy.sourceModel()
        if m is None:
            return
        _t, key, asc = ORDERS[self.order_combo.currentIndex()]
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        m.sort_by(key, asc)

    def set_order(self, text: str):
        self.order_combo.setCurrentText(text)
        self._apply_order()

    def _update_summary(self):
        m = self.model
        if m is None or not m.n:
            self.summary_label.setText("")
            return
        flagged = int(m.review[: m.n].sum())
        shown = self.proxy.rowCount()
        extra = f" · {shown:,} shown" if shown != m.n else ""
        self.summary_label.setText(f"{m.n:,} tickets · {flagged:,} need review ({flagged / m.n:.0%}) · "
                                   f"{m.n - flagged:,} can be auto-routed{extra}")

    def _update_accuracy(self):
        m = self.model
        lab = self._run_meta.get("label")
        if m is None or not lab or self.df is None or lab not in self.df.columns:
            self.acc_box.hide()
            return
        y = self.df[lab].iloc[: m.n].astype(str).str.strip().to_numpy(dtype=object)
        idx = {l: i for i, l in enumerate(m.labels)}
        yi = np.array([idx.get(v, -1) for v in y], dtype=np.int64)
        known = yi >= 0
        nonempty = np.array([bool(v) for v in y])
        if not nonempty.any():
            self.acc_box.hide()
            return
        pred = m.pred_idx[: m.n]
        acc = float((pred[nonempty] == yi[nonempty]).mean())
        cm = np.zeros((len(m.labels), len(m.labels)), dtype=np.int64)
        np.add.at(cm, (yi[known], pred[known]), 1)
        unknown = int((nonempty & ~known).sum())
        self.accuracy = acc
        self.confusion = cm
        note = f" · {unknown:,} rows have labels the model does not know" if unknown else ""
        routed = ~m.review[: m.n] & nonempty
        r_acc = float((pred[routed] == yi[routed]).mean()) if routed.any() else float("nan")
        self.acc_label.setText(f"<span style='font-size:15pt; font-weight:700'>{acc:.1%}</span> accuracy on "
                               f"{int(nonempty.sum()):,} labelled rows{note}<br>"
                               f"Auto-routed rows: {r_acc:.1%} correct" if routed.any() else
                               f"<b>{acc:.1%}</b> accuracy on {int(nonempty.sum()):,} labelled rows{note}")
        self.heatmap.set_data(m.labels, cm)
        self.acc_box.show()

    def _on_thresholds(self):
        clf = self.ctx.classifier
        if clf is None:
            return
        for m in (self.model, self._run_model):
            if m is not None and m.labels == clf.labels:
                m.set_thresholds(clf.threshold, clf.class_thresholds)
        self._apply_filter()
        self._update_summary()

    def _on_corrected(self, data_row: int, label: str):
        m = self.model
        if m is None or self.df is None:
            return
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
            self.ctx.corrections.add(text, f, m.predicted(data_row), float(m.conf[data_row]), label,
                                     getattr(m, "model_version", ""))
        except (ValueError, OSError) as e:
            show_error(self, "The correction was not saved", str(e))
            return
        self.status_label.setText(f"Correction saved for row {data_row + 1}: {label} "
                                  f"({self.ctx.corrections.count():,} stored).")

    def ticket_of(self, data_row: int) -> dict:
        fields = getattr(self.model, "fields", {}) or {}
        row = self.df.iloc[data_row]
        return {k: str(row[c]) for k, c in fields.items() if c}

    # ---- review + export -----------------------------------------------------------------------
    def open_review(self):
        if self.model is None or not self.model.n:
            return None
        from triage_app.gui.review_dialog import ReviewDialog
        dlg = ReviewDialog(self.model, self.ticket_of, self)
        dlg.open()
        self.review_dialog = dlg
        return dlg

    def export_dialog(self):
        if self.model is None:
            return
        base = Path(self.path).stem + "-triaged.csv" if self.path else "triaged.csv"
        path, _ = QFileDialog.getSaveFileName(self, "Export results", str(Path(self.ctx.last_dir("export")) / base),
                                              "CSV (*.csv);;Excel (*.xlsx);;TSV (*.tsv);;JSON (*.json);;"
                                              "JSON Lines (*.jsonl)")
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
