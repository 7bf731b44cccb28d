"""Reader for Excel workbooks (``.xlsx``/``.xlsm``, openpyxl read-only mode).

``sheet=`` chooses the worksheet by name (also case-insensitively) or 0-based index; the default
is the first worksheet.  Cells become text as Excel shows them (``1`` not ``1.0``, dates ISO,
``TRUE``/``FALSE``).  Encrypted and old ``.xls`` workbooks are refused with a hint.
"""
from __future__ import annotations

import datetime as _dt
import math
import zipfile
from pathlib import Path
from typing import Any, Iterator

from .columns import dedupe_columns
from .errors import TableError, table_error
from .sniff import binary_kind
from .source import Source


def _excel_str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, _dt.datetime):
        if v.time() == _dt.time(0) and v.tzinfo is None:
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    return str(v)


def open_workbook(p: Path, head: bytes):
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    if not head.startswith(b"PK"):
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise table_error(p, "is a password-protected or old-format (.xls) workbook; save it in Excel "
                          "as .xlsx without a password, or as CSV")
        if binary_kind(head) is None:
            raise table_error(p, "is not an Excel workbook: it looks like a text file (rename it to .csv)")
        raise table_error(p, "is not a valid .xlsx workbook")
    try:
        return openpyxl.load_workbook(p, read_only=True, data_only=True)
    except PermissionError:
        raise table_error(p, "permission denied: you are not allowed to read this file") from None
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, EOFError) as e:
        raise table_error(p, f"is not a valid .xlsx workbook ({e})") from None


class XlsxSource(Source):
    def __init__(self, p, ext, head, report, on_bad_lines, skip_truncated_tail, sheet):
        super().__init__(p, report, on_bad_lines, skip_truncated_tail)
        self.wb = open_workbook(p, head)
        self._closers.append(self.wb.close)
        try:
            ws = self._pick_sheet(sheet)
            report.sheet = ws.title
            ws.reset_dimensions()  # some writers store a wrong sheet size
            self._rows_iter = enumerate(ws.iter_rows(values_only=True), start=1)
            header = None
            for _line, values in self._rows_iter:
                cells = [_excel_str(v) for v in values]
                if any(c.strip() for c in cells):
                    header = cells
                    break
            if header is None:
                raise table_error(p, f"sheet {ws.title!r} is empty")
            while header and not header[-1].strip():
                header.pop()
            self.columns = dedupe_columns(header, report)
        except BaseException:
            self.close()
            raise

    def _pick_sheet(self, sheet):
        sheets = self.wb.worksheets
        names = [ws.title for ws in sheets]
        if not sheets:
            raise table_error(self.p, "the workbook has no worksheets")
        if sheet is None or sheet == "":
            return sheets[0]
        if isinstance(sheet, int) and not isinstance(sheet, bool):
            if 0 <= sheet < len(sheets):
                return sheets[sheet]
            raise table_error(self.p, f"there is no sheet number {sheet} (the workbook has "
                               f"{len(sheets)}: {', '.join(names)})")
        for ws in sheets:
            if ws.title == str(sheet):
                return ws
        for ws in sheets:
            if ws.title.casefold() == str(sheet).strip().casefold():
                return ws
        raise table_error(self.p, f"no sheet named {str(sheet)!r}; the workbook has: {', '.join(names)}")

    def rows(self) -> Iterator[list[str]]:
        n = len(self.columns)
        try:
            try:
                for line, values in self._rows_iter:
                    cells = [_excel_str(v) for v in values]
                    while cells and cells[-1] == "":
                        cells.pop()
                    if len(cells) > n and not any(c.strip() for c in cells[n:]):
                        del cells[n:]  # only blanks beyond the header
                    if not cells:
                        continue
                    if len(cells) > n:
                        self._bad(line, f"too many values (the header has {n} columns, this row "
                                        f"has values in {len(cells)})")
                        continue
                    cells.extend([""] * (n - len(cells)))
                    self.report.rows += 1
                    yield cells
            except TableError:
                raise
            except Exception as e:  # corrupt sheet XML etc.
                raise table_error(self.p, f"cannot read the workbook ({type(e).__name__}: {e})") from None
            self._finish()
        finally:
            self.close()
