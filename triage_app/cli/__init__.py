"""Command line: ``triage classify | train | eval | models | thresholds``.

Exit codes: 0 success, 2 bad input (one-line reason on stderr, no traceback), 130 interrupted
(no partial output left), 1 unexpected error.  ``classify`` never imports torch.

Modules: :mod:`.parser` (the arguments, help texts and defaults), :mod:`.common` (what the
commands share: user errors, progress bars, model and column choice), one per command:
:mod:`.classify`, :mod:`.train`, :mod:`.evaluate` (``eval``), :mod:`.models` (``models`` and
``thresholds``).
"""
from __future__ import annotations

import os
import sys

from triage_app.cli.classify import PRED_COLUMNS
from triage_app.cli.common import USER_ERRORS, progress_bar
from triage_app.cli.parser import build_parser

__all__ = ["main", "build_parser", "PRED_COLUMNS", "progress_bar"]


def main(argv: list[str] | None = None) -> int:
    """Run ``triage`` with ``argv`` (default: the process's arguments); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "cmd", None) == "thresholds" and args.data and not args.label_col:
        parser.error("thresholds with a DATA file needs --label-col")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted; no partial output was left", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # a library's complaint about a value the user gave
        if os.environ.get("TRIAGE_DEBUG") == "1":
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
