"""Accuracy table: TF-IDF + LR yardstick, the reference recipe (`seed` preset), our presets and the
shipped model, on the fixed splits of ../shared/data.

    python bench/accuracy.py --rows it-tfidf,it-seed,it-quick,it-shipped
    python bench/accuracy.py --rows endava-category-tfidf,endava-category-quick-same,endava-category-quick-split
    python bench/accuracy.py --table          # print the markdown table from bench/results/accuracy.json

Rows are merged into bench/results/accuracy.json, so they can be run one at a time.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ENDAVA, IT, RESULTS, ROOT, machine, require_data, write_text_atomic  # noqa: E402

SHIPPED = ROOT / "resources" / "models" / "it-service-minilm"


def _frame(path):
    import pandas as pd
    require_data(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _dataset(name):
    """(df, label_col, column kwargs for routing 'same' and 'split')"""
    if name == "it":
        return _frame(IT), "Topic_group", {"same": {"text_col": "Document"}, "split": {"text_col": "Document"}}
    df = _frame(ENDAVA)
    label = name.split("-")[1]  # endava-category / endava-ticket_type
    cols = {"title_col": "title", "body_col": "body"}
    return df, label, {"same": cols, "split": cols}


def prepare_dataset(name, routing="same"):
    from trainer.data import prepare_frame
    df, label, cols = _dataset("it" if name == "it" else name)
    min_pc = 30 if name == "it" else 5
    return prepare_frame(df, label_col=label, routing=routing, min_per_class=min_pc, class_weights=True,
                         source=str(IT if name == "it" else ENDAVA), **cols[routing])


def metrics_of(rep):
    return {k: rep[k] for k in ("accuracy", "weighted_f1", "macro_f1")}


def row_tfidf(ds):
    from trainer.evaluate import tfidf_baseline
    d = prepare_dataset(ds)
    t0 = time.perf_counter()
    tr_text = d.train.text_a + d.val.text_a
    tr_y = np.concatenate([d.train.y, d.val.y])
    rep = tfidf_baseline(tr_text, tr_y, d.test.text_a, d.test.y, d.labels)
    return {**metrics_of(rep), "train_s": time.perf_counter() - t0, "what": "TF-IDF 1-2 grams + balanced LR (train+val)"}


def row_preset(ds, preset, routing="same", **kw):
    from trainer.config import TrainConfig
    from trainer.loop import train
    d = prepare_dataset(ds, routing)
    cfg = TrainConfig.from_preset(preset, routing=routing, **kw) if preset != "seed" else TrainConfig.from_preset("seed", **kw)
    t0 = time.perf_counter()

    def log(ev):        # phases and epochs only: enough to follow a long run in its log
        name = type(ev).__name__
        if name in ("PhaseEvent", "EpochEvent"):
            print(f"[{time.perf_counter() - t0:7.0f}s] {ev}", flush=True)

    res = train(cfg, d, log)
    return {**metrics_of(res.metrics["test"]), "train_s": time.perf_counter() - t0, "routing": cfg.routing,
            "pooling": cfg.pooling, "max_length": cfg.max_length, "tower_lr": cfg.tower_lr,
            "what": f"preset {preset} ({cfg.routing} routing, {cfg.pooling} pooling"
                    + (f", max length {cfg.max_length}" if "max_length" in kw else "")
                    + (f", tower lr {cfg.tower_lr:.0e}".replace("e-0", "e-") if "tower_lr" in kw else "") + ")",
            "val": metrics_of(res.metrics["val"])}


def row_pipeline(ds, preset, hybrid=True):
    """``triage train`` as a user runs it (trainer.pipeline.run: the lexical model and the blend
    chosen on validation unless ``hybrid`` is off); the figures are the exported bundle's on test
    as the app serves it."""
    import tempfile

    from trainer.config import TrainConfig
    from trainer.pipeline import DataSpec, run
    label = ds.split("-")[1]
    spec = DataSpec(str(ENDAVA), label, title_col="title", body_col="body", min_per_class=5)
    cfg = TrainConfig.from_preset(preset, hybrid=hybrid)
    with tempfile.TemporaryDirectory() as tmp:
        o = run(spec, cfg, Path(tmp) / "m", name=f"{ds}-{preset}")
    ex = o.metrics["test_exported"]
    h = o.metrics.get("hybrid")
    chose = (f"; chosen on validation: {h['chosen']}" + (f" {h['lexical_weight']:g}" if h["chosen"] == "blend" else "")
             if h else "")
    return {**metrics_of(ex), "train_s": o.elapsed_s, "hybrid": h,
            "what": f"preset {preset}, `triage train`{' --no-lexical' if not hybrid else ''}, as served{chose}"}


def row_auto(ds, budget_s=None, rows=None, seed=0):
    """``triage train`` with no preset option (``auto``), as a user runs it: the plan and its estimate,
    the phases' start times (to check the estimate), the served test figures of the bundle, and the
    TF-IDF + LR yardstick trained on the same split side by side.  ``rows``: a random sample of that
    many tickets of the file (split 80/10/10 by the pipeline)."""
    import tempfile

    from trainer.config import TrainConfig
    from trainer.evaluate import tfidf_baseline
    from trainer.pipeline import DataSpec, run

    if ds == "it":
        df, label, cols = _frame(IT), "Topic_group", {"text_col": "Document"}
    else:
        df, label, cols = _frame(ENDAVA), ds.split("-", 1)[1], {"title_col": "title", "body_col": "body"}
    if rows:
        df = df.sample(n=rows, random_state=seed).drop(columns=["split"]).reset_index(drop=True)
    spec = DataSpec(str(IT if ds == "it" else ENDAVA), label, df=df, min_per_class=None if rows else
                    (30 if ds == "it" else 5), **cols)
    t0 = time.perf_counter()
    phases = []

    def log(ev):
        if type(ev).__name__ == "PhaseEvent":
            phases.append([round(time.perf_counter() - t0, 1), ev.phase, ev.message])
            print(f"[{time.perf_counter() - t0:7.0f}s] {ev.phase}: {ev.message}", flush=True)
        elif type(ev).__name__ == "EpochEvent":
            print(f"[{time.perf_counter() - t0:7.0f}s] {ev}", flush=True)

    cfg = TrainConfig.auto(time_budget_s=budget_s)
    with tempfile.TemporaryDirectory() as tmp:
        o = run(spec, cfg, Path(tmp) / "m", name=f"{ds}-auto", on_event=log)
        from triage_app.bundle import load_bundle
        plan = load_bundle(o.bundle_path).meta.get("auto")
    # the yardstick on the very split the pipeline made (train+val to fit, test to score)
    from trainer.pipeline import prepare
    d, _ = prepare(spec.with_config(cfg))
    tf = tfidf_baseline(d.train.text_a + d.val.text_a, np.concatenate([d.train.y, d.val.y]),
                        d.test.text_a, d.test.y, d.labels)
    ex = o.metrics["test_exported"]
    h = o.metrics.get("hybrid") or {}
    chose = h.get("chosen", "transformer") + (f" {h['lexical_weight']:g}" if h.get("chosen") == "blend" else "")
    what = (f"`triage train`, no preset option: auto chose {plan['label']} (estimate {plan['estimate_s'] / 60:.1f} "
            f"min), served {chose}" + (f"; {rows} tickets sampled" if rows else ""))
    return {**metrics_of(ex), "train_s": time.perf_counter() - t0, "plan": plan, "phases": phases, "hybrid": h,
            "tfidf_same_split": metrics_of(tf), "test_rows": int(ex["rows"]), "what": what}


def row_shipped(transformer_only: bool = False):
    """The shipped bundle on the IT test split through the engine, as served; ``transformer_only``:
    its int8 transformer alone (its logits, no lexical part), with the CPU's instruction sets: int8
    kernels differ by CPU (ONNX Runtime's u8s8 path on CPUs without VNNI can saturate), and the int8
    gate ran on the exporting machine."""
    from trainer.evaluate import classification_report
    from triage_app.bundle import load_bundle
    from triage_app.engine import TicketClassifier
    b = load_bundle(SHIPPED)
    d = prepare_dataset("it")
    clf = TicketClassifier.load(b, device="cpu")
    tickets = [{"text": t} for t in d.test.text_a]
    if transformer_only:
        scores = clf.transformer_logits([clf.compose(t) for t in tickets], None)[:, :len(clf.labels)]
    else:
        scores = clf.predict_proba(tickets)
    idx = {lab: i for i, lab in enumerate(clf.labels)}
    y = np.array([idx[d.labels[k]] for k in d.test.y])
    rep = classification_report(y, scores.argmax(1), clf.labels)
    if transformer_only:
        isa = machine().get("isa")
        return {**metrics_of(rep), "train_s": None, "precision": b.precision, "isa": isa,
                "what": f"shipped bundle's ONNX {b.precision} transformer alone via the engine, CPU with "
                        f"{', '.join(isa or ['?'])}"}
    torch_test = b.meta["metrics"].get("test", {})
    return {**metrics_of(rep), "train_s": b.meta["metrics"].get("train_seconds"), "precision": b.precision,
            "what": f"shipped bundle as served via the engine (ONNX {b.precision} transformer"
                    + (f" blended with the lexical model, weight {b.lexical_weight:g})" if b.lexical_weight else ")"),
            "torch_before_export": metrics_of(torch_test) if torch_test else None}


def row_shipped_fp32():
    """The shipped model's weights in PyTorch fp32, from its training checkpoint (``make model``
    writes runs/default/ckpt; another directory with TRIAGE_SHIPPED_CKPT)."""
    import os

    from soup import score

    from trainer.checkpoint import load_checkpoint
    from triage_app.bundle import load_bundle
    ckpt = os.environ.get("TRIAGE_SHIPPED_CKPT", str(ROOT / "runs" / "default" / "ckpt"))
    b = load_bundle(SHIPPED)
    if load_checkpoint(ckpt)["config"] != b.meta["train_config"]:
        sys.exit(f"{ckpt}: its training config is not the shipped bundle's; set TRIAGE_SHIPPED_CKPT")
    r = next(score([ckpt], ["test"], fp32=True))["test"]
    return {**r, "train_s": b.meta["metrics"].get("train_seconds"), "precision": "fp32",
            "what": "shipped model's transformer, PyTorch fp32 (its checkpoint, before export)"}


ROWS = {
    "it-tfidf": lambda: row_tfidf("it"),
    "it-shipped": lambda: row_shipped(),
    "it-shipped-fp32": lambda: row_shipped_fp32(),
    "it-shipped-transformer": lambda: row_shipped(transformer_only=True),
    # The reference recipe with frozen towers: padding every ticket to 128 changes only the cost (the
    # attention mask hides the padding), so features are computed with dynamic padding here; the
    # cost of pad-128 is measured by bench/train.py and bench/inference.py.
    "it-seed": lambda: row_preset("it", "seed", pad_to_max=False),
    "it-quick": lambda: row_preset("it", "quick"),
    "it-standard": lambda: row_preset("it", "standard"),                   # tower lr 2e-4
    "it-standard-lr1e-4": lambda: row_preset("it", "standard", tower_lr=1e-4),  # the preset before
    "it-standard-len256": lambda: row_preset("it", "standard", max_length=256, tower_lr=1e-4),
    "it-quick-pooler": lambda: row_preset("it", "quick", pooling="pooler"),
    "it-standard-pooler": lambda: row_preset("it", "standard", pooling="pooler"),  # fine-tuned, as the study
    "endava-category-tfidf": lambda: row_tfidf("endava-category"),
    "endava-category-quick-same": lambda: row_preset("endava-category", "quick", "same"),
    "endava-category-quick-split": lambda: row_preset("endava-category", "quick", "split"),
    "endava-category-standard-same": lambda: row_preset("endava-category", "standard", "same", tower_lr=1e-4),
    "endava-category-standard-split": lambda: row_preset("endava-category", "standard", "split", tower_lr=1e-4),
    "endava-ticket_type-tfidf": lambda: row_tfidf("endava-ticket_type"),
    "endava-ticket_type-quick-same": lambda: row_preset("endava-ticket_type", "quick", "same"),
    "endava-ticket_type-quick-split": lambda: row_preset("endava-ticket_type", "quick", "split"),
    "endava-category-quick-served": lambda: row_pipeline("endava-category", "quick", hybrid=False),
    "endava-category-quick-hybrid": lambda: row_pipeline("endava-category", "quick"),
    "endava-ticket_type-quick-served": lambda: row_pipeline("endava-ticket_type", "quick", hybrid=False),
    "endava-ticket_type-quick-hybrid": lambda: row_pipeline("endava-ticket_type", "quick"),
    "it-auto": lambda: row_auto("it"),
    "it2000-auto": lambda: row_auto("it", rows=2000),
    **{f"endava-{t}-auto": (lambda t=t: row_auto(f"endava-{t}"))
       for t in ("category", "ticket_type", "business_service", "urgency", "impact")},
}


def table(res: dict) -> str:
    lines = ["| dataset / label | model | accuracy | weighted F1 | macro F1 | train wall time |",
             "|---|---|---|---|---|---|"]
    rows = res.get("rows", {})
    for key in [k for k in ROWS if k in rows] + [k for k in rows if k not in ROWS]:  # registry order
        r = rows[key]
        ds = ("it_service_tickets / Topic_group" if key.startswith("it")
              else f"endava_tickets_sample / {key.split('-')[1]}")
        ts = f"{r['train_s'] / 60:.1f} min" if r.get("train_s") else "-"
        lines.append(f"| {ds} | {r['what']} | {r['accuracy']:.4f} | {r['weighted_f1']:.4f} | {r['macro_f1']:.4f} | {ts} |")
        if r.get("tfidf_same_split"):
            t = r["tfidf_same_split"]
            lines.append(f"| {ds} | TF-IDF 1-2 grams + balanced LR on the same split ({r['test_rows']} test rows) | "
                         f"{t['accuracy']:.4f} | {t['weighted_f1']:.4f} | {t['macro_f1']:.4f} | - |")
        if r.get("torch_before_export"):
            t = r["torch_before_export"]
            lines.append(f"| {ds} | shipped model's transformer, PyTorch bf16 autocast (before export) | {t['accuracy']:.4f} | "
                         f"{t['weighted_f1']:.4f} | {t['macro_f1']:.4f} | {ts} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="")
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--tag", default="", help="store the rows as KEY@TAG (e.g. another machine type), "
                                              "keeping the untagged rows")
    args = ap.parse_args()
    path = RESULTS / "accuracy.json"
    res = json.loads(path.read_text()) if path.exists() else {"rows": {}}
    for key in [k for k in args.rows.split(",") if k]:
        if key not in ROWS:
            sys.exit(f"unknown row {key}; choose from {', '.join(ROWS)}")
        print(f"== {key}", flush=True)
        r = ROWS[key]()
        r["when"] = time.strftime("%Y-%m-%d %H:%M")
        r["machine"] = machine()          # rows come from several machines over time
        res["rows"][f"{key}@{args.tag}" if args.tag else key] = r
        res["machine"] = machine()
        RESULTS.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(res, indent=2, default=float))  # a kill keeps the rows so far
        print(json.dumps({k: v for k, v in r.items() if k in ("accuracy", "weighted_f1", "macro_f1", "train_s")}), flush=True)
    if args.table or not args.rows:
        print(table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
