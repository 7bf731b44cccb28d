"""The "Training" page: metric tiles, progress bar, live loss plot and log.

:meth:`ProgressPage.on_event` shows one trainer event (matched by type); the tab forwards the
events of its training job here.  The page keeps only display state (phase, step counters, best
macro-F1, the elapsed-time clock)."""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from trainer.events import EpochEvent, FinishedEvent, PhaseEvent, ProgressEvent, StepEvent
from trainer.pipeline import TrainOutcome
from triage_app.gui.train.common import PHASE_TEXT, fmt_duration
from triage_app.gui.train_plots import LossPlot
from triage_app.gui.widgets import muted_label

PROGRESS_CAPTION = {"features": "Caching features", "cache": "Caching frozen layers",
                    "calibrate": "Calibrating", "test": "Test split",
                    "head": "Validation", "finetune": "Validation"}

TILES = [  # key, column, row, caption, tooltip
    ("phase", 0, 0, "Phase", "What the training is doing now"),
    ("epoch", 1, 0, "Epoch", "Epoch of the current phase"),
    ("val_accuracy", 2, 0, "Val accuracy", "Share of validation tickets labelled right (last epoch)"),
    ("val_macro_f1", 3, 0, "Val macro-F1", "F1 averaged over labels: rare labels count as much as big ones"),
    ("samples_s", 0, 1, "Tickets / s", "Training throughput"),
    ("elapsed", 1, 1, "Elapsed", "Time since Start"),
    ("eta", 2, 1, "Phase ETA", "Estimated time left in the current phase"),
    ("best", 3, 1, "Best macro-F1", "Best validation macro-F1 so far (its weights are kept)"),
]


def _tile(grid: QGridLayout, col: int, row: int, caption: str, tip: str) -> QLabel:
    cap = muted_label(caption, wrap=False)
    cap.setToolTip(tip)
    val = QLabel("—")
    f = val.font()
    f.setPointSizeF(f.pointSizeF() * 1.25)
    f.setBold(True)
    val.setFont(f)
    val.setToolTip(tip)
    val.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    grid.addWidget(cap, row * 2, col)
    grid.addWidget(val, row * 2 + 1, col)
    return val


class ProgressPage(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._t0 = 0.0
        self._phase = ""
        self._phase_step0 = 0
        self._phase_t0 = 0.0
        self._phase_total = 0
        self._best = float("nan")
        v = QVBoxLayout(self)
        grid = QGridLayout()
        grid.setHorizontalSpacing(24)
        grid.setVerticalSpacing(2)
        self.metric_labels = {key: _tile(grid, col, row, cap, tip) for key, col, row, cap, tip in TILES}
        self.metric_labels["phase"].setMinimumWidth(200)
        self.metric_labels["phase"].setWordWrap(True)      # never cut ("Phase 1 · training the he")
        for c in range(4):
            grid.setColumnStretch(c, 1)
        v.addLayout(grid)
        prow = QHBoxLayout()
        self.progress_caption = muted_label("Progress", wrap=False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        prow.addWidget(self.progress_caption)
        prow.addWidget(self.progress, 1)
        v.addLayout(prow)
        self.loss_plot = LossPlot()
        v.addWidget(self.loss_plot, 3)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(2000)
        self.log_view.setMaximumHeight(130)
        self.log_view.setPlaceholderText("Training log")
        v.addWidget(self.log_view, 1)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)

    # ---- run lifecycle ----
    def reset(self) -> None:
        """Empty tiles, plot and log before a new run."""
        self._phase = ""
        self._best = float("nan")
        self.loss_plot.reset()
        self.log_view.clear()
        for lab in self.metric_labels.values():
            lab.setText("—")
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress_caption.setText("Progress")

    def start_run(self) -> None:
        """The run starts now: elapsed clock and live plot on."""
        self._t0 = time.perf_counter()
        self._clock.start()
        self.loss_plot.start()

    def stop_run(self) -> None:
        """The run's thread ended: clock and live plot off (the plot draws what it still holds)."""
        self._clock.stop()
        self._tick()
        self.loss_plot.stop()

    def _tick(self) -> None:
        if self._t0:
            self.metric_labels["elapsed"].setText(fmt_duration(time.perf_counter() - self._t0))

    def log(self, text: str) -> None:
        t = fmt_duration(time.perf_counter() - self._t0) if self._t0 else ""
        self.log_view.appendPlainText(f"[{t:>10}] {text}")

    def _set_progress(self, value: int, maximum: int) -> None:
        self.progress.setRange(0, maximum)
        self.progress.setValue(value)

    def show_finished(self, o: TrainOutcome) -> None:
        self._set_progress(1, 1)
        self.progress_caption.setText("Done")
        self.metric_labels["phase"].setText("Finished")
        self.metric_labels["eta"].setText("—")
        self.log(f"finished in {fmt_duration(o.elapsed_s)}; export: "
                 f"{o.export.get('precision', '?')} ({o.export.get('precision_note', '')})")

    def show_failed(self, message: str) -> None:
        self.log(f"failed: {message}")
        self.metric_labels["phase"].setText("Failed")
        self.metric_labels["eta"].setText("—")
        self.progress_caption.setText("Failed")
        self._set_progress(0, 1)

    def show_cancelled(self) -> None:
        self.metric_labels["phase"].setText("Cancelled")
        self.metric_labels["eta"].setText("—")
        self.progress_caption.setText("Cancelled")
        self._set_progress(0, 1)
        self.log("cancelled — nothing saved")

    # ---- trainer events ----
    def on_event(self, ev) -> None:
        if isinstance(ev, PhaseEvent):
            self._on_phase(ev)
        elif isinstance(ev, ProgressEvent):
            self._on_progress(ev)
        elif isinstance(ev, StepEvent):
            self._on_step(ev)
        elif isinstance(ev, EpochEvent):
            self._on_epoch(ev)
        elif isinstance(ev, FinishedEvent):
            self._set_progress(1, 1)

    def _on_phase(self, ev: PhaseEvent) -> None:
        if ev.phase == "note":            # a remark within the phase (early stopping): logged only
            self.log(ev.message)
            return
        self._phase = ev.phase
        self.metric_labels["phase"].setText(PHASE_TEXT.get(ev.phase, ev.phase))
        if ev.phase != "export" or not self.log_view.toPlainText().endswith(ev.message):
            self.log(ev.message)
        if ev.phase in ("head", "finetune"):
            self._phase_total = ev.total_steps
            self._phase_step0 = None
            self._phase_t0 = time.perf_counter()
            self.progress_caption.setText("Steps")
            self._set_progress(0, max(ev.total_steps, 1))
            self.metric_labels["eta"].setText("—")
        elif ev.phase in ("data", "prepare", "export", "compare"):
            self.progress_caption.setText(PHASE_TEXT.get(ev.phase, ev.phase))
            self.progress.setRange(0, 0)     # busy indicator
        self.loss_plot.add(ev)

    def _on_progress(self, ev: ProgressEvent) -> None:
        self.progress_caption.setText(PROGRESS_CAPTION.get(ev.phase, ev.phase))
        self._set_progress(ev.done, max(ev.total, 1))
        if ev.phase in ("features", "cache", "calibrate", "test") and self._phase != ev.phase:
            self.metric_labels["phase"].setText(PHASE_TEXT.get(ev.phase, ev.phase))

    def _on_step(self, ev: StepEvent) -> None:
        lab = self.metric_labels
        self.loss_plot.add(ev)
        if self._phase_step0 is None:
            self._phase_step0 = ev.step - 1
            self._phase_t0 = time.perf_counter()
        done = ev.step - self._phase_step0
        self.progress_caption.setText("Steps")
        self._set_progress(done, max(self._phase_total, done, 1))
        lab["samples_s"].setText(f"{ev.samples_per_s:,.0f}")
        lab["epoch"].setText(f"{ev.epoch:.2f}")
        dt = time.perf_counter() - self._phase_t0
        if done > 0 and self._phase_total:
            lab["eta"].setText(fmt_duration(dt / done * max(self._phase_total - done, 0)))

    def _on_epoch(self, ev: EpochEvent) -> None:
        lab = self.metric_labels
        self.loss_plot.add(ev)
        lab["val_accuracy"].setText(f"{ev.val_accuracy:.3f}")
        lab["val_macro_f1"].setText(f"{ev.val_macro_f1:.3f}")
        lab["epoch"].setText(f"{ev.epoch} / {ev.epochs}")
        if not (self._best >= ev.val_macro_f1):
            self._best = ev.val_macro_f1
        lab["best"].setText(f"{self._best:.3f}")
        phase = "phase 1" if ev.phase == "head" else "phase 2"
        self.log(f"{phase} epoch {ev.epoch}/{ev.epochs}: train loss {ev.train_loss:.4f}, "
                 f"val loss {ev.val_loss:.4f}, accuracy {ev.val_accuracy:.3f}, "
                 f"macro-F1 {ev.val_macro_f1:.3f}{'  ★ best so far' if ev.improved else ''}")
        for line in ev.target_lines():
            self.log(f"    {line}")
