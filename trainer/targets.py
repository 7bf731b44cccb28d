"""Several targets per ticket, the training side: one dual-BERT (shared towers) with one linear
head per target, trained on the sum of the targets' losses.

:func:`prepare_targets` prepares a table with several label columns: the texts once, then per
target its labels (merge map, rare labels dropped or merged into "Other", each with its own
threshold), class weights and report; one split for all targets (stratified by the first target).
A row whose label is empty (or rare and dropped) for a target has ``-1`` there: it is masked for
that target only.  The result is a :class:`trainer.data.PreparedData` whose splits hold a label
matrix ``y`` (rows x targets) and whose ``targets`` lists the :class:`Target` records; its
``labels`` and ``class_weights`` are the first (primary) target's.

The model's head is one ``Linear`` whose outputs are the targets' logits side by side
(:func:`segments`); :class:`TargetLoss`, :class:`TargetEpochs`, :func:`val_scores` and
:func:`final_metrics` are the training loop's hooks, and :func:`target_view` gives one target's rows as single-target data for
the steps that run per target (lexical model, blend, export figures).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from trainer.config import default_min_per_class
from trainer.data import DataError, DataReport, PreparedData, Split, _stratified_take
from triage_app import text as textmod
from triage_app.errors import Cancelled
from triage_app.targets import MAX_TARGETS

MISSING = -1


@dataclass
class Target:
    """One target of a multi-target training: its label column, labels in output order, class
    weights of its training rows, loss weight and what preparation did to its labels."""
    name: str
    labels: list[str]
    class_weights: np.ndarray | None
    loss_weight: float = 1.0
    report: dict = field(default_factory=dict)


def segments(targets: list[Target]) -> list[slice]:
    """Where each target's logits sit in the head's output."""
    out, start = [], 0
    for t in targets:
        out.append(slice(start, start + len(t.labels)))
        start += len(t.labels)
    return out


def _labels_of(df, col: str, merge_map: dict | None) -> list[str]:
    raw = ["" if (v is None or (isinstance(v, float) and v != v)) else str(v).strip() for v in df[col].tolist()]
    return [merge_map.get(v, v) for v in raw] if merge_map else raw


def _rare(values: list[str], min_per_class: int | None, rare: str, source: str, col: str) -> tuple[list[str], dict]:
    """Rare labels of one target dropped (-> "") or merged into "Other"; returns (labels, report)."""
    counts = pd.Series([v for v in values if v]).value_counts()
    labeled = int(counts.sum())
    mpc = default_min_per_class(labeled) if min_per_class is None else int(min_per_class)
    rare_labels = sorted(counts[counts < mpc].index.tolist(), key=lambda k: -counts[k])
    rep = {"column": col, "labeled_rows": labeled, "missing_rows": len(values) - labeled, "min_per_class": mpc,
           "rare_counts": {k: int(counts[k]) for k in rare_labels}, "rare": rare}
    if rare_labels:
        s = set(rare_labels)
        values = [("" if rare == "drop" else "Other") if v in s else v for v in values]
    labels = sorted({v for v in values if v})
    if len(labels) < 2:
        raise DataError(f"{source}: target {col!r} needs at least 2 classes with >= {mpc} examples each; "
                        f"found {len(labels)} ({', '.join(labels) or 'none'})")
    rep["labels"] = labels
    return values, rep


def _top_up(sp: np.ndarray, Y: np.ndarray, name: str, frac: float, rng) -> None:
    """Move training rows into split ``name`` until every label of every target has about ``frac``
    of its rows there (at least one when it has two): a split stratified by the first target alone
    can leave a rare label of another target out of validation, and its blend and calibration would
    be chosen blind to it."""
    for k in range(Y.shape[1]):
        for lab in np.unique(Y[:, k][Y[:, k] >= 0]):
            pool = np.flatnonzero((Y[:, k] == lab) & ((sp == "train") | (sp == name)))
            if len(pool) < 2:
                continue
            want = min(max(int(round(len(pool) * frac)), 1), len(pool) - 1)
            train = pool[sp[pool] == "train"]
            need = want - (len(pool) - len(train))
            if need > 0:
                sp[rng.choice(train, size=min(need, len(train) - 1), replace=False)] = name


def _split(Y: np.ndarray, splits, val_frac: float, test_frac: float, rng, source: str) -> np.ndarray:
    """train/val/test per row: a 'split' column, else stratified by the first target (rows without
    its label form one more stratum); then topped up so that every target's labels are in each
    held-out split (:func:`_top_up`)."""
    first = Y[:, 0]
    strata = np.where(first >= 0, first, first.max(initial=0) + 1)
    if splits is not None:
        sp = np.array(splits, dtype=object)
        if not (sp == "train").any():
            raise DataError(f"{source}: split column has no 'train' rows")
        if not (sp == "val").any():
            tr = np.flatnonzero(sp == "train")
            sp[tr[_stratified_take(strata[tr], val_frac / (1 - test_frac), rng)]] = "val"
            _top_up(sp, Y, "val", val_frac / (1 - test_frac), rng)
        return sp
    sp = np.array(["train"] * len(first), dtype=object)
    if test_frac > 0:
        sp[_stratified_take(strata, test_frac, rng)] = "test"
        _top_up(sp, Y, "test", test_frac, rng)
    rest = np.flatnonzero(sp == "train")
    sp[rest[_stratified_take(strata[rest], val_frac / max(1e-9, 1 - test_frac), rng)]] = "val"
    _top_up(sp, Y, "val", val_frac / max(1e-9, 1 - test_frac), rng)
    return sp


def prepare_targets(df: pd.DataFrame, *, label_cols: list[str], title_col: str | None = None,
                    body_col: str | None = None, text_col: str | None = None, routing: str = "same",
                    min_per_class: int | None = None, rare: str = "drop", merge_maps: dict | None = None,
                    loss_weights: dict | None = None, split_col: str | None = "split",
                    val_frac: float = 0.1, test_frac: float = 0.1, seed: int = 42, class_weights: bool = True,
                    source: str = "data", should_stop=None) -> PreparedData:
    """Prepare a table with several label columns (see the module doc).  ``merge_maps`` and
    ``loss_weights`` are keyed by label column (missing: no merging, weight 1)."""
    cols = list(df.columns)
    if not 2 <= len(label_cols) <= MAX_TARGETS or len(set(label_cols)) != len(label_cols):
        raise DataError(f"{source}: give 2 to {MAX_TARGETS} distinct label columns (got {', '.join(label_cols)})")
    for c in list(label_cols) + [title_col, body_col, text_col]:
        if c is not None and c not in cols:
            raise DataError(f"{source}: column {c!r} not found; columns are: {', '.join(map(str, cols))}")
    if not (text_col or title_col or body_col):
        raise DataError(f"{source}: choose a text column, or title and/or body columns")
    report = DataReport(source=source, rows_read=len(df))

    def col(c):
        return df[c].tolist() if c is not None else [None] * len(df)

    a, b = [], []
    for i, (t, bo, x) in enumerate(zip(col(title_col), col(body_col), col(text_col))):
        if should_stop is not None and i % 2000 == 0 and should_stop():
            raise Cancelled()
        ta, tb = textmod.compose(t, bo, x, routing)
        a.append(ta)
        b.append(tb)
    frame = pd.DataFrame({"a": a, "b": b})
    for k, c in enumerate(label_cols):
        frame[f"y{k}"] = _labels_of(df, c, (merge_maps or {}).get(c))
    if split_col and split_col in cols:
        sp = [str(s).strip().lower() for s in df[split_col].tolist()]
        bad = sorted(set(sp) - {"train", "val", "test", "valid", "validation", "dev"})
        if bad:
            raise DataError(f"{source}: column {split_col!r} has values {bad[:5]}; expected train/val/test")
        frame["split"] = ["val" if s in ("valid", "validation", "dev") else s for s in sp]
        report.split_source = f"column {split_col!r}"
    ycols = [f"y{k}" for k in range(len(label_cols))]
    empty = ((frame["a"] == "") & (frame["b"] == "")) | (frame[ycols] == "").all(axis=1)
    report.dropped_empty = int(empty.sum())
    frame = frame[~empty]
    dup = frame.duplicated(subset=["a", "b"], keep="first")
    report.dropped_duplicate = int(dup.sum())
    frame = frame[~dup].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{source}: no usable rows (every text or label is empty)")
    targets, Y = [], np.full((len(frame), len(label_cols)), MISSING, dtype=np.int64)
    for k, c in enumerate(label_cols):
        values, rep = _rare(frame[f"y{k}"].tolist(), min_per_class, rare, source, c)
        index = {lab: i for i, lab in enumerate(rep["labels"])}
        Y[:, k] = [index.get(v, MISSING) for v in values]
        w = float((loss_weights or {}).get(c, 1.0))
        targets.append(Target(c, rep.pop("labels"), None, w, rep))
    keep = (Y >= 0).any(axis=1)             # rows left with no label at all (rare ones dropped)
    frame, Y = frame[keep].reset_index(drop=True), Y[keep]
    rng = np.random.default_rng(seed)
    sp = _split(Y, frame["split"].tolist() if "split" in frame else None, val_frac, test_frac, rng, source)
    return _assemble(frame, Y, sp, targets, label_cols, report, routing, class_weights, source,
                     dict(title=title_col, body=body_col, text=text_col))


def _assemble(frame, Y, sp, targets, label_cols, report, routing, class_weights, source, fields) -> PreparedData:
    A, B = frame["a"].to_numpy(object), frame["b"].to_numpy(object)

    def mk(name):
        m = sp == name
        return Split(A[m].tolist(), B[m].tolist(), Y[m]) if m.any() else None

    train, val, test = mk("train"), mk("val"), mk("test")
    if val is None:
        raise DataError(f"{source}: not enough rows to hold out a validation set")
    counts = {}
    for t, k in zip(targets, range(len(targets))):
        per = {n: {t.labels[i]: int(v) for i, v in zip(*np.unique(s.y[:, k][s.y[:, k] >= 0], return_counts=True))}
               for n, s in (("train", train), ("val", val), ("test", test)) if s is not None}
        missing = [lab for lab in t.labels if lab not in per["train"]]
        if missing:
            raise DataError(f"{source}: target {t.name!r} has labels with no training rows: {', '.join(missing)}")
        if not per["val"]:
            raise DataError(f"{source}: target {t.name!r} has no labeled validation rows")
        t.report["counts"] = per
        counts[t.name] = per
        if class_weights:
            cnt = np.bincount(train.y[:, k][train.y[:, k] >= 0], minlength=len(t.labels)).astype(np.float64)
            t.class_weights = cnt.sum() / (len(t.labels) * np.maximum(cnt, 1))
    report.counts = {n: {lab: c for lab, c in v.items()} for n, v in counts[targets[0].name].items()}
    report.rare_labels = list(targets[0].report["rare_counts"])
    report.rare_counts = dict(targets[0].report["rare_counts"])
    report.min_per_class = targets[0].report["min_per_class"]
    h = hashlib.sha256()
    for x1, x2, yy in zip(A, B, Y):
        h.update(f"{x1}\x1f{x2}\x1f{','.join(map(str, yy))}\x1e".encode("utf-8", "surrogatepass"))
    fp = {"rows": int(len(frame)), "label_counts": {t.name: {lab: int((Y[:, k] == i).sum()) for i, lab in
                                                             enumerate(t.labels)} for k, t in enumerate(targets)},
          "sha256": h.hexdigest(), "source": os.path.basename(source)}
    columns = {"label": label_cols[0], **fields, "labels": list(label_cols)}
    return PreparedData(list(targets[0].labels), routing, train, val, test, targets[0].class_weights, report,
                        fp, columns, None, targets)


def target_lines(data: PreparedData) -> list[str]:
    """What preparation did to each target's labels, for people (after the data report's lines)."""
    out = []
    for t in data.targets or []:
        r = t.report
        line = f"target {t.name}: {len(t.labels)} labels, {r['labeled_rows']} labeled rows"
        if r["missing_rows"]:
            line += f", {r['missing_rows']} without a label (masked for this target)"
        if r["rare_counts"]:
            what = "left out" if r["rare"] == "drop" else "merged into 'Other'"
            line += f"; rare (< {r['min_per_class']}) {what}: " + ", ".join(f"{k} ({v})" for k, v in r["rare_counts"].items())
        out.append(line + f"; loss weight {t.loss_weight:g}")
    return out


def target_view(data: PreparedData, k: int) -> PreparedData:
    """Target ``k`` of multi-target data as single-target data: the rows labeled for it, ``y`` its
    label indices, its labels and class weights."""
    t = data.targets[k]

    def sub(s: Split | None) -> Split | None:
        if s is None:
            return None
        m = s.y[:, k] >= 0
        return Split([x for x, keep in zip(s.text_a, m) if keep], [x for x, keep in zip(s.text_b, m) if keep],
                     s.y[m, k])

    report = replace(data.report, counts=t.report.get("counts", {}), rare_counts=dict(t.report["rare_counts"]),
                     rare_labels=list(t.report["rare_counts"]), min_per_class=t.report["min_per_class"])
    return replace(data, labels=list(t.labels), train=sub(data.train), val=sub(data.val), test=sub(data.test),
                   class_weights=t.class_weights, report=report, targets=None,
                   columns={**data.columns, "label": t.name})


# ---- the training loop's hooks ---------------------------------------------------------------------
class TargetLoss:
    """The loss of several targets: the sum over targets of ``loss_weight * cross-entropy`` of the
    target's logits, over the rows labeled for it (``-1`` elsewhere is ignored; a batch without
    any label of a target adds nothing for it).  ``weighted``: with each target's class weights.

    After each call :attr:`last` holds the batch's loss of each target (unweighted) followed by a
    flag per target (1: the batch had labels of it), detached; :meth:`parts` turns them (averaged
    over the processes of a job) into ``{target: loss}``."""

    def __init__(self, targets: list[Target], device, weighted: bool):
        import torch
        from torch import nn

        self.names = [t.name for t in targets]
        self.terms = [(seg, k, float(t.loss_weight),
                        nn.CrossEntropyLoss(weight=torch.tensor(t.class_weights, dtype=torch.float32, device=device)
                                            if weighted and t.class_weights is not None else None,
                                            ignore_index=MISSING))
                       for k, (t, seg) in enumerate(zip(targets, segments(targets)))]
        self.last = None

    def __call__(self, logits, y):
        total = logits.new_zeros(())
        vals, flags = [], []
        for seg, k, w, fn in self.terms:
            yk = y[:, k]
            if bool((yk >= 0).any()):
                part = fn(logits[:, seg], yk)
                total = total + w * part
                vals.append(part.detach())
                flags.append(1.0)
            else:
                vals.append(logits.new_zeros(()).detach())
                flags.append(0.0)
        self._remember(vals, flags, logits)
        return total

    def sharded(self, logits, y, part, world: int):
        """This process's share of the loss of one global batch of a data-parallel job
        (:class:`trainer.distributed.Part` with the global batch's labels ``part.y``): per target,
        the summed (class-weighted) cross-entropy of the local labeled rows over the global batch's
        denominator of that target, times ``world``, so that averaging the gradients over the
        processes gives the gradient of :meth:`__call__` on the whole global batch."""
        import torch.nn.functional as F

        total = logits.new_zeros(())
        vals, flags = [], []
        for seg, k, w, fn in self.terms:
            gy = part.y[:, k]
            gy = gy[gy >= 0]
            if fn.weight is None:
                denom = float(len(gy))
            else:
                denom = float(fn.weight.detach().cpu().numpy()[gy].sum()) if len(gy) else 0.0
            if denom <= 0:
                vals.append(logits.new_zeros(()).detach())
                flags.append(0.0)
                continue
            s = F.cross_entropy(logits[:, seg], y[:, k], weight=fn.weight, ignore_index=MISSING, reduction="sum")
            if part.empty:
                s = s * 0.0
            share = s * (world / denom)
            total = total + w * share
            vals.append(share.detach())
            flags.append(1.0)
        self._remember(vals, flags, logits)
        return total

    def _remember(self, vals, flags, logits) -> None:
        import torch

        self.last = torch.cat([torch.stack([v.float() for v in vals]),
                               torch.tensor(flags, dtype=torch.float32, device=logits.device)])

    def parts(self, values: list[float]) -> dict:
        """``{target: loss}`` from :attr:`last` read back as floats (averaged over the processes):
        a target whose labels were in no process's share of the batch is left out."""
        n = len(self.names)
        return {name: values[k] / values[n + k] for k, name in enumerate(self.names) if values[n + k] > 0}


class TargetEpochs:
    """The training loop's bookkeeping of several targets: each target's loss over the steps of an
    epoch, its validation figures at the epoch's end, and in phase 1 each target's own best epoch."""

    def __init__(self, targets: list[Target]):
        self.targets = targets
        self.step_losses: dict[str, list[float]] = {}

    def add_step(self, parts: dict) -> None:
        """One optimizer step's ``{target: loss}`` (:meth:`TargetLoss.parts`)."""
        for k, v in parts.items():
            self.step_losses.setdefault(k, []).append(v)

    def end_epoch(self, vlogits: np.ndarray, vy: np.ndarray) -> dict:
        """``{target: {"train_loss", "val_loss", "val_accuracy", "val_macro_f1"}}`` of the epoch that
        ends (the training loss averaged over its steps; NaN for a target without any)."""
        out = {}
        for r in val_by_target(self.targets, vlogits, vy):
            name = r.pop("name")
            steps = self.step_losses.get(name, [])
            out[name] = {"train_loss": float(np.mean(steps)) if steps else float("nan"), **r}
        self.step_losses = {}
        return out

    def keep_bests(self, state: dict, per_target: dict, epoch: int, best_state, snapshot, classifier):
        """Phase 1: the towers are frozen, so each target's rows of the head (``classifier``, one
        ``Linear``) learn on their own, and each target keeps the rows of its own best epoch (as a
        model of that target alone would); the phase goes on while any target improves.  Updates
        ``state`` (``target_best``: target -> [macro-F1, epoch]; ``best_f1``, ``best_epoch``) and
        ``best_state`` (a state dict, made with ``snapshot()`` when None).  Returns
        ``(improved, best_state)``."""
        bests = state.setdefault("target_best", {})
        up = False
        for t, seg in zip(self.targets, segments(self.targets)):
            f1 = per_target[t.name]["val_macro_f1"]
            if not np.isfinite(f1) or (t.name in bests and not f1 > bests[t.name][0] + 1e-6):
                continue          # (a target without validation rows keeps the first epoch's rows)
            if best_state is None:
                best_state = snapshot()
            for key, p in (("classifier.weight", classifier.weight), ("classifier.bias", classifier.bias)):
                best_state[key][seg] = p.detach().cpu()[seg]
            bests[t.name], up = [f1, epoch], True
        if best_state is None:
            best_state = snapshot()
        if bests:
            state["best_f1"] = float(np.mean([b[0] for b in bests.values()]))   # the kept rows' mean, as scored
            state["best_epoch"] = max(b[1] for b in bests.values())
        return up, best_state

    @staticmethod
    def kept(state: dict) -> str:
        """What phase 1 kept, for the early-stopping note."""
        return "each target's best epoch (" + ", ".join(f"{n} {e} ({f:.3f})" for n, (f, e)
                                                        in state["target_best"].items()) + ")"


def val_by_target(targets: list[Target], logits: np.ndarray, y: np.ndarray) -> list[dict]:
    """Per target, on validation: ``{"name", "val_loss", "val_accuracy", "val_macro_f1"}``."""
    from trainer.evaluate import macro_f1, softmax

    out = []
    for k, (t, seg) in enumerate(zip(targets, segments(targets))):
        m = y[:, k] >= 0
        z, yk = logits[m][:, seg], y[m, k]
        if not len(yk):
            out.append({"name": t.name, "val_loss": float("nan"), "val_accuracy": float("nan"),
                        "val_macro_f1": float("nan")})
            continue
        p = softmax(z)
        pred = z.argmax(1)
        out.append({"name": t.name,
                    "val_loss": float(-np.mean(np.log(np.clip(p[np.arange(len(yk)), yk], 1e-12, None)))),
                    "val_accuracy": float((pred == yk).mean()),
                    "val_macro_f1": macro_f1(yk, pred, len(t.labels))})
    return out


def val_scores(targets: list[Target], logits: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """``(loss, accuracy, macro-F1)`` on validation: the unweighted sum of the targets' losses and
    the mean of their accuracies and macro-F1s (early stopping follows that mean)."""
    per = val_by_target(targets, logits, y)
    return (float(sum(r["val_loss"] for r in per)), float(np.mean([r["val_accuracy"] for r in per])),
            float(np.mean([r["val_macro_f1"] for r in per])))


def final_metrics(targets: list[Target], vlogits: np.ndarray, vy: np.ndarray,
                  tlogits: np.ndarray | None, ty: np.ndarray | None) -> tuple[dict, list[dict]]:
    """Per target: temperature fitted on its validation rows, calibration error, validation and
    test reports.  Returns ``(the primary target's figures, every target's)``."""
    from trainer.evaluate import classification_report, ece, fit_temperature

    per = []
    for k, (t, seg) in enumerate(zip(targets, segments(targets))):
        m = vy[:, k] >= 0
        z, yk = vlogits[m][:, seg], vy[m, k]
        temp = fit_temperature(z, yk)
        rec = {"name": t.name, "temperature": temp, "ece_before": ece(z, yk, 1.0), "ece_after": ece(z, yk, temp),
               "val": classification_report(yk, z.argmax(1), t.labels)}
        if tlogits is not None:
            mt = ty[:, k] >= 0
            zt, ytk = tlogits[mt][:, seg], ty[mt, k]
            if len(ytk):
                rec["test"] = classification_report(ytk, zt.argmax(1), t.labels)
                rec["test"]["ece"] = ece(zt, ytk, temp)
        per.append(rec)
    return {k: v for k, v in per[0].items() if k != "name"}, per
