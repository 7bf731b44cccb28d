"""Data-parallel training under torchrun on the CPU (gloo): two processes on the tiny BERT give the
loss curve of one process with the same global batch, rank 0 alone writes the bundle, a rank that
dies ends the job with a clear message and a checkpoint that resumes with another number of
processes; and the helpers of trainer/distributed.py on one process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trainer.distributed import DistributedBucketSampler, Ranks

TORCHRUN = Path(sys.executable).with_name("torchrun")
# Two processes add their shares of a batch in another order than one process: the figures agree
# to float32 rounding, amplified a little over the steps.  Stated tolerance (relative):
LOSS_RTOL = 1e-3


@pytest.fixture(scope="module")
def tiny_no_dropout(tmp_path_factory) -> Path:
    """The tiny BERT without its internal dropout, so one and two processes are comparable step by
    step (dropout masks are drawn per process)."""
    from trainer.model import save_tiny_checkpoint

    ck = save_tiny_checkpoint(tmp_path_factory.mktemp("tinybert-nodrop") / "tiny")
    cfg = json.loads((ck / "config.json").read_text())
    cfg.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (ck / "config.json").write_text(json.dumps(cfg))
    return ck


def _train_args(ck: Path, csv: Path, out: Path, *extra: str) -> list[str]:
    return ["train", str(csv), "--label-col", "category", "--title-col", "title", "--body-col", "body",
            "--min-per-class", "5", "--val-frac", "0.25", "--test-frac", "0", "--preset", "standard",
            "--base-model", str(ck), "--head-epochs", "3", "--head-lr", "1e-2", "--finetune-epochs", "2",
            "--finetune-layers", "1", "--tower-lr", "1e-3", "--batch-size", "16", "--max-length", "64",
            "--precision", "fp32", "--dropout", "0", "--no-int8", "--threads", "1", "-q",
            "--out", str(out), *extra]


def _env(data_dir: Path, **extra) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TRIAGE_DATA_DIR": str(data_dir), "PYTHONPATH": str(Path.cwd()),
           **extra}
    env.pop("TRIAGE_DIST_FAULT", None)
    env.update(extra)
    return env


def _run(argv, env, nproc: int | None, timeout=400):
    cmd = [sys.executable, "-m", "triage_app", *argv] if nproc is None else \
        [str(TORCHRUN), "--standalone", "--nproc_per_node", str(nproc), "-m", "triage_app", *argv]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=Path(__file__).resolve().parent.parent)


def _history(bundle: Path) -> list[dict]:
    return json.loads((bundle / "bundle.json").read_text())["metrics"]["history"]


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun not installed beside this Python")
def test_two_processes_match_one_and_write_one_bundle(tiny_no_dropout, sample_csv, tmp_path):
    from triage_app.engine import TicketClassifier

    env = _env(tmp_path / "userdata")
    one = _run(_train_args(tiny_no_dropout, sample_csv, tmp_path / "one"), env, None)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _run(_train_args(tiny_no_dropout, sample_csv, tmp_path / "two",
                           "--checkpoint-dir", str(tmp_path / "ckpt")), env, 2)
    assert two.returncode == 0, two.stderr[-3000:]
    # rank 0 alone reports: one JSON summary, one set of epoch lines is not printed (-q)
    summary = json.loads(two.stdout)
    assert Path(summary["bundle"]) == tmp_path / "two"
    h1, h2 = _history(tmp_path / "one"), _history(tmp_path / "two")
    assert [(e["phase"], e["epoch"], e["step"]) for e in h1] == [(e["phase"], e["epoch"], e["step"]) for e in h2]
    for a, b in zip(h1, h2):
        for k in ("train_loss", "val_loss"):
            assert b[k] == pytest.approx(a[k], rel=LOSS_RTOL), (a, b)
        assert b["val_accuracy"] == pytest.approx(a["val_accuracy"], abs=1e-9)
    # the job's bundle loads and classifies like any other
    clf = TicketClassifier.load(tmp_path / "two", device="cpu")
    p = clf.predict({"title": "VPN drops", "body": "my vpn disconnects every hour"})
    assert p.label in clf.labels
    assert (tmp_path / "ckpt" / "last" / "state.json").is_file()
    # nothing else was written next to the bundle by the other rank
    assert sorted(x.name for x in tmp_path.iterdir() if not x.name.startswith(".")) == \
        ["ckpt", "one", "two", "userdata"]


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun not installed beside this Python")
def test_two_processes_train_several_targets_like_one(tiny_no_dropout, sample_csv, tmp_path):
    """Three targets, one with missing labels and its loss weighted 0.5: the processes add their
    shares of each target's loss, so the total and every target's curve match one process."""
    from tests.test_multitarget import three_target_frame
    from triage_app.bundle import load_bundle

    src = tmp_path / "three.csv"
    three_target_frame(sample_csv).to_csv(src, index=False)
    extra = ("--label-col", "priority", "--label-col", "queue", "--loss-weight", "priority=0.5",
             "--head-epochs", "2", "--finetune-epochs", "1")
    env = _env(tmp_path / "userdata")
    one = _run(_train_args(tiny_no_dropout, src, tmp_path / "one", *extra), env, None)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _run(_train_args(tiny_no_dropout, src, tmp_path / "two", *extra), env, 2)
    assert two.returncode == 0, two.stderr[-3000:]
    h1, h2 = _history(tmp_path / "one"), _history(tmp_path / "two")
    assert len(h1) == len(h2) == 3
    for a, b in zip(h1, h2):
        for k in ("train_loss", "val_loss"):
            assert b[k] == pytest.approx(a[k], rel=LOSS_RTOL), (a, b)
        assert set(a["targets"]) == set(b["targets"]) == {"category", "priority", "queue"}
        for name, ra in a["targets"].items():
            for k in ("train_loss", "val_loss"):
                assert b["targets"][name][k] == pytest.approx(ra[k], rel=LOSS_RTOL), (name, k)
    assert [t.name for t in load_bundle(tmp_path / "two").targets] == ["category", "priority", "queue"]


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun not installed beside this Python")
def test_dead_rank_ends_job_clearly_and_checkpoint_resumes_on_one_process(tiny_no_dropout, sample_csv, tmp_path):
    ckpt, out = tmp_path / "ckpt", tmp_path / "bundle"
    # rank 1 dies at its 8th optimizer step: after head epoch 1 (5 steps of 16 rows) was checkpointed
    env = _env(tmp_path / "userdata", TRIAGE_DIST_FAULT="1:8")
    r = _run(_train_args(tiny_no_dropout, sample_csv, out, "--checkpoint-dir", str(ckpt)), env, 2)
    assert r.returncode != 0
    assert "another process of the job ended" in r.stderr, r.stderr[-3000:]
    assert f"--resume {ckpt}" in r.stderr or "torchrun" in r.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and "bundle" in p.name]
    state = json.loads((ckpt / "last" / "state.json").read_text())
    assert state["state"]["step"] >= 5
    # resumed by one process
    ok = _run(_train_args(tiny_no_dropout, sample_csv, out, "--checkpoint-dir", str(ckpt), "--resume", str(ckpt)),
              _env(tmp_path / "userdata"), None)
    assert ok.returncode == 0, ok.stderr[-3000:]
    hist = _history(out)
    assert hist[0]["epoch"] == 1 and hist[-1]["phase"] == "finetune"


# ---- the helpers, on one process ---------------------------------------------------------------
def test_sampler_shares_cover_each_global_batch_once():
    batches = [np.arange(0, 16), np.arange(16, 31), np.array([31])]
    y = np.zeros(32, dtype=np.int64)
    got = {r: list(DistributedBucketSampler(batches, r, 2, y)) for r in (0, 1)}
    for bi, b in enumerate(batches):
        parts = [got[r][bi] for r in (0, 1)]
        assert all(p.denom == len(b) for _, p in parts)
        rows = np.concatenate([idx for idx, p in parts if not p.empty])
        assert sorted(rows.tolist()) == b.tolist()
    # a batch smaller than the world: rank 1's share is one stand-in row that counts for nothing
    idx, p = got[1][2]
    assert p.empty and idx.tolist() == [31]


def test_sharded_loss_of_all_ranks_is_the_weighted_mean():
    import torch

    torch.manual_seed(0)
    logits, y = torch.randn(10, 3), torch.tensor([0, 1, 2, 1, 0, 2, 2, 1, 0, 0])
    w = torch.tensor([0.5, 2.0, 1.0])
    loss_fn = torch.nn.CrossEntropyLoss(weight=w)
    whole = loss_fn(logits, y)
    batch = np.arange(10)
    shares = []
    for r in range(3):
        s = DistributedBucketSampler([batch], r, 3, y, w)
        idx, part = next(iter(s))
        shares.append(Ranks(r, 3).loss(loss_fn, logits[idx], y[idx], part))
    assert float(sum(shares) / 3) == pytest.approx(float(whole), rel=1e-6)


def test_one_process_passes_through():
    import torch

    r = Ranks()
    assert not r.active and r.is_main
    assert r.shard([1, 2, 3]) == [1, 2, 3]
    x = np.ones((2, 2), dtype=np.float32)
    assert r.gather_rows(x) is x
    assert r.broadcast({"a": 1}) == {"a": 1}
    loss_fn = torch.nn.CrossEntropyLoss()
    logits, y = torch.randn(4, 3, requires_grad=True), torch.tensor([0, 1, 2, 0])
    assert [p for _, p in r.sampler([np.arange(4)], y)] == [None]
    loss = r.loss(loss_fn, logits, y, None)
    loss.backward()
    assert r.sync_grads([logits], loss) == pytest.approx(float(loss.detach()))


def test_not_launched_without_torchrun_variables(monkeypatch):
    from trainer import distributed

    for v in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(v, raising=False)
    assert not distributed.launched()
    assert distributed.init("cpu") is distributed.current()
    assert not distributed.current().active
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not distributed.launched()  # one process: nothing to join
