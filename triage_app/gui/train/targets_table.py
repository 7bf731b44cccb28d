"""Train tab results, several targets per ticket: one row per target of the new model with its
held-out test figures, and its comparison with the active model's target of the same name on the
same validation rows (both models as served)."""
from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

HEADERS = ["Target", "Labels", "Test\naccuracy", "Test\nmacro-F1", "Rows\ncompared", "Macro-F1\nnew / active",
           "Change"]      # two lines each: the table fits the results pane from 1024 px up


def target_rows(targets: list[dict], comparison: dict | None = None) -> list[list]:
    """``[name, labels, test accuracy, test macro-F1, rows compared, (new, active) macro-F1,
    difference]`` per target of a training outcome (``TrainOutcome.targets``, ``.comparison``).  The
    comparison columns are None for a target the active model has no target of that name for (or
    when there was no active model)."""
    from triage_app.targets import TargetInfo

    per = (comparison or {}).get("targets") or {}
    rows = []
    for t in targets:
        info = TargetInfo(0, t["name"], t["name"], list(t["labels"]), 1.0, 0.5, {}, 0.0, None, t.get("metrics") or {})
        s, c = info.summary(), per.get(t["name"])
        pair = diff = n = None
        if c and c.get("rows"):
            new, act = c["new"]["macro_f1"], c["active"]["macro_f1"]
            pair, diff, n = (new, act), new - act, c["rows"]
        rows.append([t["name"], len(t["labels"]), s.get("accuracy"), s.get("macro_f1"), n, pair, diff])
    return rows


class TargetsTable(QTableWidget):
    """The "Per target" view of the Results page."""

    def __init__(self, parent=None):
        super().__init__(0, len(HEADERS), parent)
        self.setHorizontalHeaderLabels(HEADERS)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setToolTip("Each target of the new model on its held-out test split; then both models, as served,\n"
                        "on the same validation rows labeled for that target (the active model's target\n"
                        "of the same name; its only target for the first one of a single-target model)")

    def show_targets(self, targets: list[dict], comparison: dict | None = None) -> None:
        rows = target_rows(targets, comparison)
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if v is None:
                    text = "—"
                elif c == 5:
                    text = f"{v[0]:.3f} / {v[1]:.3f}"
                elif c == 6:
                    text = f"{v:+.3f}"
                else:
                    text = f"{v:.3f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
                self.setItem(r, c, QTableWidgetItem(text))
