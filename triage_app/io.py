"""Ticket files: read and write tables safely.

Reading (:func:`read_table`, :func:`iter_table_chunks`, :func:`list_sheets`)

* Formats by extension: ``.csv``, ``.tsv``, ``.txt`` (delimiter sniffed among
  ``,`` ``;`` tab ``|``), ``.xlsx``/``.xlsm`` (``sheet=`` chooses, default the
  first worksheet), ``.json`` (an array of records, an Elasticsearch-style
  ``{"hits": {"hits": [...]}}`` or ``{"records"/"data"/...: [...]}``; nested
  objects are flattened with ``"."``, e.g. ``_source.product``), ``.jsonl``.
  The text formats may be gzip-compressed (``tickets.csv.gz``).
* Encodings: UTF-8 with or without BOM, UTF-16/32 with BOM (and UTF-16
  without BOM when the NUL-byte pattern is unambiguous), then Windows-1252,
  then Latin-1.  :class:`ReadReport` says which one was used.
* Every value is a ``str`` (object dtype); missing values are ``""``; numeric
  labels stay as written (``"1"``, never ``1.0``).
* The first non-blank row is the header (also for ``.txt``).  Duplicate names
  become ``name``, ``name.1``, ...; empty names become ``column_N``.
* Problems raise :class:`TableError` whose message starts with the file name
  and names the line when known: missing / unreadable / empty / binary file,
  header without rows (read_table refuses it rather than returning an empty
  frame), rows with the wrong number of fields (``on_bad_lines="error"``; the
  default ``"skip"`` skips and counts them), a quoted field that is never
  closed (a truncated file; ``skip_truncated_tail=True`` keeps the rows
  before it).

Writing (:func:`write_table`, :class:`TableWriter`)

* ``.csv`` (UTF-8 with BOM, for Excel), ``.tsv`` (same), ``.xlsx``, ``.json``
  (array of records), ``.jsonl``.
* Atomic: a temporary file in the destination folder, then ``os.replace``;
  on any error the temporary file is removed and the destination is left as
  it was.  A full disk is reported as "disk full".
* Formula-safe: text cells of CSV/TSV/XLSX go through :func:`escape_formula`.
* XLSX refuses more than 1,048,575 data rows and cells over 32,767 characters.

Imports only the standard library, numpy, pandas and openpyxl.
"""
from __future__ import annotations

import codecs
import csv
import datetime as _dt
import difflib
import errno
import gzip
import io as _stdio
import itertools
import json
import math
import os
import re
import secrets
import stat
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd

__all__ = [
    "TableError", "ReadReport", "read_table", "iter_table_chunks", "TableChunks", "list_sheets",
    "guess_columns", "require_columns", "escape_formula", "write_table", "TableWriter",
    "READ_EXTENSIONS", "WRITE_EXTENSIONS", "XLSX_MAX_ROWS", "XLSX_MAX_CELL_CHARS",
]

XLSX_MAX_ROWS = 1_048_575  # data rows: 1,048,576 sheet rows minus the header
XLSX_MAX_COLS = 16_384
XLSX_MAX_CELL_CHARS = 32_767

_TEXT_EXTS = (".csv", ".tsv", ".txt")
_EXCEL_EXTS = (".xlsx", ".xlsm")
_JSON_EXTS = (".json",)
_JSONL_EXTS = (".jsonl", ".ndjson")
READ_EXTENSIONS = _TEXT_EXTS + _EXCEL_EXTS + _JSON_EXTS + _JSONL_EXTS
WRITE_EXTENSIONS = (".csv", ".tsv", ".xlsx", ".json", ".jsonl")

_HEAD_BYTES = 8192
_SAMPLE_CHARS = 65536
_BLOCK = 1 << 20
_MAX_LISTED = 1000  # skipped line numbers kept in a report
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")
_XLSX_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def _raise_csv_field_limit() -> None:
    """Let the csv module read single cells of any size (default limit 128 KiB)."""
    limit = min(sys.maxsize, 2**31 - 1)
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)


# --------------------------------------------------------------------------- errors / report


class TableError(ValueError):
    """A table could not be read or written.

    The message always starts with the file name and names the line (and the
    column) when known; ``path``, ``line`` and ``column`` carry the same facts.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 column: str | None = None):
        super().__init__(message)
        self.path = path
        self.line = line
        self.column = column


def _err(path, msg: str, **kw) -> TableError:
    name = Path(path).name if path is not None else "table"
    return TableError(f"{name}: {msg}", path=None if path is None else str(path), **kw)


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


# --------------------------------------------------------------------------- small helpers


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, (float, np.floating)):
        return bool(np.isnan(v))
    if isinstance(v, np.datetime64):
        return bool(np.isnat(v))
    return False


def escape_formula(value: Any) -> Any:
    """Make a text cell safe to open in a spreadsheet (CSV / formula injection).

    A ``str`` starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return
    gets a leading ``'`` so that Excel/LibreOffice show it as text instead of
    running it.  Numbers are untouched: non-``str`` values are returned as they
    are, and so are strings that are plain numbers (``"-12.5"``, ``"+3"``,
    ``"-1e5"``), which a spreadsheet cannot run.
    """
    if isinstance(value, str) and value and value[0] in _FORMULA_START:
        if _NUMBER.fullmatch(value):
            return value
        return "'" + value
    return value


def _normalise_name(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def _dedupe_columns(names: Iterable[Any], report: ReadReport | None, clean: bool = True) -> list[str]:
    """Unique column names: ``a, a`` -> ``a, a.1``; with ``clean`` also strip
    spaces and name empty headers ``column_N``."""
    if not clean:
        raw = [str(n) for n in names]
        out, seen, taken = [], set(), set(raw)
        for name in raw:
            if name in seen:
                k = 1
                while f"{name}.{k}" in seen or f"{name}.{k}" in taken:
                    k += 1
                name = f"{name}.{k}"
            seen.add(name)
            out.append(name)
        return out
    raw = ["" if _is_missing(n) else str(n).strip() for n in names]
    taken = set(n for n in raw if n)
    out: list[str] = []
    seen: set[str] = set()
    renamed: list[str] = []
    unnamed: list[str] = []
    for i, name in enumerate(raw):
        if not name:
            name = f"column_{i + 1}"
            k = 1
            while name in taken or name in seen:
                name = f"column_{i + 1}.{k}"
                k += 1
            unnamed.append(name)
        elif name in seen:
            k = 1
            while f"{name}.{k}" in seen or f"{name}.{k}" in taken:
                k += 1
            renamed.append(f"{name!r} -> {name + '.' + str(k)!r}")
            name = f"{name}.{k}"
        seen.add(name)
        out.append(name)
    if report is not None:
        if renamed:
            report.warnings.append("duplicate column names were renamed: " + ", ".join(renamed))
        if unnamed:
            report.warnings.append("columns without a name were called " + ", ".join(unnamed))
    return out


def _rows(n: int) -> str:
    return f"{n:,} complete row{'s' if n != 1 else ''}"


def _list_some(items: list, n: int = 10) -> str:
    shown = ", ".join(str(x) for x in items[:n])
    return shown + (f", ... ({len(items) - n} more)" if len(items) > n else "")


# --------------------------------------------------------------------------- preflight / sniffing

_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx or .docx file is a ZIP archive too)"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-format Office file (.xls/.doc) or an encrypted workbook"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a program"),
]

_BOMS = [  # (bom, codec to read with, name to report)
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),
]


def _is_gz(p: Path) -> bool:
    return p.suffix.lower() == ".gz"


def _open_read(p: Path, mode: str = "rb", **kw):
    """``open`` for reading; a ``.gz`` file is decompressed on the fly."""
    if _is_gz(p):
        return gzip.open(p, mode if "b" in mode else mode.replace("r", "rt"), **kw)
    return open(p, mode, **kw)


def _preflight(path) -> tuple[Path, str, bytes]:
    """Check that ``path`` is a readable, non-empty file of a known type.

    Returns (path, extension, first bytes); for ``name.csv.gz`` the extension is
    ``.csv`` and the bytes are decompressed.
    """
    try:
        p = Path(os.fspath(path))
    except TypeError:
        raise TableError(f"{path!r}: not a file path") from None
    ext = p.suffix.lower()
    if ext == ".gz":
        ext = Path(p.stem).suffix.lower()
        if ext not in _TEXT_EXTS + _JSON_EXTS + _JSONL_EXTS:
            raise _err(p, "unsupported compressed file; .gz works for "
                          + ", ".join(_TEXT_EXTS + _JSON_EXTS + _JSONL_EXTS))
    if ext == ".xls":
        raise _err(p, "old Excel .xls files are not supported; open it in Excel and save it as "
                      ".xlsx or CSV")
    if ext not in READ_EXTENSIONS:
        raise _err(p, f"unsupported file type {ext or '(no extension)'!r}; use "
                      + ", ".join(READ_EXTENSIONS))
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise _err(p, f"file not found ({p})") from None
    except PermissionError:
        raise _err(p, f"permission denied: cannot open {p}") from None
    except OSError as e:
        raise _err(p, f"cannot open the file ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise _err(p, f"is a folder, not a file ({p})")
    try:
        with open(p, "rb") as f:
            head = f.read(_HEAD_BYTES)
        if head and _is_gz(p):
            if not head.startswith(b"\x1f\x8b"):
                raise _err(p, "is not a gzip file although its name ends in .gz")
            with _open_read(p) as f:
                head = f.read(_HEAD_BYTES)
    except PermissionError:
        raise _err(p, "permission denied: you are not allowed to read this file") from None
    except IsADirectoryError:
        raise _err(p, f"is a folder, not a file ({p})") from None
    except (EOFError, gzip.BadGzipFile) as e:
        raise _err(p, f"the gzip data is damaged or cut off ({e})") from None
    except OSError as e:
        raise _err(p, f"cannot read the file ({e.strerror or e})") from None
    if not head:
        raise _err(p, "file is empty (0 bytes)")
    return p, ext, head


def _bom(head: bytes) -> tuple[str, str] | None:
    for bom, codec, name in _BOMS:
        if head.startswith(bom):
            return codec, name
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    ze, zo = even.count(0) / len(even), odd.count(0) / len(odd)
    if zo > 0.4 and ze < 0.05:
        return "utf-16-le"
    if ze > 0.4 and zo < 0.05:
        return "utf-16-be"
    return None


def _binary_kind(head: bytes) -> str | None:
    """Describe ``head`` if it is not text, else None."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    bom = _bom(head)
    if bom is not None:
        text = head.decode(bom[0], errors="replace")
    elif b"\x00" in head and _utf16_without_bom(head):
        text = head.decode(_utf16_without_bom(head), errors="replace")
    else:
        text = head.decode("latin-1")
    # text tables hold almost no control characters (NUL included); binary files are full of them
    ctrl = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or ch == "\x7f")
    if ctrl > max(2, len(text) // 100):
        return "binary data (it contains NUL bytes or other control characters)"
    return None


def _decodes(p: Path, codec: str) -> bool:
    dec = codecs.getincrementaldecoder(codec)(errors="strict")
    try:
        with _open_read(p) as f:
            while True:
                block = f.read(_BLOCK)
                if not block:
                    dec.decode(b"", final=True)
                    return True
                dec.decode(block)
    except UnicodeDecodeError:
        return False
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise _err(p, f"the gzip data is damaged or cut off ({e})") from None


def _detect_encoding(p: Path, head: bytes) -> tuple[str, str, str, list[str]]:
    """Return (codec, reported name, errors mode, warnings)."""
    bom = _bom(head)
    if bom is not None:
        codec, name = bom
        if _decodes(p, codec):
            return codec, name, "strict", []
        return codec, name, "replace", [
            f"the file starts with a {name} byte-order mark but contains invalid bytes; "
            "they were replaced by \ufffd"]
    u16 = _utf16_without_bom(head)
    if u16 and _decodes(p, u16):
        return u16, u16, "strict", []
    if _decodes(p, "utf-8"):
        return "utf-8", "utf-8", "strict", []
    if _decodes(p, "cp1252"):
        return "cp1252", "cp1252", "strict", [
            "the file is not UTF-8; it was read as Windows-1252 (cp1252)"]
    return "latin-1", "latin-1", "strict", ["the file is not UTF-8; it was read as Latin-1"]


def _text_preflight(p: Path, head: bytes, report: ReadReport) -> tuple[str, str]:
    kind = _binary_kind(head)
    if kind is not None:
        raise _err(p, f"does not look like a text table: it looks like {kind}")
    codec, name, errors, warns = _detect_encoding(p, head)
    report.encoding = name
    report.warnings.extend(warns)
    return codec, errors


_DELIM_PREFS = {".tsv": "\t,;|", ".csv": ",;\t|", ".txt": "\t,;|"}


def _blank(fields: list[str]) -> bool:
    return not fields or (len(fields) == 1 and not fields[0].strip())


def _sniff_delimiter(sample: str, ext: str, cut: bool) -> str:
    prefs = _DELIM_PREFS.get(ext, ",;\t|")
    scored = []
    for rank, d in enumerate(prefs):
        try:
            rows = [r for r in csv.reader(_stdio.StringIO(sample, newline=""), delimiter=d)
                    if not _blank(r)]
        except csv.Error:
            continue
        if cut and len(rows) > 1:
            rows = rows[:-1]  # the sample may end inside the last record
        if not rows or len(rows[0]) < 2:
            continue
        n = len(rows[0])
        consistency = sum(len(r) == n for r in rows) / len(rows)
        scored.append((consistency >= 0.8, consistency if consistency < 0.8 else 1.0, -rank, d))
    if not scored:
        return prefs[0]
    return max(scored)[3]


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


# --------------------------------------------------------------------------- sources


class _Source:
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
            raise _err(self.p, where + reason, line=line)
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
                raise _err(
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
            return _err(self.p, f"line {self.truncated_line}: {self._truncation_what()} starts "
                                f"here but is never closed before the end of the file (the file "
                                f"looks cut off), and no complete row comes before it",
                        line=self.truncated_line)
        if r.skipped_rows:
            first = f" (first at line {r.skipped_lines[0]})" if r.skipped_lines else ""
            return _err(self.p, f"has no usable rows: all {r.skipped_rows:,} data rows were "
                                f"skipped as bad rows{first}; {'; '.join(self._bad_reasons)}")
        return _err(self.p, "has a header but no rows")

    def close(self) -> None:
        for c in self._closers:
            try:
                c()
            except Exception:
                pass
        self._closers.clear()


class _CsvSource(_Source):
    def __init__(self, p, ext, head, report, on_bad_lines, skip_truncated_tail):
        super().__init__(p, report, on_bad_lines, skip_truncated_tail)
        _raise_csv_field_limit()
        self.codec, self.errors = _text_preflight(p, head, report)
        with self._open() as f:
            sample = f.read(_SAMPLE_CHARS)
            cut = bool(f.read(1))
        self.delim = _sniff_delimiter(sample, ext, cut)
        report.delimiter = self.delim
        self._f = self._open()
        self._closers.append(self._f.close)
        self._records = self._iter_records()
        header = next(self._records, None)
        if header is None:
            self.close()
            if self.truncated_line is not None:
                raise self.no_rows_error()
            raise _err(p, "file is empty (it contains only blank lines)")
        self.header_line = header[0]
        self.columns = _dedupe_columns(header[1], report)

    def _open(self):
        return _open_read(self.p, "r", encoding=self.codec, errors=self.errors, newline="")

    def _iter_records(self) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(self._f, delimiter=self.delim, quotechar='"', doublequote=True,
                            skipinitialspace=False, strict=False)
        pending: tuple[int, list[str]] | None = None
        last_start, done = 0, 0
        try:
            for fields in reader:
                start, done = done + 1, reader.line_num
                last_start = start
                if _blank(fields):
                    continue
                if pending is not None:
                    yield pending
                pending = (start, fields)
        except csv.Error as e:
            raise _err(self.p, f"line {done + 1}: cannot parse the row ({e})", line=done + 1) from None
        except UnicodeDecodeError:
            raise _err(self.p, f"near line {done + 1}: bytes that are not valid "
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


class _JsonlSource(_Source):
    def __init__(self, p, ext, head, report, on_bad_lines, skip_truncated_tail):
        super().__init__(p, report, on_bad_lines, skip_truncated_tail)
        self.codec, self.errors = _text_preflight(p, head, report)
        # first pass: the union of (flattened) keys, so every chunk has the same columns
        keys: dict[str, None] = {}
        for _line, obj, _problem in self._iter_objects(quiet=True):
            if obj is not None:
                keys.update(dict.fromkeys(obj))
        if not keys:
            if self.truncated_line is not None:
                raise self.no_rows_error()
            raise _err(p, "has no JSON records (every non-blank line must be a JSON object)")
        self.columns = list(keys)
        self.truncated_line = None

    def _truncation_what(self) -> str:
        return "the last JSON record"

    def _open(self):
        return _open_read(self.p, "r", encoding=self.codec, errors=self.errors)

    def _iter_objects(self, quiet: bool) -> Iterator[tuple[int, dict | None, str | None]]:
        """Yield (line, flattened record or None, problem)."""
        dec = json.JSONDecoder(**_JSON_DECODER)
        with self._open() as f:
            self._closers.append(f.close)
            prev: tuple[int, str] | None = None
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                if prev is not None:
                    yield self._parse_line(dec, *prev, last=False)
                prev = (line_no, line)
            if prev is not None:
                yield self._parse_line(dec, *prev, last=True)

    def _parse_line(self, dec, line_no: int, line: str, last: bool):
        try:
            obj = dec.decode(line.strip())
        except json.JSONDecodeError as e:
            if last and not line.endswith(("\n", "\r")):
                self.truncated_line = line_no
                return line_no, None, None
            return line_no, None, f"not valid JSON ({e.msg} at column {e.colno})"
        if not isinstance(obj, dict):
            return line_no, None, f"not a JSON object (found {type(obj).__name__})"
        return line_no, _flatten(obj), None

    def rows(self) -> Iterator[list[str]]:
        cols = self.columns
        try:
            for line, obj, problem in self._iter_objects(quiet=False):
                if obj is None:
                    if problem is not None:
                        self._bad(line, problem)
                    continue
                self.report.rows += 1
                yield [obj.get(c, "") for c in cols]
            self._finish()
        finally:
            self.close()


class _Num(str):
    """A JSON number kept as the text it was written as (``1`` stays ``"1"``)."""


_JSON_DECODER = dict(parse_int=_Num, parse_float=_Num, parse_constant=_Num)


def _json_text(v: Any) -> str:
    """JSON text of a parsed value, numbers as written."""
    if isinstance(v, _Num):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_json_text(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(json.dumps(str(k), ensure_ascii=False) + ": " + _json_text(x)
                               for k, x in v.items()) + "}"
    return json.dumps(v, ensure_ascii=False)


def _json_scalar(v: Any) -> str:
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return str(v)  # a plain str, also for _Num
    if isinstance(v, (list, dict)):
        return _json_text(v)
    return str(v)


def _flatten(obj: dict, prefix: str = "", out: dict | None = None) -> dict[str, str]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": "1"}``; lists become JSON text."""
    if out is None:
        out = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            _flatten(v, key + ".", out)
        else:
            out[key] = "" if isinstance(v, dict) else _json_scalar(v)
    return out


def _json_records(data: Any) -> list | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        hits = data.get("hits")
        if isinstance(hits, dict) and isinstance(hits.get("hits"), list):
            return hits["hits"]
        for key in ("records", "data", "rows", "items", "tickets", "results", "hits"):
            if isinstance(data.get(key), list):
                return data[key]
        lists = [v for v in data.values()
                 if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        if len(lists) == 1:
            return lists[0]
        return [data]  # one record
    return None


class _JsonSource(_Source):
    """Whole-file JSON (loaded at once, then sliced)."""

    def __init__(self, p, ext, head, report, on_bad_lines, skip_truncated_tail):
        super().__init__(p, report, on_bad_lines, skip_truncated_tail)
        codec, errors = _text_preflight(p, head, report)
        with _open_read(p, "r", encoding=codec, errors=errors) as f:
            text = f.read()
        if not text.strip():
            raise _err(p, "file is empty (it contains only blank space)")
        dec = json.JSONDecoder(**_JSON_DECODER)
        try:
            data = dec.decode(text)
        except json.JSONDecodeError as e:
            data = self._truncated_array(dec, text, e)
        records = _json_records(data)
        if records is None:
            raise _err(p, "the JSON must be an array of records (objects) or an object holding "
                          'one, such as {"hits": {"hits": [...]}}')
        self._records = records
        if records and not any(isinstance(r, dict) for r in records):
            report.warnings.append("the JSON array holds plain values, not objects; they were "
                                   "read as one column named 'text'")
            self.columns = ["text"]
            self._flat = [{"text": _json_scalar(r)} for r in records]
            return
        self._flat = []
        keys: dict[str, None] = {}
        for rec in records:
            if isinstance(rec, dict):
                flat = _flatten(rec)
                keys.update(dict.fromkeys(flat))
                self._flat.append(flat)
            else:
                self._flat.append(None)
        if not keys:
            if self.truncated_line is not None:
                raise self.no_rows_error()
            raise _err(p, "has no records (the JSON array is empty)")
        self.columns = list(keys)

    def _truncation_what(self) -> str:
        return "a JSON record"

    def _truncated_array(self, dec, text: str, e: json.JSONDecodeError) -> list:
        stripped = text.strip()
        lead = len(text) - len(text.lstrip())
        base = f"line {e.lineno}, column {e.colno}: invalid JSON ({e.msg})"
        if not stripped.startswith("[") or stripped.endswith("]"):
            raise _err(self.p, base, line=e.lineno) from None
        # a top-level array without its closing bracket: keep the complete records
        items: list = []
        ws = re.compile(r"\s*")
        i = ws.match(text, lead + 1).end()
        while True:
            if i >= len(text):
                break
            try:
                obj, end = dec.raw_decode(text, i)
            except json.JSONDecodeError:
                break
            items.append(obj)
            i = ws.match(text, end).end()
            if i < len(text) and text[i] == ",":
                i = ws.match(text, i + 1).end()
            elif i < len(text):
                raise _err(self.p, base, line=e.lineno) from None
        self.truncated_line = text.count("\n", 0, min(i, len(text))) + 1
        return items

    def rows(self) -> Iterator[list[str]]:
        cols = self.columns
        try:
            for i, flat in enumerate(self._flat, start=1):
                if flat is None:
                    self._bad(None, f"record {i} is not a JSON object "
                                    f"({type(self._records[i - 1]).__name__})")
                    continue
                self.report.rows += 1
                yield [flat.get(c, "") for c in cols]
            self._finish()
        finally:
            self.close()


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


def _open_workbook(p: Path, head: bytes):
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    if not head.startswith(b"PK"):
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise _err(p, "is a password-protected or old-format (.xls) workbook; save it in Excel "
                          "as .xlsx without a password, or as CSV")
        if _binary_kind(head) is None:
            raise _err(p, "is not an Excel workbook: it looks like a text file (rename it to .csv)")
        raise _err(p, "is not a valid .xlsx workbook")
    try:
        return openpyxl.load_workbook(p, read_only=True, data_only=True)
    except PermissionError:
        raise _err(p, "permission denied: you are not allowed to read this file") from None
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, EOFError) as e:
        raise _err(p, f"is not a valid .xlsx workbook ({e})") from None


class _XlsxSource(_Source):
    def __init__(self, p, ext, head, report, on_bad_lines, skip_truncated_tail, sheet):
        super().__init__(p, report, on_bad_lines, skip_truncated_tail)
        self.wb = _open_workbook(p, head)
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
                raise _err(p, f"sheet {ws.title!r} is empty")
            while header and not header[-1].strip():
                header.pop()
            self.columns = _dedupe_columns(header, report)
        except BaseException:
            self.close()
            raise

    def _pick_sheet(self, sheet):
        sheets = self.wb.worksheets
        names = [ws.title for ws in sheets]
        if not sheets:
            raise _err(self.p, "the workbook has no worksheets")
        if sheet is None or sheet == "":
            return sheets[0]
        if isinstance(sheet, int) and not isinstance(sheet, bool):
            if 0 <= sheet < len(sheets):
                return sheets[sheet]
            raise _err(self.p, f"there is no sheet number {sheet} (the workbook has "
                               f"{len(sheets)}: {', '.join(names)})")
        for ws in sheets:
            if ws.title == str(sheet):
                return ws
        for ws in sheets:
            if ws.title.casefold() == str(sheet).strip().casefold():
                return ws
        raise _err(self.p, f"no sheet named {str(sheet)!r}; the workbook has: {', '.join(names)}")

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
                raise _err(self.p, f"cannot read the workbook ({type(e).__name__}: {e})") from None
            self._finish()
        finally:
            self.close()


def _open_source(path, *, sheet=None, on_bad_lines="skip", skip_truncated_tail=False) -> _Source:
    if on_bad_lines not in ("skip", "error"):
        raise ValueError(f"on_bad_lines must be 'skip' or 'error', not {on_bad_lines!r}")
    p, ext, head = _preflight(path)
    report = ReadReport(path=str(p))
    if sheet is not None and ext not in _EXCEL_EXTS:
        report.warnings.append(f"sheet={sheet!r} was ignored: {ext} files have no sheets")
    args = (p, ext, head, report, on_bad_lines, bool(skip_truncated_tail))
    if ext in _TEXT_EXTS:
        return _CsvSource(*args)
    if ext in _EXCEL_EXTS:
        return _XlsxSource(*args, sheet=sheet)
    if ext in _JSON_EXTS:
        return _JsonSource(*args)
    return _JsonlSource(*args)


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

    def __init__(self, path, chunksize: int = 10_000, *, sheet=None, on_bad_lines: str = "skip",
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


def iter_table_chunks(path, chunksize: int = 10_000, **options) -> TableChunks:
    """Stream a table as DataFrames of at most ``chunksize`` rows.

    Same options as :func:`read_table`.  CSV/TSV/TXT, JSONL and XLSX are
    streamed with constant memory (JSONL is read twice: once for the column
    names); JSON is loaded whole, then sliced.  The returned iterator has
    ``.columns`` and ``.report``.
    """
    return TableChunks(path, chunksize, **options)


def list_sheets(path) -> list[str]:
    """Worksheet names of an XLSX file in workbook order; ``[]`` for other file types."""
    p, ext, head = _preflight(path)
    if ext not in _EXCEL_EXTS:
        return []
    wb = _open_workbook(p, head)
    try:
        return [ws.title for ws in wb.worksheets]
    finally:
        wb.close()


# --------------------------------------------------------------------------- columns

_ROLE_NAMES: dict[str, list[str]] = {
    "title": ["title", "subject", "summary", "short_description", "headline", "ticket_title"],
    "body": ["body", "description", "details", "message", "complaint", "content",
             "complaint_what_happened", "consumer_complaint_narrative", "narrative",
             "long_description"],
    "text": ["text", "document", "ticket", "ticket_text", "full_text"],
    "label": ["label", "category", "class", "topic", "topic_group", "product", "queue", "labels",
              "target", "department", "assignment_group", "intent"],
}
_NOT_CONTENT = {"id", "ids", "no", "nr", "num", "number", "date", "time", "timestamp", "created",
                "updated", "count", "length", "len", "score", "prob", "probability", "confidence",
                "predicted", "prediction", "pred", "url", "email", "hash"}
# words that mark a short code / label column, never the ticket text
_NOT_TEXT = {"type", "status", "priority", "urgency", "impact", "category", "class", "label",
             "labels", "group", "code", "state", "severity", "queue", "topic", "service"}


def guess_columns(columns, df: pd.DataFrame | None = None) -> dict:
    """Guess which columns hold the title, body, whole text and label.

    Case-insensitive; a nested name such as ``_source.complaint_what_happened``
    is matched by its last part.  Exact names win over names that merely
    contain the word (``ticket_subject``); id/date/score-like columns are never
    chosen.  With ``df`` and no title/body/text column found by name, the column
    with the longest average text becomes ``text``.  Returns ``{"title",
    "body", "text", "label"}`` with ``None`` where nothing fits; no column is
    used twice.
    """
    cols = [str(c) for c in columns]
    norm = [(_normalise_name(c), _normalise_name(c.rsplit(".", 1)[-1])) for c in cols]
    result: dict[str, str | None] = {"title": None, "body": None, "text": None, "label": None}
    used: set[str] = set()

    for role, names in _ROLE_NAMES.items():  # exact names, in priority order
        for name in names:
            hit = next((c for c, (full, last) in zip(cols, norm)
                        if c not in used and name in (full, last)), None)
            if hit is not None:
                result[role] = hit
                used.add(hit)
                break

    for role in ("title", "body", "label", "text"):  # names containing the word
        if result[role] is not None:
            continue
        if role == "text" and (result["title"] or result["body"]):
            continue  # a guessed text column would override the title/body found
        for name in _ROLE_NAMES[role]:
            hit = None
            for c, (full, _last) in zip(cols, norm):
                tokens = set(full.split("_"))
                if c in used or tokens & _NOT_CONTENT:
                    continue
                if role != "label" and tokens & _NOT_TEXT:
                    continue
                if name in tokens or ("_" in name and name in full):
                    hit = c
                    break
            if hit is not None:
                result[role] = hit
                used.add(hit)
                break

    if df is not None and not any(result[k] for k in ("title", "body", "text")):
        best, best_len = None, 0.0
        for c in cols:
            if c in used or c not in df.columns \
                    or set(_normalise_name(c).split("_")) & (_NOT_CONTENT | _NOT_TEXT):
                continue
            s = df[c].head(2000)
            if isinstance(s, pd.DataFrame):  # duplicate column names
                s = s.iloc[:, 0]
            vals = [v for v in s.tolist() if isinstance(v, str)]
            if not vals:
                continue
            avg = sum(len(v) for v in vals) / len(vals)
            if avg > best_len and not all(_NUMBER.fullmatch(v.strip() or "0") for v in vals):
                best, best_len = c, avg
        result["text"] = best
    return result


def require_columns(df_columns, wanted: dict, path=None) -> None:
    """Check that every column named in ``wanted`` exists.

    ``wanted`` maps a role to a column name (``None`` = not used) or a list of
    names, e.g. ``{"text": "complaint", "label": "product"}``.  Raises
    :class:`TableError` naming each missing column, a close match when there is
    one, and the file's real columns.
    """
    cols = [str(c) for c in df_columns]
    folded = {c.casefold(): c for c in cols}
    problems = []
    for role, names in wanted.items():
        if names is None:
            continue
        for name in ([names] if isinstance(names, str) else list(names)):
            if name is None or str(name) in cols:
                continue
            name = str(name)
            hint = folded.get(name.casefold()) or next(
                iter(difflib.get_close_matches(name, cols, n=1, cutoff=0.75)), None)
            problems.append(f"column {name!r} (for {role}) not found"
                            + (f" (did you mean {hint!r}?)" if hint else ""))
    if problems:
        shown = ", ".join(repr(c) for c in cols[:50])
        if len(cols) > 50:
            shown += f", ... ({len(cols) - 50} more)"
        raise _err(path, "; ".join(problems) + f". The file's columns are: {shown or '(none)'}",
                   column=None)


# --------------------------------------------------------------------------- writing


def _write_error(p: Path, e: BaseException) -> TableError:
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return _err(p, "disk full: there is not enough free space to write the file; nothing was "
                       "written (free some space or choose another drive)")
    if isinstance(e, PermissionError):
        return _err(p, "permission denied: cannot write the file here (is it open in Excel or "
                       "another program, or is the folder read-only?)")
    if isinstance(e, OSError):
        return _err(p, f"could not write the file ({e.strerror or e}); nothing was written")
    return _err(p, f"could not write the file ({type(e).__name__}: {e}); nothing was written")


def _check_target(path) -> tuple[Path, str]:
    p = Path(os.fspath(path))
    ext = p.suffix.lower()
    if ext not in WRITE_EXTENSIONS:
        raise _err(p, f"cannot write {ext or 'files without an extension'!r} files; use "
                      + ", ".join(WRITE_EXTENSIONS))
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise _err(p, f"the folder {parent} does not exist")
    if p.is_dir():
        raise _err(p, f"is a folder, not a file ({p})")
    return p, ext


def _temp_path(p: Path) -> Path:
    return p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")


def _unlink_quiet(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _text_out(v: Any) -> str:
    """One CSV/TSV cell (formula-escaped)."""
    if isinstance(v, str):
        return escape_formula(v)
    if _is_missing(v):
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
    elif _is_missing(v):
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
        raise _err(p, f"row {row}, column {col!r}: the cell has {len(s):,} characters but Excel "
                      f"allows at most {XLSX_MAX_CELL_CHARS:,}; split the export or use CSV",
                   line=row, column=col)
    return s


def _json_out(v: Any) -> Any:
    if _is_missing(v):
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

    ``write(chunk_df)`` appends rows to a temporary file next to ``path``;
    ``commit()`` renames it into place (``os.replace``); ``abort()`` deletes it
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
        self._tmp = _temp_path(self.path)
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
                raise _err(self.path, f"{len(cols):,} columns do not fit in an Excel sheet (at most "
                                      f"{XLSX_MAX_COLS:,}); split the export or use CSV")
            self._ws.append([_xlsx_out(c, 1, c, self.path) for c in cols])
        elif self.ext == ".json":
            self._f.write("[")
        self._header_done = True

    def write(self, chunk) -> None:
        """Append the rows of ``chunk`` (a DataFrame, or anything DataFrame() accepts)."""
        if self._state != "open":
            raise _err(self.path, f"the writer is already {self._state}")
        try:
            if not isinstance(chunk, pd.DataFrame):
                chunk = pd.DataFrame(chunk)
            cols = _dedupe_columns(chunk.columns, None, clean=False)
            if self.columns is None:
                self.columns = cols
            if not self._header_done:
                self._write_header()
            if cols != list(chunk.columns):
                chunk = chunk.set_axis(cols, axis=1)
            if cols != self.columns:
                extra = [c for c in cols if c not in self.columns]
                if extra:
                    raise _err(self.path, "a chunk has columns that are not in the output: "
                                          + ", ".join(map(repr, extra)))
                chunk = chunk.reindex(columns=self.columns)
            n = len(chunk)
            if self.ext == ".xlsx" and self.rows_written + n > XLSX_MAX_ROWS:
                raise _err(self.path, f"more than {XLSX_MAX_ROWS:,} rows do not fit in one Excel "
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
            raise _err(self.path, "the writer was aborted; nothing to commit")
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
            os.replace(self._tmp, self.path)
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

    Atomic (temporary file + ``os.replace``; on any error the temporary file is
    removed and ``path`` is left as it was) and formula-safe for CSV/TSV/XLSX.
    XLSX refuses more than 1,048,575 rows or a cell over 32,767 characters
    (:class:`TableError`: "split the export or use CSV"); a full disk raises
    :class:`TableError` "disk full".
    """
    p, ext = _check_target(path)
    if not isinstance(df, pd.DataFrame):
        df = pd.DataFrame(df)
    if ext == ".xlsx":
        if len(df) > XLSX_MAX_ROWS:
            raise _err(p, f"{len(df):,} rows do not fit in one Excel sheet (at most "
                          f"{XLSX_MAX_ROWS:,} data rows); split the export or use CSV")
        if df.shape[1] > XLSX_MAX_COLS:
            raise _err(p, f"{df.shape[1]:,} columns do not fit in an Excel sheet (at most "
                          f"{XLSX_MAX_COLS:,}); split the export or use CSV")
        for j, col in enumerate(df.columns):  # refuse before writing anything
            s = df.iloc[:, j]
            if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
                lens = s.map(lambda v: len(escape_formula(v)) if isinstance(v, str) else 0)
                if len(lens) and int(lens.max()) > XLSX_MAX_CELL_CHARS:
                    i = int(np.argmax(lens.to_numpy()))
                    raise _err(p, f"row {i + 2}, column {str(col)!r}: the cell has "
                                  f"{int(lens.iloc[i]):,} characters but Excel allows at most "
                                  f"{XLSX_MAX_CELL_CHARS:,}; split the export or use CSV",
                               line=i + 2, column=str(col))
    w = TableWriter(p)
    w.write(df)
    w.commit()
