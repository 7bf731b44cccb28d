"""Start-up time of the desktop app, before/after side by side.

    python bench/startup.py --runs 9                      # before = 7e31160, after = this working tree
    python bench/startup.py --runs 9 --before <rev>       # another "before" commit

Each run is a fresh Python process that starts the app exactly as ``triage_app.gui.app.main()``
does (offscreen Qt, ``--light``, fresh settings file and user-data folder, the bundled model as the
default model), with a probe queued on the event loop: it runs once ``main()`` has shown the window
and entered ``app.exec()``, processes the pending events, records the time and which heavy modules
are imported, then opens the Train tab and records the same again.  ``activate_startup_model`` is
wrapped to record when the model is loaded (start-up loads it synchronously, before the window is
built).  "before" is ``--before`` checked out in a throwaway ``git worktree`` (removed afterwards);
both variants use the same model files (this tree's bundled model) and alternate run by run, after
one discarded warm-up run each (byte-code compilation, file cache).  Results:
bench/results/startup.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, save  # noqa: E402

MODEL = ROOT / "resources" / "models" / "it-service-minilm"
HEAVY = ("matplotlib", "torch", "transformers", "sklearn", "pandas", "scipy", "onnxruntime", "tokenizers")

# Run with ``python -c`` in the variant's folder (sys.path[0] is that folder), argv: settings file.
CHILD = r'''
import time
T0 = time.perf_counter()
WALL0 = time.time()
import json, sys, traceback
HEAVY = %(heavy)r
marks = {"wall0": WALL0}


def mark(name):
    marks[name] = time.perf_counter() - T0
    marks[name + "_mods"] = [m for m in HEAVY if m in sys.modules]


from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

qapp = QApplication([sys.argv[0]])          # main() reuses it (create_app: instance() or QApplication)
from triage_app.gui import app as gui_app
import triage_app
marks["package"] = triage_app.__file__
mark("imported_app")
real_activate = gui_app.activate_startup_model


def activate(*a, **k):
    mark("model_start")
    try:
        return real_activate(*a, **k)
    finally:
        mark("model_loaded")


gui_app.activate_startup_model = activate


def probe():
    try:
        QApplication.processEvents()
        win = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMainWindow) and w.isVisible())
        mark("shown")
        marks["shown_wall"] = time.time()
        tabs = win.tabs
        train = next(i for i in range(tabs.count()) if tabs.tabText(i).replace("&", "") == "Train")
        t = time.perf_counter()
        tabs.setCurrentIndex(train)
        QApplication.processEvents()
        mark("train_open")
        marks["train_open_s"] = time.perf_counter() - t
        marks["train_built"] = getattr(win, "train_tab", None) is not None
        print("STARTUP " + json.dumps(marks), flush=True)
        QApplication.exit(0)
    except Exception:
        traceback.print_exc()
        QApplication.exit(3)


QTimer.singleShot(0, probe)
sys.exit(gui_app.main(["--light", "--device", "cpu", "--settings", sys.argv[1]]))
''' % {"heavy": HEAVY}


def run_once(root: Path, model: Path, tmp: Path) -> dict:
    d = Path(tempfile.mkdtemp(dir=tmp))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TRIAGE_DEFAULT_MODEL=str(model),
               TRIAGE_DATA_DIR=str(d / "data"), TRIAGE_QUIET="1")
    env.pop("PYTHONPATH", None)
    launch = time.time()
    r = subprocess.run([sys.executable, "-c", CHILD, str(d / "settings.ini")], cwd=root, env=env,
                       capture_output=True, text=True, timeout=600)
    line = next((x for x in r.stdout.splitlines() if x.startswith("STARTUP ")), None)
    if r.returncode != 0 or line is None:
        raise SystemExit(f"start-up run in {root} failed (exit {r.returncode}):\n{r.stdout}\n{r.stderr[-4000:]}")
    m = json.loads(line[len("STARTUP "):])
    if not Path(m["package"]).resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"{root}: the run imported {m['package']}, not this tree's package")
    m["launch_to_shown_s"] = m["shown_wall"] - launch
    m["interpreter_s"] = m["wall0"] - launch      # python itself, before the first line of the probe
    return m


def git(*args, cwd=ROOT, strip=True) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout
    return out.strip() if strip else out


def summarize(runs: list[dict]) -> dict:
    def med(key):
        return round(statistics.median(r[key] for r in runs), 3)

    def mods(key):
        sets = {tuple(r[key + "_mods"]) for r in runs}
        return sorted(sets)[0] if len(sets) == 1 else sorted({m for s in sets for m in s})

    return {
        "runs": len(runs),
        "launch_to_window_shown_s": med("launch_to_shown_s"),
        "launch_to_window_shown_min_s": round(min(r["launch_to_shown_s"] for r in runs), 3),
        "interpreter_start_s": med("interpreter_s"),
        "in_process_to_model_loaded_s": med("model_loaded"),
        "in_process_to_window_shown_s": med("shown"),
        "imports_until_main_s": med("imported_app"),
        "main_imports_and_setup_s": round(statistics.median(r["model_start"] - r["imported_app"] for r in runs), 3),
        "model_load_s": round(statistics.median(r["model_loaded"] - r["model_start"] for r in runs), 3),
        "window_build_and_show_s": round(statistics.median(r["shown"] - r["model_loaded"] for r in runs), 3),
        "heavy_modules_at_window_shown": list(mods("shown")),
        "heavy_modules_at_model_loaded": list(mods("model_loaded")),
        "open_train_tab_s": med("train_open_s"),
        "train_tab_built": all(r["train_built"] for r in runs),
        "heavy_modules_after_train_tab": list(mods("train_open")),
        "launch_to_window_shown_each_s": [round(r["launch_to_shown_s"], 3) for r in runs],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=9, help="measured runs per variant (median reported)")
    ap.add_argument("--before", default="7e31160", help="commit measured as 'before'")
    ap.add_argument("--worktree", default="/tmp/startup-before", help="throwaway worktree for --before")
    ap.add_argument("--model", default=str(MODEL), help="model bundle both variants start with")
    args = ap.parse_args()
    model = Path(args.model)
    wt = Path(args.worktree)
    if wt.exists():
        raise SystemExit(f"{wt} exists; remove it (git worktree remove --force {wt}) or pass --worktree")
    git("worktree", "add", "--detach", str(wt), args.before)
    try:
        variants = {"before": wt, "after": ROOT}
        results: dict[str, list] = {k: [] for k in variants}
        with tempfile.TemporaryDirectory() as tmp:
            for name, root in variants.items():
                run_once(root, model, Path(tmp))                   # warm-up, discarded
            for i in range(args.runs):
                for name, root in variants.items():
                    m = run_once(root, model, Path(tmp))
                    results[name].append(m)
                    print(f"run {i + 1}/{args.runs} {name}: window shown {m['launch_to_shown_s']:.3f} s after "
                          f"launch; heavy modules then: {', '.join(m['shown_mods']) or '-'}", flush=True)
        before_commit = git("rev-parse", "HEAD", cwd=wt)
    finally:
        git("worktree", "remove", "--force", str(wt))
    head = git("rev-parse", "HEAD")
    dirty = [ln[3:] for ln in git("status", "--porcelain", "--", "triage_app", strip=False).splitlines() if ln]
    summary = {k: summarize(v) for k, v in results.items()}
    b, a = summary["before"]["launch_to_window_shown_s"], summary["after"]["launch_to_window_shown_s"]
    payload = {
        "how": ("fresh process per run, offscreen Qt, triage_app.gui.app.main(['--light', '--device', 'cpu', "
                "'--settings', <fresh ini>]) with a fresh user-data folder; probe on the event loop after "
                "window.show(); variants alternate, one warm-up each discarded; medians"),
        "model": str(model),
        "before": {"commit": before_commit, **summary["before"]},
        "after": {"commit": head, "uncommitted_paths_under_triage_app": dirty, **summary["after"]},
        "speedup_window_shown": round(b / a, 2) if a else None,
    }
    p = save("startup", payload)
    print(json.dumps({k: payload[k] for k in ("before", "after", "speedup_window_shown")}, indent=2))
    print(f"written {p}")


if __name__ == "__main__":
    main()
