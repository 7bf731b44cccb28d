"""Small reusable widgets and helpers: banner, top-k bars, confusion heatmap, explanation view,
error/confirm dialogs, and ``start_job`` (a Job registered with the app context: one job of a name at a time)."""
from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QObject, QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from triage_app.gui import style
from triage_app.gui.workers import Job

log = logging.getLogger("triage.gui")

TABLE_EXTENSIONS = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".json", ".jsonl", ".ndjson")
TABLE_FILTER = ("Ticket files (*.csv *.tsv *.txt *.xlsx *.xlsm *.json *.jsonl *.ndjson);;"
                "CSV (*.csv);;TSV (*.tsv);;Excel (*.xlsx);;JSON (*.json);;JSON Lines (*.jsonl);;All files (*)")


# --------------------------------------------------------------------------- dialogs
def ask(parent: QWidget | None, title: str, text: str, yes: str = "Yes", no: str = "Cancel") -> bool:
    """Blocking yes/no question (tests monkeypatch this function)."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, parent)
    y = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(no, QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(y)
    box.exec()
    return box.clickedButton() is y


def show_error(parent: QWidget | None, what: str, message: str, todo: str = "",
               details: str = "") -> QMessageBox:
    """Readable, non-blocking error box: what failed, why, what to do; traceback in "Show Details"."""
    text = f"<b>{html.escape(what)}</b>"
    info = html.escape(message).replace("\n", "<br>")
    if todo:
        info += f"<br><br>{html.escape(todo)}"
    box = QMessageBox(QMessageBox.Icon.Warning, "TicketTriage", text, QMessageBox.StandardButton.Ok, parent)
    box.setInformativeText(info)
    if details:
        box.setDetailedText(details)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    if parent is not None:
        parent.setProperty("lastError", f"{what}: {message}")
    log.warning("%s: %s", what, message)
    return box


def hint_for(error: BaseException | None) -> str:
    """What the user can do about ``error``, chosen by its class."""
    import errno

    from triage_app.bundle import BundleError
    from triage_app.io import TableError

    if isinstance(error, BundleError):
        return "Check the model folder or import it again in Models; the previous model stays active."
    if isinstance(error, TableError):
        return "Check the file and the columns chosen in the mapping panel, then try again."
    if isinstance(error, PermissionError) or (isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EROFS)):
        return "Choose another folder you can write to, or free some disk space."
    if isinstance(error, FileNotFoundError):
        return "Check that the file still exists and try again."
    return "Try again; if it keeps failing, use 'Show Details' and report the text."


def start_job(ctx, owner: QWidget, name: str, fn: Callable, what: str,
              on_finished: Callable | None = None, on_event: Callable | None = None,
              on_cancelled: Callable | None = None, on_failed: Callable | None = None) -> Job | None:
    """Run ``fn(emit, should_stop)`` in a :class:`Job` registered with the context.

    Returns ``None`` (and tells the user) when a job of the same name already runs.  Failures
    end in :func:`show_error` unless ``on_failed`` handles them."""
    if not ctx.begin_job(name):
        old = ctx.job(name)
        if old is not None and not old.is_running():   # finished, its thread is just ending
            old.wait(5000)
            ctx.end_job(name)
        if not ctx.begin_job(name):
            win = owner.window()
            if hasattr(win, "statusBar"):
                win.statusBar().showMessage(f"'{name}' is already running", 4000)
            return None
    job = Job(name, fn, owner)
    ctx.register_job(job)
    if on_event is not None:
        job.event.connect(on_event)
    if on_finished is not None:
        job.finished.connect(on_finished)
    if on_cancelled is not None:
        job.cancelled.connect(on_cancelled)

    def failed(msg, details):
        if on_failed is not None:
            on_failed(msg, details)
        else:
            show_error(owner, what, msg, hint_for(job.error), details)

    job.failed.connect(failed)
    job.done.connect(lambda: ctx.end_job(name, job))
    job.start()
    return job


# --------------------------------------------------------------------------- banner
class Banner(QFrame):
    """A dismissable note at the top of a window; its action buttons (if any) sit in a row under the
    text, so a long note with actions still fits a narrow window."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("banner")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 6, 6, 6)
        outer.setSpacing(6)
        lay = QHBoxLayout()
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.label, 1)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Hide this note")
        close.clicked.connect(self.hide)
        lay.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(lay)
        self._actions = QHBoxLayout()
        self._actions.setContentsMargins(0, 0, 0, 0)
        self._actions.addStretch(1)
        outer.addLayout(self._actions)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def add_action(self, text: str, slot: Callable[[], None], tip: str = "") -> QPushButton:
        """A button in the row under the text (left to right in the order they are added)."""
        b = QPushButton(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        self._actions.insertWidget(self._actions.count() - 1, b)
        return b


# --------------------------------------------------------------------------- top-k bars
class TopKBars(QWidget):
    """Horizontal bars: label | bar | percentage, best first (custom painted, theme aware)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.items: list[tuple[str, float]] = []
        self.threshold: float | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(260)

    def set_data(self, items: list[tuple[str, float]], threshold: float | None = None) -> None:
        self.items = [(str(a), float(b)) for a, b in items]
        self.threshold = threshold
        self.setToolTip("\n".join(f"{a}: {b:.1%}" for a, b in self.items))
        self.updateGeometry()
        self.update()

    def _row_h(self) -> int:
        return max(22, QFontMetrics(self.font()).height() + 10)

    def shown_label(self, i: int, width: int) -> str:
        """Row ``i``'s label as drawn in ``width`` pixels: elided at the end with the row's font."""
        f = QFont(self.font())
        f.setBold(i == 0)
        return QFontMetrics(f).elidedText(self.items[i][0], Qt.TextElideMode.ElideRight, width)

    def sizeHint(self) -> QSize:
        return QSize(360, max(1, len(self.items)) * self._row_h() + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(260, max(1, len(self.items)) * self._row_h() + 4)

    def paintEvent(self, _e):
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = QFontMetrics(self.font())
        bold = QFont(self.font())
        bold.setBold(True)
        fmb = QFontMetrics(bold)          # the first row is bold: measured and elided with its own font
        rh = self._row_h()
        w = self.width()
        label_w = min(max(((fmb if i == 0 else fm).horizontalAdvance(a) for i, (a, _) in enumerate(self.items)),
                          default=60) + 12, int(w * 0.42))
        pct_w = fm.horizontalAdvance("100.0 %") + 10
        bar_x = label_w
        bar_w = max(10, w - label_w - pct_w)
        c = style.colors(self)
        track = QColor(c["border"])
        track.setAlpha(90)
        for i, (lab, pr) in enumerate(self.items):
            y = i * rh + 2
            p.setPen(QColor(c["text"]))
            p.setFont(bold if i == 0 else self.font())
            p.drawText(QRectF(0, y, label_w - 8, rh), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                       self.shown_label(i, label_w - 8))
            r = QRectF(bar_x, y + rh * 0.22, bar_w, rh * 0.56)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(track)
            p.drawRoundedRect(r, 3, 3)
            col = QColor(c["accent"] if i == 0 else c["muted"])
            p.setBrush(col)
            p.drawRoundedRect(QRectF(r.x(), r.y(), max(2.0, r.width() * max(0.0, min(1.0, pr))), r.height()), 3, 3)
            p.setPen(QColor(c["text"]))
            p.drawText(QRectF(bar_x + bar_w + 6, y, pct_w, rh), Qt.AlignmentFlag.AlignVCenter, f"{pr:.1%}")
        if self.threshold is not None and self.items:
            x = bar_x + bar_w * self.threshold
            pen = p.pen()
            pen.setColor(QColor(c["warn"]))
            pen.setStyle(Qt.PenStyle.DashLine)
            pen.setWidth(2)
            p.setPen(pen)
            p.drawLine(int(x), 0, int(x), len(self.items) * rh + 2)
        p.end()


# --------------------------------------------------------------------------- confusion heatmap
class Heatmap(QWidget):
    """Confusion matrix: rows true class, columns predicted (numbered), counts in cells.  Cells use
    the palette's heatmap ramp (heat_low to heat_high, as the matplotlib confusion charts do); the
    diagonal (correct) runs from heat_low to good."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.labels: list[str] = []
        self.matrix = None
        self.setMinimumHeight(84)      # 8-px cells for 8 classes: a low window squeezes it
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_data(self, labels, matrix) -> None:
        self.labels = list(labels)
        self.matrix = matrix
        self.setToolTip("Rows: true label, columns: predicted label (numbered like the rows)<br>"
                        + "<br>".join(f"{i + 1} {html.escape(str(lab))}" for i, lab in enumerate(self.labels)))
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        n = max(1, len(self.labels))
        return QSize(300, min(420, 24 + n * 24))

    def hasHeightForWidth(self) -> bool:
        return False

    def paintEvent(self, _e):
        if self.matrix is None or not self.labels:
            return
        import numpy as np
        p = QPainter(self)
        fm = QFontMetrics(self.font())
        n = len(self.labels)
        c = style.colors(self)
        names = [f"{i + 1} {lab}" for i, lab in enumerate(self.labels)]
        label_w = min(max(fm.horizontalAdvance(s) for s in names) + 8, int(self.width() * 0.45))
        head_h = fm.height() + 4
        cell = max(8.0, min((self.width() - label_w - 2) / n, (self.height() - head_h - 2) / n))
        m = np.asarray(self.matrix, dtype=float)
        row_sum = m.sum(axis=1, keepdims=True)
        share = np.divide(m, row_sum, out=np.zeros_like(m), where=row_sum > 0)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() - 1.5))
        for j in range(n):
            p.setPen(QColor(c["muted"]))
            p.setFont(small)
            p.drawText(QRectF(label_w + j * cell, 0, cell, head_h), Qt.AlignmentFlag.AlignCenter, str(j + 1))
        # row names in the normal font where a row is tall enough, else smaller, else only in the tooltip
        row_font = next((f for f in (self.font(), small) if QFontMetrics(f).height() <= cell + 2), None)
        for i in range(n):
            y = head_h + i * cell
            if row_font is not None:
                p.setFont(row_font)
                p.setPen(QColor(c["text"]))
                p.drawText(QRectF(0, y, label_w - 6, cell), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                           QFontMetrics(row_font).elidedText(names[i], Qt.TextElideMode.ElideRight, label_w - 6))
            for j in range(n):
                r = QRectF(label_w + j * cell, y, cell - 1, cell - 1)
                col = style.heat_color(c, share[i, j], "good" if i == j else "heat_high")
                p.fillRect(r, col)
                if m[i, j] and cell >= 16:
                    p.setFont(small)
                    p.setPen(QColor(style.text_on(c, col)))
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, str(int(m[i, j])))
        p.end()


# --------------------------------------------------------------------------- explanation view
def occlusion_tip(word: str, drop: float, label: str = "", base: float | None = None) -> str:
    """``removing "printer" changes Hardware from 91% to 84%`` (or what the score alone says)."""
    what = label or "the prediction"
    if base is None:
        return f"{word}: {drop:+.4f} ({'for' if drop > 0 else 'against' if drop < 0 else 'neutral'} {what})"
    after = min(1.0, max(0.0, base - drop))
    if f"{base:.0%}" == f"{after:.0%}":
        return f'removing "{word}" leaves {what} at {base:.0%}'
    return f'removing "{word}" changes {what} from {base:.0%} to {after:.0%}'


class ExplainView(QTextBrowser):
    """The ticket's words coloured by their contribution (green for, red against); hovering a word
    says what removing it does to the predicted label's probability."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setOpenLinks(False)
        self.words: list[tuple[str, float]] = []
        self.setMouseTracking(True)
        self.setPlaceholderText("Classify a ticket to see which words drove the prediction.")

    def set_words(self, words: list[tuple[str, float]], label: str = "", base: float | None = None) -> None:
        """``words``: (word, drop in ``label``'s calibrated probability when the word is removed);
        ``base``: that probability with every word."""
        self.words = list(words)
        self.clear()
        cur = self.textCursor()
        top = max((abs(s) for _, s in self.words), default=0.0) or 1.0
        c = style.colors(self)
        plain = QTextCharFormat()
        for i, (w, s) in enumerate(self.words):
            fmt = QTextCharFormat()
            strength = min(1.0, abs(s) / top)
            if strength >= 0.08:
                col = QColor(c["good"] if s > 0 else c["bad"])
                col.setAlpha(int(40 + 170 * strength))
                fmt.setBackground(col)
                if strength > 0.6:
                    fmt.setFontWeight(QFont.Weight.DemiBold)
            fmt.setToolTip(occlusion_tip(w, s, label, base))
            cur.insertText(w, fmt)
            if i < len(self.words) - 1:
                cur.insertText(" ", plain)
        self.moveCursor(QTextCursor.MoveOperation.Start)

    def tooltip_at(self, pos: QPoint) -> str:
        cur = self.cursorForPosition(pos)
        if not cur.atBlockEnd():
            cur.movePosition(QTextCursor.MoveOperation.NextCharacter, QTextCursor.MoveMode.KeepAnchor)
        return cur.charFormat().toolTip()

    def viewportEvent(self, e):
        if e.type() == QEvent.Type.ToolTip:
            tip = self.tooltip_at(e.pos())
            if tip:
                QToolTip.showText(e.globalPos(), tip, self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(e)


# --------------------------------------------------------------------------- file drops
def dropped_table_path(mime) -> str | None:
    if mime is None or not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in TABLE_EXTENSIONS:
            return url.toLocalFile()
    return None


class FileDropFilter(QObject):
    """Event filter for editors that would swallow file drops: ticket files go to ``fileDropped``."""

    fileDropped = Signal(str)

    def eventFilter(self, obj, e):
        t = e.type()
        if t in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if dropped_table_path(e.mimeData()):
                e.acceptProposedAction()
                return True
        elif t == QEvent.Type.Drop:
            path = dropped_table_path(e.mimeData())
            if path:
                e.acceptProposedAction()
                self.fileDropped.emit(path)
                return True
        return False


class WheelOnlyWhenFocused(QObject):
    """Event filter: a spin box or combo box under the mouse ignores the wheel unless it has the
    keyboard focus, so scrolling a form over it scrolls the form instead of changing the value."""

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()          # ignored: Qt hands the wheel to the parent (the scroll area)
            return True
        return False


def wheel_only_when_focused(*widgets: QWidget) -> None:
    """Install :class:`WheelOnlyWhenFocused` on ``widgets`` (and give them click/tab focus only)."""
    for w in widgets:
        f = WheelOnlyWhenFocused(w)
        w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        w.installEventFilter(f)


def muted_label(text: str = "", wrap: bool = True) -> QLabel:
    """Secondary text: the app style sheet colours ``#muted``; the palette role otherwise."""
    lab = QLabel(text)
    lab.setObjectName("muted")
    lab.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    lab.setWordWrap(wrap)
    return lab


def section_title(text: str) -> QLabel:
    lab = QLabel(text)
    lab.setObjectName("sectionTitle")
    return lab

