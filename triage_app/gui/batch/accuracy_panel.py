"""Accuracy of a batch run against the file's own label column, with its confusion matrix."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout

from triage_app.gui.widgets import Heatmap, muted_label


class AccuracyPanel(QGroupBox):
    """Hidden until a run with a label column finished; ``accuracy`` and ``confusion`` (rows: true
    label, columns: predicted, in the model's label order) hold what it shows."""

    def __init__(self, parent=None):
        super().__init__("Accuracy against the label column", parent)
        al = QVBoxLayout(self)
        self.acc_label = QLabel("")
        self.acc_label.setWordWrap(True)
        al.addWidget(self.acc_label)
        self.targets_label = QLabel("")     # a multi-target model: the other targets' accuracy
        self.targets_label.setWordWrap(True)
        self.targets_label.hide()
        al.addWidget(self.targets_label)
        al.addWidget(muted_label("Confusion matrix — rows: true label, columns: predicted"))
        self.heatmap = Heatmap()
        al.addWidget(self.heatmap, 1)
        self.setMinimumWidth(280)
        self.accuracy: float | None = None
        self.confusion: np.ndarray | None = None

    def show_results(self, model, truth) -> None:
        """Compare ``model``'s predictions with ``truth`` (the label column's values, one per
        classified row; ``None`` hides the panel, as does a column without any label)."""
        if model is None or truth is None:
            self.hide()
            return
        y = truth.astype(str).str.strip().to_numpy(dtype=object)
        idx = {lab: i for i, lab in enumerate(model.labels)}
        yi = np.array([idx.get(v, -1) for v in y], dtype=np.int64)
        known = yi >= 0
        nonempty = np.array([bool(v) for v in y])
        if not nonempty.any():
            self.hide()
            return
        pred = model.pred_idx[: model.n]
        acc = float((pred[nonempty] == yi[nonempty]).mean())
        cm = np.zeros((len(model.labels), len(model.labels)), dtype=np.int64)
        np.add.at(cm, (yi[known], pred[known]), 1)
        unknown = int((nonempty & ~known).sum())
        self.accuracy = acc
        self.confusion = cm
        note = f" · {unknown:,} rows have labels the model does not know" if unknown else ""
        routed = ~model.review[: model.n] & nonempty
        r_acc = float((pred[routed] == yi[routed]).mean()) if routed.any() else float("nan")
        self.acc_label.setText(f"<span style='font-size:15pt; font-weight:700'>{acc:.1%}</span> accuracy on "
                               f"{int(nonempty.sum()):,} labelled rows{note}<br>"
                               f"Auto-routed rows: {r_acc:.1%} correct" if routed.any() else
                               f"<b>{acc:.1%}</b> accuracy on {int(nonempty.sum()):,} labelled rows{note}")
        self.heatmap.set_data(model.labels, cm)
        self.show()

    def show_targets(self, rows: list[tuple[str, float, int]]) -> None:
        """One line per other target of a multi-target model: its accuracy on its labelled rows."""
        self.targets_label.setText("<br>".join(f"<b>{name}</b>: {acc:.1%} accuracy on {n:,} labelled rows"
                                               for name, acc, n in rows))
        self.targets_label.setVisible(bool(rows))
