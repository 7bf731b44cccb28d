"""The Batch tab's background work as plain functions ``work(emit, should_stop)`` for
:func:`triage_app.gui.widgets.start_job`: they read files and run the classifier, emit plain data
(tuples of numbers and arrays) and never touch a widget."""
from __future__ import annotations

import time

from triage_app import io as tio
from triage_app.errors import Cancelled
from triage_app.mapping import suggest_mapping


def read_work(path: str, sheet: str | None, meta: dict):
    """Read ``path`` (``sheet``, else the first sheet of a workbook) and guess its column mapping
    for a model described by ``meta``.  The result: ``(path, df, report, sheets, sheet, mapping)``."""

    def work(emit, should_stop):
        sheets = tio.list_sheets(path)
        use = sheet if sheet else (sheets[0] if sheets else None)
        df, report = tio.read_table(path, sheet=use)
        # the column guess may scan the text of every row: done here, off the GUI thread
        return path, df, report, sheets, use, suggest_mapping([str(c) for c in df.columns], df, meta)

    return work


def chunk_starts(total: int, chunk: int) -> list[int]:
    """Start rows of the chunks a run hands to the table: a small first chunk (64 rows) gives early
    progress and a short first burst of Python work on the GUI thread."""
    return [0] + list(range(min(64, total), total, chunk)) if total else []


def classify_work(clf, df, fields: dict, batch: int | None, interval: float):
    """Classify every row of ``df`` (columns ``fields``) with ``clf``.

    Emits ``("start", None)``, then ``("chunk", start, probs, reasons)`` per chunk in order (a
    multi-target model adds its probabilities by target: ``("chunk", start, primary, reasons, by_target)``) and
    ``("progress", done, total, elapsed)`` at most every ``interval`` seconds; returns
    ``{"rows", "seconds"}``.  Raises :class:`Cancelled` once ``should_stop()`` is true."""
    from triage_app.engine import tickets_from_frame

    total = len(df)
    chunk = 512 if total <= 20000 else 2048

    def work(emit, should_stop):
        t0 = time.perf_counter()
        tickets = tickets_from_frame(df, fields)
        emit(("start", None))
        last = [0.0]
        starts = chunk_starts(total, chunk)
        for i, start in enumerate(starts):
            part = tickets[start: starts[i + 1] if i + 1 < len(starts) else total]

            def prog(done, _n, start=start):
                now = time.perf_counter()
                if last[0] == 0.0 or now - last[0] >= interval:
                    last[0] = now
                    emit(("progress", start + done, total, now - t0))
            if clf.targets:       # one run of the model for every target
                by_target, reasons = clf.score_targets(part, batch, should_stop=should_stop, on_progress=prog)
                emit(("chunk", start, by_target[clf.targets[0].name], reasons, by_target))
            else:
                probs, reasons = clf.score(part, batch, should_stop=should_stop, on_progress=prog)
                emit(("chunk", start, probs, reasons))
            if should_stop():
                raise Cancelled()
        emit(("progress", total, total, time.perf_counter() - t0))
        return {"rows": total, "seconds": time.perf_counter() - t0}

    return work
