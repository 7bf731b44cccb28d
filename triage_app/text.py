"""The one text-cleaning function shared by training and inference.

The trainer cleans every training row with :func:`clean_text` and records
``CLEANING`` (name, version, options) in the bundle; the engine reads those
settings back from the bundle and calls the same function, so train and serve
cannot drift apart.  Stdlib only.
"""
from __future__ import annotations

import re
import unicodedata

CLEANING_NAME = "triage_app.text.clean_text"
CLEANING_VERSION = 1
DEFAULT_OPTIONS: dict = {
    "lowercase": False,  # the uncased tokenizer lower-cases anyway
    "mask_urls": True,
    "mask_emails": True,
    "drop_masks": True,  # XXXX, XX/XX/2019 style anonymisation masks
    "drop_garbage": True,  # long hex / digit runs
    "max_chars": 20000,
}

_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# XXXX, xx/xx/2019, XX-XX-XXXX, {$1200.00} style masks of the CFPB export
_MASK_DATE = re.compile(r"\b[Xx]{2}/[Xx]{2}/(?:\d{2,4}|[Xx]{2,4})\b")
_MASK = re.compile(r"\b[Xx]{2,}(?:[-/][Xx]{2,})*\b")
_HEX = re.compile(r"\b(?:0x)?[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b")
_LONG_DIGITS = re.compile(r"\b\d{7,}\b")
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WS = re.compile(r"\s+")


def clean_text(text: object, options: dict | None = None) -> str:
    """Normalise one ticket text.

    Removes line breaks and control characters, URLs and e-mail addresses
    (replaced by the words ``url`` / ``email``), anonymisation masks (``XXXX``,
    ``XX/XX/2019``), long hex or digit garbage (ids, hashes), and collapses
    whitespace.  ``None``/NaN become ``""``.  Idempotent:
    ``clean_text(clean_text(x)) == clean_text(x)``.
    """
    opts = DEFAULT_OPTIONS if options is None else {**DEFAULT_OPTIONS, **options}
    if text is None:
        return ""
    if isinstance(text, float) and text != text:  # NaN
        return ""
    s = str(text)
    limit = opts["max_chars"]
    if limit and len(s) > limit:
        s = s[:limit]
    s = _clean_once(s, opts)
    # NFKC ("\ufb01" -> "fi") and masking ("(a@b.co)" -> "( email )") can make the result
    # longer than max_chars: cut it again (at a word boundary when there is one) and re-clean,
    # so that the limit holds and clean_text(clean_text(x)) == clean_text(x).
    for _ in range(8):
        if not limit or len(s) <= limit:
            break
        cut = s[: limit + 1]
        i = cut.rfind(" ")
        s = _clean_once(cut[:i] if i > 0 else s[:limit], opts)
    return s[:limit].rstrip() if limit else s


def _clean_once(s: str, opts: dict) -> str:
    s = unicodedata.normalize("NFKC", s)
    s = _CTRL.sub(" ", s)
    if opts["mask_urls"]:
        s = _URL.sub(" url ", s)
    if opts["mask_emails"]:
        s = _EMAIL.sub(" email ", s)
    if opts["drop_masks"]:
        s = _MASK_DATE.sub(" ", s)
        s = _MASK.sub(" ", s)
    if opts["drop_garbage"]:
        s = _LONG_DIGITS.sub(" ", s)
        s = " ".join(w for w in s.split() if not (len(w) >= 12 and _HEX.fullmatch(w)))
    if opts["lowercase"]:
        s = s.lower()
    s = _WS.sub(" ", s).strip()
    return s


def compose(title: object, body: object, text: object, routing: str,
            options: dict | None = None) -> tuple[str, str]:
    """Return the cleaned inputs of tower A and tower B.

    ``routing="same"``: both towers read title and body joined (or ``text``).
    ``routing="split"``: tower A reads the title, tower B the body; with only
    one ``text`` field, tower A gets ``""`` and tower B the text.
    """
    t = clean_text(title, options)
    b = clean_text(body, options)
    x = clean_text(text, options)
    if routing == "same":
        if x:
            joined = x
        else:
            joined = f"{t}. {b}" if t and b else (t or b)
        return joined, joined
    if routing == "split":
        if not t and not b and x:
            return "", x
        return t, b
    raise ValueError(f"unknown routing {routing!r} (expected 'same' or 'split')")


# A word, for the lexical model and the unfamiliar-word signal: two or more Unicode word characters
# (scikit-learn's default token pattern; trainer/lexical.py gives ONNX Runtime the RE2 form).
WORD_PATTERN = r"(?u)\b\w\w+\b"


def lexical_text(a: str, b: str) -> str:
    """What the lexical (TF-IDF) part of a hybrid model reads: the cleaned inputs of the two towers
    (from :func:`compose`) as one text, lower-cased (in Python: ONNX Runtime's lower-casing differs
    on a few letters such as the Turkish dotted I)."""
    return (a if a == b or not b else f"{a} {b}" if a else b).lower()


def cleaning_record(options: dict | None = None) -> dict:
    """What a bundle stores about cleaning."""
    return {"function": CLEANING_NAME, "version": CLEANING_VERSION,
            "options": {**DEFAULT_OPTIONS, **(options or {})}}
