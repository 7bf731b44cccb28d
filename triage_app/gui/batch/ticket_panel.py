"""The Batch tab's ticket panel: the selected result row in full (its text and every input column,
the prediction, its alternatives, why it needs review, the file's label, the correction) and the
words that drove the prediction.

The explanation is :meth:`TicketClassifier.explain` of the row's ticket, built from the row's input
columns with the column mapping the batch run used, run as a job (:func:`start_job`, one at a
time): a row selected while one runs waits as the one pending request (a newer selection replaces
it), and a result is shown only while its row is still the one shown, of the same results, and the
active model is still the one it was computed with.  The worker gets plain data and never touches a
widget.
"""
from __future__ import annotations

import html

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QTextBrowser, QVBoxLayout, QWidget

from triage_app.gui.batch.result_columns import roles
from triage_app.gui.context import same_path
from triage_app.gui.widgets import ExplainView, section_title, start_job

JOB = "explain row"


def ticket_for(model, data_row: int) -> dict:
    """The ticket the batch run classified for ``data_row``: its mapped fields (title/body/text)."""
    from triage_app.engine import tickets_from_frame

    fields = {k: v for k, v in (getattr(model, "fields", None) or {}).items() if v in model.input_columns}
    if not fields:
        return {}
    return tickets_from_frame(model.df.iloc[data_row: data_row + 1], fields)[0]


def made_by(model) -> str:
    """The model a run's results came from, in words."""
    name, version = getattr(model, "model_name", None), getattr(model, "model_version", None)
    return f"{name} v{version}" if name else "the model these results came from"


def model_problem(model, clf) -> str:
    """Why ``clf`` cannot explain ``model``'s predictions (``""``: it can)."""
    made = made_by(model)
    if clf is None:
        which = f"{made} (the model these results came from)" if getattr(model, "model_name", None) else made
        return (f"No model is active, so the words behind this prediction cannot be shown. Activate "
                f"{which} in the Models tab.")
    path = getattr(model, "model_path", None)
    version = getattr(model, "model_version", None)
    same = list(clf.labels) == list(model.labels) and (version is None or str(version) == str(clf.version)) \
        and (path is None or same_path(path, clf.bundle.path))
    if same:
        return ""
    return (f"The active model ({clf.name} v{clf.version}) is not the one these results came from ({made}): "
            f"its explanation would not match these predictions. Activate {made} in the Models tab, or "
            f"classify the file again.")


def _pct(p: float) -> str:
    return f"{p:.1%}"


class TicketPanel(QWidget):
    """``show_row(model, data_row)`` shows a row (``None``: nothing selected).  ``explained``
    holds ``(model, data_row)`` of the explanation on display (None: none)."""

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.model = None
        self.row: int | None = None
        self.explained: tuple | None = None
        self.job = None
        self._pending: tuple | None = None       # (model, row, classifier, ticket) waiting for the job
        self._deferred = False                   # a row shown while the panel was hidden: explain on show
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.heading = QLabel("")
        self.heading.setObjectName("sectionTitle")
        self.heading.setWordWrap(True)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.heading)
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.details.setMinimumHeight(80)
        self.details.setPlaceholderText("Select a row to see the whole ticket and why the model chose its label.")
        box = QWidget()
        bl = QVBoxLayout(box)
        bl.setContentsMargins(0, 4, 0, 0)
        words = section_title("Words that drove the prediction")
        words.setToolTip("Green words raised the probability of the predicted label, red ones lowered it; "
                         "hover a word to see by how much")
        bl.addWidget(words)
        self.explain_view = ExplainView()         # says what is going on while it shows no words
        self.explain_view.setMinimumHeight(50)
        bl.addWidget(self.explain_view, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(self.details)
        split.addWidget(box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([300, 150])
        lay.addWidget(split, 1)
        self.setMinimumWidth(260)
        if ctx is not None:
            ctx.modelChanged.connect(lambda _c: self.explain())
        self.show_row(None, None)

    # ---- the row -------------------------------------------------------------------------------
    def show_row(self, model, data_row: int | None) -> None:
        same = model is self.model and data_row == self.row
        self.model, self.row = model, data_row
        self.update_details()
        if not same:
            self.explain()

    def update_details(self) -> None:
        """Show the current row's text, columns and prediction (again: after a correction)."""
        m, r = self.model, self.row
        if m is None or r is None or r >= m.n:
            self.heading.setText("No ticket selected")
            self.details.clear()
            return
        ticket = ticket_for(m, r)
        title = str(ticket.get("title") or "").strip()
        text = str(ticket.get("text") or ticket.get("body") or "").strip()
        key = roles(m)["id"]
        v = m.df.iloc[r, m.input_columns.index(key)] if key else None
        name = "" if _missing(v) else str(v).strip()
        self.heading.setText(f"Row {r + 1}" + (f" · {name}" if name else ""))
        self.details.setHtml(self._html(m, r, title, text))

    def _html(self, m, r: int, title: str, text: str) -> str:
        e = html.escape
        out = []
        if title:
            out.append(f"<p style='font-size:12pt'><b>{e(title)}</b></p>")
        if text:
            out.append(f"<p>{e(text).replace(chr(10), '<br>')}</p>")
        pred, conf = m.predicted(r), float(m.conf[r])
        rows = [("Predicted", f"<b>{e(pred)}</b> · {_pct(conf)}")]
        alts = [(lab, p) for lab, p in m.top(r) if lab != pred]
        if alts:
            rows.append(("Alternatives", " · ".join(f"{e(lab)} {_pct(p)}" for lab, p in alts)))
        rows.append(("Uncertainty", f"{m.uncertainty_of(r):.2f}"))
        reason = m.review_reason(r)
        corr = m.corrected_label(r)
        rows.append(("Review", e(reason) if reason else ("reviewed (corrected)" if corr else "auto-routed")))
        if m.truth(r):
            rows.append(("In the file", f"{e(m.truth(r))} {m.match_mark(r)}"))
        if corr:
            rows.append(("Your correction", f"<b>{e(corr)}</b>"))
        out.append(_table(rows))
        cols = [(c, "" if _missing(v) else str(v)) for c, v in zip(m.input_columns, m.df.iloc[r].tolist())]
        out.append("<p style='margin-top:10px'><b>All columns</b></p>")
        out.append(_table([(e(c), e(v).replace("\n", "<br>")) for c, v in cols]))
        return "".join(out)

    # ---- the explanation -----------------------------------------------------------------------
    def explain(self) -> None:
        """Work out the current row's explanation with the active model (in a job)."""
        m, r = self.model, self.row
        self.explained = None
        self.explain_view.set_words([])
        self._pending = None
        if m is None or r is None or r >= m.n:
            self._note("")
            return
        clf = self.ctx.classifier if self.ctx is not None else None
        problem = model_problem(m, clf)
        if problem:
            self._note(problem)
            return
        ticket = ticket_for(m, r)
        if not any(str(v).strip() for v in ticket.values()):
            self._note("This row has no text in the columns the run classified.")
            return
        if not self.isVisible():
            self._deferred = True
            self._note("")
            return
        self._deferred = False
        self._note("Working out which words drove the prediction…")
        self._pending = (m, r, clf, ticket)
        if self.job is None or not self.job.is_running():
            self._start_pending()

    def _note(self, text: str) -> None:
        """What the explanation area says while it shows no words (``""``: the default)."""
        self.status = text or "Select a row to see which words drove its prediction."
        self.explain_view.setPlaceholderText(self.status)

    def _start_pending(self) -> None:
        req, self._pending = self._pending, None
        if req is None:
            return
        clf, ticket = req[2], req[3]

        def work(emit, should_stop):
            return clf.explain(ticket)

        job = start_job(self.ctx, self, JOB, work, "Explaining the ticket failed",
                        on_finished=lambda words, req=req: self._on_words(req, words),
                        on_failed=lambda msg, _d, req=req: self._on_failed(req, msg))
        self.job = job
        if job is None:
            self._note("The explanation could not be started; select the row again.")
            return
        job.done.connect(lambda job=job: self._job_done(job))

    def _job_done(self, job) -> None:
        if job is self.job and not job.should_stop():
            self._start_pending()

    def _current(self, req) -> bool:
        m, r, clf, _t = req
        return m is self.model and r == self.row and self.ctx is not None and clf is self.ctx.classifier

    def _on_words(self, req, words) -> None:
        if not self._current(req):          # a newer row or another model: not this one's words
            return
        m, r, _clf, _t = req
        self.explained = (m, r)
        self.explain_view.set_words(list(words), m.predicted(r), float(m.conf[r]))
        self._note("")

    def _on_failed(self, req, msg: str) -> None:
        if self._current(req):
            self._note(f"The explanation failed: {msg}")

    def showEvent(self, e) -> None:
        super().showEvent(e)
        if self._deferred:
            self.explain()


def _missing(v) -> bool:
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _table(rows) -> str:
    cells = "".join(f"<tr><td style='padding:1px 10px 1px 0; white-space:nowrap'><i>{k}</i></td>"
                    f"<td style='padding:1px 0'>{v}</td></tr>" for k, v in rows)
    return f"<table cellspacing='0'>{cells}</table>"
