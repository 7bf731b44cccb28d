"""Application state shared by the tabs: active model, settings, corrections, running jobs."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from triage_app import paths
from triage_app.bundle import Bundle, BundleError, load_bundle
from triage_app.corrections import CorrectionsStore
from triage_app.engine import TicketClassifier

log = logging.getLogger("triage.gui")


@dataclass
class ModelEntry:
    """One row of the model list: a valid bundle, or a folder that failed to load (``error``)."""

    path: Path
    bundle: Bundle | None
    error: str | None = None
    builtin: bool = False

    @property
    def name(self) -> str:
        return self.bundle.name if self.bundle else self.path.name

    @property
    def version(self) -> str:
        return self.bundle.version if self.bundle else ""


def same_path(a, b) -> bool:
    if a is None or b is None:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return str(a) == str(b)


class AppContext(QObject):
    modelChanged = Signal(object)      # the new TicketClassifier
    jobChanged = Signal(str)           # names of running jobs, "" = idle
    thresholdsChanged = Signal()
    modelsListChanged = Signal()       # bundles imported / deleted / saved
    correctionsChanged = Signal(int)   # a correction was saved: the store's new count

    def __init__(self, settings: QSettings | None = None, corrections: CorrectionsStore | None = None,
                 device: str = "auto", parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings("TicketTriage", "TicketTriage")
        self.corrections = corrections if corrections is not None else CorrectionsStore()
        self.device = device
        # leave one core to the GUI thread (ORT would otherwise use every core and starve it)
        self.threads = max(1, (os.cpu_count() or 2) - 1)
        self.classifier: TicketClassifier | None = None
        self._jobs: dict[str, object] = {}      # name -> Job (or None when not registered)
        self._order: list[str] = []

    # ---- corrections --------------------------------------------------------------------------
    def add_correction(self, *args) -> int:
        """Save a correction (``CorrectionsStore.add``'s arguments) and tell every view the new count
        (one source of truth for the status bar, the Batch and Triage tabs and the Train tab)."""
        self.corrections.add(*args)
        n = self.corrections.count()
        self.correctionsChanged.emit(n)
        return n

    # ---- model --------------------------------------------------------------------------------

    def load_classifier(self, path) -> TicketClassifier:
        """Load a bundle (thread-safe, touches no state)."""
        return TicketClassifier.load(path, device=self.device, threads=self.threads, spin=False)

    def set_classifier(self, clf: TicketClassifier) -> None:
        self.classifier = clf
        self.settings.setValue("models/last_active", str(clf.bundle.path))
        self.modelChanged.emit(clf)

    def activate(self, path) -> TicketClassifier:
        """Load and activate; on :class:`BundleError` the previous model stays and the error propagates."""
        clf = self.load_classifier(path)
        self.set_classifier(clf)
        return clf

    def is_active(self, path) -> bool:
        return self.classifier is not None and same_path(self.classifier.bundle.path, path)

    def model_summary(self) -> str:
        c = self.classifier
        if c is None:
            return "No model"
        return f"{c.name} v{c.version} · {len(c.labels)} labels"

    def list_models(self) -> list[ModelEntry]:
        """The bundled default (when present) and every bundle folder in the user models folder."""
        out: list[ModelEntry] = []
        seen = set()
        default = paths.default_model_dir()
        if default.exists():
            out.append(self._entry(default, builtin=True))
            seen.add(str(default.resolve()))
        udir = paths.user_models_dir()
        for d in sorted(udir.iterdir(), key=lambda p: p.name.lower()):
            if not d.is_dir() or d.name.startswith(".") or str(d.resolve()) in seen:
                continue
            out.append(self._entry(d))
        if self.classifier is not None and str(Path(self.classifier.bundle.path).resolve()) not in \
                {str(e.path.resolve()) for e in out}:
            out.insert(0, ModelEntry(Path(self.classifier.bundle.path), self.classifier.bundle))
        return out

    @staticmethod
    def _entry(path: Path, builtin: bool = False) -> ModelEntry:
        try:
            return ModelEntry(path, load_bundle(path, verify_hash=False), None, builtin)
        except BundleError as e:
            return ModelEntry(path, None, str(e), builtin)
        except Exception as e:  # noqa: BLE001 - a broken folder must not break the list
            return ModelEntry(path, None, f"{path}: {e}", builtin)

    def is_builtin(self, path) -> bool:
        return same_path(path, paths.default_model_dir()) or \
            str(Path(path).resolve()).startswith(str(paths.bundled_models_dir().resolve()))

    # ---- jobs ---------------------------------------------------------------------------------
    def begin_job(self, name: str) -> bool:
        """Claim ``name`` (one job per resource); False when such a job already runs."""
        if name in self._jobs:
            return False
        self._jobs[name] = None
        self._order.append(name)
        self.jobChanged.emit(self.active_job)
        return True

    def register_job(self, job) -> None:
        self._jobs[job.name] = job

    def end_job(self, name: str, job=None) -> None:
        """Release ``name``; with ``job`` only when that job still holds it."""
        if job is not None and self._jobs.get(name) not in (None, job):
            return
        if name in self._jobs:
            del self._jobs[name]
            self._order.remove(name)
            self.jobChanged.emit(self.active_job)

    @property
    def active_job(self) -> str:
        return ", ".join(self._order)

    def running_jobs(self) -> list:
        return [j for j in self._jobs.values() if j is not None and j.is_running()]

    def job(self, name: str):
        return self._jobs.get(name)

    # ---- small settings helpers -------------------------------------------------------------
    def get_json(self, key: str, default=None):
        raw = self.settings.value(key)
        if raw in (None, ""):
            return default
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return default

    def set_json(self, key: str, value) -> None:
        self.settings.setValue(key, json.dumps(value))

    def last_dir(self, kind: str) -> str:
        d = self.settings.value(f"paths/{kind}", "")
        return d if d and Path(d).is_dir() else str(Path.home())

    def remember_dir(self, kind: str, path) -> None:
        p = Path(path)
        self.settings.setValue(f"paths/{kind}", str(p if p.is_dir() else p.parent))
