"""Reader for delimited text tables: ``.csv``, ``.tsv``, ``.txt`` (optionally ``.gz``).

The delimiter is sniffed among ``,`` ``;`` tab ``|`` (:mod:`.sniff`); quoting follows the csv
module; a quoted field that is never closed marks a cut-off file.  Cells of any size are read.
"""
from __future__ import annotations

import csv
import itertools
import re
import sys
from typing import Iterable, Iterator

from .columns import dedupe_columns
from .errors import table_error
from .sniff import SAMPLE_CHARS, is_blank_row, open_read, sniff_delimiter, text_preflight
from .source import Source


def _raise_csv_field_limit() -> None:
    """Let the csv module read single cells of any size (default limit 128 KiB)."""
    limit = min(sys.maxsize, 2**31 - 1)
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)


def _scan_unclosed_quote(lines: Iterable[str], first_line: int, delim: str, quote: str = '"') -> int | None:
    """Follow the csv module's (non-strict) quoting rules over ``lines``.

    Return the line number where a quoted field opens that is still open at
    the end, or None.
    """
    special = re.compile("[" + re.escape(delim) + "\r\n]")
    START, FIELD, QUOTED = 0, 1, 2
    state, qline, ln = START, None, first_line - 1
    for line in lines:
        ln += 1
        i, n = 0, len(line)
        while i < n:
            if state == QUOTED:
                j = line.find(quote, i)
                if j < 0:
                    break
                if j + 1 < n and line[j + 1] == quote:
                    i = j + 2
                    continue
                state, i = FIELD, j + 1
                continue
            if state == START and line[i] == quote:
                state, qline, i = QUOTED, ln, i + 1
                continue
            m = special.search(line, i)
            if m is None:
                state = FIELD
                break
            state, i = START, m.end()
    return qline if state == QUOTED else None


class CsvSource(Source):
    def __init__(self, p, ext, head, report, on_bad_lines, skip_truncated_tail):
        super().__init__(p, report, on_bad_lines, skip_truncated_tail)
        _raise_csv_field_limit()
        self.codec, self.errors = text_preflight(p, head, report)
        with self._open() as f:
            sample = f.read(SAMPLE_CHARS)
            cut = bool(f.read(1))
        self.delim = sniff_delimiter(sample, ext, cut)
        report.delimiter = self.delim
        self._f = self._open()
        self._closers.append(self._f.close)
        self._records = self._iter_records()
        header = next(self._records, None)
        if header is None:
            self.close()
            if self.truncated_line is not None:
                raise self.no_rows_error()
            raise table_error(p, "file is empty (it contains only blank lines)")
        self.header_line = header[0]
        self.columns = dedupe_columns(header[1], report)

    def _open(self):
        return open_read(self.p, "r", encoding=self.codec, errors=self.errors, newline="")

    def _iter_records(self) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(self._f, delimiter=self.delim, quotechar='"', doublequote=True,
                            skipinitialspace=False, strict=False)
        pending: tuple[int, list[str]] | None = None
        last_start, done = 0, 0
        try:
            for fields in reader:
                start, done = done + 1, reader.line_num
                last_start = start
                if is_blank_row(fields):
                    continue
                if pending is not None:
                    yield pending
                pending = (start, fields)
        except csv.Error as e:
            raise table_error(self.p, f"line {done + 1}: cannot parse the row ({e})", line=done + 1) from None
        except UnicodeDecodeError:
            raise table_error(self.p, f"near line {done + 1}: bytes that are not valid "
                               f"{self.report.encoding}", line=done + 1) from None
        if last_start:
            with self._open() as f:
                qline = _scan_unclosed_quote(itertools.islice(f, last_start - 1, None),
                                             last_start, self.delim)
            if qline is not None:
                self.truncated_line = qline
                if pending is not None and pending[0] == last_start:
                    pending = None
        if pending is not None:
            yield pending

    def rows(self) -> Iterator[list[str]]:
        n = len(self.columns)
        try:
            for line, fields in self._records:
                if len(fields) != n:
                    kind = "too many" if len(fields) > n else "too few"
                    self._bad(line, f"{kind} fields (expected {n}, found {len(fields)})")
                    continue
                self.report.rows += 1
                yield fields
            self._finish()
        finally:
            self.close()
