"""Plain, Qt-free pieces of the Train tab: the data passed between the GUI and its jobs, and the
job functions themselves (prepare -> train -> export -> compare).

Moved unchanged out of the former ``train_tab.py``; ``trainer/pipeline.py`` is to replace most of
this module.  Nothing here imports Qt.
"""
from __future__ import annotations

import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from triage_app.errors import Cancelled

PENDING_PREFIX = ".pending-"


# ---- plain data passed between the GUI and the jobs ---------------------------------------------
@dataclass
class DataSpec:
    """Everything the data preparation needs (snapshot taken on the GUI thread)."""
    df: object                       # pandas.DataFrame (never modified)
    source: str
    label_col: str
    title_col: str | None
    body_col: str | None
    text_col: str | None
    merge_map: dict
    min_per_class: int
    rare: str                        # "drop" | "other"
    val_frac: float
    test_frac: float
    use_corrections: bool
    routing: str = "same"
    class_weights: bool = True
    seed: int = 42


@dataclass
class DataReady:
    lines: list[str]
    sizes: dict                      # split -> rows
    labels: list[str]


@dataclass
class FailureInfo:
    kind: str                        # a key of HINTS
    message: str


@dataclass
class TrainOutcome:
    pending_dir: str
    bundle_path: str
    name: str
    version: str
    labels: list[str]
    metrics: dict
    export: dict
    comparison: dict | None
    report_lines: list[str]
    elapsed_s: float
    config: dict = field(default_factory=dict)


# ---- pure helpers (no Qt; unit-testable) ---------------------------------------------------------
def prepare(spec: DataSpec, corrections=None, should_stop=None):
    """Merge stored corrections (optional) and run :func:`trainer.data.prepare_frame`.
    Returns ``(PreparedData, merged DataFrame)``; raises ``InterruptedError`` when stopped."""
    from trainer.data import prepare_frame

    df, stats = spec.df, None
    if spec.use_corrections and corrections is not None and corrections.count():
        df, stats = corrections.merge_into(df, text_col=spec.text_col, title_col=spec.title_col,
                                           body_col=spec.body_col, label_col=spec.label_col)
        if "split" in df.columns:
            df["split"] = df["split"].replace({"": "train"}).fillna("train")
    data = prepare_frame(df, label_col=spec.label_col, title_col=spec.title_col,
                         body_col=spec.body_col, text_col=spec.text_col, routing=spec.routing,
                         min_per_class=spec.min_per_class, rare=spec.rare,
                         merge_map=spec.merge_map or None, val_frac=spec.val_frac,
                         test_frac=spec.test_frac, seed=spec.seed, class_weights=spec.class_weights,
                         source=spec.source, should_stop=should_stop)
    if stats:
        data.report.corrections = stats
    return data, df


def label_counts(labels, merge_map: dict | None = None) -> dict:
    """Non-empty labels (stripped) counted after the merge map."""
    counts: dict = {}
    mm = merge_map or {}
    for v in labels:
        if v is None or (isinstance(v, float) and v != v):
            continue
        s = str(v).strip()
        if not s:
            continue
        s = mm.get(s, s)
        counts[s] = counts.get(s, 0) + 1
    return counts


def _f1(y, pred, lab) -> float:
    tp = int(np.sum((pred == lab) & (y == lab)))
    fp = int(np.sum((pred == lab) & (y != lab)))
    fn = int(np.sum((pred != lab) & (y == lab)))
    return 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 0.0


def compare_predictions(y_true, new_pred, active_pred, new_labels, active_labels) -> dict:
    """Compare the new and the active model on the same rows (label names everywhere).

    Only rows whose true label both models know count; per-class F1 is given for those shared
    labels, and accuracy / macro-F1 on those rows for both models."""
    y = np.asarray(y_true, dtype=object)
    pn = np.asarray(new_pred, dtype=object)
    pa = np.asarray(active_pred, dtype=object)
    act = set(map(str, active_labels))
    shared = [lab for lab in new_labels if lab in act]
    only_new = [lab for lab in new_labels if lab not in act]
    only_active = sorted(act - set(new_labels))
    m = np.isin(y, shared) if shared else np.zeros(len(y), dtype=bool)
    ys, ns, as_ = y[m], pn[m], pa[m]
    per = {}
    for lab in shared:
        per[lab] = {"new": _f1(ys, ns, lab), "active": _f1(ys, as_, lab), "support": int(np.sum(ys == lab))}
    present = [lab for lab in shared if per[lab]["support"] > 0]

    def summary(pred):
        if not len(ys):
            return {"accuracy": float("nan"), "macro_f1": float("nan")}
        return {"accuracy": float(np.mean(pred == ys)),
                "macro_f1": float(np.mean([_f1(ys, pred, lab) for lab in present])) if present else 0.0}

    return {"shared": shared, "only_new": only_new, "only_active": only_active,
            "rows": int(m.sum()), "total_rows": int(len(y)), "per_class": per,
            "new": summary(ns), "active": summary(as_)}


def val_tickets(df, spec: DataSpec, data) -> list[dict]:
    """The original fields of the validation rows (found again by their cleaned text), so that
    another model reads them with its own routing and cleaning."""
    from triage_app.text import compose

    def col(c):
        return df[c].tolist() if c else [None] * len(df)

    want = set(zip(data.val.text_a, data.val.text_b))
    found: dict = {}
    for t, b, x in zip(col(spec.title_col), col(spec.body_col), col(spec.text_col)):
        key = compose(t, b, x, spec.routing)
        if key in want and key not in found:
            found[key] = {"title": t, "body": b, "text": x}
    out = []
    for a, b in zip(data.val.text_a, data.val.text_b):
        tk = found.get((a, b))
        if tk is None:
            tk = {"text": a} if a == b else {"title": a, "body": b}
        out.append(tk)
    return out


def safe_model_name(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._ -]+", "-", str(name)).strip().strip(".-")
    s = re.sub(r"\s+", "-", s)
    return s[:80]


def classify_error(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "TableError":
        return "table"
    if name == "DataError":
        return "data"
    if name == "ConfigError":
        return "config"
    if name == "ModelLoadError":
        return "model"
    if name in ("ExportError",):
        return "export"
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return "memory"
    if "cuda" in str(exc).lower():
        return "device"
    return "other"


def training_job(spec: DataSpec, cfg, *, active=None, corrections=None, pending_root: Path,
                 name: str, version: str, export_options: dict | None = None):
    """Build the job function: prepare -> train -> export (hidden folder) -> compare."""

    def fn(emit, should_stop):
        from trainer.events import PhaseEvent

        t0 = time.perf_counter()
        pending = None
        try:
            emit(PhaseEvent("data", "preparing the data"))
            try:
                data, df = prepare(spec, corrections, should_stop)
            except Cancelled:
                raise Cancelled() from None
            lines = data.report.lines()
            sizes = {"train": len(data.train), "val": len(data.val),
                     "test": len(data.test) if data.test is not None else 0}
            emit(DataReady(lines, sizes, list(data.labels)))
            if should_stop():
                raise Cancelled()
            from trainer.loop import train

            res = train(cfg, data, on_event=emit, should_stop=should_stop)
            if res.cancelled or should_stop():
                raise Cancelled()
            from trainer.export import export_result

            emit(PhaseEvent("export", "exporting the model (ONNX, parity and int8 checks)"))
            pending = Path(pending_root) / f"{PENDING_PREFIX}{uuid.uuid4().hex[:10]}"
            pending.mkdir(parents=True)
            try:
                bundle, rep = export_result(res, pending / "bundle", name=name, version=version,
                                            should_stop=should_stop,
                                            on_progress=lambda s: emit(PhaseEvent("export", s)),
                                            **(export_options or {}))
            except Cancelled:
                raise Cancelled() from None
            comparison = None
            if active is not None:
                emit(PhaseEvent("compare", f"running the active model ({getattr(active, 'name', '?')}) "
                                f"on {len(data.val)} validation rows"))
                tickets = val_tickets(df, spec, data)
                try:
                    probs = active.predict_proba(tickets, should_stop=should_stop)
                except Exception as e:  # noqa: BLE001
                    if should_stop() or type(e).__name__ == "Cancelled":
                        raise Cancelled() from None
                    comparison = {"error": f"{type(e).__name__}: {e}"}
                else:
                    act_labels = [str(x) for x in active.labels]
                    act_pred = [act_labels[i] for i in np.asarray(probs).argmax(1)]
                    new_pred = [res.labels[i] for i in np.asarray(res.val_logits).argmax(1)]
                    y_true = [res.labels[i] for i in res.val_y]
                    comparison = compare_predictions(y_true, new_pred, act_pred, res.labels, act_labels)
                    ver = str(getattr(active, "version", "") or "")
                    comparison["active_name"] = getattr(active, "name", "?") + (f" (version {ver})" if ver else "")
            if should_stop():
                raise Cancelled()
            return TrainOutcome(str(pending), str(bundle.path), name, version, list(res.labels),
                                bundle.meta["metrics"], rep.to_dict(), comparison, lines,
                                time.perf_counter() - t0, cfg.to_dict())
        except Cancelled:
            if pending is not None:
                shutil.rmtree(pending, ignore_errors=True)
            raise
        except BaseException as e:
            if pending is not None:
                shutil.rmtree(pending, ignore_errors=True)
            emit(FailureInfo(classify_error(e), str(e) or type(e).__name__))
            raise

    return fn


def fmt_duration(s: float | None) -> str:
    if s is None or not np.isfinite(s) or s < 0:
        return "—"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
