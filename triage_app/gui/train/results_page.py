"""The "Results" page: summary, per-class table, confusion chart, the comparison with the active
model, and the name / save / use / discard row.

The page shows a :class:`TrainOutcome`; what its buttons do is the tab's business: they emit
``saveRequested``, ``useRequested`` and ``discardRequested``."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from trainer.pipeline import TrainOutcome
from triage_app.gui.flow_layout import FlowLayout
from triage_app.gui.style import colors
from triage_app.gui.train.targets_table import TargetsTable
from triage_app.gui.train_plots import ConfusionChart
from triage_app.hybrid import choice_rule

EMPTY_SUMMARY = "Results appear here when training ends."
EMPTY_COMPARISON = "No comparison yet."


class _NumItem(QTableWidgetItem):
    """Sorts by the number in UserRole."""

    def __lt__(self, other):
        a = self.data(Qt.ItemDataRole.UserRole)
        b = other.data(Qt.ItemDataRole.UserRole)
        if a is None or b is None:
            return super().__lt__(other)
        return a < b


def _num(value, fmt="{:.3f}") -> QTableWidgetItem:
    it = _NumItem()
    if value is not None and isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value):
        it.setText(fmt.format(value))
        it.setData(Qt.ItemDataRole.UserRole, float(value))
    else:
        it.setText("—")
        it.setData(Qt.ItemDataRole.UserRole, -1e9)
    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return it


def _text_item(text) -> QTableWidgetItem:
    it = QTableWidgetItem(str(text))
    it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEditable)
    it.setToolTip(str(text))
    return it


def _setup_table(t: QTableWidget) -> None:
    t.verticalHeader().hide()
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setAlternatingRowColors(True)
    t.setSortingEnabled(True)
    h = t.horizontalHeader()
    h.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for c in range(1, t.columnCount()):
        h.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
    t.setMinimumHeight(120)


def served_val(o: TrainOutcome) -> dict:
    """Validation figures of what the bundle serves (a hybrid's blend, else the transformer)."""
    return (o.metrics.get("hybrid") or {}).get("val") or o.metrics.get("val", {})


def summary_html(o: TrainOutcome) -> str:
    """Validation, test and exported-file figures, calibration and precision, one line each."""
    val = served_val(o)
    what = " of the served model" if (o.metrics.get("hybrid") or {}).get("val") else ""
    parts = [f"<b>Validation</b>{what} ({val.get('n', 0):,} tickets): accuracy <b>{val.get('accuracy', 0):.3f}</b>, "
             f"macro-F1 <b>{val.get('macro_f1', 0):.3f}</b>, weighted-F1 {val.get('weighted_f1', 0):.3f}"]
    h = o.metrics.get("hybrid")
    lexical_only = bool(h) and h.get("chosen") == "lexical"
    test = o.metrics.get("test")
    if test and not lexical_only:     # a lexical-only bundle's test figures are the exported file's
        parts.append(f"<b>Test, the transformer in PyTorch</b> ({test.get('n', 0):,} tickets, never seen in training): accuracy "
                     f"<b>{test.get('accuracy', 0):.3f}</b>, macro-F1 <b>{test.get('macro_f1', 0):.3f}</b>")
    if h:
        how = {"transformer": "the transformer alone", "lexical": "the TF-IDF model alone",
               "blend": f"a blend, {h['lexical_weight']:g} TF-IDF"}[h["chosen"]]
        by, key = choice_rule(h)
        cands = ", ".join(f"{k} {v[key]:.3f}" for k, v in h["candidates"].items() if key in v)
        parts.append(f"<b>Served</b>: {how} (chosen on {by}: {cands})")
    ex = o.metrics.get("test_exported")
    if ex:
        parts.append(f"<b>Test, the exported file as the app runs it</b> ({ex['precision']}): accuracy "
                     f"<b>{ex['accuracy']:.3f}</b>, macro-F1 <b>{ex['macro_f1']:.3f}</b>")
    by = (ex or {}).get("by_language") or {}
    if by:
        parts.append("<b>Per language</b> (test, as the app runs it): " + "; ".join(
            f"{lang} {r['rows']:,} tickets: accuracy <b>{r['accuracy']:.3f}</b>, macro-F1 <b>{r['macro_f1']:.3f}</b>"
            for lang, r in list(by.items())[:8]) + (f"; {len(by) - 8} more in bundle.json" if len(by) > 8 else ""))
    cal = o.metrics.get("hybrid") or o.metrics      # what is served is what is calibrated
    if "temperature" in cal:
        parts.append(f"Calibration: temperature {cal['temperature']:.2f}, confidence error (ECE) "
                     f"{cal.get('ece_before', float('nan')):.3f} → {cal.get('ece_after', float('nan')):.3f}")
    parts.append(f"Exported as <b>{o.export.get('precision', '?')}</b>: {o.export.get('precision_note', '')}")
    p = o.plan
    if p:
        from triage_app.gui.train.common import fmt_duration

        parts.append(f"<b>Recipe</b>: auto chose {p['label']} (estimate {fmt_duration(p['estimate_s'])}, "
                     f"took {fmt_duration(o.elapsed_s)}; {p['reason']})")
    return "<br>".join(parts)


def comparison_html(c: dict) -> str:
    """The headline of a comparison that has shared labels or says why there are none."""
    a, n = c["active"], c["new"]

    def fmt(x):
        return f"{x:.3f}" if np.isfinite(x) else "—"

    def diff(x, y):
        if not (np.isfinite(x) and np.isfinite(y)):
            return "—"
        d = y - x
        return f"{d:+.3f}"

    txt = (f"Active model <b>{c.get('active_name', '')}</b> vs the new model on {c['rows']:,} of "
           f"{c['total_rows']:,} validation tickets: accuracy {fmt(a['accuracy'])} → <b>{fmt(n['accuracy'])}</b> "
           f"({diff(a['accuracy'], n['accuracy'])}), macro-F1 {fmt(a['macro_f1'])} → "
           f"<b>{fmt(n['macro_f1'])}</b> ({diff(a['macro_f1'], n['macro_f1'])}).")
    if c["only_new"] or c["only_active"]:
        txt += ("<br>The two models have different labels, so they are compared only on the "
                f"{len(c['shared'])} labels both know")
        if c["only_new"]:
            txt += f"; only the new model has: {', '.join(c['only_new'])}"
        if c["only_active"]:
            txt += f"; only the active model has: {', '.join(c['only_active'])}"
        txt += "."
    if not c["shared"]:
        txt = (f"The active model <b>{c.get('active_name', '')}</b> shares no label with the new "
               "model, so they cannot be compared.")
    elif c.get("caveat"):
        txt += f"<br><b>Caution</b>: {c['caveat']}"
    return txt


class ResultsPage(QWidget):
    saveRequested = Signal()
    useRequested = Signal()
    discardRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.summary_label = QLabel(EMPTY_SUMMARY)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.summary_label)

        # one view at a time, each with the whole page: readable from 1024 x 700 up
        self.views = QTabWidget()
        self.views.setDocumentMode(True)
        self.class_table = QTableWidget(0, 5)
        self.class_table.setHorizontalHeaderLabels(["Label", "Precision", "Recall", "F1", "Support"])
        _setup_table(self.class_table)
        self.class_table.setToolTip("Per-label quality on the validation split")
        self.views.addTab(self.class_table, "Per label")
        self.confusion_chart = ConfusionChart()
        csc = QScrollArea()
        csc.setWidgetResizable(True)
        csc.setFrameShape(QFrame.Shape.NoFrame)
        csc.setWidget(self.confusion_chart)
        self.views.addTab(csc, "Confusion matrix")
        self.views.addTab(self._build_comparison(), "Compared with the active model")
        self.targets_table = TargetsTable()         # a multi-target model: one row per target
        self._targets_tab = -1
        v.addWidget(self.views, 1)
        v.addLayout(self._build_actions())

    def _build_comparison(self) -> QWidget:
        cmp_box = QWidget()
        cv = QVBoxLayout(cmp_box)
        cv.setContentsMargins(0, 6, 0, 0)
        self.compare_label = QLabel(EMPTY_COMPARISON)
        self.compare_label.setWordWrap(True)
        self.compare_label.setTextFormat(Qt.TextFormat.RichText)
        cv.addWidget(self.compare_label)
        self.compare_table = QTableWidget(0, 5)
        self.compare_table.setHorizontalHeaderLabels(["Label", "Active F1", "New F1", "Difference", "Support"])
        _setup_table(self.compare_table)
        cv.addWidget(self.compare_table)
        return cmp_box

    def _build_actions(self) -> FlowLayout:
        srow = FlowLayout()             # one row when there is room; the buttons wrap at 1024 px
        name_box = QWidget()            # the name and its label stay together
        nl = QHBoxLayout(name_box)
        nl.setContentsMargins(0, 0, 0, 0)
        nl.addWidget(QLabel("Model name"))
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. it-tickets-2025-06")
        self.name_edit.setToolTip("Folder name of the model under the app's models folder")
        self.name_edit.setMinimumWidth(200)
        nl.addWidget(self.name_edit, 1)
        srow.addWidget(name_box)
        self.save_btn = QPushButton("Save as model")
        self.save_btn.setToolTip("Keep the new model; it appears in Models")
        self.save_btn.clicked.connect(self.saveRequested)
        self.use_btn = QPushButton("Use this model")
        self.use_btn.setToolTip("Save it and switch the app to it now; the previous model stays in\n"
                                "Models so you can switch back")
        self.use_btn.clicked.connect(self.useRequested)
        self.discard_btn = QPushButton("Discard")
        self.discard_btn.setToolTip("Delete the new model")
        self.discard_btn.clicked.connect(self.discardRequested)
        srow.addWidget(self.save_btn)
        srow.addWidget(self.use_btn)
        srow.addWidget(self.discard_btn)
        return srow

    # ---- the name / save / use / discard row ----
    def model_name(self) -> str:
        return self.name_edit.text()

    def set_model_name(self, name: str) -> None:
        self.name_edit.setText(name)

    def set_actions(self, have_result: bool, saved: bool) -> None:
        """Save / discard / rename while an unsaved result is shown; Use once there is a result."""
        self.save_btn.setEnabled(have_result and not saved)
        self.discard_btn.setEnabled(have_result and not saved)
        self.use_btn.setEnabled(have_result)
        self.name_edit.setEnabled(have_result and not saved)

    def set_use_enabled(self, on: bool) -> None:
        self.use_btn.setEnabled(on)

    # ---- showing a result ----
    def clear(self) -> None:
        self.class_table.setRowCount(0)
        self.compare_table.setRowCount(0)
        self.confusion_chart.cm = None
        self.confusion_chart.redraw()
        self.summary_label.setText(EMPTY_SUMMARY)
        self.compare_label.setText(EMPTY_COMPARISON)

    def show_targets(self, o: TrainOutcome) -> None:
        """The "Per target" view, shown only for a model with several targets."""
        if o.targets and self._targets_tab < 0:
            self._targets_tab = self.views.insertTab(0, self.targets_table, "Per target")
        elif not o.targets and self._targets_tab >= 0:
            self.views.removeTab(self._targets_tab)
            self._targets_tab = -1
        self.targets_table.show_targets(list(o.targets), o.comparison)
        if o.targets:
            self.views.setCurrentIndex(self._targets_tab)

    def show_outcome(self, o: TrainOutcome) -> None:
        self.show_targets(o)
        val = served_val(o)
        per = val.get("per_class", {})
        t = self.class_table
        t.setSortingEnabled(False)
        t.setRowCount(len(per))
        for r, (lab, m) in enumerate(per.items()):
            t.setItem(r, 0, _text_item(lab))
            t.setItem(r, 1, _num(m["precision"]))
            t.setItem(r, 2, _num(m["recall"]))
            t.setItem(r, 3, _num(m["f1"]))
            t.setItem(r, 4, _num(m["support"], "{:,.0f}"))
        t.setSortingEnabled(True)
        t.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        if val.get("confusion") is not None:
            self.confusion_chart.set_data(val["confusion"], o.labels)
        self.summary_label.setText(summary_html(o))
        self.show_comparison(o.comparison)

    def _delta_brush(self, d: float) -> QBrush | None:
        if not np.isfinite(d) or abs(d) < 0.005:
            return None
        return QBrush(QColor(colors(self)["good" if d > 0 else "bad"]))

    def show_comparison(self, c: dict | None) -> None:
        t = self.compare_table
        t.setSortingEnabled(False)
        t.setRowCount(0)
        if c is None:
            self.compare_label.setText("No active model to compare with: this will be the first model "
                                       "you use, or activate one in Models to compare next time.")
            return
        if "error" in c:
            self.compare_label.setText(f"The active model could not be run on the validation tickets: {c['error']}")
            return
        self.compare_label.setText(comparison_html(c))
        rows = sorted(c["per_class"].items())
        t.setRowCount(len(rows))
        for r, (lab, m) in enumerate(rows):
            t.setItem(r, 0, _text_item(lab))
            t.setItem(r, 1, _num(m["active"]))
            t.setItem(r, 2, _num(m["new"]))
            d = m["new"] - m["active"]
            it = _num(d, "{:+.3f}")
            b = self._delta_brush(d)
            if b is not None:
                it.setForeground(b)
            t.setItem(r, 3, it)
            t.setItem(r, 4, _num(m["support"], "{:,.0f}"))
        t.setSortingEnabled(True)
        t.sortByColumn(0, Qt.SortOrder.AscendingOrder)
