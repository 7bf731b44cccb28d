"""Column names: unique names for a file's header, guessing which columns hold the title, body,
whole text and label (:func:`guess_columns`), and checking that the named ones exist
(:func:`require_columns`).

Duplicate header names become ``name``, ``name.1``, ...; empty names become ``column_N``.
"""
from __future__ import annotations

import difflib
import re
from typing import Any, Iterable

import pandas as pd

from .errors import table_error
from .formats import PLAIN_NUMBER, is_missing
from .source import ReadReport


def _normalise_name(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def dedupe_columns(names: Iterable[Any], report: ReadReport | None, clean: bool = True) -> list[str]:
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
    raw = ["" if is_missing(n) else str(n).strip() for n in names]
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
            if avg > best_len and not all(PLAIN_NUMBER.fullmatch(v.strip() or "0") for v in vals):
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
        raise table_error(path, "; ".join(problems) + f". The file's columns are: {shown or '(none)'}",
                   column=None)
