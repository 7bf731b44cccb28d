"""The retraining screen: real widgets, real training of the tiny BERT, real export and hot swap."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from trainer.pipeline import label_counts
from triage_app.gui.train import TrainTab

CLASSES = 8


@pytest.fixture
def ctx(data_dir, tmp_path):
    from triage_app.corrections import CorrectionsStore
    from triage_app.gui.context import AppContext

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    return AppContext(settings=settings, corrections=CorrectionsStore(data_dir / "corrections.sqlite3"),
                      device="cpu")


@pytest.fixture
def tab(qtbot, ctx, monkeypatch):
    from triage_app.gui import widgets

    monkeypatch.setattr(widgets, "ask", lambda *a, **k: True)   # no modal questions in tests
    w = TrainTab(ctx)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    yield w
    w.shutdown(30000)
    qtbot.waitUntil(lambda: not w.busy(), timeout=30000)
    box = w._error_box
    if box is not None:
        try:
            box.close()
        except RuntimeError:
            pass


def load_sample(qtbot, tab, sample_csv):
    with qtbot.waitSignal(tab.dataLoaded, timeout=10000):
        assert tab.load_file(sample_csv)


def tiny_settings(tab, checkpoint, head_epochs=6):
    """What an analyst would type for a quick run of the tiny model."""
    tab.settings_form.preset_combo.setCurrentIndex(tab.settings_form.preset_combo.findData("quick"))
    tab.settings_form.base_edit.setText(str(checkpoint))
    tab.settings_form.fields["head_epochs"].setValue(head_epochs)
    tab.settings_form.fields["head_lr"].setValue(1e-2)
    tab.settings_form.fields["batch_size"].setValue(16)
    tab.settings_form.fields["max_length"].setValue(64)
    tab.data_panel.threshold_spin.setValue(5)
    tab.data_panel.val_spin.setValue(25)
    tab.data_panel.test_spin.setValue(0)
    tab.config_overrides = {"patience": 0}


class FakeActive:
    """An 'active model' with partly different labels (no 'Storage', an extra 'Network')."""

    name = "old-model"
    version = "7"

    def __init__(self, labels):
        self.labels = [lab for lab in labels if lab != "Storage"] + ["Network"]
        self.calls = 0

    def predict_proba(self, tickets, batch_size=64, should_stop=None, on_progress=None):
        tickets = list(tickets)
        assert tickets and all(isinstance(t, dict) and (t.get("title") or t.get("text")) for t in tickets)
        self.calls += 1
        rng = np.random.default_rng(0)
        p = rng.random((len(tickets), len(self.labels)))
        return p / p.sum(1, keepdims=True)


# ---------------------------------------------------------------------------------------------
def test_load_guess_columns_and_distribution(qtbot, tab, sample_csv):
    assert not tab.run_bar.start_btn.isEnabled()
    load_sample(qtbot, tab, sample_csv)
    assert tab.data_panel.label_combo.currentText() == "category"
    assert tab.data_panel.mode_pair.isChecked()
    assert tab.data_panel.title_combo.currentData() == "title" and tab.data_panel.body_combo.currentData() == "body"
    assert tab.run_bar.start_btn.isEnabled()
    assert len(tab.labels_page.dist_chart.bars) == CLASSES
    # the threshold scales with the file: 5 for 96 rows, so no class of the sample is rare; at 30 all are
    assert tab.data_panel.threshold() == 5 and tab.labels_page.dist_chart.rare == []
    tab.data_panel.threshold_spin.setValue(30)
    assert len(tab.labels_page.dist_chart.rare) == CLASSES
    counts = label_counts(tab.data_panel.labels_raw())
    assert sorted(counts) == sorted(c.get_text() for c in tab.labels_page.dist_chart.ax.get_yticklabels())
    # merge map: one bar less, the target gets the sum; it is no longer rare at threshold 20
    tab.set_merge_map({"Storage": "Hardware"})
    tab.data_panel.threshold_spin.setValue(20)
    assert len(tab.labels_page.dist_chart.bars) == CLASSES - 1
    assert tab.labels_page.dist_chart.counts["Hardware"] == counts["Hardware"] + counts["Storage"]
    assert "Hardware" not in tab.labels_page.dist_chart.rare and len(tab.labels_page.dist_chart.rare) == CLASSES - 2
    colors = [tuple(b.get_facecolor()) for b in tab.labels_page.dist_chart.bars]
    assert len(set(colors)) == 2                 # warning colour for the rare bars
    assert colors.count(colors[0]) == 1          # the largest bar (Hardware) is the odd one out
    # the background data check explains what is wrong, then shows the DataReport lines
    qtbot.waitUntil(lambda: "cannot be trained on yet" in tab.labels_page.report_view.toPlainText(), timeout=60000)
    assert "at least 2 classes" in tab.labels_page.report_view.toPlainText()
    tab.data_panel.threshold_spin.setValue(10)
    qtbot.waitUntil(lambda: "rows read" in tab.labels_page.report_view.toPlainText(), timeout=60000)
    assert "ready to train" in tab.labels_page.report_view.toPlainText()
    # one text column mode
    tab.data_panel.mode_one.setChecked(True)
    assert not tab.data_panel.title_combo.isVisible() and tab.data_panel.text_combo.isVisible()
    # presets fill the form; the config is built from it
    tab.settings_form.preset_combo.setCurrentIndex(tab.settings_form.preset_combo.findData("full"))
    assert tab.settings_form.fields["finetune_epochs"].value() == 3
    assert tab.settings_form.fields["finetune_layers"].text() == "all"
    tab.settings_form.fields["batch_size"].setValue(8)
    assert "changed" in tab.settings_form.preset_info.text()
    cfg = tab.build_config()
    assert (cfg.preset, cfg.finetune_layers, cfg.batch_size, cfg.base_model) == ("full", -1, 8, "all-MiniLM-L6-v2")
    assert tab.settings_form.fields["tower_lr"].toolTip()


def test_large_file_is_read_in_a_job(qtbot, tab, sample_csv, monkeypatch):
    import triage_app.gui.train.tab as tt

    monkeypatch.setattr(tt, "LARGE_FILE_BYTES", 0)
    with qtbot.waitSignal(tab.dataLoaded, timeout=60000):
        assert tab.load_file(sample_csv)
        assert tab._load_job is not None and not tab.run_bar.start_btn.isEnabled()
    assert tab.data_panel.label_combo.currentText() == "category"
    qtbot.waitUntil(lambda: tab._load_job is None, timeout=10000)
    assert tab.run_bar.start_btn.isEnabled()


def test_train_finish_save_and_use(qtbot, tab, ctx, sample_csv, tiny_checkpoint, data_dir):
    from triage_app.bundle import load_bundle

    load_sample(qtbot, tab, sample_csv)
    tiny_settings(tab, tiny_checkpoint)
    tab.data_panel.test_spin.setValue(15)                    # a test split: the export measures its file on it
    labels = sorted(label_counts(tab.data_panel.labels_raw()))
    ctx.classifier = FakeActive(labels)
    states = []
    tab.stateChanged.connect(states.append)
    with qtbot.waitSignal(tab.trainingFinished, timeout=240000) as blocker:
        assert tab.start()
        assert tab.state == "running"
        assert not tab.run_bar.start_btn.isEnabled() and tab.run_bar.cancel_btn.isEnabled()
        assert not tab.start()                    # a second start is impossible while running
        assert not ctx.begin_job("train")         # the context knows the job
    outcome = blocker.args[0]
    assert tab.state == "finished" and "running" in states
    # live plot and metrics received data
    assert len(tab.progress_page.loss_plot.raw_line.get_xdata()) > 0
    assert len(tab.progress_page.loss_plot.ema_line.get_ydata()) == len(tab.progress_page.loss_plot.losses)
    assert len(tab.progress_page.loss_plot.val_line.get_xdata()) > 0
    lo, hi = tab.progress_page.loss_plot.ax.get_xlim()          # the axes follow the data
    assert lo <= min(tab.progress_page.loss_plot.steps) and hi >= max(tab.progress_page.loss_plot.steps)
    tab.progress_page.loss_plot.set_x_mode("epochs")
    assert max(tab.progress_page.loss_plot.val_line.get_xdata()) <= 6 + 1e-9
    assert tab.progress_page.metric_labels["val_accuracy"].text() != "—"
    assert tab.progress_page.metric_labels["val_macro_f1"].text() != "—"
    assert tab.progress_page.metric_labels["samples_s"].text() != "—"
    # results
    assert tab.results_page.class_table.rowCount() == CLASSES
    assert tab.results_page.confusion_chart.image is not None
    ex = outcome.metrics["test_exported"]        # the exported file measured on the test split
    assert ex["rows"] == outcome.metrics["test"]["n"] > 0
    assert f"the exported file as the app runs it</b> ({outcome.export['precision']})" in tab.results_page.summary_label.text()
    cmp_ = outcome.comparison
    assert ctx.classifier.calls == 1
    assert set(cmp_["shared"]) == set(labels) - {"Storage"}
    assert cmp_["only_new"] == ["Storage"] and cmp_["only_active"] == ["Network"]
    assert tab.results_page.compare_table.rowCount() == CLASSES - 1
    assert "only the new model has: Storage" in tab.results_page.compare_label.text()
    # nothing is in the models folder until saved; the export waits in a hidden folder
    models = data_dir / "models"
    assert [p.name for p in models.iterdir() if not p.name.startswith(".")] == []
    assert tab.results_page.save_btn.isEnabled() and tab.results_page.use_btn.isEnabled()
    tab.results_page.name_edit.setText("my new model")
    with qtbot.waitSignal(tab.modelSaved, timeout=5000):
        path = tab.save_model()
    assert path == models / "my-new-model"
    b = load_bundle(path)
    assert b.name == "my-new-model" and sorted(b.labels) == labels
    assert [p.name for p in models.iterdir()] == ["my-new-model"]     # hidden folder gone
    assert not tab.results_page.save_btn.isEnabled()
    # "Use this model" with a bundle that fails to load (in the worker): error, the previous
    # model stays, the button comes back
    from triage_app.bundle import BundleError

    prev, real_load = ctx.classifier, ctx.load_classifier

    def broken(p):
        raise BundleError(f"{p}: broken on purpose")
    ctx.load_classifier = broken
    tab.last_error = None
    assert tab.use_model() is not None
    qtbot.waitUntil(lambda: tab.last_error is not None, timeout=10000)
    assert "broken on purpose" in tab.last_error[1]
    assert ctx.classifier is prev and tab.results_page.use_btn.isEnabled()
    ctx.load_classifier = real_load
    qtbot.waitUntil(lambda: ctx.active_job == "", timeout=10000)
    # "Use this model": hot swap through the context, loaded in a worker
    with qtbot.waitSignal(ctx.modelChanged, timeout=10000):
        assert tab.use_model() is not None
    assert Path(ctx.classifier.bundle.path) == path
    assert ctx.classifier.predict(["printer jammed on floor 3"])[0].label in labels
    qtbot.waitUntil(lambda: ctx.active_job == "", timeout=10000)   # the job was released
    assert not tab.busy()


def test_cancel_leaves_nothing(qtbot, tab, ctx, sample_csv, tiny_checkpoint, data_dir):
    load_sample(qtbot, tab, sample_csv)
    tiny_settings(tab, tiny_checkpoint, head_epochs=1000)
    assert tab.start()
    qtbot.waitUntil(lambda: len(tab.progress_page.loss_plot.losses) > 0, timeout=240000)
    tab.request_stop()
    assert tab.state == "cancelling"
    assert not tab.run_bar.cancel_btn.isEnabled() and not tab.run_bar.start_btn.isEnabled()
    qtbot.waitUntil(lambda: tab.state == "idle" and not tab.busy(), timeout=240000)
    assert "Cancelled — nothing saved" in tab.run_bar.status_label.text()
    assert tab._outcome is None and not tab.results_page.save_btn.isEnabled()
    assert list((data_dir / "models").iterdir()) == []
    assert tab.run_bar.start_btn.isEnabled()
    assert ctx.begin_job("train")
    ctx.end_job("train")


def test_data_error_is_shown_and_state_failed(qtbot, tab, sample_csv, tiny_checkpoint):
    load_sample(qtbot, tab, sample_csv)
    tiny_settings(tab, tiny_checkpoint)
    tab.data_panel.threshold_spin.setValue(500)            # no label is frequent enough
    assert tab.start()
    qtbot.waitUntil(lambda: tab.state == "failed" and not tab.busy(), timeout=120000)
    title, msg = tab.last_error
    assert title == "The data cannot be used for training"
    assert "at least 2 classes" in msg
    assert tab._error_box is not None and tab._error_box.isVisible()
    assert "rare-label threshold" in tab._error_box.informativeText()
    tab._error_box.close()
    assert tab.run_bar.start_btn.isEnabled()           # failed -> can start again


def test_bad_file_and_busy_context(qtbot, tab, ctx, tmp_path, sample_csv):
    bad = tmp_path / "tickets.xlsx"
    bad.write_bytes(b"\x00\x01 not an excel file" * 10)
    assert not tab.load_file(bad)
    assert tab.last_error[0] == "Cannot read the file"
    tab._error_box.close()
    load_sample(qtbot, tab, sample_csv)
    assert ctx.begin_job("train")               # another part of the app holds the job
    assert not tab.start()
    assert tab.last_error[0] == "Another task is running" and tab.state == "idle"
    ctx.end_job("train")
    tab._error_box.close()


def test_gui_stays_responsive_while_training(qtbot, tab, ctx, sample_csv, tiny_checkpoint, data_dir, monkeypatch):
    """A real (tiny) training run leaves the GUI thread free, checked by what happens, not by time:
    the pipeline and the training loop run on the job's thread; for its first step events the
    worker waits until a GUI timer has fired, the tab has taken the step and the live plot has
    drawn it; the progress bar moves while training runs."""
    import threading

    from PySide6.QtCore import QTimer

    import trainer.loop
    import triage_app.gui.train.job as train_job
    from trainer.events import StepEvent

    load_sample(qtbot, tab, sample_csv)
    tiny_settings(tab, tiny_checkpoint)
    ctx.classifier = FakeActive(sorted(label_counts(tab.data_panel.labels_raw())))
    gui_thread = threading.get_ident()
    cond = threading.Condition()
    seen = {"ticks": 0, "taken": 0, "drawn": 0, "stalls": 0, "synced": 0}
    threads: dict[str, list[int]] = {"pipeline": [], "loop": []}
    progress: list[tuple[int, int, bool]] = []       # (value, maximum, training) of each change
    plot = tab.progress_page.loss_plot
    real_run, real_train = train_job.run, trainer.loop.train

    def pipeline_run(*a, **kw):
        threads["pipeline"].append(threading.get_ident())
        return real_run(*a, **kw)

    def loop_train(cfg, data, on_event=None, *a, **kw):
        threads["loop"].append(threading.get_ident())
        steps = [0]

        def on_event_synced(ev):
            on_event(ev)
            if not isinstance(ev, StepEvent) or threading.get_ident() == gui_thread:
                return
            steps[0] += 1
            if steps[0] > 3 or seen["stalls"]:
                return
            k, ticks = steps[0], seen["ticks"]
            with cond:      # wait for the GUI thread; give up (and fail) once after 10 s
                if cond.wait_for(lambda: seen["ticks"] > ticks and seen["taken"] >= k and seen["drawn"] >= k,
                                 timeout=10):
                    seen["synced"] += 1
                else:
                    seen["stalls"] += 1
        return real_train(cfg, data, on_event_synced, *a, **kw)

    monkeypatch.setattr(train_job, "run", pipeline_run)
    monkeypatch.setattr(trainer.loop, "train", loop_train)
    bar = tab.progress_page.progress
    bar.valueChanged.connect(lambda v: progress.append((v, bar.maximum(), tab.training())))

    def tick():
        if tab.training():
            with cond:
                seen["ticks"] += 1
                seen["taken"] = len(plot.losses)
                seen["drawn"] = len(plot.raw_line.get_xdata())
                cond.notify_all()

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    with qtbot.waitSignal(tab.trainingFinished, timeout=240000):
        assert tab.start()
        assert tab.training()
        timer.start()
    timer.stop()
    # the pipeline and the loop ran once each, not on the GUI thread, both on the job's thread
    assert len(threads["pipeline"]) == 1 and len(threads["loop"]) == 1
    assert gui_thread not in threads["pipeline"] + threads["loop"]
    assert threads["loop"] == threads["pipeline"]
    # the GUI thread kept processing events while the worker trained
    assert seen["stalls"] == 0 and seen["synced"] == 3
    assert seen["ticks"] >= 3
    # the live plot received the points and the progress bar moved while training ran
    assert len(plot.losses) > 3 and len(plot.raw_line.get_xdata()) == len(plot.losses)
    assert any(0 < v < m for v, m, running in progress if running), progress
    tab.discard()
    qtbot.waitUntil(lambda: tab.state in ("finished", "idle"), timeout=10000)


# ---- one pipeline, one training per machine ---------------------------------------------------
def test_app_refuses_to_train_while_the_cli_trains(qtbot, tab, ctx, sample_csv, tiny_checkpoint, data_dir):
    from triage_app.joblock import JobLock

    load_sample(qtbot, tab, sample_csv)
    tiny_settings(tab, tiny_checkpoint)
    cli = JobLock("train").acquire("triage train tickets.csv (process 4242)")   # as `triage train` does
    try:
        assert not tab.start()
    finally:
        cli.release()
    title, msg = tab.last_error
    assert title == "Another training is running on this machine"
    assert "tickets.csv" in msg and "4242" in msg
    assert "Wait until the other one has finished" in tab._error_box.informativeText()
    tab._error_box.close()
    assert tab.state == "idle" and not tab.busy()
    assert [p for p in (data_dir / "models").iterdir()] == []        # no pending folder was made
    assert ctx.begin_job("train")                                      # the app's job slot is free
    ctx.end_job("train")


def test_cli_refuses_to_train_while_the_app_trains(qtbot, tab, sample_csv, tiny_checkpoint, tmp_path, capsys):
    from triage_app.cli import main

    load_sample(qtbot, tab, sample_csv)
    tiny_settings(tab, tiny_checkpoint, head_epochs=1000)
    assert tab.start()
    qtbot.waitUntil(lambda: len(tab.progress_page.loss_plot.losses) > 0, timeout=240000)   # it holds the lock
    rc = main(["train", str(sample_csv), "--label-col", "category", "--text-col", "body",
               "--base-model", str(tiny_checkpoint), "--out", str(tmp_path / "cli-model")])
    err = capsys.readouterr().err
    tab.request_stop()
    qtbot.waitUntil(lambda: tab.state == "idle" and not tab.busy(), timeout=240000)
    assert rc == 2 and "another train job is running" in err and "Train tab" in err
    assert not (tmp_path / "cli-model").exists()


def test_cli_and_app_make_the_same_model_from_the_same_data(qtbot, tab, sample_csv, tiny_checkpoint, tmp_path,
                                                            data_dir, capsys, one_torch_thread):
    """Both front ends call trainer.pipeline.run: same data, settings and seed give the same bundle."""
    import json

    from triage_app.cli import main

    load_sample(qtbot, tab, sample_csv)
    form = tab.settings_form
    form.preset_combo.setCurrentIndex(form.preset_combo.findData("quick"))
    form.base_edit.setText(str(tiny_checkpoint))
    form.fields["head_epochs"].setValue(3)
    form.fields["head_lr"].setValue(1e-2)
    form.fields["batch_size"].setValue(16)
    form.fields["max_length"].setValue(32)
    tab.data_panel.threshold_spin.setValue(5)
    tab.data_panel.val_spin.setValue(20)
    tab.data_panel.test_spin.setValue(10)
    tab.export_options = {"quantize": False}
    with qtbot.waitSignal(tab.trainingFinished, timeout=240000) as blocker:
        assert tab.start()
    app_meta = json.loads((Path(blocker.args[0].bundle_path) / "bundle.json").read_text())

    out = tmp_path / "cli-model"
    rc = main(["train", str(sample_csv), "--label-col", "category", "--title-col", "title", "--body-col", "body",
               "--preset", "quick", "--base-model", str(tiny_checkpoint), "--epochs", "3", "--lr", "1e-2",
               "--batch-size", "16", "--max-length", "32", "--min-per-class", "5", "--val-frac", "0.2",
               "--test-frac", "0.1", "--no-int8", "-q", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    cli_meta = json.loads((out / "bundle.json").read_text())
    assert cli_meta["train_config"] == app_meta["train_config"]
    assert cli_meta["data_fingerprint"] == app_meta["data_fingerprint"]
    assert cli_meta["labels"] == app_meta["labels"]
    for split in ("val", "test"):
        for k in ("n", "accuracy", "macro_f1"):
            assert cli_meta["metrics"][split][k] == pytest.approx(app_meta["metrics"][split][k], abs=1e-6), (split, k)
    assert cli_meta["temperature"] == pytest.approx(app_meta["temperature"], rel=1e-4)
    assert cli_meta["onnx_sha256"] == app_meta["onnx_sha256"]


def test_a_refused_start_keeps_the_unsaved_model(qtbot, tab, ctx, sample_csv, tiny_checkpoint, data_dir):
    load_sample(qtbot, tab, sample_csv)
    tiny_settings(tab, tiny_checkpoint, head_epochs=2)
    tab.export_options = {"quantize": False}
    with qtbot.waitSignal(tab.trainingFinished, timeout=240000):
        assert tab.start()
    pending = tab._pending
    assert tab.has_unsaved_result() and pending.is_dir()
    tab.settings_form.base_edit.setText(str(data_dir / "no-such-checkpoint-folder"))
    assert not tab.start()                                   # refused: bad settings
    assert tab.last_error[0] == "Check the model settings"
    tab._error_box.close()
    assert tab.has_unsaved_result() and pending.is_dir()     # the trained model is still there to save
    assert tab.results_page.save_btn.isEnabled()
    tab.results_page.name_edit.setText("kept")
    assert tab.save_model() == data_dir / "models" / "kept"


def test_the_mouse_wheel_scrolls_the_form_not_the_fields(qtbot, tab):
    """A numeric field or list under the mouse keeps its value when the wheel scrolls the form;
    once the field has the focus the wheel changes it."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    def wheel(w):
        pos = QPointF(w.rect().center())
        ev = QWheelEvent(pos, QPointF(w.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, -120),
                         Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                         False)
        QApplication.sendEvent(w, ev)

    form = tab.settings_form
    spin, combo = form.fields["head_epochs"], form.preset_combo
    before = (spin.value(), combo.currentIndex(), tab.data_panel.val_spin.value())
    tab.activateWindow()
    form.base_edit.setFocus()
    qtbot.waitUntil(lambda: form.base_edit.hasFocus() or not tab.isActiveWindow(), timeout=2000)
    for w in (spin, combo, tab.data_panel.val_spin):
        wheel(w)
    assert (spin.value(), combo.currentIndex(), tab.data_panel.val_spin.value()) == before
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    wheel(spin)
    assert spin.value() != before[0]


def test_auto_is_the_default_preset_with_a_time_budget(qtbot, tab):
    form = tab.settings_form
    assert form.preset_combo.currentData() == "auto" and form.budget_spin.isVisibleTo(tab)
    form.budget_spin.setValue(12)
    form.fields["routing"].setCurrentIndex(form.fields["routing"].findData("split"))
    cfg = form.build_config()
    assert cfg.preset == "auto" and cfg.time_budget_s == 720 and cfg.explicit() == {"routing": "split"}
    form.preset_combo.setCurrentIndex(form.preset_combo.findData("standard"))
    assert not form.budget_spin.isVisibleTo(tab) and form.build_config().time_budget_s is None
    form.preset_combo.setCurrentIndex(form.preset_combo.findData("lexical"))
    assert form.build_config().preset == "lexical" and "TF-IDF" in form.preset_info.text()


def test_a_file_without_a_label_column_is_not_given_one(qtbot, tab, tmp_path):
    """No column looks like a label: the tab asks for one instead of picking 'id'; an id-like column
    chosen as the label is warned about; the rare-label threshold scales with the file."""
    import pandas as pd

    p = tmp_path / "nolabel.csv"
    pd.DataFrame({"id": [f"T{i}" for i in range(300)],
                  "subject": [f"printer {i % 7} jams" for i in range(300)]}).to_csv(p, index=False)
    with qtbot.waitSignal(tab.dataLoaded, timeout=10000):
        assert tab.load_file(p)
    panel = tab.data_panel
    assert panel.label_column() == "" and "choose the one that holds" in panel.label_note.text()
    assert panel.label_note.isVisibleTo(tab)
    assert tab._can_start() == (False, "Choose the label column.")
    assert panel.threshold() == 5                      # 1 % of 300 rows, at least 5
    panel.label_combo.setCurrentIndex(panel.label_combo.findData("id"))
    assert panel.label_column() == "id" and "300 different values in 300 rows" in panel.label_note.text()


def test_using_a_model_weaker_than_the_active_one_asks_first(qtbot, tab, monkeypatch):
    """'Use this model' with a candidate below the active model on the shared comparison asks, with
    both figures and the ticket count; 'Keep the active model' changes nothing."""
    from trainer.pipeline import TrainOutcome
    from triage_app.gui import widgets

    cmp_ = {"rows": 31, "shared": ["a", "b"], "only_new": [], "only_active": [], "per_class": {},
            "new": {"accuracy": 0.633, "macro_f1": 0.6}, "active": {"accuracy": 0.9, "macro_f1": 0.89},
            "active_name": "it-service-minilm (version 3)", "total_rows": 31}
    tab._outcome = TrainOutcome("/nowhere", "m", "1", ["a", "b"], {}, {}, cmp_, [], 1.0)
    asked = []
    monkeypatch.setattr(widgets, "ask", lambda parent, title, text, **k: asked.append((title, text)) or False)
    saved = []
    monkeypatch.setattr(tab, "save_model", lambda: saved.append(1))
    assert tab.use_model() is None and not saved
    title, text = asked[0]
    assert title == "Use a weaker model?" and "31 validation tickets" in text
    assert "63.3% accuracy" in text and "90.0%" in text and "it-service-minilm" in text
    assert "stays in use" in tab.run_bar.status_label.text()
    cmp_["new"] = {"accuracy": 0.95, "macro_f1": 0.93}       # better: no question
    asked.clear()
    tab.use_model()
    assert not asked and saved


def test_stop_and_keep_the_best(qtbot, tab, ctx, sample_csv, tiny_checkpoint, data_dir):
    """The button ends a long run after the epoch in progress with the best epoch so far; the model
    is exported as usual and the progress page says why training stopped and shows no ETA."""
    from PySide6.QtCore import Qt

    load_sample(qtbot, tab, sample_csv)
    tiny_settings(tab, tiny_checkpoint, head_epochs=500)
    assert not tab.run_bar.finish_btn.isEnabled()
    epochs = []
    tab.progress_page.loss_plot.add = (lambda add: lambda ev: (epochs.append(ev) if type(ev).__name__ ==
                                                                "EpochEvent" else None, add(ev)))(
        tab.progress_page.loss_plot.add)
    with qtbot.waitSignal(tab.trainingFinished, timeout=240000) as blocker:
        assert tab.start()
        assert tab.run_bar.finish_btn.isEnabled()
        qtbot.waitUntil(lambda: len(epochs) >= 1, timeout=120000)
        qtbot.mouseClick(tab.run_bar.finish_btn, Qt.MouseButton.LeftButton)
        assert not tab.run_bar.finish_btn.isEnabled() and "best epoch so far" in tab.run_bar.status_label.text()
    o = blocker.args[0]
    assert o.metrics["stopped_early"] == "requested"
    assert len(epochs) < 500 and "stopped at your request" in tab.progress_page.log_view.toPlainText()
    assert tab.progress_page.metric_labels["eta"].text() == "—"


def test_switching_files_leaves_nothing_of_the_previous_one(qtbot, tab, sample_csv, tmp_path):
    """After a file with a usable label column, one without: the data check report and the status
    line no longer speak about the first file."""
    import pandas as pd

    load_sample(qtbot, tab, sample_csv)
    qtbot.waitUntil(lambda: "sample_tickets.csv" in tab.labels_page.report_view.toPlainText(), timeout=20000)
    other = tmp_path / "other.csv"
    pd.DataFrame({"id": [f"T{i}" for i in range(40)], "subject": [f"vpn {i}" for i in range(40)]}).to_csv(
        other, index=False)
    with qtbot.waitSignal(tab.dataLoaded, timeout=10000):
        assert tab.load_file(other)
    qtbot.wait(800)                      # a check of the first file, had it been running, has ended
    assert "sample_tickets" not in tab.labels_page.report_view.toPlainText()
    assert "other.csv" in tab.run_bar.status_label.text() and "sample_tickets" not in tab.run_bar.status_label.text()
