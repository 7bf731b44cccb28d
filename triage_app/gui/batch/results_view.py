"""The "Results" page of the Batch tab: the filter / order / review / export bar, the results
table (a :class:`ResultsProxy` over a :class:`ResultsModel`, the Corrected column edited with a
:class:`LabelDelegate`), the accuracy panel beside it and a one-line summary under it."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from triage_app.gui.batch.accuracy_panel import AccuracyPanel
from triage_app.gui.results_model import LabelDelegate, ResultsModel, ResultsProxy
from triage_app.gui.widgets import Banner, muted_label

ORDERS = [("Input order", "input", True), ("Lowest confidence first", "confidence", True),
          ("Most uncertain first", "uncertainty", False)]
COLUMN_WIDTHS = {0: 170, 1: 90, 2: 128, 3: 150}      # the prediction columns ("Unfamiliar words" fits); inputs get 220


def setup_table(t: QTableView) -> None:
    """The look of the Batch tab's tables: whole-row selection, one line per row, fixed heights."""
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


class ResultsView(QWidget):
    """``labels_fn()`` gives the labels the Corrected column offers."""

    reviewRequested = Signal()
    exportRequested = Signal()

    def __init__(self, labels_fn, parent=None):
        super().__init__(parent)
        rl = QVBoxLayout(self)
        rl.setContentsMargins(0, 6, 0, 0)
        rl.addLayout(self._build_bar())
        self.fit_banner = Banner()      # the model does much worse on this file than on its own test set
        rl.addWidget(self.fit_banner)
        self.proxy = ResultsProxy(self)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        setup_table(self.table)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked |
                                   QAbstractItemView.EditTrigger.SelectedClicked |
                                   QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setItemDelegateForColumn(3, LabelDelegate(labels_fn, self.table))
        self.acc_box = AccuracyPanel()
        rsplit = QSplitter(Qt.Orientation.Horizontal)
        rsplit.setChildrenCollapsible(False)
        rsplit.addWidget(self.table)
        rsplit.addWidget(self.acc_box)
        rsplit.setStretchFactor(0, 1)
        rsplit.setStretchFactor(1, 0)
        rsplit.setSizes([700, 320])
        self.acc_box.hide()
        rl.addWidget(rsplit, 1)
        self.summary_label = muted_label("")
        rl.addWidget(self.summary_label)

    def _build_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter rows…")
        self.filter_edit.setToolTip("Show only rows containing this text (any text column or label)")
        self.filter_edit.setMinimumWidth(150)
        self.filter_edit.setClearButtonEnabled(True)
        self._filter_timer = QTimer(self, singleShot=True, interval=250)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.filter_edit.textChanged.connect(lambda _t: self._filter_timer.start())
        bar.addWidget(self.filter_edit, 2)
        self.review_only = QCheckBox("Needs review only")
        self.review_only.toggled.connect(self.apply_filter)
        bar.addWidget(self.review_only)
        bar.addWidget(QLabel("Order"))
        self.order_combo = QComboBox()
        for text, _k, _a in ORDERS:
            self.order_combo.addItem(text)
        self.order_combo.activated.connect(self.apply_order)
        bar.addWidget(self.order_combo)
        self.review_btn = QPushButton("Review queue…")
        self.review_btn.setToolTip("Go through the least certain tickets with the keyboard")
        self.review_btn.clicked.connect(self.reviewRequested)
        bar.addWidget(self.review_btn)
        self.export_btn = QPushButton("Export…")
        self.export_btn.clicked.connect(self.exportRequested)
        bar.addWidget(self.export_btn)
        return bar

    def model(self) -> ResultsModel | None:
        return self.proxy.sourceModel()

    def show_model(self, model: ResultsModel | None) -> None:
        self.proxy.setSourceModel(model)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        if model is not None:
            for c in range(model.columnCount()):
                self.table.setColumnWidth(c, COLUMN_WIDTHS.get(c, 220))

    def apply_filter(self, *_) -> None:
        if self.model() is not None:
            self.proxy.set_filter(self.filter_edit.text(), self.review_only.isChecked())
            self.update_summary()

    def apply_order(self, *_) -> None:
        m = self.model()
        if m is None:
            return
        _t, key, asc = ORDERS[self.order_combo.currentIndex()]
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        m.sort_by(key, asc)

    def set_order(self, text: str) -> None:
        self.order_combo.setCurrentText(text)
        self.apply_order()

    def update_summary(self) -> None:
        m = self.model()
        if m is None or not m.n:
            self.summary_label.setText("")
            return
        flagged = int(m.review[: m.n].sum())
        shown = self.proxy.rowCount()
        extra = f" · {shown:,} shown" if shown != m.n else ""
        self.summary_label.setText(f"{m.source} — {flagged:,} need review ({flagged / m.n:.0%}) · "
                                   f"{m.n - flagged:,} can be auto-routed{extra}")
