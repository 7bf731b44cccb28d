"""Main window: Triage / Batch / Train / Models tabs, status bar, shortcuts, drag & drop, safe close."""
from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QByteArray, QElapsedTimer, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from triage_app.gui.batch import BatchTab
from triage_app.gui.models_tab import ModelsTab
from triage_app.gui.triage_tab import TriageTab
from triage_app.gui.widgets import Banner, FileDropFilter, ask, dropped_table_path, muted_label

log = logging.getLogger("triage.gui")


class LazyTab(QWidget):
    """Builds its content with ``factory()`` when first shown (or on ``ensure()``)."""

    def __init__(self, factory, parent=None):
        super().__init__(parent)
        self._factory = factory
        self.widget = None
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)

    def ensure(self) -> QWidget:
        if self.widget is None:
            self.widget = self._factory()
            self._lay.addWidget(self.widget)
        return self.widget

    def showEvent(self, e):
        self.ensure()
        super().showEvent(e)


class MainWindow(QMainWindow):
    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self._fallback_shown: set[str] = set()
        self._train_tab = None               # the TrainTab once the Train tab was first opened
        # Workers run Python (text cleaning) next to the GUI thread: a short GIL switch interval
        # lets the GUI thread get the GIL back quickly for each Qt -> Python call (paint, data()).
        if sys.getswitchinterval() > 0.001:
            sys.setswitchinterval(0.001)
        self.setWindowTitle("TicketTriage")
        self.setAcceptDrops(True)

        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.banner = Banner()
        bw = QWidget()
        bl = QVBoxLayout(bw)
        bl.setContentsMargins(10, 8, 10, 0)
        bl.addWidget(self.banner)
        lay.addWidget(bw)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        lay.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.triage = TriageTab(ctx)
        self.batch = BatchTab(ctx)
        self.batch.retrainRequested.connect(self.retrain_on)
        self.train = self._make_train_tab()
        self.models = ModelsTab(ctx)
        self.tabs.addTab(self.triage, "Triage")
        self.tabs.addTab(self.batch, "Batch")
        self.tabs.addTab(self.train, "Train")
        self.tabs.addTab(self.models, "Models")

        self._build_status()
        self._build_menu()
        self._install_drop_filters()

        QShortcut(QKeySequence("Ctrl+Return"), self, self.shortcut_classify)
        QShortcut(QKeySequence("Ctrl+Enter"), self, self.shortcut_classify)
        for i in range(self.tabs.count()):       # Ctrl+1 .. Ctrl+4: the tabs
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self, lambda i=i: self.tabs.setCurrentIndex(i))

        ctx.modelChanged.connect(self._on_model)
        ctx.jobChanged.connect(self._on_job)
        ctx.correctionsChanged.connect(lambda _n: self._update_corrections())
        self._on_model(ctx.classifier)
        self._on_job(ctx.active_job)
        self._restore_state()

    # ---- construction --------------------------------------------------------------------------
    def _make_train_tab(self) -> QWidget:
        """The Train tab is built the first time it is shown: its package (and matplotlib, for
        its plots) is imported only then, which keeps start-up fast."""
        return LazyTab(self._build_train_tab)

    def _build_train_tab(self) -> QWidget:
        try:
            from triage_app.gui.train import TrainTab
        except ImportError as e:  # e.g. a build without matplotlib: the rest of the app works
            log.warning("Train tab unavailable: %s", e)
            return self._placeholder(f"Training is not available in this build ({e}).")
        try:
            self._train_tab = TrainTab(self.ctx)
        except Exception as e:  # noqa: BLE001 - a broken Train tab must not take the app down
            log.exception("TrainTab failed")
            return self._placeholder(f"The Train tab could not start: {e}")
        return self._train_tab

    @property
    def train_tab(self):
        """The real TrainTab once built (None before it was first shown or when unavailable)."""
        return self._train_tab

    @staticmethod
    def _placeholder(text: str) -> QWidget:
        w = QWidget()
        lab = muted_label(text)
        lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
        QVBoxLayout(w).addWidget(lab)
        w.placeholder_text = text
        return w

    def _build_status(self):
        sb = self.statusBar()
        self.model_label = QLabel()
        self.provider_label = QLabel()
        self.job_label = QLabel()
        self.corr_label = QLabel()
        for w in (self.job_label, self.corr_label, self.provider_label, self.model_label):
            sb.addPermanentWidget(w)

    def _build_menu(self):
        m = self.menuBar().addMenu("&File")
        a = QAction("&Open ticket file…", self)
        a.setShortcut(QKeySequence.StandardKey.Open)
        a.triggered.connect(self.open_file_dialog)
        m.addAction(a)
        a = QAction("&Classify ticket", self)
        a.triggered.connect(self.shortcut_classify)
        m.addAction(a)
        m.addSeparator()
        a = QAction("Export &corrections…", self)
        a.triggered.connect(self.export_corrections)
        m.addAction(a)
        m.addSeparator()
        a = QAction("&Quit", self)
        a.setShortcut(QKeySequence.StandardKey.Quit)
        a.triggered.connect(self.close)
        m.addAction(a)
        h = self.menuBar().addMenu("&Help")
        a = QAction("&User guide", self)
        a.setShortcut(QKeySequence.StandardKey.HelpContents)
        a.triggered.connect(lambda: self.show_help("guide"))
        h.addAction(a)
        a = QAction("&Keyboard shortcuts", self)
        a.triggered.connect(lambda: self.show_help("keys"))
        h.addAction(a)
        h.addSeparator()
        a = QAction("&About TicketTriage", self)
        a.triggered.connect(self.about)
        h.addAction(a)

    def _install_drop_filters(self):
        self.drop_filter = FileDropFilter(self)
        self.drop_filter.fileDropped.connect(self.open_file)
        for w in self.findChildren(QAbstractScrollArea):
            if w.acceptDrops() or w.viewport().acceptDrops():
                w.viewport().installEventFilter(self.drop_filter)
        for w in self.findChildren(QLineEdit):
            w.installEventFilter(self.drop_filter)

    # ---- state ---------------------------------------------------------------------------------
    def _restore_state(self):
        s = self.ctx.settings
        geo = s.value("window/geometry")
        if isinstance(geo, (QByteArray, bytes)) and geo:
            self.restoreGeometry(geo)
        else:
            self.resize(1280, 820)
        tab = s.value("window/tab")
        try:
            self.tabs.setCurrentIndex(int(tab))
        except (TypeError, ValueError):
            pass
        if str(s.value("triage/single_field", "false")).lower() == "true":
            self.triage.single_check.setChecked(True)

    def save_state(self):
        s = self.ctx.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/tab", self.tabs.currentIndex())
        s.sync()

    # ---- status --------------------------------------------------------------------------------
    def _on_model(self, clf):
        if clf is None:
            self.model_label.setText("No model")
            self.provider_label.setText("")
            self.banner.show_message("No model — import one in Models (Import folder… / Import zip…).")
            return
        self.model_label.setText(f"Model: <b>{clf.name}</b> v{clf.version} · {len(clf.labels)} labels")
        self.model_label.setToolTip(str(clf.bundle.path))
        self.provider_label.setText(f"Runs on {clf.provider_label}")
        self.provider_label.setToolTip(clf.provider)
        if self.banner.text().startswith("No model"):
            self.banner.hide()
        msg = getattr(clf, "fallback_message", None)
        if msg and msg not in self._fallback_shown:
            self._fallback_shown.add(msg)
            self.statusBar().showMessage(msg, 15000)
            self.banner.show_message(msg)
        self._update_corrections()

    def _update_corrections(self):
        try:
            n = self.ctx.corrections.count()
        except Exception:  # noqa: BLE001
            n = 0
        self.corr_label.setText(f"{n:,} correction{'s' if n != 1 else ''}" if n else "")

    def _on_job(self, name: str):
        self.job_label.setText(f"Running: {name}" if name else "Idle")
        self._update_corrections()

    # ---- actions -------------------------------------------------------------------------------
    def shortcut_classify(self):
        if self.tabs.currentWidget() is self.batch:
            self.batch.classify()
            return
        self.tabs.setCurrentWidget(self.triage)
        self.triage.classify()

    def open_file_dialog(self):
        self.tabs.setCurrentWidget(self.batch)
        self.batch.open_dialog()

    def open_file(self, path: str):
        self.tabs.setCurrentWidget(self.batch)
        return self.batch.open_file(path)

    def retrain_on(self, path: str) -> bool:
        """The Train tab, with ``path`` (a labelled ticket file) loaded."""
        self.tabs.setCurrentWidget(self.train)
        tab = self.train.ensure()
        if not hasattr(tab, "load_file"):       # training unavailable in this build: the tab says why
            return False
        return bool(tab.load_file(path))

    def dragEnterEvent(self, e):
        if dropped_table_path(e.mimeData()):
            e.acceptProposedAction()

    def dragMoveEvent(self, e):
        if dropped_table_path(e.mimeData()):
            e.acceptProposedAction()

    def dropEvent(self, e):
        path = dropped_table_path(e.mimeData())
        if path:
            e.acceptProposedAction()
            self.open_file(path)

    def export_corrections(self):
        from pathlib import Path

        from PySide6.QtWidgets import QFileDialog
        f, _ = QFileDialog.getSaveFileName(self, "Export corrections", str(Path(self.ctx.last_dir("export")) /
                                                                             "corrections.csv"), "CSV (*.csv)")
        if f:
            n = self.ctx.corrections.export_csv(f)
            self.statusBar().showMessage(f"{n:,} corrections written to {f}", 8000)

    def show_help(self, page: str = "guide"):
        """The user guide or the keyboard shortcuts (non-modal)."""
        from triage_app.gui.help import HelpDialog

        dlg = HelpDialog(self, page)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        self.help_dialog = dlg
        return dlg

    def about(self):
        QMessageBox.about(self, "About TicketTriage",
                          "<b>TicketTriage</b><br>Routes support tickets with a local dual-BERT model "
                          "(ONNX Runtime). Your tickets never leave this computer.")

    # ---- closing -------------------------------------------------------------------------------
    def _busy(self) -> bool:
        return bool(self.ctx.running_jobs()) or self._train_busy()

    def stop_all(self, timeout_ms: int = 30000) -> None:
        """Ask every running job to stop and wait for them (keeps the GUI thread processing events)."""
        if self.train_tab is not None and hasattr(self.train_tab, "request_stop"):
            try:
                self.train_tab.request_stop()
            except Exception:  # noqa: BLE001
                log.exception("request_stop failed")
        for j in self.ctx.running_jobs():
            j.cancel()
        timer = QElapsedTimer()
        timer.start()
        from triage_app.gui.workers import running_threads
        while (self.ctx.running_jobs() or running_threads() or self._train_busy()) and timer.elapsed() < timeout_ms:
            for j in self.ctx.running_jobs():
                j.wait(50)
            QApplication.processEvents()

    def _train_busy(self) -> bool:
        t = self.train_tab
        try:
            return bool(t.busy()) if t is not None and hasattr(t, "busy") else False
        except Exception:  # noqa: BLE001
            return False

    def closeEvent(self, e):
        if self._busy():
            if not ask(self, "Stop running work?", f"Still running: {self.ctx.active_job or 'training'}.\n"
                       "Stop it and quit? Unsaved results of the running job are lost.", yes="Stop and quit"):
                e.ignore()
                return
            self.statusBar().showMessage("Stopping…")
            self.stop_all()
        elif self.train_tab is not None and self.train_tab.has_unsaved_result():
            if not ask(self, "Keep the trained model?", "The model trained in the Train tab has not been "
                       "saved.\nQuit anyway and delete it?", yes="Delete and quit"):
                self.tabs.setCurrentWidget(self.train)
                e.ignore()
                return
        if self.train_tab is not None:
            self.train_tab.shutdown()       # stops its jobs, deletes an unsaved model's hidden folder
        self.save_state()
        e.accept()
