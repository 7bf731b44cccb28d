"""Inference throughput, latency and memory on the `test` split of it_service_tickets.

Same dual all-MiniLM-L6-v2 weights for every variant (the shipped bundle's towers are fine-tuned,
but speed does not depend on the values, so the variants are built from one PyTorch model and
exported the same way the trainer exports):
  (a) reference recipe: PyTorch eager fp32, every ticket padded to 128, batch 64
  (b) PyTorch fp32, dynamic padding, length-sorted batches of 64
  (b2) PyTorch bf16 autocast, dynamic padding
  (c) ONNX Runtime fp32     (d) ONNX Runtime optimized     (e) ONNX Runtime int8
  (e3)/(e4) int8 in the engine's CPU session (SkipLayerNormalization left unfused), batch 64 / 16
  (s) the shipped bundle through the engine (what the app runs)
Also single-ticket latency p50/p95 of the shipped engine and peak RSS of
`triage classify` on 100,000 rows.

    python bench/inference.py [--rows 4784] [--no-rss] [--rounds 3] [--tag avx2]

``--rounds N`` then times the reference (a) and the shipped bundle (s) N more times in turns and
reports each round's ratio and their median (a shared machine's speed drifts by more than the
distance to a goal); ``--tag`` writes ``bench/results/inference-TAG.json`` (another machine type).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, load_it, peak_rss_of, save  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4784)
    ap.add_argument("--latency-rows", type=int, default=300)
    ap.add_argument("--rss-rows", type=int, default=100_000)
    ap.add_argument("--no-rss", action="store_true")
    ap.add_argument("--model", default=str(ROOT / "resources" / "models" / "it-service-minilm"))
    ap.add_argument("--rounds", type=int, default=0, help="time (a) and (s) this many more times, in turns")
    ap.add_argument("--tag", default="", help="results file bench/results/inference-TAG.json")
    args = ap.parse_args()

    import torch

    from trainer.config import DEFAULT_BASE
    from trainer.export import INPUT_NAMES, export_onnx, optimize_onnx
    from trainer.int8 import quantize_int8
    from trainer.model import DualBertClassifier, tokenizer_file
    from triage_app.engine import TicketClassifier
    from triage_app.text import compose
    from triage_app.tokens import encode, load_tokenizer, pad_batch

    test = load_it("test").iloc[: args.rows]
    texts = [compose(None, None, t, "same")[0] for t in test["Document"]]
    n = len(texts)
    tok = load_tokenizer(tokenizer_file(DEFAULT_BASE), 128)
    ids = encode(tok, texts)
    order = np.argsort([-len(x) for x in ids], kind="stable")
    batches = [order[i: i + 64] for i in range(0, n, 64)]
    model = DualBertClassifier.from_pretrained(DEFAULT_BASE, None, 8).eval()
    results = {}

    def timed(name, fn, bs=None):
        bs = batches if bs is None else bs
        fn(bs[:2])  # warm-up
        t0 = time.perf_counter()
        fn(bs)
        dt = time.perf_counter() - t0
        results[name] = {"tickets_per_s": n / dt, "seconds": dt}
        print(f"{name:<40} {n / dt:8.1f} tickets/s", flush=True)

    def torch_run(pad_to=None, bf16=False, natural_order=False):
        def run(bs):
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                for b in bs:
                    a, m = pad_batch([ids[i] for i in b], pad_to)
                    ta, tm = torch.from_numpy(a), torch.from_numpy(m)
                    model(ta, tm, ta, tm)
        return run

    # (a) the reference: unsorted batches padded to 128
    ref_batches = [np.arange(i, min(i + 64, n)) for i in range(0, n, 64)]

    def ref(bs):
        with torch.no_grad():
            for b in (ref_batches[:2] if len(bs) == 2 else ref_batches):
                a, m = pad_batch([ids[i] for i in b], 128)
                ta, tm = torch.from_numpy(a), torch.from_numpy(m)
                model(ta, tm, ta, tm)
    timed("(a) reference: torch fp32, pad 128", ref)
    timed("(b) torch fp32, dynamic padding", torch_run())
    timed("(b2) torch bf16 autocast, dynamic padding", torch_run(bf16=True))

    import onnxruntime as ort

    work = Path(tempfile.mkdtemp(prefix="bench-onnx-"))
    fp32 = work / "fp32.onnx"
    export_onnx(model, fp32)
    opt = work / "opt.onnx"
    optimize_onnx(fp32, opt, 384, 12)
    q = work / "int8.onnx"
    quantize_int8(opt, q)
    q_plain = work / "int8_plain.onnx"
    quantize_int8(fp32, q_plain)

    def ort_run(path):
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

        def run(bs):
            for b in bs:
                a, m = pad_batch([ids[i] for i in b])
                sess.run(None, dict(zip(INPUT_NAMES, (a, m, a, m))))
        return run
    timed("(c) ONNX Runtime fp32", ort_run(fp32))
    timed("(d) ONNX Runtime fp32 optimized", ort_run(opt))
    timed("(e) ONNX Runtime int8 (optimized graph)", ort_run(q))
    timed("(e2) ONNX Runtime int8 (plain graph)", ort_run(q_plain))
    from triage_app.engine import CPU_BATCH, ort_session
    eng = ort_session(str(q), ["CPUExecutionProvider"], None, quiet=False)  # the engine's CPU session

    def eng_run(bs):
        for b in bs:
            a, m = pad_batch([ids[i] for i in b])
            eng.run(None, dict(zip(INPUT_NAMES, (a, m, a, m))))
    timed("(e3) int8, engine session (no SkipLayerNorm fusion)", eng_run)
    small = [order[i: i + CPU_BATCH] for i in range(0, n, CPU_BATCH)]
    timed(f"(e4) int8, engine session, batches of {CPU_BATCH}", eng_run, small)
    sizes = {p.stem: round(p.stat().st_size / 2**20, 1) for p in (fp32, opt, q, q_plain)}

    shipped = None
    if Path(args.model).exists():
        clf = TicketClassifier.load(args.model, device="cpu")
        tickets = [{"text": t} for t in test["Document"]]
        clf.predict_proba(tickets[:64])
        t0 = time.perf_counter()
        clf.predict_proba(tickets)  # the engine's default batch size for its device
        dt = time.perf_counter() - t0
        results["(s) shipped bundle via engine"] = {"tickets_per_s": n / dt, "seconds": dt,
                                                    "precision": clf.bundle.precision,
                                                    "batch_size": clf.default_batch_size}
        print(f"{'(s) shipped bundle via engine (' + clf.bundle.precision + ')':<40} {n / dt:8.1f} tickets/s")
        lat = []
        for t in tickets[: args.latency_rows]:
            t0 = time.perf_counter()
            clf.predict(t)
            lat.append((time.perf_counter() - t0) * 1000)
        lat = np.array(lat)
        shipped = {"precision": clf.bundle.precision, "p50_ms": float(np.percentile(lat, 50)),
                   "p95_ms": float(np.percentile(lat, 95)), "max_ms": float(lat.max()), "rows": len(lat)}
        print(f"single-ticket latency: p50 {shipped['p50_ms']:.1f} ms, p95 {shipped['p95_ms']:.1f} ms")
    rounds = None
    if args.rounds > 0 and shipped is not None:
        rounds = {"reference": [], "shipped": [], "ratio": []}
        for r in range(args.rounds):
            t0 = time.perf_counter()
            ref(batches)
            a = n / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            clf.predict_proba(tickets)
            s = n / (time.perf_counter() - t0)
            rounds["reference"].append(a)
            rounds["shipped"].append(s)
            rounds["ratio"].append(s / a)
            print(f"round {r + 1}: reference {a:.1f}, shipped {s:.1f} tickets/s: {s / a:.2f}x", flush=True)
        rounds["median_ratio"] = float(np.median(rounds["ratio"]))
        print(f"median ratio over {args.rounds} rounds: {rounds['median_ratio']:.2f}x")
    base = results["(a) reference: torch fp32, pad 128"]["tickets_per_s"]
    for v in results.values():
        v["ratio_to_reference"] = v["tickets_per_s"] / base

    rss = None
    if not args.no_rss and Path(args.model).exists():
        big = work / "big.csv"
        reps = int(np.ceil(args.rss_rows / len(test)))
        import pandas as pd
        pd.concat([test[["Document"]]] * reps, ignore_index=True).iloc[: args.rss_rows].to_csv(big, index=False)
        out = work / "big.out.csv"
        exe = [sys.executable, "-m", "triage_app", "classify", str(big), "-o", str(out), "--model", args.model,
               "--text-col", "Document", "-q"]
        peak, wall, rc = peak_rss_of(exe, env={**os.environ, "PYTHONPATH": str(ROOT)})
        rss = {"rows": args.rss_rows, "peak_rss_mb": peak, "wall_s": wall, "exit": rc}
        print(f"triage classify {args.rss_rows:,} rows: peak RSS {peak:.0f} MB, {wall:.0f} s, exit {rc}")
    p = save("inference" + (f"-{args.tag}" if args.tag else ""),
             {"rows": n, "results": results, "onnx_sizes_mb": sizes, "latency": shipped, "rounds": rounds,
              "classify_rss": rss, "torch_threads": torch.get_num_threads()})
    print(f"-> {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
