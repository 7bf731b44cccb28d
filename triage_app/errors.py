"""The project's exception classes that cross module boundaries (stdlib only).

* :class:`Cancelled` is the one cancellation exception: the engine, data preparation, the
  trainer, the exporter and the GUI's jobs raise it when their stop check said so, and every
  front end catches it by class.
* :class:`TriageError` is the base of every error the user can fix (bad file, bad column, bad
  setting, busy machine...): its message is one line that names the file, row or column.  The
  CLI prints it and exits with code 2; the app shows it with a hint chosen by its class.
"""
from __future__ import annotations


class Cancelled(Exception):
    """A job stopped because its stop check returned True; it left no partial output."""

    def __init__(self, message: str = "cancelled"):
        super().__init__(message)


class TriageError(Exception):
    """A problem with the user's input or machine, explained in one line."""


class UserError(TriageError, ValueError):
    """Bad input given on the command line or in a form."""


class BundleError(TriageError, ValueError):
    """A bundle cannot be used; the message names the file and what is wrong."""
