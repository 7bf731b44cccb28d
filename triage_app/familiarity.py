"""Does a ticket look like the tickets a model was trained on?  (numpy only; trainer and engine)

A model answers every ticket with some label, also a greeting, a signature, a poem or a ticket in a
language it never saw.  Two plain signals catch most of those before the confidence can mislead:

* **unfamiliar words**: the share of the ticket's words (the lexical model's word tokens of the
  cleaned, lower-cased text) that never occur in the training rows;
* **too short**: fewer words than the training tickets practically ever have.

The trainer stores the training vocabulary (``vocabulary.txt``, one word per line) and the two
limits, both chosen on the validation rows (:func:`fit_familiarity`), in the bundle; the engine
flags tickets beyond them for review with the reason (:meth:`Familiarity.reasons`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from triage_app.text import WORD_PATTERN

VOCABULARY_FILE = "vocabulary.txt"
# The unfamiliar-word limit is the validation tickets' 99th percentile, but never below this: a
# clean validation set (every word seen) must not make one new word enough to flag a ticket.
UNSEEN_FLOOR = 0.25
UNSEEN_QUANTILE = 0.99
# Tickets with fewer words than this are flagged "too short", unless the validation tickets are
# that short too (more than SHORT_MAX_SHARE of them), as in helpdesks of one-word tickets.
MIN_WORDS = 2
SHORT_MAX_SHARE = 0.01

_WORD_RE = re.compile(WORD_PATTERN)


def words(text: str) -> list[str]:
    """The word tokens of one lexical text (:func:`triage_app.text.lexical_text`)."""
    return _WORD_RE.findall(text)


def build_vocabulary(lexical_texts: Iterable[str]) -> list[str]:
    """Every word of the training texts, sorted."""
    vocab: set[str] = set()
    for t in lexical_texts:
        vocab.update(words(t))
    return sorted(vocab)


def measure(lexical_texts: Sequence[str], vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """``(n_words, unseen_share)`` per text; the share is 0 for a text without words."""
    n = np.zeros(len(lexical_texts), dtype=np.int64)
    unseen = np.zeros(len(lexical_texts), dtype=np.float64)
    for i, t in enumerate(lexical_texts):
        w = words(t)
        n[i] = len(w)
        if w:
            unseen[i] = sum(x not in vocabulary for x in w) / len(w)
    return n, unseen


@dataclass
class Familiarity:
    vocabulary: frozenset
    unseen_limit: float          # flag when the unseen share is above this
    min_words: int               # flag when a ticket has fewer words than this (0/1: never)
    validation: dict = field(default_factory=dict)

    def measure(self, lexical_texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return measure(lexical_texts, self.vocabulary)

    def reasons(self, lexical_texts: Sequence[str]) -> list[str]:
        """Per text: why it must be reviewed whatever the confidence, or ``""``."""
        n, unseen = self.measure(lexical_texts)
        return [self.reason(int(k), float(u)) for k, u in zip(n, unseen)]

    def reason(self, n_words: int, unseen: float) -> str:
        if n_words < self.min_words:
            return f"too short ({n_words} word{'' if n_words == 1 else 's'})"
        if unseen > self.unseen_limit:
            return f"unfamiliar words ({unseen:.0%} not seen in training)"
        return ""

    def meta(self) -> dict:
        """What ``bundle.json`` records under ``"familiarity"`` (the writer adds the sha256)."""
        return {"vocabulary": VOCABULARY_FILE, "words": len(self.vocabulary),
                "unseen_limit": round(float(self.unseen_limit), 6), "min_words": int(self.min_words),
                "word_pattern": WORD_PATTERN, "validation": self.validation}

    def vocabulary_bytes(self) -> bytes:
        return ("\n".join(sorted(self.vocabulary)) + "\n").encode("utf-8")


def fit_familiarity(train_texts: Sequence[str], val_texts: Sequence[str],
                    val_correct: Sequence[bool] | None = None) -> Familiarity:
    """The vocabulary of ``train_texts`` and the limits chosen on ``val_texts`` (lexical texts).
    ``val_correct`` (the served model right or wrong on each validation row) adds the accuracy of
    the flagged and the other validation rows to the record, so the card can show the signal works."""
    vocab = frozenset(build_vocabulary(train_texts))
    n, unseen = measure(val_texts, vocab)
    limit = max(UNSEEN_FLOOR, float(np.quantile(unseen, UNSEEN_QUANTILE))) if len(unseen) else UNSEEN_FLOOR
    limit = min(limit, 0.99)
    short = float(np.mean(n < MIN_WORDS)) if len(n) else 0.0
    min_words = MIN_WORDS if short <= SHORT_MAX_SHARE else 0
    fam = Familiarity(vocab, limit, min_words)
    flagged = np.array([bool(fam.reason(int(k), float(u))) for k, u in zip(n, unseen)], dtype=bool)
    val = {"rows": int(len(n)), "flagged": int(flagged.sum()),
           "unseen_quantiles": {q: round(float(np.quantile(unseen, float(q))), 4) if len(unseen) else 0.0
                                for q in ("0.5", "0.9", "0.99")}}
    if val_correct is not None and len(n):
        ok = np.asarray(val_correct, dtype=bool)
        val["accuracy_flagged"] = float(ok[flagged].mean()) if flagged.any() else None
        val["accuracy_other"] = float(ok[~flagged].mean()) if (~flagged).any() else None
    fam.validation = val
    return fam


def load_familiarity(meta: dict | None, vocabulary_path) -> Familiarity | None:
    """The signal of a bundle (its ``"familiarity"`` record and vocabulary file), or None."""
    if not meta:
        return None
    text = open(vocabulary_path, encoding="utf-8").read()
    vocab = frozenset(w for w in text.split("\n") if w)
    return Familiarity(vocab, float(meta["unseen_limit"]), int(meta["min_words"]),
                       dict(meta.get("validation") or {}))
