"""The "Run" box of the Batch tab: Classify all / Cancel, the progress bar, speed and ETA, and the
tab's status line."""
from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout

from triage_app.gui.widgets import muted_label


def fmt_eta(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class RunPanel(QGroupBox):
    classifyRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, parent=None):
        super().__init__("Run", parent)
        rl = QVBoxLayout(self)
        brow = QHBoxLayout()
        self.classify_btn = QPushButton("Classify all")
        self.classify_btn.setObjectName("primary")
        self.classify_btn.clicked.connect(self.classifyRequested)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancelRequested)
        brow.addWidget(self.classify_btn, 1)
        brow.addWidget(self.cancel_btn)
        rl.addLayout(brow)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setFormat("%p %")
        rl.addWidget(self.progress)
        self.speed_label = muted_label("")
        rl.addWidget(self.speed_label)
        self.status_label = QLabel("Open a file to start.")
        self.status_label.setWordWrap(True)
        rl.addWidget(self.status_label)

    def set_status(self, text: str) -> None:
        self.status_label.setText(text)

    def reset(self, speed: str = "") -> None:
        """Progress back to 0 and the speed line set to ``speed``."""
        self.progress.setValue(0)
        self.speed_label.setText(speed)

    def show_progress(self, done: int, total: int, elapsed: float) -> None:
        pct = int(100 * done / total) if total else 100
        if pct != self.progress.value():
            self.progress.setValue(pct)
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else float("nan")
        self.speed_label.setText(f"{done:,} / {total:,} rows · {rate:,.0f} rows/s · ETA {fmt_eta(eta)}")

    def show_done(self, rows: int, seconds: float) -> None:
        self.progress.setValue(100)
        self.speed_label.setText(f"{rows:,} rows in {seconds:.1f} s · {rows / max(seconds, 1e-9):,.0f} rows/s")
