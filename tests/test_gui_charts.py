"""One palette, one chart style: every role exists in both themes, every chart (loss, distribution,
confusion, review thresholds) and the painted heatmap take their colours from ``style.colors`` and
follow a theme switch, and no GUI module but style.py writes a colour as a hex literal."""
from __future__ import annotations

import re
import tokenize
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from matplotlib.colors import to_hex, to_rgba  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from triage_app.gui import style  # noqa: E402

GUI = Path(__file__).resolve().parent.parent / "triage_app" / "gui"
HEX = re.compile(r"#[0-9a-fA-F]{6}\b")
CHART_ROLES = {"grid", "spine", "series_primary", "series_secondary", "bar", "heat_low", "heat_high",
               "cell_text_light", "cell_text_dark"}
SEMANTIC_ROLES = {"muted", "accent", "warn", "good", "bad", "text", "window", "base", "border"}


@pytest.fixture
def theme(qapp):
    """``theme(mode)`` applies the app theme; the app's look is restored afterwards."""
    app = QApplication.instance()
    saved = (app.palette(), app.styleSheet(), app.style().name(), app.property("triageTheme"), app.font())

    def apply(mode: str) -> dict:
        assert style.apply_theme(app, mode) == mode
        QApplication.processEvents()
        return style.colors()

    yield apply
    pal, sheet, style_name, prop, font = saved
    app.setProperty("triageTheme", prop)
    app.setStyleSheet(sheet)
    app.setStyle(style_name)
    app.setPalette(pal)
    app.setFont(font)


def same(a, b) -> bool:
    """Same colour (alpha ignored: legend frames are drawn translucent)."""
    return np.allclose(to_rgba(a)[:3], to_rgba(b)[:3], atol=1 / 255)


# --------------------------------------------------------------------------- palette
def test_palette_has_every_role_in_both_themes():
    assert set(style.LIGHT) == set(style.DARK) == set(style.ROLES)
    assert CHART_ROLES | SEMANTIC_ROLES <= set(style.ROLES)
    for pal in (style.LIGHT, style.DARK):
        for role, value in pal.items():
            assert re.fullmatch(r"#[0-9a-f]{6}", value), (role, value)
    assert style.LIGHT["window"] != style.DARK["window"]


def test_colors_follow_the_theme(theme, qtbot):
    from PySide6.QtWidgets import QWidget

    w = QWidget()
    qtbot.addWidget(w)
    for mode, pal in (("dark", style.DARK), ("light", style.LIGHT)):
        c = theme(mode)
        assert c == pal and style.colors(w) == pal
        assert style.is_dark(w) is (mode == "dark") and style.mode_of() == mode
        for role in ("muted", "accent", "warn", "good", "bad"):   # the roles the Train tab paints with
            assert role in c
    from triage_app.gui import train_plots

    assert train_plots.is_dark is style.is_dark     # the Train tab's import keeps working


def test_unthemed_app_reads_the_palette(qapp, qtbot, monkeypatch):
    from PySide6.QtWidgets import QWidget

    app = QApplication.instance()
    prop = app.property("triageTheme")
    app.setProperty("triageTheme", None)
    try:
        w = QWidget()
        qtbot.addWidget(w)
        w.setPalette(style.palette_for("dark"))
        assert style.is_dark(w) and style.colors(w) == style.DARK
        w.setPalette(style.palette_for("light"))
        assert not style.is_dark(w) and style.colors(w) == style.LIGHT
    finally:
        app.setProperty("triageTheme", prop)


def test_heat_ramp_and_cell_text():
    for c in (style.LIGHT, style.DARK):
        assert style.heat_color(c, 0.0).name() == c["heat_low"]
        assert style.heat_color(c, 1.0).name() == c["heat_high"]
        assert style.heat_color(c, 1.0, "good").name() == c["good"]
        texts = {style.text_on(c, style.heat_color(c, s)) for s in (0.0, 1.0)}
        assert texts == {c["cell_text_light"], c["cell_text_dark"]}    # both ends stay legible


# --------------------------------------------------------------------------- charts
def check_axes(ax, canvas, c):
    assert same(ax.get_facecolor(), c["base"])
    assert same(canvas.figure.get_facecolor(), c["window"])
    assert same(ax.xaxis.label.get_color(), c["text"])
    assert same(ax.yaxis.label.get_color(), c["text"])
    assert same(next(iter(ax.spines.values())).get_edgecolor(), c["spine"])
    ticks = [t for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_text()]
    assert all(same(t.get_color(), c["text"]) for t in ticks)


def test_loss_plot_follows_the_theme(theme, qtbot):
    from triage_app.gui.train_plots import LossPlot

    for mode in ("dark", "light"):
        c = theme(mode)
        plot = LossPlot()
        qtbot.addWidget(plot)
        plot.show()
        check_axes(plot.ax, plot.canvas, c)
        assert same(plot.ema_line.get_color(), c["series_primary"])
        assert same(plot.val_line.get_color(), c["series_secondary"])
        assert same(plot.val_line.get_markerfacecolor(), c["base"])
    other = theme("dark")                       # a shown chart restyles on the switch
    check_axes(plot.ax, plot.canvas, other)
    assert same(plot.ema_line.get_color(), other["series_primary"])
    legend = plot.ax.get_legend()
    assert all(same(t.get_color(), other["text"]) for t in legend.get_texts())
    assert same(legend.get_frame().get_facecolor(), other["base"])


def test_loss_plot_draws_each_target_beside_the_total(theme, qtbot):
    from trainer.events import EpochEvent, StepEvent
    from triage_app.gui.train_plots import LossPlot

    c = theme("light")
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.show()
    for step in range(1, 5):
        plot.add(StepEvent("head", step, 8, step / 4, 1.5 + 1 / step, 1e-3, 10.0,
                           {"category": 1.0 + 1 / step, "priority": 0.5}))
    plot.add(EpochEvent("head", 1, 2, 4, 1.8, 1.6, 0.5, 0.4, 1.0, 1.0, True,
                        {"category": {"train_loss": 1.3, "val_loss": 1.1, "val_accuracy": 0.5, "val_macro_f1": 0.4},
                         "priority": {"train_loss": 0.5, "val_loss": 0.5, "val_accuracy": 0.5,
                                      "val_macro_f1": 0.4}}))
    plot.flush()
    assert list(plot.targets) == ["category", "priority"]
    cat, pri = plot.targets["category"], plot.targets["priority"]
    assert list(cat.line.get_xdata()) == [1.0, 2.0, 3.0, 4.0]
    assert cat.ema[0] == pytest.approx(2.0) and cat.ema[-1] < cat.ema[0]     # smoothed like the total
    assert list(pri.val.get_ydata()) == [0.5] and list(cat.val.get_ydata()) == [1.1]
    assert same(cat.line.get_color(), c["series_1"]) and same(pri.line.get_color(), c["series_2"])
    labels = [t.get_text() for t in plot.ax.get_legend().get_texts()]
    assert labels == ["total training loss (smoothed)", "total validation loss", "category", "priority"]
    plot.set_x_mode("epochs")                                                 # both axes modes
    assert list(cat.line.get_xdata()) == [0.25, 0.5, 0.75, 1.0]
    dark = theme("dark")
    assert same(cat.line.get_color(), dark["series_1"])
    plot.reset()                                  # a new run: one target again, the lines gone
    assert plot.targets == {} and len(plot.ax.lines) == 3
    assert [t.get_text() for t in plot.ax.get_legend().get_texts()] == ["training loss (smoothed)",
                                                                        "validation loss"]


def test_distribution_chart_colours(theme, qtbot):
    from triage_app.gui.train_plots import DistributionChart

    chart = DistributionChart()
    qtbot.addWidget(chart)
    chart.show()
    chart.set_data({"a": 50, "b": 30, "c": 4}, threshold=10)
    for mode in ("dark", "light"):
        c = theme(mode)
        check_axes(chart.ax, chart, c)
        bars = [to_hex(b.get_facecolor()) for b in chart.bars]
        assert bars == [c["bar"], c["bar"], c["warn"]]
        assert all(same(line.get_color(), c["grid"]) for line in chart.ax.get_xgridlines())


def test_confusion_chart_colours(theme, qtbot):
    from triage_app.gui.train_plots import ConfusionChart

    chart = ConfusionChart()
    qtbot.addWidget(chart)
    chart.show()
    chart.set_data([[9, 1, 0], [2, 8, 0], [0, 5, 5]], ["x", "y", "z"])
    for mode in ("dark", "light"):
        c = theme(mode)
        ax = chart.figure.axes[0]
        check_axes(ax, chart, c)
        cmap = chart.image.get_cmap()
        assert to_hex(cmap(0.0)) == c["heat_low"] and to_hex(cmap(1.0)) == c["heat_high"]
        cell_texts = {to_hex(t.get_color()) for t in ax.texts}
        assert cell_texts <= {c["cell_text_light"], c["cell_text_dark"]} and len(cell_texts) == 2


def _thresholds_panel(qtbot, tmp_path):
    from triage_app.corrections import CorrectionsStore
    from triage_app.gui.context import AppContext
    from triage_app.gui.thresholds_panel import ThresholdsPanel

    ctx = AppContext(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                     corrections=CorrectionsStore(tmp_path / "c.sqlite3"), device="cpu")
    panel = ThresholdsPanel(ctx)
    qtbot.addWidget(panel)
    labels = ["alpha", "beta", "gamma"]
    panel.bundle = SimpleNamespace(labels=labels, review_threshold=0.4, class_thresholds={}, name="synthetic",
                                   version="1", path=tmp_path, targets=[])
    panel.labels = labels
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1, 1, 1], size=200).astype(np.float32)
    y = rng.integers(0, 3, size=200)
    return panel, probs, y


def test_thresholds_chart_is_built_on_first_show_and_follows_the_theme(theme, qtbot, tmp_path):
    panel, probs, y = _thresholds_panel(qtbot, tmp_path)
    panel.set_data(probs, y, "synthetic")
    assert panel.canvas is None and panel.summary_text().endswith("go to review)")   # data without a chart
    for i, mode in enumerate(("dark", "light")):
        c = theme(mode)
        if i == 0:
            panel.show()
            qtbot.waitExposed(panel)
        assert panel.canvas is not None and panel._lines
        check_axes(panel.ax, panel.canvas, c)
        assert same(panel._lines["prec"].get_color(), c["series_primary"])
        assert same(panel._lines["cov"].get_color(), c["series_secondary"])
        assert same(panel._lines["vline"].get_color(), c["warn"])
        np.testing.assert_allclose(panel._lines["prec"].get_ydata(), panel.curve["global"]["precision"] * 100)
    panel.set_global(0.7)
    qtbot.waitUntil(lambda: list(panel._lines["vline"].get_xdata()) == [0.7, 0.7], timeout=2000)


def test_painted_heatmap_uses_the_palette(theme, qtbot):
    from triage_app.gui.widgets import Heatmap

    for mode in ("dark", "light"):
        c = theme(mode)
        hm = Heatmap()
        qtbot.addWidget(hm)
        hm.resize(300, 200)
        hm.set_data(["a", "b"], np.array([[10, 0], [0, 10]]))
        img = hm.grab().toImage()
        fm_h = hm.fontMetrics().height() + 4
        label_w = min(max(hm.fontMetrics().horizontalAdvance(s) for s in ("1 a", "2 b")) + 8, int(300 * 0.45))
        cell = max(8.0, min((300 - label_w - 2) / 2, (200 - fm_h - 2) / 2))
        off = QColor(img.pixel(int(label_w + cell + 2), int(fm_h + 2)))         # row 0, column 1: empty
        diag = QColor(img.pixel(int(label_w + 2), int(fm_h + 2)))               # row 0, column 0: all correct
        assert off.name() == c["heat_low"] and diag.name() == c["good"]


# --------------------------------------------------------------------------- no inline colours
def hex_literals(path: Path) -> list[tuple[int, str]]:
    found = []
    with open(path, "rb") as f:
        for tok in tokenize.tokenize(f.readline):
            if tok.type == tokenize.STRING or getattr(tokenize, "FSTRING_MIDDLE", -1) == tok.type:
                found += [(tok.start[0], m) for m in HEX.findall(tok.string)]
    return found


def test_hex_literal_scanner(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('a = "#1f6fb2"\nb = f"{x} #ABCDEF"\n# "#123456" in a comment\nc = "#12345"\n')
    assert [m for _, m in hex_literals(f)] == ["#1f6fb2", "#ABCDEF"]


def test_no_hex_colours_outside_style():
    """Colours come from style.py's palette; every other GUI module (the Train tab included)
    looks them up by role."""
    offenders = {}
    for f in sorted(GUI.rglob("*.py")):
        if f.name == "style.py" and f.parent == GUI:
            continue
        hits = hex_literals(f)
        if hits:
            offenders[str(f.relative_to(GUI))] = hits
    assert not offenders, offenders


def test_frozen_columns_edge_follows_a_theme_switch(theme, qtbot):
    from triage_app.gui.batch.frozen_table import FrozenTableView

    t = FrozenTableView()
    qtbot.addWidget(t)
    light = theme("light")["border"]
    assert light in t.frozen.styleSheet()
    dark = theme("dark")["border"]
    assert dark != light
    assert dark in t.frozen.styleSheet() and light not in t.frozen.styleSheet()
