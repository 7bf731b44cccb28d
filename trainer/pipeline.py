"""The one path from a labeled file to a bundle: prepare -> train -> calibrate/evaluate ->
lexical model and blend (hybrid, chosen on validation) -> compare with the active model -> export.  ``triage train`` and the app's Train tab both call
:func:`run`; neither keeps a copy of any step.

Inputs and outputs are plain data (:class:`DataSpec`, :class:`trainer.config.TrainConfig`,
:class:`TrainOutcome`); progress goes out through ``on_event`` as the trainer's dataclass events
plus :class:`DataReady`; ``should_stop()`` is polled and a stop raises
:class:`triage_app.errors.Cancelled`.  :func:`run` holds the machine-wide training lock
(:class:`triage_app.joblock.JobLock`) for its whole length, so the CLI and the app never train at
the same time on one machine.

The comparison with the active model runs before the export (it needs only the validation
predictions of the trained model), so the export is the last step and a stop anywhere leaves no
bundle behind.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from trainer.config import ConfigError, TrainConfig
from trainer.data import DataError, PreparedData, prepare_frame
from trainer.events import PhaseEvent
from triage_app import text as textmod
from triage_app.errors import Cancelled, TriageError


# ---- plain data in and out --------------------------------------------------------------------
@dataclass
class DataSpec:
    """What to train on.  ``df`` is an already-read table (never modified); without it the file
    ``source`` is read.  ``routing``, ``class_weights`` and ``seed`` are taken from the
    :class:`TrainConfig` by :func:`run` (they are here for the data check that runs without one)."""
    source: str
    label_col: str
    title_col: str | None = None
    body_col: str | None = None
    text_col: str | None = None
    df: object = None                    # pandas.DataFrame or None
    sheet: str | None = None
    merge_map: dict = field(default_factory=dict)
    min_per_class: int | None = None      # None: scaled to the data (trainer.config.default_min_per_class)
    rare: str = "drop"                   # "drop" | "other"
    val_frac: float = 0.1
    test_frac: float = 0.1
    use_corrections: bool = False
    routing: str = "same"
    class_weights: bool = True
    seed: int = 42
    # several targets (trainer/targets.py): every label column, ``label_col`` (the primary) first;
    # empty: ``label_col`` alone.  Merge maps of the other targets by column; loss weights from the config.
    label_cols: list = field(default_factory=list)
    merge_maps: dict = field(default_factory=dict)
    loss_weights: dict | None = None

    @property
    def multi(self) -> bool:
        return len(self.label_cols) > 1

    def with_config(self, cfg: TrainConfig) -> "DataSpec":
        return replace(self, routing=cfg.routing, class_weights=cfg.class_weights, seed=cfg.seed,
                       loss_weights=cfg.loss_weights)


@dataclass
class DataReady:
    """Event: the data is prepared (what preparation did, split sizes, labels)."""
    lines: list[str]
    sizes: dict                          # split -> rows
    labels: list[str]


@dataclass
class TrainOutcome:
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
    plan: dict | None = None             # what the auto preset chose, and why (trainer/auto.py)
    targets: list = field(default_factory=list)   # several targets: {"name", "labels", "metrics"} each


# ---- steps ------------------------------------------------------------------------------------
def read_frame(spec: DataSpec):
    """The table of ``spec`` (``spec.df``, else the file ``spec.source`` read with every column
    as text)."""
    if spec.df is not None:
        return spec.df
    from triage_app.io import read_table

    df, _rep = read_table(spec.source, sheet=spec.sheet)
    return df


def training_frame(spec: DataSpec, corrections=None):
    """The table to train on: ``spec``'s, with the stored corrections merged in when
    ``spec.use_corrections``.  Returns ``(table, merge statistics or None)``."""
    df, stats = read_frame(spec), None
    if spec.use_corrections and corrections is not None and corrections.count():
        df, stats = corrections.merge_into(df, text_col=spec.text_col, title_col=spec.title_col,
                                           body_col=spec.body_col, label_col=spec.label_col,
                                           target_cols=spec.label_cols[1:] if spec.multi else None)
        if "split" in df.columns:
            df["split"] = df["split"].replace({"": "train"}).fillna("train")
    return df, stats


def prepare(spec: DataSpec, corrections=None, should_stop=None) -> tuple[PreparedData, object]:
    """Merge stored corrections (when ``spec.use_corrections``) and prepare the rows for training.
    Returns ``(PreparedData, the table after corrections)``; raises ``Cancelled`` when stopped."""
    df, stats = training_frame(spec, corrections)
    if spec.multi:
        from trainer.targets import prepare_targets

        data = prepare_targets(df, label_cols=list(spec.label_cols), title_col=spec.title_col,
                               body_col=spec.body_col, text_col=spec.text_col, routing=spec.routing,
                               min_per_class=spec.min_per_class, rare=spec.rare,
                               merge_maps={spec.label_cols[0]: spec.merge_map or {}, **spec.merge_maps},
                               loss_weights=spec.loss_weights, val_frac=spec.val_frac, test_frac=spec.test_frac,
                               seed=spec.seed, class_weights=spec.class_weights, source=str(spec.source),
                               should_stop=should_stop)
        if stats:
            data.report.corrections = stats
        return data, df
    data = prepare_frame(df, label_col=spec.label_col, title_col=spec.title_col,
                         body_col=spec.body_col, text_col=spec.text_col, routing=spec.routing,
                         min_per_class=spec.min_per_class, rare=spec.rare,
                         merge_map=spec.merge_map or None, val_frac=spec.val_frac,
                         test_frac=spec.test_frac, seed=spec.seed, class_weights=spec.class_weights,
                         source=str(spec.source), should_stop=should_stop)
    if stats:
        data.report.corrections = stats
    return data, df


def data_ready(data: PreparedData) -> DataReady:
    sizes = {"train": len(data.train), "val": len(data.val),
             "test": len(data.test) if data.test is not None else 0}
    from trainer.targets import target_lines

    return DataReady(data.report.lines() + target_lines(data), sizes, list(data.labels))


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


def val_tickets(df, spec: DataSpec, data: PreparedData) -> list[dict]:
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


def active_saw_validation(active, data: PreparedData) -> str:
    """Why the active model has seen some of these validation rows in training, from its
    ``bundle.json`` ("" when nothing says so): it was trained on the same data (fingerprint) and
    either serves a lexical part refitted on training + validation rows, or was split otherwise."""
    meta = getattr(getattr(active, "bundle", None), "meta", None) or {}
    fp = data.fingerprint.get("sha256")
    if not fp or (meta.get("data_fingerprint") or {}).get("sha256") != fp:
        return ""
    h = meta.get("hybrid") or {}
    if h.get("lexical_weight", 0) > 0 and (h.get("lexical") or {}).get("fitted_on") == "train+validation":
        return "it was trained on this data, and its TF-IDF part on these validation tickets too"
    seen = (meta.get("data_report") or {}).get("counts")
    if seen is not None and seen != data.report.counts:
        return ("it was trained on this data split another way, so some of these validation tickets were "
                "among its training tickets")
    return ""


def compare_with_active(active, df, spec: DataSpec, data: PreparedData, should_stop,
                        new_val_logits) -> dict:
    """Run the active classifier on the validation rows and compare it with the trained model
    (its served validation scores ``new_val_logits``).  ``caveat``: why the active model's figures
    are optimistic (:func:`active_saw_validation`), when they are.
    An error of the active model is reported in the result (``{"error": ...}``), not raised."""
    tickets = val_tickets(df, spec, data)
    try:
        probs = active.predict_proba(tickets, should_stop=should_stop)
    except Cancelled:
        raise
    except Exception as e:  # noqa: BLE001 - the new model is fine; the old one failed to run
        return {"error": f"{type(e).__name__}: {e}"}
    act_labels = [str(x) for x in active.labels]
    act_pred = [act_labels[i] for i in np.asarray(probs).argmax(1)]
    labels = list(data.labels)
    new_pred = [labels[i] for i in np.asarray(new_val_logits).argmax(1)]
    y_true = [labels[i] for i in data.val.y]
    comparison = compare_predictions(y_true, new_pred, act_pred, labels, act_labels)
    ver = str(getattr(active, "version", "") or "")
    comparison["active_name"] = getattr(active, "name", "?") + (f" (version {ver})" if ver else "")
    saw = active_saw_validation(active, data)
    if saw:
        comparison["caveat"] = f"The active model's figures here are optimistic: {saw}."
    return comparison


def resolve_auto(cfg: TrainConfig, data: PreparedData, emit) -> tuple[TrainConfig, dict]:
    """The recipe ``auto`` picks for ``data`` (trainer/auto.py), said through ``emit`` before
    training; the user's explicit settings are kept.  Returns ``(config, plan record)``."""
    from trainer.auto import plan as auto_plan

    emit(PhaseEvent("plan", "auto: measuring this device's speed on a sample of the tickets"))
    keep = cfg.explicit()
    p = auto_plan(data, cfg.base_model, cfg.time_budget_s, cfg.device, overrides=keep)
    emit(PhaseEvent("plan", p.describe()))
    return p.config(**keep), p.to_dict()


def familiarity_of(data: PreparedData, served_val_logits):
    """The unfamiliar-ticket signal of the training rows, its limits chosen on the validation rows
    (their served predictions give the accuracy of flagged and other rows)."""
    from trainer.hybrid import split_texts
    from triage_app.familiarity import fit_familiarity

    correct = np.asarray(served_val_logits).argmax(1) == np.asarray(data.val.y)
    return fit_familiarity(split_texts(data.train), split_texts(data.val), correct)


def lexical_only_metrics(res, elapsed_s: float) -> dict:
    """The metrics a lexical-only bundle keeps of a transformer that was trained and lost on
    validation (its PyTorch figures and curves), or just the time."""
    if res is None:
        return {"train_seconds": elapsed_s}
    keep = {k: v for k, v in res.metrics.items() if k in ("history", "train_seconds", "stopped_early")}
    keep["transformer_candidate"] = {k: res.metrics[k] for k in ("val", "test") if k in res.metrics}
    return keep


def error_kind(exc: BaseException) -> str:
    """What kind of failure ``exc`` is, for the hint a front end shows (matched by class)."""
    from trainer.export_lexical import ExportError
    from triage_app.bundle import BundleError
    from triage_app.io import TableError
    from triage_app.joblock import JobBusy

    if isinstance(exc, TableError):
        return "table"
    if isinstance(exc, DataError):
        return "data"
    if isinstance(exc, ConfigError):
        return "config"
    if isinstance(exc, JobBusy):
        return "busy"
    if _is_instance_of(exc, "trainer.model", "ModelLoadError"):
        return "model"
    if isinstance(exc, (ExportError, BundleError)):
        return "export"
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return "memory"
    if "cuda" in str(exc).lower():
        return "device"
    if isinstance(exc, TriageError):
        return "input"
    return "other"


def _is_instance_of(exc, module: str, name: str) -> bool:
    """isinstance against a class of a torch-importing module, only when it is loaded (a class
    that was never imported cannot have been raised)."""
    import sys

    mod = sys.modules.get(module)
    return mod is not None and isinstance(exc, getattr(mod, name))


# ---- the whole run ----------------------------------------------------------------------------
def run(spec: DataSpec, cfg: TrainConfig, out_dir, *, name: str, version: str = "1",
        active=None, corrections=None, on_event: Callable | None = None,
        should_stop: Callable[[], bool] | None = None, export_options: dict | None = None,
        resume: str | None = None, checkpoint_dir=None, card: bool = False,
        lock_owner: str | None = None, transformer_from=None, card_extra: str = "",
        finish_early: Callable[[], bool] | None = None) -> TrainOutcome:
    """Prepare ``spec``, train ``cfg``, compare with ``active`` (a classifier, optional) and export
    the bundle to ``out_dir``.  Raises ``Cancelled`` when stopped (nothing is written),
    :class:`triage_app.joblock.JobBusy` when another training runs on this machine, and the
    step's own error otherwise.  ``export_options`` go to :func:`trainer.export.export_result`.

    ``transformer_from`` (a bundle folder): reuse that bundle's exported transformer as it is
    served instead of training one; only the lexical model is fitted and the blend chosen (the
    data must have the bundle's labels; its routing and cleaning are used).

    ``finish_early()``: polled while the transformer trains; when true, training ends with the best
    epoch so far and the run goes on (lexical model, comparison, export) as usual."""
    from trainer import distributed
    from triage_app.joblock import JobLock

    ddp = distributed.init(cfg.device)  # one process unless started by torchrun (docs/SCALING.md)
    emit = on_event or (lambda ev: None)
    stop = should_stop or (lambda: False)
    spec = spec.with_config(cfg)
    base = None
    if transformer_from is not None:
        from triage_app.bundle import load_bundle

        base = load_bundle(transformer_from)
        if base.cleaning_options != textmod.DEFAULT_OPTIONS:
            raise ConfigError(f"{base.path}: trained with other cleaning options than this app's defaults; "
                              "its transformer cannot be reused")
        if resume or checkpoint_dir or not cfg.hybrid:
            raise ConfigError("reusing a bundle's transformer fits only the lexical model: --resume, "
                              "--checkpoint-dir and --no-lexical (or the seed preset) do not apply")
        spec = replace(spec, routing=base.routing, seed=int(base.meta["train_config"].get("seed", spec.seed)))
        if ddp.active:
            raise ConfigError("reusing a bundle's transformer trains no transformer: run it without torchrun")
    if base is not None and base.targets:
        raise ConfigError(f"{base.path}: a model with several targets; its transformer cannot be reused for one")
    if spec.multi and (base is not None or cfg.preset == "lexical"):
        raise ConfigError("several label columns train one transformer with a head per target: --preset lexical "
                          "and --transformer-from do not apply")
    # one lock per machine: its first process of a torchrun job holds it for the job's processes there
    lock = JobLock("train").acquire(lock_owner) if ddp.is_local_main else None
    try:
        t0 = time.perf_counter()
        emit(PhaseEvent("data", f"preparing the data ({Path(str(spec.source)).name})"))
        data, df = prepare(spec, corrections, stop)
        ready = data_ready(data)
        emit(ready)
        _check(stop)
        _same_data_on_all_ranks(ddp, data)
        plan = None
        if cfg.preset == "auto" and base is None:  # rank 0 times the device and decides for all
            cfg, plan = ddp.broadcast(resolve_auto(cfg, data, emit) if ddp.is_main else None)
            if data.targets and cfg.preset == "lexical":   # the targets share a transformer
                cfg = TrainConfig.quick(**cfg.explicit())
                emit(PhaseEvent("plan", "several targets share one transformer: the quick recipe instead"))
            export_options = {**(export_options or {}),
                              "meta_extra": {**((export_options or {}).get("meta_extra") or {}), "auto": plan}}
            _check(stop)
        if base is not None:
            return _hybrid_of_bundle(base, data, df, spec, out_dir, name, version, emit, stop, card,
                                     card_extra, ready, t0, cfg, (export_options or {}).get("meta_extra"),
                                     active)
        res = None
        if cfg.preset != "lexical":
            from trainer.loop import train

            res = train(cfg, data, on_event=emit, should_stop=stop, resume=resume,
                        checkpoint_dir=checkpoint_dir, finish_early=finish_early)
            if res.cancelled:
                raise Cancelled("training cancelled")
            _check(stop)
        if not ddp.is_main:  # rank 0 alone fits the lexical model, compares and exports
            return ddp.broadcast(None)
        if data.targets:
            from trainer.multitarget import finish

            return ddp.broadcast(finish(res, data, df, spec, cfg, out_dir, name=name, version=version, active=active,
                                        emit=emit, stop=stop, export_options=export_options, card=card,
                                        card_extra=card_extra, ready_lines=ready.lines, t0=t0, plan=plan,
                                        outcome_cls=TrainOutcome))
        hybrid = None
        if cfg.hybrid or res is None:
            from trainer.hybrid import fit_hybrid, fit_lexical_only

            emit(PhaseEvent("lexical", "fitting the lexical model (TF-IDF + logistic regression)"
                            + (" and choosing the blend on validation" if res is not None else "")))
            hybrid = fit_hybrid(res, data, stop) if res is not None else fit_lexical_only(data, stop)
            emit(PhaseEvent("lexical", hybrid.summary()))
            _check(stop)
        served_val = hybrid.val_logits if hybrid is not None else res.val_logits
        familiarity = familiarity_of(data, served_val)
        comparison = None
        if active is not None:
            emit(PhaseEvent("compare", f"running the active model ({getattr(active, 'name', '?')}) "
                            f"on {len(data.val)} validation rows"))
            comparison = compare_with_active(active, df, spec, data, stop, served_val)
            _check(stop)
        options = dict(export_options or {})
        progress = lambda s: emit(PhaseEvent("export", s))  # noqa: E731
        if hybrid is not None and hybrid.weight == 1.0:
            from trainer.export_lexical import export_lexical_bundle

            emit(PhaseEvent("export", "exporting the lexical model alone (it won on validation)"
                            if res is not None else "exporting the lexical model"))
            metrics = lexical_only_metrics(res, time.perf_counter() - t0)
            bundle, export = export_lexical_bundle(
                hybrid, data, cfg, out_dir, name=name, version=version, should_stop=stop,
                on_progress=progress, familiarity=familiarity, metrics=metrics,
                meta_extra=options.get("meta_extra"), review_threshold=options.get("review_threshold", 0.5))
        else:
            from trainer.export import export_result

            emit(PhaseEvent("export", "exporting the model (ONNX, parity and int8 checks)"))
            bundle, rep = export_result(res, out_dir, name=name, version=version, should_stop=stop,
                                        on_progress=progress, hybrid=hybrid, familiarity=familiarity,
                                        **options)
            export = rep.to_dict()
        if card:
            from trainer.card import write_model_card

            write_model_card(bundle.path, card_extra)
        return ddp.broadcast(TrainOutcome(str(bundle.path), name, version, list(data.labels), bundle.meta["metrics"],
                                          export, comparison, ready.lines, time.perf_counter() - t0, cfg.to_dict(),
                                          plan))
    finally:
        if lock is not None:
            lock.release()


def _same_data_on_all_ranks(ddp, data: PreparedData) -> None:
    """Every process of a torchrun job prepares the data itself (the split is seeded): check that
    they all read the same rows (another copy of the file on another machine would not)."""
    if not ddp.active:
        return
    mine = data.fingerprint.get("sha256")
    theirs = ddp.broadcast(mine)
    if mine != theirs:
        raise DataError(f"{data.report.source}: this process ({ddp.describe()}) read other rows than rank 0 "
                        "(data fingerprint differs); give every machine the same file")


def _hybrid_of_bundle(base, data, df, spec, out_dir, name, version, emit, stop, card, card_extra, ready,
                      t0, cfg, meta_extra, active):
    """The ``transformer_from`` branch of :func:`run`: score the bundle's transformer as served,
    fit the lexical model, choose the blend, write the new bundle."""
    from trainer.export import export_hybrid_of_bundle
    from trainer.hybrid import fit_hybrid, served_transformer

    if list(data.labels) != list(base.labels):
        raise DataError(f"{data.report.source}: the labels of the data ({', '.join(data.labels)}) are not the "
                        f"labels of {base.path.name} ({', '.join(base.labels)}); the transformer cannot be reused")
    # The validation and test rows must be the ones the transformer never trained on: its own split.
    seen = base.meta.get("data_report", {}).get("counts")
    if data.fingerprint.get("sha256") != base.meta.get("data_fingerprint", {}).get("sha256") or \
            (seen is not None and seen != data.report.counts):
        raise DataError(f"{data.report.source}: not the data (or not the split) {base.name} v{base.version} "
                        "was trained on, so its validation and test rows could include its training rows; "
                        "reuse a transformer only with the file, columns and held-out shares it was trained with")

    emit(PhaseEvent("prepare", f"scoring the transformer of {base.name} v{base.version} as served "
                    f"({len(data.val)} validation, {len(data.test) if data.test is not None else 0} test rows)"))
    served = served_transformer(base, data, stop)
    _check(stop)
    emit(PhaseEvent("lexical", "fitting the lexical model (TF-IDF + logistic regression) and "
                    "choosing the blend on validation"))
    hybrid = fit_hybrid(served, data, stop)
    emit(PhaseEvent("lexical", hybrid.summary()))
    _check(stop)
    comparison = None
    if active is not None:
        emit(PhaseEvent("compare", f"running the active model ({getattr(active, 'name', '?')}) "
                        f"on {len(data.val)} validation rows"))
        comparison = compare_with_active(active, df, spec, data, stop, hybrid.val_logits)
        _check(stop)
    emit(PhaseEvent("export", "writing the hybrid bundle"))
    bundle, rep = export_hybrid_of_bundle(base, served, hybrid, data, out_dir, name=name, version=version,
                                          should_stop=stop, on_progress=lambda s: emit(PhaseEvent("export", s)),
                                          meta_extra=meta_extra,
                                          familiarity=familiarity_of(data, hybrid.val_logits))
    if card:
        from trainer.card import write_model_card

        write_model_card(bundle.path, card_extra)
    return TrainOutcome(str(bundle.path), name, version, list(bundle.labels), bundle.meta["metrics"],
                        rep.to_dict(), comparison, ready.lines, time.perf_counter() - t0, cfg.to_dict())


def _check(stop) -> None:
    if stop():
        raise Cancelled()
