"""Batch results of a multi-target model: the columns of every target after the primary one
(``<target>``, ``<target> confidence``, ``<target> review``), kept as numpy arrays and display
strings next to :class:`~triage_app.gui.results_model.ResultsModel` (which shows the primary target
as ``Predicted`` / ``Confidence`` / ``Review``).  Plain Python and numpy: no widget here."""
from __future__ import annotations

import numpy as np

from triage_app import review
from triage_app.targets import TargetInfo, target_columns, target_predictions

SUFFIXES = ("", " confidence", " review")


class TargetTable:
    """Predictions of every target of a run, in data-row order (filled chunk by chunk)."""

    def __init__(self, targets: list[TargetInfo], total: int):
        self.targets = list(targets)
        self.extra = self.targets[1:]                  # the primary is the ResultsModel's own columns
        self.probs = {t.name: np.zeros((total, len(t.labels)), dtype=np.float32) for t in self.targets}
        self.conf = {t.name: np.zeros(total, dtype=np.float32) for t in self.targets}
        self.review = {t.name: np.zeros(total, dtype=bool) for t in self.targets}
        self.disp: list[list[str]] = [[] for _ in range(3 * len(self.extra))]
        self.reasons: list[str] = [""] * total
        self.corrected = {t.name: [""] * total for t in self.extra}    # inline corrections per target

    def headers(self) -> list[str]:
        return [t.name + s for t in self.extra for s in SUFFIXES]

    def append(self, a: int, by_target: dict, reasons) -> None:
        b = a + len(next(iter(by_target.values())))
        if reasons is not None:
            self.reasons[a:b] = list(reasons)
        for t in self.targets:
            p = np.asarray(by_target[t.name], dtype=np.float32)
            self.probs[t.name][a:b] = p
            preds = target_predictions(t, p, 1, reasons=reasons)
            self.conf[t.name][a:b] = [x.confidence for x in preds]
            self.review[t.name][a:b] = [x.needs_review for x in preds]
            if t.primary:
                continue
            k = 3 * (t.index - 1)
            self.disp[k].extend(x.label for x in preds)
            self.disp[k + 1].extend(f"{x.confidence:.1%}" for x in preds)
            self.disp[k + 2].extend("Review" if x.needs_review else "" for x in preds)

    def set_targets(self, targets: list[TargetInfo], n: int) -> bool:
        """Re-judge rows ``0..n`` with ``targets``' (new) thresholds; False when they are other targets."""
        if [(t.name, t.labels) for t in targets] != [(t.name, t.labels) for t in self.targets]:
            return False
        self.targets, self.extra = list(targets), list(targets)[1:]
        for t in self.targets:
            preds = target_predictions(t, self.probs[t.name][:n], 1, reasons=self.reasons[:n])
            self.review[t.name][:n] = [x.needs_review for x in preds]
            if not t.primary:
                self.disp[3 * (t.index - 1) + 2][:n] = ["Review" if x.needs_review else "" for x in preds]
        return True

    def label_of(self, j: int, r: int) -> str:
        """Column ``j``'s cell of data row ``r``: a label column shows the correction when there is one,
        a review column says 'Reviewed' once the target's label was corrected."""
        info, kind = self.column(j)
        fixed = self.corrected[info.name][r]
        if kind == "label" and fixed:
            return fixed
        if kind == "review" and fixed:
            return "Reviewed"
        return self.disp[j][r]

    def set_correction(self, j: int, r: int, label: str) -> str | None:
        """Correct data row ``r``'s label of the target of column ``j``; returns the target's name, or
        None when ``label`` is not one of its labels."""
        info, _kind = self.column(j)
        if label and label not in info.labels:
            return None
        self.corrected[info.name][r] = label
        return info.name

    def column(self, j: int) -> tuple[TargetInfo, str]:
        """Target and kind ("label", "confidence", "review") of extra column ``j``."""
        return self.extra[j // 3], ("label", "confidence", "review")[j % 3]

    def keys(self, key: str, n: int, primary_review: np.ndarray) -> np.ndarray | None:
        """Sort keys for ``"confidence:<target>"``, ``"uncertainty:<target>"``, ``"review:<target>"``
        and ``"uncertainty:any"`` (the most torn target), ``"review:any"`` (flagged for any target);
        None for other keys."""
        kind, _, name = key.partition(":")
        if kind not in ("confidence", "uncertainty", "review") or not name:
            return None
        names = [t.name for t in self.targets] if name == "any" else [name]
        if any(x not in self.probs for x in names):
            raise KeyError(f"no target {name!r}")
        if kind == "confidence":
            return self.conf[name][:n]
        if kind == "uncertainty":     # descending = most uncertain first, like the single-target key
            return np.max([review.uncertainty(self.probs[x][:n]) for x in names], axis=0)
        if name == "any":     # the primary target's flags are the table's (corrections, new thresholds)
            names = [t.name for t in self.extra]
        flags = np.any([self.review[x][:n] for x in names], axis=0) if names else np.zeros(n, dtype=bool)
        return (flags | (primary_review[:n] if name == "any" else False)).astype(np.int8)

    def export_columns(self, n: int) -> dict:
        """The per-target columns ``triage classify`` writes for these rows (its own code)."""
        cols = target_columns(self.targets, {t.name: self.probs[t.name][:n] for t in self.targets},
                              self.reasons[:n])
        return {**cols, **{f"{name}_corrected": c[:n] for name, c in self.corrected.items()}}

    def truth_rows(self, df, n: int) -> list[tuple[str, list[str], object, np.ndarray, np.ndarray]]:
        """``(target, labels, the file's labels, predicted indices, review flags)`` of every other
        target whose label column ``df`` has, for the first ``n`` rows (the model's predictions,
        corrections aside)."""
        return [(t.name, list(t.labels), df[t.column].iloc[:n].tolist(), self.probs[t.name][:n].argmax(1),
                 self.review[t.name][:n]) for t in self.extra if t.column in df.columns]


class TargetReview:
    """Another target of a batch run seen through the review queue's interface (``labels``, ``n``,
    ``review``, ``review_order``, ``predicted``, ``corrected_label``, ``uncertainty``, ``review_reason``,
    ``top``, ``set_correction``): the queue then goes through that target's tickets, most uncertain
    first, and its corrections are stored for that target (``ResultsModel.set_target_correction``)."""

    def __init__(self, model, name: str):
        self.model, self.table = model, model.target_table
        self.info = next(t for t in self.table.extra if t.name == name)
        self.j = 3 * (self.info.index - 1)
        self.labels = list(self.info.labels)
        self.n = model.n
        self.review = self.table.review[name]

    def review_order(self, only_flagged: bool = False) -> list[int]:
        p = self.table.probs[self.info.name][: self.n]
        order = review.review_order(p)
        if only_flagged:
            order = order[self.review[order]]
        return order.tolist()

    def predicted(self, r: int) -> str:
        return self.table.disp[self.j][r]

    def corrected_label(self, r: int) -> str:
        return self.table.corrected[self.info.name][r]

    def uncertainty(self) -> np.ndarray:
        return review.uncertainty(self.table.probs[self.info.name][: self.n])

    def review_reason(self, r: int) -> str:
        if not self.review[r]:
            return ""
        return self.table.reasons[r] or f"{self.info.name}: low confidence ({self.table.conf[self.info.name][r]:.0%})"

    def top(self, r: int, k: int = 3) -> list[tuple[str, float]]:
        p = self.table.probs[self.info.name][r]
        return [(self.labels[i], float(p[i])) for i in np.argsort(-p, kind="stable")[:k]]

    def set_correction(self, r: int, label: str) -> bool:
        return self.model.set_target_correction(r, self.j, label)
