"""What every ``triage`` command shares: the errors that exit with code 2, progress bars and notes
on stderr, finding a model bundle, and choosing the columns to read."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from triage_app import paths
from triage_app.errors import TriageError, UserError

if TYPE_CHECKING:
    from tqdm import tqdm

# Errors the user can fix: one line on stderr, exit code 2 (every project error derives from
# TriageError; missing or unreadable files are the OS's own classes).
USER_ERRORS = (TriageError, FileNotFoundError, PermissionError)


def progress_bar(total: int | None, desc: str, enabled: bool, unit: str = "rows") -> tqdm:
    """A tqdm progress bar on stderr, or a silent no-op one when ``enabled`` is false.

    ``total=None`` shows a count and a rate without a percentage.  ``bar.update(k)`` adds k;
    :func:`advance_bar` sets an absolute count.  Decide ``enabled`` with :func:`progress_enabled`."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr,
                mininterval=0.2, dynamic_ncols=True, leave=True)


def progress_enabled(args) -> bool:
    """Bars only when stderr is a terminal or ``--progress`` is given, never with ``-q/--quiet``."""
    if getattr(args, "quiet", False):
        return False
    return bool(getattr(args, "progress", False)) or sys.stderr.isatty()


def advance_bar(bar: tqdm, done: int) -> None:
    """Move ``bar`` to the absolute count ``done`` (engine callbacks report totals, not steps)."""
    if done > bar.n:
        bar.update(done - bar.n)


def finish_bar(bar: tqdm, done: int) -> None:
    """End ``bar`` at ``done`` (the row estimate may differ from the rows really read)."""
    advance_bar(bar, done)
    if bar.total != done:
        bar.total = done
        bar.refresh()


def note(msg: str) -> None:
    """One line on stderr that does not break a progress bar being drawn (tqdm.write clears the
    bars, prints, and draws them again)."""
    from tqdm import tqdm

    tqdm.write(msg, file=sys.stderr)


def resolve_model(arg: str | None) -> Path:
    """The bundle folder of ``--model``: a path, an installed or bundled model's name, or (no value)
    the bundled default model."""
    if not arg:
        p = paths.default_model_dir()
        if not p.exists():
            raise UserError(f"{p}: the bundled default model is missing; pass --model PATH")
        return p
    p = Path(arg)
    if p.exists():
        return p
    for base in (paths.user_models_dir(), paths.bundled_models_dir()):
        if (base / arg).is_dir():
            return base / arg
    raise UserError(f"{arg}: no such model bundle (folder path, or a name listed by `triage models`)")


def column_mapping(args, columns: list[str], path, df=None, meta: dict | None = None) -> dict:
    """Columns to read: the ones given, else the model's training columns where the file has
    them, else a guess; a note on stderr when they are not what the model was trained on."""
    from triage_app.io import require_columns
    from triage_app.mapping import check_mapping, describe_columns, suggest_mapping, trained_columns

    chosen = {"title": args.title_col, "body": args.body_col, "text": args.text_col}
    if any(chosen.values()):
        require_columns(columns, {k: v for k, v in chosen.items() if v}, path)
        mapping = {k: v for k, v in chosen.items() if v}
    else:
        g = suggest_mapping(columns, df, meta)
        if g.get("title") or g.get("body"):
            mapping = {k: g[k] for k in ("title", "body") if g.get(k)}
        elif g.get("text"):
            mapping = {"text": g["text"]}
        else:
            trained = trained_columns(meta)
            hint = (f" (the model was trained on {describe_columns(trained)})"
                    if any(trained[k] for k in ("title", "body", "text")) else "")
            raise UserError(f"{path}: cannot tell which column holds the ticket text{hint}; choose "
                            f"with --text-col or --title-col/--body-col. Columns: "
                            f"{', '.join(map(str, columns))}")
    warning = check_mapping(mapping, meta, columns, confirmed=any(chosen.values()))
    if warning and not getattr(args, "quiet", False):
        where = " (given)" if any(chosen.values()) else " (detected)"
        used = ", ".join(f"{k} <- '{v}'" for k, v in mapping.items())
        note(f"note: columns{where}: {used}. {warning.replace('←', '<-')}")
    return mapping
