"""Take the README screenshots of the real app window in realistic states.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python docs/take_screenshots.py [--model PATH] [--dark]

Uses resources/models/it-service-minilm when it exists, else the bundle given by ``--model``.
Writes docs/screenshots/{triage,batch,models,thresholds,help}.png, ``NAME-dark.png`` with ``--dark``
(``--out`` to change).  User data and settings go to a temporary folder, so the real user profile
is not touched.
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

TICKET = ("Cannot connect to VPN since this morning",
          "Hi team, since this morning the VPN client keeps saying 'authentication failed' when I try to "
          "connect from home. My password works for e-mail. I need access to the finance share for the "
          "month-end report today. Thanks, Anna")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="bundle to use when resources/models/it-service-minilm is missing")
    ap.add_argument("--sample", default=str(ROOT / "resources" / "samples" / "sample_tickets.csv"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--dark", action="store_true")
    ap.add_argument("--size", default="1280x820")
    args = ap.parse_args()

    real = ROOT / "resources" / "models" / "it-service-minilm"
    model = real if (real / "bundle.json").is_file() else (Path(args.model) if args.model else None)
    if model is None or not model.is_dir():
        ap.error("no model: resources/models/it-service-minilm is missing; pass --model PATH")
    tmp = Path(tempfile.mkdtemp(prefix="triage-shots-"))
    os.environ["TRIAGE_DATA_DIR"] = str(tmp / "userdata")
    os.environ["TRIAGE_DEFAULT_MODEL"] = str(model)
    os.environ.setdefault("TRIAGE_QUIET", "1")

    from PySide6.QtCore import QSettings
    from PySide6.QtTest import QTest

    from triage_app.gui.app import create_app
    from triage_app.gui.context import AppContext
    from triage_app.gui.main_window import MainWindow

    app = create_app([sys.argv[0]], "dark" if args.dark else "light")  # noqa: F841 (keep alive)
    ctx = AppContext(settings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    ctx.activate(model)
    win = MainWindow(ctx)
    w, h = (int(x) for x in args.size.split("x"))
    win.resize(w, h)
    win.show()
    QTest.qWait(300)

    def wait_for(cond, timeout=300.0):
        t0 = time.monotonic()
        while not cond():
            if time.monotonic() - t0 > timeout:
                raise TimeoutError("timed out waiting for the app")
            QTest.qWait(50)
        QTest.qWait(200)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def shot(name):
        QTest.qWait(250)
        f = out / f"{name}{'-dark' if args.dark else ''}.png"
        win.grab().save(str(f))
        print("wrote", f)

    # Triage: two earlier tickets in the history, then the featured one
    tri = win.triage
    for title, body in [("Laptop does not start", "My laptop shows a black screen after the docking station update."),
                        ("Access to shared mailbox", "Please give me access to the support@ shared mailbox."),
                        TICKET]:
        tri.title_edit.setText(title)
        tri.body_edit.setPlainText(body)
        job = tri.classify()
        wait_for(lambda: job is not None and not job.is_running() and tri.result is not None
                 and tri.result["ticket"].get("title") == title)
    win.tabs.setCurrentWidget(tri)
    shot("triage")

    # Batch: the sample file, classified, with the label column mapped
    b = win.batch
    win.open_file(args.sample)
    wait_for(lambda: b.df is not None)
    job = b.classify()
    wait_for(lambda: job is not None and not job.is_running() and b.model is not None)
    b.set_order("Most uncertain first")
    b.table.selectRow(0)
    win.tabs.setCurrentWidget(b)
    shot("batch")

    # Models
    win.tabs.setCurrentWidget(win.models)
    win.models.inner.setCurrentIndex(0)
    shot("models")

    # Thresholds: suggest for 90 % precision and highlight the first class
    panel = win.models.thresholds
    win.models.inner.setCurrentIndex(1)
    if panel.probs is not None:
        panel.target.setValue(90.0)
        panel.suggest()
        ns = [panel.curve["per_class"][lab]["n"] for lab in panel.labels]
        panel.table.selectRow(max(range(len(ns)), key=ns.__getitem__))
    shot("thresholds")

    # Help: the user guide (F1)
    from triage_app.gui.help import HelpDialog
    dlg = HelpDialog(win)
    dlg.show()
    QTest.qWait(300)
    f = out / f"help{'-dark' if args.dark else ''}.png"
    dlg.grab().save(str(f))
    print("wrote", f)
    dlg.close()
    win.stop_all(10000)
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
