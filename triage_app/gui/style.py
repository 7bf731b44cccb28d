"""Look and feel: Fusion with an explicit light or dark palette, a small style sheet, and the
semantic colours (accent, good, bad, warn, muted) that widgets paint with.

Colours are always derived from the active palette, so every custom-painted widget stays legible
in both themes."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QWidget

LIGHT = {
    "window": "#f4f5f7", "base": "#ffffff", "alt": "#f0f2f5", "text": "#1d2330", "muted": "#5f6b7a",
    "button": "#eceef2", "highlight": "#2f6fde", "highlight_text": "#ffffff", "border": "#c9ced6",
    "accent": "#2f6fde", "good": "#1e8e4e", "bad": "#c83a3a", "warn": "#b7791f", "tooltip": "#ffffe6",
    "card": "#ffffff", "link": "#2359b8",
}
DARK = {
    "window": "#1f2229", "base": "#262a33", "alt": "#2c313b", "text": "#e6e9ef", "muted": "#9aa4b2",
    "button": "#30353f", "highlight": "#4a86f0", "highlight_text": "#ffffff", "border": "#434a57",
    "accent": "#5b95f5", "good": "#4cc47f", "bad": "#f06a6a", "warn": "#e0a542", "tooltip": "#30353f",
    "card": "#262a33", "link": "#7fb0ff",
}


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
    p.setColor(role.Shadow, QColor("#000000"))
    dis = QPalette.ColorGroup.Disabled
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(dis, r, QColor(c["muted"]))
    return p


def system_prefers_dark() -> bool:
    try:
        return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    except AttributeError:  # very old Qt
        return False


def current_mode(app: QApplication | None = None) -> str:
    app = app or QApplication.instance()
    mode = app.property("triageTheme") if app is not None else None
    return mode if mode in ("light", "dark") else "light"


def colors(widget: QWidget | None = None) -> dict:
    """Semantic colours for the current theme (as hex strings)."""
    return dict(DARK if current_mode() == "dark" else LIGHT)


def qcolor(name: str, alpha: int | None = None) -> QColor:
    c = QColor(colors()[name])
    if alpha is not None:
        c.setAlpha(alpha)
    return c


def stylesheet(mode: str) -> str:
    c = DARK if mode == "dark" else LIGHT
    return f"""
QGroupBox {{ font-weight: 600; border: 1px solid {c['border']}; border-radius: 6px;
            margin-top: 12px; padding: 10px 8px 8px 8px; background: {c['card']}; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; color: {c['text']}; }}
QPushButton {{ padding: 5px 14px; min-height: 20px; }}
QPushButton#primary {{ background: {c['accent']}; color: #ffffff; border: 1px solid {c['accent']};
                       border-radius: 4px; font-weight: 600; padding: 6px 18px; }}
QPushButton#primary:hover {{ background: {QColor(c['accent']).lighter(112).name()}; }}
QPushButton#primary:disabled {{ background: {c['button']}; color: {c['muted']}; border-color: {c['border']}; }}
QLabel#headline {{ font-size: 22pt; font-weight: 700; }}
QLabel#sectionTitle {{ font-size: 11pt; font-weight: 700; }}
QLabel#muted {{ color: {c['muted']}; }}
QLabel#badgeReview {{ background: {c['warn']}; color: #ffffff; border-radius: 9px; padding: 2px 10px;
                      font-weight: 700; }}
QLabel#badgeOk {{ background: {c['good']}; color: #ffffff; border-radius: 9px; padding: 2px 10px;
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
    app.setStyle("Fusion")
    app.setPalette(palette_for(mode))
    app.setProperty("triageTheme", mode)
    f = app.font()
    if f.pointSizeF() < 10:
        f.setPointSizeF(10)
        app.setFont(f)
    app.setStyleSheet(stylesheet(mode))
    return mode


def mono_font() -> QFont:
    f = QFont("monospace")
    f.setStyleHint(QFont.StyleHint.Monospace)
    return f
