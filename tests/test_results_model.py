"""The Batch tab's item models, on real Qt models with hand-checkable numbers.

Six tickets, three labels; every expected value below is worked out by hand from ``PROBS``:

    row  probabilities (Access, Hardware, Network)  predicted  confidence  margin uncertainty
    0    0.70 0.20 0.10                              Access     70.0 %      1 - (0.70 - 0.20) = 0.50
    1    0.10 0.45 0.45                              Hardware   45.0 %      1 - (0.45 - 0.45) = 1.00
    2    0.05 0.05 0.90                              Network    90.0 %      1 - (0.90 - 0.05) = 0.15
    3    0.40 0.35 0.25                              Access     40.0 %      1 - (0.40 - 0.35) = 0.95
    4    0.20 0.60 0.20                              Hardware   60.0 %      1 - (0.60 - 0.20) = 0.60
    5    0.30 0.30 0.40                              Network    40.0 %      1 - (0.40 - 0.30) = 0.90

(row 1: the tie between Hardware and Network goes to the first label, as ``argsort`` is stable).
With the default threshold 0.5, rows 1, 3 and 5 need review.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QComboBox, QStyleOptionViewItem, QTableView

from triage_app.gui import style
from triage_app.gui.results_model import FrameModel, LabelDelegate, ResultsModel, ResultsProxy

DISPLAY = Qt.ItemDataRole.DisplayRole
EDIT = Qt.ItemDataRole.EditRole
LABELS = ["Access", "Hardware", "Network"]
PROBS = np.array([[0.70, 0.20, 0.10],
                  [0.10, 0.45, 0.45],
                  [0.05, 0.05, 0.90],
                  [0.40, 0.35, 0.25],
                  [0.20, 0.60, 0.20],
                  [0.30, 0.30, 0.40]], dtype=np.float32)
TITLES = ["VPN down", "Printer jam", "Wifi slow", "Password reset", "Laptop broken", "Printer offline"]
COLUMNS = ["Predicted", "Confidence", "Review", "Corrected", "id", "title", "body", "Top 3", "Uncertainty", "Match"]
C_PRED, C_CONF, C_REVIEW, C_CORR, C_ID, C_TITLE, C_BODY, C_TOP, C_UNC, C_MATCH = range(10)


def frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [f"T{i + 1}" for i in range(6)], "title": TITLES,
                         "body": [f"body {i + 1}" for i in range(6)]})


def filled(**kw) -> ResultsModel:
    m = ResultsModel(frame(), LABELS, **kw)
    m.append_chunk(0, PROBS)
    return m


def column(model, c: int) -> list[str]:
    return [model.index(r, c).data() for r in range(model.rowCount())]


def shown_rows(model) -> list[int]:
    return [model.data_row(r) for r in range(model.rowCount())]


class Recorder:
    """Records the structural signals of a model as tuples."""

    def __init__(self, model):
        self.events: list[tuple] = []
        model.rowsAboutToBeInserted.connect(lambda _p, a, b: self.events.append(("about", a, b)))
        model.rowsInserted.connect(lambda _p, a, b: self.events.append(("inserted", a, b)))
        model.modelReset.connect(lambda: self.events.append(("reset",)))
        model.layoutChanged.connect(lambda *_: self.events.append(("layout",)))
        model.dataChanged.connect(lambda tl, br, _roles=(): self.events.append(
            ("changed", tl.row(), tl.column(), br.row(), br.column())))


# ---- filling --------------------------------------------------------------------------------------
def test_append_chunk_inserts_each_chunk_without_reset(qtbot):
    m = ResultsModel(frame(), LABELS)
    rec = Recorder(m)
    assert (m.rowCount(), m.columnCount(), m.n, m.total) == (0, 10, 0, 6)
    m.append_chunk(0, PROBS[:2])
    m.append_chunk(2, PROBS[2:2])         # an empty chunk changes nothing
    m.append_chunk(2, PROBS[2:])
    assert rec.events == [("about", 0, 1), ("inserted", 0, 1), ("about", 2, 5), ("inserted", 2, 5)]
    assert m.rowCount() == m.n == 6
    with pytest.raises(ValueError, match="chunk starts at 3, expected 6"):
        m.append_chunk(3, PROBS[:1])
    assert m.rowCount() == 6


def test_columns_and_display_values(qtbot):
    m = filled()
    assert m.columns == COLUMNS
    assert [m.headerData(c, Qt.Orientation.Horizontal) for c in range(10)] == COLUMNS
    assert column(m, C_PRED) == ["Access", "Hardware", "Network", "Access", "Hardware", "Network"]
    assert column(m, C_CONF) == ["70.0%", "45.0%", "90.0%", "40.0%", "60.0%", "40.0%"]
    assert column(m, C_REVIEW) == ["", "Review", "", "Review", "", "Review"]
    assert column(m, C_CORR) == [""] * 6
    assert column(m, C_ID) == ["T1", "T2", "T3", "T4", "T5", "T6"]
    assert column(m, C_TITLE) == TITLES
    assert column(m, C_TOP) == ["Access 70%; Hardware 20%; Network 10%",
                                "Hardware 45%; Network 45%; Access 10%",
                                "Network 90%; Access 5%; Hardware 5%",
                                "Access 40%; Hardware 35%; Network 25%",
                                "Hardware 60%; Access 20%; Network 20%",
                                "Network 40%; Access 30%; Hardware 30%"]
    assert m.index(0, C_PRED).data(EDIT) == "Access"
    assert m.headerData(0, Qt.Orientation.Vertical) == "1"
    assert m.headerData(6, Qt.Orientation.Vertical) is None
    assert m.pred_idx.tolist() == [0, 1, 2, 0, 1, 2]
    assert m.conf.tolist() == pytest.approx([0.70, 0.45, 0.90, 0.40, 0.60, 0.40])
    assert m.review.tolist() == [False, True, False, True, False, True]
    assert [m.predicted(r) for r in range(6)] == column(m, C_PRED)
    assert m.top(3) == [("Access", pytest.approx(0.40)), ("Hardware", pytest.approx(0.35)),
                        ("Network", pytest.approx(0.25))]
    assert m.top(1, 1) == [("Hardware", pytest.approx(0.45))]
    assert m.uncertainty() == pytest.approx([0.50, 1.00, 0.15, 0.95, 0.60, 0.90], abs=1e-6)


def test_roles_colour_align_and_tooltips(qtbot):
    m = filled()
    assert m.index(1, C_REVIEW).data(Qt.ItemDataRole.BackgroundRole) == style.qcolor("warn", 70)
    assert m.index(0, C_REVIEW).data(Qt.ItemDataRole.BackgroundRole) is None
    assert m.index(1, C_PRED).data(Qt.ItemDataRole.BackgroundRole) is None
    assert m.index(0, C_CORR).data(Qt.ItemDataRole.ForegroundRole) == style.qcolor("good")
    assert m.index(0, C_PRED).data(Qt.ItemDataRole.ForegroundRole) is None
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert m.index(0, C_CONF).data(Qt.ItemDataRole.TextAlignmentRole) == right
    assert m.index(0, C_PRED).data(Qt.ItemDataRole.TextAlignmentRole) is None
    tip = Qt.ItemDataRole.ToolTipRole
    assert "correct the label" in m.index(0, C_CORR).data(tip)
    assert m.index(0, C_TITLE).data(tip) is None                        # short text: no tooltip
    assert m.index(0, C_TOP).data(tip) is None                          # 37 characters
    assert m.headerData(1, Qt.Orientation.Horizontal, tip) == "Calibrated probability of the predicted label"
    assert m.headerData(C_TITLE, Qt.Orientation.Horizontal, tip) is None
    assert m.data(QModelIndex()) is None
    assert m.rowCount(m.index(0, 0)) == 0 and m.columnCount(m.index(0, 0)) == 0


def test_long_cells_have_their_text_as_tooltip(qtbot):
    df = frame()
    df.loc[0, "body"] = "x" * 41
    m = ResultsModel(df, LABELS)
    m.append_chunk(0, PROBS)
    assert m.index(0, C_BODY).data(Qt.ItemDataRole.ToolTipRole) == "x" * 41
    assert m.index(1, C_BODY).data(Qt.ItemDataRole.ToolTipRole) is None


def test_inputs_of_any_type_are_shown_as_text(qtbot):
    df = pd.DataFrame({"n": [1, 2, 3, 4, 5, 6], "f": [1.5, None, 0.0, 2.0, 3.25, -1.0],
                       "s": ["a", None, "c", "d", "e", "f"]})
    for lazy in (False, True):
        m = ResultsModel(df, LABELS, lazy_inputs=lazy)
        m.append_chunk(0, PROBS[:2])
        m.append_chunk(2, PROBS[2:])
        assert column(m, 4) == ["1", "2", "3", "4", "5", "6"]
        assert column(m, 5) == ["1.5", "", "0.0", "2.0", "3.25", "-1.0"]
        assert column(m, 6) == ["a", "", "c", "d", "e", "f"]


def test_top_k_and_two_labels(qtbot):
    m = ResultsModel(frame().head(2), ["Yes", "No"], top_k=1)
    m.append_chunk(0, np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32))
    assert column(m, C_PRED) == ["No", "Yes"]
    assert column(m, C_CONF) == ["75.0%", "50.0%"]
    assert column(m, C_REVIEW) == ["", ""]              # 0.5 is not below the threshold 0.5
    assert column(m, C_TOP) == ["No 75%", "Yes 50%"]


# ---- thresholds -------------------------------------------------------------------------------------
def test_set_thresholds_reflags_with_one_ranged_data_changed(qtbot):
    m = filled()
    rec = Recorder(m)
    m.set_thresholds(0.3, {"Network": 0.95})
    # Access and Hardware now need 30 %: all pass; Network needs 95 %: rows 2 (90 %) and 5 (40 %)
    assert rec.events == [("changed", 0, C_REVIEW, 5, C_REVIEW)]
    assert column(m, C_REVIEW) == ["", "", "Review", "", "", "Review"]
    assert m.review.tolist() == [False, False, True, False, False, True]
    assert m.index(2, C_REVIEW).data(Qt.ItemDataRole.BackgroundRole) == style.qcolor("warn", 70)
    m.set_thresholds(0.65, None)
    assert column(m, C_REVIEW) == ["", "Review", "", "Review", "Review", "Review"]


def test_thresholds_set_before_the_rows_apply_to_them(qtbot):
    m = ResultsModel(frame(), LABELS)
    rec = Recorder(m)
    m.set_thresholds(0.3, {"Network": 0.95})
    assert rec.events == []
    m.append_chunk(0, PROBS)
    assert column(m, C_REVIEW) == ["", "", "Review", "", "", "Review"]


def test_thresholds_under_a_filter_change_only_shown_rows(qtbot):
    m = filled()
    m.set_filter("printer")                                    # rows 1 and 5
    rec = Recorder(m)
    m.set_thresholds(0.3, {})
    assert rec.events == [("changed", 0, C_REVIEW, 1, C_REVIEW)]
    assert column(m, C_REVIEW) == ["", ""]


# ---- corrections -------------------------------------------------------------------------------------
def test_set_data_corrects_only_the_corrected_column(qtbot):
    m = filled()
    assert m.flags(m.index(0, C_CORR)) & Qt.ItemFlag.ItemIsEditable
    assert not m.flags(m.index(0, C_PRED)) & Qt.ItemFlag.ItemIsEditable
    rec = Recorder(m)
    seen = []
    m.corrected.connect(lambda r, lab: seen.append((r, lab)))
    assert m.setData(m.index(4, C_CORR), "Network")
    assert rec.events == [("changed", 4, C_PRED, 4, C_MATCH)]       # reviewed now; its match mark may change
    assert m.index(4, C_REVIEW).data() == "Reviewed" and not m.review[4]
    assert seen == [(4, "Network")]
    assert m.corrected_label(4) == "Network" and m.index(4, C_CORR).data() == "Network"
    assert not m.setData(m.index(4, C_PRED), "Access")           # not editable
    assert not m.setData(m.index(4, C_CORR), "Printers")         # not a label of the model
    assert not m.setData(m.index(4, C_CORR), "Access", DISPLAY)
    assert not m.setData(QModelIndex(), "Access")
    assert m.corrected_label(4) == "Network" and seen == [(4, "Network")]
    assert m.setData(m.index(4, C_CORR), "")                     # clearing emits no correction
    assert m.corrected_label(4) == "" and seen == [(4, "Network")]


def test_set_correction_by_data_row_updates_the_shown_cell(qtbot):
    m = filled()
    m.sort_by("confidence")                  # data row 0 (70 %) is shown at row 4
    rec = Recorder(m)
    assert m.set_correction(0, "Hardware")
    assert rec.events == [("changed", 4, C_PRED, 4, C_MATCH)]
    assert m.index(4, C_CORR).data() == "Hardware" and m.corrected_label(0) == "Hardware"
    m.set_filter("printer")                  # data row 0 hidden: stored, nothing to repaint
    rec.events.clear()
    assert m.set_correction(0, "Network") and rec.events == []
    assert m.corrected_label(0) == "Network"
    assert not m.set_correction(0, "nope") and m.corrected_label(0) == "Network"


# ---- order and filter ---------------------------------------------------------------------------------
def test_sort_by_keys_is_stable_and_keeps_persistent_indexes(qtbot):
    m = filled()
    rec = Recorder(m)
    keep = QPersistentModelIndex(m.index(0, C_TITLE))           # data row 0
    m.sort_by("confidence")
    assert shown_rows(m) == [3, 5, 1, 4, 0, 2]                   # 40, 40, 45, 60, 70, 90 %
    assert rec.events == [("layout",)]
    assert keep.row() == 4 and keep.column() == C_TITLE and keep.data() == "VPN down"
    m.sort_by("confidence", ascending=False)
    assert shown_rows(m) == [2, 0, 4, 1, 3, 5]                   # ties keep input order
    m.sort_by("uncertainty", ascending=False)
    assert shown_rows(m) == [1, 3, 5, 4, 0, 2]
    m.sort_by("Predicted")
    assert shown_rows(m) == [0, 3, 1, 4, 2, 5]
    m.sort_by("Predicted", ascending=False)
    assert shown_rows(m) == [2, 5, 1, 4, 0, 3]
    m.sort_by(C_TITLE)                                           # a column index, case-insensitive
    assert column(m, C_TITLE) == ["Laptop broken", "Password reset", "Printer jam", "Printer offline",
                                  "VPN down", "Wifi slow"]
    m.sort_by(C_REVIEW, ascending=False)
    assert shown_rows(m) == [1, 3, 5, 0, 2, 4]
    m.sort_by(-1)
    assert shown_rows(m) == [0, 1, 2, 3, 4, 5]
    assert "reset" not in [e[0] for e in rec.events]
    assert keep.row() == 0


def test_data_row_and_display_row_after_sorting(qtbot):
    m = filled()
    m.sort_by("confidence")
    assert [m.data_row(r) for r in range(6)] == [3, 5, 1, 4, 0, 2]
    assert [m.display_row(d) for d in range(6)] == [4, 2, 5, 0, 3, 1]
    assert m.headerData(0, Qt.Orientation.Vertical) == "4"       # the data row's number
    assert m.index(0, C_ID).data() == "T4"
    m.set_filter("printer")
    assert shown_rows(m) == [5, 1]                               # still in confidence order
    assert m.display_row(5) == 0 and m.display_row(1) == 1 and m.display_row(0) is None


def test_sorting_an_empty_model_applies_to_rows_appended_later(qtbot):
    m = ResultsModel(frame(), LABELS)
    m.sort_by("confidence")
    assert m.rowCount() == 0
    m.append_chunk(0, PROBS)
    assert shown_rows(m) == [0, 1, 2, 3, 4, 5]                  # appended rows come in input order


def test_review_order_lowest_certainty_first(qtbot):
    m = filled()
    assert m.review_order() == [1, 3, 5, 4, 0, 2]
    assert m.review_order(only_flagged=True) == [1, 3, 5]
    m.set_thresholds(0.3, {"Network": 0.95})
    assert m.review_order(only_flagged=True) == [5, 2]
    assert ResultsModel(frame(), LABELS).review_order() == []


def test_set_filter_text_and_review_only(qtbot):
    m = filled()
    rec = Recorder(m)
    m.set_filter("  PRINTER ")                   # trimmed, case-insensitive, any text column
    assert shown_rows(m) == [1, 5] and m.rowCount() == 2
    assert rec.events == [("reset",)]
    m.set_filter("t3")                           # the id column
    assert shown_rows(m) == [2]
    m.set_filter("network")                      # predicted label
    assert shown_rows(m) == [2, 5]
    m.set_filter("network", review_only=True)
    assert shown_rows(m) == [5]
    m.set_filter(review_only=True)
    assert shown_rows(m) == [1, 3, 5]
    m.set_filter("no such ticket")
    assert m.rowCount() == 0
    m.set_filter("")
    assert shown_rows(m) == [0, 1, 2, 3, 4, 5]
    rec.events.clear()
    m.set_filter("")                             # no filter before or after: nothing happens
    assert rec.events == []


def test_filter_matches_corrected_labels(qtbot):
    m = filled()
    m.set_correction(0, "Network")
    m.set_filter("network")
    assert shown_rows(m) == [0, 2, 5]


def test_rows_appended_under_a_filter_are_filtered(qtbot):
    m = ResultsModel(frame(), LABELS)
    m.set_filter("printer")
    rec = Recorder(m)
    m.append_chunk(0, PROBS[:3])                 # row 1 matches
    m.append_chunk(3, PROBS[3:5])                # nothing matches: no signal
    m.append_chunk(5, PROBS[5:])                 # row 5 matches
    assert rec.events == [("about", 0, 0), ("inserted", 0, 0), ("about", 1, 1), ("inserted", 1, 1)]
    assert shown_rows(m) == [1, 5] and m.n == 6
    m.set_filter("")
    assert m.rowCount() == 6


# ---- export -------------------------------------------------------------------------------------------
def test_to_frame_keeps_every_input_column_and_adds_predictions(qtbot):
    df = frame()
    df.index = [10, 11, 12, 13, 14, 15]          # the input's index is not carried over
    m = ResultsModel(df, LABELS)
    m.append_chunk(0, PROBS)
    m.set_correction(3, "Hardware")
    m.sort_by("confidence")                      # export is in input order whatever is shown
    m.set_filter("printer")
    out = m.to_frame()
    from triage_app.cli import PRED_COLUMNS

    # the columns `triage classify` writes, then the corrections
    assert list(out.columns) == ["id", "title", "body", *PRED_COLUMNS, "corrected_label"]
    assert out.index.tolist() == [0, 1, 2, 3, 4, 5]
    assert out["id"].tolist() == ["T1", "T2", "T3", "T4", "T5", "T6"]
    assert out["title"].tolist() == TITLES
    assert out["predicted_label"].tolist() == ["Access", "Hardware", "Network", "Access", "Hardware", "Network"]
    assert out["confidence"].tolist() == [0.7, 0.45, 0.9, 0.4, 0.6, 0.4]
    assert out["needs_review"].tolist() == [False, True, False, False, False, True]   # row 3 was corrected
    assert (out["top2_label"][2], out["top2_confidence"][2], out["top3_label"][2]) == ("Access", 0.05, "Hardware")
    assert out["review_reason"].tolist()[:2] == ["", "low confidence (45% < 50%)"]
    assert out["corrected_label"].tolist() == ["", "", "", "Hardware", "", ""]


def test_to_frame_of_a_partial_run_and_clashing_names(qtbot):
    df = pd.DataFrame({"confidence": ["high", "low", "high"], "predicted_label": ["a", "b", "c"]})
    m = ResultsModel(df, LABELS)
    m.append_chunk(0, PROBS[:2])
    out = m.to_frame()
    assert list(out.columns) == ["confidence", "predicted_label", "predicted_label_", "confidence_", "top2_label",
                                 "top2_confidence", "top3_label", "top3_confidence", "needs_review",
                                 "review_reason", "corrected_label"]
    assert out["confidence"].tolist() == ["high", "low"]          # the input column, untouched
    assert out["confidence_"].tolist() == [0.7, 0.45]
    assert out["predicted_label_"].tolist() == ["Access", "Hardware"]


# ---- proxy --------------------------------------------------------------------------------------------
def test_proxy_delegates_sort_and_filter_to_the_model(qtbot):
    m = filled()
    proxy = ResultsProxy()
    proxy.setSourceModel(m)
    assert not proxy.dynamicSortFilter()
    proxy.sort(C_CONF, Qt.SortOrder.DescendingOrder)
    assert shown_rows(m) == [2, 0, 4, 1, 3, 5]
    assert column(proxy, C_CONF) == ["90.0%", "70.0%", "60.0%", "45.0%", "40.0%", "40.0%"]
    proxy.set_filter("printer", False)
    assert column(proxy, C_TITLE) == ["Printer jam", "Printer offline"]
    proxy.set_filter("", True)
    assert column(proxy, C_TITLE) == ["Printer jam", "Password reset", "Printer offline"]
    proxy.set_filter("", False)
    proxy.sort(-1)
    assert column(proxy, C_ID) == ["T1", "T2", "T3", "T4", "T5", "T6"]
    assert proxy.setData(proxy.index(2, C_CORR), "Access") and m.corrected_label(2) == "Access"


def test_proxy_follows_rows_appended_to_the_model(qtbot):
    m = ResultsModel(frame(), LABELS)
    proxy = ResultsProxy()
    proxy.setSourceModel(m)
    m.append_chunk(0, PROBS[:4])
    m.append_chunk(4, PROBS[4:])
    assert proxy.rowCount() == 6
    assert column(proxy, C_PRED) == column(m, C_PRED)
    proxy.setSourceModel(None)
    proxy.sort(C_CONF)                            # no source: nothing to sort, no error
    proxy.set_filter("x", True)


# ---- delegate ------------------------------------------------------------------------------------------
def test_label_delegate_edits_with_a_combo_box(qtbot):
    m = filled()
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(m)
    view.setItemDelegateForColumn(C_CORR, LabelDelegate(lambda: LABELS, view))
    view.show()
    qtbot.waitExposed(view)
    ix = m.index(4, C_CORR)
    view.setCurrentIndex(ix)
    view.edit(ix)
    editor = view.indexWidget(ix)
    assert isinstance(editor, QComboBox)
    assert [editor.itemText(i) for i in range(editor.count())] == ["", *LABELS]
    assert editor.currentText() == "Hardware"              # no correction yet: the prediction
    editor.setCurrentIndex(3)
    editor.activated.emit(3)                               # what picking an entry emits
    assert m.corrected_label(4) == "Network" and m.index(4, C_CORR).data() == "Network"
    qtbot.waitUntil(lambda: view.indexWidget(ix) is None, timeout=2000)   # the editor closed


def test_label_delegate_shows_the_correction_and_can_clear_it(qtbot):
    m = filled()
    m.set_correction(0, "Network")
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(m)
    delegate = LabelDelegate(lambda: LABELS, view)
    ix = m.index(0, C_CORR)
    editor = delegate.createEditor(view.viewport(), QStyleOptionViewItem(), ix)
    delegate.setEditorData(editor, ix)
    assert editor.currentText() == "Network"
    editor.setCurrentIndex(0)                              # the empty entry: no correction
    delegate.setModelData(editor, m, ix)
    assert m.corrected_label(0) == ""
    editor.deleteLater()


# ---- preview ---------------------------------------------------------------------------------------------
def test_frame_model_previews_the_first_rows(qtbot):
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", None, "y" * 41]})
    fm = FrameModel(df, max_rows=2)
    assert (fm.rowCount(), fm.columnCount()) == (2, 2)
    assert [fm.headerData(c, Qt.Orientation.Horizontal) for c in range(2)] == ["a", "b"]
    assert fm.headerData(2, Qt.Orientation.Horizontal) is None
    assert [fm.headerData(r, Qt.Orientation.Vertical) for r in range(2)] == ["1", "2"]
    assert fm.headerData(0, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) is None
    assert column(fm, 0) == ["1", "2"] and column(fm, 1) == ["x", ""]
    assert fm.index(0, 1).data(Qt.ItemDataRole.ToolTipRole) is None
    resets = []
    fm.modelReset.connect(lambda: resets.append(1))
    fm.set_frame(df, 3)
    assert fm.rowCount() == 3 and fm.index(2, 1).data(Qt.ItemDataRole.ToolTipRole) == "y" * 41
    fm.set_frame(None)
    assert (fm.rowCount(), fm.columnCount()) == (0, 0) and resets == [1, 1]
    assert FrameModel().rowCount() == 0


def test_a_corrected_row_is_reviewed_whatever_the_threshold(qtbot):
    m = filled()
    assert m.review[1] and m.index(1, C_REVIEW).data() == "Review"
    m.set_correction(1, "Access")
    assert not m.review[1] and m.index(1, C_REVIEW).data() == "Reviewed" and m.review_reason(1) == ""
    m.set_thresholds(0.99, {})                     # a stricter threshold does not bring the tag back
    assert not m.review[1] and m.index(1, C_REVIEW).data() == "Reviewed"
    m.set_correction(1, "")                        # cleared: flagged again by its confidence
    assert m.review[1] and m.index(1, C_REVIEW).data() == "Review"


def test_predictions_that_differ_from_the_files_label_are_highlighted(qtbot):
    m = filled()
    preds = [m.predicted(r) for r in range(m.n)]
    truth = list(preds)
    truth[1] = next(lab for lab in LABELS if lab != preds[1])
    truth[2] = ""                                    # no label in the file: nothing to compare
    m.set_truth(truth)
    bg = Qt.ItemDataRole.BackgroundRole
    shown = [m.data_row(i) for i in range(m.rowCount())]
    flagged = [r for i, r in enumerate(shown) if m.index(i, C_PRED).data(bg) is not None]
    assert flagged == [1]
    i = shown.index(1)
    assert m.index(i, C_PRED).data(Qt.ItemDataRole.ToolTipRole) == f"The file says {truth[1]}"
    m.set_correction(1, truth[1])                    # corrected to the file's label: no longer a mismatch
    assert m.index(i, C_PRED).data(bg) is None
