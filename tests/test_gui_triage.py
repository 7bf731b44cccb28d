"""Triage tab: classify a pasted ticket, explanation, history, copy, correction."""
from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

TITLE = "VPN disconnects every few minutes"
BODY = "Since yesterday my VPN client drops the connection. I cannot reach the file share."


def classify(qtbot, tab, title=TITLE, body=BODY, timeout=20000):
    """Type a ticket into the Triage tab, click Classify and return the result it emitted."""
    tab.title_edit.setText(title)
    tab.body_edit.setPlainText(body)
    with qtbot.waitSignal(tab.classified, timeout=timeout) as blocker:
        qtbot.mouseClick(tab.classify_btn, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def test_classify_pasted_ticket(win, qtbot):
    tab = win.triage
    r = classify(qtbot, tab)
    labels = win.ctx.classifier.labels
    assert tab.label_view.text() == r["label"] and r["label"] in labels
    assert len(tab.bars.items) == 5 and tab.bars.items[0][0] == r["label"]
    assert all(0 <= p <= 1 for _, p in tab.bars.items)
    assert "Confidence" in tab.conf_view.text()
    assert tab.badge.text() in ("Needs review", "Auto-route")
    words = [w for w, _ in tab.explain_view.words]
    assert "VPN" in words and any(s != 0 for _, s in tab.explain_view.words)
    assert "background-color" in tab.explain_view.toHtml()
    assert tab.history.count() == 1
    # Copy result -> JSON on the clipboard
    tab.copy_result("json")
    data = json.loads(QGuiApplication.clipboard().text())
    assert data["label"] == r["label"] and data["ticket"]["title"] == TITLE
    # a second ticket, then clicking the first history entry reloads it
    classify(qtbot, tab, "Order a new monitor", "Please order a 27 inch monitor for the new hire.")
    assert tab.history.count() == 2
    first = tab.history.item(1)
    tab._history_clicked(first)
    assert tab.title_edit.text() == TITLE and tab.label_view.text() == r["label"]
    qtbot.waitUntil(lambda: win.ctx.active_job == "", timeout=10000)


def test_ctrl_enter_and_single_field(win, qtbot):
    tab = win.triage
    win.show()
    qtbot.waitExposed(win)
    tab.single_check.setChecked(True)
    assert tab.title_edit.isHidden()
    tab.body_edit.setPlainText("printer on floor 2 is jammed again")
    tab.body_edit.setFocus()
    with qtbot.waitSignal(tab.classified, timeout=20000) as blocker:
        win.shortcut_classify()  # what Ctrl+Enter triggers
    assert blocker.args[0]["ticket"] == {"text": "printer on floor 2 is jammed again"}


def test_correction_lands_in_store(win, qtbot):
    tab = win.triage
    r = classify(qtbot, tab)
    target = next(lab for lab in win.ctx.classifier.labels if lab != r["label"])
    tab.correct_combo.setCurrentText(target)
    qtbot.mouseClick(tab.save_corr_btn, Qt.MouseButton.LeftButton)
    rows = win.ctx.corrections.all()
    assert len(rows) == 1
    row = rows[0]
    assert row["corrected"] == target and row["predicted"] == r["label"]
    assert row["title"] == TITLE and row["body"] == BODY and row["model_version"] == "1"
    assert "Saved" in tab.corr_status.text()


def test_thresholds_change_reflags_result(win, qtbot):
    tab = win.triage
    r = classify(qtbot, tab)
    clf = win.ctx.classifier
    clf.threshold = 0.0
    clf.class_thresholds = {}
    win.ctx.thresholdsChanged.emit()
    assert tab.result["needs_review"] is False and tab.badge.text() == "Auto-route"
    clf.threshold = 1.0
    win.ctx.thresholdsChanged.emit()
    assert tab.result["needs_review"] is True and tab.badge.text() == "Needs review"
    assert r["label"] == tab.label_view.text()


def test_explanation_tooltips_say_what_removing_a_word_does(win, qtbot):
    """Hovering a word: 'removing "VPN" changes <label> from 91% to 84%', the drop measured by
    occlusion on the calibrated probabilities (no raw score)."""
    from triage_app.gui.widgets import occlusion_tip

    tab = win.triage
    r = classify(qtbot, tab)
    view = tab.explain_view
    tips = []
    cur = view.document().begin()
    while cur.isValid():
        it = cur.begin()
        while not it.atEnd():
            f = it.fragment()
            if f.charFormat().toolTip():
                tips.append(f.charFormat().toolTip())
            it += 1
        cur = cur.next()
    assert tips and all(t.startswith('removing "') and r["label"] in t for t in tips)
    word, drop = max(r["words"], key=lambda ws: abs(ws[1]))
    expected = occlusion_tip(word, drop, r["label"], r["confidence"])
    assert expected in tips and (f"from {r['confidence']:.0%} to {r['confidence'] - drop:.0%}" in expected
                                 or f"leaves {r['label']} at {r['confidence']:.0%}" in expected)
    assert occlusion_tip("printer", 0.07, "Hardware", 0.91) == 'removing "printer" changes Hardware from 91% to 84%'
    assert occlusion_tip("the", 0.001, "Hardware", 0.91) == 'removing "the" leaves Hardware at 91%'


def test_an_empty_ticket_clears_the_previous_result(win, qtbot):
    tab = win.triage
    classify(qtbot, tab)
    assert tab.result is not None and tab.badge.isVisibleTo(tab)
    tab.title_edit.clear()
    tab.body_edit.clear()
    assert tab.classify() is None
    assert tab.result is None and tab.label_view.text() == "—" and not tab.badge.isVisibleTo(tab)
    assert tab.bars.items == [] and tab.explain_view.words == [] and not tab.copy_btn.isEnabled()
    assert tab.conf_view.text() == "Type or paste a ticket first."
