"""Threshold maths and uncertainty for the review queue.  numpy + stdlib only.

Definitions used throughout
---------------------------
* ``probs`` is an ``(n, k)`` array of class probabilities (rows sum to ~1);
  the *predicted class* of a ticket is ``argmax(probs[i])`` and its
  *confidence* is ``max(probs[i])``.
* ``y_true`` holds the true classes, either as integer indices into
  ``labels`` or as label strings (then ``labels`` is needed to map them; a
  string that is not in ``labels`` never counts as correct).
* A ticket is **auto-routed** when its confidence is ``>=`` the threshold of
  its predicted class: the class threshold when one is set (not ``None``),
  else the global threshold.  Everything else needs review.
* **coverage** = auto-routed / all tickets considered (``0.0`` when there are
  no tickets at all).
* **precision** = correct / auto-routed.  When nothing is auto-routed the
  precision is defined as ``1.0`` (no routed ticket is wrong), so a curve
  always ends at precision 1.0 once the threshold exceeds every confidence.
* Per class figures are *by predicted class*: for class ``c`` only the
  tickets predicted as ``c`` are considered, and coverage is relative to
  those tickets (``n`` = how many were predicted as ``c``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

#: The threshold grid: 0.00, 0.01, ..., 1.00 (rounded so 0.29 is exactly 0.29).
GRID = np.round(np.linspace(0.0, 1.0, 101), 2)

__all__ = [
    "GRID",
    "needs_review",
    "review_order",
    "routed_summary",
    "suggest",
    "threshold_curve",
    "uncertainty",
]


# --------------------------------------------------------------------------- helpers
def _as_probs(probs) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    if p.ndim == 1:
        p = p.reshape(1, -1) if p.size else p.reshape(0, 0)
    if p.ndim != 2:
        raise ValueError(f"probs must be a 2-D (n, k) array, got shape {p.shape}")
    return p


def _scored(probs, y_true, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(predicted class, confidence, correct)`` per row of ``probs`` against ``y_true``."""
    p = _as_probs(probs)
    n = p.shape[0]
    y = _true_index(y_true, labels, n)
    pred = p.argmax(axis=1) if n else np.zeros(0, dtype=int)
    conf = p.max(axis=1) if n else np.zeros(0)
    return pred, conf, pred == y


def _true_index(y_true, labels, n: int) -> np.ndarray:
    """Map ``y_true`` (indices or label strings) to class indices; unknown -> -1."""
    y = np.asarray(y_true)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"y_true must be 1-D with {n} entries, got shape {y.shape}")
    if n == 0:
        return np.zeros(0, dtype=int)
    if y.dtype.kind in "iu":
        return y.astype(int)
    if y.dtype.kind == "b":
        raise ValueError("y_true must hold class indices or label strings, not booleans")
    if y.dtype.kind == "f":
        if np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            return y.astype(int)
        raise ValueError("y_true holds non-integer numbers")
    if labels is None:
        raise ValueError("y_true holds label strings: pass labels to map them to classes")
    index = {str(lab): i for i, lab in enumerate(labels)}
    return np.array([index.get(str(v), -1) for v in y], dtype=int)


def _class_index(cls, labels) -> int:
    if isinstance(cls, (int, np.integer)) and not isinstance(cls, bool):
        return int(cls)
    if labels is None:
        raise ValueError(f"class {cls!r} given by name: pass labels to resolve it")
    names = [str(lab) for lab in labels]
    if str(cls) not in names:
        raise ValueError(f"unknown class {cls!r}; known: {names}")
    return names.index(str(cls))


def _threshold_per_row(pred: np.ndarray, global_t: float, class_t, labels) -> np.ndarray:
    """The threshold that applies to each ticket (by predicted class)."""
    t = np.full(len(pred), float(global_t), dtype=float)
    if not class_t:
        return t
    for key, value in class_t.items():
        if value is None:
            continue
        c = _class_index(key, labels)
        t[pred == c] = float(value)
    return t


def _prec_cov(conf: np.ndarray, correct: np.ndarray, thresholds: np.ndarray):
    """Precision and coverage arrays over ``thresholds`` for one group of tickets."""
    n = len(conf)
    routed = conf[None, :] >= thresholds[:, None]          # (t, n)
    n_routed = routed.sum(axis=1)
    n_correct = (routed & correct[None, :]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(n_routed > 0, n_correct / np.maximum(n_routed, 1), 1.0)
    coverage = n_routed / n if n else np.zeros(len(thresholds))
    return precision.astype(float), np.asarray(coverage, dtype=float)


# --------------------------------------------------------------------------- public API
def threshold_curve(probs, y_true, labels) -> dict:
    """Precision and coverage for every threshold of :data:`GRID`.

    Returns ``{"thresholds": ndarray(101), "global": {"precision": ndarray,
    "coverage": ndarray}, "per_class": {label: {"precision": ndarray,
    "coverage": ndarray, "n": int}}}``.  The global arrays apply the same
    threshold to every class; the per class arrays consider only the tickets
    predicted as that class (``n`` of them; coverage relative to ``n``;
    precision 1.0 and coverage 0.0 everywhere when ``n == 0``).
    """
    p = _as_probs(probs)
    labels = list(labels)
    if p.shape[0] and p.shape[1] != len(labels):
        raise ValueError(f"probs has {p.shape[1]} columns but there are {len(labels)} labels")
    pred, conf, correct = _scored(p, y_true, labels)
    thresholds = GRID.copy()
    g_prec, g_cov = _prec_cov(conf, correct, thresholds)
    per_class = {}
    for c, lab in enumerate(labels):
        mask = pred == c
        c_prec, c_cov = _prec_cov(conf[mask], correct[mask], thresholds)
        per_class[lab] = {"precision": c_prec, "coverage": c_cov, "n": int(mask.sum())}
    return {"thresholds": thresholds,
            "global": {"precision": g_prec, "coverage": g_cov},
            "per_class": per_class}


def suggest(probs, y_true, target_precision: float, cls=None, labels=None) -> dict:
    """What a threshold can do for ``target_precision``, honestly.

    Only thresholds that auto-route at least one ticket count (routing nothing is not a precision).
    Returns ``{"reached", "threshold", "precision", "coverage", "n", "note"}``: the smallest grid
    threshold that reaches the target (the most coverage); when none does, the threshold of the best
    reachable precision (ties: more coverage) with ``reached`` False and a note saying so; with no
    tickets (of ``cls``) ``threshold`` is None and the note says "no tickets"."""
    pred, conf, correct = _scored(probs, y_true, labels)
    if cls is not None:
        mask = pred == _class_index(cls, labels)
        conf, correct = conf[mask], correct[mask]
    k = len(conf)
    if k == 0:
        return {"reached": False, "threshold": None, "precision": None, "coverage": 0.0, "n": 0,
                "note": "no tickets"}
    precision, coverage = _prec_cov(conf, correct, GRID)
    routes = coverage > 0
    ok = np.flatnonzero(routes & (precision >= float(target_precision) - 1e-12))
    if len(ok):
        i = int(ok[0])
        return {"reached": True, "threshold": float(GRID[i]), "precision": float(precision[i]),
                "coverage": float(coverage[i]), "n": k, "note": ""}
    cand = np.flatnonzero(routes)
    best = precision[cand].max()
    i = int(cand[np.flatnonzero(precision[cand] >= best - 1e-12)[0]])   # the smallest such threshold
    return {"reached": False, "threshold": float(GRID[i]), "precision": float(precision[i]),
            "coverage": float(coverage[i]), "n": k,
            "note": (f"{float(target_precision):.0%} precision cannot be reached on these {k:,} tickets; the "
                     f"best is {precision[i]:.1%} with {coverage[i]:.1%} auto-routed (threshold {GRID[i]:.2f})")}


def routed_summary(probs, y_true, global_t: float, class_t: Mapping | None = None,
                   labels=None) -> dict:
    """What a threshold setting does on labelled data.

    ``class_t`` maps a class (label name, which needs ``labels``, or index) to
    its own threshold; ``None`` values fall back to ``global_t``.  Returns
    ``{"coverage", "precision", "routed", "correct", "total"}`` and, when
    ``labels`` is given, ``"per_class": {label: {"coverage", "precision",
    "n"}}`` (by predicted class).
    """
    pred, conf, correct = _scored(probs, y_true, labels)
    n = len(pred)
    t = _threshold_per_row(pred, global_t, class_t, labels)
    routed = conf >= t
    n_routed = int(routed.sum())
    n_correct = int((routed & correct).sum())
    out = {
        "coverage": n_routed / n if n else 0.0,
        "precision": n_correct / n_routed if n_routed else 1.0,
        "routed": n_routed,
        "correct": n_correct,
        "total": int(n),
    }
    if labels is not None:
        per = {}
        for c, lab in enumerate(labels):
            m = pred == c
            k = int(m.sum())
            r = int((routed & m).sum())
            ok = int((routed & m & correct).sum())
            per[lab] = {"coverage": r / k if k else 0.0,
                        "precision": ok / r if r else 1.0, "n": k}
        out["per_class"] = per
    return out


def needs_review(probs_row_or_conf, label, global_t: float,
                 class_t: Mapping | None = None) -> bool:
    """True when a prediction must be reviewed (is *not* auto-routed).

    ``probs_row_or_conf`` is the confidence itself or the probability row
    (its maximum is used); ``label`` is the predicted label, used to look up
    ``class_t`` (a ``None`` or missing entry means ``global_t``).  A NaN
    confidence always needs review.
    """
    arr = np.asarray(probs_row_or_conf, dtype=float)
    conf = float(arr) if arr.ndim == 0 else (float(arr.max()) if arr.size else float("nan"))
    t = global_t
    if class_t:
        value = class_t.get(label)
        if value is not None:
            t = value
    if math.isnan(conf):
        return True
    return not conf >= float(t)


def uncertainty(probs, kind: str = "margin") -> np.ndarray:
    """Per ticket uncertainty in ``[0, 1]``; higher means less sure.

    ``"margin"``: ``1 - (p1 - p2)`` with ``p1 >= p2`` the two largest
    probabilities (``p2 = 0`` with a single class).  ``"entropy"``: Shannon
    entropy divided by ``log(k)`` (``0`` when ``k == 1``).  A 1-D ``probs``
    is treated as one row; the result always has shape ``(n,)``.
    """
    p = _as_probs(probs)
    n, k = p.shape
    if n == 0:
        return np.zeros(0)
    if kind == "margin":
        if k == 1:
            top2 = np.concatenate([p, np.zeros((n, 1))], axis=1)
        else:
            top2 = np.sort(p, axis=1)[:, ::-1][:, :2]
        u = 1.0 - (top2[:, 0] - top2[:, 1])
    elif kind == "entropy":
        if k == 1:
            return np.zeros(n)
        q = np.clip(p, 0.0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0)
        u = -terms.sum(axis=1) / np.log(k)
    else:
        raise ValueError(f"unknown uncertainty kind {kind!r} (expected 'margin' or 'entropy')")
    return np.clip(u, 0.0, 1.0)


def review_order(probs, kind: str = "margin") -> np.ndarray:
    """Ticket indices, most uncertain first; ties keep their original order.

    Uncertainties are rounded to 12 decimals first so that float noise
    (``1 - (0.6 - 0.3)`` vs ``1 - (0.5 - 0.2)``) does not break ties.
    """
    u = np.round(uncertainty(probs, kind), 12)
    return np.argsort(-u, kind="stable")
