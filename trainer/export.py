"""Export a trained DualBertClassifier to a model bundle.

ONNX (``torch.onnx.export(..., dynamo=False)``, opset 17, dynamic batch and sequence axes, eager
attention) -> fp32 parity check against PyTorch (max |logit diff| <= 1e-3) -> ONNX Runtime BERT
optimizer (fused node counts reported; kept only if parity holds) -> int8 dynamic quantization,
kept only if it passes the gate (top-1 agreement >= 99 % and accuracy within 0.5 point of
PyTorch on validation rows, both judged on the served scores: a hybrid's blend with its lexical
part, per target), else fp32 ships and the bundle says why.  Written atomically.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from trainer.evaluate import softmax
from trainer.export_lexical import ExportError, export_lexical, familiarity_parts, hybrid_metrics, served_metrics
from trainer.export_targets import (
    export_target_lexicals,
    onnx_outputs,
    targets_meta,
    targets_test_exported,
    validation_arrays,
)
from trainer.int8 import choose_int8, served_scores
from triage_app import text as textmod
from triage_app.bundle import (
    CARD_FILE,
    LEXICAL_FILE,
    TOKENIZER_B_FILE,
    VALIDATION_FILE,
    clean_stale_work,
    replaceable,
    write_bundle,
)
from triage_app.errors import Cancelled
from triage_app.hybrid import blend_logits
from triage_app.tokens import encode_towers, length_sorted_batches, load_tokenizer, pad_batch

INPUT_NAMES = ["input_ids_a", "attention_mask_a", "input_ids_b", "attention_mask_b"]
FP32_TOL = 1e-3


@dataclass
class ExportReport:
    fp32_max_diff: float = float("nan")
    optimized: bool = False
    optimizer_note: str = ""
    fused: dict = field(default_factory=dict)
    int8: dict = field(default_factory=dict)
    precision: str = "fp32"
    precision_note: str = ""
    sizes_mb: dict = field(default_factory=dict)
    lexical: dict = field(default_factory=dict)   # parity of lexical.onnx with scikit-learn (hybrid)
    optimizer_model_type: str = ""                 # the ORT optimizer's model type used ("": skipped)
    lexical_targets: list = field(default_factory=list)   # several targets: each one's lexical parity

    def to_dict(self) -> dict:
        from dataclasses import asdict
        return asdict(self)


def _check(should_stop):
    if should_stop is not None and should_stop():
        raise Cancelled()


def export_onnx(model, path: str | os.PathLike, opset: int = 17) -> None:
    """One output ``logits``; a model with several targets has one output per target
    (:func:`trainer.export_targets.onnx_outputs`)."""
    model = model.eval().to("cpu")
    model.set_attention("eager")
    vocab = min(t.config.vocab_size for t in (model.tower_a, model.tower_b))
    ids = torch.tensor([[101, 2026, 3007, 2003, 102, 0], [101, 7592, 2088, 102, 0, 0]]) % vocab
    mask = (ids != 0).long()
    net, outputs = onnx_outputs(model)
    dyn = {n: {0: "batch", 1: "seq"} for n in INPUT_NAMES}
    dyn.update({n: {0: "batch"} for n in outputs})
    try:
        with torch.no_grad():
            torch.onnx.export(net, (ids, mask, ids, mask), str(path), dynamo=False, opset_version=opset,
                              input_names=INPUT_NAMES, output_names=outputs, dynamic_axes=dyn,
                              do_constant_folding=True)
    finally:
        model.set_attention("sdpa")


def _batches(tok, rows_a, rows_b, batch=64):
    """``tok``: one tokenizer for both towers, or a pair ``(tower A's, tower B's)``."""
    a, b = encode_towers(*(tok if isinstance(tok, tuple) else (tok, None)), rows_a, rows_b)
    for idx in length_sorted_batches([max(len(x), len(y)) for x, y in zip(a, b)], batch):
        ia, ma = pad_batch([a[i] for i in idx])
        ib, mb = pad_batch([b[i] for i in idx])
        yield idx, (ia, ma, ib, mb)


def torch_logits(model, tok, rows_a, rows_b, should_stop=None) -> np.ndarray:
    """PyTorch logits on the CPU (fp32 unless the caller wraps it in ``torch.autocast``)."""
    model = model.eval().to("cpu")
    out = np.zeros((len(rows_a), model.classifier.out_features), dtype=np.float32)
    with torch.no_grad():
        for idx, arrs in _batches(tok, rows_a, rows_b):
            _check(should_stop)
            out[idx] = model(*[torch.from_numpy(x) for x in arrs]).float().numpy()
    return out


def onnx_logits(path, tok, rows_a, rows_b, should_stop=None) -> np.ndarray:
    """Logits as the app computes them on the CPU: the engine's session options and default
    batch size (dynamic int8 scales activations per batch, so the gate checks what serves).
    A model with several targets gives their outputs side by side."""
    from triage_app.engine import CPU_BATCH, ort_session

    sess = ort_session(str(path), ["CPUExecutionProvider"], None, quiet=False)
    out = None
    for idx, arrs in _batches(tok, rows_a, rows_b, CPU_BATCH):
        _check(should_stop)
        r = np.concatenate(sess.run(None, dict(zip(INPUT_NAMES, arrs))), axis=1)   # the targets side by side
        if out is None:
            out = np.zeros((len(rows_a), r.shape[1]), dtype=np.float32)
        out[idx] = r
    return out


def optimizer_model_type(model) -> tuple[str | None, str]:
    """The ONNX Runtime transformer optimizer's model type for the towers' families
    (:data:`trainer.model.FAMILIES`), or None with the reason it is skipped."""
    from trainer.model import FAMILIES, family

    fams = [family(model.tower_a), family(model.tower_b)]
    types = {FAMILIES.get(f) for f in fams}
    what = " + ".join(dict.fromkeys(fams))
    if None in types:
        return None, (f"optimizer skipped: ONNX Runtime's transformer optimizer has no fusions for {what} "
                      "towers; plain graph kept")
    if len(types) > 1:
        return None, f"optimizer skipped: {what} towers need different optimizer model types; plain graph kept"
    mtype = types.pop()
    return mtype, f"optimizer model type {mtype!r} for {what} towers"


def optimize_onnx(src, dst, hidden: int, heads: int, model_type: str = "bert") -> dict:
    """ONNX Runtime BERT optimizer: fused attention.  The embed-layer-norm fusion breaks on two
    towers, so it is off.  Skip-layer-norm is left unfused in the file: its fused CPU kernel is
    4-5x slower than Add + LayerNormalization (the engine's CPU session keeps them apart too),
    and a GPU session fuses them itself when it loads the model.  ``hidden``/``heads`` 0: detected
    per attention node (towers of different sizes)."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    opts = FusionOptions(model_type)
    opts.enable_embed_layer_norm = False
    opts.enable_skip_layer_norm = False
    m = optimizer.optimize_model(str(src), model_type=model_type, num_heads=heads, hidden_size=hidden,
                                 optimization_options=opts, opt_level=1, use_gpu=False)
    counts = {k: v for k, v in m.get_fused_operator_statistics().items() if v}
    m.save_model_to_file(str(dst))
    return counts


def export_bundle(model, tokenizer_path, labels: list[str], config, out_dir, *,
                  val_rows: tuple[list[str], list[str], np.ndarray] | None = None,
                  temperature: float = 1.0, review_threshold: float = 0.5,
                  metrics: dict | None = None, data_fingerprint: dict | None = None,
                  name: str = "ticket-model", version: str = "1", quantize: bool = True,
                  optimize: bool = True, card: str | None = None, extra_files: dict | None = None,
                  val_logits: np.ndarray | None = None, val_y: np.ndarray | None = None,
                  input_fields: list[str] | None = None, meta_extra: dict | None = None,
                  should_stop: Callable[[], bool] | None = None,
                  on_progress: Callable[[str], None] | None = None, read_only: bool = False,
                  cleaning_options: dict | None = None,
                  test_rows: tuple[list[str], list[str], np.ndarray] | None = None,
                  lexical: tuple[object, float] | None = None, familiarity=None,
                  tokenizer_path_b=None, targets: list | None = None):
    """Export and write a bundle to ``out_dir``.  Returns ``(Bundle, ExportReport)``.

    ``val_rows`` = (text_a, text_b, y) of cleaned validation rows for the parity checks and the
    int8 gate (without them int8 is not attempted).  ``val_logits``/``val_y`` are stored in
    ``validation.npz`` for the review-threshold tools.  ``cleaning_options``: the options the
    training rows were cleaned with (recorded in ``bundle.json``; default: the defaults).
    ``test_rows`` (same form as ``val_rows``, optionally with the rows' languages as a fourth
    item): the exported file is measured on them as the app serves it, stored as
    ``metrics["test_exported"]`` (see :func:`exported_metrics`; per language with languages).
    ``lexical`` = (:class:`trainer.lexical.LexicalModel`, weight) of a hybrid model: written as
    ``lexical.onnx`` after a parity check against scikit-learn on the validation rows, and served
    blended with the transformer (``val_logits`` and ``temperature`` are then the blend's).
    ``familiarity``: the unfamiliar-ticket signal (:class:`triage_app.familiarity.Familiarity`).
    ``tokenizer_path_b``: tower B's own tokenizer when its base tokenizes otherwise than tower A's
    (shipped as ``tokenizer_b.json``).
    ``targets``: a model with several targets (:class:`trainer.export_targets.TargetExport` each, the
    primary first; ``val_rows``/``test_rows`` then hold label matrices): their lexical parts, test
    figures, validation predictions and records replace the single-target ones (``lexical``,
    ``val_logits``) and every target must pass the int8 gate.

    An existing bundle at ``out_dir`` is replaced only once the new one is complete; an existing
    folder that is not a bundle is never replaced (:class:`ExportError`).
    """
    say = on_progress or (lambda s: None)
    rep = ExportReport()
    cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    out = Path(out_dir)
    if not replaceable(out):   # said before minutes of export work; write_bundle checks it again
        raise ExportError(f"{out}: exists and is not a model bundle; choose a new or empty folder "
                          "(only an existing bundle folder is replaced)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_work(out.parent, files=False)  # work folders of an export killed days ago
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=str(out.parent)))
    except OSError as e:
        _raise_if_disk_full(e, out)
        raise
    try:
        tok = load_tokenizer(tokenizer_path, cfg.get("max_length", 128))
        if tokenizer_path_b is not None:
            tok = (tok, load_tokenizer(tokenizer_path_b, cfg.get("max_length", 128)))
        if val_rows is None or len(val_rows[0]) == 0:
            probe = ["printer on floor 3 is jammed again", "cannot log in to vpn after password reset",
                     "new laptop request for hire", "please add me to the shared drive"]
            rows_a, rows_b, y = probe, probe, None
        else:
            rows_a, rows_b, y = list(val_rows[0]), list(val_rows[1]), np.asarray(val_rows[2])
        _check(should_stop)
        say("exporting ONNX (fp32)")
        fp32 = work / "fp32.onnx"
        export_onnx(model, fp32)
        _check(should_stop)
        say("checking ONNX against PyTorch")
        ref = torch_logits(model, tok, rows_a, rows_b, should_stop)
        got = onnx_logits(fp32, tok, rows_a, rows_b, should_stop)
        rep.fp32_max_diff = float(np.abs(ref - got).max())
        if rep.fp32_max_diff > FP32_TOL:
            raise ExportError(f"ONNX fp32 logits differ from PyTorch by {rep.fp32_max_diff:.2e} "
                              f"(limit {FP32_TOL}); not exporting a model that disagrees")
        rep.sizes_mb["fp32"] = round(fp32.stat().st_size / 2**20, 1)
        best = fp32
        model_type, why = optimizer_model_type(model)
        if optimize and model_type is None:
            rep.optimizer_note = why
        elif optimize:
            _check(should_stop)
            say("optimizing the ONNX graph")
            opt = work / "opt.onnx"
            rep.optimizer_model_type = model_type
            try:
                ca, cb = model.tower_a.config, model.tower_b.config
                same = (ca.hidden_size, ca.num_attention_heads) == (cb.hidden_size, cb.num_attention_heads)
                rep.fused = optimize_onnx(fp32, opt, ca.hidden_size if same else 0,
                                          ca.num_attention_heads if same else 0, model_type)
                d = float(np.abs(ref - onnx_logits(opt, tok, rows_a, rows_b, should_stop)).max())
                if d <= FP32_TOL:
                    best, rep.optimized = opt, True
                    rep.optimizer_note = f"{why}: optimized graph kept (max |diff| {d:.2e})"
                else:
                    rep.optimizer_note = f"{why}: optimized graph dropped: max |diff| {d:.2e} > {FP32_TOL}"
            except Cancelled:
                raise
            except Exception as e:  # noqa: BLE001 - the optimizer is optional
                rep.optimizer_note = f"{why}: optimizer failed, plain graph kept: {type(e).__name__}: {e}"
        lex, lex_parts, lex_files = None, {}, {}
        if targets:
            lex_files, rep.lexical_targets, lex_parts = export_target_lexicals(targets, work, rows_a, rows_b, say,
                                                                                should_stop)
            rep.lexical = rep.lexical_targets[0]
        elif lexical is not None and lexical[1] > 0:
            _check(should_stop)
            say("exporting the lexical model (ONNX) and checking it against scikit-learn")
            lex = (work / LEXICAL_FILE, float(lexical[1]))
            rep.lexical = export_lexical(lexical[0], lex[0], rows_a, rows_b)
            rep.sizes_mb["lexical"] = round(lex[0].stat().st_size / 2**20, 1)
        chosen, precision = best, "fp32"
        if quantize and y is not None:
            sizes = getattr(model, "target_sizes", None)
            parts = lex_parts if targets else ({0: lex} if lex is not None else {})
            chosen, precision = choose_int8(best, ref, y, lambda p: onnx_logits(p, tok, rows_a, rows_b, should_stop),
                                            work, rep, say, should_stop, sizes,
                                            served=served_scores(parts, rows_a, rows_b, sizes))
        elif quantize:
            rep.precision_note = "no validation rows given: int8 not attempted, fp32 shipped"
        else:
            rep.precision_note = "int8 not requested"
        rep.precision = precision
        metrics = dict(metrics or {})
        per_target_test = []
        if targets and test_rows is not None and len(test_rows[0]):
            _check(should_stop)
            say(f"measuring the exported model ({precision}) on the test split, every target")
            from triage_app.engine import CPU_BATCH

            per_target_test = targets_test_exported(
                onnx_logits(chosen, tok, list(test_rows[0]), list(test_rows[1]), should_stop), test_rows, targets,
                precision, lex_parts, f"ONNX Runtime CPU, engine session, batches of {CPU_BATCH}")
            metrics["test_exported"] = per_target_test[0]
        elif test_rows is not None and len(test_rows[0]):
            _check(should_stop)
            say(f"measuring the exported model ({precision}) on the test split")
            metrics["test_exported"] = exported_metrics(chosen, tok, test_rows, labels, precision,
                                                        should_stop, lexical=lex)
        _check(should_stop)
        say("writing the bundle")
        files = {"model.onnx": chosen, "tokenizer.json": tokenizer_path}
        if tokenizer_path_b is not None:
            files[TOKENIZER_B_FILE] = tokenizer_path_b
        if lex is not None:
            files[LEXICAL_FILE] = lex[0]
        files.update(lex_files)
        fam_files, fam_meta = familiarity_parts(familiarity)
        files.update(fam_files)
        if targets:
            np.savez(work / VALIDATION_FILE, **validation_arrays(targets))
            files[VALIDATION_FILE] = work / VALIDATION_FILE
        elif val_logits is not None and val_y is not None:
            npz = work / VALIDATION_FILE
            probs = softmax(val_logits, temperature)
            np.savez(npz, probs=probs.astype(np.float32), y=np.asarray(val_y, dtype=np.int64))
            files[VALIDATION_FILE] = npz
        for k, v in (extra_files or {}).items():
            files[k] = v
        if card:
            (work / CARD_FILE).write_text(card, encoding="utf-8")
            files[CARD_FILE] = work / CARD_FILE
        tcfg = model.tower_a.config
        meta = {
            "name": name, "version": str(version), "labels": list(labels),
            "routing": cfg.get("routing", "same"),
            "input_fields": input_fields or (["title", "body"]),
            "towers": {"a": "title + body" if cfg.get("routing", "same") == "same" else "title",
                       "b": "title + body" if cfg.get("routing", "same") == "same" else "body"},
            "max_length": int(cfg.get("max_length", 128)),
            "cleaning": textmod.cleaning_record(cleaning_options if cleaning_options is not None
                                                else cfg.get("cleaning_options")),
            "temperature": float(temperature), "review_threshold": float(review_threshold),
            "class_thresholds": {},
            "base_model": cfg.get("base_model", "?"), "pooling": cfg.get("pooling", "mean"),
            "hidden_size": int(tcfg.hidden_size), "layers": int(tcfg.num_hidden_layers),
            "precision": precision, "precision_note": rep.precision_note,
            "onnx_inputs": INPUT_NAMES, "onnx_sha256": "", "train_config": cfg,
            "data_fingerprint": data_fingerprint or {}, "metrics": metrics,
            "export": rep.to_dict(), "read_only": read_only, **fam_meta,
            "encoders": encoders_record(model, cfg, tokenizer_path_b is not None),
        }
        if targets:
            meta["targets"] = targets_meta(targets, per_target_test, review_threshold)
        meta.update(meta_extra or {})
        bundle = write_bundle(files, meta, out_dir)
        return bundle, rep
    except OSError as e:
        _raise_if_disk_full(e, out)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def encoders_record(model, cfg: dict, own_tokenizer_b: bool) -> dict:
    """What each tower is (``bundle.json`` ``encoders``): family, base, size, its tokenizer file."""
    from trainer.model import family

    def one(tower, base, tok):
        c = tower.config
        pooling = model.pooling
        if pooling == "pooler" and getattr(tower, "pooler", None) is None:
            pooling = "first token (the family has no pooler)"
        return {"family": family(tower), "base_model": base, "hidden_size": int(c.hidden_size),
                "layers": int(c.num_hidden_layers), "tokenizer": tok, "pooling": pooling}

    base_a = cfg.get("base_model", "?")
    return {"a": one(model.tower_a, base_a, "tokenizer.json"),
            "b": one(model.tower_b, cfg.get("base_model_b") or base_a,
                     TOKENIZER_B_FILE if own_tokenizer_b else "tokenizer.json")}


def _raise_if_disk_full(e: OSError, out: Path) -> None:
    """A full disk becomes an :class:`ExportError` that says so; other OS errors pass unchanged."""
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        raise ExportError(f"{out}: not enough disk space to export the model bundle ({e.strerror or e}); "
                          "nothing was written: free some space and export again") from e


def export_result(result, out_dir, *, name="ticket-model", version="1", quantize=True,
                  max_val_rows: int = 4096, should_stop=None, on_progress=None, card=None,
                  review_threshold: float = 0.5, meta_extra=None, hybrid=None, familiarity=None, targets=None):
    """Export a :class:`trainer.loop.TrainResult` (metrics, temperature, validation rows inside).

    The parity checks and the int8 gate use up to ``max_val_rows`` validation rows: at 1,024 rows
    one standard error of a 99 % agreement is 0.3 points, so a model at the border passed or failed
    by the luck of the sample; 4,096 rows halve that (and cost about a minute more).

    ``hybrid``: a :class:`trainer.hybrid.HybridChoice`; the bundle then serves its blend (its
    validation scores and temperature replace the transformer's, its choice is in ``bundle.json``).
    ``targets``: several targets (see :func:`export_bundle`; ``hybrid`` is then the primary's)."""
    data = result.data
    v = data.val
    k = min(len(v), max_val_rows)
    rng = np.random.default_rng(0)
    sel = np.sort(rng.choice(len(v), size=k, replace=False)) if k < len(v) else np.arange(len(v))
    val_rows = ([v.text_a[i] for i in sel], [v.text_b[i] for i in sel], v.y[sel])
    metrics = {k2: v2 for k2, v2 in result.metrics.items() if k2 not in ("history", "targets")}
    metrics["history"] = result.metrics.get("history", [])
    cols = data.columns
    fields = ["text"] if cols.get("text") and not (cols.get("title") or cols.get("body")) else ["title", "body"]
    extra = {"columns": cols, "data_report": data.report.to_dict()}
    val_logits, temperature, lexical = result.val_logits, result.temperature, None
    if hybrid is not None:
        extra["hybrid"] = hybrid.meta()
        metrics["hybrid"] = hybrid_metrics(hybrid)
        val_logits, temperature, lexical = hybrid.val_logits, hybrid.temperature, (hybrid.model, hybrid.weight)
    extra.update(meta_extra or {})
    return export_bundle(result.model, result.tokenizer_path, result.labels, result.config, out_dir,
                         val_rows=val_rows, temperature=temperature, metrics=metrics,
                         data_fingerprint=data.fingerprint, name=name, version=version,
                         quantize=quantize, val_logits=val_logits, val_y=result.val_y, lexical=lexical,
                         input_fields=fields, meta_extra=extra, should_stop=should_stop,
                         on_progress=on_progress, card=card, review_threshold=review_threshold,
                         familiarity=familiarity, tokenizer_path_b=getattr(result, "tokenizer_path_b", None),
                         targets=targets,
                         cleaning_options=getattr(data, "cleaning_options", None),
                         test_rows=(t.text_a, t.text_b, t.y, t.lang) if (t := data.test) is not None and len(t) else None)


def exported_metrics(path, tok, rows, labels, precision: str, should_stop=None,
                     lexical: tuple[Path, float] | None = None) -> dict:
    """Accuracy / F1 of an exported ONNX file as the app serves it on the CPU (:func:`onnx_logits`:
    the engine's session and default batch size).  The trainer's own test figures are PyTorch
    (bf16 autocast where the CPU has it) before export; int8 moves them by a few tenths."""
    from triage_app.engine import CPU_BATCH

    w = lexical[1] if lexical is not None else 0.0
    logits = onnx_logits(path, tok, list(rows[0]), list(rows[1]), should_stop) if w < 1 else None
    how = f"ONNX Runtime CPU, engine session, batches of {CPU_BATCH}"
    if w > 0:
        from trainer.lexical import onnx_proba

        texts = [textmod.lexical_text(a, b) for a, b in zip(rows[0], rows[1])]
        logits = blend_logits(logits, onnx_proba(lexical[0], texts), w)
        how += f", blended with the lexical model (weight {w:g})"
    return served_metrics(rows[2], logits, labels, precision, how, rows[3] if len(rows) > 3 else None)


def export_hybrid_of_bundle(bundle, served, hybrid, data, out_dir, *, name: str, version: str,
                            should_stop=None, on_progress=None, meta_extra: dict | None = None,
                            familiarity=None):
    """A new bundle that serves ``hybrid`` (a :class:`trainer.hybrid.HybridChoice`) on top of the
    transformer of ``bundle`` (its ONNX file and tokenizer copied unchanged).  ``served`` holds that
    transformer's logits on the validation and test rows of ``data`` as the engine serves them, so the
    test figures are those of the served blend.  Returns ``(Bundle, ExportReport)``."""
    from trainer.lexical import onnx_proba
    from triage_app.bundle import now_iso
    from triage_app.engine import CPU_BATCH

    say = on_progress or (lambda s: None)
    if not replaceable(Path(out_dir)):
        raise ExportError(f"{out_dir}: exists and is not a model bundle; choose a new or empty folder "
                          "(only an existing bundle folder is replaced)")
    rep = ExportReport(precision=bundle.precision, precision_note=bundle.meta.get("precision_note", ""))
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=str(out.parent)))
    try:
        files = {"model.onnx": bundle.model_path, "tokenizer.json": bundle.tokenizer_path}
        if bundle.tokenizer_b_path is not None:
            files[TOKENIZER_B_FILE] = bundle.tokenizer_b_path
        lex = None
        if hybrid.weight > 0:
            _check(should_stop)
            say("exporting the lexical model (ONNX) and checking it against scikit-learn")
            lex = work / LEXICAL_FILE
            rep.lexical = export_lexical(hybrid.model, lex, data.val.text_a, data.val.text_b)
            files[LEXICAL_FILE] = lex
        npz = work / VALIDATION_FILE
        np.savez(npz, probs=softmax(hybrid.val_logits, hybrid.temperature).astype(np.float32),
                 y=np.asarray(data.val.y, dtype=np.int64))
        files[VALIDATION_FILE] = npz
        metrics = {k: v for k, v in bundle.meta.get("metrics", {}).items() if k != "test_exported"}
        metrics["hybrid"] = {**hybrid_metrics(hybrid),
                             "transformer_from": bundle.meta.get("metrics", {}).get("hybrid", {}).get(
                                 "transformer_from", f"{bundle.name} v{bundle.version}")}
        t = data.test
        if served.test_logits is not None and t is not None and len(t):
            _check(should_stop)
            say("measuring the served blend on the test split")
            texts = [textmod.lexical_text(a, b) for a, b in zip(t.text_a, t.text_b)]
            scores = blend_logits(served.test_logits, onnx_proba(lex, texts) if lex else None, hybrid.weight)
            how = f"ONNX Runtime CPU, engine session, batches of {CPU_BATCH}"
            if hybrid.weight > 0:
                how += f", blended with the lexical model (weight {hybrid.weight:g})"
            metrics["test_exported"] = served_metrics(t.y, scores, bundle.labels, bundle.precision, how, t.lang)
        say("writing the bundle")
        fam_files, fam_meta = familiarity_parts(familiarity)
        files.update(fam_files)
        meta = {k: v for k, v in bundle.meta.items() if k not in ("created", "onnx_sha256", "hybrid", "familiarity")}
        meta.update({"name": name, "version": str(version), "temperature": float(hybrid.temperature),
                     "data_fingerprint": data.fingerprint, "data_report": data.report.to_dict(),
                     "columns": data.columns,
                     "metrics": metrics, "hybrid": hybrid.meta(), "created": now_iso(),
                     "export": {**bundle.meta.get("export", {}), "lexical": rep.lexical}, **fam_meta})
        meta.update(meta_extra or {})
        return write_bundle(files, meta, out_dir), rep
    finally:
        shutil.rmtree(work, ignore_errors=True)

