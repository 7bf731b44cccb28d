"""Validated training configuration with named presets; saved as JSON in every bundle/checkpoint."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from triage_app.errors import TriageError

DEFAULT_BASE = "all-MiniLM-L6-v2"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def looks_like_hub_id(name: str) -> bool:
    """True when ``name`` reads as a Hugging Face hub id (``name`` or ``org/name``) rather than a
    folder path (absolute, ``./``, ``~``, backslashes, several levels).  An existing folder of that
    name is still used as a folder."""
    return bool(_HUB_ID.fullmatch(name.strip())) and ".." not in name
# Labels with fewer examples than the rare-label threshold are too rare to learn well (dropped or
# merged into "Other").  Unless set, the threshold is 1 % of the labeled rows, at least 5 and at
# most DEFAULT_MIN_PER_CLASS: a 300-row file keeps labels of 5 tickets, a 38,000-row one needs 30.
DEFAULT_MIN_PER_CLASS = 30
MIN_PER_CLASS_FLOOR = 5


def default_min_per_class(labeled_rows: int) -> int:
    return max(MIN_PER_CLASS_FLOOR, min(DEFAULT_MIN_PER_CLASS, int(labeled_rows) // 100))
# "auto" picks one of the others for the data, the device and the time budget (trainer/auto.py);
# "lexical" trains the TF-IDF + logistic regression model alone (no transformer).
PRESETS = ("auto", "quick", "standard", "full", "lexical", "seed")
TRANSFORMER_PRESETS = ("quick", "standard", "full", "seed")   # the recipes whose settings are the fields below


class ConfigError(TriageError, ValueError):
    """A setting is out of range; the message names it."""


@dataclass
class TrainConfig:
    preset: str = "quick"
    base_model: str = DEFAULT_BASE          # folder or hub id, any family of trainer.model.FAMILIES;
                                            # the default resolves to the installed package
    base_model_b: str | None = None         # tower B checkpoint, may be of another family (None: base_model)
    pooling: str = "mean"                   # "mean" | "pooler"
    routing: str = "same"                   # "same" | "split"
    max_length: int = 128
    dropout: float = 0.1
    batch_size: int = 32
    eval_batch_size: int = 128
    pad_to_max: bool = False                # reference recipe pads every ticket to max_length
    # phase 1: frozen towers, head on cached features
    head_epochs: int = 30
    head_lr: float = 3e-3
    cache_features: bool = True
    # phase 2: fine-tuning of the towers
    finetune_epochs: int = 0
    finetune_layers: int = 0                # top N encoder layers of each tower; -1 = all (+ embeddings)
    tower_lr: float = 5e-5
    finetune_head_lr: float = 5e-4
    cache_layers: bool = True               # phase 2: compute the frozen bottom layers' outputs once
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    class_weights: bool = True
    hybrid: bool = True                     # fit a TF-IDF model too and serve the blend validation picks
    precision: str = "auto"                 # "auto" (bf16 where supported) | "fp32" | "bf16" | "fp16"
    patience: int = 2                       # early stopping on val macro-F1 (epochs without gain)
    seed: int = 42
    device: str = "auto"                    # "auto" | "cpu" | "cuda"
    max_steps: int | None = None            # stop a phase after this many steps (tests, smoke runs)
    step_events_per_s: float = 10.0
    time_budget_s: float | None = None      # "auto": the longest the whole run may take (None: 25 min)
    loss_weights: dict | None = None        # several targets: label column -> weight of its loss (default 1)

    def __post_init__(self):
        errs = []
        if self.preset not in PRESETS + ("custom",):
            errs.append(f"preset must be one of {', '.join(PRESETS)} (got {self.preset!r})")
        if self.pooling not in ("mean", "pooler"):
            errs.append(f"pooling must be 'mean' or 'pooler' (got {self.pooling!r})")
        if self.routing not in ("same", "split"):
            errs.append(f"routing must be 'same' or 'split' (got {self.routing!r})")
        if not 8 <= self.max_length <= 512:
            errs.append(f"max_length must be between 8 and 512 (got {self.max_length})")
        if not 0 <= self.dropout < 1:
            errs.append(f"dropout must be in [0, 1) (got {self.dropout})")
        for name in ("batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                errs.append(f"{name} must be >= 1")
        for name in ("head_epochs", "finetune_epochs", "patience"):
            if getattr(self, name) < 0:
                errs.append(f"{name} must be >= 0")
        if self.head_epochs == 0 and self.finetune_epochs == 0:
            errs.append("nothing to train: head_epochs and finetune_epochs are both 0")
        for name in ("head_lr", "tower_lr", "finetune_head_lr"):
            if not 0 < getattr(self, name) < 1:
                errs.append(f"{name} must be in (0, 1) (got {getattr(self, name)})")
        if self.finetune_layers < -1:
            errs.append("finetune_layers must be -1 (all) or >= 0")
        if self.finetune_epochs > 0 and self.finetune_layers == 0:
            errs.append("finetune_epochs > 0 needs finetune_layers != 0")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            errs.append(f"precision must be auto, fp32, bf16 or fp16 (got {self.precision!r})")
        if self.device not in ("auto", "cpu", "cuda"):
            errs.append(f"device must be auto, cpu or cuda (got {self.device!r})")
        if not 0 <= self.warmup_ratio < 1:
            errs.append("warmup_ratio must be in [0, 1)")
        if self.max_steps is not None and self.max_steps < 1:
            errs.append("max_steps must be >= 1")
        if self.preset == "lexical" and not self.hybrid:
            errs.append("the lexical preset trains the lexical model alone: it cannot be combined with "
                        "hybrid off (--no-lexical)")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            errs.append(f"time_budget_s must be > 0 (got {self.time_budget_s})")
        for k, v in (self.loss_weights or {}).items():
            if not isinstance(v, (int, float)) or not 0 < v <= 100:
                errs.append(f"the loss weight of {k!r} must be in (0, 100] (got {v!r})")
        if errs:
            raise ConfigError("; ".join(errs))

    # ---- presets -------------------------------------------------------------------------
    @classmethod
    def auto(cls, **kw) -> "TrainConfig":
        """Resolved after the data is read: the strongest recipe that fits the rows, the device
        and ``time_budget_s`` (trainer/auto.py); settings given here are kept."""
        return cls(**{"preset": "auto", **kw})

    @classmethod
    def lexical(cls, **kw) -> "TrainConfig":
        """The lexical model alone (TF-IDF + class-balanced logistic regression): seconds, no
        transformer; for tiny data, or as the yardstick."""
        return cls(**{"preset": "lexical", **kw})

    @classmethod
    def quick(cls, **kw) -> "TrainConfig":
        """Phase 1 only: frozen towers, features cached once, linear head (minutes on a CPU)."""
        return cls(**{"preset": "quick", "head_epochs": 30, "finetune_epochs": 0, **kw})

    @classmethod
    def standard(cls, **kw) -> "TrainConfig":
        """Phase 1, then the top 3 encoder layers of both towers fine-tuned for two epochs at 2e-4;
        the frozen bottom layers' outputs are computed once and cached (half the cost of tuning
        all six layers of MiniLM-L6). The shipped model used ``finetune_layers=6`` at 1e-4.
        2e-4 beat 1e-4 on validation (0.8825 vs 0.8779 accuracy, BENCHMARKS.md)."""
        return cls(**{"preset": "standard", "head_epochs": 20, "finetune_epochs": 2,
                      "finetune_layers": 3, "tower_lr": 2e-4, "class_weights": False, **kw})

    @classmethod
    def full(cls, **kw) -> "TrainConfig":
        """Phase 1, then everything fine-tuned (GPU recommended)."""
        return cls(**{"preset": "full", "head_epochs": 20, "finetune_epochs": 3,
                      "finetune_layers": -1, "tower_lr": 5e-5, "class_weights": False, **kw})

    @classmethod
    def reference(cls, **kw) -> "TrainConfig":
        """The reference study's recipe: same text to both towers, pooler output, pad to 128,
        batch 64, dropout 0.1, AdamW lr 1e-4 on the head with frozen towers, class weights."""
        return cls(**{"preset": "seed", "routing": "same", "pooling": "pooler", "max_length": 128,
                      "pad_to_max": True, "batch_size": 64, "dropout": 0.1, "head_lr": 1e-4,
                      "head_epochs": 10, "finetune_epochs": 0, "class_weights": True,
                      "precision": "fp32", "warmup_ratio": 0.0, "weight_decay": 0.0, "hybrid": False, **kw})

    @classmethod
    def from_preset(cls, name: str, **kw) -> "TrainConfig":
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return getattr(cls, "reference" if name == "seed" else name)(**kw)

    def to_dict(self) -> dict:
        return asdict(self)

    def explicit(self) -> dict:
        """The fields that differ from the plain defaults (what an ``auto`` run keeps)."""
        base = TrainConfig()
        skip = {"preset", "time_budget_s"}
        return {k: v for k, v in asdict(self).items() if k not in skip and getattr(base, k) != v}
