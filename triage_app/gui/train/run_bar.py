"""The run bar under the settings: Start / Cancel, the state of the run and a status line."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from triage_app.gui.flow_layout import FlowLayout
from triage_app.gui.style import colors

STATE_COLOR = {"idle": "muted", "running": "accent", "cancelling": "warn", "finished": "good",
               "failed": "bad"}


class RunBar(QFrame):
    startRequested = Signal()
    cancelRequested = Signal()
    finishRequested = Signal()
    serverJobRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(4)
        self.start_btn = QPushButton("Start training")
        self.start_btn.setObjectName("primary")
        self.start_btn.setDefault(True)
        f = self.start_btn.font()
        f.setBold(True)
        self.start_btn.setFont(f)
        self.start_btn.clicked.connect(self.startRequested)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop training; nothing is saved")
        self.cancel_btn.clicked.connect(self.cancelRequested)
        self.finish_btn = QPushButton("Stop, keep best")
        self.finish_btn.setToolTip("End training now with the best epoch so far; the model is then "
                                   "calibrated, compared and exported as usual")
        self.finish_btn.clicked.connect(self.finishRequested)
        self.finish_btn.setEnabled(False)
        self.server_btn = QPushButton("Server job…")
        self.server_btn.setToolTip("Write a folder to train on a server with GPUs instead: the data, the exact "
                                   "torchrun command with these settings and a README. Import the model it "
                                   "makes in Models.")
        self.server_btn.clicked.connect(self.serverJobRequested)
        for btn in (self.start_btn, self.cancel_btn, self.finish_btn, self.server_btn):   # never cut at 1024 pixels
            btn.setMinimumWidth(btn.sizeHint().width())
        self.state_label = QLabel()
        self.state_label.setTextFormat(Qt.TextFormat.RichText)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        row = QWidget()                    # the buttons wrap onto a second row when narrow
        flow = FlowLayout(row, spacing=6)
        for w in (self.start_btn, self.cancel_btn, self.finish_btn, self.server_btn, self.state_label):
            flow.addWidget(w)
        lay.addWidget(row)
        lay.addWidget(self.status_label)

    def set_state(self, state: str, message: str = "") -> None:
        """The coloured dot and name of the run's state; ``message`` replaces the status line."""
        color = colors(self)[STATE_COLOR[state]]
        self.state_label.setText(f"<span style='color:{color}'>●</span> <b>{state.capitalize()}</b>")
        if message:
            self.status_label.setText(message)

    def set_can_start(self, ok: bool, why: str = "") -> None:
        self.start_btn.setEnabled(ok)
        self.server_btn.setEnabled(ok)
        self.start_btn.setToolTip(why or "Prepare the data and train a new model")

    def set_cancel_enabled(self, on: bool) -> None:
        self.cancel_btn.setEnabled(on)
        self.finish_btn.setEnabled(on)

    def set_status(self, text: str) -> None:
        self.status_label.setText(text)
