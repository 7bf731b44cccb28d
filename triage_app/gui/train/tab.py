"""The retraining screen: load labelled tickets, check the labels, choose settings, train with a
live loss curve, compare with the active model, then save the new model and (optionally) use it.

This module is the state machine that wires the panels together; the panels are
:class:`DataPanel` ("1 · Labelled data"), :class:`SettingsForm` ("2 · Model settings"),
:class:`LabelsPage`, :class:`ProgressPage` and :class:`ResultsPage`.

Threads: reading a large file, the data check and the training run are :class:`Job` s.  The
training job is :func:`trainer.pipeline.run` (the same path ``triage train`` takes, under the same
machine-wide training lock); it gets plain data (a DataSpec, a config, the active classifier) and
reports plain events (trainer events, :class:`DataReady`, :class:`FailureInfo`).  Widgets change
only in slots.

States of the training run: ``idle`` -> ``running`` -> (``cancelling``) -> ``finished`` |
``failed`` | ``idle`` (cancelled).  The trained model is exported into a hidden ``.pending-*``
folder under :func:`paths.user_models_dir` (:func:`bundle.new_pending_dir`); "Save as model"
publishes it under a chosen name (:func:`bundle.publish_bundle`), "Discard", a cancel or a failure
deletes it, so a cancelled run leaves nothing.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from trainer.pipeline import DataReady, DataSpec, TrainOutcome
from triage_app import paths
from triage_app.bundle import clean_stale_work, new_pending_dir, safe_model_name
from triage_app.gui.train.actions import ResultActions
from triage_app.gui.train.common import FAILURE_TITLES, HINTS, FailureInfo, fmt_duration
from triage_app.gui.train.data_check import DataCheck
from triage_app.gui.train.data_panel import DataPanel
from triage_app.gui.train.job import LOCK_OWNER, training_job
from triage_app.gui.train.labels_page import LabelsPage
from triage_app.gui.train.progress_page import ProgressPage
from triage_app.gui.train.results_page import ResultsPage, served_val
from triage_app.gui.train.run_bar import RunBar
from triage_app.gui.train.server_job import ServerJobAction
from triage_app.gui.train.settings_form import FIELDS, SettingsForm
from triage_app.gui.widgets import show_error
from triage_app.gui.workers import Job, JobGroup
from triage_app.joblock import JobBusy, JobLock

LARGE_FILE_BYTES = 2 * 2**20          # read bigger files in a background job
STATES = ("idle", "running", "cancelling", "finished", "failed")
PAGE_LABELS, PAGE_TRAINING, PAGE_RESULTS = range(3)


class TrainTab(ResultActions, ServerJobAction, QWidget):
    """Retraining screen.  ``ctx``: the app context (``classifier``, ``corrections``,
    ``begin_job``/``end_job``, ``activate``, ``modelChanged``)."""

    stateChanged = Signal(str)
    dataLoaded = Signal(int)              # rows
    previewUpdated = Signal()             # data check finished (report lines shown)
    trainingFinished = Signal(object)     # TrainOutcome
    modelSaved = Signal(str)              # path of the saved bundle
    modelActivated = Signal(str)
    serverJobWritten = Signal(str)        # folder of a "train on a server" job

    FIELDS = FIELDS

    def __init__(self, ctx, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("TrainTab")
        self.ctx = ctx
        self.config_overrides: dict = {}     # extra TrainConfig fields (tests, power users)
        self.export_options: dict = {}       # extra export_result options (e.g. quantize=False)
        self.last_error: tuple[str, str] | None = None
        self.report_lines: list[str] = []
        self._state = "idle"
        self._jobs = JobGroup()
        self._train_job: Job | None = None
        self._finish = threading.Event()        # set by "Stop, keep best" for the running job
        self._load_job: Job | None = None
        self._outcome: TrainOutcome | None = None
        self._saved_path: Path | None = None
        self._failure: FailureInfo | None = None
        self._pending: Path | None = None    # hidden folder of the current / unsaved run
        self._error_box = None
        self._closing = False
        self._job_claimed = False
        self.data_check = DataCheck(
            self._jobs, lambda: None if self.training() or self._closing else self.data_spec(),
            lambda: getattr(self.ctx, "corrections", None), self)
        self._build()
        self.refresh_corrections_count()
        changed = getattr(ctx, "correctionsChanged", None)
        if changed is not None:           # a correction saved in Triage or Batch: the count follows
            changed.connect(lambda _n: self._corrections_changed())
        self._set_state("idle", "Load a labelled file to start.")
        clean_stale_work(paths.user_models_dir())  # hidden work folders of a killed export

    # ================================================================ construction
    def _build(self) -> None:
        root = QHBoxLayout(self)
        root.setContentsMargins(8, 8, 8, 8)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.setChildrenCollapsible(False)
        root.addWidget(split)

        # ---- left: settings (scrollable) + run bar ----
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 4, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        inner = QWidget()
        iv = QVBoxLayout(inner)
        iv.setContentsMargins(0, 0, 6, 0)
        self.data_panel = DataPanel(self.ctx)
        self.settings_form = SettingsForm(settings=getattr(self.ctx, "settings", None))
        iv.addWidget(self.data_panel)
        iv.addWidget(self.settings_form)
        iv.addStretch(1)
        scroll.setWidget(inner)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lv.addWidget(scroll, 1)
        self.run_bar = RunBar()
        lv.addWidget(self.run_bar)
        left.setMinimumWidth(440)
        split.addWidget(left)

        # ---- right: pages ----
        self.labels_page = LabelsPage()
        self.progress_page = ProgressPage()
        self.results_page = ResultsPage()
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.labels_page, "Labels")
        self.pages.addTab(self.progress_page, "Training")
        self.pages.addTab(self.results_page, "Results")
        split.addWidget(self.pages)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([470, 970])

        self.run_bar.startRequested.connect(self.start)
        self.run_bar.cancelRequested.connect(self.request_stop)
        self.run_bar.finishRequested.connect(self.finish_early)
        self.run_bar.serverJobRequested.connect(lambda: self.write_server_job())
        self.data_panel.fileChosen.connect(self.load_file)
        self.data_panel.sheetChosen.connect(self._reload_sheet)
        self.data_panel.labelsChanged.connect(self._labels_changed)
        self.results_page.saveRequested.connect(self.save_model)
        self.results_page.useRequested.connect(self.use_model)
        self.results_page.discardRequested.connect(self.discard)
        self.data_check.ready.connect(self._show_report)
        self.data_check.failed.connect(self._show_check_error)

    # ================================================================ state
    @property
    def state(self) -> str:
        return self._state

    def busy(self) -> bool:
        """True while any job of this tab (training, file reading, data check) runs."""
        return self._jobs.busy()

    def training(self) -> bool:
        return self._state in ("running", "cancelling")

    def has_unsaved_result(self) -> bool:
        return self._outcome is not None and self._saved_path is None

    def _can_start(self) -> tuple[bool, str]:
        if self.training():
            return False, "A training run is already in progress."
        if not self.data_panel.has_data():
            return False, "Load a labelled file first."
        if self._load_job is not None:
            return False, "The file is still being read."
        if not self.data_panel.label_column():
            return False, "Choose the label column."
        if not any(self.data_panel.text_columns().values()):
            return False, "Choose the ticket text column(s)."
        return True, ""

    def _set_state(self, state: str, message: str = "") -> None:
        assert state in STATES, state
        self._state = state
        running = state in ("running", "cancelling")
        self._refresh_start()
        self.run_bar.set_cancel_enabled(state == "running")
        self.data_panel.setEnabled(not running and self._load_job is None)
        self.settings_form.setEnabled(not running)
        self._update_result_buttons()
        self.run_bar.set_state(state, message)
        self.stateChanged.emit(state)

    def _update_result_buttons(self) -> None:
        self.results_page.set_actions(self._outcome is not None and not self.training(),
                                      self._saved_path is not None)

    def _refresh_start(self) -> None:
        self.run_bar.set_can_start(*self._can_start())

    # ================================================================ data loading
    def _reload_sheet(self, sheet: str) -> None:
        if self.data_panel.path is not None:
            self.load_file(self.data_panel.path, sheet=sheet or None)

    def load_file(self, path, sheet: str | None = None) -> bool:
        """Read a labelled file (in a job when it is large).  ``dataLoaded`` fires when done."""
        if self.training() or self._load_job is not None:
            return False
        p = Path(path)
        try:
            size = p.stat().st_size
        except OSError as e:
            self._error("Cannot open the file", f"{p.name}: {e.strerror or e}", HINTS["table"])
            return False

        def read(emit=None, should_stop=None):
            from triage_app.io import list_sheets, read_table

            sheets = list_sheets(p) if p.suffix.lower() in (".xlsx", ".xlsm") else []
            df, rep = read_table(p, sheet=sheet)
            return df, rep, sheets

        if size <= LARGE_FILE_BYTES:
            try:
                df, rep, sheets = read()
            except Exception as e:  # noqa: BLE001
                self._error("Cannot read the file", str(e), HINTS["table"])
                return False
            self._set_data(p, df, rep, sheets)
            return True
        self.data_panel.show_reading(p, size)
        job = Job("train-load", read, self)
        job.finished.connect(lambda res: self._set_data(p, *res))
        job.failed.connect(lambda msg, det: self._error("Cannot read the file", msg, HINTS["table"], det))
        job.done.connect(lambda: self._job_done(job))
        self._load_job = job
        self._jobs.start(job)
        self._set_state(self._state)
        return True

    def _set_data(self, path: Path, df, rep, sheets: list[str]) -> None:
        # nothing of the previous file stays on screen: its data check report and status line go
        self.data_check.restart()
        self.labels_page.clear_report()
        self.data_panel.set_data(path, df, rep, sheets)
        self.pages.setCurrentIndex(PAGE_LABELS)
        if not self.training():
            self.run_bar.set_status(f"Loaded {path.name} ({len(df):,} rows). Check the columns and the "
                                    "labels, then start training.")
        self.dataLoaded.emit(len(df))

    def _job_done(self, job: Job) -> None:
        self._jobs.forget(job)
        if job is self._load_job:
            self._load_job = None
            self._set_state(self._state)
        job.done.disconnect()   # drop the lambda that holds the job before the job goes
        job.deleteLater()

    # ================================================================ labels and the data check
    def _labels_changed(self) -> None:
        """Redraw the distribution chart now; schedule the (background) data check."""
        self._refresh_start()
        if not self.data_panel.has_data():
            return
        self.labels_page.set_counts(self.data_panel.label_counts(), self.data_panel.threshold())
        self.data_check.schedule()

    def merge_map(self) -> dict:
        return self.data_panel.merge_map()

    def set_merge_map(self, mapping: dict) -> None:
        self.data_panel.set_merge_map(mapping)

    def refresh_corrections_count(self) -> bool:
        """Re-read the number of stored corrections; True when it changed."""
        return self.data_panel.refresh_corrections_count()

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        self._corrections_changed()

    def _corrections_changed(self) -> None:
        """The store's count moved (a correction saved elsewhere): the data panel and, when the
        corrections are included, the label counts and the data check follow."""
        if not self.training() and self.refresh_corrections_count():
            self._labels_changed()

    def data_spec(self) -> DataSpec | None:
        return self.data_panel.data_spec(routing=self.settings_form.routing(),
                                         class_weights=self.settings_form.class_weights())

    def _set_report(self, ready: DataReady) -> None:
        self.labels_page.show_report(ready, self.data_panel.corrections_note)
        self.report_lines = list(ready.lines)

    @Slot(object)
    def _show_report(self, ready) -> None:
        self._set_report(ready)
        self.previewUpdated.emit()

    @Slot(str)
    def _show_check_error(self, msg: str) -> None:
        self.labels_page.show_check_error(msg)
        self.report_lines = []
        self.previewUpdated.emit()

    # ================================================================ settings
    def form_values(self) -> dict:
        return self.settings_form.form_values()

    def build_config(self):
        """The TrainConfig of the form (+ the targets' loss weights, + ``config_overrides``);
        raises ConfigError/ValueError."""
        weights = self.data_panel.more_targets.loss_weights() if self.data_panel.extra_label_columns() else {}
        extra = {"loss_weights": weights} if any(w != 1.0 for w in weights.values()) else {}
        return self.settings_form.build_config({**extra, **self.config_overrides})

    # ================================================================ training
    def _torch_available(self) -> bool:
        """True when PyTorch can be imported; otherwise the user is told why training is off."""
        import importlib.util

        if importlib.util.find_spec("torch") is not None:
            return True
        self._error("Training is not available here",
                    "This installation of TicketTriage has no PyTorch, which training needs.",
                    "Install PyTorch (pip install torch) in the app's environment to retrain "
                    "models; classifying works without it.")
        return False

    def start(self) -> bool:
        """Start a training run; returns False (and says why) when it cannot start now."""
        ok, why = self._can_start()
        if not ok:
            if not self.training():
                self.run_bar.set_status(why)
            return False
        if not self._torch_available():
            return False
        try:
            cfg = self.build_config()
        except Exception as e:  # noqa: BLE001
            self._error("Check the model settings", str(e), HINTS["config"])
            return False
        self.settings_form.remember_base(cfg.base_model)
        spec = self.data_spec()
        if spec.routing == "split" and not (spec.title_col and spec.body_col):
            self._error("Check the model settings",
                        "'Title → tower A, body → tower B' needs both a title and a body column.",
                        "Choose title and body columns, or send the same text to both towers.")
            return False
        begin = getattr(self.ctx, "begin_job", None)
        if begin is not None and not begin("train"):
            self._error("Another task is running",
                        "The app is busy with another task (classifying, exporting or training).",
                        "Wait until it has finished, or cancel it, then start training again.")
            return False
        self._job_claimed = True
        self.data_check.stop()
        try:
            JobLock("train").acquire(LOCK_OWNER).release()   # say it now, before the run starts
            pending = new_pending_dir(paths.user_models_dir())
        except JobBusy as e:
            self._release_job()
            self._error(FAILURE_TITLES["busy"], str(e), HINTS["busy"])
            return False
        except OSError as e:
            self._release_job()
            self._error("Cannot write models", str(e), "Check the permissions of the app's data folder.")
            return False
        discarded = self.has_unsaved_result()     # only now: a refused start keeps the unsaved model
        if discarded:
            self._discard_pending()
        self._launch(spec, cfg, pending, discarded)
        return True

    def _launch(self, spec: DataSpec, cfg, pending: Path, discarded: bool) -> None:
        """Create and start the training job (the "train" job of the context is already held)."""
        stamp = time.strftime("%Y-%m-%d-%H%M")
        stem = safe_model_name(Path(spec.source).stem) or "tickets"
        name = safe_model_name(f"{stem}-{stamp}")
        self._pending = pending
        finish = self._finish = threading.Event()     # "Stop, keep best": read by the worker
        fn = training_job(spec, cfg, pending / "bundle", name=name, version=time.strftime("%Y%m%d.%H%M%S"),
                          active=getattr(self.ctx, "classifier", None),
                          corrections=getattr(self.ctx, "corrections", None),
                          export_options=dict(self.export_options), finish_early=finish.is_set)
        self._reset_run_views()
        self.results_page.set_model_name(name)
        job = Job("train", fn, self)
        job.event.connect(self._on_event)
        job.finished.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        job.done.connect(lambda: self._on_done(job))
        self._train_job = job
        register = getattr(self.ctx, "register_job", None)
        if register is not None:
            register(job)
        self.progress_page.start_run()
        self._set_state("running", f"Training with the {cfg.preset} preset on {spec.source}…" +
                        (" (the previous unsaved model was discarded)" if discarded else ""))
        self.pages.setCurrentIndex(PAGE_TRAINING)
        self._jobs.start(job)

    def finish_early(self) -> None:
        """End training with the best epoch so far; the run then exports as usual (the worker
        reads the flag between batches)."""
        if self._train_job is not None and self._train_job.is_running() and self._state == "running":
            self._finish.set()
            self.run_bar.finish_btn.setEnabled(False)
            self.run_bar.set_status("Finishing: the best epoch so far is kept, then the model is calibrated, "
                                    "compared and exported…")

    def request_stop(self) -> None:
        """Ask every job of this tab to stop (cooperative); the training run ends as cancelled."""
        if self._train_job is not None and self._train_job.is_running() and self._state == "running":
            self._train_job.cancel()
            self._set_state("cancelling", "Cancelling… (the current batch finishes first)")
        self._jobs.cancel_all()
        self.data_check.stop()

    def wait(self, ms: int = 30000) -> bool:
        """Wait until this tab's threads ended (after :meth:`request_stop`, e.g. on quit)."""
        return self._jobs.wait(ms)

    def shutdown(self, ms: int = 30000) -> bool:
        """On quit: stop and await the jobs, delete an unsaved trained model."""
        self._closing = True
        self.request_stop()
        ok = self.wait(ms)
        self._discard_pending()
        return ok

    def _reset_run_views(self) -> None:
        self._outcome = None
        self._saved_path = None
        self._failure = None
        self.progress_page.reset()
        self.results_page.clear()
        self._update_result_buttons()

    @Slot(object)
    def _on_event(self, ev) -> None:
        if isinstance(ev, DataReady):
            self._set_report(ev)
            self.progress_page.log("data: " + "; ".join(ev.lines))
        elif isinstance(ev, FailureInfo):
            self._failure = ev
        else:
            self.progress_page.on_event(ev)

    def _release_job(self) -> None:
        """Give the "train" job back to the context (once), as soon as the result is in."""
        if self._job_claimed:
            self._job_claimed = False
            end = getattr(self.ctx, "end_job", None)
            if end is not None:
                end("train")

    @Slot(object)
    def _on_finished(self, outcome: TrainOutcome) -> None:
        self._release_job()
        if self._state == "cancelling":
            self._discard_pending()
            self._set_state("idle", "Cancelled — nothing saved.")
            return
        self._outcome = outcome
        self._saved_path = None
        self.results_page.set_model_name(outcome.name)
        self.results_page.show_outcome(outcome)
        self._update_result_buttons()
        self.progress_page.show_finished(outcome)
        val = served_val(outcome)
        acc, f1 = val.get("accuracy", float("nan")), val.get("macro_f1", float("nan"))
        self._set_state("finished", f"Finished in {fmt_duration(outcome.elapsed_s)}: validation accuracy "
                        f"{acc:.3f}, macro-F1 {f1:.3f}. Save the model to keep it.")
        self.pages.setCurrentIndex(PAGE_RESULTS)
        self.trainingFinished.emit(outcome)

    @Slot(str, str)
    def _on_failed(self, msg: str, details: str) -> None:
        self._release_job()
        self._discard_pending()
        if self._state == "cancelling":
            self._set_state("idle", "Cancelled — nothing saved.")
            self.progress_page.log(f"(while cancelling: {msg})")
            return
        kind = self._failure.kind if self._failure else "other"
        self.progress_page.show_failed(msg)
        self._set_state("failed", f"Training failed: {msg}")
        self._error(FAILURE_TITLES.get(kind, "Training failed"), msg, HINTS.get(kind, HINTS["other"]),
                    details if kind in ("other", "export", "memory") else "")

    @Slot()
    def _on_cancelled(self) -> None:
        self._release_job()
        self._discard_pending()
        self.progress_page.show_cancelled()
        self._set_state("idle", "Cancelled — nothing saved.")

    def _on_done(self, job: Job) -> None:
        self._jobs.forget(job)
        if job is self._train_job:
            self._train_job = None
            self.progress_page.stop_run()
            self._release_job()
            if self._state in ("running", "cancelling"):   # ended without a result signal
                self._discard_pending()
                self._set_state("idle", "Cancelled — nothing saved.")
            else:
                self._set_state(self._state)
        job.done.disconnect()   # drop the lambda that holds the job before the job goes
        job.deleteLater()

    # ================================================================ errors
    def _error(self, title: str, message: str, hint: str = "", details: str = "") -> None:
        self.last_error = (title, message)
        self._error_box = show_error(self, title, message, hint, details)

