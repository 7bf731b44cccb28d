"""``triage eval``: accuracy, F1 per class and calibration of a bundle on a labeled file,
optionally beside a TF-IDF + logistic regression baseline and with a confusion-matrix PNG."""
from __future__ import annotations

import json

from triage_app.cli.common import advance_bar, column_mapping, progress_bar, progress_enabled, resolve_model
from triage_app.errors import UserError
from triage_app.language import table_lines


def _by_language(args, clf, sub, mapping, y, probs) -> tuple[str, dict]:
    """Accuracy and macro-F1 per language: the ``--language-col`` column (or one named like a
    language column), else each ticket's language identified offline."""
    from triage_app import language
    from triage_app.engine import tickets_from_frame

    col = args.language_col or language.find_language_column(sub.columns)
    if col is not None and col not in sub.columns:
        raise UserError(f"{args.data}: language column {col!r} not found")
    if col is not None:
        langs, source = language.languages_for([], sub[col].tolist()), f"column {col!r}"
    else:
        pairs = [clf.compose(t) for t in tickets_from_frame(sub, mapping)]
        langs, source = language.languages_for(pairs), f"identified by {language.IDENTIFIER}"
    return source, language.per_language(y, probs.argmax(1), langs)


def cmd_eval(args) -> int:
    import numpy as np

    from trainer.evaluate import classification_report, confusion_png, ece
    from triage_app.engine import TicketClassifier, tickets_from_frame
    from triage_app.io import read_table, require_columns

    clf = TicketClassifier.load(resolve_model(args.bundle), device=args.device)
    df, _ = read_table(args.data, sheet=args.sheet)
    if clf.targets:
        return eval_targets(args, clf, df)
    if not args.label_col or len(args.label_col) > 1:
        raise UserError("give one --label-col: the column holding the true label (this model has one target)")
    args.label_col = args.label_col[0]
    require_columns(list(df.columns), {"label": args.label_col}, args.data)
    if args.split:
        if "split" not in df.columns:
            raise UserError(f"{args.data}: --split given but there is no 'split' column")
        full = df
        df = df[df["split"].str.strip().str.lower() == args.split].reset_index(drop=True)
        if df.empty:
            raise UserError(f"{args.data}: no rows with split == {args.split!r}")
    mapping = column_mapping(args, list(df.columns), args.data, df, clf.bundle.meta)
    y_raw = df[args.label_col].astype(str).str.strip().tolist()
    known = {lab: i for i, lab in enumerate(clf.labels)}
    keep = [i for i, v in enumerate(y_raw) if v in known]
    unknown = sorted({v for v in y_raw if v not in known})
    if not keep:
        raise UserError(f"{args.data}: none of the labels in {args.label_col!r} are known to the model "
                        f"(model labels: {', '.join(clf.labels)})")
    sub = df.iloc[keep].reset_index(drop=True)
    y = np.array([known[y_raw[i]] for i in keep])
    bar = progress_bar(len(sub), "eval", progress_enabled(args))
    try:
        probs = clf.predict_proba(tickets_from_frame(sub, mapping), on_progress=lambda d, n: advance_bar(bar, d))
    finally:
        bar.close()
    rep = classification_report(y, probs.argmax(1), clf.labels)
    logits = np.log(np.clip(probs, 1e-12, None))
    rep["ece"] = ece(logits, y, 1.0)
    result = {"bundle": str(clf.bundle.path), "rows": len(sub), "skipped_unknown_labels": len(df) - len(sub),
              "unknown_labels": unknown[:20], "model": rep}
    result["language_source"], result["by_language"] = _by_language(args, clf, sub, mapping, y, probs)
    if args.baseline:
        result["baseline_tfidf"] = _baseline(args, full if args.split else None, sub, mapping, args.label_col,
                                             clf.labels, y)
    if args.confusion:
        confusion_png(rep["confusion"], clf.labels, args.confusion, title=f"{clf.name} v{clf.version}")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{clf.name} v{clf.version} on {len(sub):,} rows of {args.data}"
              + (f" (skipped {result['skipped_unknown_labels']} with unknown labels)" if result["skipped_unknown_labels"] else ""))
        print(f"accuracy {rep['accuracy']:.4f}  weighted F1 {rep['weighted_f1']:.4f}  macro F1 {rep['macro_f1']:.4f}  ECE {rep['ece']:.4f}")
        w = max(len(lab) for lab in clf.labels)
        print(f"{'class':<{w}}  precision  recall     f1  support")
        for lab, r in rep["per_class"].items():
            print(f"{lab:<{w}}  {r['precision']:9.3f} {r['recall']:7.3f} {r['f1']:6.3f} {r['support']:8d}")
        print(f"per language ({result['language_source']}):")
        print("\n".join(table_lines(result["by_language"])))
        if "baseline_tfidf" in result:
            b = result["baseline_tfidf"]
            print(f"TF-IDF + LR baseline: accuracy {b['accuracy']:.4f} weighted F1 {b['weighted_f1']:.4f} macro F1 {b['macro_f1']:.4f}")
        if args.confusion:
            print(f"confusion matrix -> {args.confusion}")
    return 0


def _baseline(args, full, sub, mapping, label_col: str, labels: list[str], y) -> dict:
    """TF-IDF + logistic regression fitted on the rows outside ``--split`` whose ``label_col`` is one
    of ``labels`` and scored on ``sub`` (true labels ``y``), with the text the model reads."""
    import numpy as np

    from trainer.evaluate import tfidf_baseline
    from triage_app.engine import tickets_from_frame
    from triage_app.text import compose

    if full is None or "split" not in full.columns:
        raise UserError("--baseline needs --split (train the baseline on the other rows)")
    known = {lab: i for i, lab in enumerate(labels)}
    tr = full[full["split"].str.strip().str.lower() != args.split]
    tr = tr[tr[label_col].astype(str).str.strip().isin(known)]
    if tr.empty:
        raise UserError(f"{args.data}: --baseline found no rows outside split {args.split!r} with a label of "
                        f"{label_col!r} that the model knows")

    def texts(frame):
        return [compose(*[r.get(k) for k in ("title", "body", "text")], "same")[0]
                for r in tickets_from_frame(frame, mapping)]

    ytr = np.array([known[v] for v in tr[label_col].astype(str).str.strip()])
    return tfidf_baseline(texts(tr), ytr, texts(sub), y, labels)


def _rows_of_split(args, df):
    if not args.split:
        return df
    if "split" not in df.columns:
        raise UserError(f"{args.data}: --split given but there is no 'split' column")
    out = df[df["split"].str.strip().str.lower() == args.split].reset_index(drop=True)
    if out.empty:
        raise UserError(f"{args.data}: no rows with split == {args.split!r}")
    return out


def eval_targets(args, clf, df) -> int:
    """``triage eval`` of a multi-target model: each target on the rows whose label it knows
    (one run of the model for all targets); ``--confusion X.png`` writes ``X-<target>.png``."""
    from pathlib import Path

    import numpy as np

    from trainer.evaluate import classification_report, confusion_png, ece
    from triage_app.engine import tickets_from_frame
    from triage_app.io import require_columns

    by_col = {t.column: t for t in clf.targets}
    cols = args.label_col or [c for c in by_col if c in df.columns]
    unknown = [c for c in cols if c not in by_col]
    if unknown or not cols:
        raise UserError(f"{args.data}: give --label-col with the columns of this model's targets "
                        f"({', '.join(by_col)})" + (f"; not a target: {', '.join(unknown)}" if unknown else ""))
    require_columns(list(df.columns), {f"label {c}": c for c in cols}, args.data)
    full = df
    df = _rows_of_split(args, df)
    mapping = column_mapping(args, list(df.columns), args.data, df, clf.bundle.meta)
    bar = progress_bar(len(df), "eval", progress_enabled(args))
    try:
        probs, _ = clf.score_targets(tickets_from_frame(df, mapping), on_progress=lambda d, n: advance_bar(bar, d))
    finally:
        bar.close()
    result = {"bundle": str(clf.bundle.path), "rows": len(df), "targets": {}}
    for c in cols:
        t = by_col[c]
        known = {lab: i for i, lab in enumerate(t.labels)}
        y_raw = df[c].astype(str).str.strip().tolist()
        keep = np.array([v in known for v in y_raw], dtype=bool)
        if not keep.any():
            result["targets"][t.name] = {"rows": 0, "note": f"no labels in {c!r} known to the model"}
            continue
        y = np.array([known[v] for v, k in zip(y_raw, keep) if k])
        p = probs[t.name][keep]
        rep = classification_report(y, p.argmax(1), t.labels)
        rep["ece"] = ece(np.log(np.clip(p, 1e-12, None)), y, 1.0)
        rep["rows"], rep["skipped_unknown_labels"] = int(keep.sum()), int((~keep).sum())
        if args.baseline:       # per target: fitted on that target's labels outside the split
            rep["baseline_tfidf"] = _baseline(args, full if args.split else None, df[keep].reset_index(drop=True),
                                              mapping, c, t.labels, y)
        result["targets"][t.name] = rep
        if args.confusion:
            png = Path(args.confusion)
            confusion_png(rep["confusion"], t.labels, png.with_name(f"{png.stem}-{t.name}{png.suffix or '.png'}"),
                          title=f"{clf.name} v{clf.version}: {t.name}")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{clf.name} v{clf.version} on {len(df):,} rows of {args.data}, {len(cols)} targets")
    for name, rep in result["targets"].items():
        if not rep.get("rows"):
            print(f"{name}: {rep['note']}")
            continue
        print(f"{name}: accuracy {rep['accuracy']:.4f}  weighted F1 {rep['weighted_f1']:.4f}  macro F1 "
              f"{rep['macro_f1']:.4f}  ECE {rep['ece']:.4f}  on {rep['rows']:,} rows"
              + (f" (skipped {rep['skipped_unknown_labels']} with unknown or empty labels)"
                 if rep["skipped_unknown_labels"] else ""))
        w = max(len(lab) for lab in rep["per_class"])
        for lab, r in rep["per_class"].items():
            print(f"  {lab:<{w}}  {r['precision']:9.3f} {r['recall']:7.3f} {r['f1']:6.3f} {r['support']:8d}")
        if "baseline_tfidf" in rep:
            b = rep["baseline_tfidf"]
            print(f"  TF-IDF + LR baseline: accuracy {b['accuracy']:.4f} weighted F1 {b['weighted_f1']:.4f} "
                  f"macro F1 {b['macro_f1']:.4f}")
    return 0
