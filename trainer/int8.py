"""The int8 step of the export: dynamic int8 variants of the ONNX graph tried in order, the first
that passes the gate ships.  Gate: top-1 agreement with fp32 >= :data:`GATE_AGREEMENT` and accuracy
within :data:`GATE_ACC_DROP`, on the validation rows and on what the app serves (each target's
logits blended with its lexical part, :func:`served_scores`).  Used by :mod:`trainer.export`; the
quantizer's log lines go to the log at DEBUG."""
from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np

from trainer.export_targets import gate_figures
from triage_app import text as textmod
from triage_app.errors import Cancelled
from triage_app.hybrid import blend_logits

GATE_AGREEMENT = 0.99
GATE_ACC_DROP = 0.005


# int8 variants tried in order; the first that passes the gate ships (smallest and fastest
# first).  "int8" quantizes the MatMul/Attention weights (int8 compute) and the word embeddings;
# "int8-emb" only stores the embedding tables as int8 (compute stays fp32): smaller, not faster.
INT8_VARIANTS = (
    {"name": "per-tensor", "per_channel": False, "ops": ["MatMul", "Attention", "Gather"], "precision": "int8"},
    {"name": "per-channel", "per_channel": True, "ops": ["MatMul", "Attention", "Gather"], "precision": "int8"},
    {"name": "per-channel, fp32 embeddings", "per_channel": True, "ops": ["MatMul", "Attention"], "precision": "int8"},
    # The feed-forward output MatMul reads the GELU output, whose outliers suffer most from one
    # activation scale per batch; the first layer's was the most sensitive in a scan on training
    # rows (agreement with fp32 0.9966 all int8, 0.9976 without layer 0's, 0.9985 without any).
    {"name": "per-channel, fp32 first feed-forward output", "per_channel": True,
     "ops": ["MatMul", "Attention", "Gather"], "exclude": r"layer\.0/output/dense", "precision": "int8"},
    {"name": "per-channel, fp32 feed-forward outputs", "per_channel": True,
     "ops": ["MatMul", "Attention", "Gather"], "exclude": r"layer\.\d+/output/dense", "precision": "int8"},
    # the fused attention's Q/K/V projection stays fp32; the attention output and FFN MatMuls int8
    {"name": "per-channel MatMul only (fp32 attention Q/K/V)", "per_channel": True, "ops": ["MatMul"],
     "exclude": "attention/self", "precision": "int8"},
    # only the feed-forward MatMuls (two thirds of the encoder's weights) int8
    {"name": "per-channel feed-forward only", "per_channel": True, "ops": ["MatMul"],
     "exclude": "attention/", "precision": "int8"},
    {"name": "int8 embeddings only", "per_channel": False, "ops": ["Gather"], "precision": "int8-emb"},
)


def quantize_int8(src, dst, per_channel: bool = False,
                  ops=("MatMul", "Attention", "Gather"), exclude: str | None = None) -> None:
    """Dynamic int8 quantization of ``ops``; nodes whose name matches the regular expression
    ``exclude`` (anywhere in the name) stay fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    skip = []
    if exclude:
        graph = onnx.load(str(src), load_external_data=False).graph
        skip = [n.name for n in graph.node if re.search(exclude, n.name)]
    with quantizer_logs_at_debug():
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                         op_types_to_quantize=list(ops), nodes_to_exclude=skip,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


class _QuantizerLogToDebug(logging.Filter):
    """ONNX Runtime's quantizer logs about a hundred INFO lines per model straight on the root logger
    (``logging.info``), and a warning per call that advises pre-processing for static quantization;
    they go to the ``onnxruntime.quantization`` logger at DEBUG instead."""

    target = logging.getLogger("onnxruntime.quantization")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.WARNING and "onnxruntime" in record.pathname:
            self.target.debug(record.getMessage())
            return False
        return True


@contextmanager
def quantizer_logs_at_debug():
    root, f = logging.getLogger(), _QuantizerLogToDebug()
    root.addFilter(f)
    try:
        yield
    finally:
        root.removeFilter(f)


def served_scores(parts: dict, rows_a, rows_b, sizes: list[int] | None):
    """The function that turns the transformer's logits on the validation rows into the scores the
    app serves: each target's segment blended with its lexical part (``parts``: target index ->
    (lexical ONNX path, weight)); None when nothing is blended (the logits are served as they are)."""
    if not parts:
        return None
    from trainer.lexical import onnx_proba

    texts = [textmod.lexical_text(a, b) for a, b in zip(rows_a, rows_b)]
    probs = {k: (onnx_proba(path, texts), w) for k, (path, w) in parts.items()}

    def served(logits: np.ndarray) -> np.ndarray:
        out = np.array(logits, dtype=np.float32, copy=True)
        widths = list(sizes) if sizes else [out.shape[1]]
        ends = np.cumsum([0] + widths)
        for k, (p, w) in probs.items():
            seg = slice(int(ends[k]), int(ends[k + 1]))
            out[:, seg] = blend_logits(out[:, seg], p, w)
        return out

    return served


def choose_int8(best, ref: np.ndarray, y: np.ndarray, logits_of: Callable[[Path], np.ndarray], work: Path, rep,
                say=lambda s: None, should_stop=None, sizes: list[int] | None = None, served=None):
    """Try :data:`INT8_VARIANTS` against the fp32 reference logits ``ref`` of the validation rows
    (``logits_of(path)``: an ONNX file's logits of the same rows); return (path, precision).

    Gate: top-1 agreement with fp32 >= GATE_AGREEMENT and accuracy within GATE_ACC_DROP, judged on
    what the app serves: ``served`` (from :func:`served_scores`) blends each target's logits with its
    lexical part first, so a target served mostly by its lexical model is not held to the
    transformer's raw top-1.  With several targets (``sizes``, ``y`` rows x targets) on every target,
    the record giving the primary target's figures and each target's under ``targets``."""
    import onnx

    serve = served or (lambda z: z)
    ref = serve(ref)
    tried = []
    nodes = [n.name for n in onnx.load(str(best), load_external_data=False).graph.node]
    for var in INT8_VARIANTS:
        if should_stop is not None and should_stop():
            raise Cancelled()
        if var.get("exclude") and not any(re.search(var["exclude"], n) for n in nodes):
            continue   # names of another encoder family: the same graph as a variant already tried
        say(f"quantizing to int8 ({var['name']}) and checking the gate")
        q = work / f"q-{len(tried)}.onnx"
        quantize_int8(best, q, per_channel=var["per_channel"], ops=var["ops"], exclude=var.get("exclude"))
        ql = serve(logits_of(q))
        figs = gate_figures(ref, ql, y, sizes)
        agree, acc_ref, acc_q = figs[0]["agreement"], figs[0]["accuracy_fp32"], figs[0]["accuracy_int8"]
        tried.append({"variant": var["name"], "precision": var["precision"], **figs[0],
                      "size_mb": round(q.stat().st_size / 2**20, 1), **({"targets": figs} if sizes else {})})
        if all(f["agreement"] >= GATE_AGREEMENT and f["accuracy_int8"] >= f["accuracy_fp32"] - GATE_ACC_DROP
               for f in figs):
            rep.int8 = dict(tried[-1], tried=tried, judged="served blend" if served is not None else "transformer")
            rep.precision_note = (f"{var['precision']} ({var['name']}) passed the gate: top-1 agreement "
                                  + ("of the served blend " if served is not None else "") +
                                  f"{agree:.3f}, accuracy {acc_q:.3f} vs fp32 {acc_ref:.3f} on {len(y)} "
                                  "validation rows" + (" (earlier variants failed: " + "; ".join(
                                      f"{t['variant']} agreement {t['agreement']:.3f}" for t in tried[:-1]) + ")"
                                      if len(tried) > 1 else ""))
            return q, var["precision"]
    rep.int8 = dict(tried[-1], tried=tried, judged="served blend" if served is not None else "transformer")
    rep.precision_note = ("int8 failed the gate (" + "; ".join(
        f"{t['variant']}: agreement {t['agreement']:.3f}, accuracy {t['accuracy_int8']:.3f}" for t in tried)
        + f" vs fp32 {acc_ref:.3f}; needs agreement >= {GATE_AGREEMENT} and accuracy within "
        f"{GATE_ACC_DROP}); fp32 shipped")
    return best, "fp32"
