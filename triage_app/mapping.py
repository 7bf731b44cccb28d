"""Match a file's columns to the inputs a model bundle was trained on.

A bundle records the columns it was trained on (``bundle.json`` ``columns``: label, title, body,
text) and its input routing. When a file to classify offers other columns, the user must be told
plainly which of them the model expects, and a model whose towers read the title and the body
separately must not silently get one text column. Used by the Batch tab and ``triage classify``.
"""
from __future__ import annotations

from triage_app.io import guess_columns

ROLES = ("title", "body", "text")
ROLE_NAMES = {"title": "Title", "body": "Body", "text": "Text", "label": "Label"}


def trained_columns(meta: dict | None) -> dict:
    """``{"title", "body", "text", "label"}`` -> the training file's column names (or None)."""
    cols = (meta or {}).get("columns") or {}
    return {k: (str(cols[k]) if cols.get(k) else None) for k in ROLES + ("label",)}


def _find(columns: list[str], name: str | None) -> str | None:
    """The column named ``name``; exact match first, then case- and space-insensitive."""
    if not name:
        return None
    if name in columns:
        return name
    key = name.strip().casefold()
    hits = [c for c in columns if c.strip().casefold() == key]
    return hits[0] if len(hits) == 1 else None


def suggest_mapping(columns, df=None, meta: dict | None = None) -> dict:
    """The mapping to propose for a file: the model's own training columns where the file has
    them (by name), else the guess of :func:`triage_app.io.guess_columns`."""
    cols = [str(c) for c in columns]
    guess = guess_columns(cols, df)
    trained = trained_columns(meta)
    found = {k: _find(cols, trained[k]) for k in trained}
    if any(found[k] for k in ROLES) and all(found[k] for k in ROLES if trained[k]):
        out = {k: found[k] for k in ROLES}
        out["label"] = found["label"] or (guess["label"] if guess["label"] not in out.values() else None)
        return out
    return guess


def describe_columns(trained: dict) -> str:
    parts = [f"{ROLE_NAMES[k]} ← '{trained[k]}'" for k in ROLES if trained[k]]
    return ", ".join(parts)


def check_mapping(mapping: dict, meta: dict | None, columns, confirmed: bool = False) -> str | None:
    """A message when ``mapping`` does not give the model what it was trained on, else None.

    - A ``split`` model (title tower + body tower) needs both a Title and a Body column: always
      reported, because one text column leaves a tower without input.
    - The file lacks the training columns (by name): reported until the user has ``confirmed`` a
      mapping, naming the training columns and what is mapped instead.
    """
    meta = meta or {}
    cols = [str(c) for c in columns]
    m = {k: mapping.get(k) for k in ROLES}
    if not any(m.values()):
        return "Choose a Text column, or Title and/or Body."
    trained = trained_columns(meta)
    if meta.get("routing") == "split":
        uses_text = bool(m["text"])
        if uses_text or not (m["title"] and m["body"]):
            was = f" (trained on {describe_columns(trained)})" if any(trained[k] for k in ROLES) else ""
            gets = "one Text column" if uses_text else ("only a Title" if m["title"] else "only a Body")
            return (f"This model reads the title and the body in separate towers{was}. With "
                    f"{gets}, one tower gets nothing and accuracy drops: map both Title and Body "
                    f"(and leave Text empty) if the file has them.")
    if confirmed or not any(trained[k] for k in ROLES):
        return None
    missing = [k for k in ROLES if trained[k] and _find(cols, trained[k]) is None]
    if not missing:
        return None
    used = [k for k in ROLES if m[k]]
    mapped = ", ".join(f"{ROLE_NAMES[k]} ← '{m[k]}'" for k in used)
    verb = "hold" if len(used) > 1 else "holds"
    return (f"This model was trained on {describe_columns(trained)}; this file has no column named "
            + " or ".join(f"'{trained[k]}'" for k in missing)
            + f". Check that {mapped} {verb} the same kind of content, or choose other columns.")
