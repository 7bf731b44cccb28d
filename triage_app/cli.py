"""Command line: ``triage classify | train | eval | models | thresholds``.

Exit codes: 0 success, 2 bad input (one-line reason on stderr, no traceback), 130 interrupted
(no partial output left), 1 unexpected error.  ``classify`` never imports torch.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from triage_app import __version__, paths
from triage_app.errors import TriageError, UserError

if TYPE_CHECKING:
    from tqdm import tqdm

PRED_COLUMNS = ["predicted_label", "confidence", "top2_label", "top2_confidence",
                "top3_label", "top3_confidence", "needs_review"]


# Errors the user can fix: one line on stderr, exit code 2 (every project error derives from
# TriageError; missing or unreadable files are the OS's own classes).
USER_ERRORS = (TriageError, FileNotFoundError, PermissionError)


def progress_bar(total: int | None, desc: str, enabled: bool, unit: str = "rows") -> tqdm:
    """A tqdm progress bar on stderr, or a silent no-op one when ``enabled`` is false.

    ``total=None`` shows a count and a rate without a percentage.  ``bar.update(k)`` adds k;
    :func:`_advance` sets an absolute count.  Decide ``enabled`` with :func:`progress_enabled`."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr,
                mininterval=0.2, dynamic_ncols=True, leave=True)


def progress_enabled(args) -> bool:
    """Bars only when stderr is a terminal or ``--progress`` is given, never with ``-q/--quiet``."""
    if getattr(args, "quiet", False):
        return False
    return bool(getattr(args, "progress", False)) or sys.stderr.isatty()


def _advance(bar: tqdm, done: int) -> None:
    """Move ``bar`` to the absolute count ``done`` (engine callbacks report totals, not steps)."""
    if done > bar.n:
        bar.update(done - bar.n)


def _finish(bar: tqdm, done: int) -> None:
    """End ``bar`` at ``done`` (the row estimate may differ from the rows really read)."""
    _advance(bar, done)
    if bar.total != done:
        bar.total = done
        bar.refresh()


def note(msg: str) -> None:
    """One line on stderr that does not break a progress bar being drawn (tqdm.write clears the
    bars, prints, and draws them again)."""
    from tqdm import tqdm

    tqdm.write(msg, file=sys.stderr)


def _count_rows_estimate(path: Path) -> int | None:
    """Fast line count of a text table (minus the header) for the progress bar."""
    if path.suffix.lower() not in (".csv", ".tsv", ".txt", ".jsonl", ".ndjson"):
        return None
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 22)
            if not b:
                break
            n += b.count(b"\n")
    return max(n - (0 if path.suffix.lower() in (".jsonl", ".ndjson") else 1), 0)


def resolve_model(arg: str | None) -> Path:
    if not arg:
        p = paths.default_model_dir()
        if not p.exists():
            raise UserError(f"{p}: the bundled default model is missing; pass --model PATH")
        return p
    p = Path(arg)
    if p.exists():
        return p
    for base in (paths.user_models_dir(), paths.bundled_models_dir()):
        if (base / arg).is_dir():
            return base / arg
    raise UserError(f"{arg}: no such model bundle (folder path, or a name listed by `triage models`)")


def _mapping(args, columns: list[str], path, df=None, meta: dict | None = None) -> dict:
    """Columns to read: the ones given, else the model's training columns where the file has
    them, else a guess; a note on stderr when they are not what the model was trained on."""
    from triage_app.io import require_columns
    from triage_app.mapping import check_mapping, describe_columns, suggest_mapping, trained_columns

    chosen = {"title": args.title_col, "body": args.body_col, "text": args.text_col}
    if any(chosen.values()):
        require_columns(columns, {k: v for k, v in chosen.items() if v}, path)
        mapping = {k: v for k, v in chosen.items() if v}
    else:
        g = suggest_mapping(columns, df, meta)
        if g.get("title") or g.get("body"):
            mapping = {k: g[k] for k in ("title", "body") if g.get(k)}
        elif g.get("text"):
            mapping = {"text": g["text"]}
        else:
            trained = trained_columns(meta)
            hint = (f" (the model was trained on {describe_columns(trained)})"
                    if any(trained[k] for k in ("title", "body", "text")) else "")
            raise UserError(f"{path}: cannot tell which column holds the ticket text{hint}; choose "
                            f"with --text-col or --title-col/--body-col. Columns: "
                            f"{', '.join(map(str, columns))}")
    warning = check_mapping(mapping, meta, columns, confirmed=any(chosen.values()))
    if warning and not getattr(args, "quiet", False):
        where = " (given)" if any(chosen.values()) else " (detected)"
        used = ", ".join(f"{k} <- '{v}'" for k, v in mapping.items())
        note(f"note: columns{where}: {used}. {warning.replace('←', '<-')}")
    return mapping


def _add_predictions(df, preds):
    import pandas as pd

    cols = {c: [] for c in PRED_COLUMNS}
    for p in preds:
        top = p.top + [("", float("nan"))] * (3 - len(p.top))
        cols["predicted_label"].append(p.label)
        cols["confidence"].append(round(p.confidence, 4))
        cols["top2_label"].append(top[1][0])
        cols["top2_confidence"].append(round(top[1][1], 4))
        cols["top3_label"].append(top[2][0])
        cols["top3_confidence"].append(round(top[2][1], 4))
        cols["needs_review"].append(bool(p.needs_review))
    out = df.copy()
    for c in PRED_COLUMNS:
        name = c if c not in out.columns else f"{c}_pred"
        out[name] = pd.Series(cols[c], index=out.index)
    return out


# ---- classify ---------------------------------------------------------------------------------
def cmd_classify(args) -> int:
    from triage_app.engine import TicketClassifier, tickets_from_frame
    from triage_app.io import TableWriter, iter_table_chunks

    if args.batch_size is not None and args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1 (got {args.batch_size})")
    clf = TicketClassifier.load(resolve_model(args.model), device=args.device, threads=args.threads)
    if clf.fallback_message and not args.quiet:
        print(f"note: {clf.fallback_message}", file=sys.stderr)
    if args.text is not None or args.title is not None or args.body is not None:
        ticket = {"title": args.title, "body": args.body, "text": args.text}
        p = clf.predict(ticket, top_k=args.top_k, threshold=args.threshold)
        if args.json:
            print(json.dumps(p.as_dict()))
        else:
            flag = "  [needs review]" if p.needs_review else ""
            print(f"{p.label}  {p.confidence:.1%}{flag}")
            for lab, pr in p.top[1:]:
                print(f"  {lab}  {pr:.1%}")
        return 0
    if not args.input:
        raise UserError("give an input file, or --text/--title/--body for one ticket")
    src = Path(args.input)
    if not src.exists():
        raise UserError(f"{src}: file not found")
    out = Path(args.output) if args.output else src.with_name(src.name.split(".")[0] + ".triaged.csv")
    if out.resolve() == src.resolve():
        raise UserError(f"{out}: output would overwrite the input file")
    show = progress_enabled(args)
    # the extra pass over the file that counts lines is only worth it when a bar is shown
    bar = progress_bar(_count_rows_estimate(src) if show else None, f"classify {src.name}", show)
    done = 0
    mapping = None
    t0 = time.perf_counter()
    chunks = iter_table_chunks(src, chunksize=args.chunk_size, sheet=args.sheet)
    try:
        with TableWriter(out) as writer:
            for chunk in chunks:
                if mapping is None:
                    mapping = _mapping(args, list(chunk.columns), src, chunk, clf.bundle.meta)
                tickets = tickets_from_frame(chunk, mapping)
                base = done
                probs = clf.predict_proba(tickets, batch_size=args.batch_size,
                                          on_progress=lambda d, n: _advance(bar, base + d))
                preds = clf.to_predictions(probs, top_k=3, threshold=args.threshold)
                writer.write(_add_predictions(chunk, preds))
                done += len(chunk)
                _advance(bar, done)
            if mapping is None:
                raise UserError(f"{src}: no rows to classify")
            writer.commit()
            _finish(bar, done)
    finally:
        bar.close()
    dt = time.perf_counter() - t0
    if not args.quiet:
        print(f"{done:,} tickets classified in {dt:.1f}s ({done / max(dt, 1e-9):,.0f}/s) on "
              f"{clf.provider_label} -> {out}", file=sys.stderr)
    return 0


# ---- train ------------------------------------------------------------------------------------
def cmd_train(args) -> int:
    from triage_app.train_cli import train_command  # the trainer is imported only for `train`

    return train_command(args)


# ---- eval -------------------------------------------------------------------------------------
def cmd_eval(args) -> int:
    import numpy as np

    from trainer.evaluate import classification_report, confusion_png, ece, tfidf_baseline
    from triage_app.engine import TicketClassifier, tickets_from_frame
    from triage_app.io import read_table, require_columns

    clf = TicketClassifier.load(resolve_model(args.bundle), device=args.device)
    df, _ = read_table(args.data, sheet=args.sheet)
    require_columns(list(df.columns), {"label": args.label_col}, args.data)
    if args.split:
        if "split" not in df.columns:
            raise UserError(f"{args.data}: --split given but there is no 'split' column")
        full = df
        df = df[df["split"].str.strip().str.lower() == args.split].reset_index(drop=True)
        if df.empty:
            raise UserError(f"{args.data}: no rows with split == {args.split!r}")
    mapping = _mapping(args, list(df.columns), args.data, df, clf.bundle.meta)
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
        probs = clf.predict_proba(tickets_from_frame(sub, mapping), on_progress=lambda d, n: _advance(bar, d))
    finally:
        bar.close()
    rep = classification_report(y, probs.argmax(1), clf.labels)
    logits = np.log(np.clip(probs, 1e-12, None))
    rep["ece"] = ece(logits, y, 1.0)
    result = {"bundle": str(clf.bundle.path), "rows": len(sub), "skipped_unknown_labels": len(df) - len(sub),
              "unknown_labels": unknown[:20], "model": rep}
    if args.baseline:
        if args.split and "split" in full.columns:
            tr = full[full["split"].str.strip().str.lower() != args.split]
            tr = tr[tr[args.label_col].astype(str).str.strip().isin(known)]
        else:
            raise UserError("--baseline needs --split (train the baseline on the other rows)")
        from triage_app.text import compose
        def texts(frame):
            return [compose(*[r.get(k) for k in ("title", "body", "text")], "same")[0]
                    for r in tickets_from_frame(frame, mapping)]
        ytr = np.array([known[v] for v in tr[args.label_col].astype(str).str.strip()])
        result["baseline_tfidf"] = tfidf_baseline(texts(tr), ytr, texts(sub), y, clf.labels)
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
        if "baseline_tfidf" in result:
            b = result["baseline_tfidf"]
            print(f"TF-IDF + LR baseline: accuracy {b['accuracy']:.4f} weighted F1 {b['weighted_f1']:.4f} macro F1 {b['macro_f1']:.4f}")
        if args.confusion:
            print(f"confusion matrix -> {args.confusion}")
    return 0


# ---- models -----------------------------------------------------------------------------------
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


# ---- thresholds -------------------------------------------------------------------------------
def cmd_thresholds(args) -> int:
    import numpy as np

    from triage_app import review
    from triage_app.bundle import load_bundle, save_thresholds

    bpath = resolve_model(args.bundle)
    b = load_bundle(bpath)
    if args.data:
        from triage_app.engine import TicketClassifier, tickets_from_frame
        from triage_app.io import read_table, require_columns
        clf = TicketClassifier.load(b, device=args.device)
        df, _ = read_table(args.data, sheet=args.sheet)
        require_columns(list(df.columns), {"label": args.label_col}, args.data)
        mapping = _mapping(args, list(df.columns), args.data, df, b.meta)
        known = {lab: i for i, lab in enumerate(b.labels)}
        lab = df[args.label_col].astype(str).str.strip()
        df = df[lab.isin(known)].reset_index(drop=True)
        if df.empty:
            raise UserError(f"{args.data}: no rows with labels the model knows")
        y = np.array([known[v] for v in df[args.label_col].astype(str).str.strip()])
        probs = clf.predict_proba(tickets_from_frame(df, mapping))
        source = str(args.data)
    else:
        if not b.validation_path.is_file():
            raise UserError(f"{b.validation_path}: no stored validation predictions; pass a labeled DATA file")
        with np.load(b.validation_path, allow_pickle=False) as z:
            probs, y = z["probs"], z["y"]
        source = "validation rows stored in the bundle"
    t = args.target_precision
    glob_t = review.suggest_threshold(probs, y, t)
    per = {lab: review.suggest_threshold(probs, y, t, cls=lab, labels=b.labels) for lab in b.labels}
    summ = review.routed_summary(probs, y, glob_t, per, labels=b.labels)
    print(f"{b.name} v{b.version}: thresholds for precision >= {t:.0%} on {len(y):,} rows ({source})")
    print(f"global {glob_t:.2f}")
    for lab, v in per.items():
        print(f"  {lab:<28} {v:.2f}")
    print(f"with these: {summ['coverage']:.1%} auto-routed at {summ['precision']:.1%} precision")
    if args.save:
        save_thresholds(bpath, glob_t, per)
        print(f"saved into {bpath / 'bundle.json'}")
    return 0


# ---- parser -----------------------------------------------------------------------------------
# The presets whose main phase (--epochs, --lr) fine-tunes the towers; the others train the head.
_MAIN_PHASE_TUNES_TOWERS = ("standard", "full")
DEVICE_HELP = ("auto: a CUDA GPU when ONNX Runtime can use one, else the CPU; cpu; cuda: the GPU, "
               "falling back to the CPU with a note (default: %(default)s)")
COLUMN_GUESS = "default: the model's training columns, else guessed"


@functools.lru_cache(maxsize=1)
def _preset_configs() -> dict | None:
    """Each preset's TrainConfig (None in a build without the trainer).  trainer.config needs only
    the standard library (tested), so building the parser for ``classify`` never imports torch."""
    try:
        from trainer.config import PRESETS, TrainConfig
    except ImportError:
        return None
    return {p: TrainConfig.from_preset(p) for p in PRESETS}


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _preset_default(field: str, tuned: str | None = None) -> str:
    """``default per --preset: quick 30, standard 20, ...`` for a TrainConfig field, or
    ``default: 128 in every preset``.  ``tuned``: the field read instead for the presets whose main
    phase tunes the towers (--epochs, --lr)."""
    cfgs = _preset_configs()
    if cfgs is None:
        return "default: set by --preset"
    vals = {p: getattr(c, tuned if tuned and p in _MAIN_PHASE_TUNES_TOWERS else field) for p, c in cfgs.items()}
    if len(set(vals.values())) == 1:
        return f"default: {_fmt(next(iter(vals.values())))} in every preset"
    return "default per --preset: " + ", ".join(f"{p} {_fmt(v)}" for p, v in vals.items())


def _class_weights_default() -> str:
    cfgs = _preset_configs()
    if cfgs is None:
        return "default: set by --preset"
    on = [p for p, c in cfgs.items() if c.class_weights]
    off = [p for p, c in cfgs.items() if not c.class_weights]
    return (f"default: weighted in {', '.join(on) or 'no preset'}; "
            f"unweighted in {', '.join(off) or 'no preset'}")


def build_parser() -> argparse.ArgumentParser:
    from trainer.config import DEFAULT_MIN_PER_CLASS  # stdlib only: classify stays torch-free

    p = argparse.ArgumentParser(prog="triage", description="Triage support tickets with a local transformer.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)

    def cols(sp, default: str = COLUMN_GUESS):
        sp.add_argument("--title-col", metavar="COLUMN", help=f"column holding the ticket title ({default})")
        sp.add_argument("--body-col", metavar="COLUMN", help=f"column holding the ticket body ({default})")
        sp.add_argument("--text-col", metavar="COLUMN",
                        help=f"column holding the whole ticket text, instead of title and body ({default})")
        sp.add_argument("--sheet", metavar="NAME", help="XLSX sheet to read (default: the first sheet)")

    c = sub.add_parser("classify", help="classify a file of tickets or one ticket")
    c.add_argument("input", nargs="?", metavar="INPUT",
                   help="ticket file: CSV, TSV, XLSX, JSON or JSONL (leave out with --text, --title or --body)")
    c.add_argument("-o", "--output", metavar="FILE",
                   help="output file, format from its extension (default: INPUT.triaged.csv next to INPUT)")
    c.add_argument("--text", metavar="TEXT", help="classify this one ticket text and print the result "
                   "(default: classify INPUT)")
    c.add_argument("--title", metavar="TEXT",
                   help="title of one ticket to classify, with or without --body (default: classify INPUT)")
    c.add_argument("--body", metavar="TEXT",
                   help="body of one ticket to classify, with or without --title (default: classify INPUT)")
    cols(c)
    c.add_argument("--model", metavar="MODEL",
                   help="bundle folder or installed model name (default: the bundled model)")
    c.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help=DEVICE_HELP)
    c.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads for ONNX Runtime (default: ONNX Runtime's choice)")
    c.add_argument("--threshold", type=float, metavar="P",
                   help="review threshold 0-1: predictions less confident than this are marked "
                        "needs_review (default: the bundle's, per label where it has them)")
    c.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="tickets per model call (default: 16 on the CPU, 64 on a GPU)")
    c.add_argument("--chunk-size", type=int, default=5000, metavar="ROWS",
                   help="rows read, classified and written at a time (default: %(default)s)")
    c.add_argument("--top-k", type=int, default=3, metavar="K",
                   help="labels printed for one ticket (default: %(default)s); files always get the top 3")
    c.add_argument("--json", action="store_true", help="print the one-ticket result as JSON (default: text)")
    c.add_argument("--progress", action="store_true",
                   help="show the progress bar even when stderr is not a terminal (default: only on a terminal)")
    c.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar, notes or summary on stderr (errors are still printed)")
    c.set_defaults(func=cmd_classify)

    t = sub.add_parser("train", help="fine-tune a dual-BERT classifier and export a bundle")
    t.add_argument("data", metavar="DATA", help="labeled ticket file: CSV, TSV, XLSX, JSON or JSONL")
    t.add_argument("--label-col", required=True, metavar="COLUMN", help="column holding the label to learn (required)")
    cols(t, "no default: give --text-col, or --title-col and/or --body-col")
    t.add_argument("--preset", choices=["quick", "standard", "full", "seed"], default="quick",
                   help="quick: frozen towers, a classifier head on features computed once (minutes on a "
                        "CPU); standard: the head, then the top encoder layers fine-tuned; full: the head, "
                        "then every layer fine-tuned (GPU recommended); seed: the reference study's recipe "
                        "(pooler output, padded to 128, head only) (default: %(default)s)")
    t.add_argument("--epochs", type=int, metavar="N",
                   help="epochs of the preset's main phase: --head-epochs for quick and seed, "
                        f"--finetune-epochs for standard and full ({_preset_default('head_epochs', 'finetune_epochs')})")
    t.add_argument("--lr", type=float, metavar="LR",
                   help="learning rate of the preset's main phase: --head-lr for quick and seed, "
                        f"--tower-lr for standard and full ({_preset_default('head_lr', 'tower_lr')})")
    t.add_argument("--head-epochs", type=int, metavar="N",
                   help=f"epochs of phase 1, the head on frozen towers ({_preset_default('head_epochs')})")
    t.add_argument("--head-lr", type=float, metavar="LR",
                   help=f"learning rate of the head in phase 1 ({_preset_default('head_lr')})")
    t.add_argument("--finetune-epochs", type=int, metavar="N",
                   help=f"epochs of phase 2, fine-tuning the towers; 0 = no phase 2 ({_preset_default('finetune_epochs')})")
    t.add_argument("--finetune-layers", type=int, metavar="N",
                   help="top N encoder layers of each tower tuned in phase 2; -1 = all and the embeddings, "
                        f"0 = none ({_preset_default('finetune_layers')})")
    t.add_argument("--tower-lr", type=float, metavar="LR",
                   help=f"learning rate of the towers in phase 2 ({_preset_default('tower_lr')})")
    t.add_argument("--batch-size", type=int, metavar="N", help=f"tickets per training step ({_preset_default('batch_size')})")
    t.add_argument("--max-length", type=int, metavar="TOKENS",
                   help=f"tokens kept per text, 8 to 512 ({_preset_default('max_length')})")
    t.add_argument("--max-steps", type=int, metavar="N",
                   help="stop each phase after N optimizer steps, for smoke runs (default: no limit)")
    t.add_argument("--pooling", choices=["mean", "pooler"],
                   help="how a tower turns token vectors into one: mean: their average; pooler: BERT's "
                        f"pooler output of the first token ({_preset_default('pooling')})")
    t.add_argument("--routing", choices=["same", "split"],
                   help="same: both towers read title and body joined; split: tower A reads the title, "
                        f"tower B the body ({_preset_default('routing')})")
    t.add_argument("--base-model", metavar="CHECKPOINT",
                   help="BERT checkpoint folder or Hugging Face hub id for both towers; the default one "
                        f"is an installed package ({_preset_default('base_model')})")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"],
                   help=f"auto: a CUDA GPU when torch sees one, else the CPU; cpu; cuda: the GPU "
                        f"({_preset_default('device')})")
    t.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"],
                   help="auto: bf16 autocast where the CPU or GPU supports it (fp16 on GPUs without bf16), "
                        f"else fp32; fp16 applies on a GPU only ({_preset_default('precision')})")
    t.add_argument("--seed", type=int, metavar="N",
                   help=f"random seed of the data split, shuffling and initialisation ({_preset_default('seed')})")
    t.add_argument("--no-class-weights", action="store_true",
                   help=f"train without class weights in the loss ({_class_weights_default()})")
    t.add_argument("--min-per-class", type=int, default=DEFAULT_MIN_PER_CLASS, metavar="N",
                   help="labels with fewer rows are rare, see --rare (default: %(default)s)")
    t.add_argument("--val-frac", type=float, default=0.1, metavar="SHARE",
                   help="share of rows held out for validation, stratified by label; ignored when the "
                        "file has a 'split' column (default: %(default)s)")
    t.add_argument("--test-frac", type=float, default=0.1, metavar="SHARE",
                   help="share of rows kept aside for the final test measurement; 0 for none "
                        "(default: %(default)s)")
    t.add_argument("--rare", choices=["drop", "other"], default="drop",
                   help="rows of rare labels: drop: left out; other: merged into one 'Other' label "
                        "(default: %(default)s)")
    t.add_argument("--merge-map", metavar="FILE",
                   help="JSON file {\"old label\": \"new label\"} applied before training (default: no merging)")
    t.add_argument("--corrections", nargs="?", const="default", metavar="STORE",
                   help="also learn from the corrections agents saved in the app: the default store when "
                        "given without a value, or a .sqlite3 file (default: not used)")
    t.add_argument("--checkpoint-dir", metavar="DIR",
                   help="save a checkpoint here after every epoch, for --resume (default: none saved)")
    t.add_argument("--resume", metavar="DIR",
                   help="checkpoint folder (an earlier --checkpoint-dir) to continue from (default: start fresh)")
    t.add_argument("--no-int8", action="store_true",
                   help="ship the fp32 model (default: int8 when it passes the parity check against fp32, else fp32)")
    t.add_argument("--name", metavar="NAME", help="model name in the bundle (default: the --out folder's name)")
    t.add_argument("--version", default="1", metavar="VERSION", help="bundle version (default: %(default)s)")
    t.add_argument("--read-only", action="store_true",
                   help="mark the bundle read-only, for shipped models (default: editable)")
    t.add_argument("--card", action="store_true",
                   help="write MODEL_CARD.md and confusion.png into the bundle (default: not written)")
    t.add_argument("--progress", action="store_true",
                   help="show progress bars even when stderr is not a terminal (default: only on a terminal)")
    t.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch (default: all cores)")
    t.add_argument("--out", required=True, metavar="DIR", help="bundle folder to write (required)")
    t.add_argument("--compare", metavar="MODEL",
                   help="also run this bundle (folder or installed name) on the validation rows and "
                        "report both models side by side (default: no comparison)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress output on stderr")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate a bundle on a labeled file")
    e.add_argument("bundle", metavar="MODEL", help="bundle folder or installed model name")
    e.add_argument("data", metavar="DATA", help="labeled ticket file: CSV, TSV, XLSX, JSON or JSONL")
    e.add_argument("--label-col", required=True, metavar="COLUMN", help="column holding the true label (required)")
    cols(e)
    e.add_argument("--split", metavar="VALUE",
                   help="only rows whose 'split' column has this value, e.g. test (default: all rows)")
    e.add_argument("--baseline", action="store_true",
                   help="also TF-IDF + logistic regression trained on the other rows (needs --split; default: off)")
    e.add_argument("--confusion", metavar="PNG", help="write the confusion matrix PNG here (default: none)")
    e.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help=DEVICE_HELP)
    e.add_argument("--json", action="store_true", help="print the report as JSON (default: a table)")
    e.add_argument("--progress", action="store_true",
                   help="show the progress bar even when stderr is not a terminal (default: only on a terminal)")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notes on stderr")
    e.set_defaults(func=cmd_eval)

    m = sub.add_parser("models", help="list, import or export model bundles")
    m.add_argument("action", nargs="?", choices=["list", "import", "export"], default="list",
                   help="list: the bundled and installed models; import: install PATH (a .zip or a bundle "
                        "folder); export: write model PATH to the .zip DEST (default: %(default)s)")
    m.add_argument("path", nargs="?", metavar="PATH",
                   help="import: a .zip or bundle folder; export: a model name or bundle folder")
    m.add_argument("dest", nargs="?", metavar="DEST", help="export: the .zip file to write")
    m.add_argument("--json", action="store_true", help="print the list as JSON (default: a table)")
    m.set_defaults(func=cmd_models)

    h = sub.add_parser("thresholds", help="review thresholds for a target precision")
    h.add_argument("bundle", metavar="MODEL", help="bundle folder or installed model name")
    h.add_argument("data", nargs="?", metavar="DATA",
                   help="labeled ticket file (default: the validation rows stored in the bundle)")
    h.add_argument("--label-col", metavar="COLUMN", help="column holding the true label (required with DATA)")
    cols(h)
    h.add_argument("--target-precision", type=float, default=0.95, metavar="P",
                   help="precision 0-1 the auto-routed tickets should reach (default: %(default)s)")
    h.add_argument("--save", action="store_true",
                   help="store the thresholds in the bundle (default: only print them)")
    h.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help=DEVICE_HELP)
    h.set_defaults(func=cmd_thresholds)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "cmd", None) == "thresholds" and args.data and not args.label_col:
        parser.error("thresholds with a DATA file needs --label-col")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted; no partial output was left", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # a library's complaint about a value the user gave
        if os.environ.get("TRIAGE_DEBUG") == "1":
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
