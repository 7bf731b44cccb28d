"""The one chart style: a themed matplotlib canvas (``FigureCanvasQTAgg(Figure())``, no pyplot),
axes and legend styling, and the heatmap colour map -- all from the palette in
:mod:`triage_app.gui.style`.

Importing this module imports matplotlib (about a third of a second), so tabs shown at start-up
import it only when a chart is first needed."""
from __future__ import annotations

import warnings

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from PySide6.QtCore import QEvent, QSize
from PySide6.QtWidgets import QSizePolicy, QWidget

from triage_app.gui import style

FONT = 8.5
# small canvases (a tab laid out before it has its size) are fine: skip the warning
warnings.filterwarnings("ignore", message="constrained_layout not applied")


def style_figure(fig: Figure, widget: QWidget | None) -> dict:
    """Figure background for ``widget``'s theme; returns the palette used."""
    c = style.colors(widget)
    fig.set_facecolor(c["window"])
    return c


def style_axes(ax, widget: QWidget | None, grid: str | None = None) -> dict:
    """Axes face, spines, ticks, labels and title in the palette of ``widget``'s theme; ``grid``
    ("both", "x" or "y") draws a grid behind the data.  Returns the palette used."""
    c = style.colors(widget)
    ax.set_facecolor(c["base"])
    for s in ax.spines.values():
        s.set_color(c["spine"])
    ax.tick_params(colors=c["text"], labelsize=FONT, length=3)
    for label in (ax.xaxis.label, ax.yaxis.label):
        label.set_color(c["text"])
        label.set_fontsize(FONT + 0.5)
    ax.title.set_color(c["text"])
    if grid:
        ax.grid(True, axis=grid, color=c["grid"], lw=0.8)
        ax.set_axisbelow(True)
    else:
        ax.grid(False)
    return c


def style_legend(legend, widget: QWidget | None) -> None:
    c = style.colors(widget)
    frame = legend.get_frame()
    frame.set_facecolor(c["base"])
    frame.set_edgecolor(c["spine"])
    for txt in legend.get_texts():
        txt.set_color(c["text"])


def heatmap_cmap(widget: QWidget | None) -> LinearSegmentedColormap:
    """The colour map of heatmaps and confusion matrices: heat_low (0) to heat_high (1), the same
    ramp the painted :class:`triage_app.gui.widgets.Heatmap` uses."""
    c = style.colors(widget)
    return LinearSegmentedColormap.from_list("triage-heat", [c["heat_low"], c["heat_high"]])


def cell_text_color(widget: QWidget | None, share: float) -> str:
    """Colour of a count printed on a heatmap cell of value ``share`` (0..1)."""
    c = style.colors(widget)
    return style.text_on(c, style.heat_color(c, share))


class ThemedCanvas(FigureCanvasQTAgg):
    """A Figure canvas (constrained layout) that calls ``restyle_hook()`` when the theme changes
    (palette change, re-parenting, first show)."""

    def __init__(self, parent: QWidget | None = None, min_height: int = 200):
        fig = Figure(layout="constrained")
        super().__init__(fig)
        self.setParent(parent)
        self.setMinimumHeight(min_height)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.restyle_hook = None
        self._theme_key = None
        style_figure(fig, self)

    def colors(self) -> dict:
        return style.colors(self)

    def _theme_signature(self):
        c = self.colors()
        return c["window"], c["text"], c["base"]

    def restyle(self) -> None:
        """Repaint the figure in the current theme (calls ``restyle_hook``)."""
        self._theme_key = self._theme_signature()
        style_figure(self.figure, self)
        if self.restyle_hook is not None:
            self.restyle_hook()
        self.draw_idle()

    def _maybe_restyle(self) -> None:
        if getattr(self, "restyle_hook", None) is None:    # still in __init__ (setParent)
            return
        if self._theme_signature() != self._theme_key:
            self.restyle()

    def changeEvent(self, event):  # noqa: N802 - Qt name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange,
                            QEvent.Type.StyleChange, QEvent.Type.ParentChange):
            self._maybe_restyle()
        super().changeEvent(event)

    def showEvent(self, event):  # noqa: N802
        self._maybe_restyle()
        super().showEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(480, max(self.minimumHeight(), 260))
