"""What every reader shares: :class:`ReadReport` (what happened while reading one file) and the
base class of the per-format readers (columns, a generator of validated rows, bad-line
bookkeeping, the cut-off-file rule).

* The first non-blank row is the header (also for ``.txt``).
* Rows with the wrong number of fields are skipped and counted (``on_bad_lines="skip"``, the
  default) or raise (``on_bad_lines="error"``).
* A quoted field / JSON record that is never closed (a truncated file) raises, unless
  ``skip_truncated_tail=True`` keeps the rows before it.
* A header without rows raises rather than returning an empty frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import TableError, table_error

_MAX_LISTED = 1000  # skipped line numbers kept in a report


@dataclass
class ReadReport:
    """What happened while reading one file."""

    path: str
    rows: int = 0                       # data rows returned
    skipped_rows: int = 0               # rows skipped (bad lines)
    skipped_lines: list[int] = field(default_factory=list)  # 1-based line numbers (first 1000)
    encoding: str | None = None         # e.g. "utf-8", "utf-8-sig", "utf-16-le", "cp1252"
    delimiter: str | None = None        # "," ";" "\t" "|" for text tables
    sheet: str | None = None            # the worksheet read (XLSX)
    truncated_at_line: int | None = None  # line where an unclosed quote starts (file cut off)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One plain-words line for a status bar or a log."""
        parts = [f"{self.rows:,} rows read from {Path(self.path).name}"]
        if self.sheet:
            parts.append(f"sheet {self.sheet!r}")
        if self.encoding:
            parts.append(f"encoding {self.encoding}")
        if self.skipped_rows:
            parts.append(f"{self.skipped_rows:,} bad rows skipped")
        if self.truncated_at_line is not None:
            parts.append(f"file cut off at line {self.truncated_at_line}")
        return ", ".join(parts)


def _rows(n: int) -> str:
    return f"{n:,} complete row{'s' if n != 1 else ''}"


def _list_some(items: list, n: int = 10) -> str:
    shown = ", ".join(str(x) for x in items[:n])
    return shown + (f", ... ({len(items) - n} more)" if len(items) > n else "")


class Source:
    """A table being read: ``columns`` plus a generator of validated rows."""

    columns: list[str]

    def __init__(self, p: Path, report: ReadReport, on_bad_lines: str, skip_truncated_tail: bool):
        self.p = p
        self.report = report
        self.on_bad_lines = on_bad_lines
        self.skip_truncated_tail = skip_truncated_tail
        self.truncated_line: int | None = None  # unclosed quote / cut-off record
        self._bad_reasons: list[str] = []
        self._closers: list = []

    # bookkeeping shared by the formats
    def _bad(self, line: int | None, reason: str) -> None:
        where = f"line {line}: " if line is not None else ""
        if self.on_bad_lines == "error":
            raise table_error(self.p, where + reason, line=line)
        self.report.skipped_rows += 1
        if line is not None and len(self.report.skipped_lines) < _MAX_LISTED:
            self.report.skipped_lines.append(line)
        if len(self._bad_reasons) < 3:
            self._bad_reasons.append(where + reason)

    def _finish(self) -> None:
        r = self.report
        if r.skipped_rows:
            msg = f"skipped {r.skipped_rows:,} bad row{'s' if r.skipped_rows != 1 else ''}"
            if r.skipped_lines:
                msg += " at lines " + _list_some(r.skipped_lines)
            msg += " (" + "; ".join(self._bad_reasons) + ")"
            if len(r.skipped_lines) >= _MAX_LISTED:
                msg += f"; only the first {_MAX_LISTED} line numbers are listed"
            r.warnings.append(msg)
        if self.truncated_line is not None:
            if r.rows == 0:
                raise self.no_rows_error()
            if not self.skip_truncated_tail:
                raise table_error(
                    self.p,
                    f"line {self.truncated_line}: {self._truncation_what()} starts here but is "
                    f"never closed before the end of the file, so the file looks cut off "
                    f"(truncated). {_rows(r.rows)} {'comes' if r.rows == 1 else 'come'} before "
                    f"it; read with "
                    f"skip_truncated_tail=True to keep them.", line=self.truncated_line)
            r.truncated_at_line = self.truncated_line
            r.warnings.append(
                f"the file looks cut off: {self._truncation_what()} starting at line "
                f"{self.truncated_line} is never closed; kept the {_rows(r.rows)} before it "
                f"and dropped the rest")

    def _truncation_what(self) -> str:
        return "a quoted field"

    def rows(self) -> Iterator[list[str]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def no_rows_error(self) -> TableError:
        r = self.report
        if self.truncated_line is not None:
            return table_error(self.p, f"line {self.truncated_line}: {self._truncation_what()} starts "
                                f"here but is never closed before the end of the file (the file "
                                f"looks cut off), and no complete row comes before it",
                        line=self.truncated_line)
        if r.skipped_rows:
            first = f" (first at line {r.skipped_lines[0]})" if r.skipped_lines else ""
            return table_error(self.p, f"has no usable rows: all {r.skipped_rows:,} data rows were "
                                f"skipped as bad rows{first}; {'; '.join(self._bad_reasons)}")
        return table_error(self.p, "has a header but no rows")

    def close(self) -> None:
        for c in self._closers:
            try:
                c()
            except Exception:
                pass
        self._closers.clear()
