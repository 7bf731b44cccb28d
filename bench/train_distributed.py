"""Data-parallel training on this machine: 1 process vs 2 processes (torchrun, gloo) with the same
global batch, on a sample of it_service_tickets; training samples/s of the fine-tuning epoch, wall
time of the whole training and the final validation accuracy / macro-F1.

    python bench/train_distributed.py [--rows 2000] [--head-epochs 5] [--finetune-epochs 1]

The sample is written to a temporary folder (never into the repository).  Three runs: one process
with one thread, one process with two threads, two processes with one thread each (what torchrun
sets).  Results: bench/results/train_distributed.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, load_it, save  # noqa: E402


def worker(args) -> int:
    """One process of a run (under torchrun or alone): the pipeline, events timed on rank 0."""
    from trainer.config import TrainConfig
    from trainer.events import EpochEvent, PhaseEvent, StepEvent
    from trainer.loop import set_threads
    from trainer.pipeline import DataSpec, run

    set_threads(args.threads)
    marks: dict = {"steps": []}

    def on_event(ev):
        now = time.perf_counter()
        if isinstance(ev, PhaseEvent) and ev.phase in ("features", "head", "cache", "finetune", "calibrate"):
            marks.setdefault(f"start_{ev.phase}", now)
        elif isinstance(ev, StepEvent) and ev.phase == "finetune":
            marks["steps"].append((now, ev.step))
        elif isinstance(ev, EpochEvent) and ev.phase == "finetune" and "finetune_epoch_end" not in marks:
            marks["finetune_epoch_end"] = now

    cfg = TrainConfig.standard(head_epochs=args.head_epochs, finetune_epochs=args.finetune_epochs,
                               finetune_layers=args.finetune_layers, batch_size=args.batch_size,
                               hybrid=False, patience=0, seed=42)
    spec = DataSpec(source=args.data, label_col="Topic_group", text_col="Document", val_frac=0.15,
                    test_frac=0.0)
    t0 = time.perf_counter()
    o = run(spec, cfg, Path(args.out), name="bench-dist", on_event=on_event,
            export_options={"quantize": False})
    wall = time.perf_counter() - t0
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    (t1, s1), (t2, s2) = marks["steps"][0], marks["steps"][-1]
    result = {"wall_s": wall, "train_seconds": o.metrics.get("train_seconds"),
              # optimizer steps after the first one, timed between their events (full batches but the last)
              "finetune_samples_per_s": (s2 - s1) * args.batch_size / (t2 - t1), "finetune_steps": s2 - s1,
              "head_phase_s": marks.get("start_finetune", 0) - marks.get("start_features", 0),
              "val_accuracy": o.metrics["val"]["accuracy"], "val_macro_f1": o.metrics["val"]["macro_f1"]}
    Path(args.result).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--head-epochs", type=int, default=5)
    ap.add_argument("--finetune-epochs", type=int, default=1)
    ap.add_argument("--finetune-layers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    df = load_it("train").sample(n=args.rows, random_state=0)[["Document", "Topic_group"]]
    runs = [("1 process x 1 thread", 1, 1), ("1 process x 2 threads", 1, 2), ("2 processes x 1 thread", 2, 1)]
    out: dict = {"rows": args.rows, "global_batch": args.batch_size, "head_epochs": args.head_epochs,
                 "finetune_epochs": args.finetune_epochs, "finetune_layers": args.finetune_layers,
                 "precision": "auto (bf16 autocast on this CPU)", "runs": {}}
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "sample.csv"
        df.to_csv(data, index=False)
        for label, nproc, threads in runs:
            tag = label.replace(" ", "_")
            common = [str(Path(__file__).resolve()), "--worker", "--threads", str(threads), "--data", str(data),
                      "--out", str(Path(tmp) / tag), "--result", str(Path(tmp) / f"{tag}.json"),
                      "--head-epochs", str(args.head_epochs), "--finetune-epochs", str(args.finetune_epochs),
                      "--finetune-layers", str(args.finetune_layers), "--batch-size", str(args.batch_size)]
            cmd = [sys.executable, *common] if nproc == 1 else \
                [torchrun, "--standalone", "--nproc_per_node", str(nproc), *common]
            env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TRIAGE_DATA_DIR": str(Path(tmp) / "ud"),
                   "PYTHONPATH": str(ROOT)}
            print(f"{label} ...", file=sys.stderr, flush=True)
            r = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"{label} failed:\n{r.stderr[-3000:]}")
            res = json.loads((Path(tmp) / f"{tag}.json").read_text())
            out["runs"][label] = res
            print(f"  {json.dumps(res)}", file=sys.stderr, flush=True)
    p = save("train_distributed", out)
    print(json.dumps(out["runs"], indent=2))
    print(f"saved {p}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
