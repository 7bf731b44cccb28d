"""``triage train``: the command-line front end of :func:`trainer.pipeline.run`.

It turns the arguments into a :class:`trainer.pipeline.DataSpec` and a
:class:`trainer.config.TrainConfig`, prints the pipeline's events on stderr (tqdm bars on a
terminal, one line per epoch and a line every 30 s otherwise) and the summary as JSON on stdout.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

from triage_app.cli.common import progress_bar, progress_enabled, resolve_model
from triage_app.errors import Cancelled, UserError

# The presets whose main phase (--epochs, --lr) fine-tunes the towers; the others train the head.
MAIN_PHASE_TUNES_TOWERS = ("standard", "full")
# Flags that set one TrainConfig field each, under the same name.
CONFIG_FLAGS = ("max_length", "batch_size", "seed", "pooling", "routing", "device", "max_steps",
                "finetune_layers", "finetune_epochs", "head_epochs", "tower_lr", "head_lr", "dropout")


def train_config(args):
    """The TrainConfig of the command line: the preset, then every flag given."""
    from trainer.config import TrainConfig

    kw = {name: getattr(args, name) for name in CONFIG_FLAGS if getattr(args, name, None) is not None}
    if args.preset == "auto" and (args.epochs is not None or args.lr is not None):
        raise UserError("--epochs and --lr set the main phase of a named preset, and auto has not picked one "
                        "yet: give --preset, or use --head-epochs/--finetune-epochs and --head-lr/--tower-lr")
    if getattr(args, "time_budget", None) is not None:
        if args.preset != "auto":
            raise UserError(f"--time-budget applies to --preset auto only (got --preset {args.preset})")
        from trainer.auto import parse_duration

        kw["time_budget_s"] = parse_duration(args.time_budget)
    main_phase_tunes_towers = args.preset in MAIN_PHASE_TUNES_TOWERS
    if args.epochs is not None:
        kw["finetune_epochs" if main_phase_tunes_towers else "head_epochs"] = args.epochs
    if args.lr is not None:
        kw["tower_lr" if main_phase_tunes_towers else "head_lr"] = args.lr
    if args.base_model:
        kw["base_model"] = args.base_model
    if getattr(args, "base_model_b", None):
        kw["base_model_b"] = args.base_model_b
    if args.no_class_weights:
        kw["class_weights"] = False
    if args.no_lexical:
        kw["hybrid"] = False
    if args.precision:
        kw["precision"] = args.precision
    if getattr(args, "loss_weight", None):
        kw["loss_weights"] = loss_weights(args.loss_weight, label_cols(args))
    return TrainConfig.from_preset(args.preset, **kw)


def label_cols(args) -> list[str]:
    """The ``--label-col`` values (one, or several targets), checked for repeats."""
    cols = args.label_col if isinstance(args.label_col, list) else [args.label_col]
    if len(set(cols)) != len(cols):
        raise UserError(f"--label-col names a column twice ({', '.join(cols)})")
    return cols


def loss_weights(items: list[str], cols: list[str]) -> dict:
    """``--loss-weight COLUMN=W`` values as ``{column: weight}``."""
    out = {}
    for item in items:
        col, sep, w = item.rpartition("=")
        try:
            out[col] = float(w)
        except ValueError:
            col = ""
        if not sep or col not in cols:
            raise UserError(f"--loss-weight {item!r}: expected COLUMN=WEIGHT with COLUMN one of the --label-col "
                            f"columns ({', '.join(cols)})")
    if len(cols) < 2:
        raise UserError("--loss-weight applies to several targets (repeat --label-col)")
    return out


def data_spec(args):
    """The DataSpec of the command line (the file is read by the pipeline)."""
    from trainer.pipeline import DataSpec

    if not (args.text_col or args.title_col or args.body_col):
        raise UserError("choose --text-col, or --title-col and/or --body-col")
    if not (0 < args.val_frac < 1 and 0 <= args.test_frac < 1 and args.val_frac + args.test_frac < 1):
        raise UserError(f"--val-frac ({args.val_frac}) must be in (0, 1), --test-frac ({args.test_frac}) in "
                        "[0, 1), and together below 1")
    merge = {}
    if args.merge_map:
        try:
            merge = json.loads(Path(args.merge_map).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"{args.merge_map}: cannot read the merge map ({e})") from e
        if not isinstance(merge, dict):
            raise UserError(f"{args.merge_map}: the merge map must be a JSON object "
                            "{\"old label\": \"new label\"}")
    cols = label_cols(args)
    maps = {}
    if merge and all(isinstance(v, dict) for v in merge.values()):   # per label column
        unknown = [c for c in merge if c not in cols]
        if unknown:
            raise UserError(f"{args.merge_map}: merge maps for columns that are not --label-col: {', '.join(unknown)}")
        maps, merge = merge, merge.get(cols[0], {})
    return DataSpec(source=str(args.data), sheet=args.sheet, label_col=cols[0],
                    label_cols=cols if len(cols) > 1 else [], merge_maps=maps,
                    title_col=args.title_col, body_col=args.body_col, text_col=args.text_col,
                    merge_map=merge, min_per_class=args.min_per_class, rare=args.rare,
                    val_frac=args.val_frac, test_frac=args.test_frac,
                    use_corrections=bool(args.corrections))


class TrainPrinter:
    """Prints pipeline events on stderr: a bar per phase on a terminal, plain lines otherwise."""

    LINE_EVERY_S = 30.0

    def __init__(self, bars: bool):
        self.bars = bars
        self.bar = None
        self.bar_phase = None
        self.last_line = 0.0

    def _bar(self, phase: str, total: int, unit: str):
        if self.bar_phase != phase or self.bar is None or self.bar.total != total:
            self.close()
            self.bar = progress_bar(total, phase, enabled=self.bars, unit=unit)
            self.bar_phase = phase
        return self.bar

    def write(self, text: str) -> None:
        if self.bar is not None and self.bars:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self.bar_phase = None, None

    def __call__(self, ev) -> None:
        from trainer.events import (
            CancelledEvent,
            EpochEvent,
            FailedEvent,
            FinishedEvent,
            PhaseEvent,
            ProgressEvent,
            StepEvent,
        )
        from trainer.pipeline import DataReady

        if isinstance(ev, PhaseEvent):
            self.close()
            self.write(f"[{ev.phase}] {ev.message}")
        elif isinstance(ev, DataReady):
            for line in ev.lines:
                self.write(f"  {line}")
        elif isinstance(ev, ProgressEvent) and self.bars:
            bar = self._bar(ev.phase, ev.total, "rows")
            bar.update(ev.done - bar.n)
        elif isinstance(ev, StepEvent):
            self._step(ev)
        elif isinstance(ev, EpochEvent):
            self.write(f"  {ev.phase} epoch {ev.epoch}/{ev.epochs}: train loss {ev.train_loss:.4f} "
                       f"val loss {ev.val_loss:.4f} acc {ev.val_accuracy:.4f} macro-F1 {ev.val_macro_f1:.4f}"
                       f"{' *' if ev.improved else ''}  elapsed {ev.elapsed_s:.0f}s ETA {ev.eta_s:.0f}s")
            for line in ev.target_lines():
                self.write(f"    {line}")
        elif isinstance(ev, FinishedEvent):
            self.close()
            self.write(f"training finished in {ev.elapsed_s:.0f}s")
        elif isinstance(ev, CancelledEvent):
            self.close()
            self.write(ev.message)
        elif isinstance(ev, FailedEvent):
            self.close()
            self.write(f"training failed: {ev.message}")

    def _step(self, ev) -> None:
        if self.bars:  # one bar per phase, counting the run's global optimizer steps
            bar = self._bar(ev.phase, ev.total_steps, "steps")
            bar.set_postfix(loss=f"{ev.loss:.4f}", lr=f"{ev.lr:.1e}", refresh=False)
            bar.update(ev.step - bar.n)
            return
        now = time.perf_counter()
        if now - self.last_line >= self.LINE_EVERY_S:
            self.last_line = now
            self.write(f"  step {ev.step}/{ev.total_steps} epoch {ev.epoch:.2f} loss {ev.loss:.4f} "
                       f"lr {ev.lr:.1e} {ev.samples_per_s:.0f} samples/s")


def cmd_train(args) -> int:
    from trainer.pipeline import run  # the trainer (torch) is imported only when `train` runs

    cfg = train_config(args)
    spec = data_spec(args)
    if args.threads:
        from trainer.loop import set_threads
        set_threads(args.threads)
    corrections = None
    if args.corrections:
        from triage_app.corrections import CorrectionsStore
        corrections = CorrectionsStore(args.corrections if args.corrections != "default" else None)
    active = None
    if args.compare:
        from triage_app.engine import TicketClassifier
        active = TicketClassifier.load(resolve_model(args.compare), device="cpu")
    out = Path(args.out)
    rank = _torchrun_rank()
    main = rank in (None, 0)  # in a torchrun job, rank 0 alone reports
    printer = TrainPrinter(bars=progress_enabled(args) and main)
    try:
        o = run(spec, cfg, out, name=args.name or out.name, version=args.version, active=active,
                corrections=corrections, on_event=printer if main else None, resume=args.resume,
                checkpoint_dir=args.checkpoint_dir, card=args.card, card_extra=card_extra(args),
                transformer_from=resolve_model(args.transformer_from) if args.transformer_from else None,
                export_options={"quantize": not args.no_int8,
                                "meta_extra": {"read_only": bool(args.read_only)}},
                lock_owner=f"triage train {Path(args.data).name} (process {os.getpid()})")
    except Cancelled:
        printer.close()
        print("training cancelled; no bundle was written", file=sys.stderr)
        return 130
    finally:
        printer.close()
    if rank is not None:
        from trainer.distributed import shutdown

        shutdown()
        if not main:
            return 0
    print(json.dumps(_finite(summary(o)), indent=2, allow_nan=False))
    return 0


def _torchrun_rank() -> int | None:
    """This process's rank in a torchrun job (None: a plain run).  In a job, torchrun stops the
    other processes with SIGTERM when one fails: that ends this one with a one-line message
    instead of a silent kill (exports write to a temporary folder first, so none is left half-done)."""
    from trainer.distributed import PeerLost, launched

    if not launched():
        return None
    import signal

    rank = int(os.environ["RANK"])

    def stopped(signum, frame):
        raise PeerLost(f"training stopped on rank {rank}: the launcher (torchrun) ended this process because "
                       "another process of the job ended; no bundle was written")

    signal.signal(signal.SIGTERM, stopped)
    return rank


def _finite(x):
    """The summary as strict JSON: a value that is not a finite number (no rows to measure) is null."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def card_extra(args) -> str:
    if not args.card_extra:
        return ""
    try:
        return Path(args.card_extra).read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"{args.card_extra}: cannot read the card text ({e.strerror or e})") from e


def target_summary(m: dict) -> dict:
    """One target's figures in the summary: validation, test, test as served, what was served."""
    pick = lambda d: {k: d[k] for k in ("accuracy", "macro_f1")} if d else None  # noqa: E731
    h = m.get("hybrid") or {}
    return {"val": pick(m.get("val")), "test": pick(m.get("test")), "test_exported": pick(m.get("test_exported")),
            "temperature": h.get("temperature", m.get("temperature")), "served": h.get("chosen", "transformer"),
            "lexical_weight": h.get("lexical_weight", 0.0)}


def summary(o) -> dict:
    """What ``triage train`` prints on stdout when it is done."""
    m = o.metrics

    def pick(d):
        return {k: d[k] for k in ("accuracy", "macro_f1", "weighted_f1")} if d else None

    out = {"bundle": o.bundle_path, "precision": o.export.get("precision"),
           "precision_note": o.export.get("precision_note"), "val": pick(m.get("val")),
           "test": pick(m.get("test")), "test_exported": m.get("test_exported"),
           "temperature": m.get("temperature"), "ece_before": m.get("ece_before"),
           "ece_after": m.get("ece_after"), "elapsed_s": round(o.elapsed_s, 1),
           "preset": (o.config or {}).get("preset")}
    if o.plan:
        out["auto"] = {k: o.plan[k] for k in ("label", "estimate_s", "budget_s", "reason") if k in o.plan}
    if m.get("hybrid"):   # what is served: the blend's calibration replaces the transformer's
        h = m["hybrid"]
        out["hybrid"] = {k: h[k] for k in ("chosen", "lexical_weight", "chosen_by", "candidates") if k in h}
        out.update({k: h[k] for k in ("temperature", "ece_before", "ece_after") if k in h})
    if o.targets:   # several targets: each one's figures (the first is the primary, above)
        out["targets"] = {t["name"]: target_summary(t["metrics"]) for t in o.targets}
    if o.comparison is not None:
        c = o.comparison
        if "error" in c:
            out["compared_with_active"] = {"error": c["error"]}
        elif not c["rows"]:
            out["compared_with_active"] = {"model": c.get("active_name"), "rows": 0,
                                           "note": "the two models share no label: nothing to compare"}
        else:
            out["compared_with_active"] = {"model": c.get("active_name"), "rows": c["rows"],
                                           "shared_labels": len(c["shared"]), "active": c["active"],
                                           "new": c["new"], **({"caveat": c["caveat"]} if c.get("caveat") else {})}
        if c.get("targets"):   # several targets: each beside the active model's target of that name
            out.setdefault("compared_with_active", {})["targets"] = {
                name: {"rows": t["rows"], "total_rows": t["total_rows"], "shared_labels": len(t["shared"]),
                       "active": t["active"], "new": t["new"]}
                for name, t in c["targets"].items()}
    return out
