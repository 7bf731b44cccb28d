"""Accuracy of a batch run against the file's own label column, with its confusion matrix; for a
model with several targets, every target whose label column the file has (pick one to see its
figures and confusion matrix)."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout

from triage_app.gui.widgets import Heatmap, muted_label, wheel_only_when_focused


def accuracy_figures(labels: list[str], truth, pred, review) -> dict | None:
    """Accuracy of predictions ``pred`` (label indices) against ``truth`` (the file's label strings,
    one per row): over the rows with a label, on the auto-routed ones (``review`` False) and the
    confusion matrix of the rows whose label the model knows; None when no row has a label."""
    y = np.asarray([str(v).strip() for v in truth], dtype=object)
    idx = {lab: i for i, lab in enumerate(labels)}
    yi = np.array([idx.get(v, -1) for v in y], dtype=np.int64)
    known = yi >= 0
    nonempty = np.array([bool(v) for v in y], dtype=bool)
    if not nonempty.any():
        return None
    pred = np.asarray(pred)[: len(y)]
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(cm, (yi[known], pred[known]), 1)
    routed = ~np.asarray(review, dtype=bool)[: len(y)] & nonempty
    return {"labels": list(labels), "accuracy": float((pred[nonempty] == yi[nonempty]).mean()),
            "rows": int(nonempty.sum()), "unknown": int((nonempty & ~known).sum()), "confusion": cm,
            "routed_accuracy": float((pred[routed] == yi[routed]).mean()) if routed.any() else None}


class AccuracyPanel(QGroupBox):
    """Hidden until a run with a label column finished.  ``accuracy`` and ``confusion`` (rows: true
    label, columns: predicted, in the model's label order) are the first target's (the one the
    Predicted column shows); ``figures`` holds every target's, ``target_pick`` chooses the shown one."""

    def __init__(self, parent=None):
        super().__init__("Accuracy against the label column", parent)
        al = QVBoxLayout(self)
        pick_row = QHBoxLayout()
        self.target_caption = QLabel("Target:")
        self.target_pick = QComboBox()
        self.target_pick.setToolTip("The target (label column) whose accuracy and confusion matrix are shown")
        self.target_pick.currentIndexChanged.connect(lambda _i: self._render())
        wheel_only_when_focused(self.target_pick)
        pick_row.addWidget(self.target_caption)
        pick_row.addWidget(self.target_pick, 1)
        al.addLayout(pick_row)
        self.acc_label = QLabel("")
        self.acc_label.setWordWrap(True)
        al.addWidget(self.acc_label)
        self.targets_label = QLabel("")     # a multi-target model: every target's accuracy at a glance
        self.targets_label.setWordWrap(True)
        self.targets_label.hide()
        al.addWidget(self.targets_label)
        al.addWidget(muted_label("Confusion matrix — rows: true label, columns: predicted"))
        self.heatmap = Heatmap()
        al.addWidget(self.heatmap, 1)
        self.setMinimumWidth(280)
        self.accuracy: float | None = None
        self.confusion: np.ndarray | None = None
        self.figures: dict[str, dict] = {}
        self._primary = ""
        self._set_picker([])

    def show_results(self, model, truth, primary: str = "") -> None:
        """Compare ``model``'s predictions with ``truth`` (the label column's values, one per
        classified row; ``None`` hides the panel, as does a column without any label).
        ``primary``: the name of the model's first target (several targets)."""
        self.figures, self._primary = {}, primary
        figs = None if model is None or truth is None else \
            accuracy_figures(model.labels, truth, model.pred_idx[: model.n], model.review[: model.n])
        self.accuracy = figs["accuracy"] if figs else None
        self.confusion = figs["confusion"] if figs else None
        if figs is not None:
            self.figures[primary] = figs
        self._refresh()

    def show_targets(self, rows: list[tuple[str, list[str], object, object, object]]) -> None:
        """The other targets of a multi-target model: ``(name, labels, truth, predicted indices,
        review flags)`` each, for the targets whose label column the file has."""
        for name, labels, truth, pred, review in rows:
            figs = accuracy_figures(labels, truth, pred, review)
            if figs is not None:
                self.figures[name] = figs
        self._refresh()

    # ---- display ---------------------------------------------------------------------------------
    def _refresh(self) -> None:
        if not self.figures:
            self.hide()
            return
        others = [(n, f) for n, f in self.figures.items() if n != self._primary]
        summary = "<br>".join(f"<b>{n}</b>: {f['accuracy']:.1%} accuracy on {f['rows']:,} labelled rows"
                              for n, f in others)
        self.targets_label.setText(summary)
        self._set_picker(list(self.figures))
        # one other target: its line; several: the picker's items carry each one's accuracy
        self.targets_label.setVisible(bool(others) and self.target_pick.isHidden())
        self.target_pick.setToolTip("The target (label column) whose accuracy and confusion matrix are shown"
                                    + (f"<br><br>{summary}" if summary else ""))
        self._render()
        self.show()

    def pick_target(self, name: str) -> None:
        """Show ``name``'s figures and confusion matrix."""
        i = self.target_pick.findData(name)
        if i >= 0:
            self.target_pick.setCurrentIndex(i)

    def picked(self) -> str:
        return self.target_pick.currentData() or ""

    def _set_picker(self, names: list[str]) -> None:
        current = self.picked()
        self.target_pick.blockSignals(True)
        self.target_pick.clear()
        for n in names:
            self.target_pick.addItem(f"{n} · {self.figures[n]['accuracy']:.1%}", n)
        if current in names:
            self.target_pick.setCurrentIndex(names.index(current))
        self.target_pick.blockSignals(False)
        several = len(names) > 1
        self.target_pick.setVisible(several)
        self.target_caption.setVisible(several)

    def _render(self) -> None:
        figs = self.figures.get(self.picked()) if self.target_pick.count() else \
            next(iter(self.figures.values()), None)
        if figs is None:
            return
        acc, n, r_acc = figs["accuracy"], figs["rows"], figs["routed_accuracy"]
        note = f" · {figs['unknown']:,} rows have labels the model does not know" if figs["unknown"] else ""
        self.acc_label.setText(f"<span style='font-size:15pt; font-weight:700'>{acc:.1%}</span> accuracy on "
                               f"{n:,} labelled rows{note}<br>Auto-routed rows: {r_acc:.1%} correct"
                               if r_acc is not None else f"<b>{acc:.1%}</b> accuracy on {n:,} labelled rows{note}")
        self.heatmap.set_data(figs["labels"], figs["confusion"])
