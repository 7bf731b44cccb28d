"""The one exception of the :mod:`triage_app.io` package.

Problems raise :class:`TableError` whose message starts with the file name and names the line
(and the column) when known.  It is a :class:`triage_app.errors.TriageError` (the user can fix
it: the CLI prints it and exits with code 2) and a ``ValueError`` (as it always was).
"""
from __future__ import annotations

from pathlib import Path

from triage_app.errors import TriageError


class TableError(TriageError, ValueError):
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


def table_error(path, msg: str, **kw) -> TableError:
    name = Path(path).name if path is not None else "table"
    return TableError(f"{name}: {msg}", path=None if path is None else str(path), **kw)
