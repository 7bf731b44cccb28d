"""The export of a model with several targets (:mod:`trainer.targets`): one ONNX output per target,
the int8 gate on every target, and per target its lexical part, its figures on the test split as
served, its stored validation predictions and its record in ``bundle.json``
(:mod:`triage_app.targets` describes the format).  :func:`trainer.export.export_bundle` calls these
when it is given ``targets``."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from trainer.evaluate import softmax
from trainer.export_lexical import check_stop, export_lexical, hybrid_metrics, served_metrics
from triage_app import text as textmod
from triage_app.hybrid import blend_logits
from triage_app.targets import lexical_file, output_name


@dataclass
class TargetExport:
    """One target as the pipeline hands it to the export: its labels, the served validation scores
    (before calibration) of the rows labeled for it with their labels, the temperature that
    calibrates them, the hybrid choice (:class:`trainer.hybrid.HybridChoice` or None), the trainer's
    figures and the data preparation record."""
    name: str
    labels: list[str]
    val_logits: np.ndarray
    val_y: np.ndarray
    temperature: float
    hybrid: object = None
    metrics: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    loss_weight: float = 1.0

    @property
    def lexical_weight(self) -> float:
        return float(self.hybrid.weight) if self.hybrid is not None else 0.0


class TargetOutputs(nn.Module):
    """The model with its side-by-side logits split into one output per target (ONNX export)."""

    def __init__(self, model, sizes: list[int]):
        super().__init__()
        self.model, self.sizes = model, list(sizes)

    def forward(self, input_ids_a, attention_mask_a, input_ids_b, attention_mask_b):
        z = self.model(input_ids_a, attention_mask_a, input_ids_b, attention_mask_b)
        return tuple(torch.split(z, self.sizes, dim=1))


def onnx_outputs(model) -> tuple[nn.Module, list[str]]:
    """What to export and its output names: the model itself (``logits``), or per target."""
    sizes = getattr(model, "target_sizes", None)
    if not sizes:
        return model, ["logits"]
    return TargetOutputs(model, sizes), [output_name(k) for k in range(len(sizes))]


def _segments(sizes, width: int) -> list[slice]:
    if not sizes:
        return [slice(0, width)]
    ends = np.cumsum([0] + list(sizes))
    return [slice(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:])]


def gate_figures(ref: np.ndarray, got: np.ndarray, y: np.ndarray, sizes=None) -> list[dict]:
    """Per target (one for a single-target model): top-1 agreement of ``got`` with ``ref`` and both
    accuracies, on the rows labeled for the target (``y``: labels, or rows x targets with -1)."""
    out = []
    y = np.asarray(y)
    for k, seg in enumerate(_segments(sizes, ref.shape[1])):
        yk = y if y.ndim == 1 else y[:, k]
        m = yk >= 0
        r, g = ref[m][:, seg].argmax(1), got[m][:, seg].argmax(1)
        out.append({"agreement": float((r == g).mean()), "accuracy_fp32": float((r == yk[m]).mean()),
                    "accuracy_int8": float((g == yk[m]).mean()), "rows": int(m.sum())})
    return out


def export_target_lexicals(targets: list[TargetExport], work: Path, rows_a, rows_b, say, should_stop):
    """Each hybrid target's lexical part as ONNX, checked against scikit-learn.  Returns
    ``(bundle files, parity records, {target index: (path, weight)})``."""
    files, records, parts = {}, [], {}
    for k, t in enumerate(targets):
        if t.lexical_weight <= 0:
            records.append({})
            continue
        check_stop(should_stop)
        say(f"exporting the lexical model of {t.name} (ONNX) and checking it against scikit-learn")
        path = work / lexical_file(k)
        records.append(export_lexical(t.hybrid.model, path, rows_a, rows_b))
        files[lexical_file(k)] = path
        parts[k] = (path, t.lexical_weight)
    return files, records, parts


def targets_test_exported(logits: np.ndarray, test_rows, targets: list[TargetExport], precision: str,
                          lexical: dict, how: str) -> list[dict]:
    """Each target's figures on the test split as the app serves it: ``logits`` are the exported
    file's outputs side by side (:func:`trainer.export.onnx_logits`), blended per target with its
    lexical part."""
    from trainer.lexical import onnx_proba

    y = np.asarray(test_rows[2])
    out = []
    for k, (t, seg) in enumerate(zip(targets, _segments([len(t.labels) for t in targets], logits.shape[1]))):
        m = y[:, k] >= 0
        scores, h = logits[m][:, seg], how
        if k in lexical:
            path, w = lexical[k]
            texts = [textmod.lexical_text(a, b) for a, b, keep in zip(test_rows[0], test_rows[1], m) if keep]
            scores = blend_logits(scores, onnx_proba(path, texts), w)
            h += f", blended with the lexical model (weight {w:g})"
        out.append(served_metrics(y[m, k], scores, t.labels, precision, h))
    return out


def validation_arrays(targets: list[TargetExport]) -> dict:
    """``validation.npz`` arrays: ``probs``/``y`` (primary) and ``probs_<k>``/``y_<k>`` per target."""
    out = {}
    for k, t in enumerate(targets):
        sfx = "" if k == 0 else f"_{k}"
        out[f"probs{sfx}"] = softmax(t.val_logits, t.temperature).astype(np.float32)
        out[f"y{sfx}"] = np.asarray(t.val_y, dtype=np.int64)
    return out


def targets_meta(targets: list[TargetExport], test_exported: list[dict], review_threshold: float) -> list[dict]:
    """``bundle.json`` ``"targets"``: the primary target named only (its settings are the bundle's
    own), every other with its labels, calibration, thresholds, hybrid record and figures."""
    out = []
    for k, t in enumerate(targets):
        rec = {"name": t.name, "column": t.name, "output": output_name(k), "loss_weight": t.loss_weight,
               "data_report": t.report}
        if k:
            metrics = dict(t.metrics)
            if t.hybrid is not None:
                metrics["hybrid"] = hybrid_metrics(t.hybrid)
            if test_exported:
                metrics["test_exported"] = test_exported[k]
            rec.update({"labels": list(t.labels), "temperature": float(t.temperature),
                        "review_threshold": float(review_threshold), "class_thresholds": {},
                        "metrics": metrics})
            if t.hybrid is not None:
                rec["hybrid"] = t.hybrid.meta()
        out.append(rec)
    return out
