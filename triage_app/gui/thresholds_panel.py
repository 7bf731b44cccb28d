"""Review thresholds: precision and auto-routed coverage vs threshold, global and per-class sliders,
suggestion for a target precision, save into the bundle.

The panel sits in the Models tab, which is built at start-up; its matplotlib chart is built the
first time the panel is shown, so opening the app does not import matplotlib."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from triage_app import io as tio
from triage_app import paths, review
from triage_app.bundle import BundleError, install_copy, load_bundle, save_thresholds
from triage_app.engine import tickets_from_frame
from triage_app.gui.widgets import TABLE_FILTER, ask, muted_label, show_error, start_job
from triage_app.targets import validation_arrays


def _slider() -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(0, 100)
    s.setSingleStep(1)
    s.setPageStep(5)
    return s


class ThresholdsPanel(QWidget):
    saved = Signal(str)            # bundle path written
    dataChanged = Signal()

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.bundle = None
        self.probs = None
        self.y = None
        self.labels: list[str] = []
        self.curve = None
        self.source = ""
        self.job = None
        self._rows: dict[str, dict] = {}
        self.canvas = self.fig = self.ax = None     # the chart, built on first show (_ensure_chart)
        self._lines: dict = {}
        self._draw_timer = QTimer(self, singleShot=True, interval=50)
        self._draw_timer.timeout.connect(self._draw)
        self._build()
        ctx.modelChanged.connect(self._on_model)

    # ---- UI ------------------------------------------------------------------------------------
    def _build(self):
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        head = QHBoxLayout()
        self.title = QLabel("Review thresholds")
        self.title.setObjectName("sectionTitle")
        head.addWidget(self.title)
        head.addStretch(1)
        self.target_label = QLabel("Target:")
        self.target_pick = QComboBox()         # a multi-target model: whose thresholds are shown
        self.target_pick.setToolTip("The target (label column) whose review thresholds you set")
        self.target_pick.currentIndexChanged.connect(self._target_picked)
        head.addWidget(self.target_label)
        head.addWidget(self.target_pick)
        self.target_label.hide()
        self.target_pick.hide()
        self.measure_btn = QPushButton("Measure on a labeled file…")
        self.measure_btn.setToolTip("Run the model on a file with a label column and use it for the curves")
        self.measure_btn.clicked.connect(self.measure_dialog)
        head.addWidget(self.measure_btn)
        lay.addLayout(head)
        self.source_label = muted_label("")
        lay.addWidget(self.source_label)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        lay.addWidget(split, 1)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 6, 0)
        self.chart_box = QWidget()
        self.chart_box.setMinimumSize(380, 260)
        QVBoxLayout(self.chart_box).setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.chart_box, 1)

        gbox = QGroupBox("Global threshold")
        gl = QVBoxLayout(gbox)
        row = QHBoxLayout()
        self.global_slider = _slider()
        self.global_spin = QDoubleSpinBox()
        self.global_spin.setRange(0.0, 1.0)
        self.global_spin.setSingleStep(0.01)
        self.global_spin.setDecimals(2)
        self.global_slider.valueChanged.connect(lambda v: self._set_global(v / 100, from_slider=True))
        self.global_spin.valueChanged.connect(lambda v: self._set_global(v, from_slider=False))
        row.addWidget(QLabel("Review below"))
        row.addWidget(self.global_slider, 1)
        row.addWidget(self.global_spin)
        gl.addLayout(row)
        self.summary = QLabel("—")
        self.summary.setObjectName("sectionTitle")
        self.summary.setWordWrap(True)
        gl.addWidget(self.summary)
        srow = QHBoxLayout()
        srow.addWidget(QLabel("Target precision"))
        self.target = QDoubleSpinBox()
        self.target.setRange(50.0, 100.0)
        self.target.setDecimals(1)
        self.target.setSingleStep(0.5)
        self.target.setSuffix(" %")
        self.target.setValue(float(self.ctx.settings.value("thresholds/target_precision", 90.0)))
        self.target.valueChanged.connect(lambda v: self.ctx.settings.setValue("thresholds/target_precision", v))
        srow.addWidget(self.target)
        self.suggest_btn = QPushButton("Suggest for target precision")
        self.suggest_btn.setToolTip("Lowest threshold reaching the target (global, and per class where 'Own' is on)")
        self.suggest_btn.clicked.connect(self.suggest)
        srow.addWidget(self.suggest_btn)
        srow.addStretch(1)
        gl.addLayout(srow)
        self.suggest_note = QLabel("")
        self.suggest_note.setObjectName("warnText")
        self.suggest_note.setWordWrap(True)
        self.suggest_note.hide()
        gl.addWidget(self.suggest_note)
        ll.addWidget(gbox)
        split.addWidget(left)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(6, 0, 0, 0)
        rl.addWidget(QLabel("Per-class thresholds (by predicted class; 'Own' overrides the global one)"))
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["Class", "n", "Own", "Threshold", "Precision", "Auto-routed"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        hh = self.table.horizontalHeader()
        # class names whole ("Administrative rights"); the slider column takes what is left
        for c in (0, 1, 2, 4, 5):
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._schedule_draw)
        rl.addWidget(self.table, 1)
        brow = QHBoxLayout()
        self.reset_btn = QPushButton("Reset to saved")
        self.reset_btn.clicked.connect(self.reset)
        self.save_btn = QPushButton("Save into the model")
        self.save_btn.setObjectName("primary")
        self.save_btn.clicked.connect(self.save)
        brow.addStretch(1)
        brow.addWidget(self.reset_btn)
        brow.addWidget(self.save_btn)
        rl.addLayout(brow)
        self.save_status = muted_label("")
        rl.addWidget(self.save_status)
        split.addWidget(right)
        split.setSizes([560, 640])
        self._set_enabled(False)

    def _set_enabled(self, on: bool):
        for w in (self.global_slider, self.global_spin, self.suggest_btn, self.table, self.save_btn, self.reset_btn,
                  self.target):
            w.setEnabled(on)

    # ---- data ----------------------------------------------------------------------------------
    def _on_model(self, clf):
        if self.bundle is None and clf is not None:
            self.set_bundle(clf.bundle)

    def set_bundle(self, bundle) -> None:
        """Show the thresholds of ``bundle`` and its validation data (``validation.npz``), if any."""
        if self.job is not None and self.job.is_running():
            return
        if (bundle is not None and self.bundle is not None and self.probs is not None
                and Path(bundle.path) == Path(self.bundle.path)
                and bundle.meta.get("review_threshold") == self.bundle.meta.get("review_threshold")
                and bundle.meta.get("class_thresholds") == self.bundle.meta.get("class_thresholds")
                and bundle.meta.get("targets") == self.bundle.meta.get("targets")):
            return  # same bundle, same saved thresholds: keep the user's unsaved edits
        self.bundle = bundle
        if bundle is None:
            self.title.setText("Review thresholds")
            self.source_label.setText("Select a model.")
            self._set_enabled(False)
            return
        self.title.setText(f"Review thresholds — {bundle.name} v{bundle.version}")
        names = [t.name for t in bundle.targets]
        self.target_pick.blockSignals(True)
        self.target_pick.clear()
        self.target_pick.addItems(names)
        self.target_pick.blockSignals(False)
        self.target_label.setVisible(bool(names))
        self.target_pick.setVisible(bool(names))
        self._show_target()

    def target_index(self) -> int:
        """The picked target of a multi-target model (0: the primary one, or a single-target model)."""
        return max(0, self.target_pick.currentIndex()) if self.bundle is not None and self.bundle.targets else 0

    def _target_picked(self, _i: int) -> None:
        if self.bundle is not None and (self.job is None or not self.job.is_running()):
            self._show_target()

    def _saved_thresholds(self) -> tuple[float, dict]:
        b, k = self.bundle, self.target_index()
        t = b.targets[k] if k else None
        return (t.review_threshold, t.class_thresholds) if t else (b.review_threshold, b.class_thresholds)

    def _show_target(self) -> None:
        """Labels, saved thresholds and validation data of the picked target."""
        bundle, k = self.bundle, self.target_index()
        self.labels = bundle.targets[k].labels if k else bundle.labels
        probs = y = None
        vp = Path(bundle.path) / "validation.npz"
        if vp.is_file():
            try:
                got = validation_arrays(bundle.path, k)
                if got is None:
                    raise ValueError(f"no validation scores of target {k}")
                probs, y = got
                if probs.ndim != 2 or probs.shape[1] != len(self.labels) or len(y) != len(probs):
                    raise ValueError(f"shapes {probs.shape} / {y.shape} do not match {len(self.labels)} labels")
            except Exception as e:  # noqa: BLE001
                probs = y = None
                self.source_label.setText(f"{vp}: unreadable ({e}). Use 'Measure on a labeled file…'.")
        if probs is not None:
            self.set_data(probs, y, f"validation split saved with the model ({len(y):,} tickets)")
        else:
            if not vp.is_file():
                self.source_label.setText("This model has no validation data; use 'Measure on a labeled file…'.")
            self.probs = self.y = self.curve = None
            self._fill_table(*self._saved_thresholds())
            self._set_enabled(False)
            self.measure_btn.setEnabled(True)
            self.summary.setText("—")
            self._replot()

    def set_data(self, probs, y, source: str) -> None:
        self.probs, self.y, self.source = probs, y, source
        self.curve = review.threshold_curve(probs, y, self.labels)
        self.source_label.setText(f"Measured on: {source}")
        self._fill_table(*self._saved_thresholds())
        self._set_enabled(True)
        self.measure_btn.setEnabled(True)
        self._replot()
        self._update()
        self.dataChanged.emit()

    def _fill_table(self, global_t: float, class_t: dict):
        self._block = True
        self.global_slider.setValue(int(round(global_t * 100)))
        self.global_spin.setValue(global_t)
        self.table.setRowCount(0)
        self.table.setRowCount(len(self.labels))
        self._rows = {}
        for i, lab in enumerate(self.labels):
            it = QTableWidgetItem(lab)
            it.setToolTip(lab)
            self.table.setItem(i, 0, it)
            n = self.curve["per_class"][lab]["n"] if self.curve else 0
            nit = QTableWidgetItem(f"{n:,}")
            nit.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(i, 1, nit)
            own = QCheckBox()
            own.setChecked(lab in class_t)
            own.setToolTip("Use an own threshold for this class")
            cw = QWidget()
            cl = QHBoxLayout(cw)
            cl.setContentsMargins(6, 0, 6, 0)
            cl.addWidget(own, 0, Qt.AlignmentFlag.AlignCenter)
            self.table.setCellWidget(i, 2, cw)
            sw = QWidget()
            sl = QHBoxLayout(sw)
            sl.setContentsMargins(6, 0, 6, 0)
            s = _slider()
            s.setValue(int(round(class_t.get(lab, global_t) * 100)))
            val = QLabel()
            val.setMinimumWidth(val.fontMetrics().horizontalAdvance("0.00") + 4)
            sl.addWidget(s, 1)
            sl.addWidget(val)
            self.table.setCellWidget(i, 3, sw)
            for c in (4, 5):
                item = QTableWidgetItem("")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, c, item)
            self._rows[lab] = {"own": own, "slider": s, "value": val, "row": i}
            own.toggled.connect(lambda _c, lab=lab: self._class_changed(lab))
            s.valueChanged.connect(lambda _v, lab=lab: self._class_changed(lab))
        self.table.resizeRowsToContents()
        self._block = False
        self._sync_class_widgets()

    def _sync_class_widgets(self):
        g = self.global_threshold()
        for lab, r in self._rows.items():
            own = r["own"].isChecked()
            r["slider"].setEnabled(own)
            if not own:
                r["slider"].blockSignals(True)
                r["slider"].setValue(int(round(g * 100)))
                r["slider"].blockSignals(False)
            r["value"].setText(f"{r['slider'].value() / 100:.2f}")

    # ---- values --------------------------------------------------------------------------------
    def global_threshold(self) -> float:
        return round(self.global_spin.value(), 2)

    def class_thresholds(self) -> dict[str, float]:
        return {lab: r["slider"].value() / 100 for lab, r in self._rows.items() if r["own"].isChecked()}

    def set_global(self, t: float) -> None:
        self.global_spin.setValue(t)

    def set_class(self, label: str, t: float | None) -> None:
        r = self._rows[label]
        r["own"].setChecked(t is not None)
        if t is not None:
            r["slider"].setValue(int(round(t * 100)))

    def _set_global(self, v: float, from_slider: bool):
        if getattr(self, "_block", False):
            return
        self._block = True
        if from_slider:
            self.global_spin.setValue(v)
        else:
            self.global_slider.setValue(int(round(v * 100)))
        self._block = False
        self._sync_class_widgets()
        self._update()

    def _class_changed(self, _lab):
        if getattr(self, "_block", False):
            return
        self._sync_class_widgets()
        self._update()

    def summary_text(self) -> str:
        return self.summary.text()

    def _update(self):
        if self.probs is None:
            return
        g, ct = self.global_threshold(), self.class_thresholds()
        s = review.routed_summary(self.probs, self.y, g, ct, labels=self.labels)
        if s["routed"]:
            self.summary.setText(f"{s['coverage']:.1%} auto-routed at {s['precision']:.1%} precision "
                                 f"({s['routed']:,} of {s['total']:,} tickets; the rest go to review)")
        else:
            self.summary.setText(f"Nothing auto-routed: all {s['total']:,} tickets go to review")
        for lab, r in self._rows.items():
            pc = s["per_class"][lab]
            routed = pc["n"] and pc["coverage"] > 0
            self.table.item(r["row"], 4).setText(f"{pc['precision']:.0%}" if routed else
                                                 "none routed" if pc["n"] else "no tickets")
            self.table.item(r["row"], 5).setText(f"{pc['coverage']:.0%}" if pc["n"] else "no tickets")
        self._schedule_draw()

    # ---- plot ----------------------------------------------------------------------------------
    def showEvent(self, event):  # noqa: N802 - Qt name
        self._ensure_chart()
        super().showEvent(event)

    def _ensure_chart(self):
        """Build the chart (imports matplotlib) and plot the current data into it."""
        if self.canvas is not None:
            return self.canvas
        from triage_app.gui.charts import ThemedCanvas

        self.canvas = ThemedCanvas(min_height=260)
        self.canvas.setMinimumWidth(380)
        self.fig = self.canvas.figure
        self.ax = self.fig.add_subplot(111)
        self.chart_box.layout().addWidget(self.canvas)
        self.canvas.restyle_hook = self._replot
        self.canvas.restyle()
        return self.canvas

    def _replot(self):
        """Draw the curves of the current data (empty axes without data); no-op before the chart exists."""
        if self.canvas is None:
            return
        from triage_app.gui.charts import style_axes, style_legend

        self.ax.clear()
        self._lines = {}
        c = style_axes(self.ax, self.canvas, grid="both")
        if self.curve is None:
            self.canvas.draw_idle()
            return
        t = self.curve["thresholds"]
        g = self.curve["global"]
        prim, sec = c["series_primary"], c["series_secondary"]
        self._lines = {
            "prec": self.ax.plot(t, g["precision"] * 100, color=prim, lw=2, label="Precision (auto-routed)")[0],
            "cov": self.ax.plot(t, g["coverage"] * 100, color=sec, lw=2, label="Auto-routed share")[0],
            "cprec": self.ax.plot([], [], color=prim, lw=1.2, ls="--", label="selected class")[0],
            "ccov": self.ax.plot([], [], color=sec, lw=1.2, ls="--")[0],
            "vline": self.ax.axvline(self.global_threshold(), color=c["warn"], lw=1.5, ls=":"),
        }
        self.ax.set_xlim(0, 1)
        self.ax.set_ylim(0, 102)
        self.ax.set_xlabel("review threshold (confidence)")
        self.ax.set_ylabel("%")
        style_legend(self.ax.legend(loc="lower left", fontsize=8, frameon=False), self.canvas)
        self._draw()

    def _schedule_draw(self):
        self._draw_timer.start()

    def _draw(self):
        if not self._lines or self.curve is None:
            return
        self._lines["vline"].set_xdata([self.global_threshold()] * 2)
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if rows:
            lab = self.labels[rows[0].row()]
            pc = self.curve["per_class"][lab]
            t = self.curve["thresholds"]
            self._lines["cprec"].set_data(t, pc["precision"] * 100)
            self._lines["ccov"].set_data(t, pc["coverage"] * 100)
            self._lines["cprec"].set_label(f"{lab} (dashed)")
        else:
            self._lines["cprec"].set_data([], [])
            self._lines["ccov"].set_data([], [])
        self.canvas.draw_idle()

    # ---- actions -------------------------------------------------------------------------------
    def suggest(self):
        if self.probs is None:
            return
        target = self.target.value() / 100
        g = review.suggest(self.probs, self.y, target)
        notes = [] if g["reached"] else [g["note"]]
        if g["threshold"] is not None:
            self.set_global(g["threshold"])
        for lab, r in self._rows.items():
            if r["own"].isChecked():
                c = review.suggest(self.probs, self.y, target, cls=lab, labels=self.labels)
                if c["threshold"] is not None:
                    r["slider"].setValue(int(round(c["threshold"] * 100)))
                if not c["reached"]:
                    notes.append(f"{lab}: " + (c["note"] if c["n"] else "no tickets predicted as this class"))
        self.suggest_note.setText("\n".join(notes))
        self.suggest_note.setVisible(bool(notes))
        self._update()

    def reset(self):
        if self.bundle is not None:
            b = load_bundle(self.bundle.path, verify_hash=False)
            self.bundle = b
            self._fill_table(*self._saved_thresholds())
            self._update()

    def save(self) -> str | None:
        """Write the thresholds into the bundle (or a user copy of a read-only one); returns the path."""
        if self.bundle is None:
            return None
        target = Path(self.bundle.path)
        g, ct = self.global_threshold(), self.class_thresholds()
        was_active = self.ctx.is_active(target)
        if self.bundle.read_only or self.ctx.is_builtin(target):
            if not ask(self, "Save a copy?", f"{self.bundle.name} v{self.bundle.version} is the built-in model and "
                       "cannot be changed. Save a copy with these thresholds into your models folder and use it?",
                       yes="Save a copy"):
                return None
            try:
                target = self._user_copy(target)
            except (OSError, BundleError) as e:
                show_error(self, "Could not copy the model", str(e), "Check the free disk space.")
                return None
        try:
            k = self.target_index()
            b = save_thresholds(target, g, ct, self.bundle.targets[k].name if k else None)
        except (BundleError, OSError) as e:
            show_error(self, "Saving the thresholds failed", str(e), "Check that the model folder is writable.")
            return None
        self.bundle = b
        if self.ctx.is_active(target):
            self.ctx.classifier.reload_thresholds()
            self.ctx.thresholdsChanged.emit()
        elif was_active:
            try:
                self.ctx.activate(target)
            except BundleError as e:
                show_error(self, "The copy was saved but could not be activated", str(e))
            self.ctx.thresholdsChanged.emit()
        self.ctx.modelsListChanged.emit()
        self.save_status.setText(f"Saved into {target}.")
        self.saved.emit(str(target))
        return str(target)

    def _user_copy(self, src: Path) -> Path:
        """A writable copy of a read-only (built-in) bundle in the user models folder."""
        return install_copy(src, paths.user_models_dir(), suffix="-custom", meta_update={"read_only": False})

    # ---- measure -------------------------------------------------------------------------------
    def measure_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Labeled ticket file", self.ctx.last_dir("open"), TABLE_FILTER)
        if path:
            self.measure_file(path)

    def measure_file(self, path, mapping: dict | None = None):
        """Run the model on a labeled file in a worker and show its curves.  A model with several
        targets reads the picked target's own label column (by name) and its probabilities."""
        if self.bundle is None:
            return None
        bundle = self.bundle
        ctx = self.ctx
        active = ctx.classifier if ctx.is_active(bundle.path) else None
        k = self.target_index()
        target = bundle.targets[k] if bundle.targets else None
        labels = list(target.labels) if target is not None else list(bundle.labels)

        def work(emit, should_stop):
            df, _rep = tio.read_table(path)
            cols = [str(c) for c in df.columns]
            m = mapping or tio.guess_columns(cols, df)
            label_col = target.column if target is not None and target.column in cols else \
                (m.get("label") if k == 0 else None)
            if not label_col:
                want = f"a column {target.column!r} (target {target.name})" if target is not None and k else "a label column"
                raise ValueError(f"{Path(path).name}: no {want} found (columns: {', '.join(cols)}); "
                                 "the file needs the true class of each ticket")
            fields = {"text": m["text"]} if m.get("text") else {k2: m[k2] for k2 in ("title", "body") if m.get(k2)}
            clf = active or ctx.load_classifier(bundle.path)
            tickets = tickets_from_frame(df, fields)
            progress = lambda d, n: emit((d, n))  # noqa: E731
            if target is not None:
                probs = clf.score_targets(tickets, should_stop=should_stop, on_progress=progress)[0][target.name]
            else:
                probs = clf.predict_proba(tickets, should_stop=should_stop, on_progress=progress)
            idx = {lab: i for i, lab in enumerate(labels)}
            y = np.array([idx.get(str(v).strip(), -1) for v in df[label_col].tolist()], dtype=np.int64)
            keep = y >= 0      # an empty label, or one the model does not know, says nothing of precision
            if not keep.any():
                raise ValueError(f"{Path(path).name}: no label in column '{label_col}' is one of the model's "
                                 f"({', '.join(labels[:8])}{', …' if len(labels) > 8 else ''})")
            what = f"label column '{label_col}'" + (f", target {target.name}" if target is not None else "")
            skipped = f"; {int((~keep).sum()):,} rows without a known label left out" if not keep.all() else ""
            return probs[keep], y[keep], f"{Path(path).name} ({int(keep.sum()):,} tickets, {what}{skipped})"

        self.measure_btn.setEnabled(False)
        self.source_label.setText(f"Measuring on {Path(path).name}…")
        self.job = start_job(ctx, self, "measure", work, f"Measuring on {Path(path).name} failed",
                             on_finished=lambda r: self.set_data(*r),
                             on_event=lambda ev: self.source_label.setText(f"Measuring… {ev[0]:,} / {ev[1]:,}"))
        if self.job is not None:
            self.job.done.connect(lambda: self.measure_btn.setEnabled(True))
        else:
            self.measure_btn.setEnabled(True)
        return self.job
