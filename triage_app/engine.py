"""Inference engine: ONNX Runtime session over a model bundle.

Cleans tickets with the bundle's recorded cleaning (the trainer's function), tokenises, batches by
length with dynamic padding, applies temperature-scaled softmax, top-k and review thresholds, flags
tickets unlike the training data (too short, unfamiliar words: :mod:`triage_app.familiarity`), and
explains predictions by word occlusion.  Serves transformer, hybrid and lexical-only bundles, and
multi-target bundles (one shared model, one head per target: :meth:`TicketClassifier.score_targets`,
``Prediction.targets``; :mod:`triage_app.targets`).  Imports neither torch nor Qt.
"""
from __future__ import annotations

import ctypes
import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

from triage_app import text as textmod
from triage_app.bundle import Bundle, BundleError, load_bundle
from triage_app.errors import Cancelled
from triage_app.familiarity import load_familiarity
from triage_app.hybrid import blend_logits
from triage_app.targets import (  # noqa: F401 - low_confidence_reason: the GUI imports it from here
    TargetInfo,
    TargetPrediction,
    low_confidence_reason,
    softmax_t,
    target_predictions,
)
from triage_app.tokens import encode_towers, length_sorted_batches, load_tokenizer, pad_batch

log = logging.getLogger("triage.engine")
INPUT_NAMES = ["input_ids_a", "attention_mask_a", "input_ids_b", "attention_mask_b"]

if sys.platform == "win32":
    CUDA_LIBS = {"cudart64_13.dll": "CUDA 13 runtime", "cublasLt64_13.dll": "cuBLAS (CUDA 13)",
                 "cudnn64_9.dll": "cuDNN 9"}
else:
    CUDA_LIBS = {"libcudart.so.13": "CUDA 13 runtime", "libcublasLt.so.13": "cuBLAS (CUDA 13)",
                 "libcurand.so.10": "cuRAND (CUDA 13)", "libcudnn.so.9": "cuDNN 9"}
CUDA_HELP = ("install the NVIDIA driver, then the CUDA 13 and cuDNN 9 libraries, e.g. "
             "`pip install \"ticket-triage[cuda]\"` (nvidia-cuda-runtime, nvidia-cublas, nvidia-cudnn-cu13) "
             "or the CUDA Toolkit 13 and cuDNN 9 from NVIDIA")


@dataclass
class Prediction:
    """One ticket's prediction.  Its fields are those of the model's (primary) target; a
    multi-target model also fills ``targets``: target name -> :class:`TargetPrediction` for every
    target, the primary first (``{}`` for a single-target model)."""
    label: str
    confidence: float
    top: list[tuple[str, float]]
    needs_review: bool
    probs: np.ndarray | None = None
    review_reason: str = ""      # why it needs review ("" when it is auto-routed)
    targets: dict[str, TargetPrediction] = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {"label": self.label, "confidence": round(self.confidence, 4),
               "top": [[lab, round(p, 4)] for lab, p in self.top], "needs_review": self.needs_review,
               "review_reason": self.review_reason}
        if self.targets:
            out["targets"] = {name: t.as_dict() for name, t in self.targets.items()}
        return out


# The columns every export of predictions adds (``triage classify`` and the Batch tab's Export).
PREDICTION_COLUMNS = ["predicted_label", "confidence", "top2_label", "top2_confidence",
                      "top3_label", "top3_confidence", "needs_review", "review_reason"]


def prediction_columns(labels: Sequence[str], probs: np.ndarray, needs_review, reasons) -> dict:
    """:data:`PREDICTION_COLUMNS` as lists (one value per row) from probabilities, review flags and
    review reasons; a model with fewer than 3 labels leaves the missing top-k cells empty."""
    probs = np.asarray(probs)
    k = min(3, probs.shape[1]) if probs.ndim == 2 else 0
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k] if len(probs) else np.zeros((0, k), int)
    cols: dict = {c: [] for c in PREDICTION_COLUMNS}
    for row, idx in zip(probs, order):
        top = [(labels[int(i)], round(float(row[i]), 4)) for i in idx] + [("", float("nan"))] * (3 - k)
        cols["predicted_label"].append(top[0][0])
        cols["confidence"].append(top[0][1])
        for j in (2, 3):
            cols[f"top{j}_label"].append(top[j - 1][0])
            cols[f"top{j}_confidence"].append(top[j - 1][1])
    cols["needs_review"] = [bool(x) for x in needs_review]
    cols["review_reason"] = list(reasons)
    return cols


Ticket = str | dict


def ticket_fields(t: Ticket) -> tuple[object, object, object]:
    if isinstance(t, str):
        return None, None, t
    if isinstance(t, dict):
        return t.get("title"), t.get("body"), t.get("text")
    if isinstance(t, (tuple, list)) and len(t) == 2:
        return t[0], t[1], None
    raise TypeError(f"a ticket is a str, a dict with title/body/text, or a (title, body) pair; got {type(t).__name__}")


def tickets_from_frame(df, mapping: dict) -> list[dict]:
    """Rows of a DataFrame as tickets, using ``mapping`` = {"title": col, "body": col, "text": col}."""
    cols = {k: v for k, v in mapping.items() if k in ("title", "body", "text") and v}
    if not cols:
        raise ValueError("choose a text column, or title and/or body columns")
    series = {k: df[c].tolist() for k, c in cols.items()}
    n = len(df)
    return [{k: series[k][i] for k in series} for i in range(n)]


def cuda_missing_libs() -> list[str]:
    """Names of CUDA/cuDNN libraries that cannot be loaded (after ORT's own preload, if any)."""
    missing = []
    for lib, what in CUDA_LIBS.items():
        try:
            ctypes.CDLL(lib)
        except OSError:
            missing.append(f"{what} ({lib})")
    return missing


def nvidia_driver_present() -> bool:
    """True when the NVIDIA driver library is loadable (there is a GPU to talk to)."""
    for lib in (("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")):
        try:
            ctypes.CDLL(lib)
            return True
        except OSError:
            continue
    return False


def gpu_name() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=3)
        name = out.stdout.strip().splitlines()[0].strip() if out.returncode == 0 and out.stdout.strip() else None
        return name
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


CPU_DISABLED_FUSIONS = ["SkipLayerNormFusion"]
CPU_BATCH, GPU_BATCH = 16, 64  # default tickets per ONNX Runtime call


def ort_session(path: str, providers, threads: int | None, quiet: bool, spin: bool = True):
    """The ONNX Runtime session every serving path uses (engine, export gate, benchmarks):
    full graph optimization, the CPU-only fusion exclusions, optional thread count and spinning."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    if not spin:  # no busy-waiting worker threads: keeps a GUI thread responsive on few cores
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        so.intra_op_num_threads = threads
    # On the CPU, ONNX Runtime's fused SkipLayerNormalization kernel is 4-5x slower than the
    # Add + LayerNormalization it replaces (ORT 1.31, bench/layernorm_fusion.py; a quarter of the
    # model's time), so the CPU session keeps them apart.  GPUs keep the fusion.
    disabled = CPU_DISABLED_FUSIONS if providers == ["CPUExecutionProvider"] else []
    if quiet:
        ort.set_default_logger_severity(4)
    try:
        return ort.InferenceSession(path, so, providers=providers, disabled_optimizers=disabled)
    finally:
        if quiet:
            ort.set_default_logger_severity(2)


# The lexical part of a hybrid bundle (trainer/lexical.py writes it): strings in, probabilities out.
LEXICAL_INPUT, LEXICAL_OUTPUT = "text", "probabilities"
LEXICAL_BATCH = 64    # its TF-IDF step makes a dense [batch, vocabulary] tensor: keep batches small


def lexical_session(bundle: Bundle, threads: int | None, spin: bool, target: TargetInfo | None = None):
    """The ONNX Runtime session of a hybrid bundle's lexical part (always on the CPU: string
    operators), or None for a transformer-only bundle; ``target``: that target's lexical part."""
    weight, path, labels = ((bundle.lexical_weight, str(bundle.lexical_path), bundle.labels) if target is None
                            else (target.lexical_weight, str(target.lexical_path), target.labels))
    if weight <= 0:
        return None
    try:
        session = ort_session(path, ["CPUExecutionProvider"], threads, quiet=False, spin=spin)
    except Exception as e:  # noqa: BLE001
        raise BundleError(f"{path}: ONNX Runtime cannot load the lexical model ({e})") from e
    names = [i.name for i in session.get_inputs()]
    outs = [o.name for o in session.get_outputs()]
    if names != [LEXICAL_INPUT] or LEXICAL_OUTPUT not in outs:
        raise BundleError(f"{path}: unexpected lexical model inputs {names} / outputs {outs} "
                          f"(expected {[LEXICAL_INPUT]} / {LEXICAL_OUTPUT!r})")
    width = session.get_outputs()[outs.index(LEXICAL_OUTPUT)].shape[-1]
    if isinstance(width, int) and width != len(labels):
        raise BundleError(f"{path}: the lexical model outputs {width} classes but bundle.json lists "
                          f"{len(labels)} labels")
    return session


_open_lexical = lexical_session     # (TicketClassifier's argument of that name hides the function)


def check_outputs(session, bundle: Bundle, path: str) -> None:
    """The transformer's outputs match the bundle: one per target, as wide as its labels."""
    outs = session.get_outputs()
    widths = [len(t.labels) for t in bundle.targets] or [len(bundle.labels)]
    if len(outs) != len(widths):
        raise BundleError(f"{path}: the model has {len(outs)} outputs but bundle.json lists {len(widths)} targets")
    for o, n in zip(outs, widths):
        if len(o.shape) != 2 or (isinstance(o.shape[1], int) and o.shape[1] != n):
            raise BundleError(f"{path}: the model outputs {o.shape[-1]} classes but bundle.json "
                              f"lists {n} labels")


class TicketClassifier:
    """A loaded bundle ready to classify tickets."""

    def __init__(self, bundle: Bundle, session, provider: str, fallback_message: str | None,
                 gpu: str | None = None, lexical_session=None, threads: int | None = None, spin: bool = True):
        self.bundle = bundle
        self.session = session
        if bundle.lexical_weight > 0 and lexical_session is None:
            raise BundleError(f"{bundle.path}: a hybrid bundle needs its lexical session (use TicketClassifier.load)")
        self.lexical_session = lexical_session     # the TF-IDF part of a hybrid bundle (CPU)
        self.lexical_weight = bundle.lexical_weight
        self.provider = provider
        self.fallback_message = fallback_message
        self.gpu = gpu
        self.labels = bundle.labels
        self.routing = bundle.routing
        self.cleaning = bundle.cleaning_options
        self.threshold = bundle.review_threshold
        self.class_thresholds = bundle.class_thresholds
        self.targets: list[TargetInfo] = bundle.targets     # [] for a single-target bundle
        # the lexical parts of the other targets (the primary's is lexical_session)
        self.target_lexical = {t.name: _open_lexical(bundle, threads, spin, t) for t in self.targets[1:]}
        self.tokenizer = None
        self.tokenizer_b = None     # tower B's own tokenizer (towers of two encoder families), else None
        if session is not None:
            for attr, path in (("tokenizer", bundle.tokenizer_path), ("tokenizer_b", bundle.tokenizer_b_path)):
                try:
                    if path is not None:
                        setattr(self, attr, load_tokenizer(path, bundle.max_length))
                except Exception as e:  # noqa: BLE001
                    raise BundleError(f"{path}: tokenizer cannot be loaded ({e})") from e
        elif not bundle.lexical_only:
            raise BundleError(f"{bundle.path}: a bundle with a transformer needs its ONNX session")
        try:
            self.familiarity = load_familiarity(bundle.familiarity, bundle.vocabulary_path)
        except (OSError, UnicodeDecodeError, KeyError, TypeError, ValueError) as e:
            raise BundleError(f"{bundle.vocabulary_path}: the unfamiliar-ticket signal cannot be loaded ({e})") from e

    # ---- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, bundle_or_path: Bundle | str | os.PathLike, device: str = "auto",
             threads: int | None = None, spin: bool = True) -> "TicketClassifier":
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda (got {device!r})")
        bundle = bundle_or_path if isinstance(bundle_or_path, Bundle) else load_bundle(bundle_or_path)
        if bundle.lexical_only:   # no transformer: string operators on the CPU, nothing for a GPU
            return cls(bundle, None, "CPUExecutionProvider", None, None, lexical_session(bundle, threads, spin),
                       threads, spin)
        import onnxruntime as ort

        path = str(bundle.model_path)
        fallback = None
        session = None
        gpu = None
        if device in ("auto", "cuda"):
            available = ort.get_available_providers()
            if "CUDAExecutionProvider" not in available:
                if device == "cuda":
                    fallback = ("CUDA was requested but this ONNX Runtime build has no CUDA support "
                                "(install onnxruntime-gpu); using the CPU")
            else:
                import importlib.util

                if hasattr(ort, "preload_dlls") and importlib.util.find_spec("nvidia") is not None:
                    try:  # CUDA/cuDNN from the nvidia-* pip packages, if installed
                        ort.preload_dlls(directory="")
                    except Exception:  # noqa: BLE001 - best effort
                        pass
                missing = cuda_missing_libs()
                if device == "auto" and not nvidia_driver_present():
                    missing = None  # no NVIDIA GPU here: the CPU is the normal choice, say nothing
                elif missing:
                    if device == "cuda":
                        fallback = (f"CUDA was requested but these libraries are missing: "
                                    f"{', '.join(missing)}; {CUDA_HELP}. Using the CPU")
                    else:
                        fallback = (f"GPU not used: {', '.join(missing)} not found; {CUDA_HELP}. "
                                    "Using the CPU")
                else:
                    try:
                        session = ort_session(path, ["CUDAExecutionProvider", "CPUExecutionProvider"],
                                           threads, quiet=True, spin=spin)
                    except Exception as e:  # noqa: BLE001
                        raise BundleError(f"{path}: ONNX Runtime cannot load the model ({e})") from e
                    if session.get_providers()[0] != "CUDAExecutionProvider":
                        fallback = "CUDA could not be initialised (no usable GPU/driver); using the CPU"
                        session = None
                    else:
                        gpu = gpu_name()
        if session is None:
            try:
                session = ort_session(path, ["CPUExecutionProvider"], threads, quiet=False, spin=spin)
            except Exception as e:  # noqa: BLE001
                raise BundleError(f"{path}: ONNX Runtime cannot load the model ({e})") from e
        names = [i.name for i in session.get_inputs()]
        if names != INPUT_NAMES:
            raise BundleError(f"{path}: unexpected model inputs {names} (expected {INPUT_NAMES})")
        check_outputs(session, bundle, path)
        provider = session.get_providers()[0]
        if fallback:
            log.info(fallback)  # callers (CLI, GUI) show `fallback_message` to the user once
        return cls(bundle, session, provider, fallback, gpu, lexical_session(bundle, threads, spin), threads, spin)

    @property
    def default_batch_size(self) -> int:
        """Tickets per ONNX Runtime call when the caller does not say: on the CPU small
        length-sorted batches are fastest (less padding, cache-sized activations: 16 is about
        1.3x 64, bench/inference.py), a GPU wants larger ones.  The export's int8 gate runs at
        this batch size, since dynamic int8 scales activations per batch."""
        return GPU_BATCH if self.provider == "CUDAExecutionProvider" else CPU_BATCH

    @property
    def provider_label(self) -> str:
        if self.provider == "CUDAExecutionProvider":
            return f"CUDA ({self.gpu})" if self.gpu else "CUDA"
        return "CPU"

    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def version(self) -> str:
        return self.bundle.version

    def reload_thresholds(self) -> None:
        """Re-read review thresholds saved into the bundle since it was loaded."""
        b = load_bundle(self.bundle.path, verify_hash=False)
        self.bundle = Bundle(self.bundle.path, {**self.bundle.meta,
                                                "review_threshold": b.review_threshold,
                                                "class_thresholds": b.class_thresholds,
                                                **({"targets": b.meta["targets"]} if self.targets else {})})
        self.threshold = b.review_threshold
        self.class_thresholds = b.class_thresholds
        self.targets = self.bundle.targets

    # ---- core -------------------------------------------------------------------------------
    def compose(self, ticket: Ticket) -> tuple[str, str]:
        return textmod.compose(*ticket_fields(ticket), self.routing, self.cleaning)

    def _primary_target(self) -> TargetInfo:
        """The primary target from the single-target fields (thresholds as last saved)."""
        return TargetInfo(0, "label", "label", self.labels, self.bundle.temperature, self.threshold,
                          self.class_thresholds, self.lexical_weight, self.bundle.lexical_path)

    def _served_targets(self) -> list[TargetInfo]:
        """What the engine serves, the primary first: a multi-target bundle's targets, or the one
        target of a single-target bundle."""
        return self.targets or [self._primary_target()]

    def _served_logits(self, pairs: Sequence[tuple[str, str]], batch_size: int | None, ks: Sequence[int],
                       should_stop: Callable[[], bool] | None = None,
                       on_progress: Callable[[int, int], None] | None = None,
                       texts: list[str] | None = None) -> list[np.ndarray]:
        """The served scores (before calibration) of targets ``ks``: each target's transformer output
        blended with its own lexical part's log-probabilities (:func:`triage_app.hybrid.blend_logits`).
        The transformer runs once for all of them, and only when one needs it; the lexical texts are
        built once (``texts``: already built).  Progress follows the transformer, or the first lexical
        pass when no transformer runs."""
        targets = self._served_targets()
        run_transformer = any(targets[k].lexical_weight < 1.0 for k in ks)
        transformer = (self.transformer_logits(pairs, batch_size, should_stop, on_progress)
                       if run_transformer else None)
        out = []
        for k in ks:
            t = targets[k]
            start = sum(len(x.labels) for x in targets[:k])
            part = None if transformer is None else transformer[:, start:start + len(t.labels)]
            if t.lexical_weight == 0.0:
                out.append(part)
                continue
            if texts is None:
                texts = self.lexical_texts(pairs)
            session = self.lexical_session if k == 0 else self.target_lexical[t.name]
            lex = self._lexical_probs(texts, should_stop, None if run_transformer or out else on_progress,
                                      session, len(t.labels))
            out.append(blend_logits(part, lex, t.lexical_weight))
        return out

    def _logits_for(self, pairs: Sequence[tuple[str, str]], batch_size: int | None,
                    should_stop: Callable[[], bool] | None = None,
                    on_progress: Callable[[int, int], None] | None = None,
                    texts: list[str] | None = None) -> np.ndarray:
        """The primary target's served scores before calibration (:meth:`_served_logits`)."""
        return self._served_logits(pairs, batch_size, [0], should_stop, on_progress, texts)[0]

    @staticmethod
    def lexical_texts(pairs: Sequence[tuple[str, str]]) -> list[str]:
        """What the lexical part and the unfamiliar-ticket signal read (:func:`triage_app.text.lexical_text`)."""
        return [textmod.lexical_text(a, b) for a, b in pairs]

    def _lexical_probs(self, texts: Sequence[str], should_stop=None,
                       on_progress: Callable[[int, int], None] | None = None, session=None,
                       n_labels: int | None = None) -> np.ndarray:
        session = session or self.lexical_session
        out = np.zeros((len(texts), n_labels or len(self.labels)), dtype=np.float32)
        for start in range(0, len(texts), LEXICAL_BATCH):
            if should_stop is not None and should_stop():
                raise Cancelled()
            chunk = np.array(texts[start:start + LEXICAL_BATCH], dtype=object).reshape(-1, 1)
            out[start:start + len(chunk)] = session.run([LEXICAL_OUTPUT], {LEXICAL_INPUT: chunk})[0]
            if on_progress is not None:
                on_progress(start + len(chunk), len(texts))
        return out

    def unfamiliar_reasons(self, pairs: Sequence[tuple[str, str]], texts: list[str] | None = None) -> list[str]:
        """Per composed ticket: why it must be reviewed whatever the model's confidence (too short,
        unfamiliar words), or ``""``; all ``""`` for a bundle without the signal.  ``texts``: the
        pairs' :meth:`lexical_texts`, when already built."""
        if self.familiarity is None:
            return [""] * len(pairs)
        return self.familiarity.reasons(texts if texts is not None else self.lexical_texts(pairs))

    def transformer_logits(self, pairs: Sequence[tuple[str, str]], batch_size: int | None,
                            should_stop: Callable[[], bool] | None = None,
                            on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """The transformer's logits; a multi-target model's outputs side by side, in target order."""
        if self.session is None:
            raise BundleError(f"{self.bundle.path}: a lexical-only bundle has no transformer to run")
        batch_size = batch_size or self.default_batch_size
        n = len(pairs)
        out = np.zeros((n, sum(len(t.labels) for t in self.targets) or len(self.labels)), dtype=np.float32)
        if n == 0:
            return out
        a_txt = [p[0] for p in pairs]
        b_txt = [p[1] for p in pairs]
        a, b = encode_towers(self.tokenizer, self.tokenizer_b, a_txt, b_txt)
        same = b is a
        # An empty text still gets [CLS] [SEP] from the tokenizer, so every row has >= 1 token.
        lengths = np.array([max(len(x), len(y)) for x, y in zip(a, b)])
        done = 0
        for idx in length_sorted_batches(lengths, batch_size):
            if should_stop is not None and should_stop():
                raise Cancelled()
            ia, ma = pad_batch([a[i] for i in idx])
            ib, mb = (ia, ma) if same else pad_batch([b[i] for i in idx])
            out[idx] = np.concatenate(self.session.run(None, {"input_ids_a": ia, "attention_mask_a": ma,
                                                              "input_ids_b": ib, "attention_mask_b": mb}), axis=1)
            done += len(idx)
            if on_progress is not None:
                on_progress(done, n)
        return out

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return softmax_t(logits, self.bundle.temperature)

    def predict_proba(self, tickets: Iterable[Ticket], batch_size: int | None = None,
                      should_stop=None, on_progress=None) -> np.ndarray:
        pairs = [self.compose(t) for t in tickets]
        return self.probabilities(self._logits_for(pairs, batch_size, should_stop, on_progress))

    def score(self, tickets: Iterable[Ticket], batch_size: int | None = None, should_stop=None,
              on_progress=None) -> tuple[np.ndarray, list[str]]:
        """``(probabilities, unfamiliar reasons)``: what :meth:`to_predictions` needs to flag."""
        pairs = [self.compose(t) for t in tickets]
        texts = self.lexical_texts(pairs)      # once, for the lexical part and the familiarity signal
        probs = self.probabilities(self._logits_for(pairs, batch_size, should_stop, on_progress, texts))
        return probs, self.unfamiliar_reasons(pairs, texts)

    def threshold_for(self, label: str, override: float | None = None) -> float:
        if override is not None:
            return float(override)
        return float(self.class_thresholds.get(label, self.threshold))

    def to_predictions(self, probs: np.ndarray, top_k: int = 3, threshold: float | None = None,
                       keep_probs: bool = False, reasons: Sequence[str] | None = None) -> list[Prediction]:
        """Predictions from probabilities; ``reasons`` (from :meth:`score`) flag unfamiliar or
        too-short tickets for review whatever their confidence."""
        primary = self._primary_target()
        return [Prediction(p.label, p.confidence, p.top, p.needs_review, p.probs, p.review_reason)
                for p in target_predictions(primary, probs, top_k, threshold, keep_probs, reasons)]

    # ---- several targets ----------------------------------------------------------------------
    def score_targets(self, tickets: Iterable[Ticket], batch_size: int | None = None, should_stop=None,
                      on_progress=None) -> tuple[dict[str, np.ndarray], list[str]]:
        """``({target name: calibrated probabilities}, unfamiliar reasons)`` of a multi-target model,
        the transformer run once for all targets; a single-target model gives ``{labels' name: probs}``
        under the key ``"label"``."""
        pairs = [self.compose(t) for t in tickets]
        targets = self._served_targets()
        texts = self.lexical_texts(pairs)      # once, for every lexical part and the familiarity signal
        logits = self._served_logits(pairs, batch_size, range(len(targets)), should_stop, on_progress, texts)
        probs = {t.name: softmax_t(z, t.temperature) for t, z in zip(targets, logits)}
        return probs, self.unfamiliar_reasons(pairs, texts)

    def to_target_predictions(self, probs_by_target: dict[str, np.ndarray], top_k: int = 3,
                              threshold: float | None = None, keep_probs: bool = False,
                              reasons: Sequence[str] | None = None) -> list[Prediction]:
        """Predictions of a multi-target model (from :meth:`score_targets`): each one's own fields
        are the primary target's, ``targets`` holds every target's :class:`TargetPrediction`."""
        per = {t.name: target_predictions(t, probs_by_target[t.name], top_k, threshold, keep_probs, reasons)
               for t in self.targets}
        out = []
        for r in range(len(next(iter(per.values()))) if per else 0):
            p = per[self.targets[0].name][r]
            out.append(Prediction(p.label, p.confidence, p.top, p.needs_review, p.probs, p.review_reason,
                                  {name: preds[r] for name, preds in per.items()}))
        return out

    def predict(self, tickets: Ticket | Iterable[Ticket], batch_size: int | None = None, top_k: int = 3,
                threshold: float | None = None, keep_probs: bool = False):
        """Predictions in input order.  One ticket in, one :class:`Prediction` out (with
        ``targets`` filled for a multi-target model)."""
        single = isinstance(tickets, (str, dict))
        items = [tickets] if single else list(tickets)
        if self.targets:
            probs_by, reasons = self.score_targets(items, batch_size)
            preds = self.to_target_predictions(probs_by, top_k, threshold, keep_probs, reasons)
        else:
            probs, reasons = self.score(items, batch_size)
            preds = self.to_predictions(probs, top_k, threshold, keep_probs, reasons)
        return preds[0] if single else preds

    # ---- explanations ------------------------------------------------------------------------
    def explain(self, ticket: Ticket, max_words: int = 64, batch_size: int | None = None,
                target: str | None = None) -> list[tuple[str, float]]:
        """Contribution of each word to the predicted class: the drop in that class's
        probability when the word is removed (occlusion, batched).  Words are those of the
        cleaned inputs, title words first then body words for ``split`` routing; beyond
        ``max_words`` words per field the rest get 0.  ``target``: explain that target of a
        multi-target model (default: the primary one)."""
        names = [t.name for t in self.targets]
        if target is not None and target not in names:
            raise ValueError(f"no target {target!r} in this model (targets: {', '.join(names) or 'none'})")
        k = names.index(target) if target is not None else 0

        def served(pairs, bs):
            return softmax_t(self._served_logits(pairs, bs, [k])[0], self._served_targets()[k].temperature)

        a, b = self.compose(ticket)
        base_probs = served([(a, b)], 1)[0]
        cls = int(np.argmax(base_probs))
        base = float(base_probs[cls])
        fields = [("a", a)] if (self.routing == "same") else [("a", a), ("b", b)]
        variants, where = [], []
        words_out: list[tuple[str, float]] = []
        for fname, txt in fields:
            words = txt.split()
            start = len(words_out)
            words_out.extend((w, 0.0) for w in words)
            for i in range(min(len(words), max_words)):
                reduced = " ".join(words[:i] + words[i + 1:])
                if self.routing == "same":
                    variants.append((reduced, reduced))
                elif fname == "a":
                    variants.append((reduced, b))
                else:
                    variants.append((a, reduced))
                where.append(start + i)
        if variants:
            p = served(variants, batch_size)[:, cls]
            for pos, pv in zip(where, p):
                words_out[pos] = (words_out[pos][0], float(base - pv))
        return words_out
