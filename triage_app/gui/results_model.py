"""Item models for ticket tables.

``ResultsModel`` keeps every column as a precomputed list of display strings (input columns as
read, predictions formatted once per appended chunk), so ``data()`` is a list lookup and a
100,000-row table scrolls smoothly.  Sorting is a numpy ``argsort`` over per-column keys and
filtering a vectorised boolean mask; both only rebuild the model's row permutation (``_view``).
``ResultsProxy`` is a QSortFilterProxyModel that delegates ``sort`` to the source and does no
per-row Python filtering (a Python ``filterAcceptsRow`` costs seconds on 100,000 rows).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import QComboBox, QStyledItemDelegate

from triage_app import review
from triage_app.engine import PREDICTION_COLUMNS, low_confidence_reason, prediction_columns
from triage_app.gui import style
from triage_app.gui.results_targets import TargetTable

DISPLAY = Qt.ItemDataRole.DisplayRole
EDIT = Qt.ItemDataRole.EditRole
VALUE = Qt.ItemDataRole.UserRole       # the number behind a numeric cell (the Uncertainty column)
PRED_COLUMNS = ["Predicted", "Confidence", "Review", "Corrected"]


def short_reason(reason: str) -> str:
    """The Review column's word for a reason: ``"unfamiliar words (80 % ...)"`` -> ``"Unfamiliar words"``."""
    head = reason.split(" (")[0]
    return head[:1].upper() + head[1:]
TOP_COLUMN = "Top 3"
UNCERTAINTY_COLUMN = "Uncertainty"       # the score "Most uncertain first" orders by
MATCH_COLUMN = "Match"                   # ✓ / ✗: the file's own label against the prediction
MATCH, MISMATCH = "✓", "✗"
UNCERTAINTY_TIP = ("How unsure the model is about the ticket: 1 − (top probability − second probability). "
                   "0.00: sure of one label; 1.00: torn between two. 'Most uncertain first' orders by it.")
MATCH_TIP = (f"{MATCH}: the file's own label equals the predicted label (or your correction); "
             f"{MISMATCH}: it differs; empty: the row has no label in the file")


class FrameModel(QAbstractTableModel):
    """Read-only preview of a DataFrame's first rows."""

    def __init__(self, df: pd.DataFrame | None = None, max_rows: int = 200, parent=None):
        super().__init__(parent)
        self.set_frame(df, max_rows)

    def set_frame(self, df: pd.DataFrame | None, max_rows: int = 200):
        self.beginResetModel()
        if df is None:
            self._cols, self._data, self._n = [], [], 0
        else:
            head = df.head(max_rows)
            self._cols = [str(c) for c in head.columns]
            self._data = input_strings(head)
            self._n = len(head)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else self._n

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self._cols)

    def data(self, index, role=DISPLAY):
        if role in (DISPLAY, Qt.ItemDataRole.ToolTipRole) and index.isValid():
            v = self._data[index.column()][index.row()]
            return v if role == DISPLAY or len(v) > 40 else None
        return None

    def headerData(self, section, orientation, role=DISPLAY):
        if role != DISPLAY:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._cols[section] if section < len(self._cols) else None
        return str(section + 1)


class ResultsModel(QAbstractTableModel):
    """Batch results: input rows + predicted label, confidence, review flag, correction, top 3."""

    corrected = Signal(int, str)       # data row, corrected label
    targetCorrected = Signal(int, str, str, str, float)   # data row, target, predicted, corrected, confidence

    def __init__(self, df: pd.DataFrame, labels: list[str], top_k: int = 3, parent=None,
                 lazy_inputs: bool = False, targets=None):
        super().__init__(parent)
        self.df = df.reset_index(drop=True)
        self.labels = list(labels)
        self.top_k = top_k
        self.input_columns = [str(c) for c in self.df.columns]
        self.columns = PRED_COLUMNS + self.input_columns + [TOP_COLUMN, UNCERTAINTY_COLUMN, MATCH_COLUMN]
        self.c_top = len(self.columns) - 3
        self.c_unc = len(self.columns) - 2
        self.c_match = len(self.columns) - 1
        self.total = len(self.df)
        # a multi-target model (``targets``: Bundle.targets): every other target's columns at the end
        self.target_table = TargetTable(targets, self.total) if targets else None
        self.c_targets = list(range(len(self.columns), len(self.columns) + 3 * len(targets[1:] if targets else [])))
        self.columns += self.target_table.headers() if targets else []
        k = len(self.labels)
        self.probs = np.zeros((self.total, k), dtype=np.float32)
        self.pred_idx = np.zeros(self.total, dtype=np.int32)
        self.conf = np.zeros(self.total, dtype=np.float32)
        self.review = np.zeros(self.total, dtype=bool)
        self._flags: list[str] = [""] * self.total     # unfamiliar / too short (engine.score), else ""
        self.n = 0
        self._sorted = np.zeros(0, dtype=np.int64)     # data rows in sort order
        self._order = np.zeros(0, dtype=np.int64)      # visible data rows (sorted, filtered)
        self._order_list: list[int] = []
        self._pred_str: list[str] = []
        self._conf_str: list[str] = []
        self._review_str: list[str] = []
        self._top_str: list[str] = []
        self._unc = np.zeros(self.total, dtype=np.float64)
        self._unc_str: list[str] = []
        self._corrected: list[str] = [""] * self.total
        # lazy_inputs: display strings of the input columns are made per appended chunk (keeps the
        # GUI thread's work per chunk small instead of one long conversion up front)
        self._lazy = lazy_inputs
        self._inputs = [[] for _ in self.df.columns] if lazy_inputs else input_strings(self.df)
        self._disp = [self._pred_str, self._conf_str, self._review_str, self._corrected] + self._inputs + \
            [self._top_str, self._unc_str, None] + (self.target_table.disp if targets else [])
        self._thresholds = (0.5, {})
        self.source = "these results"     # "file · rows · model vX", set by the Batch tab when a run ends
        self.source_path = None
        self._mask: np.ndarray | None = None
        self._review_bg = style.qcolor("warn", 70)
        self._mismatch_bg = style.qcolor("bad", 60)
        self._truth: list[str] | None = None         # the file's own labels, when it has a label column
        self._corr_fg = style.qcolor("good")
        self._bad_fg = style.qcolor("bad")
        self._align_right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._align_center = int(Qt.AlignmentFlag.AlignCenter)

    # ---- filling ------------------------------------------------------------------------------
    def set_thresholds(self, global_t: float, class_t: dict | None) -> None:
        self._thresholds = (float(global_t), dict(class_t or {}))
        if self.n:
            self._recompute_review(0, self.n)
        shown = self.rowCount()
        if shown:     # the rows on display (a filter may hide some): one ranged change
            col = PRED_COLUMNS.index("Review")
            self.dataChanged.emit(self.index(0, col), self.index(shown - 1, col))

    def _recompute_review(self, a: int, b: int) -> None:
        g, ct = self._thresholds
        t = np.array([float(ct.get(lab, g)) for lab in self.labels], dtype=np.float32)
        flagged = np.array([bool(f) for f in self._flags[a:b]], dtype=bool)
        reviewed = np.array([bool(c) for c in self._corrected[a:b]], dtype=bool)
        self.review[a:b] = ((self.conf[a:b] < t[self.pred_idx[a:b]]) | flagged) & ~reviewed
        self._review_str[a:b] = ["Reviewed" if done else short_reason(f) if f else ("Review" if x else "")
                                 for f, x, done in zip(self._flags[a:b], self.review[a:b].tolist(),
                                                       reviewed.tolist())]

    def set_truth(self, labels) -> None:
        """The file's own label of each row (``None``: the file has none): a predicted label that
        differs is highlighted, and its tooltip names the file's label."""
        self._truth = None if labels is None else [str(v).strip() for v in labels]
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.c_match))

    def mismatch(self, data_row: int) -> bool:
        t = self._truth
        if t is None or data_row >= len(t) or not t[data_row]:
            return False
        return t[data_row] != (self._corrected[data_row] or self._pred_str[data_row])

    def truth(self, data_row: int) -> str:
        """The file's own label of a row (``""``: none, or the file has no label column)."""
        t = self._truth
        return t[data_row] if t is not None and data_row < len(t) else ""

    def match_mark(self, data_row: int) -> str:
        """The Match column: ✓ / ✗ when the row has a label in the file, else ``""``."""
        if not self.truth(data_row):
            return ""
        return MISMATCH if self.mismatch(data_row) else MATCH

    def uncertainty_of(self, data_row: int) -> float:
        return float(self._unc[data_row])

    def review_threshold(self) -> float:
        """The global review threshold these results are flagged with."""
        return self._thresholds[0]

    def review_reason(self, data_row: int) -> str:
        """Why a row needs review, in full (``""`` when it is auto-routed)."""
        if not self.review[data_row]:
            return ""
        if self._flags[data_row]:
            return self._flags[data_row]
        g, ct = self._thresholds
        lab = self.labels[int(self.pred_idx[data_row])]
        return low_confidence_reason(float(self.conf[data_row]), float(ct.get(lab, g)))

    def append_chunk(self, start: int, probs: np.ndarray, reasons=None, by_target: dict | None = None) -> None:
        """Add predictions for data rows ``start .. start+len(probs)`` (chunks arrive in order);
        ``reasons`` (from :meth:`TicketClassifier.score`) flag unfamiliar or too-short tickets;
        ``by_target``: a multi-target model's probabilities of every target (``score_targets``)."""
        m = len(probs)
        if m == 0:
            return
        if start != self.n:
            raise ValueError(f"chunk starts at {start}, expected {self.n}")
        a, b = start, start + m
        if self.target_table is not None:
            self.target_table.append(a, by_target, reasons)
        if self._lazy:
            for lst, more in zip(self._inputs, input_strings(self.df.iloc[a:b])):
                lst.extend(more)
        self.probs[a:b] = probs
        idx = np.argsort(-probs, axis=1, kind="stable")[:, : self.top_k]
        self.pred_idx[a:b] = idx[:, 0]
        self.conf[a:b] = probs[np.arange(m), idx[:, 0]]
        labels = self.labels
        self._pred_str.extend(labels[i] for i in idx[:, 0].tolist())
        self._conf_str.extend(f"{c:.1%}" for c in self.conf[a:b].tolist())
        top_p = np.take_along_axis(probs, idx, axis=1).tolist()
        self._top_str.extend("; ".join(f"{labels[i]} {p:.0%}" for i, p in zip(row_i, row_p))
                             for row_i, row_p in zip(idx.tolist(), top_p))
        self._review_str.extend([""] * m)
        self._unc[a:b] = review.uncertainty(self.probs[a:b])
        self._unc_str.extend(f"{u:.2f}" for u in self._unc[a:b].tolist())
        if reasons is not None:
            self._flags[a:b] = list(reasons)
        self._recompute_review(a, b)
        new = np.arange(a, b, dtype=np.int64)
        self._sorted = np.concatenate([self._sorted, new])
        self.n = b
        if self._mask is not None:
            self._mask = np.concatenate([self._mask, self._filter_mask(a, b)])
            new = new[self._mask[a:b]]
        if len(new):
            first = len(self._order_list)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._order = np.concatenate([self._order, new])
            self._order_list.extend(new.tolist())
            self.endInsertRows()

    # ---- Qt model API -------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self._order_list)

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index, role=DISPLAY):
        if not index.isValid():
            return None
        c = index.column()
        if c == self.c_match:
            return self._match_data(self._order_list[index.row()], role)
        if self.c_targets and c >= self.c_targets[0]:
            return self._target_data(c - self.c_targets[0], self._order_list[index.row()], role)
        if role == DISPLAY or role == EDIT:
            return self._disp[c][self._order_list[index.row()]]
        if role == VALUE:
            return float(self._unc[self._order_list[index.row()]]) if c == self.c_unc else None
        if role == Qt.ItemDataRole.BackgroundRole:
            r = self._order_list[index.row()]
            if c == 2 and self.review[r]:
                return self._review_bg
            if c == 0 and self.mismatch(r):
                return self._mismatch_bg
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._corr_fg if c == 3 else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._align_right if c == 1 or c == self.c_unc else None
        if role == Qt.ItemDataRole.ToolTipRole:
            v = self._disp[c][self._order_list[index.row()]]
            if c == self.c_unc:
                return f"Uncertainty {float(self._unc[self._order_list[index.row()]]):.3f} (0: sure, 1: torn)"
            if c == 3:
                return "Double-click to correct the label (saved to the corrections store)"
            if c == 2:
                return self.review_reason(self._order_list[index.row()]) or None
            if c == 0 and self.mismatch(self._order_list[index.row()]):
                return f"The file says {self._truth[self._order_list[index.row()]]}"
            return v if len(v) > 40 else None
        return None

    def _target_data(self, j: int, r: int, role):
        """A cell of another target's columns (label: editable, shows the correction in green)."""
        t = self.target_table
        info, kind = t.column(j)
        if role == DISPLAY or role == EDIT:
            return t.label_of(j, r)
        fixed = t.corrected[info.name][r]
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._corr_fg if kind == "label" and fixed else None
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._review_bg if kind == "review" and t.review[info.name][r] and not fixed else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._align_right if kind == "confidence" else None
        if role == Qt.ItemDataRole.ToolTipRole and kind == "label":
            pred = t.disp[j][r]
            return (f"Corrected (the model said {pred}); " if fixed else "") + \
                f"double-click to correct the {info.name} label"
        return None

    def _match_data(self, r: int, role):
        if role == DISPLAY:
            return self.match_mark(r)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._bad_fg if self.mismatch(r) else self._corr_fg
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._align_center
        if role == Qt.ItemDataRole.ToolTipRole and self.truth(r):
            mine = f"your correction {self._corrected[r]}" if self._corrected[r] else \
                f"the prediction {self._pred_str[r]}"
            return f"The file says {self.truth(r)}; {mine}"
        return None

    def headerData(self, section, orientation, role=DISPLAY):
        if orientation == Qt.Orientation.Horizontal:
            if role == DISPLAY:
                return self.columns[section]
            if role == Qt.ItemDataRole.ToolTipRole and section < len(PRED_COLUMNS):
                return ["Label predicted by the model", "Calibrated probability of the predicted label",
                        "Why the ticket needs review: 'Review' when the confidence is below the review "
                        "threshold, 'Unfamiliar words' or 'Too short' when it does not look like the "
                        "training tickets (hover a cell for the details)",
                        "Your correction (double-click a cell)"][section]
            if role == Qt.ItemDataRole.ToolTipRole and section in (self.c_unc, self.c_match):
                return UNCERTAINTY_TIP if section == self.c_unc else MATCH_TIP
            return None
        if role == DISPLAY and section < len(self._order_list):
            return str(self._order_list[section] + 1)
        return None

    def flags(self, index):
        f = super().flags(index)
        if index.isValid() and (index.column() == 3 or index.column() in self.c_targets[::3]):
            f |= Qt.ItemFlag.ItemIsEditable
        return f

    def setData(self, index, value, role=EDIT):
        if index.isValid() and role == EDIT and index.column() in self.c_targets[::3]:
            return self.set_target_correction(self._order_list[index.row()], index.column() - self.c_targets[0],
                                              str(value or ""), index.row())
        if not index.isValid() or index.column() != 3 or role != EDIT:
            return False
        r = self._order_list[index.row()]
        return self.set_correction(r, str(value or ""), display_row=index.row())

    def set_correction(self, data_row: int, label: str, display_row: int | None = None) -> bool:
        if label and label not in self.labels:
            return False
        self._corrected[data_row] = label
        self._recompute_review(data_row, data_row + 1)     # a corrected row is reviewed: no review tag
        if display_row is None:
            display_row = self.display_row(data_row)
        if display_row is not None:
            self.dataChanged.emit(self.index(display_row, 0), self.index(display_row, self.c_match))
        if label:
            self.corrected.emit(int(data_row), label)
        return True

    def set_target_correction(self, data_row: int, j: int, label: str, display_row: int | None = None) -> bool:
        """Correct another target's label (extra column ``j``, its label column); emits
        ``targetCorrected`` for the corrections store."""
        t = self.target_table
        name = t.set_correction(j, data_row, label)
        if name is None:
            return False
        display_row = self.display_row(data_row) if display_row is None else display_row
        if display_row is not None:
            self.dataChanged.emit(self.index(display_row, self.c_targets[j]), self.index(display_row, self.c_targets[j + 2]))
        if label:
            self.targetCorrected.emit(int(data_row), name, t.disp[j][data_row], label,
                                      float(t.conf[name][data_row]))
        return True

    # ---- lookup -------------------------------------------------------------------------------
    def data_row(self, display_row: int) -> int:
        return self._order_list[display_row]

    def display_row(self, data_row: int) -> int | None:
        hit = np.flatnonzero(self._order == data_row)
        return int(hit[0]) if len(hit) else None

    def predicted(self, data_row: int) -> str:
        return self._pred_str[data_row]

    def n_corrected(self) -> int:
        return sum(1 for c in self._corrected[: self.n] if c)

    def corrected_label(self, data_row: int) -> str:
        return self._corrected[data_row]

    def top(self, data_row: int, k: int | None = None) -> list[tuple[str, float]]:
        p = self.probs[data_row]
        idx = np.argsort(-p, kind="stable")[: (k or self.top_k)]
        return [(self.labels[i], float(p[i])) for i in idx]

    def uncertainty(self) -> np.ndarray:
        return review.uncertainty(self.probs[: self.n]) if self.n else np.zeros(0)

    def review_order(self, only_flagged: bool = False) -> list[int]:
        if not self.n:
            return []
        order = review.review_order(self.probs[: self.n])
        if only_flagged:
            order = order[self.review[order]]
        return order.tolist()

    # ---- sorting and filtering ----------------------------------------------------------------
    def _keys(self, key: str):
        n = self.n
        if key == "input":
            return np.arange(n)
        if key == "confidence":
            return self.conf[:n]
        if key == "uncertainty":
            return self.uncertainty()
        if key == "review":
            return self.review[:n].astype(np.int8)
        if self.target_table is not None:
            keys = self.target_table.keys(str(key), n, self.review)
            if keys is not None:
                return keys
        col = self.columns.index(key) if key in self.columns else int(key)
        if col in self.c_targets:         # a target's confidence / review column: numeric keys
            info, kind = self.target_table.column(col - self.c_targets[0])
            if kind != "label":
                return self.target_table.keys(f"{kind}:{info.name}", n, self.review)
        if col == 1:
            return self.conf[:n]
        if col == 2:
            return self.review[:n].astype(np.int8)
        if col == self.c_unc:
            return self._unc[:n]
        if col == self.c_match:      # ✗ first, then ✓, then rows without a label in the file
            return np.array([0 if self.mismatch(r) else 1 if self.truth(r) else 2 for r in range(n)],
                            dtype=np.int8)
        vals = self._disp[col]
        return pd.Series(vals[:n], dtype=object).str.lower().to_numpy(dtype=object)

    def sort_by(self, key, ascending: bool = True) -> None:
        """``key``: "input", "confidence", "uncertainty", a column name or index."""
        if key is None or key == -1:
            key = "input"
        if not self.n:
            return
        keys = self._keys(key)
        try:
            order = np.argsort(keys, kind="stable")
            if not ascending:  # stable descending (ties keep input order)
                order = (len(keys) - 1 - np.argsort(keys[::-1], kind="stable"))[::-1]
        except TypeError:
            skeys = np.asarray([str(k) for k in keys], dtype=object)
            order = np.argsort(skeys, kind="stable")
            if not ascending:
                order = (len(skeys) - 1 - np.argsort(skeys[::-1], kind="stable"))[::-1]
        self._sorted = order.astype(np.int64)
        self._relayout()

    def _relayout(self) -> None:
        """Reorder visible rows (same set of rows) keeping selections/persistent indexes."""
        self.layoutAboutToBeChanged.emit()
        old = [(ix, self._order_list[ix.row()], ix.column()) for ix in self.persistentIndexList()
               if ix.isValid() and ix.row() < len(self._order_list)]
        self._order = self._visible()
        self._order_list = self._order.tolist()
        if old:
            inv = np.full(self.n, -1, dtype=np.int64)
            inv[self._order] = np.arange(len(self._order))
            self.changePersistentIndexList(
                [ix for ix, _, _ in old],
                [self.index(int(inv[r]), c) if inv[r] >= 0 else QModelIndex() for _, r, c in old])
        self.layoutChanged.emit()

    def _visible(self) -> np.ndarray:
        order = self._sorted[: self.n]
        return order if self._mask is None else order[self._mask[order]]

    def _filter_mask(self, a: int, b: int) -> np.ndarray:
        text, review_only = self._filter
        flagged = self.review if self.target_table is None else self.target_table.keys("review:any", b, self.review)
        mask = flagged[a:b].astype(bool) if review_only else np.ones(b - a, dtype=bool)
        if text:
            hit = np.zeros(b - a, dtype=bool)
            for col in [self._pred_str, self._corrected] + self._inputs:
                s = pd.Series(col[a:b], dtype=object)
                hit |= s.str.lower().str.contains(text, regex=False, na=False).to_numpy(dtype=bool)
            mask &= hit
        return mask

    _filter = ("", False)

    def set_filter(self, text: str = "", review_only: bool = False) -> None:
        """Show only rows containing ``text`` (any text column or label) and/or needing review."""
        self._filter = ((text or "").strip().lower(), bool(review_only))
        new_mask = None if self._filter == ("", False) else self._filter_mask(0, self.n)
        if new_mask is None and self._mask is None:
            return
        self.beginResetModel()
        self._mask = new_mask
        self._order = self._visible()
        self._order_list = self._order.tolist()
        self.endResetModel()

    # ---- export -------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        n = self.n
        out = self.df.iloc[:n].copy()

        def free(name):
            while name in out.columns:
                name += "_"
            return name

        cols = prediction_columns(self.labels, self.probs[:n], self.review[:n],
                                  [self.review_reason(i) for i in range(n)])
        for c in PREDICTION_COLUMNS:          # the columns of `triage classify`, then the corrections
            out[free(c)] = cols[c]
        if self.target_table is not None:   # the per-target columns of `triage classify`, its own code
            for c, values in self.target_table.export_columns(n).items():
                out[free(c)] = values
        out[free("corrected_label")] = self._corrected[:n]
        return out


class ResultsProxy(QSortFilterProxyModel):
    """Pass-through proxy: sorting and filtering are delegated to :class:`ResultsModel`, which does
    them with numpy; the C++ proxy then has no Python call per row."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDynamicSortFilter(False)

    def sort(self, column, order=Qt.SortOrder.AscendingOrder):
        src = self.sourceModel()
        if isinstance(src, ResultsModel):
            src.sort_by(column if column >= 0 else "input", order == Qt.SortOrder.AscendingOrder)

    def set_filter(self, text: str, review_only: bool) -> None:
        src = self.sourceModel()
        if isinstance(src, ResultsModel):
            src.set_filter(text, review_only)


def input_strings(df: pd.DataFrame) -> list[list[str]]:
    """Display strings of every column (vectorised; safe to call in a worker thread)."""
    out = []
    for c in df.columns:
        col = df[c]
        if isinstance(col, pd.DataFrame):
            col = col.iloc[:, 0]
        out.append(col.astype(object).where(col.notna(), "").astype(str).tolist())
    return out


class LabelDelegate(QStyledItemDelegate):
    """Combo box editor listing the model's labels (first entry: no correction)."""

    def __init__(self, labels_fn, parent=None):
        super().__init__(parent)
        self.labels_fn = labels_fn

    def createEditor(self, parent, option, index):
        cb = QComboBox(parent)
        cb.addItem("")
        cb.addItems(self.labels_fn())
        cb.activated.connect(lambda _i, cb=cb: (self.commitData.emit(cb), self.closeEditor.emit(cb)))
        return cb

    def setEditorData(self, editor, index):
        v = index.data(EDIT) or index.siblingAtColumn(0).data(DISPLAY) or ""
        i = editor.findText(v)
        editor.setCurrentIndex(max(0, i))

    def setModelData(self, editor, model, index):
        model.setData(index, editor.currentText(), EDIT)


__all__ = ["FrameModel", "ResultsModel", "ResultsProxy", "LabelDelegate"]
