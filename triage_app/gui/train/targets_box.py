"""Train tab, several targets per ticket: the analyst ticks further label columns (each becomes a
target of one model, the chosen label column first), sees each one's class balance and sets the
weight of each target's loss (the training loss is their weighted sum)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from trainer.pipeline import label_counts
from triage_app.gui.flow_layout import FlowLayout
from triage_app.gui.widgets import muted_label, wheel_only_when_focused

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
        # loss weight per target: shown once a further column is ticked, kept per column name
        self.weights_box = QWidget()
        self.weights_flow = FlowLayout(self.weights_box, spacing=10)
        self.weight_spins: dict[str, QDoubleSpinBox] = {}
        self._weights: dict[str, float] = {}
        lay.addWidget(self.list)
        lay.addWidget(self.balance)
        lay.addWidget(self.weights_box)
        self.weights_box.setVisible(False)

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

    def refresh(self, df, unavailable: list[str], primary: str = "") -> None:
        """Disable the columns already used (label, text), show each ticked column's balance and
        a loss-weight field for ``primary`` (the label column) and each ticked column."""
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
        self._rebuild_weights([primary, *self.checked(unavailable)] if primary and lines else [])

    # ---- loss weights --------------------------------------------------------------------------
    def _rebuild_weights(self, names: list[str]) -> None:
        if list(self.weight_spins) == names:
            return
        while self.weights_flow.count():
            item = self.weights_flow.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.weight_spins = {}
        if names:
            cap = QLabel("Loss weights")
            cap.setToolTip("The training loss is the sum over the targets of weight × the target's loss.\n"
                           "Raise a target's weight to favour it; 1 for all treats them alike.")
            self.weights_flow.addWidget(cap)
        for name in names:
            pair = QWidget()
            h = QHBoxLayout(pair)
            h.setContentsMargins(0, 0, 0, 0)
            h.setSpacing(4)
            spin = QDoubleSpinBox()
            spin.setRange(0.05, 100.0)
            spin.setDecimals(2)
            spin.setSingleStep(0.1)
            spin.setValue(self._weights.get(name, 1.0))
            spin.setToolTip(f"Weight of the loss of {name!r} in the training loss")
            spin.valueChanged.connect(lambda v, n=name: self._weights.__setitem__(n, float(v)))
            wheel_only_when_focused(spin)
            h.addWidget(QLabel(name))
            h.addWidget(spin)
            self.weights_flow.addWidget(pair)
            self.weight_spins[name] = spin
        self.weights_box.setVisible(bool(names))

    def loss_weights(self) -> dict[str, float]:
        """``{column: weight}`` of the label column and the ticked columns (empty with one target)."""
        return {name: float(spin.value()) for name, spin in self.weight_spins.items()}

    def checked(self, unavailable: list[str] = ()) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked and self.list.item(i).text() not in
                unavailable]
