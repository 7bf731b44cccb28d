"""The self-test behind ``TicketTriage --self-test`` (run unfrozen here; tests/test_dist.py runs it frozen)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from triage_app.selftest import run_self_test, seconds_since_process_start

ROOT = Path(__file__).resolve().parent.parent


def _run(**kw):
    lines: list[str] = []
    code = run_self_test(out=lines.append, **kw)
    return code, lines


def test_self_test_classifies_the_samples(tiny_bundle):
    code, lines = _run(model=str(tiny_bundle))
    text = "\n".join(lines)
    assert code == 0, text
    assert lines[-1] == "self-test OK"
    provider = [ln for ln in lines if ln.startswith("provider: ")]
    assert provider and "ExecutionProvider" in provider[0], text
    assert any(ln.startswith("labels: ") and "Hardware" in ln for ln in lines), text
    timing = next(ln for ln in lines if ln.startswith("timing: "))
    assert "load" in timing and "first classification" in timing and "ms/ticket" in timing
    assert any(ln.startswith("sample tickets: ") for ln in lines)


def test_missing_model_fails_clearly(tmp_path):
    code, lines = _run(model=str(tmp_path / "nope"))
    assert code == 2
    assert "no such model bundle folder" in "\n".join(lines)
    assert lines[-1].startswith("self-test FAILED")


def test_missing_bundled_model_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_DEFAULT_MODEL", str(tmp_path / "absent"))
    code, lines = _run()
    assert code == 2
    assert "no bundled model" in "\n".join(lines) and "--model" in "\n".join(lines)


def test_broken_bundle_fails_with_one_line(bundle_copy):
    (bundle_copy / "model.onnx").write_bytes(b"not an onnx file")
    code, lines = _run(model=str(bundle_copy))
    assert code == 1
    fail = [ln for ln in lines if ln.startswith("FAILED ")]
    assert fail and "classification" in fail[0]


def test_train_smoke_trains_exports_and_classifies(tiny_bundle, tiny_checkpoint):
    code, lines = _run(model=str(tiny_bundle), train_smoke=True, smoke_checkpoint=str(tiny_checkpoint),
                       check_base=False)
    text = "\n".join(lines)
    assert code == 0, text
    assert any(ln.startswith("train-smoke: ") and "train /" in ln for ln in lines), text
    assert any(ln.startswith("export: ") for ln in lines), text
    assert any(ln.startswith("exported tiny model: selftest-tiny") for ln in lines), text
    assert sum(ln.startswith("provider: ") for ln in lines) == 2


def test_process_uptime_is_plausible():
    s = seconds_since_process_start()
    if sys.platform.startswith("linux"):
        assert s is not None and 0 < s < 24 * 3600


def test_frozen_main_self_test_and_cli_unfrozen(tiny_bundle, tmp_path):
    """The launcher's modes, as `python -m triage_app.frozen_main` (no Qt on these paths)."""
    r = subprocess.run([sys.executable, "-m", "triage_app.frozen_main", "--self-test", "--model", str(tiny_bundle)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "provider: " in r.stdout and r.stdout.rstrip().endswith("self-test OK")
    r = subprocess.run([sys.executable, "-m", "triage_app.frozen_main", "cli", "classify", "--model",
                        str(tiny_bundle), "--title", "printer jammed", "--body", "paper stuck on floor 3"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "%" in r.stdout
    r = subprocess.run([sys.executable, "-m", "triage_app.frozen_main", "--help"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0 and "--self-test" in r.stdout and "--quit-after-ms" in r.stdout


def test_frozen_main_pops_launcher_options():
    from triage_app.frozen_main import _pop_option

    assert _pop_option(["--dark", "--quit-after-ms", "3000", "--model", "m"], "--quit-after-ms") == \
        (["--dark", "--model", "m"], "3000")
    assert _pop_option(["--quit-after-ms=50"], "--quit-after-ms") == ([], "50")
    assert _pop_option(["--light"], "--quit-after-ms") == (["--light"], None)
