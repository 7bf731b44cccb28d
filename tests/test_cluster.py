"""``triage classify --ray``: Ray Data in local mode on the sample tickets gives, row for row, the
output of ``triage classify`` (same columns, same escaping), and every row comes out once."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _classify(*argv, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "triage_app", "classify", *map(str, argv)], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def _plain_and_ray(src, model, tmp_path) -> tuple[Path, Path]:
    """``src`` classified by ``model`` plainly and on local Ray (2 actors, small chunks): the outputs."""
    plain, ray_out = tmp_path / "plain.csv", tmp_path / "ray.csv"
    common = ["--model", model, "--title-col", "title", "--body-col", "body", "--chunk-size", "40", "-q"]
    p = _classify(src, "-o", plain, *common)
    assert p.returncode == 0, p.stderr[-2000:]
    r = _classify(src, "-o", ray_out, *common, "--ray", "--ray-actors", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    return plain, ray_out


def test_ray_local_mode_matches_plain_classify_row_by_row(tiny_bundle, sample_csv, tmp_path):
    pytest.importorskip("ray.data")
    df = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    # cells a spreadsheet would run as formulas, which both paths must escape the same way
    df.loc[3, "title"] = "=HYPERLINK(\"http://x\")"
    df.loc[7, "body"] = "+1 call me"
    src = tmp_path / "tickets.csv"
    df.to_csv(src, index=False)
    plain, ray_out = _plain_and_ray(src, tiny_bundle, tmp_path)
    a = pd.read_csv(plain, dtype=str, keep_default_na=False)
    b = pd.read_csv(ray_out, dtype=str, keep_default_na=False)
    assert list(b.columns) == list(a.columns)
    assert len(b) == len(a) == len(df)
    assert b["ticket_id"].tolist() == df["ticket_id"].tolist()  # every row once, in input order
    pd.testing.assert_frame_equal(a, b)
    assert b.loc[3, "title"].startswith("'=")
    assert plain.read_bytes() == ray_out.read_bytes()


def test_ray_classifies_every_target_of_a_multi_target_model(tiny_checkpoint, sample_csv, tmp_path, one_torch_thread):
    """A model with several targets: the Ray path writes each target's columns, as plain classify."""
    pytest.importorskip("ray.data")
    from tests.conftest import tiny_config
    from tests.test_multitarget import three_target_frame
    from trainer.pipeline import DataSpec, run

    spec = DataSpec(source="three.csv", df=three_target_frame(sample_csv), label_col="category",
                    label_cols=["category", "priority", "queue"], title_col="title", body_col="body",
                    min_per_class=3, val_frac=0.25, test_frac=0.0)
    model = run(spec, tiny_config(tiny_checkpoint, head_epochs=2, finetune_epochs=0, max_length=32),
                tmp_path / "model", name="three", export_options={"quantize": False}).bundle_path
    plain, ray_out = _plain_and_ray(sample_csv, model, tmp_path)
    a = pd.read_csv(plain, dtype=str, keep_default_na=False)
    assert {"priority_label", "queue_label", "queue_confidence", "queue_needs_review"} <= set(a.columns)
    assert plain.read_bytes() == ray_out.read_bytes()


def test_ray_missing_is_a_one_line_error(tiny_bundle, sample_csv, tmp_path, monkeypatch, capsys):
    from triage_app.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the cluster extra were not installed
    rc = main(["classify", str(sample_csv), "--model", str(tiny_bundle), "-o", str(tmp_path / "o.csv"), "--ray"])
    assert rc == 2
    assert "ticket-triage[cluster]" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
