"""The hybrid step of training: fit the lexical model (TF-IDF + logistic regression) on the same
training rows as the dual-BERT, score the candidates on validation (transformer alone, lexical
alone, and blends of both) and keep the one with the lowest validation log-loss (each candidate at
its own best temperature).

Log-loss, not macro-F1, chooses: a validation split holds a handful of tickets of each rare label,
and macro-F1 jumps by whole points when one of them flips, so its best weight is often luck (a
0-weight transformer chosen on one rare ticket it happened to get right, served at 0.94 accuracy
where the blend gives 0.99).  Log-loss counts every ticket's probability of its label and moves
smoothly with the weight; ``bench/blend_rule.py`` compares the rules on test (BENCHMARKS.md).

The blend itself is :func:`triage_app.hybrid.blend_logits` (the engine serves the same formula);
the chosen blend is calibrated with its own temperature on the validation rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from trainer.evaluate import classification_report, ece, fit_temperature, log_loss, macro_f1
from triage_app.hybrid import CHOSEN_BY, blend_logits
from triage_app.text import lexical_text

# Lexical weights tried on validation: 0 is the transformer alone, 1 the lexical model alone.
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))


@dataclass
class HybridChoice:
    """What validation chose.  ``val_logits`` are the served scores of the validation rows (before
    calibration) and ``temperature`` calibrates them; ``model`` is None when the lexical part is
    not used (weight 0)."""
    weight: float
    chosen: str                          # "transformer" | "lexical" | "blend"
    candidates: dict                     # name -> {"lexical_weight", "accuracy", "macro_f1", "log_loss"}
    val_logits: np.ndarray
    temperature: float
    model: object = None                 # trainer.lexical.LexicalModel
    lexical: dict = field(default_factory=dict)   # LexicalModel.info()
    ece_before: float = float("nan")     # calibration error of the served scores on validation
    ece_after: float = float("nan")
    val_report: dict = field(default_factory=dict)   # classification_report of the served scores

    def meta(self) -> dict:
        """What ``bundle.json`` records under ``"hybrid"`` (the export adds the file's sha256)."""
        return {"lexical_weight": self.weight, "chosen": self.chosen, "chosen_by": CHOSEN_BY,
                "candidates": self.candidates,
                "lexical": self.lexical, "lexical_input": "triage_app.text.lexical_text of the two "
                "towers' cleaned inputs, lower-cased"}

    def summary(self) -> str:
        """One line for people, e.g. ``chosen: blend, 0.2 lexical (validation log-loss: transformer
        0.412, ...; macro-F1: transformer 0.861, ...)``."""
        c = self.candidates
        how = "blend, " + f"{self.weight:g} lexical" if self.chosen == "blend" else self.chosen
        losses = ", ".join(f"{k} {v['log_loss']:.3f}" for k, v in c.items())
        f1s = ", ".join(f"{k} {v['macro_f1']:.3f}" for k, v in c.items())
        return f"chosen: {how} (validation log-loss: {losses}; macro-F1: {f1s})"


def split_texts(split) -> list[str]:
    """The lexical model's input for each row of a prepared split."""
    return [lexical_text(a, b) for a, b in zip(split.text_a, split.text_b)]


def score_weights(transformer_logits: np.ndarray, lexical_probs: np.ndarray, y: np.ndarray,
                  n_labels: int, weights=WEIGHTS) -> list[dict]:
    """Accuracy, macro-F1 and log-loss (at the blend's own best temperature) on validation for each
    lexical weight."""
    y = np.asarray(y)
    out = []
    for w in weights:
        z = blend_logits(transformer_logits, lexical_probs, w)
        pred = z.argmax(1)
        out.append({"lexical_weight": float(w), "accuracy": float(np.mean(pred == y)),
                    "macro_f1": macro_f1(y, pred, n_labels),
                    "log_loss": log_loss(z, y, fit_temperature(z, y)) if len(y) else float("nan")})
    return out


def choose(scores: list[dict]) -> dict:
    """The weight with the lowest validation log-loss; a tie goes to the smaller lexical weight."""
    return min(scores, key=lambda s: (round(s["log_loss"], 9), s["lexical_weight"]))


def fit_hybrid(res, data, should_stop: Callable[[], bool] | None = None) -> HybridChoice:
    """Fit the lexical model for a finished :class:`trainer.loop.TrainResult` and choose the blend."""
    from trainer.lexical import fit_lexical

    n = len(res.labels)
    val_texts = split_texts(data.val)
    model = fit_lexical(split_texts(data.train), data.train.y, val_texts, data.val.y, n,
                        should_stop=should_stop)
    lex_val = model.val_proba          # held out: out-of-fold, or a model fitted on the training rows
    scores = score_weights(res.val_logits, lex_val, res.val_y, n)
    by_weight = {s["lexical_weight"]: s for s in scores}
    candidates = {"transformer": by_weight[0.0], "lexical": by_weight[1.0]}
    inner = [s for s in scores if 0 < s["lexical_weight"] < 1]
    if inner:
        candidates["blend"] = choose(inner)
    w = choose(scores)["lexical_weight"]
    return _choice(w, candidates, blend_logits(res.val_logits, lex_val, w), res.val_y, res.labels,
                   model, res.temperature)


def fit_lexical_only(data, should_stop: Callable[[], bool] | None = None) -> HybridChoice:
    """The lexical model alone (no transformer was trained: the ``lexical`` preset)."""
    from trainer.lexical import fit_lexical

    n = len(data.labels)
    val_texts = split_texts(data.val)
    model = fit_lexical(split_texts(data.train), data.train.y, val_texts, data.val.y, n,
                        should_stop=should_stop)
    served = blend_logits(None, model.val_proba, 1.0)
    s = score_weights(served, np.exp(served), data.val.y, n, weights=(1.0,))[0]
    return _choice(1.0, {"lexical": s}, served, data.val.y, data.labels, model, 1.0)


def _choice(w, candidates, served, y, labels, model, transformer_temperature) -> HybridChoice:
    """The chosen candidate, calibrated with its own temperature (the transformer alone keeps
    the trainer's)."""
    chosen = "transformer" if w == 0 else "lexical" if w == 1 else "blend"
    temperature = transformer_temperature if w == 0 else fit_temperature(served, y)
    return HybridChoice(w, chosen, candidates, served, float(temperature),
                        model if w > 0 else None, model.info(),
                        ece(served, y, 1.0), ece(served, y, temperature),
                        classification_report(np.asarray(y), served.argmax(1), list(labels)))


# ---- a hybrid on top of an exported transformer ------------------------------------------------
@dataclass
class ServedTransformer:
    """The transformer part of an existing bundle, scored as the engine serves it (ONNX Runtime,
    its precision) on the prepared rows: what :func:`fit_hybrid` needs in place of a training result."""
    labels: list
    val_logits: np.ndarray
    val_y: np.ndarray
    temperature: float
    test_logits: np.ndarray | None


def served_transformer(bundle, data, should_stop=None) -> ServedTransformer:
    from triage_app.engine import TicketClassifier

    clf = TicketClassifier.load(bundle, device="cpu")

    def logits(split):
        return clf.transformer_logits(list(zip(split.text_a, split.text_b)), None, should_stop)

    test = logits(data.test) if data.test is not None and len(data.test) else None
    # a hybrid bundle's temperature calibrates its blend; the transformer's own is the trainer's
    temperature = bundle.meta["metrics"].get("temperature", bundle.temperature) if bundle.lexical_weight \
        else bundle.temperature
    return ServedTransformer(list(bundle.labels), logits(data.val), data.val.y, float(temperature), test)
