"""trainer.loop.train with the tiny random BERT: presets, events, cancel/resume, early stopping,
class weights, precision, checkpoints."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tiny_config

from trainer import loop as trainer_loop
from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.data import prepare_frame
from trainer.events import (
    CancelledEvent,
    EpochEvent,
    FailedEvent,
    FinishedEvent,
    PhaseEvent,
    ProgressEvent,
    StepEvent,
)
from trainer.loop import _Emitter, train
from trainer.model import DualBertClassifier

VOCAB = {
    "Hardware": "printer monitor keyboard mouse laptop screen dock cable toner scanner",
    "Access": "password login account locked vpn token reset permission unlock badge",
    "Storage": "disk quota drive share folder backup archive space restore mailbox",
}


def _synthetic(counts: dict[str, int], seed: int = 0) -> pd.DataFrame:
    """Tickets whose words come from one vocabulary per class: linearly separable."""
    rng = np.random.default_rng(seed)
    rows = []
    for lab, n in counts.items():
        words = VOCAB[lab].split()
        for i in range(n):
            w = rng.choice(words, 6)
            rows.append({"title": f"{w[0]} {w[1]}", "body": " ".join(w[2:]) + f" {i}", "label": lab})
    return pd.DataFrame(rows)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def separable():
    return prepare_frame(_synthetic({"Hardware": 40, "Access": 40, "Storage": 40}), label_col="label",
                         title_col="title", body_col="body", min_per_class=5, val_frac=0.25, test_frac=0.0)


@pytest.fixture(scope="module")
def imbalanced():
    return prepare_frame(_synthetic({"Hardware": 64, "Access": 20, "Storage": 10}, seed=1), label_col="label",
                         title_col="title", body_col="body", min_per_class=5, val_frac=0.25, test_frac=0.0)


class Recorder:
    def __init__(self):
        self.events: list = []

    def __call__(self, ev):
        self.events.append(ev)

    def of(self, cls):
        return [e for e in self.events if isinstance(e, cls)]


def _check_metrics(m: dict) -> None:
    for split in ("val",) + (("test",) if "test" in m else ()):
        r = m[split]
        for k in ("accuracy", "macro_f1", "weighted_f1", "macro_precision", "macro_recall"):
            assert 0.0 <= r[k] <= 1.0, (split, k, r[k])
        for pc in r["per_class"].values():
            assert 0.0 <= pc["f1"] <= 1.0
    assert 0.0 <= m["ece_before"] <= 1.0 and 0.0 <= m["ece_after"] <= 1.0
    assert 0.05 <= m["temperature"] <= 20
    json.dumps(m)        # stored in bundle.json


# ---- learning ---------------------------------------------------------------------------------
def test_loss_falls_on_separable_set(tiny_checkpoint, separable):
    rec = Recorder()
    cfg = TrainConfig.quick(base_model=str(tiny_checkpoint), head_epochs=25, head_lr=3e-2, batch_size=16,
                            max_length=32, patience=0, precision="fp32")
    res = train(cfg, separable, rec)
    assert res.status == "finished"
    epochs = rec.of(EpochEvent)
    assert len(epochs) == 25
    assert epochs[-1].train_loss < 0.7 * epochs[0].train_loss
    assert epochs[-1].val_loss < 0.8 * epochs[0].val_loss
    steps = rec.of(StepEvent)
    assert steps[-1].loss < steps[0].loss
    assert res.metrics["val"]["accuracy"] > 0.6          # chance is 1/3
    _check_metrics(res.metrics)


# ---- presets ----------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["quick", "standard", "full", "seed"])
def test_each_preset_runs(preset, tiny_checkpoint, sample_data):
    kw = dict(base_model=str(tiny_checkpoint), head_epochs=2, max_steps=3, batch_size=16)
    if preset in ("standard", "full"):
        kw["finetune_epochs"] = 1
    if preset != "seed":
        kw["max_length"] = 64
    cfg = TrainConfig.from_preset(preset, **kw)
    assert cfg.preset == preset
    rec = Recorder()
    res = train(cfg, sample_data, rec)
    assert res.status == "finished" and not res.cancelled
    assert isinstance(rec.events[-1], FinishedEvent)
    _check_metrics(res.metrics)
    assert res.labels == sample_data.labels
    assert res.val_logits.shape == (len(sample_data.val), len(sample_data.labels))
    assert np.isfinite(res.val_logits).all()
    phases = [e.phase for e in rec.of(PhaseEvent)]
    assert ("finetune" in phases) == (preset in ("standard", "full"))
    # max_steps caps each phase, and the last step of a phase is always reported
    for ph, n in (("head", 3), ("finetune", 3)):
        st = [e for e in rec.of(StepEvent) if e.phase == ph]
        if ph == "finetune" and preset not in ("standard", "full"):
            assert not st
            continue
        # step events are rate-limited, so count from the last step of the previous phase
        before = [e.step for e in rec.of(StepEvent) if e.phase != ph and e.step < st[-1].step]
        assert st[-1].step - (max(before) if before else 0) == n
    assert rec.of(StepEvent)[-1].step == rec.of(StepEvent)[-1].total_steps
    if preset == "seed":
        assert res.config.pooling == "pooler" and res.config.pad_to_max
        assert res.metrics["precision_used"] == "fp32"


def test_finetune_only_without_head_phase(tiny_checkpoint, sample_data):
    rec = Recorder()
    cfg = tiny_config(tiny_checkpoint, head_epochs=0, finetune_epochs=1, max_steps=2)
    res = train(cfg, sample_data, rec)
    assert res.status == "finished"
    phases = [e.phase for e in rec.of(PhaseEvent)]
    assert phases == ["prepare", "finetune", "calibrate"]
    assert [e.step for e in rec.of(StepEvent)] == [1, 2]
    assert [e.phase for e in rec.of(EpochEvent)] == ["finetune"]


# ---- events -----------------------------------------------------------------------------------
class ManualClock:
    """A fake clock that reads whatever the test set last."""

    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class TickingClock:
    """A fake clock that moves ``tick`` seconds on every read."""

    def __init__(self, tick: float):
        self.tick, self.reads = tick, 0

    def __call__(self) -> float:
        t = self.reads * self.tick
        self.reads += 1
        return t


def test_emitter_rate_limits_step_events_by_its_clock():
    clock = ManualClock(100.0)
    rec = Recorder()
    em = _Emitter(rec, per_s=4, clock=clock)          # at most one unforced step event per 0.25 s
    # 33 steps 1/16 s apart (about 2 s of fake time), 8 samples each; step 10 ends an epoch
    for s in range(1, 34):
        clock.t = 100.0 + s / 16
        em.step("head", s, 40, s / 10, float(s), 0.1, 8, force=s == 10)
    assert all(isinstance(e, StepEvent) for e in rec.events)
    # the first passes, then one every 4 ticks (0.25 s); the forced one passes and restarts the gap
    assert [e.step for e in rec.events] == [1, 5, 9, 10, 14, 18, 22, 26, 30]
    e5 = rec.events[1]
    assert e5.loss == pytest.approx(np.mean([2, 3, 4, 5]))      # the loss averaged since the last event
    assert e5.samples_per_s == pytest.approx(4 * 8 / (4 / 16))  # samples since the last event / its fake time
    assert rec.events[0].samples_per_s == pytest.approx(8 / (1 / 16))
    assert rec.events[3].loss == 10.0 and (rec.events[3].phase, rec.events[3].total_steps) == ("head", 40)
    # forced: passes at once, even 0 s after the previous event; unforced at that instant does not
    em.step("head", 34, 40, 3.4, 1.0, 0.1, 8, force=True)
    em.step("head", 35, 40, 3.5, 1.0, 0.1, 8)
    assert [e.step for e in rec.events][-2:] == [30, 34]
    clock.t += 0.25
    em.step("head", 36, 40, 3.6, 1.0, 0.1, 8)
    assert rec.events[-1].step == 36


def test_emitter_first_event_and_no_limit():
    rec = Recorder()
    em = _Emitter(rec, per_s=4, clock=ManualClock(0.0))
    em.step("head", 1, 9, 0.1, 1.0, 0.1, 8)             # the first one passes even at time 0
    em.step("head", 2, 9, 0.2, 1.0, 0.1, 8)
    assert [e.step for e in rec.events] == [1]
    rec = Recorder()
    em = _Emitter(rec, per_s=0, clock=ManualClock(0.0))  # 0: no rate limit
    for s in range(1, 6):
        em.step("head", s, 9, s / 10, 1.0, 0.1, 8)
    assert [e.step for e in rec.events] == [1, 2, 3, 4, 5]
    ev = PhaseEvent("head", "x", 9)
    em(ev)                                                # other events pass straight through
    assert rec.events[-1] is ev


def test_event_sequence_and_step_rate(tiny_checkpoint, sample_data, monkeypatch):
    made = []

    def emitter(on_event, per_s):
        # the loop's emitter on a fake clock that moves 1/16 s per step: deterministic step events
        made.append(per_s)
        return _Emitter(on_event, per_s, clock=TickingClock(1 / 16))

    monkeypatch.setattr(trainer_loop, "_Emitter", emitter)
    rec = Recorder()
    cfg = tiny_config(tiny_checkpoint, head_epochs=6, finetune_epochs=1, batch_size=4, max_length=32,
                      step_events_per_s=4, precision="fp32")
    res = train(cfg, sample_data, rec)
    assert made == [4]                                    # the config's rate reaches the emitter
    ev = rec.events
    assert isinstance(ev[0], PhaseEvent) and ev[0].phase == "prepare"
    assert isinstance(ev[-1], FinishedEvent) and ev[-1].metrics is res.metrics
    assert not rec.of(CancelledEvent) and not rec.of(FailedEvent)
    assert [e.phase for e in rec.of(PhaseEvent)] == ["prepare", "features", "head", "finetune", "calibrate"]
    per_epoch = math.ceil(len(sample_data.train) / 4)
    head_ph = next(e for e in rec.of(PhaseEvent) if e.phase == "head")
    assert head_ph.total_steps == 6 * per_epoch
    # steps increase, every epoch ends with a (forced) step event of the same step
    steps = rec.of(StepEvent)
    assert all(b.step > a.step for a, b in zip(steps, steps[1:]))
    assert all(s.total_steps == 7 * per_epoch for s in steps)
    for i, e in enumerate(ev):
        if isinstance(e, EpochEvent):
            prev = next(p for p in reversed(ev[:i]) if isinstance(p, StepEvent))
            assert prev.step == e.step and prev.phase == e.phase and prev.epoch == pytest.approx(e.epoch)
    epochs = rec.of(EpochEvent)
    assert [(e.phase, e.epoch) for e in epochs] == [("head", i) for i in range(1, 7)] + [("finetune", 1)]
    assert epochs[-1].step == 7 * per_epoch
    for e in rec.of(ProgressEvent):
        assert 1 <= e.done <= e.total
    # the phase order of all events: no step of a phase before its PhaseEvent
    seen = set()
    for e in ev:
        if isinstance(e, PhaseEvent):
            seen.add(e.phase)
        elif isinstance(e, (StepEvent, EpochEvent)):
            assert e.phase in seen
    # rate: one step per 1/16 s at 4 events a second -> the first step, then every 4th step since
    # the last event, plus the forced last step of each epoch
    expected, last = [], None
    for k in range(1, 7 * per_epoch + 1):
        if k % per_epoch == 0 or last is None or k - last >= 4:
            expected.append(k)
            last = k
    assert [s.step for s in steps] == expected
    assert len(steps) < 7 * per_epoch / 2
    forced = [s for s in steps if abs(s.epoch - round(s.epoch)) < 1e-9]
    unforced = [s for s in steps if abs(s.epoch - round(s.epoch)) >= 1e-9]
    assert [s.step for s in forced] == [i * per_epoch for i in range(1, 8)]
    assert any(s.phase == "finetune" for s in unforced), "the fine-tuning epoch reports progress between epochs"


# ---- cancel and resume ------------------------------------------------------------------------
def _only_safetensors_and_json(folder: Path) -> None:
    names = sorted(p.name for p in folder.iterdir())
    assert names and all(n.endswith((".safetensors", ".json")) for n in names), names
    for p in folder.iterdir():
        head = p.read_bytes()[:16]
        assert not head.startswith(b"\x80"), f"{p.name} looks like a pickle"
        assert not head.startswith(b"PK"), f"{p.name} looks like a torch.save zip"


def test_cancel_mid_epoch_then_resume(tiny_checkpoint, sample_data, tmp_path):
    ckpt = tmp_path / "ckpt"
    per_epoch = math.ceil(len(sample_data.train) / 16)
    cfg = tiny_config(tiny_checkpoint, head_epochs=2, finetune_epochs=2, max_length=64,
                      step_events_per_s=1000, precision="fp32")
    rec = Recorder()

    def should_stop():
        # stop after the second step event of the second fine-tuning epoch
        return sum(1 for e in rec.of(StepEvent) if e.phase == "finetune" and e.epoch > 1) >= 2

    res = train(cfg, sample_data, rec, should_stop, checkpoint_dir=ckpt)
    assert res.status == "cancelled" and res.cancelled and res.model is None
    assert isinstance(rec.events[-1], CancelledEvent)
    assert rec.events[-1].checkpoint_dir == str(ckpt)
    assert not rec.of(FinishedEvent)
    saved_step = 3 * per_epoch                       # 2 head epochs + 1 fine-tuning epoch
    assert max(e.step for e in rec.of(StepEvent)) == saved_step + 2
    # the checkpoint of the previous epoch is intact, loadable, and only safetensors + JSON
    assert sorted(p.name for p in ckpt.iterdir()) == ["last"]
    _only_safetensors_and_json(ckpt / "last")
    ck = load_checkpoint(ckpt)
    assert ck["state"]["step"] == saved_step
    assert ck["state"]["phase"] == "finetune" and ck["state"]["epoch"] == 1
    assert ck["labels"] == sample_data.labels
    assert TrainConfig(**ck["config"]) == cfg
    assert ck["opt_tensors"] and ck["best"] is not None
    saved_s = ck["state"]["train_seconds"]
    assert 0 < saved_s < res.elapsed_s
    m = DualBertClassifier.from_pretrained(str(tiny_checkpoint), None, len(sample_data.labels))
    m.load_state_dict(ck["model"])                    # strict: every tensor there
    # resume: continues the step count and finishes
    rec2 = Recorder()
    res2 = train(cfg, sample_data, rec2, resume=str(ckpt), checkpoint_dir=ckpt)
    assert res2.status == "finished"
    steps = rec2.of(StepEvent)
    assert steps[0].step == saved_step + 1 > saved_step
    assert steps[-1].step == 4 * per_epoch
    assert [e.phase for e in rec2.of(PhaseEvent)] == ["prepare", "finetune", "calibrate"]
    assert [(e.phase, e.epoch) for e in rec2.of(EpochEvent)] == [("finetune", 2)]
    assert len(res2.metrics["history"]) == 4          # history carried over from the checkpoint
    # the time before the resume counts in the reported training time
    assert res2.metrics["train_seconds"] == pytest.approx(saved_s + res2.elapsed_s)
    assert load_checkpoint(ckpt)["state"]["step"] == 4 * per_epoch
    _only_safetensors_and_json(ckpt / "last")


def test_cancel_before_any_checkpoint(tiny_checkpoint, sample_data, tmp_path):
    rec = Recorder()
    res = train(tiny_config(tiny_checkpoint), sample_data, rec, should_stop=lambda: True,
                checkpoint_dir=tmp_path / "ck")
    assert res.status == "cancelled"
    assert isinstance(rec.events[-1], CancelledEvent) and rec.events[-1].checkpoint_dir is None
    assert not rec.of(StepEvent)


def test_resume_with_other_labels_is_refused(tiny_checkpoint, sample_data, separable, tmp_path):
    ckpt = tmp_path / "ck"
    train(tiny_config(tiny_checkpoint, head_epochs=1, finetune_epochs=0, max_steps=1), sample_data,
          checkpoint_dir=ckpt)
    rec = Recorder()
    with pytest.raises(ValueError, match="labels"):
        train(tiny_config(tiny_checkpoint), separable, rec, resume=str(ckpt))
    assert isinstance(rec.events[-1], FailedEvent)


# ---- early stopping ---------------------------------------------------------------------------
def test_early_stopping_restores_best_weights(tiny_checkpoint, sample_data, tmp_path):
    ckpt = tmp_path / "ck"
    cfg = TrainConfig.quick(base_model=str(tiny_checkpoint), head_epochs=40, head_lr=1e-4, patience=1,
                            batch_size=16, max_length=64, precision="fp32", warmup_ratio=0.0)
    res = train(cfg, sample_data, checkpoint_dir=ckpt)
    hist = res.metrics["history"]
    assert len(hist) < 40, "patience 1 should stop long before 40 epochs"
    f1 = [h["val_macro_f1"] for h in hist]
    best = res.metrics["best_epoch"]
    assert best == int(np.argmax(f1)) + 1             # first epoch with the best val macro-F1
    assert hist[-1]["epoch"] == best + cfg.patience + 1
    # the returned model carries the best epoch's weights, not the last epoch's
    ck = load_checkpoint(ckpt)
    w = res.model.classifier.weight.detach()
    assert torch.equal(w, ck["best"]["classifier.weight"])
    assert not torch.equal(w, ck["model"]["classifier.weight"])
    assert res.metrics["val"]["macro_f1"] == pytest.approx(f1[best - 1], abs=1e-6)


# ---- loss weighting and precision -------------------------------------------------------------
def test_class_weighted_and_unweighted_loss(tiny_checkpoint, imbalanced):
    w = imbalanced.class_weights
    assert w is not None and w.max() > 2 * w.min()
    first = {}
    for cw in (True, False):
        rec = Recorder()
        cfg = TrainConfig.quick(base_model=str(tiny_checkpoint), head_epochs=2, batch_size=16,
                                max_length=32, class_weights=cw, precision="fp32")
        res = train(cfg, imbalanced, rec)
        assert res.status == "finished"
        _check_metrics(res.metrics)
        first[cw] = rec.of(StepEvent)[0].loss
    # same seed, same batch, same initial head: only the weights differ
    assert first[True] != pytest.approx(first[False], rel=1e-4)


@pytest.mark.parametrize("precision,used", [("bf16", "bfloat16"), ("fp32", "fp32")])
def test_precision_paths(precision, used, tiny_checkpoint, sample_data):
    cfg = tiny_config(tiny_checkpoint, head_epochs=1, finetune_epochs=1, max_steps=2, precision=precision)
    res = train(cfg, sample_data)
    assert res.status == "finished"
    assert res.metrics["precision_used"] == used
    assert np.isfinite(res.val_logits).all()
    assert all(p.dtype == torch.float32 for p in res.model.parameters())   # autocast, not casting
    _check_metrics(res.metrics)


# ---- frozen bottom layers cached in phase 2 -----------------------------------------------------
@pytest.fixture(scope="module")
def no_dropout_checkpoint(tiny_checkpoint, tmp_path_factory):
    """The tiny BERT without dropout, so runs with and without the layer cache are comparable."""
    import shutil

    out = tmp_path_factory.mktemp("nodrop") / "tiny"
    shutil.copytree(tiny_checkpoint, out)
    cfg = json.loads((out / "config.json").read_text())
    cfg.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (out / "config.json").write_text(json.dumps(cfg))
    return out


def test_top_layers_on_cached_states_equal_the_full_forward(no_dropout_checkpoint, sample_csv):
    from trainer.batching import Encoded, cache_layers
    from trainer.model import tokenizer_file
    from triage_app.tokens import load_tokenizer

    sample_data = prepare_frame(pd.read_csv(sample_csv, dtype=str, keep_default_na=False),
                                label_col="category", title_col="title", body_col="body",
                                routing="split", min_per_class=5, test_frac=0.0)
    model = DualBertClassifier.from_pretrained(str(no_dropout_checkpoint), None, len(sample_data.labels))
    model.eval()
    enc = Encoded(load_tokenizer(tokenizer_file(str(no_dropout_checkpoint)), 64), sample_data.train)
    assert enc.b is not enc.a                      # title/body: the towers read different text
    cfg = TrainConfig.standard(eval_batch_size=8)
    seen = []
    cache = cache_layers(model, enc, 1, False, cfg, torch.device("cpu"),
                          lambda: torch.autocast("cpu", enabled=False), lambda: False, seen.append,
                          None)
    assert seen and seen[-1].done == seen[-1].total
    assert cache.hid_a.shape == (sum(len(x) for x in enc.a), 32)
    idx = np.array([5, 0, 17, 3, 30])
    with torch.no_grad():
        t, y = cache.batch(idx, "cpu")
        got = model.logits_from_layer(1, *t)
        ref_t, ref_y = enc.batch(idx, "cpu")
        want = model(*ref_t)
    assert torch.equal(y, ref_y)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    # the tower is whole again afterwards
    assert len(model.tower_a.encoder.layer) == 2 and model.tower_a.embeddings.__class__.__name__ == "BertEmbeddings"


def test_finetune_with_layer_cache_matches_uncached_training(no_dropout_checkpoint, sample_data, monkeypatch):
    import trainer.loop as loop

    built = []
    real = loop.cache_layers
    monkeypatch.setattr(loop, "cache_layers", lambda *a, **k: built.append(real(*a, **k)) or built[-1])
    kw = dict(head_epochs=2, finetune_epochs=2, finetune_layers=1, precision="fp32", dropout=0.0,
              max_length=48)
    runs = {}
    for cached in (True, False):
        rec = Recorder()
        res = train(tiny_config(no_dropout_checkpoint, cache_layers=cached, **kw), sample_data, rec)
        assert res.status == "finished"
        runs[cached] = (res, rec)
    res_c, rec_c = runs[True]
    msgs = [e.message for e in rec_c.of(PhaseEvent) if e.phase == "cache"]
    assert len(msgs) == 1 and "1 frozen bottom layers" in msgs[0]
    assert [e for e in rec_c.of(ProgressEvent) if e.phase == "cache"]
    assert not [e for e in runs[False][1].of(PhaseEvent) if e.phase == "cache"]
    # train and val cached; same base and same text in both towers: one cache serves both
    assert len(built) == 2 and all(c.hid_b is c.hid_a for c in built)
    assert [len(c.y) for c in built] == [len(sample_data.train), len(sample_data.val)]
    # same trajectory: the cache changes the cost, not the maths
    la = [e.train_loss for e in rec_c.of(EpochEvent) if e.phase == "finetune"]
    lb = [e.train_loss for e in runs[False][1].of(EpochEvent) if e.phase == "finetune"]
    np.testing.assert_allclose(la, lb, rtol=1e-4)
    np.testing.assert_allclose(res_c.val_logits, runs[False][0].val_logits, atol=1e-3)
    # the bottom layer stayed frozen, the top one trained
    base = DualBertClassifier.from_pretrained(str(no_dropout_checkpoint), None, len(sample_data.labels))
    for tower, ref in ((res_c.model.tower_a, base.tower_a), (res_c.model.tower_b, base.tower_b)):
        b0 = dict(tower.encoder.layer[0].named_parameters())
        for n, p in ref.encoder.layer[0].named_parameters():
            assert torch.equal(p, b0[n]), n
        top = dict(tower.encoder.layer[1].named_parameters())
        assert any(not torch.equal(p, top[n]) for n, p in ref.encoder.layer[1].named_parameters())


def test_layer_cache_over_memory_budget_trains_uncached(no_dropout_checkpoint, sample_data, monkeypatch):
    import trainer.loop as loop

    monkeypatch.setattr(loop, "memory_budget", lambda: 1024)
    rec = Recorder()
    res = train(tiny_config(no_dropout_checkpoint, head_epochs=1, finetune_layers=1, max_steps=2),
                sample_data, rec)
    assert res.status == "finished"
    msgs = [e.message for e in rec.of(PhaseEvent) if e.phase == "cache"]
    assert len(msgs) == 1 and msgs[0].startswith("not caching") and "memory budget" in msgs[0]
    assert not [e for e in rec.of(ProgressEvent) if e.phase == "cache"]


def test_cancel_while_caching_layers(no_dropout_checkpoint, sample_data, tmp_path):
    rec = Recorder()

    def should_stop():
        return any(isinstance(e, ProgressEvent) and e.phase == "cache" for e in rec.events)

    res = train(tiny_config(no_dropout_checkpoint, head_epochs=1, finetune_layers=1), sample_data, rec,
                should_stop, checkpoint_dir=tmp_path / "ck")
    assert res.status == "cancelled" and res.model is None
    assert isinstance(rec.events[-1], CancelledEvent)
    assert not [e for e in rec.of(StepEvent) if e.phase == "finetune"]


def test_identical_bottoms_share_one_cache(no_dropout_checkpoint):
    m = DualBertClassifier.from_pretrained(str(no_dropout_checkpoint), None, 3)
    assert m.bottoms_identical(1) and m.bottoms_identical(2)
    with torch.no_grad():
        m.tower_b.encoder.layer[1].output.dense.weight.add_(1.0)
    assert m.bottoms_identical(1) and not m.bottoms_identical(2)
    with torch.no_grad():
        m.tower_b.embeddings.word_embeddings.weight[5].add_(1.0)
    assert not m.bottoms_identical(1)


def test_finish_early_keeps_the_best_epoch_and_still_calibrates(tiny_checkpoint, sample_data, one_torch_thread):
    """'Stop, keep best': training ends within the epoch it is asked in, skips the rest
    (also phase 2), says why, and returns a finished result with the best epoch's weights."""
    from tests.conftest import tiny_config
    from trainer.events import PhaseEvent
    from trainer.loop import train

    events, epochs = [], []

    def on_event(ev):
        events.append(ev)
        if type(ev).__name__ == "EpochEvent":
            epochs.append((ev.phase, ev.epoch))

    res = train(tiny_config(tiny_checkpoint, head_epochs=20, finetune_epochs=2), sample_data, on_event,
                finish_early=lambda: len(epochs) >= 2)
    assert res.status == "finished" and res.metrics["stopped_early"] == "requested"
    assert epochs == [("head", 1), ("head", 2)]                  # no third head epoch, no phase 2
    notes = [e.message for e in events if isinstance(e, PhaseEvent) and e.phase == "note"]
    assert len(notes) == 1 and notes[0].startswith("stopped at your request after head epoch 2")
    assert res.metrics["best_epoch"] in (1, 2) and res.temperature > 0


def test_early_stopping_says_why(tiny_checkpoint, sample_data, one_torch_thread):
    from tests.conftest import tiny_config
    from trainer.events import PhaseEvent
    from trainer.loop import train

    events = []
    res = train(tiny_config(tiny_checkpoint, head_epochs=40, head_lr=1e-6, finetune_epochs=0, patience=1),
                sample_data, events.append)
    notes = [e.message for e in events if isinstance(e, PhaseEvent) and e.phase == "note"]
    assert res.metrics["stopped_early"] == "patience" and len(notes) == 1
    assert "early stopping after head epoch" in notes[0] and "has not improved for 2 epochs" in notes[0]
