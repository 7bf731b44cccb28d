"""Which columns of a :class:`ResultsModel` the Batch results table shows first (and keeps in place
while scrolling sideways), in what order, and how wide.

Frozen, in this order: the file's ID column (when it has one), the title (or the whole text, or
the body), the predicted label, the file's own label and the ✓ / ✗ match mark (when the run used a
label column).  Then the rest of the prediction columns (confidence, uncertainty, review,
correction), the other input columns as in the file, and the top three labels.
"""
from __future__ import annotations

import re

from PySide6.QtGui import QFontMetrics

from triage_app.gui.results_model import PRED_COLUMNS

C_PRED, C_CONF, C_REVIEW, C_CORR = range(4)
# exact names (normalised: lower case, runs of other characters -> "_") of a ticket's id column
ID_NAMES = ("id", "ticket_id", "ticketid", "ticket_no", "ticket_nr", "ticket_number", "ticket_key",
            "case_id", "case_number", "incident_id", "incident_number", "issue_id", "issue_key",
            "request_id", "key", "number", "no", "nr", "ref", "reference")
ID_WORDS = {"id", "number", "no", "nr", "key"}
WIDTHS = {C_PRED: 160, C_CONF: 90, C_REVIEW: 128, C_CORR: 150}    # "Unfamiliar words" fits; inputs get 220
MIN_TEXT, MID_LABEL, MIN_LABEL = 100, 120, 84     # how far the frozen title and label columns are squeezed


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def id_column(columns: list[str], exclude=()) -> str | None:
    """The column that names each ticket (``ticket_id``, ``ID``, ``Number`` ...), or None."""
    cand = [c for c in columns if c not in set(exclude)]
    norm = {c: _norm(c) for c in cand}
    for name in ID_NAMES:
        hit = next((c for c in cand if norm[c] == name), None)
        if hit is not None:
            return hit
    return next((c for c in cand if norm[c].split("_")[-1] in ID_WORDS and norm[c].startswith(("ticket", "case",
                                                                                               "incident"))), None)


def roles(model) -> dict:
    """``{"id", "text", "label"}``: the input columns that play these parts (None where none)."""
    fields = getattr(model, "fields", None) or {}
    cols = model.input_columns
    text = next((fields.get(k) for k in ("title", "text", "body") if fields.get(k) in cols), None)
    label = getattr(model, "label_col", None)
    label = label if label in cols else None
    used = [c for c in list(fields.values()) + [label] if c]
    return {"id": id_column(cols, used), "text": text, "label": label}


def layout(model) -> tuple[list[int], int, set[int]]:
    """``(order, n_frozen, hidden)`` of the model's logical columns."""
    base = len(PRED_COLUMNS)
    r = roles(model)
    col = {name: base + i for i, name in enumerate(model.input_columns)}
    frozen = [col[r["id"]]] if r["id"] else []
    frozen += [col[r["text"]]] if r["text"] else []
    frozen.append(C_PRED)
    if r["label"]:
        frozen += [col[r["label"]], model.c_match]
    rest = [C_CONF, model.c_unc, C_REVIEW, C_CORR] + list(getattr(model, "c_targets", []))
    rest += [c for c in col.values() if c not in frozen] + [model.c_top]
    hidden = set() if r["label"] else {model.c_match}
    return frozen + rest + sorted(hidden), len(frozen), hidden


def widths(model, fm: QFontMetrics) -> dict[int, int]:
    """Starting widths: the prediction columns fixed, an ID column fit to its first values, the
    uncertainty and match columns fit to their headers, other inputs 220 pixels."""
    out = {c: 220 for c in range(model.columnCount())}
    out.update(WIDTHS)
    for j, c in enumerate(getattr(model, "c_targets", [])):     # a target's label, confidence, review
        out[c] = (130, WIDTHS[C_CONF], 80)[j % 3]
    pad = 30         # room for the sort indicator and the margins
    out[model.c_unc] = fm.horizontalAdvance(model.columns[model.c_unc]) + pad
    out[model.c_match] = fm.horizontalAdvance(model.columns[model.c_match]) + 12
    r = roles(model)
    base = len(PRED_COLUMNS)
    if r["id"]:
        c = base + model.input_columns.index(r["id"])
        vals = model.df.iloc[:200, c - base].astype(str).tolist() + [r["id"]]
        out[c] = min(160, max(fm.horizontalAdvance(v) for v in vals) + 18)
    labels = max((fm.horizontalAdvance(v) for v in model.labels), default=100) + pad
    out[C_PRED] = max(100, min(WIDTHS[C_PRED], labels))
    if r["text"]:
        out[base + model.input_columns.index(r["text"])] = 260
    if r["label"]:
        out[base + model.input_columns.index(r["label"])] = out[C_PRED]
    return out


def squeeze(model) -> list[tuple[int, int]]:
    """The frozen columns narrowed when they would take too much of the table, first first: the
    labels down to ``MID_LABEL``, then the title (or text), then the labels down to ``MIN_LABEL``."""
    base = len(PRED_COLUMNS)
    r = roles(model)
    labels = ([base + model.input_columns.index(r["label"])] if r["label"] else []) + [C_PRED]
    out = [(c, MID_LABEL) for c in labels]
    out += [(base + model.input_columns.index(r["text"]), MIN_TEXT)] if r["text"] else []
    return out + [(c, MIN_LABEL) for c in labels]
