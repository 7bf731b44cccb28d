"""Help menu contents: the keyboard shortcuts (the ones the app really binds) and a short user guide
of the three workflows, shown in one dialog with two pages."""
from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTabWidget, QTextBrowser, QVBoxLayout, QWidget

# (keys, what) -- main_window.py, triage_tab.py and review_dialog.py bind these
SHORTCUTS = [
    ("Ctrl+1 … Ctrl+4", "Switch to Triage, Batch, Train, Models"),
    ("Ctrl+Enter", "Classify the ticket in the Triage tab"),
    ("Ctrl+O", "Open a ticket file (CSV, TSV, XLSX, JSON, JSONL) in the Batch tab"),
    ("Ctrl+Q", "Quit (asks first while a job runs or when a trained model is unsaved)"),
    ("F1", "This help"),
    ("Review queue: 1–9, 0", "Pick the class with that number"),
    ("Review queue: Enter", "Confirm the choice and save the correction"),
    ("Review queue: ← / →", "Previous / next ticket"),
    ("Review queue: Esc", "Close the queue"),
]

GUIDE = """
<h3>Triage one ticket</h3>
<ol>
<li>Paste the title and the body (or tick <i>One text field</i>), press <b>Ctrl+Enter</b>.</li>
<li>Read the label, its calibrated confidence and the alternatives. <b>Needs review</b> means the
confidence is below the review threshold, or the ticket does not look like the tickets the model
learned from (<i>unfamiliar words</i>, <i>too short</i>): the badge says which.</li>
<li>The highlighted words are those that moved the decision; hover one for how much.</li>
<li>If the label is wrong, pick the right one and <b>Save correction</b>: corrections are kept for
retraining.</li>
</ol>
<h3>Classify a helpdesk export</h3>
<ol>
<li>Batch tab: open or drop the file, check the column mapping (title, body or one text column; a
label column, if the file has one, measures the model).</li>
<li><b>Classify all</b> runs in the background with progress, time left and <b>Cancel</b>.</li>
<li>Sort by uncertainty, filter to the tickets that need review, fix labels in the table or with the
<b>Review queue</b> (keys 1–9, Enter).</li>
<li><b>Export…</b> writes every input column plus the predictions, the review flag and its reason.</li>
</ol>
<h3>Retrain on your own tickets</h3>
<ol>
<li>Train tab: load a labeled file, choose the label and text columns, check the class balance and
the labels left out as too rare. To predict more than one field (priority, queue…) with one model,
tick them under <i>More label columns</i> and set each one's loss weight.</li>
<li>Keep the <b>Auto</b> preset and a time budget: it picks the strongest recipe that fits this
computer and says which, with its time estimate, before it starts.</li>
<li>Watch the loss curves (the total and, with several targets, each one's); when it is done,
compare with the active model on the same tickets, target by target.</li>
<li><b>Save</b> keeps the model; <b>Use this model</b> switches to it (it asks first if the new model
scored lower). Every model stays in the Models tab, so switching back is one click.</li>
</ol>
<h3>Models and thresholds</h3>
<p>The Models tab lists the bundled and your trained models with their test figures and the number
of test tickets behind them; the model card says what a model was trained on and where it is weak.
<i>Review thresholds</i> sets, per class, how sure the model must be to auto-route a ticket, with the
precision and coverage that follow on the model's validation tickets.</p>
"""


def shortcuts_html() -> str:
    rows = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in SHORTCUTS)
    return f"<table cellspacing='0' cellpadding='4'>{rows}</table>"


class HelpDialog(QDialog):
    """Two pages: the user guide and the keyboard shortcuts."""

    def __init__(self, parent: QWidget | None = None, page: str = "guide"):
        super().__init__(parent)
        self.setWindowTitle("TicketTriage help")
        self.resize(720, 620)
        lay = QVBoxLayout(self)
        self.pages = QTabWidget()
        self.guide = QTextBrowser()
        self.guide.setHtml(GUIDE)
        self.keys = QTextBrowser()
        self.keys.setHtml(shortcuts_html())
        self.pages.addTab(self.guide, "User guide")
        self.pages.addTab(self.keys, "Keyboard shortcuts")
        self.pages.setCurrentIndex(1 if page == "keys" else 0)
        lay.addWidget(self.pages, 1)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
