"""The Batch tab's review-first results table: key columns that stay in place while the table scrolls
sideways, the uncertainty column, and the ticket panel (the selected row in full and the words that
drove its prediction, worked out off the GUI thread)."""
from __future__ import annotations

import re

import pandas as pd
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QComboBox

from tests.conftest import load_file, run_batch, user_copy
from triage_app.gui.batch import result_columns
from triage_app.gui.batch.ticket_panel import ticket_for
from triage_app.gui.results_model import MATCH, MISMATCH, VALUE, ResultsModel

C_PRED, C_CONF, C_REVIEW, C_CORR = range(4)


@pytest.fixture
def results(win, qtbot, sample_csv):
    """The sample tickets (ticket_id, title, body, category, priority) classified, the label column mapped."""
    win.resize(1280, 800)
    tab = win.batch
    load_file(qtbot, win, sample_csv)
    tab.set_mapping(label="category")
    assert run_batch(qtbot, win) == "finished"
    qtbot.waitUntil(lambda: win.ctx.active_job == "", timeout=10000)
    return tab


def names(model, cols) -> list[str]:
    return [model.columns[c] for c in cols]


def visible_in_visual_order(view) -> list[int]:
    h = view.horizontalHeader()
    return [h.logicalIndex(v) for v in range(h.count()) if not h.isSectionHidden(h.logicalIndex(v))]


def words_of(text: str) -> set[str]:
    return set(re.findall(r"[0-9a-z]+", text.lower()))


def select(tab, display_row: int) -> int:
    tab.table.selectRow(display_row)
    return tab.model.data_row(display_row)


# ---- key columns ----------------------------------------------------------------------------------
def test_key_columns_stay_in_place_while_the_table_scrolls_sideways(results, qtbot):
    tab = results
    m, view = tab.model, tab.table
    frozen = view.frozen
    key = ["ticket_id", "title", "Predicted", "category", "Match"]
    assert frozen.isVisible()
    assert names(m, visible_in_visual_order(frozen)) == key          # the overlay shows only these
    assert names(m, visible_in_visual_order(view))[:5] == key        # the table has them first
    assert {"Confidence", "Uncertainty", "Review", "Corrected", "body", "priority", "Top 3"} <= \
        set(names(m, visible_in_visual_order(view)))
    hbar = view.horizontalScrollBar()
    assert hbar.maximum() > 0                                        # the table is wider than its view
    before = [frozen.columnViewportPosition(c) for c in view.frozen_columns]
    assert before == sorted(before) and before[0] == 0
    hbar.setValue(hbar.maximum())
    QApplication.processEvents()
    # the table's own copies of the key columns scrolled away to the left; the overlay did not move
    assert view.columnViewportPosition(view.frozen_columns[0]) < 0
    assert frozen.horizontalScrollBar().value() == 0
    assert [frozen.columnViewportPosition(c) for c in view.frozen_columns] == before
    assert frozen.geometry().x() == view.viewport().geometry().x()
    assert frozen.width() == sum(view.columnWidth(c) for c in view.frozen_columns) < view.viewport().width()
    assert frozen.height() >= view.viewport().height()
    ix = frozen.indexAt(QPoint(2, 2))
    assert m.columns[ix.column()] == "ticket_id" and ix.row() == frozen.rowAt(2)
    # scrolling down moves both views together
    view.verticalScrollBar().setValue(view.verticalScrollBar().maximum())
    QApplication.processEvents()
    assert frozen.verticalScrollBar().value() == view.verticalScrollBar().value() > 0
    assert frozen.rowAt(2) == view.rowAt(2)
    # a cell of a scrolling column is never left under the overlay
    view.scrollTo(tab.proxy.index(0, C_CONF))
    assert view.columnViewportPosition(C_CONF) >= frozen.width()
    # the match marks: ✓ where the file's label is the predicted one
    truth = tab.df["category"].astype(str).str.strip().tolist()
    for r in range(m.rowCount()):
        d = m.data_row(r)
        want = MATCH if truth[d] == m.predicted(d) else MISMATCH
        assert m.index(r, m.c_match).data() == want
    # a click on a key column's header sorts the table
    fh = frozen.horizontalHeader()
    x = fh.sectionViewportPosition(C_PRED) + fh.sectionSize(C_PRED) // 2
    qtbot.mouseClick(fh.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, fh.height() // 2))
    assert view.horizontalHeader().sortIndicatorSection() == C_PRED == fh.sortIndicatorSection()
    shown = [m.index(r, C_PRED).data().lower() for r in range(m.rowCount())]
    assert shown == sorted(shown)


def test_columns_of_a_file_without_id_or_label_column(qtbot):
    df = pd.DataFrame({"Subject": ["VPN down", "Printer jam"], "Description": ["a", "b"], "Priority": ["Low", "High"]})
    m = ResultsModel(df, ["Access", "Hardware"])
    m.fields = {"title": "Subject", "body": "Description"}
    m.label_col = None
    order, n_frozen, hidden = result_columns.layout(m)
    assert names(m, order[:n_frozen]) == ["Subject", "Predicted"]
    assert hidden == {m.c_match}
    assert result_columns.id_column(["Ticket Number", "Subject"]) == "Ticket Number"
    assert result_columns.id_column(["ID", "text"]) == "ID"
    assert result_columns.id_column(["customer", "Description"]) is None


# ---- uncertainty ----------------------------------------------------------------------------------
def test_uncertainty_column_shows_the_review_order_score_and_sorts_by_it(results):
    tab = results
    m, view = tab.model, tab.table
    c = m.c_unc
    unc = m.uncertainty()
    assert len(unc) == m.n and unc.max() > unc.min()
    for r in range(m.rowCount()):
        d = m.data_row(r)
        assert m.index(r, c).data() == f"{unc[d]:.2f}"
        assert m.index(r, c).data(VALUE) == pytest.approx(float(unc[d]), abs=1e-9)
    tip = m.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "Most uncertain first" in tip and "1.00" in tip
    view.sortByColumn(c, Qt.SortOrder.DescendingOrder)
    shown = [float(unc[m.data_row(r)]) for r in range(m.rowCount())]
    assert shown == sorted(shown, reverse=True)                     # by the number, not its two decimals
    view.sortByColumn(c, Qt.SortOrder.AscendingOrder)
    shown = [float(unc[m.data_row(r)]) for r in range(m.rowCount())]
    assert shown == sorted(shown)
    # "Most uncertain first" puts the same row on top as the column sorted high to low
    tab.set_order("Most uncertain first")
    assert float(unc[m.data_row(0)]) == pytest.approx(float(unc.max()))


# ---- ticket panel ---------------------------------------------------------------------------------
def test_selecting_a_row_shows_the_ticket_and_the_words_behind_its_prediction(results, qtbot):
    tab = results
    m, panel = tab.model, tab.results.ticket_panel
    assert panel.isVisible()
    d = select(tab, 3)
    row = tab.df.iloc[d]
    text = panel.details.toPlainText()
    assert row["title"] in text and row["body"][:60] in text
    assert row["ticket_id"] in panel.heading.text() and row["priority"] in text
    assert m.predicted(d) in text and f"{float(m.conf[d]):.1%}" in text
    assert "In the file" in text and row["category"] in text
    qtbot.waitUntil(lambda: panel.explained == (m, d), timeout=30000)
    words = panel.explain_view.words
    assert words and any(s != 0 for _w, s in words)
    ticket_words = words_of(row["title"] + " " + row["body"])
    shown = [w for w, _s in words if words_of(w)]
    assert sum(bool(words_of(w) & ticket_words) for w in shown) >= 0.8 * len(shown)
    # exactly what the active model says about the ticket the run classified
    assert ticket_for(m, d) == {"title": row["title"], "body": row["body"]}
    assert words == tab.ctx.classifier.explain(ticket_for(m, d))
    assert panel.explain_view.toPlainText().split()[:3] == [w for w, _s in words[:3]]
    qtbot.waitUntil(lambda: tab.ctx.active_job == "", timeout=10000)


def test_a_newer_selection_supersedes_an_explanation_still_being_worked_out(results, qtbot):
    tab = results
    m, panel = tab.model, tab.results.ticket_panel
    shown: list[list] = []
    real = panel.explain_view.set_words

    def spy(words, *a, **k):
        if words:
            shown.append(list(words))
        real(words, *a, **k)

    panel.explain_view.set_words = spy
    a = select(tab, 0)
    job_a = panel.job
    assert job_a is not None                        # row A's explanation is being worked out
    b = select(tab, 5)                              # before its result can arrive (no event loop ran)
    assert b != a and tab.df.iloc[a]["body"] != tab.df.iloc[b]["body"]
    qtbot.waitUntil(lambda: panel.explained == (m, b), timeout=30000)
    qtbot.waitUntil(lambda: tab.ctx.active_job == "", timeout=10000)
    assert panel.job is not job_a                   # B got its own job once A's had ended
    want = tab.ctx.classifier.explain(ticket_for(m, b))
    assert shown == [want]                          # A's words were never shown
    assert tab.df.iloc[b]["title"] in panel.details.toPlainText()


def test_the_panel_says_when_the_active_model_cannot_explain_these_results(results, qtbot, tiny_bundle, tmp_path,
                                                                           monkeypatch):
    tab = results
    m, panel, ctx = tab.model, tab.results.ticket_panel, tab.ctx
    d = select(tab, 2)
    qtbot.waitUntil(lambda: panel.explained == (m, d), timeout=30000)
    qtbot.waitUntil(lambda: ctx.active_job == "", timeout=10000)
    other = user_copy(tiny_bundle, tmp_path / "other", version="2")
    ctx.activate(other)                              # another model: its words would not match these results
    assert panel.explained is None and panel.explain_view.words == []
    assert "is not the one these results came from (tiny-test v1)" in panel.status
    assert panel.explain_view.placeholderText() == panel.status
    assert tab.df.iloc[d]["title"] in panel.details.toPlainText()      # the ticket itself still shows
    ctx.activate(tiny_bundle)                        # the run's model again: explained again
    qtbot.waitUntil(lambda: panel.explained == (m, d), timeout=30000)
    qtbot.waitUntil(lambda: ctx.active_job == "", timeout=10000)
    # a result that arrives after the model changed is not shown
    e = select(tab, 4)
    assert panel.job is not None and panel.job.is_running()
    ctx.activate(other)
    qtbot.waitUntil(lambda: ctx.active_job == "", timeout=30000)
    QApplication.processEvents()
    assert panel.explained is None and panel.explain_view.words == [] and e == panel.row
    monkeypatch.setattr(ctx, "classifier", None)
    panel.explain()
    assert "No model is active" in panel.status and "tiny-test v1" in panel.status


def test_hiding_the_ticket_panel_and_showing_it_again(results, qtbot):
    tab = results
    view, panel = tab.results, tab.results.ticket_panel
    assert view.side_btn.isChecked() and tab.acc_box.isVisibleTo(tab)
    view.side_btn.click()
    assert not panel.isVisibleTo(tab) and tab.acc_box.isVisibleTo(tab)      # the accuracy stays
    before = panel.job
    d = select(tab, 1)
    qtbot.wait(50)
    assert panel.job is before and panel.explained is None                    # nothing worked out unseen
    view.side_btn.click()
    assert panel.isVisibleTo(tab)
    qtbot.waitUntil(lambda: panel.explained == (tab.model, d), timeout=30000)
    qtbot.waitUntil(lambda: tab.ctx.active_job == "", timeout=10000)


# ---- corrections ----------------------------------------------------------------------------------
def test_correcting_a_row_in_the_table_still_works(results, qtbot):
    tab = results
    m, view, panel = tab.model, tab.table, tab.results.ticket_panel
    d = select(tab, 2)
    ix = tab.proxy.index(2, C_CORR)
    view.scrollTo(ix)
    rect = view.visualRect(ix)
    assert rect.left() >= view.frozen.width()           # scrolled into sight, not under the key columns
    # a double click as the window system delivers it: press, release, then the double click
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    editor = view.indexWidget(ix)
    assert isinstance(editor, QComboBox) and editor.isVisible()
    truth = tab.df.iloc[d]["category"]
    label = truth if truth in m.labels and truth != m.predicted(d) else \
        next(lab for lab in m.labels if lab != m.predicted(d))
    editor.setCurrentIndex(editor.findText(label))
    editor.activated.emit(editor.currentIndex())
    qtbot.waitUntil(lambda: m.corrected_label(d) == label, timeout=5000)
    assert tab.proxy.index(2, C_CORR).data() == label and tab.proxy.index(2, C_REVIEW).data() == "Reviewed"
    rows = tab.ctx.corrections.all()
    assert len(rows) == 1 and rows[0]["corrected"] == label
    assert tab.proxy.index(2, m.c_match).data() == (MATCH if label == truth else MISMATCH)
    assert "Your correction" in panel.details.toPlainText() and label in panel.details.toPlainText()
    assert view.frozen.editTriggers() == view.frozen.EditTrigger.NoEditTriggers
    qtbot.waitUntil(lambda: tab.ctx.active_job == "", timeout=30000)
