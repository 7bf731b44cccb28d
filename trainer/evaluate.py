"""Metrics, temperature scaling, expected calibration error, confusion-matrix PNG, TF-IDF baseline."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def classification_report(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    idx = list(range(len(labels)))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=idx, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "weighted_f1": float(f1_score(y, pred, labels=idx, average="weighted", zero_division=0)),
        "macro_f1": float(f1_score(y, pred, labels=idx, average="macro", zero_division=0)),
        "macro_precision": float(np.mean(p)), "macro_recall": float(np.mean(r)),
        "per_class": {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                            "support": int(s[i])} for i, lab in enumerate(labels)},
        "confusion": confusion_matrix(y, pred, labels=idx).tolist(),
        "n": int(len(y)),
    }


def ece(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0, bins: int = 15) -> float:
    """Expected calibration error of the top-1 confidence (equal-width bins)."""
    p = softmax(logits, temperature)
    conf = p.max(1)
    correct = (p.argmax(1) == y).astype(np.float64)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(conf[m].mean() - correct[m].mean())
    return float(total)


def log_loss(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0, floor: float | None = None) -> float:
    """Mean negative log-probability of each row's label under ``softmax(logits / temperature)``;
    ``floor``: probabilities below it count as ``floor`` (one hopeless row cannot dominate)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    y = np.asarray(y)
    lp = z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))
    return float(-np.mean(lp if floor is None else np.maximum(lp, np.log(floor))))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the validation NLL (golden-section search on log T)."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y)

    def nll(log_t):
        return log_loss(z, y, float(np.exp(log_t)), floor=1e-12)

    lo, hi = np.log(0.05), np.log(20.0)
    g = (np.sqrt(5) - 1) / 2
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    for _ in range(60):
        if nll(c) < nll(d):
            hi = d
        else:
            lo = c
        c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    return float(round(np.exp((lo + hi) / 2), 4))


def confusion_png(confusion, labels: list[str], path: str | os.PathLike, title: str = "") -> str:
    """Write a confusion-matrix heatmap (rows: true, columns: predicted) without pyplot.

    Atomic (:func:`triage_app.atomic.atomic_path`); the image format follows the extension of
    ``path`` (PNG without one), not the temporary name's ``.tmp``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from triage_app.atomic import atomic_path

    cm = np.asarray(confusion, dtype=float)
    n = len(labels)
    fig = Figure(figsize=(1.2 + 0.75 * n, 1.0 + 0.7 * n), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fmt = Path(path).suffix[1:].lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), format=fmt)
    return str(path)


def tfidf_baseline(train_texts, y_train, test_texts, y_test, labels) -> dict:
    """TF-IDF word 1-2 grams + class-balanced logistic regression (the yardstick)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    X = vec.fit_transform(train_texts)
    clf = LogisticRegression(max_iter=2000, class_weight="balanced", C=10.0)
    clf.fit(X, y_train)
    pred = clf.predict(vec.transform(test_texts))
    return classification_report(np.asarray(y_test), pred, labels)


def macro_f1(y: np.ndarray, pred: np.ndarray, n: int) -> float:
    f1s = []
    for c in range(n):
        tp = np.sum((pred == c) & (y == c))
        fp = np.sum((pred == c) & (y != c))
        fn = np.sum((pred != c) & (y == c))
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else 0.0
