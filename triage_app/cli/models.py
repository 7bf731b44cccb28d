"""``triage models`` (list, import, export bundles) and ``triage thresholds`` (review thresholds
for a target precision, optionally saved into the bundle)."""
from __future__ import annotations

import json
from pathlib import Path

from triage_app import paths
from triage_app.cli.common import column_mapping, resolve_model
from triage_app.errors import UserError


def cmd_models(args) -> int:
    from triage_app.bundle import BundleError, clean_stale_work, export_zip, import_zip, install_copy, load_bundle

    if args.action == "import":
        if not args.path:
            raise UserError("models import needs a zip or folder path")
        src = Path(args.path)
        if src.is_dir():
            print(install_copy(src, paths.user_models_dir()))
        else:
            print(import_zip(src, paths.user_models_dir()))
        return 0
    if args.action == "export":
        if not args.path or not args.dest:
            raise UserError("models export needs a model (name or folder) and a .zip destination")
        print(export_zip(resolve_model(args.path), args.dest))
        return 0
    rows = []
    clean_stale_work(paths.user_models_dir())  # hidden work folders of a killed export or import
    for base, kind in ((paths.bundled_models_dir(), "bundled"), (paths.user_models_dir(), "user")):
        if not base.is_dir():
            continue
        for d in sorted(base.iterdir()):
            if not d.is_dir() or d.name.startswith("."):
                continue
            try:
                s = load_bundle(d, verify_hash=False).summary()
                s["kind"] = kind
                rows.append(s)
            except BundleError as e:
                rows.append({"name": d.name, "kind": kind, "error": str(e), "path": str(d)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no models found")
    for r in rows:
        if "error" in r:
            print(f"{r['name']:<28} {r['kind']:<8} INVALID: {r['error']}")
        else:
            acc = f"{r['accuracy']:.3f}" if isinstance(r.get("accuracy"), float) else "-"
            f1 = f"{r['macro_f1']:.3f}" if isinstance(r.get("macro_f1"), float) else "-"
            print(f"{r['name']:<28} v{r['version']:<4} {r['kind']:<8} {r['labels']:>3} labels  {r['precision']:<5} "
                  f"acc {acc} macro-F1 {f1}  {r['created']}  {r['path']}")
    return 0


def cmd_thresholds(args) -> int:
    import numpy as np

    from triage_app import review
    from triage_app.bundle import load_bundle, save_thresholds
    from triage_app.targets import validation_arrays

    bpath = resolve_model(args.bundle)
    b = load_bundle(bpath)
    names = [t.name for t in b.targets]
    target = getattr(args, "target", None)
    if target is not None and target not in names:
        raise UserError(f"--target {target}: " + (f"this model's targets are {', '.join(names)}" if names
                                                   else "this model has a single target"))
    k = names.index(target) if target is not None else 0
    labels = b.targets[k].labels if names else b.labels
    if args.data:
        from triage_app.engine import TicketClassifier, tickets_from_frame
        from triage_app.io import read_table, require_columns
        clf = TicketClassifier.load(b, device=args.device)
        df, _ = read_table(args.data, sheet=args.sheet)
        require_columns(list(df.columns), {"label": args.label_col}, args.data)
        mapping = column_mapping(args, list(df.columns), args.data, df, b.meta)
        known = {lab: i for i, lab in enumerate(labels)}
        lab = df[args.label_col].astype(str).str.strip()
        df = df[lab.isin(known)].reset_index(drop=True)
        if df.empty:
            raise UserError(f"{args.data}: no rows with labels the model knows")
        y = np.array([known[v] for v in df[args.label_col].astype(str).str.strip()])
        tickets = tickets_from_frame(df, mapping)
        probs = clf.score_targets(tickets)[0][names[k]] if names else clf.predict_proba(tickets)
        source = str(args.data)
    else:
        stored = validation_arrays(b.path, k)
        if stored is None:
            raise UserError(f"{b.validation_path}: no stored validation predictions; pass a labeled DATA file")
        probs, y = stored
        source = "validation rows stored in the bundle"
    t = args.target_precision
    g = review.suggest(probs, y, t)
    glob_t = g["threshold"] if g["threshold"] is not None else 1.0
    sug = {lab: review.suggest(probs, y, t, cls=lab, labels=labels) for lab in labels}
    per = {lab: c["threshold"] for lab, c in sug.items() if c["threshold"] is not None}
    summ = review.routed_summary(probs, y, glob_t, per, labels=labels)
    print(f"{b.name} v{b.version}" + (f", target {names[k]}" if names else "")
          + f": thresholds for precision >= {t:.0%} on {len(y):,} rows ({source})")
    print(f"global {glob_t:.2f}" + ("" if g["reached"] else f"  ({g['note']})"))
    for lab, c in sug.items():
        v = f"{c['threshold']:.2f}" if c["threshold"] is not None else "-"
        print(f"  {lab:<28} {v}" + ("" if c["reached"] else f"  ({c['note']})"))
    print(f"with these: {summ['coverage']:.1%} auto-routed at {summ['precision']:.1%} precision")
    if args.save:
        save_thresholds(bpath, glob_t, per, target=target)
        print(f"saved into {bpath / 'bundle.json'}")
    return 0
