"""The "File" box of the Batch tab: the open button, what was read, and the sheet choice of a
workbook with several sheets."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from triage_app.gui.widgets import muted_label


class FilePanel(QGroupBox):
    openRequested = Signal()
    sheetChosen = Signal(str)

    def __init__(self, parent=None):
        super().__init__("File", parent)
        fl = QVBoxLayout(self)
        row = QHBoxLayout()
        self.open_btn = QPushButton("Open file…")
        self.open_btn.setToolTip("Open a CSV, TSV, Excel, JSON or JSON Lines file (Ctrl+O), or drop it on the window")
        self.open_btn.clicked.connect(self.openRequested)
        row.addWidget(self.open_btn)
        row.addStretch(1)
        fl.addLayout(row)
        self.file_label = QLabel("No file open")
        self.file_label.setWordWrap(True)
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        fl.addWidget(self.file_label)
        self.report_label = muted_label("CSV, TSV, XLSX, JSON or JSONL — or drop a file anywhere on the window.")
        fl.addWidget(self.report_label)
        srow = QHBoxLayout()
        self.sheet_label = QLabel("Sheet")
        self.sheet_combo = QComboBox()
        self.sheet_combo.activated.connect(lambda _i: self.sheetChosen.emit(self.sheet_combo.currentText()))
        srow.addWidget(self.sheet_label)
        srow.addWidget(self.sheet_combo, 1)
        fl.addLayout(srow)
        self.sheet_label.hide()
        self.sheet_combo.hide()

    def show_file(self, path: str, df, report, sheets: list[str], sheet: str | None) -> None:
        """What was read: name, size, the reader's report, and the sheets when there are several."""
        self.file_label.setText(f"<b>{Path(path).name}</b><br>{len(df):,} rows · {df.shape[1]} columns")
        self.file_label.setToolTip(path)
        warn = ("; " + "; ".join(report.warnings[:2])) if getattr(report, "warnings", None) else ""
        self.report_label.setText(report.summary() + warn)
        multi = len(sheets) > 1
        self.sheet_label.setVisible(multi)
        self.sheet_combo.setVisible(multi)
        if multi:
            self.sheet_combo.blockSignals(True)
            self.sheet_combo.clear()
            self.sheet_combo.addItems(sheets)
            self.sheet_combo.setCurrentText(sheet or sheets[0])
            self.sheet_combo.blockSignals(False)
