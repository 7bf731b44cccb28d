"""The bundle parts that need no PyTorch: the lexical model's ONNX file (checked against
scikit-learn), the hybrid and unfamiliar-ticket records of ``bundle.json``, and the lexical-only
bundle (no transformer: written when the lexical model alone wins on validation, or trained alone
by the ``lexical`` preset).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from trainer.evaluate import classification_report, softmax
from triage_app import text as textmod
from triage_app.bundle import (
    LEXICAL_FILE,
    VALIDATION_FILE,
    VOCABULARY_FILE,
    clean_stale_work,
    now_iso,
    replaceable,
    write_bundle,
)
from triage_app.errors import Cancelled, TriageError
from triage_app.hybrid import CHOSEN_BY

LEXICAL_TOL = 1e-4      # max |p_onnx - p_sklearn| of the lexical part (measured: ~1e-6)
LEXICAL_ONLY_BASE = "none (lexical model only)"


class ExportError(TriageError, RuntimeError):
    pass


def check_stop(should_stop) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled()


def export_lexical(model, path: Path, rows_a, rows_b) -> dict:
    """Write the lexical model as ONNX and check it against scikit-learn on the validation rows;
    returns the parity record (``ExportReport.lexical``)."""
    from trainer.lexical import parity

    model.to_onnx(path)
    texts = [textmod.lexical_text(a, b) for a, b in zip(rows_a, rows_b)]
    rec = parity(model, path, texts)
    if rec["max_abs_diff"] > LEXICAL_TOL:   # (a top-1 flip within this is a tie, harmless)
        raise ExportError(f"the lexical model in ONNX differs from scikit-learn (max |diff| "
                          f"{rec['max_abs_diff']:.2e}, top-1 agreement {rec['top1_agreement']:.4f} "
                          f"on {rec['rows']} validation rows); not exporting a model that disagrees")
    return rec


def hybrid_metrics(hybrid) -> dict:
    """What ``metrics["hybrid"]`` records of a :class:`trainer.hybrid.HybridChoice`."""
    return {"chosen": hybrid.chosen, "lexical_weight": hybrid.weight, "chosen_by": CHOSEN_BY,
            "candidates": hybrid.candidates,
            "temperature": hybrid.temperature, "ece_before": hybrid.ece_before,
            "ece_after": hybrid.ece_after, "val": hybrid.val_report}


def familiarity_parts(familiarity) -> tuple[dict, dict]:
    """``(files, meta)`` of the unfamiliar-ticket signal for :func:`triage_app.bundle.write_bundle`."""
    if familiarity is None:
        return {}, {}
    return {VOCABULARY_FILE: familiarity.vocabulary_bytes()}, {"familiarity": familiarity.meta()}


def served_metrics(y, scores, labels, precision: str, how: str, langs=None) -> dict:
    """The ``test_exported`` record: figures of the scores as the engine serves them; with the
    rows' languages, accuracy and macro-F1 per language too (``by_language``)."""
    from triage_app.language import per_language

    pred = np.asarray(scores).argmax(1)
    r = classification_report(np.asarray(y), pred, list(labels))
    out = {"accuracy": float(r["accuracy"]), "weighted_f1": float(r["weighted_f1"]),
           "macro_f1": float(r["macro_f1"]), "rows": int(len(y)), "precision": precision, "how": how}
    if langs is not None and len(langs) == len(y):
        out["by_language"] = per_language(y, pred, langs)
    return out


def export_lexical_bundle(hybrid, data, config, out_dir, *, name: str = "ticket-model", version: str = "1",
                          should_stop=None, on_progress=None, familiarity=None, metrics: dict | None = None,
                          meta_extra: dict | None = None, review_threshold: float = 0.5):
    """A bundle served by the lexical model alone (``hybrid.weight`` must be 1): ``lexical.onnx``
    (checked against scikit-learn), ``validation.npz``, the vocabulary, no transformer.  The test
    figures are those of the ONNX file as the engine serves it.  Returns ``(Bundle, export record)``."""
    from trainer.lexical import onnx_proba

    if hybrid.weight != 1.0 or hybrid.model is None:
        raise ValueError("a lexical-only bundle needs the lexical model at weight 1")
    say = on_progress or (lambda s: None)
    out = Path(out_dir)
    if not replaceable(out):
        raise ExportError(f"{out}: exists and is not a model bundle; choose a new or empty folder "
                          "(only an existing bundle folder is replaced)")
    cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_work(out.parent, files=False)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=str(out.parent)))
    try:
        check_stop(should_stop)
        say("exporting the lexical model (ONNX) and checking it against scikit-learn")
        lex = work / LEXICAL_FILE
        parity = export_lexical(hybrid.model, lex, data.val.text_a, data.val.text_b)
        files = {LEXICAL_FILE: lex}
        npz = work / VALIDATION_FILE
        np.savez(npz, probs=softmax(hybrid.val_logits, hybrid.temperature).astype(np.float32),
                 y=np.asarray(data.val.y, dtype=np.int64))
        files[VALIDATION_FILE] = npz
        fam_files, fam_meta = familiarity_parts(familiarity)
        files.update(fam_files)
        metrics = dict(metrics or {})
        metrics["val"] = hybrid.val_report
        metrics["hybrid"] = hybrid_metrics(hybrid)
        metrics["temperature"] = float(hybrid.temperature)
        t = data.test
        if t is not None and len(t):
            check_stop(should_stop)
            say("measuring the lexical model on the test split")
            texts = [textmod.lexical_text(a, b) for a, b in zip(t.text_a, t.text_b)]
            from triage_app.hybrid import blend_logits

            scores = blend_logits(None, onnx_proba(lex, texts), 1.0)
            metrics["test"] = classification_report(np.asarray(t.y), scores.argmax(1), list(data.labels))
            metrics["test_exported"] = served_metrics(t.y, scores, data.labels, "fp32",
                                                      "ONNX Runtime CPU, the lexical model alone", t.lang)
        check_stop(should_stop)
        say("writing the bundle")
        cols = data.columns
        fields = ["text"] if cols.get("text") and not (cols.get("title") or cols.get("body")) else ["title", "body"]
        export = {"lexical": parity, "precision": "fp32",
                  "precision_note": "the lexical model alone (TF-IDF + logistic regression, no transformer)",
                  "sizes_mb": {"lexical": round(lex.stat().st_size / 2**20, 1)}}
        meta = {
            "name": name, "version": str(version), "labels": list(data.labels), "routing": data.routing,
            "input_fields": fields, "max_length": int(cfg.get("max_length", 128)),
            "cleaning": textmod.cleaning_record(data.cleaning_options),
            "temperature": float(hybrid.temperature), "review_threshold": float(review_threshold),
            "class_thresholds": {}, "base_model": LEXICAL_ONLY_BASE, "precision": "fp32",
            "precision_note": "the lexical model (TF-IDF + logistic regression) has no int8 form",
            "onnx_sha256": "", "train_config": cfg, "data_fingerprint": data.fingerprint,
            "metrics": metrics, "export": export, "hybrid": hybrid.meta(), "columns": cols,
            "data_report": data.report.to_dict(), "created": now_iso(), **fam_meta,
        }
        meta.update(meta_extra or {})
        return write_bundle(files, meta, out_dir), export
    finally:
        shutil.rmtree(work, ignore_errors=True)
