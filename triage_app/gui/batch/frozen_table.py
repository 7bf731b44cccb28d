"""A table view whose first columns stay in place while the others scroll horizontally.

Qt's "frozen column" technique: a second :class:`QTableView` (``frozen``) over the same model and
the same selection model lies over the left edge of the table's viewport and header.  It shows
only the frozen columns (every other column is hidden in it), never scrolls horizontally, and
scrolls vertically with the table.  The table itself keeps every column, in the same visual order
(the frozen ones first), so sorting, editing, selection and keyboard navigation stay the table's
own; the overlay only covers the frozen columns' place at the left.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QAbstractItemView, QFrame, QHeaderView, QTableView

from triage_app.gui import style

MAX_FROZEN = 0.68       # the frozen columns take at most this part of the viewport (the squeezed ones give)


class FrozenTableView(QTableView):
    """``set_columns(order, n_frozen, hidden, squeeze)`` lays out the columns: ``order`` is the
    visual order of the logical columns, its first ``n_frozen`` stay in place, ``hidden`` are shown
    nowhere.  While the frozen columns would take more than ``MAX_FROZEN`` of the viewport's width,
    the ``squeeze`` ones (``(column, minimum width)``, first first; a column may come again with a
    smaller minimum) are narrowed; they get their width back (the one last chosen, by the program
    or by dragging) when there is room again."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.frozen_columns: list[int] = []
        self.squeeze: list[tuple[int, int]] = []
        self._want: dict[int, int] = {}          # the width each squeezable column had before squeezing
        self._own_resize = False
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        f = self.frozen = QTableView(self)
        f.setObjectName("frozenColumns")
        f.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        f.verticalHeader().hide()
        f.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        f.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        f.setFrameShape(QFrame.Shape.NoFrame)
        f.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        f.hide()
        self.viewport().stackUnder(f)
        fh = f.horizontalHeader()
        fh.setStretchLastSection(False)
        fh.setSectionsClickable(True)
        fh.setSortIndicatorShown(True)
        fh.sectionClicked.connect(self._frozen_header_clicked)
        fh.sectionResized.connect(self._frozen_resized)
        self.horizontalHeader().sectionResized.connect(self._main_resized)
        self.horizontalHeader().sortIndicatorChanged.connect(
            lambda s, o: f.horizontalHeader().setSortIndicator(s, o))
        self.verticalScrollBar().valueChanged.connect(f.verticalScrollBar().setValue)
        f.verticalScrollBar().valueChanged.connect(self.verticalScrollBar().setValue)
        f.pressed.connect(lambda _ix: self.setFocus(Qt.FocusReason.MouseFocusReason))
        self._style_edge()

    def _style_edge(self) -> None:
        """The line between the frozen and the scrolling columns, in the theme's border colour."""
        self.frozen.setStyleSheet(f"QTableView#frozenColumns {{ border: none; border-right: 2px solid "
                                  f"{style.colors(self)['border']}; }}")

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._style_edge()          # a theme switch while the app runs
        super().changeEvent(event)

    # ---- model and columns ---------------------------------------------------------------------
    def setModel(self, model) -> None:
        super().setModel(model)
        self.frozen.setModel(model)
        self.frozen.setSelectionModel(self.selectionModel())   # one selection, one current row

    def sync_look(self) -> None:
        """Give the overlay the table's row height, scroll mode and selection behaviour."""
        f, vh = self.frozen, self.verticalHeader()
        f.setAlternatingRowColors(self.alternatingRowColors())
        f.setSelectionBehavior(self.selectionBehavior())
        f.setSelectionMode(self.selectionMode())
        f.setWordWrap(self.wordWrap())
        f.setTextElideMode(self.textElideMode())
        f.setVerticalScrollMode(self.verticalScrollMode())
        f.verticalHeader().setSectionResizeMode(vh.sectionResizeMode(0) if vh.count() else
                                                QHeaderView.ResizeMode.Fixed)
        f.verticalHeader().setDefaultSectionSize(vh.defaultSectionSize())
        f.horizontalHeader().setHighlightSections(self.horizontalHeader().highlightSections())

    def set_columns(self, order: list[int], n_frozen: int, hidden=(), squeeze=()) -> None:
        n = self.model().columnCount() if self.model() is not None else 0
        order = [c for c in order if 0 <= c < n]
        order += [c for c in range(n) if c not in order]
        self.frozen_columns = [c for c in order[:n_frozen] if c not in hidden]
        hidden = set(hidden)
        for view in (self, self.frozen):
            h = view.horizontalHeader()
            for vis, logical in enumerate(order):
                if h.visualIndex(logical) != vis:
                    h.moveSection(h.visualIndex(logical), vis)
            for c in range(n):
                view.setColumnHidden(c, c in hidden or (view is self.frozen and c not in self.frozen_columns))
        self.squeeze = [(c, mn) for c, mn in squeeze if c in self.frozen_columns]
        self._want = {c: self.columnWidth(c) for c, _mn in self.squeeze}
        for c in self.frozen_columns:
            self.frozen.setColumnWidth(c, self.columnWidth(c))
        self.horizontalScrollBar().setValue(0)
        self.update_frozen()

    def frozen_width(self) -> int:
        return sum(self.columnWidth(c) for c in self.frozen_columns)

    # ---- geometry ------------------------------------------------------------------------------
    def update_frozen(self) -> None:
        f = getattr(self, "frozen", None)       # None while the constructor runs
        if f is None:
            return
        if not self.frozen_columns or self.model() is None:
            f.hide()
            return
        self._fit_squeeze()
        vp = self.viewport().geometry()
        hh = self.horizontalHeader()
        head = hh.height() if hh.isVisible() else 0
        f.verticalHeader().setDefaultSectionSize(self.verticalHeader().defaultSectionSize())
        f.setGeometry(vp.x(), vp.y() - head, min(self.frozen_width(), vp.width()), vp.height() + head)
        f.horizontalHeader().setVisible(bool(head))
        if head:
            f.horizontalHeader().setFixedHeight(head)
        f.verticalScrollBar().setValue(self.verticalScrollBar().value())
        f.show()

    def _fit_squeeze(self) -> None:
        if not self.squeeze or self.viewport().width() <= 0:
            return
        want = {c: self._want.get(c, self.columnWidth(c)) for c in self.frozen_columns}
        excess = sum(want.values()) - int(self.viewport().width() * MAX_FROZEN)
        for c, mn in self.squeeze:
            cut = max(0, min(excess, want[c] - mn))
            want[c] -= cut
            excess -= cut
        self._own_resize = True
        try:
            for c, _mn in self.squeeze:
                if self.columnWidth(c) != want[c]:
                    self.setColumnWidth(c, want[c])
        finally:
            self._own_resize = False

    def _main_resized(self, logical: int, _old: int, new: int) -> None:
        if logical in self.frozen_columns:
            if logical in self._want and not self._own_resize:
                self._want[logical] = new       # the user (or the program) chose this width
            if self.frozen.columnWidth(logical) != new:
                self.frozen.setColumnWidth(logical, new)
            self.update_frozen()

    def _frozen_resized(self, logical: int, _old: int, new: int) -> None:
        if logical in self.frozen_columns and self.columnWidth(logical) != new:
            self.setColumnWidth(logical, new)      # dragged in the overlay's header

    def _frozen_header_clicked(self, logical: int) -> None:
        if not self.isSortingEnabled():
            return
        h = self.horizontalHeader()
        flip = h.sortIndicatorSection() == logical and h.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
        self.sortByColumn(logical, Qt.SortOrder.DescendingOrder if flip else Qt.SortOrder.AscendingOrder)

    def resizeEvent(self, e) -> None:
        super().resizeEvent(e)
        self.update_frozen()

    def viewportEvent(self, e) -> bool:
        res = super().viewportEvent(e)
        if e.type() == QEvent.Type.Resize:       # a scroll bar came or went
            self.update_frozen()
        return res

    def updateGeometries(self) -> None:
        super().updateGeometries()
        self.update_frozen()

    # ---- scrolling to a cell -------------------------------------------------------------------
    def scrollTo(self, index, hint=QAbstractItemView.ScrollHint.EnsureVisible) -> None:
        """A frozen cell scrolls only vertically; any other cell also horizontally, out from
        under the overlay."""
        if not index.isValid() or not self.frozen_columns:
            super().scrollTo(index, hint)
            return
        hbar = self.horizontalScrollBar()
        keep = hbar.value()
        super().scrollTo(index, hint)
        if index.column() in self.frozen_columns:
            hbar.setValue(keep)
            return
        left, cover = self.columnViewportPosition(index.column()), self.frozen.width()
        if left < cover:
            hbar.setValue(hbar.value() - (cover - left))
