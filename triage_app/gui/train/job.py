"""The training job of the Train tab: :func:`trainer.pipeline.run` (the same path ``triage train``
takes) in a worker, plus a :class:`FailureInfo` event that tells the tab which hint fits an error."""
from __future__ import annotations

import os
from pathlib import Path

from trainer.pipeline import DataSpec, error_kind, run
from triage_app.errors import Cancelled
from triage_app.gui.train.common import FailureInfo

# Who holds the machine-wide training lock while the app trains (``triage train`` names itself).
LOCK_OWNER = f"TicketTriage app, Train tab (process {os.getpid()})"


def training_job(spec: DataSpec, cfg, out_dir: Path, *, name: str, version: str, active=None,
                 corrections=None, export_options: dict | None = None, finish_early=None):
    """The job function (``fn(emit, should_stop)``) of one training run into ``out_dir``;
    ``finish_early()`` ends training with the best epoch so far (the run then exports as usual)."""

    def fn(emit, should_stop):
        try:
            return run(spec, cfg, out_dir, name=name, version=version, active=active,
                       corrections=corrections, on_event=emit, should_stop=should_stop,
                       export_options=export_options, lock_owner=LOCK_OWNER, finish_early=finish_early)
        except Cancelled:
            raise
        except Exception as e:
            emit(FailureInfo(error_kind(e), str(e) or type(e).__name__))
            raise

    return fn
