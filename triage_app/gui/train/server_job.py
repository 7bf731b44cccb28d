""""Server job…": write a folder to train on a server (trainer/server_job.py) with the data and the
settings of the form, in a background job (the data may be large).  A mixin of
:class:`triage_app.gui.train.tab.TrainTab` (``ctx``, ``run_bar``, the form and the data panel)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from triage_app.gui.train.common import HINTS


class ServerJobAction:
    def write_server_job(self, folder: str | Path | None = None):
        """Ask for a folder (unless given) and write the job into it; returns the job or None."""
        from triage_app.gui.widgets import start_job

        ok, why = self._can_start()
        if not ok:
            self.run_bar.set_status(why)
            return None
        try:
            cfg = self.build_config()
        except Exception as e:  # noqa: BLE001
            self._error("Check the model settings", str(e), HINTS["config"])
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Empty folder for the server job")
            if not folder:
                return None
        spec = self.data_spec()
        corrections = getattr(self.ctx, "corrections", None)
        target = Path(folder)

        def work(emit, should_stop):   # in the worker: plain data in, a path out, no widgets
            from trainer.pipeline import training_frame
            from trainer.server_job import write_server_job

            df, _stats = training_frame(spec, corrections)
            return str(write_server_job(target, replace(spec, df=None, use_corrections=False), cfg, df,
                                        should_stop=should_stop))

        def done(path):
            self.run_bar.set_status(f"Server job written to {path}: copy the folder to the server and run "
                                    "train.sh there (README.md says how, for one or more GPUs and machines); "
                                    "import the model it makes in Models.")
            self.serverJobWritten.emit(path)

        def failed(msg, details):
            self._error("The server job could not be written", msg,
                        "Choose an empty folder you can write to.", details)

        job = start_job(self.ctx, self, "server-job", work, "Writing the server job failed",
                        on_finished=done, on_failed=failed)
        if job is not None:
            self.run_bar.set_status(f"Writing the server job to {target}…")
        return job
