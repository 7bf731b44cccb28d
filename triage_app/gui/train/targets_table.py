"""Train tab results, several targets per ticket: one row per target of the new model with its
held-out figures, next to the active model's figures for the target of the same name."""
from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

HEADERS = ["Target", "Labels", "Accuracy", "Macro-F1", "Active accuracy", "Active macro-F1", "F1 difference"]


def target_rows(targets: list[dict], active=None) -> list[list]:
    """``[name, labels, accuracy, macro_f1, active accuracy, active macro-F1, difference]`` per target
    of a training outcome (``TrainOutcome.targets``); the active columns are None when the active model
    has no target of that name (a single-target active model: see the primary target's comparison on the
    same validation rows in "Compared with the active model").  Figures: the served model on each model's own test split."""
    from triage_app.targets import TargetInfo

    act = {t.name: t.summary() for t in (getattr(active, "targets", None) or [])}
    rows = []
    for t in targets:
        info = TargetInfo(0, t["name"], t["name"], list(t["labels"]), 1.0, 0.5, {}, 0.0, None, t.get("metrics") or {})
        s, a = info.summary(), act.get(t["name"], {})
        f1, af1 = s.get("macro_f1"), a.get("macro_f1")
        rows.append([t["name"], len(t["labels"]), s.get("accuracy"), f1, a.get("accuracy"), af1,
                     None if f1 is None or af1 is None else f1 - af1])
    return rows


class TargetsTable(QTableWidget):
    """The "Per target" view of the Results page."""

    def __init__(self, parent=None):
        super().__init__(0, len(HEADERS), parent)
        self.setHorizontalHeaderLabels(HEADERS)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setToolTip("Each target of the new model on its held-out test split, and the active model's\n"
                        "figures for the target of the same name (on its own test split)")

    def show_targets(self, targets: list[dict], active=None) -> None:
        rows = target_rows(targets, active)
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                text = "—" if v is None else f"{v:+.3f}" if c == 6 else f"{v:.3f}" if isinstance(v, float) else str(v)
                self.setItem(r, c, QTableWidgetItem(text))
