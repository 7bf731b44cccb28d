"""How a hybrid model combines its parts (numpy only; the trainer chooses, the engine serves).

The served score of class k is ``(1 - w) * log_softmax(transformer_logits)_k + w * log(p_lexical)_k``
with ``w`` the lexical weight chosen on validation (0: the transformer alone, 1: the lexical model
alone); the bundle's temperature then calibrates that score like plain logits.
"""
from __future__ import annotations

import numpy as np

LOG_FLOOR = 1e-12        # lexical probabilities are clipped here before the log
CHOSEN_BY = "validation log-loss"     # the rule bundle.json records (trainer.hybrid.choose applies it)
LEGACY_RULE = "validation macro-F1"   # bundles without "chosen_by" were chosen by this rule


def choice_rule(hybrid: dict) -> tuple[str, str]:
    """How a bundle's served candidate was chosen: the rule's wording and the candidates' figure it
    compared ("log_loss" when the rule is log-loss and every candidate records one, else "macro_f1").
    The model card and the Train tab both name the rule and list that figure."""
    by = hybrid.get("chosen_by", LEGACY_RULE)
    cands = hybrid.get("candidates") or {}
    log_loss = by == CHOSEN_BY and bool(cands) and all("log_loss" in c for c in cands.values())
    return by, "log_loss" if log_loss else "macro_f1"


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def blend_logits(transformer_logits: np.ndarray | None, lexical_probs: np.ndarray | None,
                 weight: float) -> np.ndarray:
    """The served scores (float32).  A part with weight 0 may be ``None`` (it is not run)."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"lexical weight must be in [0, 1], got {weight}")
    if weight == 0.0:
        return np.asarray(transformer_logits, dtype=np.float32)
    lex = np.log(np.clip(np.asarray(lexical_probs, dtype=np.float64), LOG_FLOOR, None))
    if weight == 1.0:
        return lex.astype(np.float32)
    return ((1.0 - weight) * log_softmax(transformer_logits) + weight * lex).astype(np.float32)
