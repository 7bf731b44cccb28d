"""Plain dataclass events emitted by :func:`trainer.loop.train` (no Qt, no torch objects)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PhaseEvent:
    """A new phase starts: prepare, features, head, finetune, calibrate, done."""
    phase: str
    message: str
    total_steps: int = 0


@dataclass
class ProgressEvent:
    """Progress inside a phase without optimizer steps (feature caching, evaluation)."""
    phase: str
    done: int
    total: int


@dataclass
class StepEvent:
    phase: str
    step: int            # global optimizer step (across phases)
    total_steps: int
    epoch: float         # fractional epoch inside the phase
    loss: float
    lr: float
    samples_per_s: float
    target_losses: dict | None = None   # several targets: {target: its loss, unweighted}


@dataclass
class EpochEvent:
    phase: str
    epoch: int           # 1-based within the phase
    epochs: int
    step: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    val_macro_f1: float
    elapsed_s: float
    eta_s: float
    improved: bool = False
    # several targets: {target: {"train_loss", "val_loss", "val_accuracy", "val_macro_f1"}}
    targets: dict | None = None

    def target_lines(self) -> list[str]:
        """One line per target (several targets), for logs: ``"category: train loss 0.812 ..."``."""
        return [f"{name}: train loss {r['train_loss']:.4f} val loss {r['val_loss']:.4f} "
                f"acc {r['val_accuracy']:.4f} macro-F1 {r['val_macro_f1']:.4f}"
                for name, r in (self.targets or {}).items()]


@dataclass
class FinishedEvent:
    metrics: dict
    checkpoint_dir: str | None
    elapsed_s: float


@dataclass
class CancelledEvent:
    message: str
    checkpoint_dir: str | None


@dataclass
class FailedEvent:
    message: str
    details: str = ""

