"""Thresholds panel: sliders change the live summary, suggest, save writes bundle.json and re-flags."""
from __future__ import annotations

import json

from triage_app import paths


def test_slider_summary_and_save(win, qtbot, bundle_copy):
    win.ctx.activate(bundle_copy)
    panel = win.models.thresholds
    panel.set_bundle(win.ctx.classifier.bundle)
    assert panel.probs is not None and "auto-routed" in panel.summary_text()
    panel.set_global(0.0)
    s0 = panel.summary_text()
    assert s0.startswith("100.0% auto-routed")
    panel.global_slider.setValue(99)
    assert panel.global_threshold() == 0.99 and panel.summary_text() != s0
    panel.target.setValue(50.0)
    panel.suggest()
    assert 0.0 <= panel.global_threshold() <= 1.0
    panel.set_global(0.12)
    label = panel.labels[3]
    panel.set_class(label, 0.3)
    assert panel.class_thresholds() == {label: 0.3}
    with qtbot.waitSignal(win.ctx.thresholdsChanged, timeout=5000):
        assert panel.save() == str(bundle_copy)
    meta = json.loads((bundle_copy / "bundle.json").read_text(encoding="utf-8"))
    assert meta["review_threshold"] == 0.12 and meta["class_thresholds"] == {label: 0.3}
    assert win.ctx.classifier.threshold == 0.12 and win.ctx.classifier.class_thresholds == {label: 0.3}


def test_builtin_model_saves_a_user_copy(win, qtbot, tiny_bundle):
    before = (tiny_bundle / "bundle.json").read_text(encoding="utf-8")
    panel = win.models.thresholds
    panel.set_bundle(win.ctx.classifier.bundle)
    panel.set_global(0.2)
    with qtbot.waitSignal(win.ctx.thresholdsChanged, timeout=10000):
        out = panel.save()
    assert out and out.startswith(str(paths.user_models_dir()))
    assert (tiny_bundle / "bundle.json").read_text(encoding="utf-8") == before
    assert win.ctx.is_active(out) and win.ctx.classifier.threshold == 0.2


def test_suggest_says_when_a_target_cannot_be_reached(win, qtbot, bundle_copy):
    """Every validation prediction wrong: no threshold reaches 90 %; the panel says so with the best
    reachable precision instead of routing nothing at '100 %', and classes nobody predicts say
    'no tickets'."""
    import numpy as np

    win.ctx.activate(bundle_copy)
    panel = win.models.thresholds
    panel.set_bundle(win.ctx.classifier.bundle)
    panel.y = (panel.probs.argmax(1) + 1) % len(panel.labels)
    panel.target.setValue(90.0)
    panel.suggest()
    assert panel.suggest_note.isVisibleTo(panel)
    assert "90% precision cannot be reached on these" in panel.suggest_note.text()
    assert panel.global_threshold() < 1.0 and "auto-routed at 0.0% precision" in panel.summary_text()
    predicted = set(np.asarray(panel.probs).argmax(1).tolist())
    idle = [lab for i, lab in enumerate(panel.labels) if i not in predicted]
    for lab in idle:
        row = panel._rows[lab]["row"]
        assert panel.table.item(row, 4).text() == "no tickets" == panel.table.item(row, 5).text()
    panel.set_global(1.0)
    assert panel.summary_text().startswith("Nothing auto-routed")


def test_class_names_are_not_clipped_in_a_small_window(win, qtbot, bundle_copy):
    """At 1024 px wide the per-class table shows each class name whole; the slider column gives way."""
    win.ctx.activate(bundle_copy)
    win.resize(1024, 700)
    win.show()
    qtbot.waitExposed(win)
    win.tabs.setCurrentWidget(win.models)
    win.models.inner.setCurrentWidget(win.models.thresholds)
    panel = win.models.thresholds
    panel.set_bundle(win.ctx.classifier.bundle)
    qtbot.wait(50)
    t = panel.table
    fm = t.fontMetrics()
    for r in range(t.rowCount()):
        assert t.columnWidth(0) >= fm.horizontalAdvance(t.item(r, 0).text()), t.item(r, 0).text()
    assert t.columnWidth(3) >= 80          # the slider still has room
