"""Several targets per ticket (numpy only): how a multi-target bundle names its targets, and what
the engine serves for each.

A multi-target bundle (``bundle.json`` format 2 with a ``"targets"`` list) holds one dual-BERT with
shared towers and one linear head per target.  Its ONNX graph has one output per target, in the
order of the list: ``logits`` (the first, *primary* target) then ``logits_1``, ``logits_2`` ...
The primary target is the one the single-target fields of ``bundle.json`` describe (``labels``,
``temperature``, ``review_threshold``, ``class_thresholds``, ``hybrid``, ``metrics``,
``lexical.onnx``, ``validation.npz`` keys ``probs``/``y``); its entry in the list only names it.
Every other entry carries its own: ``labels``, ``temperature``, ``review_threshold``,
``class_thresholds``, ``hybrid`` (lexical weight, with its file ``lexical_<k>.onnx``),
``metrics``, and the ``validation.npz`` keys ``probs_<k>``/``y_<k>``.

Plain data for front ends: :class:`TargetInfo` (what a bundle says of a target: ``Bundle.targets``)
and :class:`TargetPrediction` (one ticket, one target: ``Prediction.targets[name]``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAX_TARGETS = 8
PRIMARY_OUTPUT = "logits"
TARGET_LEXICAL_FILES = tuple(f"lexical_{k}.onnx" for k in range(1, MAX_TARGETS))


def output_name(k: int) -> str:
    """The ONNX output of target ``k`` (0: the primary target)."""
    return PRIMARY_OUTPUT if k == 0 else f"{PRIMARY_OUTPUT}_{k}"


def lexical_file(k: int) -> str:
    """The lexical part's file of target ``k`` in a bundle (0: ``lexical.onnx``)."""
    return "lexical.onnx" if k == 0 else f"lexical_{k}.onnx"


@dataclass
class TargetInfo:
    """One target of a multi-target bundle, as ``bundle.json`` records it (plain data).

    ``index`` is its place in the list (0 = primary) and its ONNX output; ``column`` the training
    file's label column; thresholds as the review tools saved them."""
    index: int
    name: str
    column: str
    labels: list[str]
    temperature: float
    review_threshold: float
    class_thresholds: dict[str, float]
    lexical_weight: float
    lexical_path: Path
    metrics: dict = field(repr=False, default_factory=dict)
    output: str = PRIMARY_OUTPUT

    @property
    def primary(self) -> bool:
        return self.index == 0

    def summary(self) -> dict:
        """Test figures of this target (the exported file as served first), like ``Bundle.summary``."""
        m = self.metrics or {}
        test = m.get("test_exported") or m.get("test") or m.get("val") or {}
        return {"name": self.name, "labels": len(self.labels), "accuracy": test.get("accuracy"),
                "macro_f1": test.get("macro_f1"), "rows": test.get("rows", test.get("n"))}


def targets_of(meta: dict, folder: Path) -> list[TargetInfo]:
    """The targets of a bundle's ``bundle.json`` (``[]`` for a single-target bundle)."""
    out = []
    for k, t in enumerate(meta.get("targets") or []):
        src = meta if k == 0 else t       # the primary target's settings are the top-level ones
        out.append(TargetInfo(
            index=k, name=str(t["name"]), column=str(t.get("column") or t["name"]),
            labels=list(src["labels"]), temperature=float(src["temperature"]),
            review_threshold=float(src["review_threshold"]),
            class_thresholds={a: float(b) for a, b in (src.get("class_thresholds") or {}).items()},
            lexical_weight=float((src.get("hybrid") or {}).get("lexical_weight", 0.0)),
            lexical_path=folder / lexical_file(k), metrics=dict(src.get("metrics") or {}),
            output=output_name(k)))
    return out


def validation_arrays(bundle_path: Path, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(probs, y)`` of target ``k`` stored in ``validation.npz`` (None when absent)."""
    p = Path(bundle_path) / "validation.npz"
    if not p.is_file():
        return None
    suffix = "" if k == 0 else f"_{k}"
    with np.load(p, allow_pickle=False) as z:
        if f"probs{suffix}" not in z.files:
            return None
        return np.asarray(z[f"probs{suffix}"], dtype=np.float32), np.asarray(z[f"y{suffix}"]).astype(np.int64)


@dataclass
class TargetPrediction:
    """One ticket's prediction for one target: its label, calibrated confidence, top-k
    ``[(label, probability)]``, whether it needs review and why (``""`` when auto-routed)."""
    label: str
    confidence: float
    top: list[tuple[str, float]]
    needs_review: bool
    review_reason: str = ""
    probs: np.ndarray | None = None

    def as_dict(self) -> dict:
        return {"label": self.label, "confidence": round(self.confidence, 4),
                "top": [[lab, round(p, 4)] for lab, p in self.top], "needs_review": self.needs_review,
                "review_reason": self.review_reason}


def softmax_t(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scaled softmax (float32), the engine's calibration."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def low_confidence_reason(confidence: float, threshold: float) -> str:
    return f"low confidence ({confidence:.0%} < {threshold:.0%})"


def target_predictions(info: TargetInfo, probs: np.ndarray, top_k: int = 3, threshold: float | None = None,
                       keep_probs: bool = False, reasons=None) -> list[TargetPrediction]:
    """One :class:`TargetPrediction` per row of ``probs`` (the target's calibrated probabilities);
    ``reasons`` (unfamiliar or too-short tickets) flag rows whatever their confidence; otherwise a
    row needs review below ``threshold`` (given) or the target's class or global threshold."""
    labels = info.labels
    k = max(1, min(top_k, len(labels)))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    out = []
    for r, (row, idx) in enumerate(zip(probs, order)):
        label = labels[int(idx[0])]
        conf = float(row[idx[0]])
        t = float(threshold) if threshold is not None else info.class_thresholds.get(label, info.review_threshold)
        why = (reasons[r] if reasons is not None else "") or (low_confidence_reason(conf, t) if conf < t else "")
        out.append(TargetPrediction(label, conf, [(labels[int(i)], float(row[i])) for i in idx], bool(why), why,
                                    row.copy() if keep_probs else None))
    return out


# The columns ``triage classify`` adds per target of a multi-target model (after the usual ones).
TARGET_COLUMN_SUFFIXES = ("label", "confidence", "needs_review")


def target_columns(targets: list[TargetInfo], probs_by_target: dict, reasons, threshold: float | None = None) -> dict:
    """``{"<target>_label": [...], "<target>_confidence": [...], "<target>_needs_review": [...]}``
    for every target, in target order."""
    cols: dict = {}
    for info in targets:
        preds = target_predictions(info, probs_by_target[info.name], 1, threshold, reasons=reasons)
        cols[f"{info.name}_label"] = [p.label for p in preds]
        cols[f"{info.name}_confidence"] = [round(p.confidence, 4) for p in preds]
        cols[f"{info.name}_needs_review"] = [p.needs_review for p in preds]
    return cols
