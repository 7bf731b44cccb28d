"""Look and feel: Fusion with an explicit light or dark palette, a small style sheet, and the one
colour palette every widget, table and chart paints with.

``LIGHT`` and ``DARK`` hold the same roles (hex strings):

- window chrome: window, base, alt, text, muted, button, highlight, highlight_text, border, tooltip,
  card, link, shadow, on_accent (text on accent/good/warn fills);
- meaning: accent, good, bad, warn;
- charts (used by ``triage_app.gui.charts``): grid, spine, series_primary, series_secondary,
  series_1 .. series_4 (one per target of a several-target loss curve, cycled), bar,
  heat_low / heat_high (the two ends of the heatmap colour map), cell_text_light / cell_text_dark
  (counts printed on heatmap cells, chosen by the cell's lightness).

Colours are always looked up here (``colors(widget)``), never written inline, so every widget and
chart stays legible in both themes.  This module does not import matplotlib."""
from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QWidget

LIGHT = {
    "window": "#f4f5f7", "base": "#ffffff", "alt": "#f0f2f5", "text": "#1d2330", "muted": "#5f6b7a",
    "button": "#eceef2", "highlight": "#2f6fde", "highlight_text": "#ffffff", "border": "#c9ced6",
    "accent": "#2f6fde", "good": "#1e8e4e", "bad": "#c83a3a", "warn": "#b7791f", "tooltip": "#ffffe6",
    "card": "#ffffff", "link": "#2359b8", "shadow": "#000000", "on_accent": "#ffffff",
    "grid": "#e3e5e8", "spine": "#b8bcc2", "series_primary": "#1f6fb2", "series_secondary": "#d9480f",
    "series_1": "#2b8a3e", "series_2": "#7048e8", "series_3": "#c2255c", "series_4": "#0b7285",
    "bar": "#4a86c5", "heat_low": "#eef2f8", "heat_high": "#1f4f9e",
    "cell_text_light": "#f5f5f5", "cell_text_dark": "#111111",
}
DARK = {
    "window": "#1f2229", "base": "#262a33", "alt": "#2c313b", "text": "#e6e9ef", "muted": "#9aa4b2",
    "button": "#30353f", "highlight": "#4a86f0", "highlight_text": "#ffffff", "border": "#434a57",
    "accent": "#5b95f5", "good": "#4cc47f", "bad": "#f06a6a", "warn": "#e0a542", "tooltip": "#30353f",
    "card": "#262a33", "link": "#7fb0ff", "shadow": "#000000", "on_accent": "#ffffff",
    "grid": "#3a3f44", "spine": "#5b6168", "series_primary": "#5aa9e6", "series_secondary": "#ffa657",
    "series_1": "#69db7c", "series_2": "#b197fc", "series_3": "#f783ac", "series_4": "#3bc9db",
    "bar": "#5aa9e6", "heat_low": "#2b303a", "heat_high": "#8cb8ff",
    "cell_text_light": "#f5f5f5", "cell_text_dark": "#111111",
}
ROLES = tuple(LIGHT)
TARGET_SERIES = ("series_1", "series_2", "series_3", "series_4")


def palette_for(mode: str) -> QPalette:
    c = DARK if mode == "dark" else LIGHT
    p = QPalette()
    role = QPalette.ColorRole
    p.setColor(role.Window, QColor(c["window"]))
    p.setColor(role.WindowText, QColor(c["text"]))
    p.setColor(role.Base, QColor(c["base"]))
    p.setColor(role.AlternateBase, QColor(c["alt"]))
    p.setColor(role.ToolTipBase, QColor(c["tooltip"]))
    p.setColor(role.ToolTipText, QColor(c["text"]))
    p.setColor(role.PlaceholderText, QColor(c["muted"]))
    p.setColor(role.Text, QColor(c["text"]))
    p.setColor(role.Button, QColor(c["button"]))
    p.setColor(role.ButtonText, QColor(c["text"]))
    p.setColor(role.BrightText, QColor(c["bad"]))
    p.setColor(role.Highlight, QColor(c["highlight"]))
    p.setColor(role.HighlightedText, QColor(c["highlight_text"]))
    p.setColor(role.Link, QColor(c["link"]))
    p.setColor(role.Mid, QColor(c["border"]))
    p.setColor(role.Midlight, QColor(c["alt"]))
    p.setColor(role.Dark, QColor(c["border"]).darker(130))
    p.setColor(role.Light, QColor(c["base"]).lighter(110))
    p.setColor(role.Shadow, QColor(c["shadow"]))
    dis = QPalette.ColorGroup.Disabled
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(dis, r, QColor(c["muted"]))
    return p


def system_prefers_dark() -> bool:
    try:
        return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    except AttributeError:  # very old Qt
        return False


def _palette(widget: QWidget) -> QPalette:
    """The palette ``widget`` is shown with.  A matplotlib canvas sets its own white palette, so
    for a canvas this is its parent's palette (or the application's)."""
    mpl_qt = sys.modules.get("matplotlib.backends.backend_qt")   # only a loaded matplotlib has canvases
    if mpl_qt is not None and isinstance(widget, mpl_qt.FigureCanvasQT):
        parent = widget.parentWidget()
        return parent.palette() if parent is not None else QApplication.palette()
    return widget.palette()


def mode_of(widget: QWidget | None = None) -> str:
    """"dark" or "light": the app theme once :func:`apply_theme` set one, else the lightness of
    ``widget``'s palette (or of the application palette)."""
    app = QApplication.instance()
    if app is not None and app.property("triageTheme") in ("light", "dark"):
        return app.property("triageTheme")
    pal = _palette(widget) if widget is not None else QApplication.palette()
    return "dark" if pal.color(QPalette.ColorRole.Window).lightness() < 128 else "light"


def is_dark(widget: QWidget | None = None) -> bool:
    return mode_of(widget) == "dark"


def colors(widget: QWidget | None = None) -> dict:
    """The palette roles of the theme ``widget`` is shown in (hex strings; see the module doc)."""
    return dict(DARK if mode_of(widget) == "dark" else LIGHT)


def qcolor(name: str, alpha: int | None = None, widget: QWidget | None = None) -> QColor:
    c = QColor(colors(widget)[name])
    if alpha is not None:
        c.setAlpha(alpha)
    return c


def blend(a: str, b: str, t: float) -> QColor:
    """The colour a fraction ``t`` (0..1) of the way from ``a`` to ``b``."""
    t = min(1.0, max(0.0, float(t)))
    ca, cb = QColor(a), QColor(b)
    return QColor.fromRgbF(ca.redF() + (cb.redF() - ca.redF()) * t, ca.greenF() + (cb.greenF() - ca.greenF()) * t,
                           ca.blueF() + (cb.blueF() - ca.blueF()) * t)


def heat_color(c: dict, share: float, high: str = "heat_high") -> QColor:
    """Heatmap cell colour for ``share`` (0..1) on the palette ``c``'s colour map."""
    return blend(c["heat_low"], c[high], share)


def text_on(c: dict, fill) -> str:
    """The cell text role colour (light or dark) that reads on the fill colour ``fill``."""
    q = QColor(fill) if not isinstance(fill, QColor) else fill
    luminance = 0.2126 * q.redF() + 0.7152 * q.greenF() + 0.0722 * q.blueF()
    return c["cell_text_dark"] if luminance > 0.5 else c["cell_text_light"]


def stylesheet(mode: str) -> str:
    c = DARK if mode == "dark" else LIGHT
    return f"""
QGroupBox {{ font-weight: 600; border: 1px solid {c['border']}; border-radius: 6px;
            margin-top: 12px; padding: 10px 8px 8px 8px; background: {c['card']}; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; color: {c['text']}; }}
QPushButton {{ padding: 5px 14px; min-height: 20px; }}
QPushButton#primary {{ background: {c['accent']}; color: {c['on_accent']}; border: 1px solid {c['accent']};
                       border-radius: 4px; font-weight: 600; padding: 6px 18px; }}
QPushButton#primary:hover {{ background: {QColor(c['accent']).lighter(112).name()}; }}
QPushButton#primary:disabled {{ background: {c['button']}; color: {c['muted']}; border-color: {c['border']}; }}
QLabel#headline {{ font-size: 22pt; font-weight: 700; }}
QLabel#sectionTitle {{ font-size: 11pt; font-weight: 700; }}
QLabel#muted {{ color: {c['muted']}; }}
QLabel#warnText {{ color: {c['warn']}; }}
QLabel#badgeReview {{ background: {c['warn']}; color: {c['on_accent']}; border-radius: 9px; padding: 2px 10px;
                      font-weight: 700; }}
QLabel#badgeOk {{ background: {c['good']}; color: {c['on_accent']}; border-radius: 9px; padding: 2px 10px;
                  font-weight: 700; }}
QFrame#banner {{ background: {QColor(c['warn']).lighter(175 if mode == 'light' else 60).name()};
                 border: 1px solid {c['warn']}; border-radius: 5px; }}
QFrame#banner QLabel {{ color: {c['text']}; }}
QLabel#mappingNote {{ background: {QColor(c['warn']).lighter(175 if mode == 'light' else 60).name()};
                      border: 1px solid {c['warn']}; border-radius: 5px; padding: 5px 7px;
                      color: {c['text']}; }}
QFrame#card {{ background: {c['card']}; border: 1px solid {c['border']}; border-radius: 6px; }}
QTabWidget::pane {{ border-top: 1px solid {c['border']}; }}
QTabBar::tab {{ padding: 7px 18px; }}
QTableView {{ gridline-color: {c['border']}; }}
QStatusBar QLabel {{ padding: 0 6px; }}
"""


def apply_theme(app: QApplication, mode: str | None = None) -> str:
    """Fusion + palette (``mode`` "light"/"dark"; None follows the system)."""
    if mode not in ("light", "dark"):
        mode = "dark" if system_prefers_dark() else "light"
    app.setProperty("triageTheme", mode)   # first: widgets restyle while setPalette notifies them
    app.setStyle("Fusion")
    app.setPalette(palette_for(mode))
    f = app.font()
    if f.pointSizeF() < 10:
        f.setPointSizeF(10)
        app.setFont(f)
    app.setStyleSheet(stylesheet(mode))
    return mode
