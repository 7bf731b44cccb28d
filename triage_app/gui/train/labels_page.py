"""The "Labels" page: tickets per label (rare labels marked) and the data check's report."""
from __future__ import annotations

from PySide6.QtWidgets import QFrame, QLabel, QPlainTextEdit, QScrollArea, QVBoxLayout, QWidget

from trainer.pipeline import DataReady
from triage_app.gui.train.common import HINTS
from triage_app.gui.train_plots import DistributionChart


def report_text(ready: DataReady, corrections_note: str = "") -> str:
    """The data check as the user reads it: preparation's lines, corrections, the split sizes."""
    lines = list(ready.lines)
    if corrections_note and not any(line.startswith("corrections:") for line in lines):
        lines.append(corrections_note)
    lines.append(f"ready to train: {len(ready.labels)} labels, " +
                 ", ".join(f"{k} {v:,} rows" for k, v in ready.sizes.items() if v))
    return "\n".join(lines)


class LabelsPage(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.dist_chart = DistributionChart()
        sc = QScrollArea()
        sc.setWidgetResizable(True)
        sc.setFrameShape(QFrame.Shape.NoFrame)
        sc.setWidget(self.dist_chart)
        v.addWidget(sc, 3)
        head = QLabel("<b>Data check</b>")
        v.addWidget(head)
        self.report_view = QPlainTextEdit()
        self.report_view.setReadOnly(True)
        self.report_view.setPlaceholderText("What preparation will do with the file (rows read, dropped "
                                            "and why, the split) appears here.")
        self.report_view.setMaximumHeight(170)
        v.addWidget(self.report_view, 1)

    def set_counts(self, counts: dict, threshold: int) -> None:
        self.dist_chart.set_data(counts, threshold)

    def show_report(self, ready: DataReady, corrections_note: str = "") -> None:
        self.report_view.setPlainText(report_text(ready, corrections_note))

    def clear_report(self) -> None:
        """No report (a new file is being checked)."""
        self.report_view.clear()

    def show_check_error(self, message: str) -> None:
        self.report_view.setPlainText(f"⚠ This data cannot be trained on yet:\n{message}\n\n{HINTS['data']}")
