"""``triage classify``: one ticket from the command line, or a whole file streamed in chunks
(read, classified and written a chunk at a time, so memory stays flat).  Never imports torch."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from triage_app.cli.common import (
    advance_bar,
    column_mapping,
    finish_bar,
    progress_bar,
    progress_enabled,
    resolve_model,
)
from triage_app.engine import PREDICTION_COLUMNS, prediction_columns
from triage_app.errors import UserError
from triage_app.targets import target_columns

PRED_COLUMNS = PREDICTION_COLUMNS


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



def _add_predictions(df, probs, preds, labels, extra: dict | None = None):
    """``df`` with :data:`PRED_COLUMNS` and then ``extra`` (a multi-target model's per-target
    columns, :func:`triage_app.targets.target_columns`); a name the file has gets ``_pred``."""
    import pandas as pd

    cols = prediction_columns(labels, probs, [p.needs_review for p in preds], [p.review_reason for p in preds])
    cols = {**{c: cols[c] for c in PRED_COLUMNS}, **(extra or {})}
    out = df.copy()
    for c, values in cols.items():
        name = c if c not in out.columns else f"{c}_pred"
        out[name] = pd.Series(values, index=out.index)
    return out


def classify_frame(clf, chunk, mapping: dict, threshold: float | None = None, batch_size: int | None = None,
                   on_progress=None):
    """``chunk`` with the prediction columns of ``triage classify`` added (every input column kept;
    escaping against formulas happens when the table is written); a model with several targets adds
    each target's columns too, from one run of the model.  The one row-building step of
    ``triage classify``, whether it runs here or in a Ray actor (:mod:`triage_app.cluster`)."""
    from triage_app.engine import tickets_from_frame

    tickets = tickets_from_frame(chunk, mapping)
    extra = None
    if clf.targets:      # one run of the model for every target
        by_target, reasons = clf.score_targets(tickets, batch_size=batch_size, on_progress=on_progress)
        probs = by_target[clf.targets[0].name]
        extra = target_columns(clf.targets, by_target, reasons, threshold)
    else:
        probs, reasons = clf.score(tickets, batch_size=batch_size, on_progress=on_progress)
    preds = clf.to_predictions(probs, top_k=3, threshold=threshold, reasons=reasons)
    return _add_predictions(chunk, probs, preds, clf.labels, extra)


def _print_one(p) -> None:
    flag = f"  [needs review: {p.review_reason}]" if p.needs_review else ""
    print(f"{p.label}  {p.confidence:.1%}{flag}")
    for lab, pr in p.top[1:]:
        print(f"  {lab}  {pr:.1%}")


def cmd_classify(args) -> int:
    from triage_app.engine import TicketClassifier
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
        elif p.targets:      # several targets: one block per target
            for name, tp in p.targets.items():
                print(f"{name}: ", end="")
                _print_one(tp)
        else:
            _print_one(p)
        return 0
    if not args.input:
        raise UserError("give an input file, or --text/--title/--body for one ticket")
    src = Path(args.input)
    if not src.exists():
        raise UserError(f"{src}: file not found")
    out = Path(args.output) if args.output else src.with_name(src.name.split(".")[0] + ".triaged.csv")
    if out.resolve() == src.resolve():
        raise UserError(f"{out}: output would overwrite the input file")
    if getattr(args, "ray", None):
        from triage_app.cluster import cmd_classify_on_ray

        return cmd_classify_on_ray(args, clf, src, out)
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
                    mapping = column_mapping(args, list(chunk.columns), src, chunk, clf.bundle.meta)
                base = done
                writer.write(classify_frame(clf, chunk, mapping, args.threshold, args.batch_size,
                                            on_progress=lambda d, n: advance_bar(bar, base + d)))
                done += len(chunk)
                advance_bar(bar, done)
            if mapping is None:
                raise UserError(f"{src}: no rows to classify")
            writer.commit()
            finish_bar(bar, done)
    finally:
        bar.close()
    dt = time.perf_counter() - t0
    if not args.quiet:
        print(f"{done:,} tickets classified in {dt:.1f}s ({done / max(dt, 1e-9):,.0f}/s) on "
              f"{clf.provider_label} -> {out}", file=sys.stderr)
    return 0
