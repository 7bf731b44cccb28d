"""Several targets per ticket: one model for category, ticket_type, urgency and impact of the Endava
sample against one single-target model per target, trained with the same preset on the same file
(its fixed train/test split; validation carved from train), as ``triage train`` runs them.

For each model: the served test figures of the exported bundle per target, the time of the whole
run (``triage train``: transformer, lexical models, export) and of the transformer's training
alone, and the serving speed (tickets/s classifying the test rows with the engine, one run of the
model for all targets).  The speeds are measured after all trainings, side by side: every bundle
once per round, three rounds, the best round of each kept (this shared machine's speed drifts
over minutes, so speeds taken right after each training are not comparable).

    python bench/multitarget.py --preset quick            # results in bench/results/multitarget.json
    python bench/multitarget.py --train-rounds 2          # the training times again, in turns
    python bench/multitarget.py --table                   # the markdown table from those results
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ENDAVA, RESULTS, require_data, save  # noqa: E402

TARGETS = ["category", "ticket_type", "urgency", "impact"]


def _spec(cols):
    from trainer.pipeline import DataSpec

    return DataSpec(str(ENDAVA), cols[0], title_col="title", body_col="body", min_per_class=5,
                    label_cols=cols if len(cols) > 1 else [])


def _speeds(bundles: dict, df, rounds: int = 3) -> dict:
    """Tickets/s of the engine on the test rows for each bundle (all targets of a multi-target
    model in one run), measured round-robin: the best of ``rounds`` for each."""
    from triage_app.engine import TicketClassifier

    tickets = [{"title": t, "body": b} for t, b in zip(df.title, df.body)]
    clfs = {k: TicketClassifier.load(p, device="cpu") for k, p in bundles.items()}
    for clf in clfs.values():
        clf.predict(tickets[:32])   # warm-up
    best = {k: float("inf") for k in clfs}
    for _ in range(rounds):
        for k, clf in clfs.items():
            t0 = time.perf_counter()
            clf.predict(tickets)
            best[k] = min(best[k], time.perf_counter() - t0)
    return {k: len(tickets) / v for k, v in best.items()}


def _run(cols, preset, out_dir: Path, log) -> dict:
    from trainer.config import TrainConfig
    from trainer.pipeline import run
    from triage_app.bundle import load_bundle

    o = run(_spec(cols), TrainConfig.from_preset(preset), out_dir, name="-".join(cols), on_event=log)
    b = load_bundle(o.bundle_path)
    per = {}
    for t in (b.targets or [None]):
        m = t.metrics if t is not None else b.meta["metrics"]
        ex = m["test_exported"]
        h = m.get("hybrid") or {}
        per[t.name if t is not None else cols[0]] = {
            "accuracy": ex["accuracy"], "macro_f1": ex["macro_f1"], "rows": ex["rows"],
            "served": h.get("chosen", "transformer"), "lexical_weight": h.get("lexical_weight", 0.0)}
    return {"targets": per, "run_s": o.elapsed_s, "train_s": b.meta["metrics"].get("train_seconds"),
            "precision": b.precision, "bundle": str(o.bundle_path)}


def train_rounds(preset: str, rounds: int) -> dict:
    """The transformer's training alone (``trainer.loop.train`` on the prepared rows), the four-target
    model and the category model taking turns, ``rounds`` times each: this machine's speed drifts over
    minutes, so one training of each, minutes apart, is not a fair ratio."""
    from trainer.config import TrainConfig
    from trainer.loop import train
    from trainer.pipeline import prepare

    cfg = TrainConfig.from_preset(preset)
    data = {name: prepare(_spec(cols).with_config(cfg))[0] for name, cols in (("multi", TARGETS),
                                                                               ("category", ["category"]))}
    times = {name: [] for name in data}
    for r in range(rounds):
        for name, d in data.items():
            t0 = time.perf_counter()
            train(cfg, d)
            times[name].append(round(time.perf_counter() - t0, 1))
            print(f"round {r + 1}: {name} {times[name][-1]} s", flush=True)
    return {"preset": preset, "rounds": rounds, "seconds": times}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--train-rounds", type=int, default=0, metavar="N",
                    help="only time the transformer's training, four targets and category alone in turns, "
                         "N times each (added to the saved results)")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads((RESULTS / "multitarget.json").read_text())))
        return 0
    if args.train_rounds:
        require_data(ENDAVA)
        out = json.loads((RESULTS / "multitarget.json").read_text())
        out["train_rounds"] = train_rounds(args.preset, args.train_rounds)
        save("multitarget", {k: v for k, v in out.items() if k not in ("benchmark", "when", "machine")})
        print(table(out))
        return 0
    require_data(ENDAVA)
    import pandas as pd

    df = pd.read_csv(ENDAVA, dtype=str, keep_default_na=False)
    test_df = df[df["split"] == "test"]
    t0 = time.perf_counter()

    def log(ev):
        if type(ev).__name__ in ("PhaseEvent", "EpochEvent"):
            print(f"[{time.perf_counter() - t0:7.0f}s] {ev}", flush=True)

    out = {"preset": args.preset, "rows": len(df), "test_rows": len(test_df)}
    with tempfile.TemporaryDirectory() as tmp:
        out["multi"] = _run(TARGETS, args.preset, Path(tmp) / "multi", log)
        save("multitarget", out)          # partial results survive a later failure
        out["single"] = {}
        for c in TARGETS:
            out["single"][c] = _run([c], args.preset, Path(tmp) / c, log)
            save("multitarget", out)
        speeds = _speeds({"multi": out["multi"]["bundle"],
                          **{c: r["bundle"] for c, r in out["single"].items()}}, test_df)
    out["multi"]["tickets_per_s"] = speeds["multi"]
    for c, r in out["single"].items():
        r["tickets_per_s"] = speeds[c]
    for r in (out["multi"], *out["single"].values()):
        r.pop("bundle")
    save("multitarget", out)
    print(table(out))
    return 0


def table(r: dict) -> str:
    lines = [f"Preset `{r['preset']}`, {r['rows']:,} tickets, {r['test_rows']:,} test rows; figures of the exported "
             "bundles on test as served.", "",
             "| target | single acc | single macro-F1 | multi acc | multi macro-F1 | Δ acc | Δ macro-F1 |",
             "|---|---|---|---|---|---|---|"]
    multi = r["multi"]["targets"]
    for c, s in r.get("single", {}).items():
        s, m = s["targets"][c], multi[c]
        lines.append(f"| {c} | {s['accuracy']:.4f} | {s['macro_f1']:.4f} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} "
                     f"| {100 * (m['accuracy'] - s['accuracy']):+.1f} | {100 * (m['macro_f1'] - s['macro_f1']):+.1f} |")
    lines += ["", "| model | whole run (s) | transformer training (s) | served tickets/s | precision |",
              "|---|---|---|---|---|",
              f"| one model, {len(multi)} targets | {r['multi']['run_s']:.0f} | {r['multi']['train_s']:.0f} | "
              f"{r['multi'].get('tickets_per_s', float('nan')):.0f} | {r['multi']['precision']} |"]
    for c, s in r.get("single", {}).items():
        lines.append(f"| {c} alone | {s['run_s']:.0f} | {s['train_s']:.0f} | {s.get('tickets_per_s', float('nan')):.0f} "
                     f"| {s['precision']} |")
    tr = r.get("train_rounds")
    if tr:
        sec = tr["seconds"]
        lines += ["", f"Transformer training alone, the two models in turns ({tr['rounds']} rounds, "
                      f"`--train-rounds {tr['rounds']}`): four targets "
                      + ", ".join(f"{x:.0f}" for x in sec["multi"]) + " s; category alone "
                      + ", ".join(f"{x:.0f}" for x in sec["category"]) + " s; best of each "
                      f"{min(sec['multi']):.0f} vs {min(sec['category']):.0f} s "
                      f"(**{min(sec['multi']) / min(sec['category']):.2f}x**), medians "
                      f"{statistics.median(sec['multi']) / statistics.median(sec['category']):.2f}x."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
