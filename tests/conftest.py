"""Shared fixtures: a tiny real dual-BERT (real uncased vocabulary, 2 layers, hidden 32) trained
a few steps on the sample tickets and exported as a real bundle, once per session."""
from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TRIAGE_QUIET", "1")
ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: slow test (real data or packaging)")
    config.addinivalue_line("markers", "realdata: needs ../shared/data (skipped when missing)")
    config.addinivalue_line("markers", "dist: builds the PyInstaller app (set TRIAGE_DIST_TEST=1)")


def pytest_collection_modifyitems(config, items):
    skip_data = pytest.mark.skip(reason="../shared/data not present")
    skip_dist = pytest.mark.skip(reason="set TRIAGE_DIST_TEST=1 (and install pyinstaller) to build the app")
    for item in items:
        if "realdata" in item.keywords and not SHARED_DATA.is_dir():
            item.add_marker(skip_data)
        if "dist" in item.keywords and os.environ.get("TRIAGE_DIST_TEST") != "1":
            item.add_marker(skip_dist)


@pytest.fixture(scope="session", autouse=True)
def _session_data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("userdata")
    os.environ["TRIAGE_DATA_DIR"] = str(d)
    yield d


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fresh user data folder for one test."""
    d = tmp_path / "userdata"
    d.mkdir()
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(d))
    return d


@pytest.fixture(scope="session")
def sample_csv() -> Path:
    return ROOT / "resources" / "samples" / "sample_tickets.csv"


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models train far faster on one torch thread than on two contended ones."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from trainer.model import save_tiny_checkpoint

    return save_tiny_checkpoint(tmp_path_factory.mktemp("tinybert") / "tiny")


@pytest.fixture(scope="session")
def sample_data(sample_csv):
    """The sample tickets prepared for training (title/body, 8 classes)."""
    import pandas as pd

    from trainer.data import prepare_frame

    df = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    return prepare_frame(df, label_col="category", title_col="title", body_col="body",
                         min_per_class=5, val_frac=0.25, test_frac=0.0, source=str(sample_csv))


def tiny_config(checkpoint, **kw):
    from trainer.config import TrainConfig

    base = dict(base_model=str(checkpoint), head_epochs=4, head_lr=1e-2, finetune_epochs=1,
                finetune_layers=-1, tower_lr=1e-3, batch_size=16, max_length=64, patience=0,
                warmup_ratio=0.1)
    base.update(kw)
    return TrainConfig.standard(**base)


@pytest.fixture(scope="session")
def tiny_result(tiny_checkpoint, sample_data):
    from trainer.loop import train

    return train(tiny_config(tiny_checkpoint), sample_data)


@pytest.fixture(scope="session")
def tiny_bundle(tiny_result, tmp_path_factory) -> Path:
    """Path of a real exported bundle of the tiny model (read-only for tests: copy to modify)."""
    from trainer.export import export_result

    out = tmp_path_factory.mktemp("bundles") / "tiny-bundle"
    bundle, _ = export_result(tiny_result, out, name="tiny-test", version="1")
    return bundle.path


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path) -> Path:
    """A writable copy of the tiny bundle."""
    import shutil

    dst = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, dst)
    return dst


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    """Fail a test that leaves a Python thread or a GUI worker thread running."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    workers = sys.modules.get("triage_app.gui.workers")
    running = workers.running_threads() if workers and hasattr(workers, "running_threads") else []
    if leaked or running:
        for t in leaked:
            t.join(timeout=5)
        leaked = [t for t in leaked if t.is_alive()]
        if leaked or running:
            pytest.fail(f"test left threads running: {leaked + list(running)}")


# ---- GUI test helpers (fixtures gui_ctx and win; plain functions imported with
#      `from tests.conftest import load_file, ...`) --------------------------------------------------
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
