"""The public reading API: :func:`read_table`, :func:`iter_table_chunks` (:class:`TableChunks`)
and :func:`list_sheets`.  Picks the reader by extension (:mod:`.delimited`, :mod:`.jsonfiles`,
:mod:`.excel`) after the checks of :mod:`.sniff`.

Every value is a ``str`` (object dtype); missing values are ``""``; numeric labels stay as
written (``"1"``, never ``1.0``).
"""
from __future__ import annotations

import itertools

import pandas as pd

from .defaults import DEFAULT_CHUNK_ROWS
from .delimited import CsvSource
from .excel import XlsxSource, open_workbook
from .formats import EXCEL_EXTS, JSON_EXTS, TEXT_EXTS
from .jsonfiles import JsonlSource, JsonSource
from .sniff import preflight
from .source import ReadReport, Source


def _open_source(path, *, sheet=None, on_bad_lines="skip", skip_truncated_tail=False) -> Source:
    if on_bad_lines not in ("skip", "error"):
        raise ValueError(f"on_bad_lines must be 'skip' or 'error', not {on_bad_lines!r}")
    p, ext, head = preflight(path)
    report = ReadReport(path=str(p))
    if sheet is not None and ext not in EXCEL_EXTS:
        report.warnings.append(f"sheet={sheet!r} was ignored: {ext} files have no sheets")
    args = (p, ext, head, report, on_bad_lines, bool(skip_truncated_tail))
    if ext in TEXT_EXTS:
        return CsvSource(*args)
    if ext in EXCEL_EXTS:
        return XlsxSource(*args, sheet=sheet)
    if ext in JSON_EXTS:
        return JsonSource(*args)
    return JsonlSource(*args)


def _frame(rows: list[list[str]], columns: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns}, columns=columns)
    return pd.DataFrame(rows, columns=columns, dtype=object)


# --------------------------------------------------------------------------- public reading API


def read_table(path, *, sheet=None, on_bad_lines: str = "skip", skip_truncated_tail: bool = False,
               max_rows: int | None = None) -> tuple[pd.DataFrame, ReadReport]:
    """Read a whole ticket table; every column is ``str`` (object dtype).

    ``sheet``: XLSX sheet name (or 0-based index); default the first sheet.
    ``on_bad_lines``: ``"skip"`` (count them in the report) or ``"error"``.
    ``skip_truncated_tail``: keep the rows before a quoted field / JSON record
    that the file ends inside of, instead of raising.
    ``max_rows``: stop after that many data rows (``0`` reads just the header).

    Raises :class:`TableError` (the message starts with the file name) for a
    missing, unreadable, empty, binary or malformed file, and for a header
    without rows.
    """
    src = _open_source(path, sheet=sheet, on_bad_lines=on_bad_lines,
                       skip_truncated_tail=skip_truncated_tail)
    rows: list[list[str]] = []
    try:
        if max_rows is None or max_rows > 0:
            for row in src.rows():
                rows.append(row)
                if max_rows is not None and len(rows) >= max_rows:
                    break
    finally:
        src.close()
    if not rows and max_rows != 0:
        raise src.no_rows_error()
    return _frame(rows, src.columns), src.report


class TableChunks:
    """Iterator of DataFrame chunks returned by :func:`iter_table_chunks`.

    ``columns`` and ``report`` are known at once (the report fills in while
    iterating).  Errors about the file itself (missing, empty, binary, header
    only) are raised when it is created; a bad line with
    ``on_bad_lines="error"`` or a cut-off end is raised when iteration reaches
    it, after the chunks before it.
    """

    def __init__(self, path, chunksize: int = DEFAULT_CHUNK_ROWS, *, sheet=None, on_bad_lines: str = "skip",
                 skip_truncated_tail: bool = False, max_rows: int | None = None):
        if int(chunksize) < 1:
            raise ValueError("chunksize must be at least 1")
        self.chunksize = int(chunksize)
        self._src = _open_source(path, sheet=sheet, on_bad_lines=on_bad_lines,
                                 skip_truncated_tail=skip_truncated_tail)
        self.columns: list[str] = list(self._src.columns)
        self.report: ReadReport = self._src.report
        self._left = max_rows
        self._rows = self._src.rows()
        self._first: list[str] | None = None
        if max_rows == 0:
            self.close()
            return
        try:
            self._first = next(self._rows)
        except StopIteration:
            self.close()
            raise self._src.no_rows_error() from None
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> "TableChunks":
        return self

    def __next__(self) -> pd.DataFrame:
        want = self.chunksize if self._left is None else min(self.chunksize, self._left)
        batch: list[list[str]] = []
        if want > 0 and self._first is not None:
            batch.append(self._first)
            self._first = None
        if want > len(batch) and self._rows is not None:
            batch.extend(itertools.islice(self._rows, want - len(batch)))
        if not batch:
            self.close()
            raise StopIteration
        if self._left is not None:
            self._left -= len(batch)
        return _frame(batch, self.columns)

    def close(self) -> None:
        if self._rows is not None:
            self._rows.close()
            self._rows = None
        self._src.close()

    def __enter__(self) -> "TableChunks":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def iter_table_chunks(path, chunksize: int = DEFAULT_CHUNK_ROWS, **options) -> TableChunks:
    """Stream a table as DataFrames of at most ``chunksize`` rows.

    Same options as :func:`read_table`.  CSV/TSV/TXT, JSONL and XLSX are
    streamed with constant memory (JSONL is read twice: once for the column
    names); JSON is loaded whole, then sliced.  The returned iterator has
    ``.columns`` and ``.report``.
    """
    return TableChunks(path, chunksize, **options)


def list_sheets(path) -> list[str]:
    """Worksheet names of an XLSX file in workbook order; ``[]`` for other file types."""
    p, ext, head = preflight(path)
    if ext not in EXCEL_EXTS:
        return []
    wb = open_workbook(p, head)
    try:
        return [ws.title for ws in wb.worksheets]
    finally:
        wb.close()
