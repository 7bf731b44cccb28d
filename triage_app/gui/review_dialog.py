"""Keyboard-driven review queue over batch results, most uncertain first.

Keys: 1–9 and 0 pick a class, Enter confirms (saves the correction), ←/→ move, Esc closes."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
)

from triage_app.gui.widgets import TopKBars, muted_label

KEYS = {Qt.Key.Key_1: 0, Qt.Key.Key_2: 1, Qt.Key.Key_3: 2, Qt.Key.Key_4: 3, Qt.Key.Key_5: 4,
        Qt.Key.Key_6: 5, Qt.Key.Key_7: 6, Qt.Key.Key_8: 7, Qt.Key.Key_9: 8, Qt.Key.Key_0: 9}


class ReviewDialog(QDialog):
    def __init__(self, model, ticket_fn, parent=None, only_flagged: bool | None = None):
        super().__init__(parent)
        self.model = model
        self.ticket_fn = ticket_fn
        self.labels = list(model.labels)
        self.setWindowTitle("Review queue — most uncertain first")
        self.resize(860, 640)
        self.pos_i = 0
        self.choice: str | None = None
        self.saved = 0
        flagged_any = bool(model.review[: model.n].any())
        self._build(flagged_any if only_flagged is None else only_flagged)
        self._rebuild_queue()

    def _nofocus(self, w):
        w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        if isinstance(w, QPushButton):
            w.setAutoDefault(False)
            w.setDefault(False)
        return w

    def _build(self, only_flagged: bool):
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.header = QLabel()
        self.header.setObjectName("sectionTitle")
        top.addWidget(self.header, 1)
        self.only_flagged = self._nofocus(QCheckBox("Only tickets flagged for review"))
        self.only_flagged.setChecked(only_flagged)
        self.only_flagged.toggled.connect(lambda _c: self._rebuild_queue())
        top.addWidget(self.only_flagged)
        self.hide_suggest = self._nofocus(QCheckBox("Hide suggestion until I choose"))
        self.hide_suggest.toggled.connect(lambda _c: self._show())
        top.addWidget(self.hide_suggest)
        lay.addLayout(top)

        self.ticket_view = self._nofocus(QTextBrowser())
        self.ticket_view.setMinimumHeight(160)
        lay.addWidget(self.ticket_view, 2)

        self.suggest_box = QGroupBox("Model suggestions")
        sl = QVBoxLayout(self.suggest_box)
        self.bars = TopKBars()
        sl.addWidget(self.bars)
        lay.addWidget(self.suggest_box)

        cbox = QGroupBox("Correct class — press its number")
        grid = QGridLayout(cbox)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        cols = 3 if len(self.labels) > 6 else 2
        for i, lab in enumerate(self.labels):
            key = str((i + 1) % 10) if i < 10 else ""
            b = self._nofocus(QPushButton(f"{key}   {lab}" if key else lab))
            b.setCheckable(True)
            b.setStyleSheet("text-align: left; padding: 5px 10px;")
            b.setToolTip(f"Press {key}" if key else lab)
            self.group.addButton(b, i)
            grid.addWidget(b, i // cols, i % cols)
        self.group.idClicked.connect(lambda i: self.pick(self.labels[i]))
        lay.addWidget(cbox)

        bottom = QHBoxLayout()
        self.status = muted_label("", wrap=False)
        bottom.addWidget(self.status, 1)
        self.prev_btn = self._nofocus(QPushButton("← Previous"))
        self.prev_btn.clicked.connect(lambda: self.move(-1))
        self.next_btn = self._nofocus(QPushButton("Skip →"))
        self.next_btn.clicked.connect(lambda: self.move(1))
        self.confirm_btn = self._nofocus(QPushButton("Confirm  ⏎"))
        self.confirm_btn.setObjectName("primary")
        self.confirm_btn.clicked.connect(self.confirm)
        close = self._nofocus(QPushButton("Close"))
        close.clicked.connect(self.accept)
        for b in (self.prev_btn, self.next_btn, self.confirm_btn, close):
            bottom.addWidget(b)
        lay.addLayout(bottom)
        lay.addWidget(muted_label("Keys: 1–9, 0 pick a class · Enter confirms and saves · ←/→ move · Esc closes"))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # ---- queue ---------------------------------------------------------------------------------
    def _rebuild_queue(self):
        self.queue = self.model.review_order(self.only_flagged.isChecked())
        self.pos_i = 0
        self._show()

    @property
    def current_row(self) -> int | None:
        return self.queue[self.pos_i] if 0 <= self.pos_i < len(self.queue) else None

    def _show(self):
        r = self.current_row
        if r is None:
            self.header.setText("Nothing to review")
            self.ticket_view.setHtml("<p>No tickets in the queue.</p>")
            self.suggest_box.hide()
            self.confirm_btn.setEnabled(False)
            return
        self.confirm_btn.setEnabled(True)
        m = self.model
        pred = m.predicted(r)
        done = m.corrected_label(r)
        unc = float(m.uncertainty()[r]) if m.n else 0.0
        why = m.review_reason(r)
        self.header.setText(f"Ticket {self.pos_i + 1} of {len(self.queue)} · row {r + 1} · uncertainty {unc:.2f}"
                            + (f" · {why}" if why else ""))
        t = self.ticket_fn(r)
        parts = []
        if t.get("file_label"):
            agree = "agrees with" if t["file_label"] == pred else "differs from"
            parts.append(f"<p><b>In the file:</b> {html.escape(t['file_label'])} <i>({agree} the model)</i></p>")
        if t.get("title"):
            parts.append(f"<h3>{html.escape(t['title'])}</h3>")
        for k in ("body", "text"):
            if t.get(k):
                parts.append(f"<p>{html.escape(t[k]).replace(chr(10), '<br>')}</p>")
        self.ticket_view.setHtml("".join(parts) or "<p><i>(empty ticket)</i></p>")
        hide = self.hide_suggest.isChecked() and self.choice is None
        self.suggest_box.setVisible(not hide)
        self.bars.set_data(m.top(r, 3))
        if self.choice is None:
            pre = None if self.hide_suggest.isChecked() else (done or pred)
            self._check(pre)
        extra = f" · already corrected to {done}" if done else ""
        self.status.setText((f"Chosen: {self.choice} — Enter saves" if self.choice else
                             f"Predicted {pred if not hide else '(hidden)'}{extra}") +
                            f" · {self.saved} saved this session")

    def _check(self, label):
        self.group.setExclusive(False)
        for b in self.group.buttons():
            b.setChecked(False)
        self.group.setExclusive(True)
        if label in self.labels:
            self.group.button(self.labels.index(label)).setChecked(True)

    def pick(self, label: str):
        self.choice = label
        self._check(label)
        self._show()

    def move(self, step: int):
        if not self.queue:
            return
        self.pos_i = max(0, min(len(self.queue) - 1, self.pos_i + step))
        self.choice = None
        self._show()

    def confirm(self):
        r = self.current_row
        if r is None:
            return False
        label = self.choice
        if label is None:
            b = self.group.checkedButton()
            label = self.labels[self.group.id(b)] if b is not None else None
        if label is None:
            self.status.setText("Pick a class first (number keys).")
            return False
        self.model.set_correction(r, label)
        self.saved += 1
        self.choice = None
        if self.pos_i < len(self.queue) - 1:
            self.pos_i += 1
        self._show()
        return True

    def keyPressEvent(self, e):
        k = e.key()
        if k in KEYS and KEYS[k] < len(self.labels) and not e.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.pick(self.labels[KEYS[k]])
        elif k in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.confirm()
        elif k in (Qt.Key.Key_Right, Qt.Key.Key_Down):
            self.move(1)
        elif k in (Qt.Key.Key_Left, Qt.Key.Key_Up):
            self.move(-1)
        else:
            super().keyPressEvent(e)
