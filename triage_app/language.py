"""The language of each ticket, for per-language figures: a language column of the data when it
has one (``language``, ``lang``, ``locale``...), otherwise an offline identifier (py3langid: the
langid.py model of 97 languages, shipped inside the package, no download).  Numpy and py3langid
only (imported when first needed).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

# Column names (compared case-insensitively) that hold each row's language.
LANGUAGE_COLUMNS = ("language", "lang", "locale", "ticket_language", "sprache", "langue", "idioma")
UNDETERMINED = "und"          # ISO 639-2 code for "undetermined"
MIN_CONFIDENCE = 0.5          # identifier guesses below this (normalised probability) are "und"
IDENTIFIER = "py3langid"


def find_language_column(columns: Iterable[object]) -> str | None:
    """The first column whose name is one of :data:`LANGUAGE_COLUMNS`, or None."""
    by_lower = {str(c).strip().lower(): c for c in columns}
    return next((str(by_lower[n]) for n in LANGUAGE_COLUMNS if n in by_lower), None)


def normalize(value: object) -> str:
    """A language value of a data column as a short lower-case code: ``"de-DE"``, ``"DE"`` and
    ``"de_at"`` become ``"de"``; a name (``"German"``) is kept lower-cased; empty is ``"und"``."""
    if value is None or (isinstance(value, float) and value != value):
        return UNDETERMINED
    s = str(value).strip().lower()
    if not s:
        return UNDETERMINED
    m = re.fullmatch(r"([a-z]{2,3})(?:[-_][a-z0-9]{2,8})*", s)
    return m.group(1) if m else s


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def identify(texts: Sequence[str], min_confidence: float = MIN_CONFIDENCE) -> list[str]:
    """ISO 639-1 code of each text by the offline identifier; ``"und"`` for an empty text or a
    guess below ``min_confidence``."""
    ident = _identifier()
    out = []
    for t in texts:
        t = str(t or "").strip()
        if not t:
            out.append(UNDETERMINED)
            continue
        lang, p = ident.classify(t)
        out.append(str(lang) if p >= min_confidence else UNDETERMINED)
    return out


def languages_for(pairs: Sequence[tuple[str, str]], column_values: Sequence[object] | None = None) -> list[str]:
    """Each row's language: the column's values when given, else identified from the row's
    cleaned tower texts ``(a, b)`` (both read once when they differ)."""
    if column_values is not None:
        return [normalize(v) for v in column_values]
    return identify([a if a == b else f"{a} {b}" for a, b in pairs])


def counts(langs: Iterable[str]) -> dict:
    """Rows per language, most frequent first."""
    c: dict = {}
    for x in langs:
        c[x] = c.get(x, 0) + 1
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def _macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 over the labels that occur among these rows (true or predicted)."""
    labs = np.union1d(y, pred)
    f1 = []
    for lab in labs:
        tp = int(np.sum((pred == lab) & (y == lab)))
        fp = int(np.sum((pred == lab) & (y != lab)))
        fn = int(np.sum((pred != lab) & (y == lab)))
        f1.append(2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 0.0)
    return float(np.mean(f1)) if f1 else 0.0


def per_language(y_true, y_pred, langs: Sequence[str]) -> dict:
    """``{language: {"rows", "accuracy", "macro_f1"}}``, most rows first.  Macro-F1 of a language
    averages the labels that occur among its rows (true or predicted)."""
    y, p = np.asarray(y_true), np.asarray(y_pred)
    la = np.asarray(list(langs), dtype=object)
    if len(la) != len(y):
        raise ValueError(f"{len(la)} languages for {len(y)} rows")
    out = {}
    for lang in counts(la.tolist()):
        m = la == lang
        out[lang] = {"rows": int(m.sum()), "accuracy": float(np.mean(y[m] == p[m])),
                     "macro_f1": _macro_f1(y[m], p[m])}
    return out


def table_lines(by_lang: dict) -> list[str]:
    """A plain-text table of :func:`per_language` (CLI, reports)."""
    if not by_lang:
        return []
    w = max(8, max(len(k) for k in by_lang))
    lines = [f"{'language':<{w}}  {'rows':>6}  accuracy  macro F1"]
    for lang, r in by_lang.items():
        lines.append(f"{lang:<{w}}  {r['rows']:6d}  {r['accuracy']:8.4f}  {r['macro_f1']:8.4f}")
    return lines
