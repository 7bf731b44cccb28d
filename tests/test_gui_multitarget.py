"""The app side of several targets per ticket: the Triage tab's result blocks, the explanation and
correction of the target the agent picks, on a real tiny three-target bundle trained by the pipeline."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.test_gui_triage import BODY, TITLE
from tests.test_gui_triage import classify as triage_classify
from tests.test_multitarget import _cfg, three_target_frame


@pytest.fixture(scope="module")
def mt_bundle(tiny_checkpoint, sample_csv, tmp_path_factory, one_torch_thread):
    """A real three-target bundle (category, priority, queue) built by trainer/pipeline.py, as the
    colleague's tests build it (read-only: copy to modify)."""
    from trainer.pipeline import DataSpec, run

    d = tmp_path_factory.mktemp("gui_mt")
    spec = DataSpec(source="three.csv", df=three_target_frame(sample_csv), label_col="category",
                    label_cols=["category", "priority", "queue"], title_col="title", body_col="body",
                    min_per_class=3, val_frac=0.25, test_frac=0.2)
    return run(spec, _cfg(tiny_checkpoint), d / "model", name="three").bundle_path


@pytest.fixture
def mt_win(win, mt_bundle):
    """The main window with the three-target model active."""
    win.ctx.activate(mt_bundle)
    return win


def classify(qtbot, tab):
    return triage_classify(qtbot, tab, timeout=30000)     # three targets on the tiny model: a little slower


def test_triage_shows_one_block_per_target(mt_win, qtbot):
    tab = mt_win.triage
    clf = mt_win.ctx.classifier
    assert [t.name for t in clf.targets] == ["category", "priority", "queue"]
    r = classify(qtbot, tab)
    want = clf.predict({"title": TITLE, "body": BODY}, top_k=3)      # the engine, independently
    blocks = tab.target_results.blocks
    assert list(blocks) == ["category", "priority", "queue"]
    assert tab.target_results.isVisible() and not tab.bars.isVisible() and not tab.label_view.isVisible()
    for name, block in blocks.items():
        tp = want.targets[name]
        assert block.isVisible()
        assert block.label_view.text() == tp.label == r["targets"][name]["label"]
        assert f"{tp.confidence:.1%}" in block.conf_view.text()
        assert [a for a, _ in block.bars.items] == [a for a, _ in tp.top] and len(block.bars.items) <= 3
        assert block.badge.text().startswith("Needs review" if tp.needs_review else "Auto-route")
    assert sorted(tab.target_combo.itemText(i) for i in range(3)) == sorted(blocks)
    data = json.loads(tab.result_text("json"))
    assert set(data["targets"]) == set(blocks) and data["targets"]["queue"]["label"] in ("IT", "Business")
    qtbot.waitUntil(lambda: mt_win.ctx.active_job == "", timeout=10000)


def test_explanation_and_correction_follow_the_picked_target(mt_win, qtbot):
    tab = mt_win.triage
    store = mt_win.ctx.corrections
    classify(qtbot, tab)
    assert tab.correct_combo.findText("Hardware") >= 0 or tab.correct_combo.count() > 2   # category's labels
    with qtbot.waitSignal(tab.explained, timeout=30000) as blocker:
        tab.target_combo.setCurrentText("queue")
    assert blocker.args == ["queue"]
    words = tab.result["words_by"]["queue"]
    assert words == mt_win.ctx.classifier.explain({"title": TITLE, "body": BODY}, target="queue")
    assert tab.explain_view.words == words
    assert sorted(tab.correct_combo.itemText(i) for i in range(tab.correct_combo.count())) == ["Business", "IT"]
    other = next(x for x in ("Business", "IT") if x != tab.result["targets"]["queue"]["label"])
    tab.correct_combo.setCurrentText(other)
    assert tab.save_correction()
    rows = store.target_corrections()
    assert len(rows) == 1 and rows[0]["target"] == "queue" and rows[0]["corrected"] == other
    assert store.all() == []                                  # not a correction of the primary label
    tab.target_combo.setCurrentText("category")               # cached: no second job
    cat = tab.result["targets"]["category"]
    assert tab.explain_view.words == tab.result["words_by"]["category"]
    tab.correct_combo.setCurrentText(next(lab for lab in mt_win.ctx.classifier.labels if lab != cat["label"]))
    assert tab.save_correction()
    assert len(store.all()) == 1 and store.all()[0]["predicted"] == cat["label"]
    qtbot.waitUntil(lambda: mt_win.ctx.active_job == "", timeout=10000)


def test_thresholds_change_reflags_every_target(mt_win, qtbot):
    tab = mt_win.triage
    classify(qtbot, tab)
    clf = mt_win.ctx.classifier
    for t in clf.targets:
        t.review_threshold, t.class_thresholds = 1.01, {}
    clf.threshold, clf.class_thresholds = 1.01, {}
    mt_win.ctx.thresholdsChanged.emit()
    assert all(b.badge.text().startswith("Needs review") for b in tab.target_results.blocks.values())


# ---- Batch tab ---------------------------------------------------------------------------------------
def test_batch_columns_orders_and_export_per_target(mt_win, qtbot, sample_csv, tmp_path):
    import csv

    from tests.conftest import load_file, run_batch
    from triage_app.cli import main

    src = tmp_path / "three.csv"
    three_target_frame(sample_csv).to_csv(src, index=False)
    tab = mt_win.batch
    load_file(qtbot, mt_win, src)
    assert run_batch(qtbot, mt_win) == "finished"
    m = tab.model
    clf = mt_win.ctx.classifier
    heads = [m.headerData(c, Qt.Orientation.Horizontal) for c in m.c_targets]
    assert heads == ["priority", "priority confidence", "priority review", "queue", "queue confidence",
                     "queue review"]
    import pandas as pd
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    want = clf.predict([{"title": a, "body": b} for a, b in zip(df.title, df.body)])
    for r in range(0, m.n, 7):
        tp = want[r].targets["queue"]
        row = m.display_row(r)
        assert m.index(row, m.c_targets[3]).data() == tp.label
        # dynamic int8 scales activations per batch, and the Batch tab's chunks batch other tickets
        # together than one predict() call: the same label, the confidence within 0.2 points
        assert abs(float(m.index(row, m.c_targets[4]).data().rstrip("%")) - 100 * tp.confidence) <= 0.2
        assert m.index(row, m.c_targets[5]).data() == ("Review" if tp.needs_review else "")
        assert m.index(row, 0).data() == want[r].label          # the primary target as before
    # accuracy per target against the file's own columns
    acc_q = np.mean([p.targets["queue"].label == q for p, q in zip(want, df.queue)])
    has_p = df.priority != ""
    acc_p = np.mean([p.targets["priority"].label == q for p, q, h in zip(want, df.priority, has_p) if h])
    box = tab.acc_box                      # pick a target: its figures and its confusion matrix
    text = box.target_pick.toolTip()
    assert f"<b>queue</b>: {acc_q:.1%} accuracy on {len(df):,} labelled rows" in text
    assert f"<b>priority</b>: {acc_p:.1%} accuracy on {int(has_p.sum()):,} labelled rows" in text
    items = [box.target_pick.itemText(i) for i in range(box.target_pick.count())]
    assert items == [f"category · {box.accuracy:.1%}", f"priority · {acc_p:.1%}", f"queue · {acc_q:.1%}"]
    assert box.target_pick.isVisibleTo(tab) and box.picked() == "category"
    assert not box.targets_label.isVisibleTo(tab)       # the picker's items say it
    primary_cm = box.confusion
    box.pick_target("queue")
    assert f"{acc_q:.1%}</span> accuracy on {len(df):,} labelled rows" in box.acc_label.text()
    assert box.heatmap.labels == ["Business", "IT"] and int(np.asarray(box.heatmap.matrix).sum()) == len(df)
    assert box.confusion is primary_cm and box.accuracy == box.figures["category"]["accuracy"]   # the primary's stay
    box.pick_target("category")
    # orderings per target and over any target
    tab.set_order("priority: lowest confidence first")
    shown = m.target_table.conf["priority"]      # what the tab holds (the file's batches, int8)
    assert shown == pytest.approx([p.targets["priority"].confidence for p in want], abs=5e-3)
    confs = [float(shown[m.data_row(i)]) for i in range(m.n)]
    assert confs == sorted(confs)
    tab.set_order("Needs review (any target) first")
    anyrev = [any(t.needs_review for t in want[m.data_row(i)].targets.values()) for i in range(m.n)]
    assert anyrev == sorted(anyrev, reverse=True)
    tab.review_only.setChecked(True)
    assert tab.proxy.rowCount() == sum(anyrev)
    tab.review_only.setChecked(False)
    # inline correction of another target through the proxy -> the corrections store, for that target
    store = mt_win.ctx.corrections
    cq = m.c_targets[3]
    ix = tab.proxy.index(0, cq)
    first = m.data_row(0)
    other = next(x for x in ("Business", "IT") if x != want[first].targets["queue"].label)
    assert not tab.proxy.setData(ix, "Hardware")                  # not a queue label
    assert tab.proxy.setData(ix, other)
    assert tab.proxy.index(0, cq).data() == other and tab.proxy.index(0, cq + 2).data() == "Reviewed"
    rows = store.target_corrections()
    assert len(rows) == 1 and rows[0]["target"] == "queue" and rows[0]["corrected"] == other
    assert rows[0]["predicted"] == want[first].targets["queue"].label and store.all() == []
    # the review queue of one target: its tickets most uncertain first, its labels, its corrections
    menu = tab.results.review_btn.menu()
    assert [a.text() for a in menu.actions()] == ["category (Predicted)", "priority", "queue"]
    dlg = tab.open_review("priority")
    qtbot.addWidget(dlg)
    from triage_app import review as rv
    pp = np.array([want[r].targets["priority"].top[0][1] for r in range(m.n)])   # sanity: real scores
    assert pp.min() > 0
    unc = rv.uncertainty(m.target_table.probs["priority"][: m.n])
    assert dlg.labels == next(t.labels for t in mt_win.ctx.classifier.targets if t.name == "priority")
    assert dlg.queue and unc[dlg.queue[0]] == pytest.approx(unc.max())
    first = dlg.current_row
    assert "priority" in dlg.windowTitle()
    qtbot.keyClick(dlg, Qt.Key.Key_1)
    qtbot.keyClick(dlg, Qt.Key.Key_Return)
    prio = [r for r in store.target_corrections() if r["target"] == "priority"]
    assert len(prio) == 1 and prio[0]["corrected"] == dlg.labels[0]
    assert m.target_table.corrected["priority"][first] == dlg.labels[0] and store.all() == []
    dlg.close()
    # export = the columns and values `triage classify` writes for this model
    out = tmp_path / "gui.csv"
    with qtbot.waitSignal(tab.exported, timeout=30000):
        tab.export_to(out)
    cli = tmp_path / "cli.csv"
    assert main(["classify", str(src), "-o", str(cli), "--model", str(clf.bundle.path), "-q"]) == 0
    with open(out, encoding="utf-8-sig", newline="") as f:
        got = list(csv.DictReader(f))
    with open(cli, encoding="utf-8-sig", newline="") as f:
        ref = list(csv.DictReader(f))
    cols = [c for c in ref[0] if c.split("_")[0] in ("category", "priority", "queue") and c not in df.columns]
    assert len(cols) == 9 and all(c in got[0] for c in cols)
    conf = [c for c in cols if c.endswith("_confidence")]
    assert [[r[c] for c in cols if c not in conf] for r in got] == [[r[c] for c in cols if c not in conf] for r in ref]
    # confidences close: the app's batches are composed otherwise than the CLI's, and dynamic int8
    # quantization scales activations per batch (differences of about 1e-3 on this tiny model)
    assert np.allclose([[float(r[c]) for c in conf] for r in got], [[float(r[c]) for c in conf] for r in ref],
                       atol=5e-3, rtol=0)
    assert sum(1 for r in got if r["queue_corrected"] == other) == 1 and "priority_corrected" in got[0]
    # new thresholds of one target re-flag its column
    q = next(t for t in clf.targets if t.name == "queue")
    q.review_threshold, q.class_thresholds = 1.01, {}
    mt_win.ctx.thresholdsChanged.emit()
    shown = [m.index(i, m.c_targets[5]).data() for i in range(m.rowCount())]
    assert shown.count("Reviewed") == 1 and set(shown) == {"Review", "Reviewed"}
    qtbot.waitUntil(lambda: mt_win.ctx.active_job == "", timeout=10000)


def test_models_list_names_the_targets_and_their_figures(mt_win):
    tab = mt_win.models
    tab.refresh()
    assert tab.select_path(mt_win.ctx.classifier.bundle.path)
    row = tab.table.currentRow()
    b = mt_win.ctx.classifier.bundle
    assert tab.table.item(row, 4).text() == f"{len(b.labels)} · 3 targets"
    tip = tab.table.item(row, 6).toolTip()
    for t in b.targets:
        s = t.summary()
        assert f"{t.name}: accuracy {s['accuracy']:.1%} on {s['rows']:,}, macro-F1 {s['macro_f1']:.1%}" in tip


# ---- Train tab -----------------------------------------------------------------------------------------
def test_train_tab_trains_two_label_columns(gui_ctx, mt_bundle, qtbot, sample_csv, tiny_checkpoint, tmp_path):
    from tests.test_gui_train import tiny_settings
    from triage_app.bundle import load_bundle
    from triage_app.gui.train import TrainTab

    gui_ctx.activate(mt_bundle)                   # the active model has targets of the same names
    src = tmp_path / "three.csv"
    df = three_target_frame(sample_csv)
    df.to_csv(src, index=False)
    tab = TrainTab(gui_ctx)
    qtbot.addWidget(tab)
    tab.resize(1400, 900)
    tab.show()
    try:
        with qtbot.waitSignal(tab.dataLoaded, timeout=10000):
            assert tab.load_file(src)
        tiny_settings(tab, tiny_checkpoint, head_epochs=3)
        panel = tab.data_panel
        assert panel.label_column() == "category" and panel.extra_label_columns() == []
        assert panel.data_spec().label_cols == []                 # one label column: as before
        panel.more_targets.set_checked(["queue", "category", "title"])   # label/text columns are not targets
        assert panel.extra_label_columns() == ["queue"]
        bal = panel.more_targets.balance.text()
        n_it = int((df.queue == "IT").sum())
        assert bal.startswith("queue: 2 labels") and f"IT {n_it:,}" in bal
        spec = panel.data_spec()
        assert spec.label_cols == ["category", "queue"] and spec.multi
        spins = panel.more_targets.weight_spins        # a loss weight per target, 1 by default
        assert list(spins) == ["category", "queue"] and all(w.value() == 1.0 for w in spins.values())
        assert panel.more_targets.weights_box.isVisible()
        assert "loss_weights" not in {k for k, v in tab.build_config().to_dict().items() if v}
        spins["queue"].setValue(0.5)
        assert tab.build_config().loss_weights == {"category": 1.0, "queue": 0.5}
        panel.more_targets.set_checked([])              # one target: no weights; ticked again: kept
        assert panel.more_targets.weight_spins == {} and not panel.more_targets.weights_box.isVisible()
        assert tab.build_config().loss_weights is None
        panel.more_targets.set_checked(["queue"])
        assert panel.more_targets.weight_spins["queue"].value() == 0.5
        with qtbot.waitSignal(tab.trainingFinished, timeout=400000) as blocker:
            assert tab.start()
        o = blocker.args[0]
        assert [t["name"] for t in o.targets] == ["category", "queue"]
        assert [t.name for t in load_bundle(o.bundle_path).targets] == ["category", "queue"]
        assert load_bundle(o.bundle_path).meta["train_config"]["loss_weights"] == {"category": 1.0, "queue": 0.5}
        t = tab.results_page.targets_table
        assert tab.results_page.views.tabText(0) == "Per target" and t.rowCount() == 2
        assert [t.item(r, 0).text() for r in range(2)] == ["category", "queue"]
        new = o.targets[1]["metrics"]
        acc = (new.get("test_exported") or new.get("test") or new.get("val"))["accuracy"]
        assert t.item(1, 2).text() == f"{acc:.3f}"
        # compared with the active model's target of the same name on the same validation rows
        cq = o.comparison["targets"]["queue"]
        assert cq["rows"] == cq["total_rows"] > 0          # every validation row has a queue label
        assert t.item(1, 4).text() == f"{cq['rows']:,}"
        assert t.item(1, 5).text() == f"{cq['new']['macro_f1']:.3f} / {cq['active']['macro_f1']:.3f}"
        assert t.item(1, 6).text() == f"{cq['new']['macro_f1'] - cq['active']['macro_f1']:+.3f}"
        assert set(o.comparison["targets"]) == {"category", "queue"}
        assert o.comparison["rows"] == o.comparison["targets"]["category"]["rows"]   # the primary's, as before
        plot = tab.progress_page.loss_plot
        assert len(plot.raw_line.get_xdata()) > 0                           # the total loss, live
        assert list(plot.targets) == ["category", "queue"]                  # and each target's
        assert all(len(s.line.get_xdata()) > 0 and len(s.val.get_xdata()) > 0 for s in plot.targets.values())
        log = tab.progress_page.log_view.toPlainText()
        assert "    category: train loss" in log and "    queue: train loss" in log
        # the server job of the same form trains the same targets with the same weights
        from trainer.server_job import train_args
        from triage_app.cli.parser import build_parser
        from triage_app.cli.train import label_cols, train_config

        args = build_parser().parse_args(["train", *train_args(panel.data_spec(), tab.build_config())])
        assert label_cols(args) == ["category", "queue"]
        assert train_config(args).loss_weights == {"category": 1.0, "queue": 0.5}
    finally:
        tab.shutdown(30000)
        qtbot.waitUntil(lambda: not tab.busy(), timeout=30000)


# ---- thresholds panel --------------------------------------------------------------------------------
def test_thresholds_panel_per_target(gui_ctx, mt_bundle, qtbot, tmp_path, sample_csv):
    import shutil

    from triage_app.gui.main_window import MainWindow
    from triage_app.targets import validation_arrays

    copy = tmp_path / "three"
    shutil.copytree(mt_bundle, copy)
    gui_ctx.activate(copy)
    w = MainWindow(gui_ctx)
    qtbot.addWidget(w)
    try:
        panel = w.models.thresholds
        panel.set_bundle(gui_ctx.classifier.bundle)
        assert not panel.target_pick.isHidden()
        assert [panel.target_pick.itemText(i) for i in range(3)] == ["category", "priority", "queue"]
        assert panel.labels == gui_ctx.classifier.labels
        panel.target_pick.setCurrentText("queue")
        probs, y = validation_arrays(copy, 2)
        assert panel.labels == ["Business", "IT"] and np.array_equal(panel.probs, probs) and np.array_equal(panel.y, y)
        assert panel.measure_btn.isEnabled()
        # measuring on a file reads the picked target's own column; rows without its label are left out
        src = tmp_path / "three.csv"
        df = three_target_frame(sample_csv)
        df.to_csv(src, index=False)
        panel.target_pick.setCurrentText("priority")
        job = panel.measure_file(src)
        qtbot.waitUntil(lambda: not job.is_running(), timeout=30000)
        qtbot.waitUntil(lambda: "three.csv" in panel.source_label.text(), timeout=5000)
        clf = gui_ctx.classifier
        want = clf.score_targets([{"title": a, "body": b} for a, b in zip(df.title, df.body)])[0]["priority"]
        has = (df.priority != "").to_numpy()
        pri = next(t for t in clf.targets if t.name == "priority")
        assert panel.labels == pri.labels and len(panel.y) == int(has.sum()) < len(df)
        assert np.array_equal(panel.y, [pri.labels.index(v) for v in df.priority[has]])
        assert np.allclose(panel.probs, want[has], atol=5e-3)
        assert "target priority" in panel.source_label.text() and "left out" in panel.source_label.text()
        panel.target_pick.setCurrentText("queue")
        panel.set_global(0.8)
        panel.set_class("IT", 0.9)
        with qtbot.waitSignal(gui_ctx.thresholdsChanged, timeout=5000):
            assert panel.save() == str(copy)
        meta = json.loads((copy / "bundle.json").read_text(encoding="utf-8"))
        assert meta["targets"][2]["review_threshold"] == 0.8 and meta["targets"][2]["class_thresholds"] == {"IT": 0.9}
        assert meta["review_threshold"] != 0.8                      # the primary's stay
        q = next(t for t in gui_ctx.classifier.targets if t.name == "queue")
        assert q.review_threshold == 0.8 and q.class_thresholds == {"IT": 0.9}
        panel.target_pick.setCurrentText("category")
        assert panel.global_threshold() == pytest.approx(meta["review_threshold"])
    finally:
        w.stop_all(10000)
