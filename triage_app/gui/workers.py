"""Run a plain core function in a QThread; it reports through Qt signals with plain data only.

The function receives ``emit(obj)`` (progress/events, rate-limiting is the core's job) and
``should_stop()`` keyword arguments.  Widgets are touched only by slots on the GUI thread.
"""
from __future__ import annotations

import time
import traceback
from typing import Callable

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QThread, Signal, Slot

from triage_app.errors import Cancelled

_RUNNING: set["Job"] = set()


def running_threads() -> list[str]:
    """Names of jobs whose thread still runs (tests fail when one is left behind)."""
    return [j.name for j in list(_RUNNING) if j.thread.isRunning()]


class _Worker(QObject):
    event = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()

    def __init__(self, fn: Callable, job: "Job"):
        super().__init__()
        self.fn = fn
        self.job = job

    @Slot()
    def run(self):
        try:
            result = self.fn(emit=self.event.emit, should_stop=self.job.should_stop)
        except Cancelled:
            self.cancelled.emit()
        except Exception as e:  # noqa: BLE001 - every error reaches the user as a message
            self.job.error = e          # read on the GUI thread once `failed` has arrived
            self.failed.emit(str(e) or type(e).__name__, traceback.format_exc())
        else:
            if self.job.should_stop() and result is None:
                self.cancelled.emit()
            else:
                self.finished.emit(result)
        # End the thread here, so Job.wait() on the GUI thread returns without an event loop;
        # the queued result signal is still delivered before `done`.
        QThread.currentThread().quit()


class Job(QObject):
    """One background job: ``Job(name, fn).start()``; connect to its signals first.

    States: running -> (cancelling) -> finished | failed | cancelled.  ``done`` fires after any
    of the three, once the thread has ended."""

    event = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, name: str, fn: Callable, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._stop = False
        self.error: BaseException | None = None    # what ended a failed job (matched by class)
        self.state = "idle"
        self.thread = QThread()
        self.thread.setObjectName(f"job-{name}")
        self.worker = _Worker(fn, self)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.event.connect(self.event)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self.thread.finished.connect(self._on_thread_done)

    def should_stop(self) -> bool:
        return self._stop

    def start(self) -> "Job":
        self.state = "running"
        _RUNNING.add(self)
        self.thread.start()
        return self

    def cancel(self) -> None:
        if self.state == "running":
            self.state = "cancelling"
        self._stop = True

    def is_running(self) -> bool:
        return self.state in ("running", "cancelling")

    def wait(self, ms: int = 30000) -> bool:
        ok = self.thread.wait(ms)
        return ok

    def _end(self, state):
        self.state = state
        self.thread.quit()

    def _on_finished(self, result):
        self._end("finished")
        self.finished.emit(result)

    def _on_failed(self, msg, details):
        self._end("failed")
        self.failed.emit(msg, details)

    def _on_cancelled(self):
        self._end("cancelled")
        self.cancelled.emit()

    def _on_thread_done(self):
        _RUNNING.discard(self)
        self.done.emit()


class JobGroup:
    """The jobs of one screen: started together, asked to stop together, awaited together."""

    def __init__(self):
        self._jobs: set[Job] = set()

    def start(self, job: Job) -> Job:
        self._jobs.add(job)
        return job.start()

    def forget(self, job: Job) -> None:
        """Call from the job's ``done`` slot."""
        self._jobs.discard(job)

    def busy(self) -> bool:
        return any(j.is_running() or j.thread.isRunning() for j in self._jobs)

    def cancel_all(self) -> None:
        for j in list(self._jobs):
            j.cancel()

    def wait(self, ms: int = 30000) -> bool:
        """Wait until every thread has ended (after :meth:`cancel_all`, e.g. on quit).

        Events are processed meanwhile: a Job's thread only quits once its result signal has
        been delivered on the GUI thread, so a plain ``QThread.wait`` here would deadlock."""
        deadline = time.monotonic() + ms / 1000
        while True:
            running = [j for j in list(self._jobs) if j.thread.isRunning()]
            if not running:
                QCoreApplication.processEvents()
                return True
            if time.monotonic() >= deadline:
                return False
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            running[0].thread.wait(10)
