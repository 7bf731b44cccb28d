"""Shared fixtures for the GUI tests (imported by the tests/test_gui_*.py files; holds no tests)."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


@pytest.fixture
def gui_ctx(tiny_bundle, data_dir, tmp_path, monkeypatch):
    """AppContext with settings in a tmp INI file, corrections in the per-test data folder, and the
    tiny bundle as the (read-only) built-in default model, activated."""
    from PySide6.QtCore import QSettings

    from triage_app.corrections import CorrectionsStore
    from triage_app.gui import main_window, models_tab, thresholds_panel, widgets
    from triage_app.gui.context import AppContext

    monkeypatch.setenv("TRIAGE_DEFAULT_MODEL", str(tiny_bundle))
    for mod in (widgets, main_window, models_tab, thresholds_panel):
        monkeypatch.setattr(mod, "ask", lambda *a, **k: True)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    ctx = AppContext(settings=settings, corrections=CorrectionsStore(data_dir / "corrections.sqlite3"),
                     device="cpu")
    ctx.activate(tiny_bundle)
    return ctx


@pytest.fixture
def win(gui_ctx, qtbot):
    from triage_app.gui.main_window import MainWindow

    w = MainWindow(gui_ctx)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.stop_all(10000)


def write_tickets(path: Path, sample_csv: Path, n: int | None = None, extra: list[dict] | None = None) -> int:
    """Write the sample tickets (repeated to ``n`` rows) plus ``extra`` rows; returns the row count."""
    with open(sample_csv, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cols = list(rows[0].keys())
    out = []
    if n is None:
        out = list(rows)
    else:
        while len(out) < n:
            out.extend(rows)
        out = out[:n]
    out += extra or []
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(out)
    return len(out)


def user_copy(bundle_dir: Path, dest: Path, **meta_changes) -> Path:
    shutil.copytree(bundle_dir, dest)
    if meta_changes:
        bj = dest / "bundle.json"
        meta = json.loads(bj.read_text(encoding="utf-8"))
        meta.update(meta_changes)
        bj.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return dest


def load_file(qtbot, win, path, timeout=20000):
    with qtbot.waitSignal(win.batch.fileLoaded, timeout=timeout):
        win.open_file(str(path))


def run_batch(qtbot, win, timeout=60000):
    with qtbot.waitSignal(win.batch.runFinished, timeout=timeout) as blocker:
        assert win.batch.classify() is not None
    return blocker.args[0]


def test_error_hints_are_chosen_by_class():
    import errno

    from triage_app.bundle import BundleError
    from triage_app.gui.widgets import hint_for
    from triage_app.io import TableError

    assert "Models" in hint_for(BundleError("x"))
    assert "mapping panel" in hint_for(TableError("x"))
    assert "free some disk space" in hint_for(OSError(errno.ENOSPC, "No space left on device"))
    assert "free some disk space" in hint_for(PermissionError("x"))
    assert "still exists" in hint_for(FileNotFoundError("x"))
    # the words of a message do not decide: a ValueError mentioning a model gets the general hint
    assert "Show Details" in hint_for(ValueError("the model column is bad"))
    assert "Show Details" in hint_for(None)
