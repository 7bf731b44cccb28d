"""The ``auto`` preset: pick the strongest recipe that fits the data, the device and a time budget,
and say so (with its time estimate) before training starts.

The estimate is measured, not guessed: a probe times the base encoder's forward pass on a sample of
the prepared training texts on the device that will train (a couple of seconds), and the cost of
each recipe is that time per token times the tokens each phase reads, with the phase factors
measured on full runs (``bench/accuracy.py`` rows, BENCHMARKS.md "Auto preset").

Candidates, strongest first: ``full`` (GPU only: on a CPU it is slower than ``standard`` and not
better), ``standard``, ``standard`` with one fine-tuning epoch, ``standard`` tuning the top 2 layers
for one epoch, ``quick``, ``lexical``.  All but
``lexical`` also fit the lexical model and serve the blend that validation picks.  Data too small
for a transformer to add anything (fewer than :data:`MIN_TRANSFORMER_ROWS` training rows) gets the
lexical model alone.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np

from trainer.config import ConfigError, TrainConfig

DEFAULT_BUDGET_S = 25 * 60
MIN_TRANSFORMER_ROWS = 300
PROBE_ROWS = 96
# Phase factors in units of one full forward pass (all layers, bf16/auto precision, no grad) over
# the same tokens, as the probe times it; fitted on timed runs on a 2-core AMD EPYC (BENCHMARKS.md
# "Auto preset"): the 38k-ticket IT set took 158 s for the features, 794 s for one fine-tuning epoch
# of the top 3 layers (12.4 probe units per tuned-layer share; 10 on a 2,000-ticket sample), 83 s to
# calibrate and test, 97 s for the lexical model and 323 s to export (fp32 parity and up to five int8
# variants on 4,096 validation rows).
FT_FACTOR = 11.5         # one training epoch (forward + backward + AdamW, dynamic batches) per tuned-layer share
# In fp32 (CPUs without bf16 hardware: AVX2 only) an epoch costs fewer probe units: two runs of the
# 2,000-ticket IT sample on a 2-core AMD EPYC with AVX2 only gave 7.1 and 9.1 (top 3 layers, 2 epochs;
# the probe itself varied by 15 % between them); 8.2 is between, as 11.5 is between bf16's 10 on
# that sample and 12.4 on the 38k tickets.
FT_FACTOR_FP32 = 8.2
HEAD_EPOCH_S_PER_ROW = 2e-5   # one head epoch over cached features (seconds per training row)
CALIBRATE_FWD = 3.0      # temperature and the validation/test figures after training
EXPORT_FIXED_S = 30.0    # ONNX export, the graph optimizer and the quantizer's own work
EXPORT_FWD = 18.0        # fp32 parity and int8 gate passes over the validation sample
BUDGET_SHARE = 0.9       # a recipe is chosen when its estimate is within this share of the budget
LEXICAL_S_PER_ROW = 2.5e-3    # TF-IDF + logistic regression, four values of C (seconds per training row)
FIXED_S = 20.0           # loading the encoder, tokenising, writing the bundle


@dataclass
class AutoPlan:
    preset: str                    # the concrete recipe: full | standard | quick | lexical
    overrides: dict                # TrainConfig fields set on top of the preset
    estimate_s: float
    estimates: dict = field(default_factory=dict)   # candidate label -> seconds (None: not a candidate)
    reason: str = ""
    budget_s: float = DEFAULT_BUDGET_S
    device: str = "cpu"
    probe: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return _label(self.preset, self.overrides)

    def config(self, **kw) -> TrainConfig:
        return TrainConfig.from_preset(self.preset, **{**self.overrides, **kw})

    def describe(self) -> str:
        """One line for people, said before training starts."""
        return (f"auto: {self.label} -- about {fmt_duration(self.estimate_s)} on {self.device} "
                f"(time budget {fmt_duration(self.budget_s)}); {self.reason}")

    def to_dict(self) -> dict:
        return {"preset": self.preset, "overrides": self.overrides, "label": self.label,
                "estimate_s": round(self.estimate_s, 1),
                "estimates": {k: (round(v, 1) if v is not None else None) for k, v in self.estimates.items()},
                "reason": self.reason, "budget_s": self.budget_s, "device": self.device, "probe": self.probe}


def _label(preset: str, overrides: dict) -> str:
    if preset == "standard" and overrides.get("finetune_layers") == 2:
        return "standard (top 2 layers, 1 epoch)"
    if preset == "standard" and overrides.get("finetune_epochs") == 1:
        return "standard (1 fine-tuning epoch)"
    return preset


def fmt_duration(s: float) -> str:
    s = max(0.0, float(s))
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr)?\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """``"20m"``, ``"90s"``, ``"1.5h"``, ``"45"`` (minutes) -> seconds."""
    m = _DURATION.match(str(text))
    if not m:
        raise ConfigError(f"time budget {text!r}: write a number with s, m or h, e.g. 20m, 90s, 1.5h")
    value = float(m.group(1))
    unit = (m.group(2) or "m").lower()
    seconds = value * {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}[unit]
    if seconds < 10:
        raise ConfigError(f"time budget {text!r} is too short (at least 10 s)")
    return seconds


# ---- the probe ---------------------------------------------------------------------------------
def probe_forward(base_model: str, texts: list[str], device: str = "auto", max_length: int = 128,
                  precision: str = "auto", rows: int = PROBE_ROWS, seed: int = 0) -> dict:
    """Seconds per token of one tower's forward pass (no grad, the training precision) on a sample
    of ``texts``, on the device training will use; plus the layers of the encoder."""
    import torch

    from trainer.loop import autocast_dtype, pick_device
    from trainer.model import load_bert, tokenizer_file
    from triage_app.tokens import encode, load_tokenizer, pad_batch

    dev = pick_device(device)
    tok = load_tokenizer(tokenizer_file(base_model), max_length)
    bert = load_bert(base_model).to(dev).eval()
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(texts), size=min(rows, len(texts)), replace=False) if texts else []
    ids = encode(tok, [texts[i] for i in pick]) or [[101, 102]]
    # one batch shape (the sample's median length): kernels for a new shape are built on first
    # use, which a long run pays once per shape but a short probe must not measure
    width = int(np.median([len(x) for x in ids]))
    batch = [(x + [0] * width)[:width] for x in (ids * 32)[:32]]
    a, m = pad_batch(batch)
    a, m = torch.from_numpy(a).to(dev), torch.from_numpy(m).to(dev)
    dtype = autocast_dtype(TrainConfig(precision=precision), dev)

    def run() -> float:
        t0 = time.perf_counter()
        with torch.no_grad(), torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            bert(input_ids=a, attention_mask=m)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    run(), run()                                       # warm-up
    dt = float(np.median([run() for _ in range(5)]))   # a sustained speed, not the luckiest batch
    return {"s_per_token": dt / (32 * width), "device": dev.type, "layers": int(bert.config.num_hidden_layers),
            "width": width, "seconds_per_batch": round(dt, 4),
            "precision": {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")}


def token_counts(base_model: str, data, max_length: int = 128) -> dict:
    """Tokens per split and tower (what the phases read), with the training tokenizer."""
    from trainer.model import tokenizer_file
    from triage_app.tokens import encode, load_tokenizer

    tok = load_tokenizer(tokenizer_file(base_model), max_length)

    def count(split):
        if split is None or not len(split):
            return 0, 0
        a = sum(len(x) for x in encode(tok, split.text_a))
        same = split.text_a is split.text_b or split.text_a == split.text_b
        b = 0 if same else sum(len(x) for x in encode(tok, split.text_b))
        return a, b

    return {name: count(getattr(data, name)) for name in ("train", "val", "test")}


# ---- the estimate ------------------------------------------------------------------------------
def estimate(cfg: TrainConfig, tokens: dict, rows: dict, s_per_token: float, layers: int,
             lexical: bool = True, precision: str = "bf16") -> float:
    """Seconds a recipe takes end to end (train, lexical model, export) by the cost model above;
    ``precision``: what the probe ran in (the fine-tuning factor differs in fp32)."""
    ft = FT_FACTOR_FP32 if precision == "fp32" else FT_FACTOR
    if cfg.preset == "lexical":
        return FIXED_S / 2 + lexical_seconds(rows)
    # a tower whose text equals the other's is read once (shared cache); split routing reads two
    fwd_all = s_per_token * sum(a + b for a, b in tokens.values())
    fwd_train = s_per_token * sum(tokens["train"])
    fwd_val = s_per_token * sum(tokens["val"])
    t = FIXED_S + fwd_all + HEAD_EPOCH_S_PER_ROW * rows["train"] * cfg.head_epochs
    if cfg.finetune_epochs:
        share = 1.0 if cfg.finetune_layers < 0 else min(cfg.finetune_layers, layers) / layers
        cache = 0.0 if (cfg.finetune_layers < 0 or not cfg.cache_layers) else (1 - share) * fwd_all
        t += cache + cfg.finetune_epochs * (ft * share * fwd_train + share * fwd_val)
        if cfg.finetune_layers < 0:            # no layer cache: every epoch runs the full towers
            t += cfg.finetune_epochs * (ft * fwd_train)
    t += CALIBRATE_FWD * s_per_token * (sum(tokens["val"]) + sum(tokens["test"]))
    val_sample = min(rows["val"], 4096) / max(rows["val"], 1)
    t += EXPORT_FIXED_S + EXPORT_FWD * fwd_val * val_sample + 2 * s_per_token * sum(tokens["test"])
    if lexical and cfg.hybrid:
        t += lexical_seconds(rows)
    return t


def lexical_seconds(rows: dict) -> float:
    """The lexical model's fitting time: four values of C on held-out rows (k folds over training +
    validation rows up to ``CV_MAX_ROWS``, else the training rows), then one refit on both."""
    from trainer.lexical import CV_FOLDS, CV_MAX_ROWS

    n = rows["train"] + rows["val"]
    choose = LEXICAL_S_PER_ROW * (n * (CV_FOLDS - 1) if n <= CV_MAX_ROWS else rows["train"])
    return choose + LEXICAL_S_PER_ROW * n / 4


def candidates(device: str) -> list[tuple[str, dict]]:
    out = [("full", {})] if device == "cuda" else []
    return out + [("standard", {}), ("standard", {"finetune_epochs": 1}),
                  ("standard", {"finetune_epochs": 1, "finetune_layers": 2}), ("quick", {})]


def plan(data, base_model: str, budget_s: float | None = None, device: str = "auto",
         overrides: dict | None = None, probe: dict | None = None) -> AutoPlan:
    """Choose the recipe for ``data`` (a :class:`trainer.data.PreparedData`).  ``overrides`` are
    the user's explicit settings (kept in every candidate); ``probe`` skips the measurement (tests)."""
    budget = float(budget_s) if budget_s is not None else DEFAULT_BUDGET_S
    overrides = dict(overrides or {})
    rows = {"train": len(data.train), "val": len(data.val), "test": len(data.test) if data.test is not None else 0}
    lexical_ok = overrides.get("hybrid", True)       # --no-lexical: a transformer whatever the size
    if rows["train"] < MIN_TRANSFORMER_ROWS and lexical_ok:
        cfg = TrainConfig.from_preset("lexical", **overrides)
        est = estimate(cfg, {}, rows, 0.0, 1)
        return AutoPlan("lexical", {}, est, {"lexical": est}, f"{rows['train']} training rows are too few for a "
                        f"transformer to add to the lexical model (it needs {MIN_TRANSFORMER_ROWS} or more)",
                        budget, "cpu")
    max_length = int(overrides.get("max_length", 128))
    probe = probe or probe_forward(base_model, list(data.train.text_a), device, max_length,
                                   overrides.get("precision", "auto"))
    tokens = token_counts(base_model, data, max_length)
    dev = probe["device"]
    ests: dict = {}
    chosen = None
    for preset, extra in candidates(dev):
        cfg = TrainConfig.from_preset(preset, **{**overrides, **extra})
        est = estimate(cfg, tokens, rows, probe["s_per_token"], probe["layers"],
                       precision=probe.get("precision", "bf16"))
        ests[_label(preset, extra)] = est
        if chosen is None and est <= BUDGET_SHARE * budget:
            chosen = (preset, extra, est)
    if not lexical_ok:
        if chosen is None:
            preset, extra = "quick", {}
            return AutoPlan(preset, extra, ests["quick"], ests, "no recipe fits the time budget; quick is the "
                            "fastest transformer recipe (the lexical model alone is ruled out by --no-lexical)",
                            budget, dev, probe)
    lex_est = estimate(TrainConfig.from_preset("lexical"), tokens, rows, 0.0, 1)
    ests["lexical"] = lex_est
    if chosen is None:
        return AutoPlan("lexical", {}, lex_est, ests, "no transformer recipe fits the time budget "
                        f"(quick would take about {fmt_duration(ests['quick'])})", budget, dev, probe)
    preset, extra, est = chosen
    stronger = [k for k in ests if k != "lexical"][: list(ests).index(_label(preset, extra))]
    if rows["train"] < MIN_TRANSFORMER_ROWS:
        stronger = []
    why = (f"the strongest recipe that fits; {', '.join(stronger)} would take about "
           f"{', '.join(fmt_duration(ests[k]) for k in stronger)}") if stronger else "the strongest recipe"
    return AutoPlan(preset, extra, est, ests, why, budget, dev, probe)
