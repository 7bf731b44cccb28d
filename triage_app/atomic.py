"""The one way this project writes a file: a hidden temporary file in the destination folder,
then ``os.replace``.  A reader never sees a half-written file, and a crash leaves at most a hidden
``.NAME.XXXXXXXX.tmp`` that :func:`triage_app.bundle.clean_stale_work` removes later.

* :func:`atomic_path` -- a temporary path for writers that want a file name (safetensors,
  openpyxl, matplotlib); moved into place when the block ends without an error.
* :func:`atomic_write` -- an open file object (text or binary) on top of it.
* :func:`write_bytes_atomic`, :func:`write_text_atomic`, :func:`write_json_atomic`.
* :func:`temp_sibling` -- the temporary name alone, for streaming writers that commit later.
"""
from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


def temp_sibling(path: str | os.PathLike) -> Path:
    """A hidden, unused name beside ``path`` (``.NAME.XXXXXXXX.tmp``)."""
    p = Path(path)
    return p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")


def fsync_dir(d: str | os.PathLike) -> None:
    """Make a rename in ``d`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_into(tmp: str | os.PathLike, path: str | os.PathLike, mode: int | None = 0o644) -> None:
    """Move a finished temporary file into place (readable like a normal file)."""
    if mode is not None:
        try:
            os.chmod(tmp, mode)
        except OSError:
            pass
    os.replace(tmp, path)
    fsync_dir(Path(path).parent)


@contextmanager
def atomic_path(path: str | os.PathLike, mode: int | None = 0o644) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on any error
    (or cancellation) it is deleted and ``path`` is untouched."""
    p = Path(path)
    tmp = temp_sibling(p)
    try:
        yield tmp
        replace_into(tmp, p, mode)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_write(path: str | os.PathLike, binary: bool = False, encoding: str = "utf-8",
                 newline: str | None = None) -> Iterator[IO]:
    """An open file whose content replaces ``path`` only when the block ends without an error."""
    with atomic_path(path) as tmp:
        if binary:
            f = open(tmp, "wb")
        else:
            f = open(tmp, "w", encoding=encoding, newline=newline)
        try:
            yield f
            f.flush()
            os.fsync(f.fileno())
        finally:
            f.close()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_write(path, binary=True) as f:
        f.write(data)


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    with atomic_write(path, encoding=encoding, newline="") as f:
        f.write(text)


def write_json_atomic(path: str | os.PathLike, obj, indent: int | None = 2) -> None:
    with atomic_write(path) as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)
