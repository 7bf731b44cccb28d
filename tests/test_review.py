"""Threshold maths of triage_app.review against a hand-computed example."""
import numpy as np
import pytest

from triage_app import review

LABELS = ["A", "B", "C"]
# ticket: probabilities          true   predicted  confidence  correct
PROBS = np.array([
    [0.90, 0.05, 0.05],  # 0      A      A          0.90        yes
    [0.60, 0.30, 0.10],  # 1      B      A          0.60        no
    [0.20, 0.70, 0.10],  # 2      B      B          0.70        yes
    [0.10, 0.50, 0.40],  # 3      C      B          0.50        no
    [0.05, 0.15, 0.80],  # 4      C      C          0.80        yes
    [0.30, 0.30, 0.40],  # 5      C      C          0.40        yes
])
Y_IDX = np.array([0, 1, 1, 2, 2, 2])
Y_STR = np.array(["A", "B", "B", "C", "C", "C"])

# threshold -> (global precision, global coverage), worked out by hand:
#   t <= 0.40: all 6 routed, 4 correct          -> 4/6, 6/6
#   0.40 < t <= 0.50: tickets 0-4 routed, 3 ok   -> 3/5, 5/6
#   0.50 < t <= 0.60: tickets 0,1,2,4, 3 ok      -> 3/4, 4/6
#   0.60 < t <= 0.70: tickets 0,2,4, all ok      -> 1,   3/6
#   0.70 < t <= 0.80: tickets 0,4                -> 1,   2/6
#   0.80 < t <= 0.90: ticket 0                   -> 1,   1/6
#   t > 0.90: nothing routed (precision defined 1.0) -> 1, 0
EXPECTED_GLOBAL = {
    0.00: (4 / 6, 1.0), 0.40: (4 / 6, 1.0),
    0.41: (3 / 5, 5 / 6), 0.50: (3 / 5, 5 / 6),
    0.51: (3 / 4, 4 / 6), 0.60: (3 / 4, 4 / 6),
    0.61: (1.0, 3 / 6), 0.70: (1.0, 3 / 6),
    0.71: (1.0, 2 / 6), 0.80: (1.0, 2 / 6),
    0.81: (1.0, 1 / 6), 0.90: (1.0, 1 / 6),
    0.91: (1.0, 0.0), 1.00: (1.0, 0.0),
}
# per predicted class: A = tickets 0 (0.9 ok), 1 (0.6 wrong); B = 2 (0.7 ok), 3 (0.5 wrong);
# C = 4 (0.8 ok), 5 (0.4 ok)
EXPECTED_CLASS = {
    "A": {0.00: (0.5, 1.0), 0.60: (0.5, 1.0), 0.61: (1.0, 0.5), 0.90: (1.0, 0.5), 0.91: (1.0, 0.0)},
    "B": {0.00: (0.5, 1.0), 0.50: (0.5, 1.0), 0.51: (1.0, 0.5), 0.70: (1.0, 0.5), 0.71: (1.0, 0.0)},
    "C": {0.00: (1.0, 1.0), 0.40: (1.0, 1.0), 0.41: (1.0, 0.5), 0.80: (1.0, 0.5), 0.81: (1.0, 0.0)},
}


def _at(curve, t):
    idx = int(np.flatnonzero(np.isclose(curve["thresholds"], t))[0])
    return idx


@pytest.mark.parametrize("y", [Y_IDX, Y_STR], ids=["indices", "strings"])
def test_threshold_curve_global(y):
    curve = review.threshold_curve(PROBS, y, LABELS)
    th = curve["thresholds"]
    assert len(th) == 101 and th[0] == 0.0 and th[-1] == 1.0
    assert len(curve["global"]["precision"]) == 101
    assert len(curve["global"]["coverage"]) == 101
    for t, (prec, cov) in EXPECTED_GLOBAL.items():
        i = _at(curve, t)
        assert curve["global"]["precision"][i] == pytest.approx(prec), t
        assert curve["global"]["coverage"][i] == pytest.approx(cov), t
    # coverage never increases with the threshold
    assert np.all(np.diff(curve["global"]["coverage"]) <= 1e-12)


def test_threshold_curve_per_class():
    curve = review.threshold_curve(PROBS, Y_IDX, LABELS)
    assert set(curve["per_class"]) == set(LABELS)
    for lab, points in EXPECTED_CLASS.items():
        pc = curve["per_class"][lab]
        assert pc["n"] == 2
        for t, (prec, cov) in points.items():
            i = _at(curve, t)
            assert pc["precision"][i] == pytest.approx(prec), (lab, t)
            assert pc["coverage"][i] == pytest.approx(cov), (lab, t)


def test_threshold_curve_class_never_predicted():
    probs = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1]])
    curve = review.threshold_curve(probs, np.array([0, 1]), LABELS)
    c = curve["per_class"]["C"]
    assert c["n"] == 0
    assert np.all(c["precision"] == 1.0) and np.all(c["coverage"] == 0.0)


def test_threshold_curve_empty():
    curve = review.threshold_curve(np.zeros((0, 3)), np.zeros(0, dtype=int), LABELS)
    assert np.all(curve["global"]["precision"] == 1.0)
    assert np.all(curve["global"]["coverage"] == 0.0)


@pytest.mark.parametrize("target", [0.5, 0.6, 4 / 6])
def test_suggest_low_targets(target):
    # precision at t = 0 is 4/6 = 0.667, which already meets these targets
    s = review.suggest(PROBS, Y_IDX, target)
    assert s["reached"] and s["threshold"] == 0.0 and s["coverage"] == 1.0


@pytest.mark.parametrize("target, expected", [
    (0.7, 0.51),   # 4/6 = 0.667 and 3/5 = 0.6 fall short; 3/4 at 0.51
    (0.75, 0.51),
    (0.76, 0.61),
    (1.0, 0.61),
])
def test_suggest_global(target, expected):
    assert review.suggest(PROBS, Y_IDX, target)["threshold"] == pytest.approx(expected)


def test_suggest_unreachable_offers_the_best_precision_that_routes_tickets():
    s = review.suggest(PROBS, Y_IDX, 1.01)
    assert not s["reached"] and s["threshold"] == pytest.approx(0.61) and s["precision"] == 1.0
    assert s["coverage"] == pytest.approx(0.5)


def test_suggest_per_class():
    assert review.suggest(PROBS, Y_IDX, 1.0, cls=0)["threshold"] == pytest.approx(0.61)
    assert review.suggest(PROBS, Y_IDX, 1.0, cls="A", labels=LABELS)["threshold"] == pytest.approx(0.61)
    assert review.suggest(PROBS, Y_STR, 0.9, cls="B", labels=LABELS)["threshold"] == pytest.approx(0.51)
    assert review.suggest(PROBS, Y_IDX, 1.0, cls=2)["threshold"] == 0.0
    with pytest.raises(ValueError):
        review.suggest(PROBS, Y_IDX, 0.9, cls="B")  # name without labels


def test_routed_summary_global_and_class_thresholds():
    s = review.routed_summary(PROBS, Y_IDX, 0.5, {})
    assert s["coverage"] == pytest.approx(5 / 6) and s["precision"] == pytest.approx(3 / 5)
    # C needs 0.85: ticket 4 (0.8) and 5 (0.4) go to review; 0,1,2,3 routed, 0 and 2 correct
    s = review.routed_summary(PROBS, Y_IDX, 0.5, {"C": 0.85}, labels=LABELS)
    assert s["routed"] == 4 and s["correct"] == 2 and s["total"] == 6
    assert s["coverage"] == pytest.approx(4 / 6) and s["precision"] == pytest.approx(0.5)
    assert s["per_class"]["C"]["coverage"] == 0.0 and s["per_class"]["C"]["precision"] == 1.0
    # A needs 0.95 (0 and 1 to review), B None -> global 0.5: 2, 3, 4 routed; 2 and 4 correct
    s = review.routed_summary(PROBS, Y_STR, 0.5, {"A": 0.95, "B": None}, labels=LABELS)
    assert s["coverage"] == pytest.approx(3 / 6) and s["precision"] == pytest.approx(2 / 3)
    # nothing routed -> precision 1.0 by definition
    s = review.routed_summary(PROBS, Y_IDX, 0.99, None)
    assert s["coverage"] == 0.0 and s["precision"] == 1.0


def test_needs_review():
    assert review.needs_review(0.7, "A", 0.5, {"A": 0.8}) is True
    assert review.needs_review(0.7, "B", 0.5, {"A": 0.8}) is False
    assert review.needs_review(0.5, "B", 0.5, {}) is False           # >= threshold is routed
    assert review.needs_review(0.49, "B", 0.5, None) is True
    assert review.needs_review(np.array([0.2, 0.7, 0.1]), "B", 0.9, {"B": 0.7}) is False
    assert review.needs_review([0.2, 0.7, 0.1], "B", 0.5, {"B": 0.71}) is True
    assert review.needs_review(0.6, "C", 0.5, {"C": None}) is False  # None -> global
    assert review.needs_review(float("nan"), "C", 0.0, {}) is True


def test_uncertainty_margin_and_order():
    u = review.uncertainty(PROBS, "margin")
    # 1 - (p1 - p2) per ticket, by hand
    assert u == pytest.approx([0.15, 0.70, 0.50, 0.90, 0.35, 0.90])
    # tickets 3 and 5 tie at 0.9: stable order keeps 3 before 5
    assert list(review.review_order(PROBS, "margin")) == [3, 5, 1, 2, 4, 0]
    assert list(review.review_order(PROBS)) == [3, 5, 1, 2, 4, 0]


def test_uncertainty_entropy_and_order():
    probs = np.array([
        [1.0, 0.0, 0.0],      # entropy 0
        [0.5, 0.5, 0.0],      # ln2/ln3 = 0.6309;  margin 1.0
        [0.4, 0.3, 0.3],      # 0.9912;            margin 0.9
        [1 / 3, 1 / 3, 1 / 3],  # 1.0;             margin 1.0
    ])
    e = review.uncertainty(probs, "entropy")
    assert e == pytest.approx([0.0, np.log(2) / np.log(3), 0.99121, 1.0], abs=1e-4)
    assert np.all((e >= 0) & (e <= 1))
    assert list(review.review_order(probs, "entropy")) == [3, 2, 1, 0]
    # margin ranks [0.5, 0.5, 0] above [0.4, 0.3, 0.3]; ties (1 and 3) keep order
    assert list(review.review_order(probs, "margin")) == [1, 3, 2, 0]


def test_uncertainty_edge_cases():
    assert review.uncertainty(np.array([[1.0]]), "entropy") == pytest.approx([0.0])
    assert review.uncertainty(np.array([[1.0]]), "margin") == pytest.approx([0.0])
    assert review.uncertainty(np.array([0.6, 0.4]), "margin") == pytest.approx([0.8])
    assert len(review.review_order(np.zeros((0, 3)))) == 0
    with pytest.raises(ValueError):
        review.uncertainty(PROBS, "variance")


def test_suggest_says_when_the_target_is_reached_and_when_not():
    ok = review.suggest(PROBS, Y_IDX, 0.75)
    assert ok == {"reached": True, "threshold": 0.51, "precision": 0.75, "coverage": 4 / 6, "n": 6, "note": ""}
    # 100 % is reached by routing 3 tickets (t = 0.61), not by routing none
    assert review.suggest(PROBS, Y_IDX, 1.0)["threshold"] == pytest.approx(0.61)
    # class B: its 2 predicted tickets are one right (0.70), one wrong (0.50)
    b = review.suggest(PROBS, Y_IDX, 1.0, cls="B", labels=LABELS)
    assert b["reached"] and b["threshold"] == pytest.approx(0.51) and b["coverage"] == 0.5
    # an unreachable target: the best reachable precision and its coverage, said in words
    wrong = np.array([1, 0, 0, 0, 0, 0])      # only ticket 5 (C, 0.40) and ticket 4 are right
    u = review.suggest(PROBS, wrong, 0.9)
    assert not u["reached"] and u["threshold"] is not None and 0 < u["coverage"] <= 1
    assert u["precision"] < 0.9 and "90% precision cannot be reached on these 6 tickets" in u["note"]
    # a class nobody predicts
    none = review.suggest(PROBS[:3], Y_IDX[:3], 0.9, cls="C", labels=LABELS)
    assert none == {"reached": False, "threshold": None, "precision": None, "coverage": 0.0, "n": 0,
                    "note": "no tickets"}
