"""Writing tables safely: :func:`write_table` and the streaming :class:`TableWriter`.

* ``.csv`` (UTF-8 with BOM, for Excel), ``.tsv`` (same), ``.xlsx``, ``.json`` (array of
  records), ``.jsonl``.
* Atomic through :mod:`triage_app.atomic`: a hidden temporary file in the destination folder
  (:func:`~triage_app.atomic.temp_sibling`), then :func:`~triage_app.atomic.replace_into`; on any
  error the temporary file is removed and the destination is left as it was.  A full disk is
  reported as "disk full".
* Formula-safe: text cells of CSV/TSV/XLSX go through :func:`escape_formula`.
* XLSX refuses more than 1,048,575 data rows and cells over 32,767 characters.
"""
from __future__ import annotations

import csv
import datetime as _dt
import errno
import json
import math
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_app.atomic import replace_into, temp_sibling

from .columns import dedupe_columns
from .errors import TableError, table_error
from .formats import (
    PLAIN_NUMBER,
    WRITE_EXTENSIONS,
    XLSX_MAX_CELL_CHARS,
    XLSX_MAX_COLS,
    XLSX_MAX_ROWS,
    is_missing,
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_XLSX_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def escape_formula(value: Any) -> Any:
    """Make a text cell safe to open in a spreadsheet (CSV / formula injection).

    A ``str`` starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return
    gets a leading ``'`` so that Excel/LibreOffice show it as text instead of
    running it.  Numbers are untouched: non-``str`` values are returned as they
    are, and so are strings that are plain numbers (``"-12.5"``, ``"+3"``,
    ``"-1e5"``), which a spreadsheet cannot run.
    """
    if isinstance(value, str) and value and value[0] in _FORMULA_START:
        if PLAIN_NUMBER.fullmatch(value):
            return value
        return "'" + value
    return value


def _write_error(p: Path, e: BaseException) -> TableError:
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return table_error(p, "disk full: there is not enough free space to write the file; nothing was "
                       "written (free some space or choose another drive)")
    if isinstance(e, PermissionError):
        return table_error(p, "permission denied: cannot write the file here (is it open in Excel or "
                       "another program, or is the folder read-only?)")
    if isinstance(e, OSError):
        return table_error(p, f"could not write the file ({e.strerror or e}); nothing was written")
    return table_error(p, f"could not write the file ({type(e).__name__}: {e}); nothing was written")


def _check_target(path) -> tuple[Path, str]:
    p = Path(os.fspath(path))
    ext = p.suffix.lower()
    if ext not in WRITE_EXTENSIONS:
        raise table_error(p, f"cannot write {ext or 'files without an extension'!r} files; use "
                      + ", ".join(WRITE_EXTENSIONS))
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise table_error(p, f"the folder {parent} does not exist")
    if p.is_dir():
        raise table_error(p, f"is a folder, not a file ({p})")
    return p, ext


def _unlink_quiet(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _text_out(v: Any) -> str:
    """One CSV/TSV cell (formula-escaped)."""
    if isinstance(v, str):
        return escape_formula(v)
    if is_missing(v):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    try:
        if pd.isna(v) is True:
            return ""
    except (TypeError, ValueError):
        pass
    return escape_formula(str(v))


def _xlsx_out(v: Any, row: int, col: str, p: Path) -> Any:
    """One XLSX cell (formula-escaped; None for empty)."""
    if isinstance(v, str):
        s = escape_formula(_XLSX_ILLEGAL.sub("", v))
    elif is_missing(v):
        return None
    elif isinstance(v, (bool, np.bool_)):
        return bool(v)
    elif isinstance(v, (int, np.integer)):
        v = int(v)
        return v if abs(v) < 10**15 else str(v)
    elif isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else repr(v)
    else:
        try:
            if pd.isna(v) is True:
                return None
        except (TypeError, ValueError):
            pass
        s = escape_formula(_XLSX_ILLEGAL.sub("", str(v)))
    if len(s) > XLSX_MAX_CELL_CHARS:
        raise table_error(p, f"row {row}, column {col!r}: the cell has {len(s):,} characters but Excel "
                      f"allows at most {XLSX_MAX_CELL_CHARS:,}; split the export or use CSV",
                   line=row, column=col)
    return s


def _json_out(v: Any) -> Any:
    if is_missing(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time, pd.Timestamp)):
        return v.isoformat()
    if isinstance(v, (list, dict)):
        return v
    return str(v)


class TableWriter:
    """Write a table chunk by chunk, then publish it atomically.

    ``write(chunk_df)`` appends rows to a temporary file next to ``path``
    (:func:`triage_app.atomic.temp_sibling`); ``commit()`` moves it into place
    (:func:`triage_app.atomic.replace_into`); ``abort()`` deletes it
    and leaves ``path`` untouched.  As a context manager an exception aborts
    and a normal exit commits (unless already committed or aborted).
    CSV/TSV/JSON/JSONL stream; XLSX uses openpyxl's write-only mode and
    refuses more than 1,048,575 rows.  ``columns`` fixes the column order;
    otherwise the first chunk's columns are used (later chunks may omit
    columns, which are left empty, but may not add new ones).  Any write error
    aborts the writer and raises :class:`TableError` ("disk full" for ENOSPC).
    """

    def __init__(self, path, columns=None):
        self.path, self.ext = _check_target(path)
        self.columns: list[str] | None = None if columns is None else [str(c) for c in columns]
        self.rows_written = 0
        self._tmp = temp_sibling(self.path)
        self._state = "open"
        self._header_done = False
        self._f = None
        self._wb = self._ws = self._csv = None
        try:
            if self.ext in (".csv", ".tsv"):
                self._f = open(self._tmp, "x", encoding="utf-8-sig", newline="")
                self._csv = csv.writer(self._f, delimiter="," if self.ext == ".csv" else "\t",
                                       lineterminator="\r\n")
            elif self.ext in (".json", ".jsonl"):
                self._f = open(self._tmp, "x", encoding="utf-8", newline="\n")
            else:
                from openpyxl import Workbook

                self._f = open(self._tmp, "xb")
                self._wb = Workbook(write_only=True)
                self._ws = self._wb.create_sheet("Sheet1")
            if self.columns is not None:
                self._write_header()
        except BaseException as e:
            self._fail(e)

    @property
    def temp_path(self) -> Path:
        return self._tmp

    def _fail(self, e: BaseException):
        self.abort()
        if isinstance(e, TableError):
            raise e
        if isinstance(e, OSError):
            raise _write_error(self.path, e) from e
        raise e

    def _write_header(self) -> None:
        cols = self.columns or []
        if self.ext in (".csv", ".tsv"):
            self._csv.writerow([escape_formula(c) for c in cols])
        elif self.ext == ".xlsx":
            if len(cols) > XLSX_MAX_COLS:
                raise table_error(self.path, f"{len(cols):,} columns do not fit in an Excel sheet (at most "
                                      f"{XLSX_MAX_COLS:,}); split the export or use CSV")
            self._ws.append([_xlsx_out(c, 1, c, self.path) for c in cols])
        elif self.ext == ".json":
            self._f.write("[")
        self._header_done = True

    def write(self, chunk) -> None:
        """Append the rows of ``chunk`` (a DataFrame, or anything DataFrame() accepts)."""
        if self._state != "open":
            raise table_error(self.path, f"the writer is already {self._state}")
        try:
            if not isinstance(chunk, pd.DataFrame):
                chunk = pd.DataFrame(chunk)
            cols = dedupe_columns(chunk.columns, None, clean=False)
            if self.columns is None:
                self.columns = cols
            if not self._header_done:
                self._write_header()
            if cols != list(chunk.columns):
                chunk = chunk.set_axis(cols, axis=1)
            if cols != self.columns:
                extra = [c for c in cols if c not in self.columns]
                if extra:
                    raise table_error(self.path, "a chunk has columns that are not in the output: "
                                          + ", ".join(map(repr, extra)))
                chunk = chunk.reindex(columns=self.columns)
            n = len(chunk)
            if self.ext == ".xlsx" and self.rows_written + n > XLSX_MAX_ROWS:
                raise table_error(self.path, f"more than {XLSX_MAX_ROWS:,} rows do not fit in one Excel "
                                      f"sheet; split the export or use CSV")
            tuples = chunk.itertuples(index=False, name=None)
            if self._csv is not None:
                self._csv.writerows([_text_out(v) for v in t] for t in tuples)
            elif self.ext == ".xlsx":
                cols_ = self.columns
                for i, t in enumerate(tuples, start=self.rows_written + 2):
                    self._ws.append([_xlsx_out(v, i, c, self.path) for v, c in zip(t, cols_)])
            else:
                cols_ = self.columns
                first = self.rows_written == 0
                for t in tuples:
                    rec = json.dumps({c: _json_out(v) for c, v in zip(cols_, t)},
                                     ensure_ascii=False)
                    if self.ext == ".jsonl":
                        self._f.write(rec + "\n")
                    else:
                        self._f.write(("\n" if first else ",\n") + rec)
                        first = False
            self.rows_written += n
        except BaseException as e:
            self._fail(e)

    def commit(self) -> Path:
        """Finish the file and move it into place; returns the destination path."""
        if self._state == "committed":
            return self.path
        if self._state != "open":
            raise table_error(self.path, "the writer was aborted; nothing to commit")
        try:
            if not self._header_done:
                self._write_header()
            if self.ext == ".json":
                self._f.write("\n]\n")
            if self._wb is not None:
                self._save_workbook()
            self._f.flush()
            os.fsync(self._f.fileno())
            f, self._f = self._f, None
            f.close()
            replace_into(self._tmp, self.path, mode=None)  # permissions as open() made them (umask)
        except BaseException as e:
            self._fail(e)
        self._state = "committed"
        return self.path

    def _save_workbook(self) -> None:
        from openpyxl.writer.excel import ExcelWriter

        archive = zipfile.ZipFile(self._f, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        try:
            ExcelWriter(self._wb, archive).save()  # closes the archive
        except BaseException:
            archive.fp = None  # don't let ZipFile.__del__ write to the broken file again
            raise

    def abort(self) -> None:
        """Discard everything written so far; the destination is left untouched."""
        if self._state != "open":
            return
        self._state = "aborted"
        if self._f is not None:
            try:
                self._f.close()
            except Exception:
                pass
            self._f = None
        if self._ws is not None:  # openpyxl's own temporary sheet file
            try:
                self._ws.close()
            except Exception:
                pass
            try:
                self._ws._writer.cleanup()
            except Exception:
                pass
        _unlink_quiet(self._tmp)

    def __enter__(self) -> "TableWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self.abort()
        elif self._state == "open":
            self.commit()
        return False

    def __del__(self):
        try:
            if getattr(self, "_state", None) == "open":
                self.abort()
        except Exception:
            pass


def write_table(df: pd.DataFrame, path) -> None:
    """Write ``df`` (without its index) by extension: .csv (UTF-8 with BOM), .tsv,
    .xlsx, .json (array of records) or .jsonl.

    Atomic (through :class:`TableWriter`: temporary file + ``os.replace``; on any
    error the temporary file is removed and ``path`` is left as it was) and formula-safe for CSV/TSV/XLSX.
    XLSX refuses more than 1,048,575 rows or a cell over 32,767 characters
    (:class:`TableError`: "split the export or use CSV"); a full disk raises
    :class:`TableError` "disk full".
    """
    p, ext = _check_target(path)
    if not isinstance(df, pd.DataFrame):
        df = pd.DataFrame(df)
    if ext == ".xlsx":
        if len(df) > XLSX_MAX_ROWS:
            raise table_error(p, f"{len(df):,} rows do not fit in one Excel sheet (at most "
                          f"{XLSX_MAX_ROWS:,} data rows); split the export or use CSV")
        if df.shape[1] > XLSX_MAX_COLS:
            raise table_error(p, f"{df.shape[1]:,} columns do not fit in an Excel sheet (at most "
                          f"{XLSX_MAX_COLS:,}); split the export or use CSV")
        for j, col in enumerate(df.columns):  # refuse before writing anything
            s = df.iloc[:, j]
            if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
                lens = s.map(lambda v: len(escape_formula(v)) if isinstance(v, str) else 0)
                if len(lens) and int(lens.max()) > XLSX_MAX_CELL_CHARS:
                    i = int(np.argmax(lens.to_numpy()))
                    raise table_error(p, f"row {i + 2}, column {str(col)!r}: the cell has "
                                  f"{int(lens.iloc[i]):,} characters but Excel allows at most "
                                  f"{XLSX_MAX_CELL_CHARS:,}; split the export or use CSV",
                               line=i + 2, column=str(col))
    w = TableWriter(p)
    w.write(df)
    w.commit()
