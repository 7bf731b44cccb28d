"""ONNX Runtime's fused SkipLayerNormalization vs the Add + LayerNormalization it replaces, on the
CPU, for one BERT-sized input (no data needed).  This is why the exporter leaves the fusion out
and the engine's CPU session disables it (BENCHMARKS.md, inference).

    python bench/layernorm_fusion.py [--batch 16 --seq 40 --hidden 384 --threads 2]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402


def model(kind: str, hidden: int) -> bytes:
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h

    inputs = [h.make_tensor_value_info(n, T.FLOAT, ["b", "s", hidden]) for n in ("x", "skip")]
    inits = [onnx.numpy_helper.from_array(np.ones(hidden, np.float32), "gamma"),
             onnx.numpy_helper.from_array(np.zeros(hidden, np.float32), "beta")]
    if kind == "fused":
        nodes = [h.make_node("SkipLayerNormalization", ["x", "skip", "gamma", "beta"], ["y"],
                             domain="com.microsoft", epsilon=1e-12)]
    else:
        nodes = [h.make_node("Add", ["x", "skip"], ["sum"]),
                 h.make_node("LayerNormalization", ["sum", "gamma", "beta"], ["y"], axis=-1, epsilon=1e-12)]
    g = h.make_graph(nodes, kind, inputs, [h.make_tensor_value_info("y", T.FLOAT, None)], inits)
    m = h.make_model(g, ir_version=9, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.microsoft", 1)])
    return m.SerializeToString()


def main() -> int:
    import onnxruntime as ort

    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=40)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=500)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    feeds = {n: rng.standard_normal((args.batch, args.seq, args.hidden)).astype(np.float32) for n in ("x", "skip")}
    res, outs = {}, {}
    # "unfused, fusion disabled" is what the engine runs; with the session's default optimizations
    # ONNX Runtime fuses Add + LayerNormalization back into SkipLayerNormalization
    for name, kind, disabled in (("SkipLayerNormalization (fused kernel)", "fused", []),
                                 ("Add + LayerNormalization, session default (re-fused)", "plain", []),
                                 ("Add + LayerNormalization, fusion disabled (engine)", "plain", ["SkipLayerNormFusion"])):
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        s = ort.InferenceSession(model(kind, args.hidden), so, providers=["CPUExecutionProvider"],
                                 disabled_optimizers=disabled)
        for _ in range(20):
            outs[name] = s.run(None, feeds)[0]
        t0 = time.perf_counter()
        for _ in range(args.runs):
            s.run(None, feeds)
        us = (time.perf_counter() - t0) / args.runs * 1e6
        res[name] = {"us_per_call": us}
        print(f"{name:<55} {us:8.0f} us", flush=True)
    vals = list(outs.values())
    diff = float(max(np.abs(v - vals[0]).max() for v in vals))
    print(f"max |difference| between the outputs: {diff:.1e}")
    p = save("layernorm_fusion", {"shape": [args.batch, args.seq, args.hidden], "threads": args.threads,
                                  "results": res, "max_abs_diff": diff})
    print(f"-> {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
