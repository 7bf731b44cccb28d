"""Self-test of an installed (or frozen) TicketTriage: ``TicketTriage --self-test [--train-smoke]``.

Loads the bundled model (or ``model``), classifies the sample tickets shipped in
``resources/samples`` and prints the provider in use, the labels and timings.  With
``train_smoke`` it also trains a tiny random dual-BERT for a few steps on the same tickets,
exports it to a bundle (ONNX, optimizer, int8 gate) and classifies with that bundle: this proves
that torch, transformers, the base encoder files and the ONNX export are all in the build.

Returns an exit code: 0 all good, 1 a step failed, 2 no model to test (missing bundled model).
Writes only to a temporary folder.  Imports neither Qt nor (without ``train_smoke``) torch.
"""
from __future__ import annotations

import contextlib
import csv
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

from triage_app import __version__, paths

_T_IMPORT = time.perf_counter()


class SelfTestError(Exception):
    """A check failed; the message says which and why."""


def seconds_since_process_start() -> float | None:
    """Wall seconds since this process was started (Linux: from /proc, 10 ms resolution), so
    that the interpreter start and imports (and, frozen, the bootloader) are included."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            stat = f.read()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22 (starttime)
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _since_start_text() -> str:
    s = seconds_since_process_start()
    return f"{s:.2f} s after process start" if s is not None else \
        f"{time.perf_counter() - _T_IMPORT:.2f} s after the self-test module was imported"


@contextlib.contextmanager
def _quiet_libraries():
    """Hide the tracer/export warnings and ONNX Runtime's advice logged on the root logger: the
    self-test output is for people checking an installation."""
    import logging
    import warnings

    root = logging.getLogger()
    level = root.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root.setLevel(logging.ERROR)
        try:
            yield
        finally:
            root.setLevel(level)


def _dist_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def read_sample_tickets(path: Path | None = None) -> tuple[list[dict], list[str]]:
    """The sample tickets (title/body dicts) and their ``category`` labels (stdlib csv only)."""
    p = Path(path) if path else paths.sample_tickets_path()
    if not p.is_file():
        raise SelfTestError(f"{p}: the sample tickets are missing from this installation")
    with open(p, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SelfTestError(f"{p}: no sample tickets in the file")
    tickets = [{"title": r.get("title", ""), "body": r.get("body", "")} for r in rows]
    return tickets, [(r.get("category") or "").strip() for r in rows]


def _check_predictions(clf, preds, n: int) -> None:
    import math

    if len(preds) != n:
        raise SelfTestError(f"expected {n} predictions, got {len(preds)}")
    known = set(clf.labels)
    for i, p in enumerate(preds):
        if p.label not in known:
            raise SelfTestError(f"ticket {i}: predicted label {p.label!r} is not one of the model's labels")
        if not (0.0 <= p.confidence <= 1.0) or math.isnan(p.confidence):
            raise SelfTestError(f"ticket {i}: confidence {p.confidence!r} is not a probability")


def classify_samples(model_path, out: Callable[[str], None], device: str = "auto",
                     title: str = "model") -> dict:
    """Load ``model_path``, classify the sample tickets, print what happened; returns timings."""
    from triage_app.engine import TicketClassifier

    tickets, truth = read_sample_tickets()
    t0 = time.perf_counter()
    clf = TicketClassifier.load(model_path, device=device)
    t_load = time.perf_counter() - t0
    b = clf.bundle
    out(f"{title}: {b.name} v{b.version} ({b.precision}, {len(clf.labels)} labels) from {b.path}")
    out(f"provider: {clf.provider} ({clf.provider_label})")
    if clf.fallback_message:
        out(f"note: {clf.fallback_message}")
    out(f"labels: {', '.join(clf.labels)}")
    t0 = time.perf_counter()
    first = clf.predict(tickets[0])
    t_first = time.perf_counter() - t0
    since = _since_start_text()
    _check_predictions(clf, [first], 1)
    t0 = time.perf_counter()
    preds = clf.predict(tickets)
    t_all = time.perf_counter() - t0
    _check_predictions(clf, preds, len(tickets))
    n = len(tickets)
    out(f"timing: load {t_load:.2f} s; first classification {t_first * 1000:.0f} ms "
        f"(done {since}); {n} tickets in {t_all:.2f} s = {t_all / n * 1000:.1f} ms/ticket")
    known = set(clf.labels)
    scored = [(p.label, y) for p, y in zip(preds, truth) if y in known]
    if scored:
        hits = sum(1 for a, y in scored if a == y)
        out(f"sample tickets: {hits}/{len(scored)} agree with their 'category' column "
            f"({hits / len(scored):.0%}); {sum(p.needs_review for p in preds)} flagged for review")
    else:
        out(f"sample tickets: {n} classified (their categories are not this model's labels)")
    out(f"example: {tickets[0]['title']!r} -> {first.label} ({first.confidence:.1%})")
    return {"load_s": t_load, "first_s": t_first, "per_ticket_s": t_all / n, "provider": clf.provider,
            "since_start_s": seconds_since_process_start()}


def train_smoke(out: Callable[[str], None], checkpoint=None, max_steps: int = 3,
                check_base: bool = True, device: str = "cpu", work_dir=None) -> dict:
    """Train a tiny dual-BERT a few steps on the sample tickets, export it, classify with it."""
    import pandas as pd

    from trainer.config import DEFAULT_BASE, TrainConfig
    from trainer.data import prepare_frame
    from trainer.events import StepEvent
    from trainer.export import export_result
    from trainer.loop import train
    from trainer.model import load_bert, save_tiny_checkpoint

    torch = sys.modules.get("torch")  # imported by trainer.*; triage_app never imports torch itself
    out(f"train-smoke: torch {getattr(torch, '__version__', '?')}, transformers {_dist_version('transformers')}, "
        f"CUDA for training: {'yes' if torch is not None and torch.cuda.is_available() else 'no'}")
    timings = {}
    with tempfile.TemporaryDirectory(prefix="triage-selftest-", dir=work_dir) as tmp:
        tmp = Path(tmp)
        if check_base:  # the Train tab's default base encoder must be in the installation
            t0 = time.perf_counter()
            bert = load_bert(DEFAULT_BASE)
            timings["base_load_s"] = time.perf_counter() - t0
            c = bert.config
            out(f"base encoder {DEFAULT_BASE}: {c.num_hidden_layers} layers, hidden {c.hidden_size}, "
                f"loaded in {timings['base_load_s']:.2f} s")
            del bert
        t0 = time.perf_counter()
        ckpt = Path(checkpoint) if checkpoint else save_tiny_checkpoint(tmp / "tiny-bert")
        df = pd.read_csv(paths.sample_tickets_path(), dtype=str, keep_default_na=False)
        data = prepare_frame(df, label_col="category", title_col="title", body_col="body",
                             min_per_class=5, val_frac=0.25, test_frac=0.0, source="sample_tickets.csv")
        cfg = TrainConfig.standard(base_model=str(ckpt), head_epochs=2, head_lr=1e-2, finetune_epochs=1,
                                   finetune_layers=-1, tower_lr=1e-3, batch_size=16, max_length=64,
                                   patience=0, warmup_ratio=0.1, max_steps=max_steps, device=device,
                                   precision="fp32")
        events = []
        with _quiet_libraries():
            res = train(cfg, data, events.append)
        timings["train_s"] = time.perf_counter() - t0
        if res.cancelled or res.model is None:
            raise SelfTestError("the training run did not finish")
        val = res.metrics.get("val", {}) if isinstance(res.metrics, dict) else {}
        out(f"train-smoke: {len(data.train)} train / {len(data.val)} val tickets, {len(data.labels)} labels, "
            f"{sum(1 for e in events if isinstance(e, StepEvent))} step events, "
            f"val accuracy {val.get('accuracy', float('nan')):.2f} (random tiny model), {timings['train_s']:.1f} s")
        t0 = time.perf_counter()
        with _quiet_libraries():
            bundle, rep = export_result(res, tmp / "bundle", name="selftest-tiny", version="1")
        timings["export_s"] = time.perf_counter() - t0
        out(f"export: {bundle.precision} bundle, ONNX parity max |diff| {rep.fp32_max_diff:.1e}, "
            f"optimizer {'kept' if rep.optimized else 'not used'}, {timings['export_s']:.1f} s")
        if rep.optimizer_note.startswith("optimizer failed"):
            # the export falls back silently; in a build this means a module is missing
            raise SelfTestError(f"ONNX graph optimizer: {rep.optimizer_note}")
        r = classify_samples(bundle.path, out, device="cpu", title="exported tiny model")
        timings.update({f"tiny_{k}": v for k, v in r.items()})
    return timings


def run_self_test(model=None, train_smoke: bool = False, out: Callable[[str], None] = print, *,
                  device: str = "auto", smoke_checkpoint=None, smoke_steps: int = 3,
                  check_base: bool = True) -> int:
    """Run the self-test; see the module doc.  ``out`` receives one line at a time."""
    import onnxruntime as ort

    frozen = bool(getattr(sys, "frozen", False))
    out(f"TicketTriage {__version__} self-test ({'frozen build' if frozen else 'Python environment'}; "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"onnxruntime {ort.__version__}, providers available: {', '.join(ort.get_available_providers())})")
    out(f"resources: {paths.resource_path()}")
    failures: list[str] = []
    status = 0
    step = "model"
    try:
        if model is None:
            mp = paths.default_model_dir()
            if not (mp / "bundle.json").is_file():
                status = 2
                raise SelfTestError(f"no bundled model at {mp}: this build was made without one; "
                                    "pass --model PATH to test another bundle")
        else:
            mp = Path(model)
            if not mp.exists():
                status = 2
                raise SelfTestError(f"{mp}: no such model bundle folder")
        step = "classification"
        classify_samples(mp, out, device=device)
    except Exception as e:  # noqa: BLE001 - every failure becomes one clear line
        failures.append(_fail_line(step, e, out))
    if train_smoke:
        try:
            train_smoke_fn(out, checkpoint=smoke_checkpoint, max_steps=smoke_steps, check_base=check_base,
                           device=device)
        except Exception as e:  # noqa: BLE001
            failures.append(_fail_line("train-smoke", e, out))
    if failures:
        out(f"self-test FAILED ({len(failures)} problem{'s' if len(failures) > 1 else ''}): " + " | ".join(failures))
        return status or 1
    out("self-test OK")
    return 0


train_smoke_fn = train_smoke  # run_self_test has a parameter of the same name


def _fail_line(step: str, e: BaseException, out) -> str:
    msg = f"{step}: {e}" if isinstance(e, SelfTestError) else f"{step}: {type(e).__name__}: {e}"
    out(f"FAILED {msg}")
    if not isinstance(e, SelfTestError):
        traceback.print_exc(file=sys.stderr)
    return msg
