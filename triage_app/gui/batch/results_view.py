"""The "Results" page of the Batch tab: the filter / order / review / export bar, the results
table (a :class:`ResultsProxy` over a :class:`ResultsModel`, the Corrected column edited with a
:class:`LabelDelegate`; its key columns stay in place while it scrolls sideways, see
:mod:`.frozen_table` and :mod:`.result_columns`), beside it the selected ticket
(:class:`TicketPanel`) above the accuracy panel, and a one-line summary under it."""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QMenu,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from triage_app.gui.batch import result_columns
from triage_app.gui.batch.accuracy_panel import AccuracyPanel
from triage_app.gui.batch.frozen_table import FrozenTableView
from triage_app.gui.batch.ticket_panel import TicketPanel
from triage_app.gui.flow_layout import FlowLayout
from triage_app.gui.results_model import LabelDelegate, ResultsModel, ResultsProxy
from triage_app.gui.widgets import Banner, muted_label

ORDERS = [("Input order", "input", True), ("Lowest confidence first", "confidence", True),
          ("Most uncertain first", "uncertainty", False)]


def orders(model) -> list[tuple[str, str, bool]]:
    """The orderings offered for ``model``: :data:`ORDERS`, and for a multi-target model the same
    per target and over any target (keys of :meth:`TargetTable.keys`)."""
    table = getattr(model, "target_table", None)
    if table is None:
        return list(ORDERS)
    out = list(ORDERS) + [("Needs review (any target) first", "review:any", False),
                          ("Most uncertain (any target) first", "uncertainty:any", False)]
    for t in table.targets:
        out += [(f"{t.name}: lowest confidence first", f"confidence:{t.name}", True),
                (f"{t.name}: most uncertain first", f"uncertainty:{t.name}", False),
                (f"{t.name}: needs review first", f"review:{t.name}", False)]
    return out


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
    """``labels_fn()`` gives the labels the Corrected column offers; ``ctx`` (the app context)
    gives the ticket panel its model and jobs."""

    reviewRequested = Signal(str)       # "" the primary target, else another target's name
    exportRequested = Signal()

    def __init__(self, labels_fn, ctx=None, parent=None):
        super().__init__(parent)
        rl = QVBoxLayout(self)
        rl.setContentsMargins(0, 6, 0, 0)
        rl.addLayout(self._build_bar())
        self.fit_banner = Banner()      # the model does much worse on this file than on its own test set
        rl.addWidget(self.fit_banner)
        self.proxy = ResultsProxy(self)
        self.table = FrozenTableView()
        self.table.setModel(self.proxy)
        setup_table(self.table)
        setup_table(self.table.frozen)
        self.table.frozen.horizontalHeader().setStretchLastSection(False)
        self.table.sync_look()
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked |
                                   QAbstractItemView.EditTrigger.SelectedClicked |
                                   QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setItemDelegateForColumn(3, LabelDelegate(labels_fn, self.table))
        self.ticket_panel = TicketPanel(ctx)
        self.acc_box = AccuracyPanel()
        self.side = QSplitter(Qt.Orientation.Vertical)       # the selected ticket above the accuracy
        self.side.addWidget(self.ticket_panel)
        self.side.addWidget(self.acc_box)
        self.side.setCollapsible(0, False)          # the accuracy can be dragged shut on a low screen
        self.side.setStretchFactor(0, 3)
        self.side.setStretchFactor(1, 2)
        self.side.setSizes([460, 240])
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.table)
        self.split.addWidget(self.side)
        self.split.setCollapsible(0, False)      # the side can be dragged shut (or hidden with its button)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 0)
        self.split.setSizes([740, 300])
        self.split.splitterMoved.connect(lambda *_: self._sync_side_button())
        self.acc_box.hide()
        self.acc_box.installEventFilter(self)
        rl.addWidget(self.split, 1)
        self.table.selectionModel().currentRowChanged.connect(lambda cur, _prev: self._show_current(cur))
        self.proxy.modelReset.connect(lambda: self._show_current(self.table.currentIndex()))
        self.proxy.dataChanged.connect(self._data_changed)
        self.summary_label = muted_label("")
        rl.addWidget(self.summary_label)

    def _build_bar(self) -> FlowLayout:
        bar = FlowLayout()          # one row when there is room, wrapped in a narrow window
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter rows…")
        self.filter_edit.setToolTip("Show only rows containing this text (any text column or label)")
        self.filter_edit.setMinimumWidth(220)
        self.filter_edit.setClearButtonEnabled(True)
        self._filter_timer = QTimer(self, singleShot=True, interval=250)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.filter_edit.textChanged.connect(lambda _t: self._filter_timer.start())
        bar.addWidget(self.filter_edit)
        self.review_only = QCheckBox("Needs review only")
        self.review_only.toggled.connect(self.apply_filter)
        bar.addWidget(self.review_only)
        self.order_combo = QComboBox()     # its items say what they do ("… first"): no label needed
        self.order_combo.setToolTip("Order of the rows")
        self._orders = list(ORDERS)
        for text, _k, _a in ORDERS:
            self.order_combo.addItem(text)
        self.order_combo.activated.connect(self.apply_order)
        bar.addWidget(self.order_combo)
        self.review_btn = QPushButton("Review queue…")
        self.review_btn.setToolTip("Go through the least certain tickets with the keyboard")
        self.review_btn.clicked.connect(lambda: self.reviewRequested.emit(""))
        bar.addWidget(self.review_btn)
        self.export_btn = QPushButton("Export…")
        self.export_btn.clicked.connect(self.exportRequested)
        bar.addWidget(self.export_btn)
        self.side_btn = QToolButton()
        self.side_btn.setText("Ticket panel")
        self.side_btn.setCheckable(True)
        self.side_btn.setChecked(True)
        self.side_btn.setToolTip("Show or hide the selected ticket in full, with the words that drove its "
                                 "prediction, beside the table")
        self.side_btn.toggled.connect(self.set_side_visible)
        bar.addWidget(self.side_btn)
        return bar

    # ---- the side panel ------------------------------------------------------------------------
    def set_side_visible(self, on: bool) -> None:
        """Show or hide the ticket panel (the accuracy panel under it shows after a labelled run)."""
        self.ticket_panel.setVisible(on)
        self._sync_side(reopen=on)

    def _sync_side(self, reopen: bool = False) -> None:
        """The side column shows while it holds a visible panel; ``reopen``: undo a drag shut."""
        self.side.setVisible(self.ticket_panel.isVisibleTo(self.side) or self.acc_box.isVisibleTo(self.side))
        if reopen and self.split.sizes()[1] == 0:
            total = sum(self.split.sizes())
            self.split.setSizes([max(0, total - 300), 300])
        self._sync_side_button()

    def eventFilter(self, obj, e) -> bool:
        if obj is self.acc_box and e.type() in (QEvent.Type.ShowToParent, QEvent.Type.HideToParent):
            self._sync_side()
            h = sum(self.side.sizes())
            if e.type() == QEvent.Type.ShowToParent and h > 0:      # room for the confusion matrix
                self.side.setSizes([h - h * 9 // 20, h * 9 // 20])
        return super().eventFilter(obj, e)

    def _sync_side_button(self) -> None:
        shown = self.ticket_panel.isVisibleTo(self) and self.split.sizes()[1] > 0
        if self.side_btn.isChecked() != shown:
            self.side_btn.blockSignals(True)
            self.side_btn.setChecked(shown)
            self.side_btn.blockSignals(False)

    def _show_current(self, cur) -> None:
        m = self.model()
        row = self.proxy.mapToSource(cur).row() if cur.isValid() else -1
        if m is None or row < 0 or row >= m.rowCount():
            self.ticket_panel.show_row(m, None)
        else:
            self.ticket_panel.show_row(m, m.data_row(row))

    def current_data_row(self) -> int | None:
        """The data row of the table's current row (None: none)."""
        return self.ticket_panel.row

    def _data_changed(self, top, bottom, _roles=()) -> None:
        cur = self.table.currentIndex()
        if cur.isValid() and top.row() <= cur.row() <= bottom.row():
            self.ticket_panel.update_details()

    def model(self) -> ResultsModel | None:
        return self.proxy.sourceModel()

    def show_model(self, model: ResultsModel | None) -> None:
        self.proxy.setSourceModel(model)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        if model is None:
            self.table.set_columns([], 0)
            return
        if orders(model) != self._orders:
            self._orders = orders(model)
            self.order_combo.clear()
            self.order_combo.addItems([text for text, _k, _a in self._orders])
        self._review_menu(model)
        for c in getattr(self, "_target_delegates", []):      # the previous model's
            self.table.setItemDelegateForColumn(c, None)
        table = getattr(model, "target_table", None)
        self._target_delegates = model.c_targets[::3] if table is not None else []
        for j, c in enumerate(self._target_delegates):         # per-target corrections
            labels = list(table.extra[j].labels)
            self.table.setItemDelegateForColumn(c, LabelDelegate(lambda labels=labels: labels, self.table))
        for c, w in result_columns.widths(model, self.table.horizontalHeader().fontMetrics()).items():
            self.table.setColumnWidth(c, w)
        order, n_frozen, hidden = result_columns.layout(model)
        self.table.set_columns(order, n_frozen, hidden, squeeze=result_columns.squeeze(model))

    def _review_menu(self, model) -> None:
        """A multi-target model: the review button offers a queue per target."""
        table = getattr(model, "target_table", None)
        if table is None:
            self.review_btn.setMenu(None)
            return
        menu = QMenu(self.review_btn)
        menu.addAction(f"{table.targets[0].name} (Predicted)", lambda: self.reviewRequested.emit(""))
        for t in table.extra:
            menu.addAction(t.name, lambda name=t.name: self.reviewRequested.emit(name))
        self.review_btn.setMenu(menu)

    def apply_filter(self, *_) -> None:
        if self.model() is not None:
            self.proxy.set_filter(self.filter_edit.text(), self.review_only.isChecked())
            self.update_summary()

    def apply_order(self, *_) -> None:
        m = self.model()
        if m is None:
            return
        _t, key, asc = self._orders[max(0, self.order_combo.currentIndex())]
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
