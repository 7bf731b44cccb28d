"""Batch tab: open, classify, sort/filter, inline correction, export (CSV/XLSX, escaping), cancel,
responsiveness, large-table model."""
from __future__ import annotations

import csv

import pytest
from test_gui_helpers import gui_ctx, load_file, run_batch, win, write_tickets  # noqa: F401, F811  (fixtures)

EVIL = {"ticket_id": "TCK-9999", "title": "=HYPERLINK(\"http://x\")", "body": "+1 line one, \"quoted\"\nline two",
        "category": "Hardware", "priority": "-High"}


def test_batch_classify_export(win, qtbot, sample_csv, tmp_path):
    src = tmp_path / "tickets.csv"
    n = write_tickets(src, sample_csv, extra=[EVIL])
    tab = win.batch
    load_file(qtbot, win, src)
    assert win.tabs.currentWidget() is tab
    assert tab.mapping() == {"title": "title", "body": "body", "text": None, "label": "category"}
    assert tab.preview_model.rowCount() == n
    assert run_batch(qtbot, win) == "finished"
    m = tab.model
    assert m.n == n == tab.proxy.rowCount()
    assert set(m._pred_str) <= set(win.ctx.classifier.labels)
    assert tab.acc_box.isVisibleTo(tab) and 0.0 <= tab.accuracy <= 1.0
    assert tab.confusion.sum() == n
    qtbot.waitUntil(lambda: win.ctx.active_job == "", timeout=10000)

    # ordering and filtering
    tab.set_order("Lowest confidence first")
    confs = [float(m.conf[m.data_row(r)]) for r in range(m.n)]
    assert confs == sorted(confs)
    tab.set_order("Most uncertain first")
    unc = m.uncertainty()
    shown = [float(unc[m.data_row(r)]) for r in range(5)]
    assert shown[0] == pytest.approx(float(unc.max()))
    tab.review_only.setChecked(True)
    assert tab.proxy.rowCount() == int(m.review.sum())
    tab.review_only.setChecked(False)
    tab.filter_edit.setText("TCK-9999")
    tab._apply_filter()
    assert tab.proxy.rowCount() == 1
    tab.filter_edit.clear()
    tab._apply_filter()
    assert tab.proxy.rowCount() == n

    # inline correction through the proxy -> corrections store
    ix = tab.proxy.index(0, 3)
    label = win.ctx.classifier.labels[2]
    assert tab.proxy.setData(ix, label)
    assert tab.proxy.index(0, 3).data() == label
    rows = win.ctx.corrections.all()
    assert len(rows) == 1 and rows[0]["corrected"] == label

    # export CSV and XLSX
    out_csv = tmp_path / "out.csv"
    with qtbot.waitSignal(tab.exported, timeout=30000):
        tab.export_to(out_csv)
    with open(out_csv, encoding="utf-8-sig", newline="") as f:
        got = list(csv.DictReader(f))
    assert len(got) == n
    assert {"predicted_label", "confidence", "needs_review", "top3", "corrected_label"} <= set(got[0])
    evil = next(r for r in got if r["ticket_id"] == "TCK-9999")
    assert evil["title"] == "'" + EVIL["title"]
    assert evil["body"] == "'" + EVIL["body"]          # newline and quotes survive, formula-safe
    assert evil["priority"] == "'-High"
    assert sum(1 for r in got if r["corrected_label"] == label) == 1
    out_xlsx = tmp_path / "out.xlsx"
    with qtbot.waitSignal(tab.exported, timeout=30000):
        tab.export_to(out_xlsx)
    import openpyxl
    wb = openpyxl.load_workbook(out_xlsx)
    ws = wb.active
    header = [c.value for c in ws[1]]
    assert ws.max_row == n + 1 and "predicted_label" in header
    tcol = header.index("title")
    cells = [row[tcol] for row in ws.iter_rows(min_row=2)]
    evil_cell = next(c for c in cells if str(c.value).endswith(EVIL["title"]))
    assert evil_cell.data_type != "f" and str(evil_cell.value).startswith("'=")
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*tmp*"))


def test_multisheet_xlsx_offers_sheet_choice(win, qtbot, tmp_path):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Notes"
    ws.append(["note"])
    ws.append(["nothing here"])
    ws2 = wb.create_sheet("Tickets")
    ws2.append(["subject", "description"])
    ws2.append(["Printer jam", "The printer on floor 2 jams"])
    ws2.append(["VPN", "Cannot connect"])
    p = tmp_path / "book.xlsx"
    wb.save(p)
    tab = win.batch
    load_file(qtbot, win, p)
    assert tab.sheet_combo.isVisibleTo(tab)
    assert [tab.sheet_combo.itemText(i) for i in range(tab.sheet_combo.count())] == ["Notes", "Tickets"]
    with qtbot.waitSignal(tab.fileLoaded, timeout=20000):
        tab.open_file(str(p), "Tickets")
    assert len(tab.df) == 2 and tab.mapping()["title"] == "subject"


def test_cancel_batch_midway(win, qtbot, sample_csv, tmp_path):
    src = tmp_path / "big.csv"
    write_tickets(src, sample_csv, n=3000)
    tab = win.batch
    tab.batch_size = 8
    load_file(qtbot, win, src)
    cancelled_at = []

    def first_progress(ev):
        if ev[0] == "progress" and not cancelled_at:
            cancelled_at.append(ev[1])
            tab.cancel()

    with qtbot.waitSignal(tab.runFinished, timeout=60000) as blocker:
        job = tab.classify()
        job.event.connect(first_progress)
    assert blocker.args[0] == "cancelled"
    assert cancelled_at and cancelled_at[0] < 3000
    assert tab.run_state == "cancelled" and not job.is_running()
    assert tab.model is None and tab.proxy.sourceModel() is None     # no partial table
    assert not tab.export_btn.isEnabled() and tab.export_to(tmp_path / "x.csv") is None
    assert "Cancelled" in tab.status_label.text()
    assert tab.classify_btn.isEnabled()
    qtbot.waitUntil(lambda: win.ctx.active_job == "", timeout=5000)


def test_gui_stays_responsive_during_batch(win, qtbot, sample_csv, tmp_path):
    """The longest gap of a 10 ms timer on the GUI thread while 5,000 rows are classified.

    Measured up to three times and judged on the best run, so that a CI machine whose scheduler
    hiccups once (another process, page cache) does not fail the product: a GUI that blocks
    (inference or table updates on the GUI thread) fails all three runs by seconds."""
    src = tmp_path / "t5000.csv"
    write_tickets(src, sample_csv, n=5000)
    tab = win.batch
    load_file(qtbot, win, src)
    from tests.conftest import longest_gui_gaps

    def start():
        assert tab.classify() is not None

    def after(gaps):
        assert tab.model.n == 5000
        qtbot.waitUntil(lambda: win.ctx.active_job == "", timeout=5000)

    worst = longest_gui_gaps(qtbot, tab.runFinished, start, after, timeout=120000)
    assert min(worst) < 0.25, f"GUI thread blocked for {[round(w * 1000) for w in worst]} ms"
