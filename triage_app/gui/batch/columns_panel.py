"""The "Columns" box of the Batch tab: which column is the title, the body, the whole text and
the (optional) true label, and a note when that is not what the active model was trained on."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel

NONE = "(none)"
ROLES = [("title", "Title", "Short summary of the ticket"),
         ("body", "Body", "Ticket description"),
         ("text", "Text", "One column with the whole ticket (instead of title/body)"),
         ("label", "Label (optional)", "True labels: accuracy and confusion matrix")]


class ColumnsPanel(QGroupBox):
    changed = Signal()            # the user (or set_mapping) changed a column choice

    def __init__(self, parent=None):
        super().__init__("Columns", parent)
        cf = QFormLayout(self)
        cf.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        cf.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.col_combos: dict[str, QComboBox] = {}
        for key, text, tip in ROLES:
            cb = QComboBox()
            cb.setToolTip(tip)
            cb.setMinimumContentsLength(12)
            cb.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            cb.currentIndexChanged.connect(lambda _i: self.changed.emit())
            self.col_combos[key] = cb
            cf.addRow(text, cb)
        # shown when the file does not offer what the active model was trained on
        self.mapping_note = QLabel()
        self.mapping_note.setObjectName("mappingNote")
        self.mapping_note.setWordWrap(True)
        self.mapping_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.mapping_note.hide()
        cf.addRow(self.mapping_note)

    def set_columns(self, cols: list[str], guess: dict) -> None:
        """Offer ``cols`` in every combo and select ``guess`` (silently: no ``changed``)."""
        for key, cb in self.col_combos.items():
            cb.blockSignals(True)
            cb.clear()
            cb.addItem(NONE)
            cb.addItems(cols)
            v = guess.get(key)
            cb.setCurrentText(v if v in cols else NONE)
            cb.blockSignals(False)

    def mapping(self) -> dict:
        return {k: (cb.currentText() if cb.currentText() != NONE and cb.currentIndex() > 0 else None)
                for k, cb in self.col_combos.items()}

    def set_mapping(self, **kw) -> None:
        for k, v in kw.items():
            self.col_combos[k].setCurrentText(v or NONE)

    def mapping_ok(self) -> bool:
        m = self.mapping()
        return bool(m["text"] or m["title"] or m["body"])

    def set_note(self, msg: str | None) -> None:
        self.mapping_note.setText(msg or "")
        self.mapping_note.setVisible(bool(msg))

    def set_editable(self, on: bool) -> None:
        for cb in self.col_combos.values():
            cb.setEnabled(on)
