"""Thresholds panel: sliders change the live summary, suggest, save writes bundle.json and re-flags."""
from __future__ import annotations

import json

from triage_app import paths


def test_slider_summary_and_save(win, qtbot, bundle_copy):
    win.ctx.activate(bundle_copy)
    panel = win.models.thresholds
    panel.set_bundle(win.ctx.classifier.bundle)
    assert panel.probs is not None and "auto-routed at" in panel.summary_text()
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
