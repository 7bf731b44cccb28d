"""trainer.pipeline: the one training path of the CLI and the app (real tiny model, real files)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import tiny_config
from trainer.config import ConfigError
from trainer.data import DataError
from trainer.events import PhaseEvent
from trainer.pipeline import (
    DataReady,
    DataSpec,
    compare_predictions,
    error_kind,
    label_counts,
    prepare,
    run,
)
from triage_app.bundle import BundleError, load_bundle
from triage_app.errors import Cancelled, UserError
from triage_app.joblock import JobBusy, JobLock


def _spec(sample_csv, **kw):
    base = dict(source=str(sample_csv), label_col="category", title_col="title", body_col="body",
                min_per_class=5, val_frac=0.25, test_frac=0.0)
    base.update(kw)
    return DataSpec(**base)


def _cfg(tiny_checkpoint):
    return tiny_config(tiny_checkpoint, head_epochs=2, finetune_epochs=0, finetune_layers=0,
                       preset="quick", max_length=32)


def test_run_prepares_trains_compares_and_exports(tiny_checkpoint, tiny_bundle, sample_csv, tmp_path,
                                                  data_dir, one_torch_thread):
    from triage_app.engine import TicketClassifier

    events = []
    active = TicketClassifier.load(tiny_bundle, device="cpu")
    out = tmp_path / "model"
    o = run(_spec(sample_csv), _cfg(tiny_checkpoint), out, name="piped", version="3", active=active,
            on_event=events.append, export_options={"quantize": False})
    assert o.bundle_path == str(out) and load_bundle(out).name == "piped"
    phases = [e.phase for e in events if isinstance(e, PhaseEvent)]
    assert phases[0] == "data" and phases.index("compare") < phases.index("export")
    ready = next(e for e in events if isinstance(e, DataReady))
    assert ready.sizes["val"] > 0 and ready.labels == o.labels
    c = o.comparison
    assert c["rows"] == ready.sizes["val"] and set(c["shared"]) == set(o.labels)
    assert 0 <= c["active"]["accuracy"] <= 1 and 0 <= c["new"]["accuracy"] <= 1
    served = o.metrics.get("hybrid", {}).get("val") or o.metrics["val"]     # what the bundle serves
    assert c["new"]["accuracy"] == pytest.approx(served["accuracy"])
    assert o.metrics["val"]["n"] == ready.sizes["val"]


def test_run_cancelled_writes_nothing_and_releases_the_lock(tiny_checkpoint, sample_csv, tmp_path, data_dir,
                                                            one_torch_thread):
    seen = []

    def stop():
        return any(isinstance(e, PhaseEvent) and e.phase == "head" for e in seen)

    out = tmp_path / "never"
    with pytest.raises(Cancelled):
        run(_spec(sample_csv), _cfg(tiny_checkpoint), out, name="x", on_event=seen.append, should_stop=stop)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    JobLock("train").acquire("after").release()   # the lock was given back


def test_run_refused_while_another_training_holds_the_lock(tiny_checkpoint, sample_csv, tmp_path, data_dir):
    holder = JobLock("train").acquire("triage train big.csv (process 4242)")
    try:
        with pytest.raises(JobBusy, match=r"big\.csv"):
            run(_spec(sample_csv), _cfg(tiny_checkpoint), tmp_path / "m", name="x")
    finally:
        holder.release()
    assert not (tmp_path / "m").exists()


def test_cli_train_says_plainly_when_the_app_trains(tiny_checkpoint, sample_csv, tmp_path, data_dir, capsys):
    from triage_app.cli import main

    holder = JobLock("train").acquire("TicketTriage app, Train tab")
    try:
        rc = main(["train", str(sample_csv), "--label-col", "category", "--text-col", "body",
                   "--base-model", str(tiny_checkpoint), "--out", str(tmp_path / "m")])
    finally:
        holder.release()
    err = capsys.readouterr().err
    assert rc == 2
    assert "another train job is running" in err and "Train tab" in err
    assert len(err.strip().splitlines()) == 1


def test_prepare_reads_the_file_or_uses_the_frame(sample_csv):
    import pandas as pd

    from_file, _ = prepare(_spec(sample_csv))
    df = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    from_frame, _ = prepare(_spec(sample_csv, df=df))
    assert from_file.fingerprint["sha256"] == from_frame.fingerprint["sha256"]
    with pytest.raises(Cancelled):
        prepare(_spec(sample_csv), should_stop=lambda: True)


def test_error_kind_matches_by_class():
    from triage_app.io import TableError

    assert error_kind(TableError("f.csv: bad")) == "table"
    assert error_kind(DataError("x")) == "data"
    assert error_kind(ConfigError("x")) == "config"
    assert error_kind(JobBusy("x")) == "busy"
    assert error_kind(BundleError("x")) == "export"
    from trainer.export import ExportError
    assert error_kind(ExportError("x")) == "export"
    assert error_kind(UserError("x")) == "input"
    assert error_kind(MemoryError()) == "memory"
    assert error_kind(RuntimeError("boom")) == "other"

    class DataErrorLookAlike(Exception):   # same name, other class: not a data error
        pass
    DataErrorLookAlike.__name__ = "DataError"
    assert error_kind(DataErrorLookAlike("x")) == "other"


def test_compare_predictions_on_shared_labels_only():
    y = ["a", "b", "b", "c"]
    new = ["a", "b", "a", "c"]
    act = ["a", "b", "b", "a"]
    c = compare_predictions(y, new, act, ["a", "b", "c"], ["a", "b", "x"])
    assert c["shared"] == ["a", "b"] and c["only_new"] == ["c"] and c["only_active"] == ["x"]
    assert c["rows"] == 3 and c["total_rows"] == 4
    assert c["new"]["accuracy"] == pytest.approx(2 / 3) and c["active"]["accuracy"] == 1.0
    assert np.isfinite(c["per_class"]["a"]["new"])


def test_label_counts_after_merge_map():
    assert label_counts([" a", "b", "", None, float("nan"), "c"], {"c": "b"}) == {"a": 1, "b": 2}


def test_summary_json_of_cli_train_names_the_comparison(tiny_checkpoint, tiny_bundle, sample_csv, tmp_path,
                                                       data_dir, capsys):
    from triage_app.cli import main

    out = tmp_path / "m"
    rc = main(["train", str(sample_csv), "--label-col", "category", "--title-col", "title", "--body-col", "body",
               "--preset", "quick", "--base-model", str(tiny_checkpoint), "--epochs", "1", "--min-per-class", "5",
               "--max-length", "32", "--no-int8", "--compare", str(tiny_bundle), "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    s = json.loads(cap.out)
    assert s["bundle"] == str(out)
    assert s["compared_with_active"]["model"].startswith("tiny-test")
    assert s["compared_with_active"]["rows"] > 0
    assert "[export]" in cap.err and "[compare]" in cap.err


def test_compare_predictions_per_class_f1():
    y = ["a", "a", "b", "b", "c", "c"]
    new = ["a", "a", "b", "c", "c", "c"]
    act = ["a", "b", "b", "b", "x", "x"]
    c = compare_predictions(y, new, act, ["a", "b", "c"], ["a", "b", "x"])
    assert c["rows"] == 4 and c["total_rows"] == 6
    assert c["new"]["accuracy"] == pytest.approx(0.75)
    assert c["active"]["accuracy"] == pytest.approx(0.75)
    assert c["per_class"]["a"]["new"] == pytest.approx(1.0)
    assert c["per_class"]["a"]["active"] == pytest.approx(2 / 3)


def test_cli_summary_is_strict_json_when_the_models_share_no_label():
    from trainer.pipeline import TrainOutcome
    from triage_app.cli.train import summary

    c = compare_predictions(["a", "b"], ["a", "b"], ["x", "x"], ["a", "b"], ["x"])
    assert c["rows"] == 0 and np.isnan(c["new"]["accuracy"])
    o = TrainOutcome("/m", "m", "1", ["a", "b"], {"val": {"accuracy": 1.0, "macro_f1": 1.0, "weighted_f1": 1.0}},
                     {"precision": "fp32"}, {**c, "active_name": "old (version 1)"}, [], 1.0)
    s = json.loads(json.dumps(summary(o), allow_nan=False))
    assert s["compared_with_active"] == {"model": "old (version 1)", "rows": 0,
                                         "note": "the two models share no label: nothing to compare"}


def test_the_comparison_says_when_the_active_model_saw_the_validation_tickets(sample_csv):
    """An active model trained on the same data whose served TF-IDF part was refitted on training +
    validation rows (or whose split differs) has seen the comparison's validation tickets: the
    comparison says its figures are optimistic, in the Train tab, the promote question and the CLI."""
    from types import SimpleNamespace

    from trainer.pipeline import TrainOutcome, active_saw_validation
    from triage_app.cli.train import summary
    from triage_app.gui.train.actions import weaker_model_question
    from triage_app.gui.train.results_page import comparison_html

    data, _ = prepare(_spec(sample_csv))
    counts = json.loads(json.dumps(data.report.counts))

    def active(fingerprint, weight=0.5, fitted_on="train+validation", split=counts):
        meta = {"data_fingerprint": fingerprint, "data_report": {"counts": split},
                "hybrid": {"lexical_weight": weight, "lexical": {"fitted_on": fitted_on}}}
        return SimpleNamespace(bundle=SimpleNamespace(meta=meta))

    same = dict(data.fingerprint)
    assert "validation tickets too" in active_saw_validation(active(same), data)
    assert active_saw_validation(active({**same, "sha256": "other"}), data) == ""     # other data
    assert active_saw_validation(active(same, weight=0.0), data) == ""               # TF-IDF part not served
    assert active_saw_validation(active(same, fitted_on="train"), data) == ""         # the same split, unseen
    other_split = {**counts, "val": {k: v + 1 for k, v in counts["val"].items()}}
    assert "split another way" in active_saw_validation(active(same, fitted_on="train", split=other_split), data)

    caveat = "The active model's figures here are optimistic: " + active_saw_validation(active(same), data) + "."
    c = {"rows": 10, "total_rows": 10, "shared": ["a"], "only_new": [], "only_active": [], "active_name": "old",
         "active": {"accuracy": 0.9, "macro_f1": 0.9}, "new": {"accuracy": 0.8, "macro_f1": 0.8}, "caveat": caveat}
    assert caveat in comparison_html(c) and caveat in weaker_model_question(c)
    assert caveat not in comparison_html({**c, "caveat": ""})
    o = TrainOutcome("/m", "m", "1", ["a"], {}, {}, c, [], 1.0)
    assert summary(o)["compared_with_active"]["caveat"] == caveat
    assert "caveat" not in summary(TrainOutcome("/m", "m", "1", ["a"], {}, {}, {**c, "caveat": ""}, [], 1.0)
                                   )["compared_with_active"]
