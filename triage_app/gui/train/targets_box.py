"""Train tab, several targets per ticket: the analyst ticks further label columns (each becomes a
target of one model, the chosen label column first) and sees each one's class balance."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from trainer.pipeline import label_counts
from triage_app.gui.widgets import muted_label

MAX_SHOWN = 6       # classes named per target in the balance line


def balance_line(name: str, counts: dict) -> str:
    """``name: 3 labels · A 40 · B 30 · C 20`` (the largest first), with the rows that have no label."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    shown = " · ".join(f"{k} {v:,}" for k, v in items[:MAX_SHOWN])
    more = f" · +{len(items) - MAX_SHOWN} more" if len(items) > MAX_SHOWN else ""
    return f"{name}: {len(items)} labels · {shown}{more}"


class MoreTargets(QWidget):
    """Checkable list of the file's other columns; :meth:`checked` are the extra label columns."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget()
        self.list.setMaximumHeight(90)
        self.list.setToolTip("Tick further label columns to train one model that predicts each of them\n"
                             "(shared text encoder, one head per column; rows without a label are\n"
                             "left out for that column only)")
        self.list.itemChanged.connect(lambda _i: self.changed.emit())
        self.balance = muted_label("")
        self.balance.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.list)
        lay.addWidget(self.balance)

    def set_columns(self, cols: list[str]) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for c in cols:
            it = QListWidgetItem(str(c))
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(it)
        self.list.blockSignals(False)

    def set_checked(self, names: list[str]) -> None:
        for i in range(self.list.count()):
            it = self.list.item(i)
            it.setCheckState(Qt.CheckState.Checked if it.text() in names else Qt.CheckState.Unchecked)

    def refresh(self, df, unavailable: list[str]) -> None:
        """Disable the columns already used (label, text) and show each ticked column's balance."""
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            it = self.list.item(i)
            used = it.text() in unavailable
            it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEnabled if used else it.flags() | Qt.ItemFlag.ItemIsEnabled)
        self.list.blockSignals(False)
        lines = [balance_line(c, label_counts(df[c].tolist())) for c in self.checked(unavailable)
                 if df is not None and c in df.columns]
        self.balance.setText("\n".join(lines))
        self.balance.setVisible(bool(lines))

    def checked(self, unavailable: list[str] = ()) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked and self.list.item(i).text() not in
                unavailable]
