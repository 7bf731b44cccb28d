"""trainer.evaluate: report numbers, calibration, confusion PNG, TF-IDF baseline."""
from __future__ import annotations

import numpy as np
import pytest

from trainer.evaluate import classification_report, confusion_png, ece, fit_temperature, softmax, tfidf_baseline


def test_classification_report_hand_example():
    #          class 0   class 1   class 2
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    r = classification_report(y, pred, ["a", "b", "c"])
    # a: tp 1 fp 1 fn 1 -> P 1/2 R 1/2 F1 1/2
    # b: tp 2 fp 1 fn 0 -> P 2/3 R 1   F1 4/5
    # c: tp 1 fp 0 fn 1 -> P 1   R 1/2 F1 2/3
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["n"] == 6
    pc = r["per_class"]
    assert pc["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert pc["b"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert pc["c"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert r["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert r["weighted_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)      # equal supports
    assert r["macro_precision"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert r["macro_recall"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert r["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_classification_report_weighted_and_absent_class():
    y = np.array([0, 0, 0, 1])
    pred = np.array([0, 0, 1, 1])
    r = classification_report(y, pred, ["a", "b", "never"])
    # a: P 1 R 2/3 F1 0.8 (support 3); b: P 1/2 R 1 F1 2/3 (support 1); never: all 0, no NaN
    assert r["weighted_f1"] == pytest.approx((3 * 0.8 + 1 * 2 / 3) / 4)
    assert r["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 0) / 3)
    assert r["per_class"]["never"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert r["confusion"] == [[2, 1, 0], [0, 1, 0], [0, 0, 0]]


def _overconfident(n=4000, k=4, scale=2.0, seed=0):
    """A calibrated model about 70 % right (labels drawn from its own softmax), then its logits
    scaled x10: nearly 100 % confident, still 70 % right."""
    rng = np.random.default_rng(seed)
    z0 = rng.normal(0, scale, (n, k))
    p = softmax(z0)
    y = (rng.random(n)[:, None] > p.cumsum(1)).sum(1)
    return z0 * 10, y


def test_fit_temperature_lowers_ece_on_overconfident_logits():
    z, y = _overconfident()
    assert abs((z.argmax(1) == y).mean() - 0.7) < 0.03
    before = ece(z, y, 1.0)
    assert before > 0.2                        # ~97 % confident, ~70 % right
    t = fit_temperature(z, y)
    assert 7 < t < 13                          # undoes the x10
    after = ece(z, y, t)
    assert after < before / 5
    assert after < 0.05
    # temperature never changes the predicted class
    assert np.array_equal(softmax(z, t).argmax(1), z.argmax(1))


def test_log_loss_is_the_labels_mean_negative_log_probability():
    from trainer.evaluate import log_loss

    z = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [30.0, -30.0, 0.0]])
    y = np.array([0, 2, 1])
    p = softmax(z)
    assert log_loss(z, y) == pytest.approx(-np.mean(np.log(p[np.arange(3), y])), rel=1e-12)
    assert log_loss(z, y, 2.0) == pytest.approx(-np.mean(np.log(softmax(z, 2.0)[np.arange(3), y])), rel=1e-12)
    # the floor caps the hopeless third row (p ~ 1e-26) at -log(1e-12)
    floored = -np.mean(np.log(np.clip(p[np.arange(3), y], 1e-12, None)))
    assert log_loss(z, y, floor=1e-12) == pytest.approx(floored, rel=1e-12) and floored < log_loss(z, y)


def test_fit_temperature_near_one_when_calibrated():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, (4000, 3))
    p = softmax(z)
    y = np.array([rng.choice(3, p=row) for row in p])      # labels drawn from the model itself
    assert 0.85 < fit_temperature(z, y) < 1.15


def test_ece_perfect_and_bounds():
    z = np.array([[10.0, 0.0], [0.0, 10.0]])
    assert ece(z, np.array([0, 1])) < 1e-3
    assert 0.99 < ece(z, np.array([1, 0])) <= 1.0


def test_confusion_png_writes_a_png(tmp_path):
    cm = [[5, 1, 0], [2, 7, 1], [0, 0, 9]]
    out = confusion_png(cm, ["Hardware", "Access", "A long label name"], tmp_path / "c.png", title="t")
    data = (tmp_path / "c.png").read_bytes()
    assert out == str(tmp_path / "c.png")
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_tfidf_baseline_on_sample_tickets(sample_data):
    d = sample_data
    r = tfidf_baseline(d.train.text_a, d.train.y, d.val.text_a, d.val.y, d.labels)
    assert r["n"] == len(d.val)
    assert set(r["per_class"]) == set(d.labels)
    for k in ("accuracy", "macro_f1", "weighted_f1"):
        assert 0.0 <= r[k] <= 1.0
    assert r["accuracy"] > 1.5 / len(d.labels)      # clearly better than chance on 8 classes
