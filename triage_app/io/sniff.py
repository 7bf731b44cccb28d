"""Looking at a file before reading it: type by extension, gzip, binary content, encoding and
delimiter.

* Formats by extension: ``.csv``, ``.tsv``, ``.txt`` (delimiter sniffed among ``,`` ``;`` tab
  ``|``), ``.xlsx``/``.xlsm``, ``.json``, ``.jsonl``/``.ndjson``.  The text formats may be
  gzip-compressed (``tickets.csv.gz``).
* A missing, unreadable, empty or binary file (image, PDF, archive, program, old ``.xls``...) is
  refused with a :class:`TableError` that says what it looks like.
* Encodings: UTF-8 with or without BOM, UTF-16/32 with BOM (and UTF-16 without BOM when the
  NUL-byte pattern is unambiguous), then Windows-1252, then Latin-1.  :class:`ReadReport` says
  which one was used.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io as _stdio
import os
import stat
import zlib
from pathlib import Path

from .errors import TableError, table_error
from .formats import JSON_EXTS, JSONL_EXTS, READ_EXTENSIONS, TEXT_EXTS
from .source import ReadReport

_HEAD_BYTES = 8192
SAMPLE_CHARS = 65536
_BLOCK = 1 << 20

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


def open_read(p: Path, mode: str = "rb", **kw):
    """``open`` for reading; a ``.gz`` file is decompressed on the fly."""
    if _is_gz(p):
        return gzip.open(p, mode if "b" in mode else mode.replace("r", "rt"), **kw)
    return open(p, mode, **kw)


def preflight(path) -> tuple[Path, str, bytes]:
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
        if ext not in TEXT_EXTS + JSON_EXTS + JSONL_EXTS:
            raise table_error(p, "unsupported compressed file; .gz works for "
                          + ", ".join(TEXT_EXTS + JSON_EXTS + JSONL_EXTS))
    if ext == ".xls":
        raise table_error(p, "old Excel .xls files are not supported; open it in Excel and save it as "
                      ".xlsx or CSV")
    if ext not in READ_EXTENSIONS:
        raise table_error(p, f"unsupported file type {ext or '(no extension)'!r}; use "
                      + ", ".join(READ_EXTENSIONS))
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise table_error(p, f"file not found ({p})") from None
    except PermissionError:
        raise table_error(p, f"permission denied: cannot open {p}") from None
    except OSError as e:
        raise table_error(p, f"cannot open the file ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise table_error(p, f"is a folder, not a file ({p})")
    try:
        with open(p, "rb") as f:
            head = f.read(_HEAD_BYTES)
        if head and _is_gz(p):
            if not head.startswith(b"\x1f\x8b"):
                raise table_error(p, "is not a gzip file although its name ends in .gz")
            with open_read(p) as f:
                head = f.read(_HEAD_BYTES)
    except PermissionError:
        raise table_error(p, "permission denied: you are not allowed to read this file") from None
    except IsADirectoryError:
        raise table_error(p, f"is a folder, not a file ({p})") from None
    except (EOFError, gzip.BadGzipFile) as e:
        raise table_error(p, f"the gzip data is damaged or cut off ({e})") from None
    except OSError as e:
        raise table_error(p, f"cannot read the file ({e.strerror or e})") from None
    if not head:
        raise table_error(p, "file is empty (0 bytes)")
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


def binary_kind(head: bytes) -> str | None:
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
        with open_read(p) as f:
            while True:
                block = f.read(_BLOCK)
                if not block:
                    dec.decode(b"", final=True)
                    return True
                dec.decode(block)
    except UnicodeDecodeError:
        return False
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise table_error(p, f"the gzip data is damaged or cut off ({e})") from None


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


def text_preflight(p: Path, head: bytes, report: ReadReport) -> tuple[str, str]:
    kind = binary_kind(head)
    if kind is not None:
        raise table_error(p, f"does not look like a text table: it looks like {kind}")
    codec, name, errors, warns = _detect_encoding(p, head)
    report.encoding = name
    report.warnings.extend(warns)
    return codec, errors


_DELIM_PREFS = {".tsv": "\t,;|", ".csv": ",;\t|", ".txt": "\t,;|"}


def is_blank_row(fields: list[str]) -> bool:
    return not fields or (len(fields) == 1 and not fields[0].strip())


def sniff_delimiter(sample: str, ext: str, cut: bool) -> str:
    prefs = _DELIM_PREFS.get(ext, ",;\t|")
    scored = []
    for rank, d in enumerate(prefs):
        try:
            rows = [r for r in csv.reader(_stdio.StringIO(sample, newline=""), delimiter=d)
                    if not is_blank_row(r)]
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
