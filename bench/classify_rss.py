"""Peak memory of `triage classify` on a large CSV: does memory stay flat as rows grow?

    python bench/classify_rss.py --rows 1000000 --tiny        # 1M rows, tiny random model (fast)
    python bench/classify_rss.py --rows 100000                 # the shipped model (slow: ~120 rows/s)

The input is written by this script from the project's own sample tickets (resources/samples),
repeated with a row number, so no dataset from ../shared is needed. The CLI runs in a child
process; its RSS (process tree) is sampled every 50 ms, the peak and a timeline are recorded in
bench/results/classify_rss[_tiny].json. ``--tiny`` exports a tiny random dual-BERT (2 layers,
hidden 32, real vocabulary) so that a million rows take minutes: it measures the streaming
reader, tokenizer, engine and writer, not the cost of the real model's weights.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, peak_rss_of, save  # noqa: E402

SHIPPED = ROOT / "resources" / "models" / "it-service-minilm"
SAMPLES = ROOT / "resources" / "samples" / "sample_tickets.csv"


def write_rows(path: Path, n: int) -> int:
    with open(SAMPLES, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    cols = ["row", "title", "body", "priority"]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for i in range(n):
            r = rows[i % len(rows)]
            w.writerow([i, r["title"], f"{r['body']} (ref {i})", r["priority"]])
    return path.stat().st_size


def tiny_bundle(out: Path) -> Path:
    import pandas as pd

    from trainer.config import TrainConfig
    from trainer.data import prepare_frame
    from trainer.export import export_result
    from trainer.loop import train
    from trainer.model import save_tiny_checkpoint
    ck = save_tiny_checkpoint(out / "tiny-ckpt")
    df = pd.read_csv(SAMPLES, dtype=str, keep_default_na=False)
    data = prepare_frame(df, label_col="category", title_col="title", body_col="body", min_per_class=5,
                         test_frac=0.0)
    res = train(TrainConfig.quick(base_model=str(ck), head_epochs=2, max_length=128), data, None)
    bundle, _ = export_result(res, out / "tiny-bundle", name="tiny", version="1", quantize=False)
    return bundle.path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--tiny", action="store_true", help="a tiny random model instead of the shipped one")
    ap.add_argument("--model", default=str(SHIPPED))
    ap.add_argument("--chunk-size", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="triage-rss-") as tmp:
        work = Path(tmp)
        model = tiny_bundle(work) if args.tiny else Path(args.model)
        src = work / "big.csv"
        t0 = time.perf_counter()
        size = write_rows(src, args.rows)
        print(f"wrote {args.rows:,} rows ({size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.0f}s", flush=True)
        out = work / "big.triaged.csv"
        cmd = [sys.executable, "-m", "triage_app", "classify", str(src), "-o", str(out), "--model", str(model),
               "--title-col", "title", "--body-col", "body", "--chunk-size", str(args.chunk_size), "-q"]
        timeline: list = []
        peak, wall, rc = peak_rss_of(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeline=timeline)
        with open(out, encoding="utf-8-sig", newline="") as f:
            out_rows = sum(1 for _ in csv.reader(f)) - 1 if out.exists() else 0
    n = len(timeline)
    q = {f"rss_mb_at_{p}pct_time": timeline[min(n - 1, n * p // 100)][1] for p in (10, 25, 50, 75)} if n else {}
    res = {"rows": args.rows, "model": "tiny random dual-BERT (2 layers, hidden 32)" if args.tiny else str(model),
           "input_mib": size / 2**20, "peak_rss_mb": peak, "wall_s": wall, "rows_per_s": args.rows / wall,
           "exit": rc, "output_rows": out_rows, "chunk_size": args.chunk_size, **q, "timeline": timeline}
    print(f"triage classify {args.rows:,} rows: peak RSS {peak:.0f} MB, {wall:.0f} s "
          f"({args.rows / wall:,.0f} rows/s), exit {rc}, {out_rows:,} rows written; {q}")
    p = save("classify_rss_tiny" if args.tiny else "classify_rss", res)
    print(f"-> {p}")
    return 0 if rc == 0 and out_rows == args.rows else 1


if __name__ == "__main__":
    sys.exit(main())
