"""Screenshot of the retraining screen in its finished state (docs/screenshots/train.png).

Trains the tiny random BERT on the bundled sample tickets twice: the first model is saved and
activated, the second is the one shown, so the comparison with the active model is filled in.
Runs offscreen when there is no display.  Usage:

    python docs/screenshot_train.py [--dark] [--out PATH] [--page labels|training|results]
                                    [--more-targets priority]   (several targets: the model shown
                                                                 also predicts these columns)
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dark", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots" / "train.png"))
    ap.add_argument("--page", default="results", choices=["labels", "training", "results"])
    ap.add_argument("--size", default="1440x900")
    ap.add_argument("--all-pages", metavar="DIR", help="also grab every page into DIR (for review)")
    ap.add_argument("--more-targets", default="", help="comma-separated further label columns of the shown model")
    args = ap.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="triage-shot-"))
    os.environ["TRIAGE_DATA_DIR"] = str(work / "userdata")
    os.environ.setdefault("TRIAGE_QUIET", "1")

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication.instance() or QApplication([])
    try:
        from triage_app.gui.style import apply_theme
        apply_theme(app, "dark" if args.dark else "light")
    except ImportError:
        app.setStyle("Fusion")

    from trainer.model import save_tiny_checkpoint
    from triage_app import paths
    from triage_app.corrections import CorrectionsStore
    from triage_app.gui.context import AppContext
    from triage_app.gui.train import TrainTab

    ckpt = save_tiny_checkpoint(work / "tiny-bert")
    ctx = AppContext(settings=QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat),
                     corrections=CorrectionsStore(work / "userdata" / "corrections.sqlite3"), device="cpu")
    win = QMainWindow()
    win.setWindowTitle("TicketTriage — Train")
    tab = TrainTab(ctx)
    win.setCentralWidget(tab)
    w, h = (int(x) for x in args.size.split("x"))
    win.resize(w, h)
    win.show()

    def spin_until(cond, timeout=300):
        t0 = time.monotonic()
        while not cond():
            app.processEvents()
            time.sleep(0.01)
            if time.monotonic() - t0 > timeout:
                raise TimeoutError("timed out")

    tab.load_file(paths.sample_tickets_path())
    tab.settings_form.preset_combo.setCurrentIndex(tab.settings_form.preset_combo.findData("quick"))
    tab.settings_form.base_edit.setText(str(ckpt))
    tab.settings_form.fields["batch_size"].setValue(16)
    tab.settings_form.fields["max_length"].setValue(64)
    tab.settings_form.fields["head_lr"].setValue(1e-2)
    tab.data_panel.threshold_spin.setValue(10)
    tab.data_panel.val_spin.setValue(25)
    tab.data_panel.test_spin.setValue(15)  # a test split, as analysts keep one (the app default is 10 %)

    def run(epochs):
        tab.settings_form.fields["head_epochs"].setValue(epochs)
        done = []
        tab.trainingFinished.connect(done.append)
        assert tab.start(), tab.run_bar.status_label.text()
        spin_until(lambda: done or tab.state == "failed")
        tab.trainingFinished.disconnect(done.append)
        if tab.state == "failed":
            raise SystemExit(f"training failed: {tab.last_error}")
        spin_until(lambda: not tab.busy())

    # 1) a first model, saved and activated (becomes "the active model")
    run(3)
    tab.results_page.name_edit.setText("it-tickets-v1")
    assert tab.use_model()
    spin_until(lambda: ctx.classifier is not None and ctx.active_job == "")  # loaded in a worker
    # 2) the model shown: finetuned tiny towers, more epochs
    tab.settings_form.preset_combo.setCurrentIndex(tab.settings_form.preset_combo.findData("standard"))
    tab.settings_form.base_edit.setText(str(ckpt))
    tab.config_overrides = {"patience": 6}
    for k, v in dict(batch_size=16, max_length=64, finetune_layers=-1, finetune_epochs=1).items():
        tab.settings_form.fields[k].setValue(v)
    tab.settings_form.fields["head_lr"].setValue(2e-2)
    tab.settings_form.fields["tower_lr"].setValue(1e-3)
    if args.more_targets:
        tab.data_panel.more_targets.set_checked(args.more_targets.split(","))
    run(30)
    tab.results_page.name_edit.setText("it-tickets-v2")
    if args.all_pages:
        d = Path(args.all_pages)
        d.mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(("labels", "training", "results")):
            tab.pages.setCurrentIndex(i)
            for _ in range(30):
                app.processEvents()
                time.sleep(0.02)
            win.grab().save(str(d / f"train-{name}{'-dark' if args.dark else ''}.png"))
    tab.pages.setCurrentIndex({"labels": 0, "training": 1, "results": 2}[args.page])
    for _ in range(30):
        app.processEvents()
        time.sleep(0.02)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    win.grab().save(str(out))
    print(f"wrote {out}")
    tab.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
