"""Screenshot of a multi-target Triage result, and the check that every target's block fits.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshot_triage_targets.py --model PATH
        [--size 1366x768] [--out docs/screenshots/triage-multitarget.png]

``--model``: a multi-target bundle (``bundle.json`` format 2).  Prints, per target block, whether it
is fully visible in a window of ``--size`` (the window maximised on a 1366x768 screen is about
1366x730 after the title bar); exits 1 when one is not.  User data goes to a temporary folder.
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

from docs.take_screenshots import TICKET  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a multi-target bundle")
    ap.add_argument("--size", default="1366x730")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots" / "triage-multitarget.png"))
    ap.add_argument("--dark", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="triage-shots-"))
    os.environ["TRIAGE_DATA_DIR"] = str(tmp / "userdata")
    os.environ["TRIAGE_DEFAULT_MODEL"] = str(args.model)
    os.environ.setdefault("TRIAGE_QUIET", "1")

    from PySide6.QtCore import QSettings
    from PySide6.QtTest import QTest

    from triage_app.gui.app import create_app
    from triage_app.gui.context import AppContext
    from triage_app.gui.main_window import MainWindow

    app = create_app([sys.argv[0]], "dark" if args.dark else "light")  # noqa: F841 (keep alive)
    ctx = AppContext(settings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    ctx.activate(args.model)
    if not ctx.classifier.targets:
        ap.error(f"{args.model} is a single-target model")
    win = MainWindow(ctx)
    w, h = (int(x) for x in args.size.split("x"))
    win.resize(w, h)
    win.show()
    tri = win.triage
    win.tabs.setCurrentWidget(tri)
    tri.title_edit.setText(TICKET[0])
    tri.body_edit.setPlainText(TICKET[1])
    job = tri.classify()
    t0 = time.monotonic()
    while job.is_running() or tri.result is None:
        if time.monotonic() - t0 > 300:
            raise TimeoutError("timed out waiting for the result")
        QTest.qWait(50)
    QTest.qWait(500)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    win.grab().save(args.out)
    print("wrote", args.out, f"({win.width()}x{win.height()})")
    ok = True
    for name, block in tri.target_results.blocks.items():
        seen = block.visibleRegion().boundingRect().size()
        full = seen == block.size()
        ok &= full
        print(f"{name}: block {block.width()}x{block.height()}, visible {seen.width()}x{seen.height()}"
              f" -> {'fits' if full else 'CUT OFF'}")
    ex = tri.explain_view
    print(f"explanation: {ex.width()}x{ex.height()}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
