"""Data preparation of a labeled table (:func:`prepare_frame`; :func:`trainer.pipeline.prepare`
reads the file and merges corrections first): choose columns, clean with the shared function, drop
empties/duplicates/rare labels, merge labels, split, class weights, and a report."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trainer.config import DEFAULT_MIN_PER_CLASS, MIN_PER_CLASS_FLOOR, default_min_per_class
from triage_app import language as langmod
from triage_app import text as textmod
from triage_app.errors import Cancelled, TriageError


class DataError(TriageError, ValueError):
    """The data cannot be used for training; the message says why."""


@dataclass
class Split:
    text_a: list[str]
    text_b: list[str]
    y: np.ndarray
    lang: list[str] | None = None      # each row's language (triage_app.language), when known

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class DataReport:
    source: str
    rows_read: int
    dropped_empty: int = 0
    dropped_duplicate: int = 0
    dropped_rare: int = 0
    merged_rare: int = 0
    rare_labels: list[str] = field(default_factory=list)
    rare_counts: dict = field(default_factory=dict)   # rare label -> tickets
    min_per_class: int = 0                            # the rare-label threshold used
    min_per_class_scaled: bool = False                # chosen from the data size (not set by the user)
    label_case_variants: dict = field(default_factory=dict)
    split_source: str = "stratified"
    counts: dict = field(default_factory=dict)       # split -> {label: n}
    corrections: dict = field(default_factory=dict)  # stats of merged corrections
    languages: dict = field(default_factory=dict)    # language -> training rows
    language_source: str = ""                        # "column 'language'" or the identifier's name

    def lines(self) -> list[str]:
        out = [f"{self.source}: {self.rows_read} rows read"]
        if self.dropped_empty:
            out.append(f"dropped {self.dropped_empty} rows with empty text or label")
        if self.dropped_duplicate:
            out.append(f"dropped {self.dropped_duplicate} exact duplicates")
        if self.dropped_rare or self.merged_rare:
            why = (f"fewer than {self.min_per_class} tickets each (the rare-label threshold"
                   + (f": 1 % of the labeled rows, at least {MIN_PER_CLASS_FLOOR}, at most {DEFAULT_MIN_PER_CLASS}"
                      if self.min_per_class_scaled else "") + ")")
            which = ", ".join(f"{k} ({v})" for k, v in self.rare_counts.items()) or ", ".join(self.rare_labels)
            n = len(self.rare_labels)
            if self.dropped_rare:
                out.append(f"left out {self.dropped_rare} rows of {n} label{'s' * (n != 1)} with {why}: {which}")
            else:
                out.append(f"merged {self.merged_rare} rows of {n} label{'s' * (n != 1)} with {why} into "
                           f"'Other': {which}")
        for k, v in self.label_case_variants.items():
            out.append(f"label spelled differently: {' / '.join(v)} (kept apart; merge them with a merge map)")
        if self.corrections:
            out.append("corrections: " + ", ".join(f"{k} {v}" for k, v in self.corrections.items()))
        if self.languages:
            out.append(f"languages of the training rows ({self.language_source}): "
                       + ", ".join(f"{k} {v}" for k, v in self.languages.items()))
        out.append(f"split: {self.split_source}; " + "; ".join(
            f"{s} {sum(c.values())}" for s, c in self.counts.items()))
        return out

    def to_dict(self) -> dict:
        from dataclasses import asdict
        return asdict(self)


@dataclass
class PreparedData:
    labels: list[str]
    routing: str
    train: Split
    val: Split
    test: Split | None
    class_weights: np.ndarray | None
    report: DataReport
    fingerprint: dict
    columns: dict
    cleaning_options: dict | None = None   # what textmod.clean_text was given (None: defaults)
    targets: list | None = None            # several targets: trainer.targets.Target records (y is rows x targets)


def prepare_frame(df: pd.DataFrame, *, label_col: str, title_col: str | None = None,
                  body_col: str | None = None, text_col: str | None = None,
                  routing: str = "same", min_per_class: int | None = None, rare: str = "drop",
                  merge_map: dict | None = None, split_col: str | None = "split",
                  val_frac: float = 0.1, test_frac: float = 0.1, seed: int = 42,
                  class_weights: bool = True, cleaning_options: dict | None = None,
                  source: str = "data", should_stop=None, language_col: str | None = None) -> PreparedData:
    """Prepare a DataFrame (see module doc).  ``rare``: ``"drop"`` or ``"other"``;
    ``min_per_class`` None: :func:`trainer.config.default_min_per_class` of the labeled rows.
    ``language_col``: the column of each row's language (None: a column named like one, see
    :func:`triage_app.language.find_language_column`; without one, languages are identified)."""
    cols = list(df.columns)
    if label_col not in cols:
        raise DataError(f"{source}: label column {label_col!r} not found; columns are: {', '.join(map(str, cols))}")
    for c in (title_col, body_col, text_col):
        if c is not None and c not in cols:
            raise DataError(f"{source}: column {c!r} not found; columns are: {', '.join(map(str, cols))}")
    if not (text_col or title_col or body_col):
        raise DataError(f"{source}: choose a text column, or title and/or body columns")
    if rare not in ("drop", "other"):
        raise DataError("rare must be 'drop' or 'other'")
    report = DataReport(source=source, rows_read=len(df))

    def col(c):
        if c is None:
            return [None] * len(df)
        return df[c].tolist()

    titles, bodies, texts = col(title_col), col(body_col), col(text_col)
    a, b = [], []
    for i, (t, bo, x) in enumerate(zip(titles, bodies, texts)):
        if should_stop is not None and i % 2000 == 0 and should_stop():
            raise Cancelled()
        ta, tb = textmod.compose(t, bo, x, routing, cleaning_options)
        a.append(ta)
        b.append(tb)
    labels_raw = ["" if (v is None or (isinstance(v, float) and v != v)) else str(v).strip()
                  for v in df[label_col].tolist()]
    if merge_map:
        labels_raw = [merge_map.get(v, v) for v in labels_raw]
    splits = None
    if split_col and split_col in cols:
        splits = [str(s).strip().lower() for s in df[split_col].tolist()]
        bad = sorted({s for s in splits} - {"train", "val", "test", "valid", "validation", "dev"})
        if bad:
            raise DataError(f"{source}: column {split_col!r} has values {bad[:5]}; expected train/val/test")
        splits = ["val" if s in ("valid", "validation", "dev") else s for s in splits]
        report.split_source = f"column {split_col!r}"
    frame = pd.DataFrame({"a": a, "b": b, "y": labels_raw})
    if splits is not None:
        frame["split"] = splits
    empty = (frame["y"] == "") | ((frame["a"] == "") & (frame["b"] == ""))
    report.dropped_empty = int(empty.sum())
    frame = frame[~empty]
    dup = frame.duplicated(subset=["a", "b"], keep="first")
    report.dropped_duplicate = int(dup.sum())
    frame = frame[~dup]
    if frame.empty:
        raise DataError(f"{source}: no usable rows (every text or label is empty)")
    # labels that differ only by case/whitespace are reported, not merged
    groups: dict = {}
    for lab in frame["y"].unique():
        groups.setdefault(" ".join(lab.lower().split()), []).append(lab)
    report.label_case_variants = {k: sorted(v) for k, v in groups.items() if len(v) > 1}
    counts = frame["y"].value_counts()
    report.min_per_class_scaled = min_per_class is None
    if min_per_class is None:
        min_per_class = default_min_per_class(len(frame))
    report.min_per_class = int(min_per_class)
    rare_labels = sorted(counts[counts < min_per_class].index.tolist())
    if rare_labels:
        report.rare_labels = rare_labels
        report.rare_counts = {lab: int(counts[lab]) for lab in sorted(rare_labels, key=lambda k: -counts[k])}
        mask = frame["y"].isin(rare_labels)
        if rare == "drop":
            report.dropped_rare = int(mask.sum())
            frame = frame[~mask]
        else:
            report.merged_rare = int(mask.sum())
            frame.loc[mask, "y"] = "Other"
    labels = sorted(frame["y"].unique().tolist())
    if len(labels) < 2:
        raise DataError(f"{source}: need at least 2 classes with >= {min_per_class} examples each; "
                        f"found {len(labels)} ({', '.join(labels) or 'none'})")
    if len(frame) < 2 * len(labels):
        raise DataError(f"{source}: {len(frame)} rows are too few for {len(labels)} classes")
    lab_index = {lab: i for i, lab in enumerate(labels)}
    y = frame["y"].map(lab_index).to_numpy(np.int64)
    rng = np.random.default_rng(seed)
    if splits is not None:
        sp = frame["split"].to_numpy()
        if not (sp == "train").any():
            raise DataError(f"{source}: split column has no 'train' rows")
        if not (sp == "val").any():
            # carve val out of train
            tr = np.flatnonzero(sp == "train")
            va = _stratified_take(y[tr], val_frac / (1 - test_frac), rng)
            sp = sp.copy()
            sp[tr[va]] = "val"
    else:
        sp = np.array(["train"] * len(frame), dtype=object)
        idx = np.arange(len(frame))
        te = _stratified_take(y, test_frac, rng) if test_frac > 0 else np.array([], dtype=int)
        sp[idx[te]] = "test"
        rest = np.flatnonzero(sp == "train")
        va = _stratified_take(y[rest], val_frac / max(1e-9, 1 - test_frac), rng)
        sp[rest[va]] = "val"
    A = frame["a"].to_numpy(object)
    B = frame["b"].to_numpy(object)
    L, report.language_source = _languages(df, frame, language_col)

    def mk(name):
        m = sp == name
        if not m.any():
            return None
        return Split(A[m].tolist(), B[m].tolist(), y[m], L[m].tolist())

    train, val, test = mk("train"), mk("val"), mk("test")
    if val is None or len(val) == 0:
        raise DataError(f"{source}: not enough rows to hold out a validation set")
    report.counts = {n: {labels[k]: int(v) for k, v in zip(*np.unique(s.y, return_counts=True))}
                     for n, s in (("train", train), ("val", val), ("test", test)) if s is not None}
    report.languages = langmod.counts(train.lang)
    missing = [lab for lab in labels if lab not in report.counts["train"]]
    if missing:
        raise DataError(f"{source}: labels with no training rows: {', '.join(missing)}")
    cw = None
    if class_weights:
        cnt = np.bincount(train.y, minlength=len(labels)).astype(np.float64)
        cw = len(train.y) / (len(labels) * np.maximum(cnt, 1))
    h = hashlib.sha256()
    for x1, x2, yy in zip(A, B, frame["y"]):
        h.update(f"{x1}\x1f{x2}\x1f{yy}\x1e".encode("utf-8", "surrogatepass"))
    fingerprint = {"rows": int(len(frame)), "label_counts": {k: int(v) for k, v in frame["y"].value_counts().sort_index().items()},
                   "sha256": h.hexdigest(), "source": os.path.basename(source)}
    columns = {"label": label_col, "title": title_col, "body": body_col, "text": text_col}
    return PreparedData(labels, routing, train, val, test, cw, report, fingerprint, columns,
                        dict(cleaning_options) if cleaning_options else None)


def _languages(df: pd.DataFrame, frame: pd.DataFrame, language_col: str | None) -> tuple[np.ndarray, str]:
    """Each kept row's language (from the data's language column, else identified from its
    cleaned text) and where they came from."""
    col = language_col or langmod.find_language_column(df.columns)
    if col is not None:
        if col not in df.columns:
            raise DataError(f"language column {col!r} not found; columns are: {', '.join(map(str, df.columns))}")
        values = df[col].tolist()
        return np.array(langmod.languages_for([], [values[i] for i in frame.index]), dtype=object), f"column {col!r}"
    pairs = list(zip(frame["a"], frame["b"]))
    return np.array(langmod.languages_for(pairs), dtype=object), f"identified by {langmod.IDENTIFIER}"


def _stratified_take(y: np.ndarray, frac: float, rng) -> np.ndarray:
    """Indices (into y) of a stratified sample of about ``frac``; at least one per class with >= 2 rows."""
    take = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        k = int(round(len(idx) * frac))
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        else:
            k = 0
        take.extend(idx[:k].tolist())
    return np.array(sorted(take), dtype=int)
