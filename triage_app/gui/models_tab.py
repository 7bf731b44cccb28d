"""Models tab: list, activate (hot swap / rollback), import, export, delete, model card, thresholds."""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from triage_app import paths
from triage_app.bundle import BundleError, delete_bundle, export_zip, import_zip, install_copy
from triage_app.gui import style
from triage_app.gui.thresholds_panel import ThresholdsPanel
from triage_app.gui.widgets import ask, muted_label, show_error, start_job

COLUMNS = ["", "Name", "Version", "Created", "Labels", "Precision", "Test accuracy", "Test macro-F1", "Base checkpoint",
           "Location"]


def _pct(v, rows=None) -> str:
    """``89.3 % on 4,784``: a figure is only as good as the number of tickets behind it."""
    if not isinstance(v, (int, float)):
        return "–"
    return f"{v:.1%}" + (f" on {rows:,}" if isinstance(rows, int) and rows else "")


def targets_text(bundle) -> str:
    """Each target's test figures of a multi-target bundle, one line each ("" for one target)."""
    return "\n".join(f"{t.name}: accuracy {_pct(x.get('accuracy'), x.get('rows'))}, macro-F1 "
                     f"{_pct(x.get('macro_f1'), x.get('rows'))} ({len(t.labels)} labels)"
                     for t in (bundle.targets or []) for x in [t.summary()])


def card_markdown(bundle) -> str:
    """MODEL_CARD.md, or a generated summary when the bundle has none."""
    p = Path(bundle.path) / "MODEL_CARD.md"
    if p.is_file():
        try:
            return p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            return f"*MODEL_CARD.md cannot be read: {e}*"
    s = bundle.summary()
    fp = bundle.meta.get("data_fingerprint", {}) or {}
    lines = [f"# {s['name']} v{s['version']}", "", "*No MODEL_CARD.md in this bundle; summary from bundle.json.*", "",
             f"- Created: {s['created']}", f"- Base checkpoint: `{s['base_model']}`",
             f"- Precision: {s['precision']}",
             f"- Accuracy: {_pct(s['accuracy'], s['rows'])}, macro-F1: {_pct(s['macro_f1'], s['rows'])} (test tickets)",
             f"- Training rows: {fp.get('rows', '–')}", f"- Review threshold: {bundle.review_threshold:.2f}",
             "", "## Labels", ""] + [f"- {lab}" for lab in bundle.labels]
    return "\n".join(lines)


def show_card(view: QTextBrowser, bundle) -> None:
    """The card in ``view``, its images (``confusion.png``) found in the bundle folder."""
    view.setSearchPaths([str(bundle.path)])
    view.document().setBaseUrl(QUrl.fromLocalFile(str(bundle.path) + "/"))
    view.setMarkdown(card_markdown(bundle))


class ModelsTab(QWidget):
    listRefreshed = Signal()

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.entries = []
        self.job = None
        self.activate_job = None
        self._build()
        ctx.modelChanged.connect(lambda _c: self.refresh())
        ctx.modelsListChanged.connect(self.refresh)
        self.refresh()

    def _build(self):
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 10, 10, 10)
        self.inner = QTabWidget()
        self.inner.setDocumentMode(True)
        lay.addWidget(self.inner)

        page = QWidget()
        pl = QVBoxLayout(page)
        pl.setContentsMargins(0, 8, 0, 0)
        bar = QHBoxLayout()
        self.activate_btn = QPushButton("Activate")
        self.activate_btn.setObjectName("primary")
        self.activate_btn.setToolTip("Use the selected model (an older one = rollback); the current one stays "
                                     "active if loading fails")
        self.activate_btn.clicked.connect(self.activate_selected)
        self.import_dir_btn = QPushButton("Import folder…")
        self.import_dir_btn.clicked.connect(self.import_folder_dialog)
        self.import_zip_btn = QPushButton("Import zip…")
        self.import_zip_btn.clicked.connect(self.import_zip_dialog)
        self.export_btn = QPushButton("Export as zip…")
        self.export_btn.clicked.connect(self.export_dialog)
        self.delete_btn = QPushButton("Delete")
        self.delete_btn.clicked.connect(self.delete_selected)
        self.card_btn = QPushButton("Model card…")
        self.card_btn.clicked.connect(self.show_card)
        self.refresh_btn = QPushButton("Refresh")
        self.refresh_btn.clicked.connect(self.refresh)
        for b in (self.activate_btn, self.import_dir_btn, self.import_zip_btn, self.export_btn, self.delete_btn,
                  self.card_btn):
            bar.addWidget(b)
        bar.addStretch(1)
        bar.addWidget(self.refresh_btn)
        pl.addLayout(bar)

        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        hh = self.table.horizontalHeader()
        for c in range(len(COLUMNS)):
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(8, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda _i: self.activate_selected())
        split.addWidget(self.table)
        card_box = QWidget()
        cl = QVBoxLayout(card_box)
        cl.setContentsMargins(0, 4, 0, 0)
        self.trained_label = muted_label("")     # what the selected model learned from, and its limits
        cl.addWidget(self.trained_label)
        self.card_view = QTextBrowser()
        self.card_view.setOpenExternalLinks(True)
        cl.addWidget(self.card_view, 1)
        split.addWidget(card_box)
        split.setSizes([300, 360])
        pl.addWidget(split, 1)
        self.status = muted_label("")
        pl.addWidget(self.status)
        self.inner.addTab(page, "Models")

        self.thresholds = ThresholdsPanel(self.ctx)
        self.inner.addTab(self.thresholds, "Review thresholds")

    # ---- list ----------------------------------------------------------------------------------
    def refresh(self):
        sel = self.selected_entry()
        keep = str(sel.path) if sel else (str(self.ctx.classifier.bundle.path) if self.ctx.classifier else None)
        self.entries = self.ctx.list_models()
        c = style.colors(self)
        self.table.setRowCount(len(self.entries))
        select_row = 0
        bold = QFont(self.table.font())
        bold.setBold(True)
        for r, e in enumerate(self.entries):
            active = e.bundle is not None and self.ctx.is_active(e.path)
            loc = "built-in" if e.builtin or self.ctx.is_builtin(e.path) else "user"
            if e.bundle is not None:
                s = e.bundle.summary()
                n_targets = len(e.bundle.targets or [])
                labels = str(s["labels"]) + (f" · {n_targets} targets" if n_targets > 1 else "")
                vals = ["● active" if active else "", s["name"], s["version"], str(s["created"])[:16].replace("T", " "),
                        labels, s["precision"], _pct(s["accuracy"], s["rows"]),
                        _pct(s["macro_f1"], s["rows"]),
                        Path(str(s["base_model"])).name or str(s["base_model"]), loc]
            else:
                vals = ["⚠ invalid", e.path.name, "", "", "", "", "", "", e.error or "", loc]
            for col, v in enumerate(vals):
                it = QTableWidgetItem(v)
                it.setData(Qt.ItemDataRole.UserRole, str(e.path))
                tip = e.error if e.error else f"{e.path}\n{v}" if col == 8 else \
                    f"{e.bundle.trained_on()}\n{e.path}" if e.bundle is not None else str(e.path)
                if e.bundle is not None and e.bundle.targets and col in (4, 6, 7):   # every target's figures
                    tip = f"Test figures per target (the columns show the first):\n{targets_text(e.bundle)}"
                it.setToolTip(tip)
                if active:
                    it.setFont(bold)
                if col == 0 and active:
                    it.setForeground(QColor(c["good"]))
                if e.error:
                    it.setForeground(QColor(c["bad"]))
                if col in (2, 4, 6, 7):
                    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, col, it)
            if keep and str(e.path) == keep:
                select_row = r
        if self.entries:
            self.table.selectRow(select_row)
        self._selection_changed()
        self.listRefreshed.emit()

    def selected_entry(self):
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.entries):
            return None
        return self.entries[rows[0].row()]

    def select_path(self, path) -> bool:
        for r, e in enumerate(self.entries):
            if Path(e.path).resolve() == Path(path).resolve():
                self.table.selectRow(r)
                return True
        return False

    def _selection_changed(self):
        e = self.selected_entry()
        busy = self.job is not None and self.job.is_running()
        ok = e is not None and e.bundle is not None
        self.activate_btn.setEnabled(ok and not self.ctx.is_active(e.path) and not
                                     (self.activate_job is not None and self.activate_job.is_running()))
        self.export_btn.setEnabled(ok and not busy)
        self.card_btn.setEnabled(ok)
        self.delete_btn.setEnabled(e is not None and not (e.builtin or self.ctx.is_builtin(e.path)) and not busy)
        self.trained_label.setText(e.bundle.trained_on() if ok else "")
        if e is None:
            self.card_view.clear()
            return
        if e.bundle is None:
            self.card_view.setHtml(f"<h3>{html.escape(e.path.name)} cannot be used</h3>"
                                   f"<p>{html.escape(e.error or '')}</p><p>Delete it, or import the model again.</p>")
            return
        show_card(self.card_view, e.bundle)
        self.thresholds.set_bundle(e.bundle)

    # ---- actions -------------------------------------------------------------------------------
    def activate_selected(self):
        e = self.selected_entry()
        if e is None:
            return None
        return self.activate_path(e.path)

    def activate_path(self, path):
        prev = self.ctx.model_summary()
        ctx = self.ctx
        self.status.setText(f"Loading {Path(path).name}…")

        def fail(msg, details):
            self.status.setText(f"Activation failed; still using {prev}.")
            show_error(self, f"Could not activate {Path(path).name}", msg,
                       f"The previous model ({prev}) stays active. Import the model again or pick another.", details)

        def ok(clf):
            ctx.set_classifier(clf)
            self.status.setText(f"Active: {ctx.model_summary()} on {clf.provider_label}.")

        self.activate_job = start_job(ctx, self, "activate", lambda emit, should_stop: ctx.load_classifier(path),
                                      "Activating the model failed", on_finished=ok, on_failed=fail)
        if self.activate_job is not None:
            self.activate_job.done.connect(self._selection_changed)
        return self.activate_job

    def _run(self, name, fn, what, ok):
        self.job = start_job(self.ctx, self, "models", fn, what, on_finished=ok)
        if self.job is not None:
            self.status.setText(name)
            self.job.done.connect(self._selection_changed)
        return self.job

    def import_folder_dialog(self):
        d = QFileDialog.getExistingDirectory(self, "Import a model folder", self.ctx.last_dir("models"))
        if d:
            self.import_path(d)

    def import_zip_dialog(self):
        f, _ = QFileDialog.getOpenFileName(self, "Import a model zip", self.ctx.last_dir("models"), "Model zip (*.zip)")
        if f:
            self.import_path(f)

    def import_path(self, src):
        """Import a bundle folder or zip into the user models folder (validated first)."""
        src = Path(src)
        self.ctx.remember_dir("models", src)
        dest_parent = paths.user_models_dir()

        def work(emit, should_stop):
            if src.is_dir():
                return install_copy(src, dest_parent)
            if src.suffix.lower() == ".zip":
                return import_zip(src, dest_parent)
            raise BundleError(f"{src}: choose a model folder or a .zip file")

        def ok(dest):
            self.refresh()
            self.select_path(dest)
            self.status.setText(f"Imported into {dest}. Select it and press Activate to use it.")

        return self._run(f"Importing {src.name}…", work, f"Importing {src.name} failed", ok)

    def export_dialog(self):
        e = self.selected_entry()
        if e is None or e.bundle is None:
            return
        default = Path(self.ctx.last_dir("export")) / f"{e.path.name}.zip"
        f, _ = QFileDialog.getSaveFileName(self, "Export model as zip", str(default), "Model zip (*.zip)")
        if f:
            self.export_selected(f if f.lower().endswith(".zip") else f + ".zip")

    def export_selected(self, zip_path):
        e = self.selected_entry()
        if e is None or e.bundle is None:
            return None
        self.ctx.remember_dir("export", zip_path)
        src = e.path
        return self._run(f"Exporting {src.name}…", lambda emit, should_stop: export_zip(src, zip_path),
                         f"Exporting {src.name} failed",
                         lambda p: self.status.setText(f"Exported to {p}."))

    def delete_selected(self) -> bool:
        e = self.selected_entry()
        if e is None or e.builtin or self.ctx.is_builtin(e.path):
            return False
        if self.ctx.is_active(e.path):
            show_error(self, "The active model cannot be deleted", f"{e.name} is in use.",
                       "Activate another model first.")
            return False
        if not ask(self, "Delete model?", f"Delete {e.name} {('v' + e.version) if e.version else ''} and its folder\n"
                   f"{e.path}?\nThis cannot be undone.", yes="Delete"):
            return False
        try:
            delete_bundle(e.path)
        except OSError as err:
            show_error(self, f"Could not delete {e.path.name}", str(err), "Close programs using the folder and retry.")
            return False
        self.status.setText(f"Deleted {e.path.name}.")
        self.refresh()
        return True

    def show_card(self):
        e = self.selected_entry()
        if e is None or e.bundle is None:
            return None
        dlg = QDialog(self)
        dlg.setWindowTitle(f"Model card — {e.name} v{e.version}")
        dlg.resize(760, 640)
        lay = QVBoxLayout(dlg)
        view = QTextBrowser()
        view.setOpenExternalLinks(True)
        show_card(view, e.bundle)
        lay.addWidget(view)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        bb.rejected.connect(dlg.reject)
        lay.addWidget(bb)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        return dlg

    def busy(self) -> bool:
        return any(j is not None and j.is_running() for j in (self.job, self.activate_job, self.thresholds.job))
