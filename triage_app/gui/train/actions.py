"""What happens to a finished run's model: save it into the models folder, use it (hot swap, after
a question when it scored below the active model), or discard it.  A mixin of
:class:`triage_app.gui.train.tab.TrainTab`, whose state (``_outcome``, ``_pending``,
``_saved_path``, the pages and ``ctx``) it reads and updates."""
from __future__ import annotations

from pathlib import Path

from triage_app import paths
from triage_app.bundle import discard_pending, publish_bundle, safe_model_name
from triage_app.gui import widgets


def weaker_model_question(comparison: dict | None) -> str:
    """The question to ask when the new model scored below the active model on the validation
    tickets both know ("" when it did not, or when there was no comparison)."""
    c = comparison or {}
    if "error" in c or not c.get("rows"):
        return ""
    new, act = c["new"], c["active"]
    if new["macro_f1"] >= act["macro_f1"] and new["accuracy"] >= act["accuracy"]:
        return ""
    return (f"On the {c['rows']:,} validation tickets both models know, the new model scores "
            f"{new['accuracy']:.1%} accuracy and {new['macro_f1']:.1%} macro-F1; the active model "
            f"{c.get('active_name', '')} scores {act['accuracy']:.1%} and {act['macro_f1']:.1%}.\n\n"
            + (f"{c['caveat']}\n\n" if c.get("caveat") else "") +
            "Use the new model anyway? The active model stays listed in Models either way.")


class ResultActions:
    def save_model(self) -> Path | None:
        """Move the trained model out of its hidden folder into the models folder."""
        o = self._outcome
        if o is None or self.training():
            return None
        if self._saved_path is not None:
            return self._saved_path
        name = safe_model_name(self.results_page.model_name())
        if not name:
            self._error("Choose a model name", "The model needs a name (letters, digits, - _ .).",
                        "Type a name next to 'Save as model'.")
            return None
        if (paths.user_models_dir() / name).exists():
            self._error("Choose another name", f"A model called '{name}' already exists.",
                        "Type a different name; existing models are never overwritten.")
            return None
        try:
            dest = publish_bundle(o.bundle_path, paths.user_models_dir(), name).path
        except Exception as e:  # noqa: BLE001 - shown to the user with what to check
            self._error("The model could not be saved", str(e),
                        "Check free disk space and the permissions of the app's data folder.")
            return None
        self._saved_path = dest
        self._discard_pending()             # the now empty hidden folder of the run
        self.results_page.set_model_name(name)
        self._update_result_buttons()
        self.run_bar.set_status(f"Saved as '{name}' in {dest.parent}. It is listed in Models.")
        self.progress_page.log(f"saved as {dest}")
        self.modelSaved.emit(str(dest))
        listed = getattr(self.ctx, "modelsListChanged", None)
        if listed is not None:
            listed.emit()
        return dest

    def use_model(self):
        """Save (if needed) and switch the app to the new model without a restart. The bundle is
        loaded in a worker (the "activate" job the Models tab uses too); the swap happens on the
        GUI thread when it is loaded. Returns the job, or None when nothing was started.
        A model that scored below the active one on the shared comparison is used only after the
        analyst confirms it."""
        worse = weaker_model_question(self._outcome.comparison if self._outcome is not None else None)
        if worse and not widgets.ask(self, "Use a weaker model?", worse, yes="Use it anyway",
                                     no="Keep the active model"):
            self.run_bar.set_status("The active model stays in use; the new one can be saved or used later.")
            return None
        path = self.save_model()
        if path is None:
            return None
        from triage_app.gui.widgets import start_job

        def ok(clf):
            self.ctx.set_classifier(clf)
            self.run_bar.set_status(f"Now using '{path.name}'. The previous model stays listed in "
                                      "Models, so you can switch back at any time.")
            self.modelActivated.emit(str(path))

        def fail(msg, details):
            self.results_page.set_use_enabled(True)
            self._error("The new model could not be activated", msg,
                        "The model is saved and the previous model is still active; see Models.", details)

        self.results_page.set_use_enabled(False)
        job = start_job(self.ctx, self, "activate", lambda emit, should_stop: self.ctx.load_classifier(path),
                        "Activating the model failed", on_finished=ok, on_failed=fail)
        if job is None:
            self.results_page.set_use_enabled(True)
        else:
            self.run_bar.set_status(f"Loading '{path.name}'…")
        return job

    def _discard_pending(self) -> None:
        """Delete the hidden folder of the last run (what is left in it after a save, or the
        unsaved model)."""
        pending, self._pending = self._pending, None
        try:
            discard_pending(pending)
        except OSError:
            pass   # a folder that cannot be removed now is cleaned by clean_stale_work later
        if self._saved_path is None:
            self._outcome = None

    def discard(self) -> None:
        if self._outcome is None or self.training():
            return
        self._discard_pending()
        self._saved_path = None
        self._update_result_buttons()
        self._set_state("idle", "The new model was discarded.")
