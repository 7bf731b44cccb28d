"""Review dialog: keyboard path writes a correction."""
from __future__ import annotations

from PySide6.QtCore import Qt

from tests.conftest import load_file, run_batch


def test_review_dialog_keyboard_path(win, qtbot, sample_csv):
    tab = win.batch
    load_file(qtbot, win, sample_csv)
    assert run_batch(qtbot, win) == "finished"
    dlg = tab.open_review()
    qtbot.addWidget(dlg)
    qtbot.waitExposed(dlg)
    m = tab.model
    unc = m.uncertainty()
    assert dlg.queue and unc[dlg.queue[0]] == unc.max()           # most uncertain first
    dlg.hide_suggest.setChecked(True)
    assert not dlg.suggest_box.isVisible()
    first = dlg.current_row
    qtbot.keyClick(dlg, Qt.Key.Key_2)
    assert dlg.choice == m.labels[1] and dlg.suggest_box.isVisible()
    qtbot.keyClick(dlg, Qt.Key.Key_Return)
    rows = win.ctx.corrections.all()
    assert len(rows) == 1 and rows[0]["corrected"] == m.labels[1]
    assert m.corrected_label(first) == m.labels[1]
    assert dlg.current_row != first and dlg.saved == 1
    qtbot.keyClick(dlg, Qt.Key.Key_Left)
    assert dlg.current_row == first
    qtbot.keyClick(dlg, Qt.Key.Key_Right)
    qtbot.keyClick(dlg, Qt.Key.Key_Right)
    assert dlg.pos_i == 2
    dlg.close()


def test_review_queue_shows_the_title_the_files_label_and_unclipped_bars(win, qtbot, sample_csv):
    from PySide6.QtGui import QFont, QFontMetrics

    tab = win.batch
    load_file(qtbot, win, sample_csv)
    tab.set_mapping(label="category")
    assert run_batch(qtbot, win) == "finished"
    dlg = tab.open_review()
    qtbot.addWidget(dlg)
    qtbot.waitExposed(dlg)
    r = dlg.current_row
    html_text = dlg.ticket_view.toPlainText()
    t = tab.ticket_of(r)
    assert t["title"] in html_text and f"In the file: {t['file_label']}" in html_text
    # the bold first bar label is measured with the bold font: it fits, or is elided at its end
    bars = dlg.bars
    bold = QFont(bars.font())
    bold.setBold(True)
    fm = QFontMetrics(bold)
    width = bars.width()
    label_w = min(max(fm.horizontalAdvance(a) for a, _ in bars.items) + 12, int(width * 0.42))
    shown = bars.shown_label(0, label_w - 8)
    assert fm.horizontalAdvance(shown) <= label_w - 8
    assert shown == bars.items[0][0] or shown.endswith("…")
    dlg.close()
