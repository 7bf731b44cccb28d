"""Matplotlib charts of the training screen (no pyplot): live loss curve, class distribution,
confusion matrix.

All charts use the one chart style (:mod:`triage_app.gui.charts`, colours from
:mod:`triage_app.gui.style`) and restyle when the theme changes.  The live loss
plot keeps its ``Line2D`` objects; events only append numbers, and a ~50 ms ``QTimer`` pushes them
with ``set_data`` + ``draw_idle`` when something changed.  Nothing here is called from a worker
thread.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from trainer.events import EpochEvent, StepEvent
from triage_app.gui.charts import (
    FONT,
    ThemedCanvas,
    cell_text_color,
    heatmap_cmap,
    style_axes,
    style_legend,
)
from triage_app.gui.style import TARGET_SERIES, is_dark

__all__ = ["ConfusionChart", "DistributionChart", "LossPlot", "ThemedCanvas", "is_dark"]


# ---------------------------------------------------------------------------------------------
class LossPlot(QWidget):
    """Training loss per step (faint raw line + smoothed EMA line) and validation loss per
    epoch (markers), x axis in steps or epochs.  Feed it trainer events with :meth:`add`.

    Several targets: the lines above are the total (the weighted sum of the targets' losses), and
    each target adds its own smoothed training line and validation markers in its own colour."""

    xModeChanged = Signal(str)
    EMA = 0.8

    def __init__(self, parent: QWidget | None = None, interval_ms: int = 50):
        super().__init__(parent)
        self.canvas = ThemedCanvas(self, min_height=240)
        self.canvas.restyle_hook = self._restyle
        self.figure = self.canvas.figure
        self.ax = self.figure.add_subplot(111)
        self.raw_line, = self.ax.plot([], [], lw=1.0, alpha=0.35, label="_raw")
        self.ema_line, = self.ax.plot([], [], lw=2.0, label="training loss (smoothed)")
        self.val_line, = self.ax.plot([], [], ls="none", marker="o", ms=6, mew=1.2,
                                      label="validation loss")
        self._boundary_artists: list = []
        self.x_mode = "steps"
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.flush)
        self.draws = 0

        self._placeholder = self.ax.text(0.5, 0.5, "The loss curve appears here while a model trains",
                                         ha="center", va="center", transform=self.ax.transAxes,
                                         fontsize=FONT + 1)

        self.steps_radio = QRadioButton("Steps")
        self.epochs_radio = QRadioButton("Epochs")
        self.steps_radio.setChecked(True)
        self.steps_radio.setToolTip("X axis: optimizer steps (both phases on one scale)")
        self.epochs_radio.setToolTip("X axis: epochs (phase 2 continues after phase 1)")
        grp = QButtonGroup(self)
        grp.addButton(self.steps_radio)
        grp.addButton(self.epochs_radio)
        self.steps_radio.toggled.connect(lambda on: self.set_x_mode("steps" if on else "epochs"))
        head = QHBoxLayout()
        title = QLabel("<b>Loss</b>")
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(QLabel("X axis:"))
        head.addWidget(self.steps_radio)
        head.addWidget(self.epochs_radio)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.canvas, 1)
        self.reset()
        self.canvas.restyle()

    # ---- data ------------------------------------------------------------------------------
    def reset(self) -> None:
        self.steps: list[float] = []
        self.step_epochs: list[float] = []
        self.losses: list[float] = []
        self.ema: list[float] = []
        self.val_steps: list[float] = []
        self.val_epochs: list[float] = []
        self.val_losses: list[float] = []
        self.boundaries: list[tuple[float, float, str]] = []   # (step, epoch_x, phase)
        had_targets = bool(getattr(self, "targets", None))
        for series in getattr(self, "targets", {}).values():
            series.remove()
        self.targets: dict[str, _TargetSeries] = {}
        if had_targets:
            self.ema_line.set_label("training loss (smoothed)")
            self.val_line.set_label("validation loss")
            self._restyle_targets(legend=True)
        self._ema_acc = 0.0
        self._phase: str | None = None
        self._offset = 0.0
        self._phase_max = 0.0
        self._dirty = True
        self.flush()

    def _x_epoch(self, phase: str, epoch: float) -> float:
        if phase != self._phase:
            if self._phase is not None:
                self._offset += math.ceil(self._phase_max - 1e-9)
                self.boundaries.append((self.steps[-1] if self.steps else 0.0, self._offset, phase))
            self._phase = phase
            self._phase_max = 0.0
        self._phase_max = max(self._phase_max, float(epoch))
        return self._offset + float(epoch)

    def add(self, ev) -> None:
        """Record a trainer event (StepEvent / EpochEvent; others are ignored).  Cheap: no drawing."""
        if isinstance(ev, StepEvent):
            if not math.isfinite(ev.loss):
                return
            x = self._x_epoch(ev.phase, ev.epoch)
            self.steps.append(float(ev.step))
            self.step_epochs.append(x)
            self.losses.append(float(ev.loss))
            n = len(self.losses)
            self._ema_acc = self.EMA * self._ema_acc + (1 - self.EMA) * ev.loss
            self.ema.append(self._ema_acc / (1 - self.EMA ** n))   # bias-corrected EMA
            for name, v in (ev.target_losses or {}).items():
                if math.isfinite(v):
                    self._series(name).add_train(float(ev.step), x, float(v), self.EMA)
            self._dirty = True
        elif isinstance(ev, EpochEvent):
            x = self._x_epoch(ev.phase, ev.epoch)
            if math.isfinite(ev.val_loss):
                self.val_steps.append(float(ev.step))
                self.val_epochs.append(x)
                self.val_losses.append(float(ev.val_loss))
                self._dirty = True
            for name, r in (ev.targets or {}).items():
                if math.isfinite(r.get("val_loss", math.nan)):
                    self._series(name).add_val(float(ev.step), x, float(r["val_loss"]))
                    self._dirty = True

    def _series(self, name: str) -> _TargetSeries:
        s = self.targets.get(name)
        if s is None:
            s = self.targets[name] = _TargetSeries(self.ax, name)
            self.ema_line.set_label("total training loss (smoothed)")
            self.val_line.set_label("total validation loss")
            self._restyle_targets(legend=True)
        return s

    def set_x_mode(self, mode: str) -> None:
        if mode not in ("steps", "epochs"):
            raise ValueError(mode)
        if mode != self.x_mode:
            self.x_mode = mode
            (self.steps_radio if mode == "steps" else self.epochs_radio).setChecked(True)
            self._dirty = True
            self.flush()
            self.xModeChanged.emit(mode)

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self.flush()

    # ---- drawing (GUI thread, from the timer) ------------------------------------------------
    def flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        ep = self.x_mode == "epochs"
        xs = self.step_epochs if ep else self.steps
        vx = self.val_epochs if ep else self.val_steps
        self.raw_line.set_data(xs, self.losses)
        self.ema_line.set_data(xs, self.ema)
        self.val_line.set_data(vx, self.val_losses)
        for series in self.targets.values():
            series.draw(ep)
        for a in self._boundary_artists:
            a.remove()
        self._boundary_artists = []
        c = self.canvas.colors()
        for step, ex, phase in self.boundaries:
            x = ex if ep else step
            self._boundary_artists.append(self.ax.axvline(x, color=c["muted"], ls=":", lw=1))
            self._boundary_artists.append(self.ax.annotate(
                f" {'fine-tuning' if phase == 'finetune' else phase}", (x, 1), xycoords=("data", "axes fraction"),
                va="top", ha="left", fontsize=FONT - 0.5, color=c["muted"]))
        self.ax.set_xlabel("epoch" if ep else "step")
        has = bool(self.losses or self.val_losses)
        self._placeholder.set_visible(not has)
        if has:
            self.ax.set_autoscale_on(True)        # set_xlim/set_ylim below switch it off
            self.ax.relim()
            self.ax.autoscale_view()
            lo, hi = self.ax.get_ylim()
            self.ax.set_ylim(max(0.0, lo), max(hi, 1e-3))
            if len(xs) + len(vx) <= 1:
                c = (xs or vx)[0]
                self.ax.set_xlim(c - 1, c + 1)
        else:
            self.ax.set_xlim(0, 1)
            self.ax.set_ylim(0, 1)
        self.canvas.draw_idle()
        self.draws += 1

    def _restyle(self) -> None:
        """Colours of the figure, axes and lines (``canvas.restyle()`` calls this on theme changes)."""
        c = style_axes(self.ax, self.canvas, grid="both")
        self.raw_line.set_color(c["series_primary"])
        self.ema_line.set_color(c["series_primary"])
        self.val_line.set_color(c["series_secondary"])
        self.val_line.set_markerfacecolor(c["base"])
        self._placeholder.set_color(c["muted"])
        self.ax.set_ylabel("cross-entropy loss")
        self._restyle_targets(legend=False)
        self._legend()
        self._dirty = True
        self.flush()

    def _restyle_targets(self, legend: bool) -> None:
        c = self.canvas.colors()
        for k, series in enumerate(self.targets.values()):
            series.set_color(c[TARGET_SERIES[k % len(TARGET_SERIES)]], c["base"])
        if legend:
            self._legend()

    def _legend(self) -> None:
        if not self.targets:
            style_legend(self.ax.legend(loc="lower left", fontsize=FONT, frameon=True), self.canvas)
            return
        # several targets: their curves fill the axes from top to bottom, so the legend goes above
        style_legend(self.ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), borderaxespad=0.0,
                                    fontsize=FONT, frameon=False, ncol=2),
                     self.canvas)


class _TargetSeries:
    """One target's curves on the loss plot: smoothed training loss and validation markers."""

    def __init__(self, ax, name: str):
        self.name = name
        self.steps: list[float] = []
        self.epochs: list[float] = []
        self.ema: list[float] = []
        self._acc = 0.0
        self.val_steps: list[float] = []
        self.val_epochs: list[float] = []
        self.val_losses: list[float] = []
        self.line, = ax.plot([], [], lw=1.3, label=name)
        self.val, = ax.plot([], [], ls="none", marker="D", ms=4.5, mew=1.0, label="_val " + name)

    def add_train(self, step: float, epoch: float, loss: float, k: float) -> None:
        self.steps.append(step)
        self.epochs.append(epoch)
        self._acc = k * self._acc + (1 - k) * loss
        self.ema.append(self._acc / (1 - k ** len(self.steps)))

    def add_val(self, step: float, epoch: float, loss: float) -> None:
        self.val_steps.append(step)
        self.val_epochs.append(epoch)
        self.val_losses.append(loss)

    def draw(self, by_epoch: bool) -> None:
        self.line.set_data(self.epochs if by_epoch else self.steps, self.ema)
        self.val.set_data(self.val_epochs if by_epoch else self.val_steps, self.val_losses)

    def set_color(self, color: str, face: str) -> None:
        self.line.set_color(color)
        self.val.set_color(color)
        self.val.set_markerfacecolor(face)

    def remove(self) -> None:
        self.line.remove()
        self.val.remove()


# ---------------------------------------------------------------------------------------------
def _short(label: str, n: int = 28) -> str:
    label = str(label)
    return label if len(label) <= n else label[: n - 1] + "…"


class DistributionChart(ThemedCanvas):
    """Horizontal bars: tickets per label, largest first; labels under the rare-label threshold
    are drawn in a warning colour, the threshold as a dashed line."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, min_height=220)
        self.restyle_hook = self.redraw
        self.ax = self.figure.add_subplot(111)
        self.counts: dict[str, int] = {}
        self.threshold = 0
        self.bars = None
        self.rare: list[str] = []
        self.redraw()

    def set_data(self, counts: dict, threshold: int) -> None:
        self.counts = {str(k): int(v) for k, v in counts.items()}
        self.threshold = int(threshold)
        self.setMinimumHeight(max(220, 22 * len(self.counts) + 90))
        self.redraw()

    def redraw(self) -> None:
        ax = self.ax
        ax.clear()
        c = style_axes(ax, self, grid="x")
        items = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if not items:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, "Load a labelled file to see how many tickets each label has",
                    ha="center", va="center", transform=ax.transAxes, color=c["muted"], fontsize=FONT + 1)
            self.bars = None
            self.rare = []
            self.draw_idle()
            return
        labels = [k for k, _ in items]
        vals = np.array([v for _, v in items])
        self.rare = [k for k, v in items if v < self.threshold]
        colors = [c["warn"] if v < self.threshold else c["bar"] for v in vals]
        y = np.arange(len(items))
        self.bars = ax.barh(y, vals, color=colors, height=0.7)
        ax.set_yticks(y, [_short(lab) for lab in labels])
        ax.invert_yaxis()
        vmax = max(int(vals.max()), self.threshold, 1)
        ax.set_xlim(0, vmax * 1.13)
        if len(items) <= 80:
            for yi, v in zip(y, vals):
                ax.text(v + vmax * 0.01, yi, f"{v:,}", va="center", ha="left", fontsize=FONT - 0.5,
                        color=c["text"])
        if self.threshold > 0:
            ax.axvline(self.threshold, color=c["warn"], ls="--", lw=1.4)
            ax.annotate(f"threshold {self.threshold}", (self.threshold, 1.0),
                        xycoords=("data", "axes fraction"), xytext=(3, 3), textcoords="offset points",
                        ha="left", va="bottom", fontsize=FONT - 0.5, color=c["warn"])
        ax.set_xlabel("tickets")
        total = int(vals.sum())
        title = f"{len(items)} labels, {total:,} labelled rows"
        if self.rare:
            title += f" — {len(self.rare)} below the threshold"
        ax.set_title(title, fontsize=FONT + 1, color=c["text"], loc="left", pad=14)
        self.draw_idle()


class ConfusionChart(ThemedCanvas):
    """Row-normalised confusion matrix heatmap with counts (rows: true label)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, min_height=260)
        self.restyle_hook = self.redraw
        self.cm = None
        self.labels: list[str] = []
        self.image = None
        self.redraw()

    def set_data(self, confusion, labels) -> None:
        self.cm = np.asarray(confusion, dtype=float)
        self.labels = [str(x) for x in labels]
        n = len(self.labels)
        self.setMinimumHeight(max(260, 26 * n + 130))
        self.redraw()

    def redraw(self) -> None:
        fig = self.figure
        fig.clear()
        ax = fig.add_subplot(111)
        c = style_axes(ax, self)
        if self.cm is None or not len(self.labels):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, "The confusion matrix appears when training ends", ha="center",
                    va="center", transform=ax.transAxes, color=c["muted"], fontsize=FONT + 1)
            self.image = None
            self.draw_idle()
            return
        cm = self.cm
        n = len(self.labels)
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        self.image = ax.imshow(norm, cmap=heatmap_cmap(self), vmin=0, vmax=1, aspect="auto")
        short = [_short(lab, 22) for lab in self.labels]
        ax.set_xticks(range(n), short, rotation=40, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(n), short)
        ax.set_xlabel("predicted label")
        ax.set_ylabel("true label")
        if n <= 20:
            for i in range(n):
                for j in range(n):
                    if cm[i, j] == 0 and i != j:
                        continue
                    ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center",
                            fontsize=FONT - (1 if n > 12 else 0), color=cell_text_color(self, norm[i, j]))
        cb = fig.colorbar(self.image, ax=ax, fraction=0.05, pad=0.02)
        cb.ax.tick_params(colors=c["text"], labelsize=FONT - 1)
        cb.outline.set_edgecolor(c["spine"])
        cb.set_label("share of the true label", color=c["text"], fontsize=FONT)
        self.draw_idle()
