"""The Train tab's background data check: data preparation (:func:`trainer.pipeline.prepare`) on
the current settings, in a job, so the analyst sees what training would do with the file before
starting it.

Requests are debounced (300 ms after the last change); a request while a check runs cancels it and
runs once it has ended, and only the newest check's result is reported.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from trainer.pipeline import data_ready, prepare
from triage_app.gui.workers import Job, JobGroup


class DataCheck(QObject):
    ready = Signal(object)     # trainer.pipeline.DataReady
    failed = Signal(str)       # why the data cannot be trained on yet

    def __init__(self, jobs: JobGroup, spec: Callable, corrections: Callable, parent: QObject | None = None):
        """``spec()``: the DataSpec to check now, or None to skip; ``corrections()``: the store."""
        super().__init__(parent)
        self._jobs, self._spec, self._corrections = jobs, spec, corrections
        self._job: Job | None = None
        self._again = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)
        self._timer.timeout.connect(self._run)

    def schedule(self) -> None:
        self._timer.start()

    def restart(self) -> None:
        """The data changed under a running check: its result is dropped and a new check follows."""
        if self._job is not None:
            self._again = True
            self._job.cancel()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        if self._job is not None:
            self._job.cancel()

    @Slot()
    def _run(self) -> None:
        if self._job is not None:
            self._again = True
            self._job.cancel()
            return
        spec = self._spec()
        if spec is None or not spec.label_col or not (spec.title_col or spec.body_col or spec.text_col):
            return
        corrections = self._corrections()

        def check(emit, should_stop):
            data, _df = prepare(spec, corrections, should_stop)
            return data_ready(data)

        job = Job("train-check", check, self)
        job.finished.connect(self._finished)
        job.failed.connect(self._failed)
        job.done.connect(self._done)
        self._job = job
        self._jobs.start(job)

    @Slot(object)
    def _finished(self, ready) -> None:
        if not self._again:
            self.ready.emit(ready)

    @Slot(str, str)
    def _failed(self, msg: str, _details: str) -> None:
        if not self._again:
            self.failed.emit(msg)

    @Slot()
    def _done(self) -> None:
        job, self._job = self._job, None
        self._jobs.forget(job)
        job.deleteLater()
        if self._again:
            self._again = False
            self._timer.start()
