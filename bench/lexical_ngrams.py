"""Does adding character n-grams help the lexical model?  Measured on VALIDATION rows only.

Model selection, so no test row is read for scoring or choosing: the endava sample's ``test`` rows
are dropped before anything else, the IT set's ``test`` rows likewise.

Variants (all: sublinear tf, L2 norm, min_df 2 when >= 1000 training rows else 1, lower-casing done
in Python by ``triage_app.text.lexical_text``; class-balanced LogisticRegression(max_iter=2000),
C chosen on validation macro-F1 from (0.5, 2, 8, 32), ties keep the smaller C -- as
``trainer.lexical.fit_lexical`` does):

* ``A_word12``        word 1-2 grams: the product's ``fit_lexical`` itself (timed as called);
                      its per-C scores come from the same configuration fitted here.
* ``B_word12+char25`` FeatureUnion(word 1-2 grams, char_wb 2-5 grams), each block L2-normalised
                      on its own (so a row has norm sqrt(2); that only rescales C).
* ``C_char35``        char_wb 3-5 grams alone.

Data (read from ../shared/data, never copied):

* endava_tickets_sample, targets category / ticket_type / business_service / urgency / impact:
  ``train`` rows only, prepared by the product's ``trainer.data.prepare_frame`` (compose(title, body,
  None, "same"), drop empty texts and exact duplicates, drop labels with < 30 rows -- counted on
  the train rows, since test rows are dropped first), then 10 % of them carved out, stratified,
  seed 42, as validation (``val_frac=0.1, test_frac=0``).
* it_service_tickets / Topic_group: compose(None, None, Document, "same"), the fixed split column:
  fit on ``train``, score on ``val``.  ``--it-max-train N`` fits every variant on the same
  stratified subsample of N train rows (seed 42) if the full set is too slow.

Noise: the endava validation sets are ~400-435 rows (a rare class may have 4-9 of them), so every
non-A variant also gets a paired bootstrap of its macro-F1 difference to A over the validation rows
(2000 resamples), and for endava A and B are compared again on validation sets carved with other
seeds (``--repeat-seeds``, default 1,2,3,4; still train rows only).

Usage::

    python bench/lexical_ngrams.py [--out bench/results/lexical_ngrams.json] [--only endava|it]
                                   [--it-max-train N] [--variants A,B,C]

Single-threaded (BLAS/OpenMP threads pinned to 1, n_jobs=1) so the timings are of one core.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
IT = DATA / "it_service_tickets" / "it_service_tickets.csv.gz"
ENDAVA = DATA / "endava_tickets_sample" / "endava_tickets_sample.csv.gz"
ENDAVA_TARGETS = ("category", "ticket_type", "business_service", "urgency", "impact")
CS = (0.5, 2.0, 8.0, 32.0)
SEED = 42
VARIANTS = {"A": "A_word12", "B": "B_word12+char25", "C": "C_char35"}

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


# ----------------------------------------------------------------------------------------- data
def _lex(split) -> list[str]:
    from triage_app.text import lexical_text

    return [lexical_text(a, b) for a, b in zip(split.text_a, split.text_b)]


def endava_data(target: str, seed: int = SEED):
    from trainer.config import DEFAULT_MIN_PER_CLASS
    from trainer.data import prepare_frame

    df = pd.read_csv(ENDAVA)
    df = df[df["split"].astype(str).str.strip().str.lower() == "train"].reset_index(drop=True)  # no test rows
    d = prepare_frame(df, label_col=target, title_col="title", body_col="body", routing="same",
                      min_per_class=DEFAULT_MIN_PER_CLASS, rare="drop", split_col="split",
                      val_frac=0.1, test_frac=0.0, seed=seed, source=ENDAVA.name)
    assert d.test is None
    return (_lex(d.train), d.train.y, _lex(d.val), d.val.y, d.labels,
            {"rows_read_train_split": int(len(df)), "dropped_empty": d.report.dropped_empty,
             "dropped_duplicate": d.report.dropped_duplicate, "dropped_rare": d.report.dropped_rare,
             "rare_labels_dropped": d.report.rare_labels, "min_per_class": DEFAULT_MIN_PER_CLASS,
             "val": f"10 % of train, stratified, seed {seed} (prepare_frame val_frac=0.1, test_frac=0)"})


def it_data(max_train: int | None):
    from triage_app.text import compose, lexical_text

    df = pd.read_csv(IT)
    df = df[df["split"].isin(["train", "val"])].reset_index(drop=True)  # no test rows
    texts = [lexical_text(*compose(None, None, x, "same")) for x in df["Document"].tolist()]
    labels = sorted(df["Topic_group"].astype(str).unique().tolist())
    idx = {lab: i for i, lab in enumerate(labels)}
    y = df["Topic_group"].astype(str).map(idx).to_numpy(np.int64)
    sp = df["split"].to_numpy()
    tr, va = np.flatnonzero(sp == "train"), np.flatnonzero(sp == "val")
    note = {"split": "fixed split column: fit on train, score on val", "train_rows_available": int(len(tr))}
    if max_train and max_train < len(tr):
        from trainer.data import _stratified_take

        keep = _stratified_take(y[tr], max_train / len(tr), np.random.default_rng(SEED))
        tr = tr[keep]
        note["train_subsample"] = f"{len(tr)} train rows, stratified, seed {SEED} (same rows for every variant)"
    return ([texts[i] for i in tr], y[tr], [texts[i] for i in va], y[va], labels, note)


# --------------------------------------------------------------------------------------- models
def make_vectorizer(variant: str, n_train: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    from trainer.lexical import NGRAM_RANGE, TOKEN_PATTERN

    min_df = 2 if n_train >= 1000 else 1  # fit_lexical's rule

    def word():
        return TfidfVectorizer(ngram_range=NGRAM_RANGE, sublinear_tf=True, min_df=min_df, lowercase=False,
                               token_pattern=TOKEN_PATTERN)

    def char(lo, hi):
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(lo, hi), sublinear_tf=True, min_df=min_df,
                               lowercase=False)

    if variant == "A":
        return word()
    if variant == "B":
        return FeatureUnion([("word", word()), ("char", char(2, 5))], n_jobs=1)
    if variant == "C":
        return char(3, 5)
    raise ValueError(variant)


def select_C(variant, Xtr_texts, ytr, Xva_texts, yva, n_labels) -> dict:
    """Vectorise once, fit LR for each C (ascending; only a strictly better macro-F1 replaces)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    labels = list(range(n_labels))
    t0 = time.perf_counter()
    vec = make_vectorizer(variant, len(Xtr_texts))
    Xtr = vec.fit_transform(Xtr_texts)
    Xva = vec.transform(Xva_texts)
    t_vec = time.perf_counter() - t0
    per_C, best = [], None
    for C in sorted(CS):
        t1 = time.perf_counter()
        lr = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
        lr.fit(Xtr, ytr)
        fit_s = time.perf_counter() - t1
        pred = lr.predict(Xva)
        f1 = float(f1_score(yva, pred, labels=labels, average="macro", zero_division=0))
        acc = float(accuracy_score(yva, pred))
        per_C.append({"C": C, "val_macro_f1": f1, "val_accuracy": acc, "lr_fit_s": round(fit_s, 3),
                      "n_iter": int(np.max(lr.n_iter_))})
        if best is None or f1 > best["val_macro_f1"]:
            best, best_pred = per_C[-1], pred
    total = time.perf_counter() - t0
    return {"C": best["C"], "val_accuracy": best["val_accuracy"], "val_macro_f1": best["val_macro_f1"],
            "n_features": int(Xtr.shape[1]), "vectorize_s": round(t_vec, 3),
            "fit_s_chosen_C": round(t_vec + best["lr_fit_s"], 3),  # vectoriser fit+transform + one LR fit
            "select_s": round(total, 3),                             # vectoriser + all 4 LR fits
            "per_C": per_C, "_pred": best_pred}


def macro_f1_fast(y, p, n_labels: int) -> float:
    cm = np.bincount(y * n_labels + p, minlength=n_labels * n_labels).reshape(n_labels, n_labels)
    tp = np.diag(cm).astype(float)
    denom = cm.sum(0) + cm.sum(1)  # 2tp + fp + fn
    return float(np.mean(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)))


def paired_bootstrap(y, pa, pb, n_labels: int, n: int = 2000) -> dict:
    """Resample the validation rows (same rows for both models) n times: macro-F1(B) - macro-F1(A)."""
    rng = np.random.default_rng(SEED)
    d = np.empty(n)
    for i in range(n):
        ix = rng.integers(0, len(y), len(y))
        d[i] = macro_f1_fast(y[ix], pb[ix], n_labels) - macro_f1_fast(y[ix], pa[ix], n_labels)
    return {"resamples": n, "dF1_ci95": [round(float(np.percentile(d, 2.5)), 4), round(float(np.percentile(d, 97.5)), 4)],
            "share_dF1_gt_0": round(float(np.mean(d > 0)), 3),
            "rows_changed": int(np.sum(pa != pb)), "b_right_a_wrong": int(np.sum((pb == y) & (pa != y))),
            "a_right_b_wrong": int(np.sum((pa == y) & (pb != y)))}


def run_product_A(Xtr, ytr, Xva, yva, n_labels) -> dict:
    """The product's own fit_lexical, timed as called (vectoriser + 4 LR fits)."""
    from sklearn.metrics import accuracy_score

    from trainer.lexical import fit_lexical

    t0 = time.perf_counter()
    m = fit_lexical(Xtr, ytr, Xva, yva, n_labels, Cs=CS)
    s = time.perf_counter() - t0
    acc = float(accuracy_score(yva, m.predict_proba(Xva).argmax(1)))
    return {"C": m.C, "val_macro_f1": m.val_macro_f1, "val_accuracy": acc, "n_features": m.n_terms,
            "select_s": round(s, 3)}


def run_dataset(name, data, variants, log, check_product: bool = True) -> dict:
    Xtr, ytr, Xva, yva, labels, note = data
    n = len(labels)
    out = {"dataset": name, "n_labels": n, "labels": labels, "train_rows": len(Xtr), "val_rows": len(Xva),
           "val_label_counts": {labels[k]: int(v) for k, v in zip(*np.unique(yva, return_counts=True))},
           "data": note, "variants": {}}
    for v in variants:
        r = select_C(v, Xtr, ytr, Xva, yva, n)
        if v == "A" and check_product:
            p = run_product_A(Xtr, ytr, Xva, yva, n)
            r["product_fit_lexical"] = p
            r["matches_product"] = bool(p["C"] == r["C"] and abs(p["val_macro_f1"] - r["val_macro_f1"]) < 1e-12
                                        and p["n_features"] == r["n_features"])
        out["variants"][VARIANTS[v]] = r
        log(f"  {name:<32} {VARIANTS[v]:<16} acc {r['val_accuracy']:.4f}  mF1 {r['val_macro_f1']:.4f}  "
            f"C {r['C']:<4g} feats {r['n_features']:>8}  select {r['select_s']:7.1f}s")
    a = out["variants"].get(VARIANTS["A"])
    for name, r in out["variants"].items():
        if a is not None and r is not a:
            r["vs_A_paired_bootstrap"] = paired_bootstrap(np.asarray(yva), a["_pred"], r["_pred"], n)
    for r in out["variants"].values():
        r.pop("_pred", None)
    return out


# ------------------------------------------------------------------------------------------ main
def machine() -> dict:
    import scipy
    import sklearn

    info = {"processor": platform.processor(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform(),
            "sklearn": sklearn.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "pandas": pd.__version__, "threads": {k: os.environ.get(k) for k in
                                                  ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def table(results: list[dict]) -> str:
    rows = [f"{'dataset/target':<34} {'variant':<16} {'val acc':>7} {'val mF1':>7} {'C':>4} "
            f"{'features':>9} {'fit s':>7} {'select s':>8}  dF1 vs A [paired bootstrap 95 %]"]
    for ds in results:
        a = ds["variants"].get(VARIANTS["A"])
        for name, r in ds["variants"].items():
            d = ""
            if a is not None and r is not a:
                bs = r.get("vs_A_paired_bootstrap", {})
                ci = bs.get("dF1_ci95")
                d = f"{r['val_macro_f1'] - a['val_macro_f1']:+.4f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")
            rows.append(f"{ds['dataset']:<34} {name:<16} {r['val_accuracy']:7.4f} {r['val_macro_f1']:7.4f} "
                        f"{r['C']:4g} {r['n_features']:9d} {r['fit_s_chosen_C']:7.1f} {r['select_s']:8.1f}  {d}")
    return "\n".join(rows)


def repeat_table(results, repeats) -> str:
    """dF1 = macro-F1(B) - macro-F1(A) per endava target over every validation carve (seed 42 first)."""
    lines = [f"{'endava target':<18} {'dF1 B-A per seed (42, then repeats)':<52} {'mean':>7} {'B wins':>6}"]
    for target in ENDAVA_TARGETS:
        ds = next((r for r in results if r["dataset"] == f"endava_tickets_sample/{target}"), None)
        d = []
        if ds is not None:
            d.append(ds["variants"][VARIANTS["B"]]["val_macro_f1"] - ds["variants"][VARIANTS["A"]]["val_macro_f1"])
        d += [r["dF1"] for r in repeats if r["target"] == target]
        lines.append(f"{target:<18} {' '.join(f'{x:+.4f}' for x in d):<52} {np.mean(d):+7.4f} "
                     f"{sum(x > 0 for x in d)}/{len(d)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "lexical_ngrams.json"))
    ap.add_argument("--only", choices=["endava", "it"], default=None)
    ap.add_argument("--it-max-train", type=int, default=None,
                    help="fit every variant on this many IT train rows (stratified subsample, seed 42)")
    ap.add_argument("--variants", default="A,B,C")
    ap.add_argument("--repeat-seeds", default="1,2,3,4",
                    help="endava only: also carve validation with these seeds and compare A and B again "
                         "(how much of a difference is the choice of 430 validation rows); '' to skip")
    args = ap.parse_args(argv)
    variants = [v.strip().upper() for v in args.variants.split(",") if v.strip()]
    for p in (ENDAVA, IT):
        if not p.exists():
            sys.exit(f"{p}: not found; this benchmark reads the datasets from ../shared/data")

    def log(s):
        print(s, flush=True)

    t0 = time.perf_counter()
    results = []
    if args.only in (None, "endava"):
        for target in ENDAVA_TARGETS:
            results.append(run_dataset(f"endava_tickets_sample/{target}", endava_data(target), variants, log))
    repeats = []
    seeds = [int(x) for x in args.repeat_seeds.split(",") if x.strip()]
    if args.only in (None, "endava") and seeds and "A" in variants and "B" in variants:
        log("endava, other validation carves (A and B only):")
        for target in ENDAVA_TARGETS:
            for seed in seeds:
                r = run_dataset(f"endava_tickets_sample/{target}@seed{seed}", endava_data(target, seed), ["A", "B"],
                                log, check_product=False)
                a, b = r["variants"][VARIANTS["A"]], r["variants"][VARIANTS["B"]]
                repeats.append({"target": target, "seed": seed, "val_rows": r["val_rows"],
                                "A": {k: a[k] for k in ("val_accuracy", "val_macro_f1", "C")},
                                "B": {k: b[k] for k in ("val_accuracy", "val_macro_f1", "C")},
                                "dF1": b["val_macro_f1"] - a["val_macro_f1"],
                                "dAcc": b["val_accuracy"] - a["val_accuracy"]})
    if args.only in (None, "it"):
        results.append(run_dataset("it_service_tickets/Topic_group", it_data(args.it_max_train), variants, log))
    payload = {"benchmark": "lexical_ngrams", "when": time.strftime("%Y-%m-%d %H:%M:%S"),
               "question": "does adding char_wb n-grams to the lexical model (TF-IDF word 1-2 grams + balanced LR) "
                           "raise validation macro-F1?",
               "scored_on": "validation rows only (model selection); no test row is read",
               "C_grid": list(CS), "C_rule": "max validation macro-F1, ties keep the smaller C",
               "variants": {VARIANTS["A"]: "TfidfVectorizer(word 1-2 grams, sublinear_tf) -- trainer.lexical.fit_lexical",
                            VARIANTS["B"]: "FeatureUnion(word 1-2 grams, char_wb 2-5 grams), both sublinear_tf, "
                                           "each L2-normalised",
                            VARIANTS["C"]: "TfidfVectorizer(char_wb 3-5 grams, sublinear_tf)"},
               "timing": {"fit_s_chosen_C": "vectoriser fit+transform + one LR fit at the chosen C",
                          "select_s": "vectoriser + the 4 LR fits of the C grid (what training costs)",
                          "threads": "single-threaded (BLAS threads 1, n_jobs 1)"},
               "machine": machine(), "args": vars(args), "total_s": round(time.perf_counter() - t0, 1),
               "results": results, "endava_repeat_splits": repeats}
    txt = table(results)
    print()
    print(txt)
    payload["table"] = txt.splitlines()
    if repeats:
        rt = repeat_table(results, repeats)
        print()
        print(rt)
        payload["repeat_table"] = rt.splitlines()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {out}  ({payload['total_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
