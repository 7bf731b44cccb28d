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
* Problems raise :class:`TableError` (a :class:`triage_app.errors.TriageError`
  and a ``ValueError``) whose message starts with the file name
  and names the line when known: missing / unreadable / empty / binary file,
  header without rows (read_table refuses it rather than returning an empty
  frame), rows with the wrong number of fields (``on_bad_lines="error"``; the
  default ``"skip"`` skips and counts them), a quoted field that is never
  closed (a truncated file; ``skip_truncated_tail=True`` keeps the rows
  before it).

Writing (:func:`write_table`, :class:`TableWriter`)

* ``.csv`` (UTF-8 with BOM, for Excel), ``.tsv`` (same), ``.xlsx``, ``.json``
  (array of records), ``.jsonl``.
* Atomic (:mod:`triage_app.atomic`): a temporary file in the destination
  folder, then ``os.replace``; on any error the temporary file is removed and
  the destination is left as it was.  A full disk is reported as "disk full".
* Formula-safe: text cells of CSV/TSV/XLSX go through :func:`escape_formula`.
* XLSX refuses more than 1,048,575 data rows and cells over 32,767 characters.

Columns: :func:`guess_columns` (title / body / text / label by name, else the
longest text), :func:`require_columns` (missing names with a "did you mean").

Modules: :mod:`.sniff` (file type, gzip, binary content, encoding, delimiter),
:mod:`.source` (ReadReport and the readers' shared rules), :mod:`.delimited`
(CSV/TSV/TXT), :mod:`.jsonfiles` (JSON/JSONL), :mod:`.excel` (XLSX),
:mod:`.reading` (the public reading API), :mod:`.columns`, :mod:`.writing`,
:mod:`.formats` (extensions and Excel limits), :mod:`.errors` (TableError).

Imports only the standard library, numpy, pandas and openpyxl.  The package loads its modules
lazily: ``from triage_app.io.defaults import DEFAULT_CHUNK_ROWS`` (the command-line parser) costs
no pandas import; the first use of a reader or writer loads what it needs.
"""
from __future__ import annotations

import importlib

# public name -> the module of this package that defines it
_WHERE = {
    "TableError": "errors", "ReadReport": "source",
    "read_table": "reading", "iter_table_chunks": "reading", "TableChunks": "reading",
    "list_sheets": "reading", "DEFAULT_CHUNK_ROWS": "defaults",
    "guess_columns": "columns", "require_columns": "columns",
    "escape_formula": "writing", "write_table": "writing", "TableWriter": "writing",
    "READ_EXTENSIONS": "formats", "WRITE_EXTENSIONS": "formats", "XLSX_MAX_ROWS": "formats",
    "XLSX_MAX_CELL_CHARS": "formats", "XLSX_MAX_COLS": "formats",
}
__all__ = list(_WHERE)


def __getattr__(name: str):
    """Load the module that defines ``name`` on first use (PEP 562)."""
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
