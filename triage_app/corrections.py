"""SQLite store of the corrections a reviewer made to predictions.  stdlib sqlite3.

One row per ticket text: the key is the sha256 of the *normalised* text
(whitespace runs collapsed to one space, stripped; case is kept), so adding a
correction for a text that is already stored replaces the earlier one.

The text of a ticket (:func:`ticket_text`) follows the same rule as
``text.compose(..., routing="same")`` for title/body tickets:

* ``title + ". " + body`` when both are non-empty,
* otherwise whichever of title/body is non-empty,
* otherwise the plain ``text``.

``add()`` applies it to ``fields["title"]``/``fields["body"]`` (when either is
non-empty those win over the ``text`` argument, so the hash matches what
:meth:`CorrectionsStore.merge_into` computes from title/body columns);
``merge_into()`` uses the text column when one is named and the title/body
rule otherwise.

Several targets: a correction of one target of a multi-target model
(``add(..., target="priority")``) is kept in a second table keyed on (text,
target); ``merge_into(..., target_cols=[...])`` applies each to its own label
column.  A correction without a target (the first table, as before) is the
primary label column's (``label_col``).

Every call opens its own connection (safe to use from GUI worker threads);
the database runs in WAL mode.
"""
from __future__ import annotations

import hashlib
import math
import re
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

COLUMNS = ["text_hash", "text", "title", "body", "predicted", "confidence",
           "corrected", "model_version", "created"]

_WS = re.compile(r"\s+")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS corrections (
    text_hash     TEXT PRIMARY KEY,
    text          TEXT NOT NULL,
    title         TEXT,
    body          TEXT,
    predicted     TEXT,
    confidence    REAL,
    corrected     TEXT NOT NULL,
    model_version TEXT,
    created       TEXT NOT NULL
)
"""
TARGET_COLUMNS = COLUMNS + ["target"]
_TARGET_SCHEMA = """
CREATE TABLE IF NOT EXISTS target_corrections (
    text_hash     TEXT NOT NULL,
    target        TEXT NOT NULL,
    text          TEXT NOT NULL,
    title         TEXT,
    body          TEXT,
    predicted     TEXT,
    confidence    REAL,
    corrected     TEXT NOT NULL,
    model_version TEXT,
    created       TEXT NOT NULL,
    PRIMARY KEY (text_hash, target)
)
"""


def _s(value) -> str:
    """``None``/NaN/``pandas.NA``/``NaT`` -> ``""``, anything else -> ``str``."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if type(value).__name__ in ("NAType", "NaTType"):
        return ""
    return str(value)


def normalise_text(text) -> str:
    """Collapse whitespace runs to one space and strip."""
    return _WS.sub(" ", _s(text)).strip()


def text_hash(text) -> str:
    """sha256 hex digest of the normalised text."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def ticket_text(text=None, title=None, body=None) -> str:
    """The text a correction is keyed on (see the module docstring)."""
    t, b = _s(title).strip(), _s(body).strip()
    if t and b:
        return f"{t}. {b}"
    if t or b:
        return t or b
    return _s(text)


class CorrectionsStore:
    """Corrections in SQLite at ``path`` (default ``user_data_dir()/corrections.sqlite3``)."""

    def __init__(self, path=None):
        if path is None:
            from . import paths  # lazy: only needed for the default location
            path = Path(paths.user_data_dir()) / "corrections.sqlite3"
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con:
            con.execute("PRAGMA journal_mode=WAL")
            with con:
                con.execute(_SCHEMA)
                con.execute(_TARGET_SCHEMA)

    # ------------------------------------------------------------------ internals
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        con.row_factory = sqlite3.Row
        return con

    # ------------------------------------------------------------------ API
    def add(self, text: str, fields: dict | None, predicted: str, confidence: float,
            corrected: str, model_version: str, target: str | None = None) -> None:
        """Store a correction; a later one for the same normalised text (and target) replaces it.

        ``target``: the label column (target name) of a multi-target model the
        correction is for; None: the model's (primary) label.

        ``fields`` may hold ``title``/``body`` (and ``text``); when title or
        body is non-empty the stored text is :func:`ticket_text` of them,
        otherwise ``text`` (or ``fields["text"]`` when ``text`` is empty).
        Raises ``ValueError`` when there is no text or no corrected label.
        """
        fields = dict(fields or {})
        title = _s(fields.get("title"))
        body = _s(fields.get("body"))
        raw = _s(text) or _s(fields.get("text"))
        stored = ticket_text(raw, title, body)
        if not normalise_text(stored):
            raise ValueError("a correction needs a non-empty ticket text")
        if not _s(corrected).strip():
            raise ValueError("a correction needs a corrected label")
        conf = None if confidence is None else float(confidence)
        created = datetime.now(timezone.utc).isoformat(timespec="microseconds")  # noqa: UP017 (py3.10 ok)
        row = (text_hash(stored), stored, title, body, _s(predicted), conf,
               _s(corrected), _s(model_version), created)
        table, cols = ("corrections", COLUMNS) if target is None else ("target_corrections", TARGET_COLUMNS)
        if target is not None:
            if not _s(target).strip():
                raise ValueError("a target correction needs the target's name")
            row += (_s(target).strip(),)
        with closing(self._connect()) as con, con:
            con.execute(
                f"INSERT OR REPLACE INTO {table} "
                f"({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                row)

    def all(self) -> list[dict]:
        """Every correction as a dict (keys :data:`COLUMNS`), newest first."""
        with closing(self._connect()) as con:
            rows = con.execute(
                f"SELECT {', '.join(COLUMNS)} FROM corrections "
                "ORDER BY created DESC, rowid DESC").fetchall()
        return [dict(r) for r in rows]

    def target_corrections(self) -> list[dict]:
        """Every correction of a named target (keys :data:`TARGET_COLUMNS`), newest first."""
        with closing(self._connect()) as con:
            rows = con.execute(
                f"SELECT {', '.join(TARGET_COLUMNS)} FROM target_corrections "
                "ORDER BY created DESC, rowid DESC").fetchall()
        return [dict(r) for r in rows]

    def count(self) -> int:
        """Corrections of both kinds (the model's label, and named targets)."""
        with closing(self._connect()) as con:
            return sum(int(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                       for t in ("corrections", "target_corrections"))

    def clear(self) -> None:
        with closing(self._connect()) as con, con:
            con.execute("DELETE FROM corrections")
            con.execute("DELETE FROM target_corrections")

    def as_frame(self):
        """A pandas DataFrame with :data:`COLUMNS`, newest first."""
        import pandas as pd
        return pd.DataFrame(self.all(), columns=COLUMNS)

    def export_csv(self, path) -> int:
        """Write all corrections to ``path`` (UTF-8 with BOM); returns rows written.

        Text cells starting with ``= + - @`` tab or CR get a leading ``'`` so
        spreadsheets do not run them as formulas.  Written atomically by
        :func:`triage_app.io.write_table` (:mod:`triage_app.atomic`: a temporary
        file next to ``path``, then ``os.replace``).
        """
        from .io import write_table  # the project's one formula-safe, atomic writer

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        df = self.as_frame()
        write_table(df[COLUMNS].fillna(""), path)
        return len(df)

    def _by_column(self, label_col: str, target_cols) -> dict:
        """label column -> {text hash: correction}; the newest correction of a column wins."""
        cols = {label_col: {}, **{c: {} for c in target_cols or [] if c != label_col}}
        rows = [(r, label_col) for r in self.all()]
        rows += [(r, r["target"]) for r in self.target_corrections() if r["target"] in cols]
        for r, c in sorted(rows, key=lambda rc: rc[0]["created"]):
            cols[c][r["text_hash"]] = r
        return cols

    def merge_into(self, df, text_col=None, title_col=None, body_col=None, label_col=None, target_cols=None):
        """Apply the corrections to a labelled table; returns ``(df2, stats)``.

        The text of each row is ``df[text_col]`` when ``text_col`` is given,
        else :func:`ticket_text` of ``title_col``/``body_col``.  A row whose
        text hash matches a correction gets the corrected label; corrections
        matching no row are appended as new rows (text/title/body/label
        columns filled, other columns missing).  ``df`` is not modified;
        ``df2`` has a fresh RangeIndex.  ``target_cols``: the other label
        columns of a multi-target training; each gets the corrections stored
        for it as a target (an appended row has the labels of its corrections
        only, the others empty: masked for those targets).

        ``stats``: ``overridden`` = rows whose label changed, ``unchanged`` =
        the other original rows (including matched rows that already had the
        corrected label), ``added`` = appended rows; they sum to ``len(df2)``.
        """
        import pandas as pd

        if not label_col:
            raise ValueError("merge_into needs label_col")
        if not (text_col or title_col or body_col):
            raise ValueError("merge_into needs text_col, or title_col and/or body_col")
        for c in (text_col, title_col, body_col):
            if c and c not in df.columns:
                raise KeyError(f"column {c!r} not in {list(df.columns)}")

        by_col = self._by_column(label_col, target_cols)
        out = df.copy().reset_index(drop=True)
        for lc in by_col:
            if lc not in out.columns:
                out[lc] = None
            if out[lc].dtype != object:
                out[lc] = out[lc].astype(object)

        def col(c) -> list:
            return [_s(v) for v in out[c].tolist()] if c else [""] * len(out)

        if text_col:
            texts = col(text_col)
        else:
            texts = [ticket_text("", t, b) for t, b in zip(col(title_col), col(body_col))]
        hashes = [text_hash(t) for t in texts]
        seen: set[str] = set()
        changed: set[int] = set()
        for lc, corrections in by_col.items():
            labels = out[lc].tolist()
            for i, h in enumerate(hashes):  # column lists, not per-cell .at: 48k rows in ~0.1 s
                c = corrections.get(h)
                if c is None:
                    continue
                seen.add(h)
                if _s(labels[i]) != c["corrected"]:
                    labels[i] = c["corrected"]
                    changed.add(i)
            out[lc] = pd.Series(labels, index=out.index, dtype=object)

        new_rows: dict[str, dict] = {}
        for lc, corrections in by_col.items():
            for h, c in corrections.items():
                if h in seen:
                    continue
                row = new_rows.setdefault(h, self._new_row(c, text_col, title_col, body_col))
                row[lc] = c["corrected"]

        if new_rows:
            out = pd.concat([out, pd.DataFrame(list(new_rows.values()))], ignore_index=True)
        stats = {"overridden": len(changed), "added": len(new_rows),
                 "unchanged": len(df) - len(changed)}
        return out, stats

    @staticmethod
    def _new_row(c: dict, text_col, title_col, body_col) -> dict:
        """The text fields of a row appended for a correction that matches no row."""
        row = {}
        if text_col:
            row[text_col] = c["text"]
        title, body = c["title"] or "", c["body"] or ""
        if title_col and body_col:
            if not (title or body):
                body = c["text"]  # text-only correction: ticket_text("", "", text) == text
            row[title_col] = title
            row[body_col] = body
        elif title_col or body_col:
            row[title_col or body_col] = c["text"]
        return row
