"""Batch tab: open, classify, sort/filter, inline correction, export (CSV/XLSX, escaping), cancel,
responsiveness, large-table model."""
from __future__ import annotations

import csv
import threading

import pytest

from tests.conftest import load_file, run_batch, write_tickets

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
    from triage_app.cli import PRED_COLUMNS

    assert set(PRED_COLUMNS) | {"corrected_label"} <= set(got[0])     # the columns of `triage classify`
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


def test_gui_stays_responsive_during_batch(win, qtbot, sample_csv, tmp_path, monkeypatch):
    """Classifying 5,000 rows leaves the GUI thread free, checked by what happens, not by time:
    the classifier runs on the job's thread; while it works, the GUI thread's event loop runs (a
    timer started with the job fires, and before each chunk the worker waits until it has, and
    until the GUI has taken the previous chunk); rows reach the table in chunks (one rowsInserted
    per chunk, no reset) and the progress bar moves while the job runs."""
    from PySide6.QtCore import QTimer

    import triage_app.gui.batch.tab as batch_tab

    src = tmp_path / "t5000.csv"
    write_tickets(src, sample_csv, n=5000)
    tab = win.batch
    tab.progress_interval = 0.0          # a progress event per classifier batch: no wall-clock throttle
    load_file(qtbot, win, src)
    gui_thread = threading.get_ident()
    cond = threading.Condition()
    seen = {"ticks": 0, "rows_shown": 0, "stalls": 0}
    calls: list[tuple[int, int]] = []            # (thread, rows) of each classifier call
    inserted: list[tuple[int, int, bool]] = []   # (first, last, job running) of each rowsInserted
    resets: list[int] = []
    progress: list[tuple[int, bool]] = []        # (value, job running) of each progress bar change

    def running() -> bool:
        return tab.job is not None and tab.job.is_running()

    def gui_waited_for(pred) -> None:
        # worker thread: wait until the GUI thread has done something; give up (and fail) once
        if seen["stalls"]:
            return
        with cond:
            if not cond.wait_for(pred, timeout=10):
                seen["stalls"] += 1

    real_score = win.ctx.classifier.score

    def score(tickets, *a, **kw):
        tickets = list(tickets)
        rows_before = sum(n for _t, n in calls)
        calls.append((threading.get_ident(), len(tickets)))
        if threading.get_ident() != gui_thread:
            ticks = seen["ticks"]
            gui_waited_for(lambda: seen["ticks"] > ticks and seen["rows_shown"] >= rows_before)
        return real_score(tickets, *a, **kw)

    monkeypatch.setattr(win.ctx.classifier, "score", score)
    real_model = batch_tab.ResultsModel

    def results_model(*a, **kw):
        m = real_model(*a, **kw)

        def rows(_parent, first, last):
            inserted.append((first, last, running()))
            with cond:
                seen["rows_shown"] += last - first + 1
                cond.notify_all()
        m.rowsInserted.connect(rows)
        m.modelReset.connect(lambda: resets.append(1))
        return m

    monkeypatch.setattr(batch_tab, "ResultsModel", results_model)
    tab.run_panel.progress.valueChanged.connect(lambda v: progress.append((v, running())))

    def tick():
        if running():
            with cond:
                seen["ticks"] += 1
                cond.notify_all()

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    with qtbot.waitSignal(tab.runFinished, timeout=120000) as blocker:
        job = tab.classify()
        assert job is not None and job.is_running()
        timer.start()
    timer.stop()
    assert blocker.args[0] == "finished"
    assert tab.model.n == 5000 and tab.proxy.rowCount() == 5000
    # the classifier ran on the job's thread only, in chunks
    assert len(calls) >= 3 and sum(n for _t, n in calls) == 5000
    assert gui_thread not in {t for t, _n in calls}
    # the GUI thread kept processing events while the job ran: the worker never waited in vain
    assert seen["stalls"] == 0
    assert seen["ticks"] >= len(calls)
    # the table grew by one insert per chunk, in order, while the job ran; never a reset
    assert len(inserted) == len(calls)
    assert [(f, la) for f, la, _r in inserted] == \
        [(sum(n for _t, n in calls[:i]), sum(n for _t, n in calls[:i + 1]) - 1) for i in range(len(calls))]
    assert all(r for _f, _l, r in inserted) and not resets
    # progress reached the GUI while the job ran
    assert any(0 < v < 100 for v, r in progress if r), progress
    qtbot.waitUntil(lambda: win.ctx.active_job == "", timeout=5000)


def test_results_stay_with_their_file(win, qtbot, sample_csv, tmp_path, monkeypatch):
    """Results name their source; opening another file (even one that cannot be classified) clears
    them, so Export never offers one file's results under another's name; replacing reviewed results
    asks first and 'Keep these results' keeps everything."""
    import pandas as pd

    from triage_app.gui import widgets

    tab = win.batch
    load_file(qtbot, win, sample_csv)
    run_batch(qtbot, win)
    model = tab.model
    assert model.source == f"sample_tickets.csv · {model.n:,} rows · model tiny-test v1"
    assert tab.results.summary_label.text().startswith(model.source)
    bad = tmp_path / "numbers.csv"
    pd.DataFrame({"id": [1, 2, 3], "amount": [4, 5, 6]}).to_csv(bad, index=False)
    load_file(qtbot, win, bad)               # loads, but has no text column to classify
    assert tab.model is None and not tab.export_btn.isEnabled()
    assert tab.results.summary_label.text() == ""
    # reviewed results: opening another file asks first
    load_file(qtbot, win, sample_csv)
    run_batch(qtbot, win)
    tab.model.set_correction(0, tab.model.labels[0] if tab.model.predicted(0) != tab.model.labels[0]
                             else tab.model.labels[1])
    asked = []
    monkeypatch.setattr(widgets, "ask", lambda parent, title, text, **k: asked.append(text) or False)
    kept = tab.model
    assert tab.open_file(bad) is None and tab.model is kept and tab.path == str(sample_csv)
    assert "hold 1 corrected label" in asked[0] and "sample_tickets.csv" in asked[0]


def test_a_model_that_does_not_fit_the_file_says_so(win, qtbot, sample_csv, tiny_bundle, tmp_path):
    """A labelled file on which the model is far below its own test figure: a banner with both figures
    and their sizes; 'Raise the review threshold' re-flags these results; 'Retrain on this file'
    opens the Train tab with the file loaded."""
    import json

    from tests.conftest import user_copy

    meta = json.loads((tiny_bundle / "bundle.json").read_text(encoding="utf-8"))
    metrics = {**meta["metrics"], "test_exported": {"accuracy": 0.99, "weighted_f1": 0.99, "macro_f1": 0.99,
                                                    "rows": 4784, "precision": "fp32", "how": "test"}}
    proud = user_copy(tiny_bundle, tmp_path / "proud", metrics=metrics)
    win.ctx.activate(proud)
    tab = win.batch
    load_file(qtbot, win, sample_csv)
    tab.set_mapping(label="category")
    run_batch(qtbot, win)
    banner = tab.results.fit_banner
    assert tab.accuracy is not None and tab.accuracy < 0.84
    assert banner.isVisibleTo(tab) and "does not fit this file" in banner.text()
    assert f"{tab.accuracy:.1%} of the 96 labelled tickets" in banner.text() and "99.0% of 4,784" in banner.text()
    before = int(tab.model.review[: tab.model.n].sum())
    t = tab.raise_threshold_for_file()
    assert t is not None and int(tab.model.review[: tab.model.n].sum()) >= before
    assert "Review threshold for these results raised to" in tab.status_label.text()
    with qtbot.waitSignal(win.train.ensure().dataLoaded, timeout=20000):
        tab.retrainRequested.emit(tab.path)
    assert win.tabs.currentWidget() is win.train and win.train.ensure().data_panel.path.name == "sample_tickets.csv"
