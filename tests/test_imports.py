"""Import rules: the engine and `triage classify` work without torch; Qt only under gui/."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return set(out.stdout.split())


def test_engine_imports_without_torch_or_qt():
    mods = _modules_after("import triage_app.engine, triage_app.cli, triage_app.io, triage_app.bundle")
    assert "torch" not in mods and "transformers" not in mods
    assert not any(m.startswith("PySide6") for m in mods)


def test_classify_runs_without_torch(tiny_bundle, sample_csv, tmp_path):
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def guard(name, *a, **k):\n"
        "    if name.split('.')[0] in ('torch', 'transformers', 'PySide6'):\n"
        "        raise ImportError('blocked ' + name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = guard\n"
        "from triage_app.cli import main\n"
        f"sys.exit(main(['classify', {str(sample_csv)!r}, '-o', {str(tmp_path / 'o.csv')!r}, '--model', {str(tiny_bundle)!r}, '-q']))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o.csv").exists()


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_qt_only_under_gui_and_torch_only_under_trainer():
    for f in (ROOT / "triage_app").rglob("*.py"):
        names = _imports_of(f)
        if "gui" not in f.relative_to(ROOT / "triage_app").parts:
            assert "PySide6" not in names, f
        assert "torch" not in names and "transformers" not in names, f
    for f in (ROOT / "trainer").rglob("*.py"):
        assert "PySide6" not in _imports_of(f), f


# --------------------------------------------------------------------------- GUI start-up
STARTUP_PROBE = r'''
import json, sys, traceback
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

HEAVY = ("torch", "transformers", "matplotlib", "sklearn")
qapp = QApplication([sys.argv[0]])   # gui.app.main() reuses it; the probe runs once its window is shown


def probe():
    try:
        QApplication.processEvents()
        win = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMainWindow))
        out = {"visible": win.isVisible(), "at_start": [m for m in HEAVY if m in sys.modules]}
        tabs = win.tabs
        train = next(i for i in range(tabs.count()) if tabs.tabText(i).replace("&", "") == "Train")
        tabs.setCurrentIndex(train)
        QApplication.processEvents()
        out["train_built"] = win.train_tab is not None
        out["after_train"] = [m for m in HEAVY if m in sys.modules]
        print("PROBE " + json.dumps(out), flush=True)
        QApplication.exit(0)
    except Exception:
        traceback.print_exc()
        QApplication.exit(3)


QTimer.singleShot(0, probe)
from triage_app.gui import app
sys.exit(app.main(["--light", "--device", "cpu", "--settings", sys.argv[1]]))
'''


def test_gui_starts_without_torch_transformers_or_matplotlib(tiny_bundle, tmp_path):
    """The app as `main()` starts it: the window is shown with neither torch, transformers nor
    matplotlib imported; opening the Train tab imports matplotlib (its charts)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TRIAGE_DEFAULT_MODEL=str(tiny_bundle),
               TRIAGE_DATA_DIR=str(tmp_path / "data"), TRIAGE_QUIET="1")
    r = subprocess.run([sys.executable, "-c", STARTUP_PROBE, str(tmp_path / "settings.ini")], capture_output=True,
                       text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("PROBE "))
    out = json.loads(line[len("PROBE "):])
    assert out["visible"]
    assert not {"torch", "transformers", "matplotlib"} & set(out["at_start"]), out
    assert out["train_built"], r.stderr[-2000:]
    assert "matplotlib" in out["after_train"], out
