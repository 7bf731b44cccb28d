"""Several targets per ticket: data preparation with masked labels, real training of a tiny
dual-BERT with one head per target through the pipeline and the CLI, the bundle (format 2) and its
validation, the ONNX graph with one output per target, the engine's per-target predictions, the
classify / eval / thresholds commands and per-target corrections."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, tiny_config
from trainer.pipeline import DataSpec, run
from triage_app.bundle import BundleError, export_zip, import_zip, load_bundle, save_thresholds
from triage_app.cli import PRED_COLUMNS, main

IT = ("Hardware", "Access", "Storage", "Administrative rights")


def three_target_frame(sample_csv) -> pd.DataFrame:
    """The sample tickets with category, priority (every 7th label empty) and a derived queue."""
    df = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    df["queue"] = ["IT" if c in IT else "Business" for c in df["category"]]
    df.loc[df.index % 7 == 0, "priority"] = ""
    return df


def _cfg(tiny_checkpoint, **kw):
    return tiny_config(tiny_checkpoint, head_epochs=3, finetune_epochs=1, finetune_layers=1, max_length=32,
                       **kw)


@pytest.fixture(scope="module")
def mt_run(tiny_checkpoint, sample_csv, tmp_path_factory, one_torch_thread):
    """A real three-target model (priority with missing labels, its loss weighted 0.5) trained and
    exported by the pipeline, with per-target corrections merged in: ``(outcome, frame, events)``."""
    import os

    from triage_app.corrections import CorrectionsStore

    d = tmp_path_factory.mktemp("mt")
    old = os.environ.get("TRIAGE_DATA_DIR")
    os.environ["TRIAGE_DATA_DIR"] = str(d / "userdata")      # its own training lock
    store = CorrectionsStore(d / "corr.sqlite3")
    df = three_target_frame(sample_csv)
    store.add("", {"title": df.title[0], "body": df.body[0]}, "Low", 0.4, "Critical", "v1", target="priority")
    store.add("", {"title": "Brand new ticket", "body": "about the coffee machine"}, "", 0.4, "Business", "v1",
              target="queue")
    spec = DataSpec(source="three.csv", df=df, label_col="category", label_cols=["category", "priority", "queue"],
                    title_col="title", body_col="body", min_per_class=3, val_frac=0.25, test_frac=0.2,
                    use_corrections=True)
    events = []
    try:
        o = run(spec, _cfg(tiny_checkpoint, loss_weights={"priority": 0.5}), d / "model", name="three",
                corrections=store, on_event=events.append, card=True)
    finally:
        if old is None:
            os.environ.pop("TRIAGE_DATA_DIR", None)
        else:
            os.environ["TRIAGE_DATA_DIR"] = old
    return o, df, events


# ---- data ------------------------------------------------------------------------------------------
def test_prepare_targets_masks_missing_labels_per_target(sample_csv):
    from trainer.targets import prepare_targets, target_view

    df = three_target_frame(sample_csv)
    df.loc[df.index % 5 == 0, "queue"] = ""
    df.loc[3, ["priority", "queue", "category"]] = ""          # no label at all: left out
    data = prepare_targets(df, label_cols=["category", "priority", "queue"], title_col="title", body_col="body",
                           min_per_class=3, val_frac=0.25, test_frac=0.0, merge_maps={"priority": {"Critic": "Critical"}},
                           loss_weights={"queue": 2.0})
    n = len(data.train) + len(data.val)
    assert n == len(df) - 1
    y = np.concatenate([data.train.y, data.val.y])
    assert y.shape == (n, 3)
    assert (y[:, 1] == -1).sum() == (df.priority.drop(3) == "").sum()
    assert (y[:, 2] == -1).sum() == (df["queue"].drop(3) == "").sum()
    assert [t.name for t in data.targets] == ["category", "priority", "queue"]
    assert data.labels == data.targets[0].labels and "Critic" not in data.targets[1].labels
    assert data.targets[2].loss_weight == 2.0 and data.targets[2].labels == ["Business", "IT"]
    for k, t in enumerate(data.targets):       # every label of every target is held out for validation
        assert set(np.unique(data.val.y[:, k][data.val.y[:, k] >= 0])) == set(range(len(t.labels)))
    v = target_view(data, 1)
    assert v.targets is None and v.val.y.ndim == 1 and len(v.val) == int((data.val.y[:, 1] >= 0).sum())
    assert v.labels == data.targets[1].labels and len(v.val.text_a) == len(v.val)


def test_target_loss_ignores_rows_without_a_label():
    import torch

    from trainer.targets import Target, TargetLoss

    targets = [Target("a", ["x", "y"], None), Target("b", ["p", "q", "r"], None, loss_weight=0.5)]
    loss = TargetLoss(targets, "cpu", weighted=False)
    logits = torch.randn(4, 5, requires_grad=True)
    y = torch.tensor([[0, -1], [1, 2], [0, -1], [1, 0]])
    loss(logits, y).backward()
    g = logits.grad
    assert torch.all(g[[0, 2], 2:] == 0) and torch.any(g[[1, 3], 2:] != 0)   # masked for target b only
    assert torch.all(g[:, :2].abs().sum(1) > 0)
    ce = torch.nn.functional.cross_entropy
    want = ce(logits[:, :2], y[:, 0]) + 0.5 * ce(logits[[1, 3], 2:], y[[1, 3], 1])
    assert loss(logits, y).item() == pytest.approx(want.item(), rel=1e-6)


# ---- the pipeline, the bundle, the ONNX graph ---------------------------------------------------------
def test_pipeline_trains_three_targets_into_one_bundle(mt_run):
    import onnx

    o, df, events = mt_run
    b = load_bundle(o.bundle_path)
    assert b.meta["format_version"] == 2
    assert [t.name for t in b.targets] == ["category", "priority", "queue"] == [t["name"] for t in o.targets]
    assert b.targets[0].labels == b.labels and b.targets[0].primary
    assert b.targets[1].labels == sorted(set(df.priority) - {""})
    assert b.targets[2].labels == ["Business", "IT"]
    outputs = [x.name for x in onnx.load(str(b.model_path), load_external_data=False).graph.output]
    assert outputs == ["logits", "logits_1", "logits_2"]
    for t in b.targets:     # every target measured as served on the test split
        te = t.metrics["test_exported"]
        assert 0 <= te["accuracy"] <= 1 and te["rows"] > 0 and t.temperature > 0
    assert b.targets[1].metrics["test_exported"]["rows"] < b.targets[0].metrics["test_exported"]["rows"]
    int8 = b.meta["export"]["int8"]        # the gate looked at every target, as served (blends)
    assert all(len(tr["targets"]) == 3 for tr in int8["tried"])
    assert int8["judged"] == "served blend"
    for k, t in enumerate(b.targets):       # a target served by its lexical part alone always agrees
        if t.lexical_weight == 1.0:
            assert all(tr["targets"][k]["agreement"] == 1.0 for tr in int8["tried"])
    assert b.meta["train_config"]["loss_weights"] == {"priority": 0.5}
    card = (b.path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "## Targets" in card and "| priority | 4 | 0.5 |" in card
    lines = next(e for e in events if type(e).__name__ == "DataReady").lines
    assert any("priority" in x and "without a label" in x and "loss weight 0.5" in x for x in lines)
    assert any(x.startswith("corrections: ") and "added 1" in x and "overridden 1" in x for x in lines)
    for k, t in enumerate(b.targets):       # a lexical part per hybrid target, with its own file
        assert (t.lexical_weight > 0) == t.lexical_path.is_file() == ((b.path / f"lexical_{k}.onnx").is_file()
                                                                       if k else b.lexical_path.is_file())


def test_training_reports_each_targets_loss_live_and_per_epoch(mt_run):
    from trainer.events import EpochEvent, StepEvent

    o, _df, events = mt_run
    names = {"category", "priority", "queue"}
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert steps and all(set(e.target_losses) == names for e in steps)
    for e in steps:          # the total is the weighted sum of the targets' losses (priority 0.5)
        t = e.target_losses
        assert e.loss == pytest.approx(t["category"] + 0.5 * t["priority"] + t["queue"], rel=1e-4)
        assert all(v > 0 for v in t.values())
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert epochs and all(set(e.targets) == names for e in epochs)
    for e in epochs:
        per = e.targets.values()
        assert e.val_loss == pytest.approx(sum(r["val_loss"] for r in per), rel=1e-6)
        assert e.val_accuracy == pytest.approx(np.mean([r["val_accuracy"] for r in per]), rel=1e-6)
        assert e.val_macro_f1 == pytest.approx(np.mean([r["val_macro_f1"] for r in per]), rel=1e-6)
        assert all(r["train_loss"] > 0 for r in per)
    hist = load_bundle(o.bundle_path).meta["metrics"]["history"]   # kept with the run's history
    assert [set(h["targets"]) for h in hist] == [names] * len(epochs)


def test_head_phase_keeps_each_targets_best_epoch(tiny_checkpoint, sample_csv, one_torch_thread):
    """Frozen towers: each target's head rows keep their own best epoch, as a model of that target
    alone would, and the phase goes on while any target improves."""
    from trainer.events import EpochEvent, PhaseEvent
    from trainer.loop import train
    from trainer.targets import prepare_targets, val_by_target

    data = prepare_targets(three_target_frame(sample_csv), label_cols=["category", "priority", "queue"],
                           title_col="title", body_col="body", min_per_class=3, val_frac=0.3, test_frac=0.0)
    cfg = tiny_config(tiny_checkpoint, head_epochs=12, finetune_epochs=0, max_length=32, patience=3,
                      head_lr=3e-2, precision="fp32")
    events = []
    res = train(cfg, data, events.append)
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    final = {r["name"]: r["val_macro_f1"] for r in val_by_target(data.targets, res.val_logits, data.val.y)}
    best_at = {}
    for name in final:
        f1s = [e.targets[name]["val_macro_f1"] for e in epochs]
        assert final[name] == pytest.approx(max(f1s), abs=1e-9), name
        best_at[name] = f1s.index(max(f1s))
    assert len(set(best_at.values())) > 1, best_at     # the targets peaked at different epochs here
    # the phase stopped only when no target had improved for `patience` epochs
    last_gain = max(best_at.values())
    assert len(epochs) == min(12, last_gain + 1 + cfg.patience + 1)
    notes = [e.message for e in events if isinstance(e, PhaseEvent) and e.phase == "note"]
    assert len(epochs) == 12 or any("each target's best epoch" in m for m in notes)


def test_cancelled_multi_target_run_resumes_where_it_stopped(tiny_checkpoint, sample_csv, tmp_path, one_torch_thread):
    """A run of three targets cancelled in its second epoch resumes from the checkpoint of the
    first: same step count, each target's history carried over; other targets are refused."""
    from trainer.events import EpochEvent, StepEvent
    from trainer.loop import train
    from trainer.targets import prepare_targets

    data = prepare_targets(three_target_frame(sample_csv), label_cols=["category", "priority", "queue"],
                           title_col="title", body_col="body", min_per_class=3, val_frac=0.25, test_frac=0.0)
    cfg = tiny_config(tiny_checkpoint, head_epochs=2, finetune_epochs=1, finetune_layers=1, max_length=32,
                      step_events_per_s=1000, precision="fp32")
    ckpt, events = tmp_path / "ckpt", []
    per_epoch = -(-len(data.train) // cfg.batch_size)

    def stop():
        return sum(1 for e in events if isinstance(e, StepEvent) and e.epoch > 1) >= 1

    res = train(cfg, data, events.append, stop, checkpoint_dir=ckpt)
    assert res.status == "cancelled"
    again = []
    res2 = train(cfg, data, again.append, resume=str(ckpt), checkpoint_dir=ckpt)
    assert res2.status == "finished"
    steps = [e for e in again if isinstance(e, StepEvent)]
    assert steps[0].step == per_epoch + 1 and steps[-1].step == 3 * per_epoch
    assert [(e.phase, e.epoch) for e in again if isinstance(e, EpochEvent)] == [("head", 2), ("finetune", 1)]
    hist = res2.metrics["history"]
    assert len(hist) == 3 and all(set(h["targets"]) == {"category", "priority", "queue"} for h in hist)
    assert [t["name"] for t in res2.metrics["targets"]] == ["category", "priority", "queue"]
    two = prepare_targets(three_target_frame(sample_csv), label_cols=["category", "queue"], title_col="title",
                          body_col="body", min_per_class=3, val_frac=0.25, test_frac=0.0)
    with pytest.raises(ValueError, match="labels"):
        train(cfg, two, resume=str(ckpt))


def test_target_loss_shared_by_processes_is_the_whole_batch_loss():
    """Under torchrun each process adds its share of a global batch: the shares of several targets
    (class weights, masked labels, one process with no label of a target) average to the loss of
    the whole batch, and so do the per-target figures."""
    import torch

    from trainer.distributed import DistributedBucketSampler, Ranks
    from trainer.targets import Target, TargetLoss

    torch.manual_seed(0)
    targets = [Target("a", ["x", "y", "z"], np.array([0.5, 2.0, 1.0])),
               Target("b", ["p", "q"], np.array([1.0, 3.0]), loss_weight=0.5)]
    loss = TargetLoss(targets, "cpu", weighted=True)
    logits = torch.randn(9, 5)
    y = torch.tensor([[0, -1], [1, 1], [2, -1], [1, 0], [0, -1], [2, 1], [2, -1], [1, -1], [0, 0]])
    whole = loss(logits, y)
    whole_parts = loss.parts(loss.last.tolist())
    shares, lasts = [], []
    for r in range(3):        # rank 2's rows (2, 5, 8) ... every rank holds rows of both targets but
        idx, part = next(iter(DistributedBucketSampler([np.arange(9)], r, 3, y.numpy())))
        shares.append(Ranks(r, 3).loss(loss, logits[idx], y[idx], part))
        lasts.append(loss.last)
    assert float(sum(shares) / 3) == pytest.approx(float(whole), rel=1e-6)
    avg = (sum(lasts) / 3).tolist()
    assert loss.parts(avg) == pytest.approx(whole_parts, rel=1e-6)
    # a process whose rows have no label of b adds nothing for it, and still counts its flag
    y2 = y.clone()
    y2[[0, 3, 6], 1] = -1
    whole2 = loss(logits, y2)
    shares = [Ranks(r, 3).loss(loss, logits[idx], y2[idx], part)
              for r in range(3) for idx, part in [next(iter(DistributedBucketSampler([np.arange(9)], r, 3,
                                                                                    y2.numpy())))]]
    assert float(sum(shares) / 3) == pytest.approx(float(whole2), rel=1e-6)


def test_engine_predicts_every_target_from_one_run(mt_run):
    from triage_app.engine import TicketClassifier
    from triage_app.hybrid import blend_logits
    from triage_app.targets import softmax_t
    from triage_app.text import lexical_text

    o, df, _ = mt_run
    clf = TicketClassifier.load(o.bundle_path, device="cpu")
    tickets = [{"title": t, "body": b} for t, b in zip(df.title[:12], df.body[:12])]
    probs, reasons = clf.score_targets(tickets)
    assert list(probs) == ["category", "priority", "queue"] and len(reasons) == 12
    # the served probabilities of each target, recomputed from the ONNX outputs and lexical parts
    pairs = [clf.compose(t) for t in tickets]
    raw = clf.transformer_logits(pairs, None)
    start = 0
    for t in clf.targets:
        part = raw[:, start:start + len(t.labels)]
        start += len(t.labels)
        if t.lexical_weight:
            session = clf.lexical_session if t.primary else clf.target_lexical[t.name]
            texts = np.array([lexical_text(a, b) for a, b in pairs], dtype=object).reshape(-1, 1)
            part = blend_logits(part, session.run(["probabilities"], {"text": texts})[0], t.lexical_weight)
        np.testing.assert_allclose(probs[t.name], softmax_t(part, t.temperature), atol=1e-5)
    np.testing.assert_allclose(clf.predict_proba(tickets), probs["category"], atol=1e-6)
    preds = clf.predict(tickets)
    for p, i in zip(preds, range(12)):
        assert list(p.targets) == ["category", "priority", "queue"]
        assert (p.label, p.confidence) == (p.targets["category"].label, p.targets["category"].confidence)
        for t in clf.targets:
            tp = p.targets[t.name]
            assert tp.label == t.labels[int(np.argmax(probs[t.name][i]))] and tp.top[0][0] == tp.label
    d = preds[0].as_dict()
    assert set(d["targets"]) == {"category", "priority", "queue"}
    words = clf.explain(tickets[0], target="queue")
    assert words and all(isinstance(w, str) for w, _ in words)
    with pytest.raises(ValueError, match="no target"):
        clf.explain(tickets[0], target="nope")


def test_lexical_only_targets_skip_the_transformer_and_report_progress(mt_run):
    """Targets served by their lexical parts alone: the transformer is not run, progress follows the
    first lexical pass, and each target's scores are its own lexical model's."""
    from dataclasses import replace

    from triage_app.engine import TicketClassifier
    from triage_app.text import lexical_text

    o, df, _ = mt_run
    clf = TicketClassifier.load(o.bundle_path, device="cpu")
    ks = [k for k, t in enumerate(clf.targets) if t.lexical_weight > 0]      # those with a lexical part
    assert ks
    clf.targets = [replace(t, lexical_weight=1.0) if k in ks else t for k, t in enumerate(clf.targets)]
    clf.transformer_logits = None        # calling it would fail
    tickets = [{"title": t, "body": b} for t, b in zip(df.title[:10], df.body[:10])]
    pairs = [clf.compose(t) for t in tickets]
    seen = []
    scores = clf._served_logits(pairs, None, ks, on_progress=lambda d, n: seen.append((d, n)))
    assert seen and seen[-1] == (10, 10)
    texts = np.array([lexical_text(a, b) for a, b in pairs], dtype=object).reshape(-1, 1)
    for k, z in zip(ks, scores):
        t = clf.targets[k]
        session = clf.lexical_session if k == 0 else clf.target_lexical[t.name]
        lex = session.run(["probabilities"], {"text": texts})[0]
        np.testing.assert_allclose(z, np.log(np.clip(lex, 1e-12, None)), atol=1e-5)


def test_bundle_round_trip_and_per_target_thresholds(mt_run, tmp_path):
    from triage_app.engine import TicketClassifier

    o, df, _ = mt_run
    z = export_zip(o.bundle_path, tmp_path / "m.zip")
    b = load_bundle(import_zip(z, tmp_path / "models"))
    assert [t.name for t in b.targets] == ["category", "priority", "queue"]
    assert (b.path / "lexical_1.onnx").is_file() or b.targets[1].lexical_weight == 0
    save_thresholds(b.path, 1.0, {}, target="priority")
    b2 = load_bundle(b.path)
    assert b2.targets[1].review_threshold == 1.0 and b2.review_threshold == 0.5
    assert b2.targets[2].review_threshold == 0.5
    clf = TicketClassifier.load(b2, device="cpu")
    preds = clf.predict([{"title": t, "body": x} for t, x in zip(df.title[:5], df.body[:5])])
    assert all(p.targets["priority"].needs_review for p in preds)
    with pytest.raises(BundleError, match="unknown labels"):
        save_thresholds(b.path, 0.5, {"Access": 0.9}, target="priority")
    with pytest.raises(BundleError, match="no target"):
        save_thresholds(b.path, 0.5, {}, target="nope")


def _meta(path):
    return json.loads((path / "bundle.json").read_text(encoding="utf-8"))


def _put(path, meta):
    (path / "bundle.json").write_text(json.dumps(meta), encoding="utf-8")


def test_bad_multi_target_bundles_are_refused(mt_run, tmp_path):
    o, _, _ = mt_run
    src = tmp_path / "b"
    shutil.copytree(o.bundle_path, src)
    good = _meta(src)
    cases = [
        (lambda m: m.update(format_version=1), "format_version 2"),
        (lambda m: m["targets"][2].update(labels=["only"]), "'queue'.*labels"),
        (lambda m: m["targets"][1].update(temperature=0), "'priority'.*temperature"),
        (lambda m: m["targets"][1].update(class_thresholds={"nope": 0.5}), "class threshold"),
        (lambda m: m["targets"][2].update(name="priority"), "distinct"),
        (lambda m: m["targets"][0].update(labels=["a", "b"]), "first target's labels"),
    ]
    for change, msg in cases:
        m = json.loads(json.dumps(good))
        change(m)
        _put(src, m)
        with pytest.raises(BundleError, match=msg):
            load_bundle(src)
    _put(src, good)
    k = next(k for k, t in enumerate(good["targets"]) if k and (t.get("hybrid") or {}).get("lexical_weight"))
    (src / f"lexical_{k}.onnx").unlink()
    with pytest.raises(BundleError, match=f"lexical_{k}.onnx: missing"):
        load_bundle(src)


def test_old_single_target_bundles_load_unchanged(tiny_bundle, tmp_path):
    from triage_app.engine import TicketClassifier

    shipped = load_bundle(ROOT / "resources" / "models" / "it-service-minilm")
    assert shipped.meta["format_version"] == 1 and shipped.targets == []
    old = tmp_path / "old"
    shutil.copytree(tiny_bundle, old)
    m = _meta(old)
    assert m["format_version"] == 1 and "targets" not in m     # single-target bundles are still written as 1
    clf = TicketClassifier.load(old, device="cpu")
    p = clf.predict({"title": "VPN down", "body": "cannot connect"})
    assert p.targets == {} and "targets" not in p.as_dict() and p.label in clf.labels
    probs, _ = clf.score_targets(["printer jammed"])
    assert list(probs) == ["label"]


# ---- the command line ------------------------------------------------------------------------------
def test_cli_train_two_targets_then_classify_eval_thresholds(tiny_checkpoint, sample_csv, tmp_path, data_dir,
                                                             capsys, one_torch_thread):
    src = tmp_path / "two.csv"
    df = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    df.loc[df.index % 6 == 0, "priority"] = ""
    df.to_csv(src, index=False)
    out = tmp_path / "two-model"
    rc = main(["train", str(src), "--label-col", "category", "--label-col", "priority", "--title-col", "title",
               "--body-col", "body", "--base-model", str(tiny_checkpoint), "--preset", "quick", "--epochs", "2",
               "--max-length", "32", "--min-per-class", "3", "--loss-weight", "priority=2", "--no-int8",
               "--out", str(out), "-q"])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0 and set(summary["targets"]) == {"category", "priority"}
    assert summary["targets"]["priority"]["test_exported"]["accuracy"] is not None
    b = load_bundle(out)
    assert [t.name for t in b.targets] == ["category", "priority"]
    assert b.meta["train_config"]["loss_weights"] == {"priority": 2.0}

    res = tmp_path / "triaged.csv"
    assert main(["classify", str(src), "-o", str(res), "--model", str(out), "-q"]) == 0
    got = pd.read_csv(res, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    extra = [f"{t}_{s}" for t in ("category", "priority") for s in ("label", "confidence", "needs_review")]
    assert list(got.columns) == list(df.columns) + PRED_COLUMNS + extra
    assert (got["predicted_label"] == got["category_label"]).all()
    assert set(got["priority_label"]) <= set(b.targets[1].labels)

    assert main(["classify", "--model", str(out), "--title", "VPN down", "--body", "cannot connect", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert set(one["targets"]) == {"category", "priority"}

    assert main(["eval", str(out), str(src), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert set(ev["targets"]) == {"category", "priority"}
    pr = ev["targets"]["priority"]
    assert pr["rows"] + pr["skipped_unknown_labels"] == len(df) and 0 < pr["rows"] <= int((df.priority != "").sum())
    assert main(["eval", str(out), str(src), "--label-col", "nope"]) == 2
    # --baseline: per target, a TF-IDF model fitted on the rows outside the split that have its label
    split = tmp_path / "split.csv"
    df.assign(split=["test" if i % 4 == 0 else "train" for i in range(len(df))]).to_csv(split, index=False)
    assert main(["eval", str(out), str(split), "--split", "test", "--baseline", "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    from trainer.evaluate import tfidf_baseline
    from triage_app.text import compose

    te, tr = df[df.index % 4 == 0], df[df.index % 4 != 0]
    for t in b.targets:
        rep = ev["targets"][t.name]
        known = {lab: i for i, lab in enumerate(t.labels)}
        te_t, tr_t = te[te[t.name].isin(known)], tr[tr[t.name].isin(known)]
        texts = [compose(a, c, None, "same")[0] for a, c in zip(pd.concat([tr_t, te_t]).title,
                                                                 pd.concat([tr_t, te_t]).body)]
        want = tfidf_baseline(texts[:len(tr_t)], np.array([known[v] for v in tr_t[t.name]]), texts[len(tr_t):],
                              np.array([known[v] for v in te_t[t.name]]), t.labels)
        assert rep["rows"] == len(te_t)
        assert rep["baseline_tfidf"]["accuracy"] == pytest.approx(want["accuracy"])
        assert rep["baseline_tfidf"]["macro_f1"] == pytest.approx(want["macro_f1"])
    assert main(["eval", str(out), str(split), "--split", "test", "--baseline"]) == 0
    assert capsys.readouterr().out.count("TF-IDF + LR baseline") == 2
    assert main(["eval", str(out), str(src), "--baseline"]) == 2           # no split: said, not guessed
    capsys.readouterr()
    # retrained and compared with the first model: each target beside its namesake, same rows
    rc = main(["train", str(src), "--label-col", "category", "--label-col", "priority", "--title-col", "title",
               "--body-col", "body", "--base-model", str(tiny_checkpoint), "--preset", "quick", "--epochs", "1",
               "--max-length", "32", "--min-per-class", "3", "--no-int8", "--compare", str(out),
               "--out", str(tmp_path / "again"), "-q"])
    cmp = json.loads(capsys.readouterr().out)["compared_with_active"]
    assert rc == 0 and set(cmp["targets"]) == {"category", "priority"}
    pr = cmp["targets"]["priority"]
    assert 0 < pr["rows"] == pr["total_rows"] <= cmp["rows"] and 0 <= pr["active"]["macro_f1"] <= 1
    assert cmp["targets"]["category"]["rows"] == cmp["rows"]

    assert main(["thresholds", str(out), "--target", "priority", "--target-precision", "0.5", "--save"]) == 0
    assert "target priority" in capsys.readouterr().out
    assert main(["thresholds", str(out), "--target", "nope"]) == 2


def test_cli_train_refuses_lexical_preset_and_bad_loss_weight(tiny_checkpoint, sample_csv, tmp_path, data_dir,
                                                              capsys):
    base = ["train", str(sample_csv), "--label-col", "category", "--label-col", "priority", "--text-col", "body",
            "--base-model", str(tiny_checkpoint), "--out", str(tmp_path / "m")]
    assert main(base + ["--preset", "lexical"]) == 2
    assert "several label columns" in capsys.readouterr().err
    assert main(base + ["--loss-weight", "queue=2"]) == 2
    assert "--loss-weight" in capsys.readouterr().err


# ---- corrections ------------------------------------------------------------------------------------
def test_corrections_per_target_merge_into_their_columns(tmp_path):
    from triage_app.corrections import CorrectionsStore

    store = CorrectionsStore(tmp_path / "c.sqlite3")
    df = pd.DataFrame({"text": ["printer jammed", "vpn down"], "cat": ["Hardware", "Access"],
                       "prio": ["Low", "High"]})
    store.add("printer jammed", {}, "Hardware", 0.5, "Storage", "v1")                  # the primary label
    store.add("vpn down", {}, "High", 0.5, "Critical", "v1", target="prio")
    store.add("new one", {}, "Low", 0.5, "Medium", "v1", target="prio")
    store.add("vpn down", {}, "Low", 0.5, "High", "v1", target="other")               # not trained: ignored
    assert store.count() == 4
    out, stats = store.merge_into(df, text_col="text", label_col="cat", target_cols=["prio"])
    assert out["cat"].tolist()[:2] == ["Storage", "Access"] and out["prio"].tolist()[:2] == ["Low", "Critical"]
    new = out.iloc[2].to_dict()
    assert (new["text"], new["prio"]) == ("new one", "Medium") and pd.isna(new["cat"])
    assert stats == {"overridden": 2, "added": 1, "unchanged": 0}
    single, _ = store.merge_into(df, text_col="text", label_col="cat")        # a single-target training
    assert single["prio"].tolist() == ["Low", "High"] and len(single) == 2
    with pytest.raises(ValueError):
        store.add("x", {}, "a", 0.5, "b", "v1", target=" ")
    store.clear()
    assert store.count() == 0
