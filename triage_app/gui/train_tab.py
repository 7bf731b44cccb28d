"""The retraining screen: load labelled tickets, check the labels, choose settings, train with a
live loss curve, compare with the active model, then save the new model and (optionally) use it.

Threads: reading a large file, the data check and the training run are :class:`Job` s; their
functions get plain data (a DataFrame, a config, the active classifier) and report plain events
(trainer events plus :class:`DataReady` and :class:`FailureInfo`).  Widgets change only in slots.

States of the training run: ``idle`` -> ``running`` -> (``cancelling``) -> ``finished`` |
``failed`` | ``idle`` (cancelled).  The trained model is exported at the end of the job into a
hidden ``.pending-*`` folder under :func:`paths.user_models_dir`; "Save as model" moves it into
place under a chosen name, "Discard" (or a cancel) deletes it, so a cancelled run leaves nothing.
"""
from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QEventLoop, QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QDoubleValidator, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from triage_app import paths
from triage_app.bundle import clean_stale_work
from triage_app.errors import Cancelled
from triage_app.gui.train_plots import ConfusionChart, DistributionChart, LossPlot, is_dark
from triage_app.gui.workers import Job

LARGE_FILE_BYTES = 2 * 2**20          # read bigger files in a background job
PENDING_PREFIX = ".pending-"
FILE_FILTER = ("Ticket tables (*.csv *.tsv *.txt *.xlsx *.json *.jsonl);;"
               "CSV / TSV (*.csv *.tsv *.txt);;Excel (*.xlsx);;JSON (*.json *.jsonl);;All files (*)")
STATES = ("idle", "running", "cancelling", "finished", "failed")

PRESET_TEXT = {
    "quick": "Quick — towers frozen, only the classifier head trains (minutes on a CPU).",
    "standard": "Standard — head first, then the top 3 layers of both towers for two epochs (frozen layers cached).",
    "full": "Full — head first, then every layer fine-tuned (a GPU is recommended).",
    "seed": "Seed — the reference study's recipe (pooler output, pad to 128, head only).",
}
PHASE_TEXT = {
    "data": "Preparing the data", "prepare": "Loading the base model",
    "features": "Caching tower features", "head": "Phase 1 · training the head",
    "cache": "Caching the frozen layers",
    "finetune": "Phase 2 · fine-tuning the towers", "calibrate": "Calibrating on validation",
    "test": "Measuring on the test split", "export": "Exporting the model",
    "compare": "Comparing with the active model",
}
HINTS = {
    "table": "Check that the file is a CSV, TSV, XLSX, JSON or JSONL table with a header row, that "
             "it is not open in another program, and that it is complete.",
    "data": "Lower the rare-label threshold, merge small labels into bigger ones with the merge map, "
            "or choose other label / text columns.",
    "config": "Correct the value in Model settings, or pick a preset again.",
    "model": "Choose a folder that holds a BERT checkpoint (config.json, model weights and "
             "tokenizer.json), or type all-MiniLM-L6-v2 to use the installed default.",
    "memory": "Lower the batch size or the max length, or use the quick preset.",
    "device": "Set Device to 'Automatic' or 'CPU' in Model settings, or check the NVIDIA driver.",
    "export": "The model trained but could not be exported. Try again; if it keeps failing, "
              "send the details to support.",
    "other": "Try the quick preset or a smaller batch size. The details below help support.",
}


# ---- plain data passed between the GUI and the jobs ---------------------------------------------
@dataclass
class DataSpec:
    """Everything the data preparation needs (snapshot taken on the GUI thread)."""
    df: object                       # pandas.DataFrame (never modified)
    source: str
    label_col: str
    title_col: str | None
    body_col: str | None
    text_col: str | None
    merge_map: dict
    min_per_class: int
    rare: str                        # "drop" | "other"
    val_frac: float
    test_frac: float
    use_corrections: bool
    routing: str = "same"
    class_weights: bool = True
    seed: int = 42


@dataclass
class DataReady:
    lines: list[str]
    sizes: dict                      # split -> rows
    labels: list[str]


@dataclass
class FailureInfo:
    kind: str                        # a key of HINTS
    message: str


@dataclass
class TrainOutcome:
    pending_dir: str
    bundle_path: str
    name: str
    version: str
    labels: list[str]
    metrics: dict
    export: dict
    comparison: dict | None
    report_lines: list[str]
    elapsed_s: float
    config: dict = field(default_factory=dict)


# ---- pure helpers (no Qt; unit-testable) ---------------------------------------------------------
def prepare(spec: DataSpec, corrections=None, should_stop=None):
    """Merge stored corrections (optional) and run :func:`trainer.data.prepare_frame`.
    Returns ``(PreparedData, merged DataFrame)``; raises ``InterruptedError`` when stopped."""
    from trainer.data import prepare_frame

    df, stats = spec.df, None
    if spec.use_corrections and corrections is not None and corrections.count():
        df, stats = corrections.merge_into(df, text_col=spec.text_col, title_col=spec.title_col,
                                           body_col=spec.body_col, label_col=spec.label_col)
        if "split" in df.columns:
            df["split"] = df["split"].replace({"": "train"}).fillna("train")
    data = prepare_frame(df, label_col=spec.label_col, title_col=spec.title_col,
                         body_col=spec.body_col, text_col=spec.text_col, routing=spec.routing,
                         min_per_class=spec.min_per_class, rare=spec.rare,
                         merge_map=spec.merge_map or None, val_frac=spec.val_frac,
                         test_frac=spec.test_frac, seed=spec.seed, class_weights=spec.class_weights,
                         source=spec.source, should_stop=should_stop)
    if stats:
        data.report.corrections = stats
    return data, df


def label_counts(labels, merge_map: dict | None = None) -> dict:
    """Non-empty labels (stripped) counted after the merge map."""
    counts: dict = {}
    mm = merge_map or {}
    for v in labels:
        if v is None or (isinstance(v, float) and v != v):
            continue
        s = str(v).strip()
        if not s:
            continue
        s = mm.get(s, s)
        counts[s] = counts.get(s, 0) + 1
    return counts


def _f1(y, pred, lab) -> float:
    tp = int(np.sum((pred == lab) & (y == lab)))
    fp = int(np.sum((pred == lab) & (y != lab)))
    fn = int(np.sum((pred != lab) & (y == lab)))
    return 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 0.0


def compare_predictions(y_true, new_pred, active_pred, new_labels, active_labels) -> dict:
    """Compare the new and the active model on the same rows (label names everywhere).

    Only rows whose true label both models know count; per-class F1 is given for those shared
    labels, and accuracy / macro-F1 on those rows for both models."""
    y = np.asarray(y_true, dtype=object)
    pn = np.asarray(new_pred, dtype=object)
    pa = np.asarray(active_pred, dtype=object)
    act = set(map(str, active_labels))
    shared = [lab for lab in new_labels if lab in act]
    only_new = [lab for lab in new_labels if lab not in act]
    only_active = sorted(act - set(new_labels))
    m = np.isin(y, shared) if shared else np.zeros(len(y), dtype=bool)
    ys, ns, as_ = y[m], pn[m], pa[m]
    per = {}
    for lab in shared:
        per[lab] = {"new": _f1(ys, ns, lab), "active": _f1(ys, as_, lab), "support": int(np.sum(ys == lab))}
    present = [lab for lab in shared if per[lab]["support"] > 0]

    def summary(pred):
        if not len(ys):
            return {"accuracy": float("nan"), "macro_f1": float("nan")}
        return {"accuracy": float(np.mean(pred == ys)),
                "macro_f1": float(np.mean([_f1(ys, pred, lab) for lab in present])) if present else 0.0}

    return {"shared": shared, "only_new": only_new, "only_active": only_active,
            "rows": int(m.sum()), "total_rows": int(len(y)), "per_class": per,
            "new": summary(ns), "active": summary(as_)}


def val_tickets(df, spec: DataSpec, data) -> list[dict]:
    """The original fields of the validation rows (found again by their cleaned text), so that
    another model reads them with its own routing and cleaning."""
    from triage_app.text import compose

    def col(c):
        return df[c].tolist() if c else [None] * len(df)

    want = set(zip(data.val.text_a, data.val.text_b))
    found: dict = {}
    for t, b, x in zip(col(spec.title_col), col(spec.body_col), col(spec.text_col)):
        key = compose(t, b, x, spec.routing)
        if key in want and key not in found:
            found[key] = {"title": t, "body": b, "text": x}
    out = []
    for a, b in zip(data.val.text_a, data.val.text_b):
        tk = found.get((a, b))
        if tk is None:
            tk = {"text": a} if a == b else {"title": a, "body": b}
        out.append(tk)
    return out


def safe_model_name(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._ -]+", "-", str(name)).strip().strip(".-")
    s = re.sub(r"\s+", "-", s)
    return s[:80]


def classify_error(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "TableError":
        return "table"
    if name == "DataError":
        return "data"
    if name == "ConfigError":
        return "config"
    if name == "ModelLoadError":
        return "model"
    if name in ("ExportError",):
        return "export"
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return "memory"
    if "cuda" in str(exc).lower():
        return "device"
    return "other"


def training_job(spec: DataSpec, cfg, *, active=None, corrections=None, pending_root: Path,
                 name: str, version: str, export_options: dict | None = None):
    """Build the job function: prepare -> train -> export (hidden folder) -> compare."""

    def fn(emit, should_stop):
        from trainer.events import PhaseEvent

        t0 = time.perf_counter()
        pending = None
        try:
            emit(PhaseEvent("data", "preparing the data"))
            try:
                data, df = prepare(spec, corrections, should_stop)
            except Cancelled:
                raise Cancelled() from None
            lines = data.report.lines()
            sizes = {"train": len(data.train), "val": len(data.val),
                     "test": len(data.test) if data.test is not None else 0}
            emit(DataReady(lines, sizes, list(data.labels)))
            if should_stop():
                raise Cancelled()
            from trainer.loop import train

            res = train(cfg, data, on_event=emit, should_stop=should_stop)
            if res.cancelled or should_stop():
                raise Cancelled()
            from trainer.export import export_result

            emit(PhaseEvent("export", "exporting the model (ONNX, parity and int8 checks)"))
            pending = Path(pending_root) / f"{PENDING_PREFIX}{uuid.uuid4().hex[:10]}"
            pending.mkdir(parents=True)
            try:
                bundle, rep = export_result(res, pending / "bundle", name=name, version=version,
                                            should_stop=should_stop,
                                            on_progress=lambda s: emit(PhaseEvent("export", s)),
                                            **(export_options or {}))
            except Cancelled:
                raise Cancelled() from None
            comparison = None
            if active is not None:
                emit(PhaseEvent("compare", f"running the active model ({getattr(active, 'name', '?')}) "
                                f"on {len(data.val)} validation rows"))
                tickets = val_tickets(df, spec, data)
                try:
                    probs = active.predict_proba(tickets, should_stop=should_stop)
                except Exception as e:  # noqa: BLE001
                    if should_stop() or type(e).__name__ == "Cancelled":
                        raise Cancelled() from None
                    comparison = {"error": f"{type(e).__name__}: {e}"}
                else:
                    act_labels = [str(x) for x in active.labels]
                    act_pred = [act_labels[i] for i in np.asarray(probs).argmax(1)]
                    new_pred = [res.labels[i] for i in np.asarray(res.val_logits).argmax(1)]
                    y_true = [res.labels[i] for i in res.val_y]
                    comparison = compare_predictions(y_true, new_pred, act_pred, res.labels, act_labels)
                    ver = str(getattr(active, "version", "") or "")
                    comparison["active_name"] = getattr(active, "name", "?") + (f" (version {ver})" if ver else "")
            if should_stop():
                raise Cancelled()
            return TrainOutcome(str(pending), str(bundle.path), name, version, list(res.labels),
                                bundle.meta["metrics"], rep.to_dict(), comparison, lines,
                                time.perf_counter() - t0, cfg.to_dict())
        except Cancelled:
            if pending is not None:
                shutil.rmtree(pending, ignore_errors=True)
            raise
        except BaseException as e:
            if pending is not None:
                shutil.rmtree(pending, ignore_errors=True)
            emit(FailureInfo(classify_error(e), str(e) or type(e).__name__))
            raise

    return fn


def fmt_duration(s: float | None) -> str:
    if s is None or not np.isfinite(s) or s < 0:
        return "—"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


# ---- small widgets --------------------------------------------------------------------------------
class SciEdit(QLineEdit):
    """A float in plain or scientific notation (learning rates)."""

    def __init__(self, lo: float, hi: float, parent=None):
        super().__init__(parent)
        v = QDoubleValidator(lo, hi, 10, self)
        v.setNotation(QDoubleValidator.Notation.ScientificNotation)
        self.setValidator(v)
        self.setMaximumWidth(120)

    def value(self) -> float:
        return float(self.text().strip().replace(",", "."))

    def setValue(self, v: float) -> None:  # noqa: N802 - Qt style
        self.setText(f"{float(v):g}")


class _CompleterDelegate(QStyledItemDelegate):
    """Cell editor with completion from the current label names."""

    def __init__(self, labels_fn, parent=None):
        super().__init__(parent)
        self.labels_fn = labels_fn

    def createEditor(self, parent, option, index):  # noqa: N802
        ed = QLineEdit(parent)
        comp = QCompleter(sorted(self.labels_fn()), ed)
        comp.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        comp.setFilterMode(Qt.MatchFlag.MatchContains)
        ed.setCompleter(comp)
        return ed


def _muted(label: QLabel) -> QLabel:
    label.setObjectName("muted")           # the app style sheet colours it; the palette role otherwise
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


class _NumItem(QTableWidgetItem):
    """Sorts by the number in UserRole."""

    def __lt__(self, other):
        a = self.data(Qt.ItemDataRole.UserRole)
        b = other.data(Qt.ItemDataRole.UserRole)
        if a is None or b is None:
            return super().__lt__(other)
        return a < b


def _num(value, fmt="{:.3f}") -> QTableWidgetItem:
    it = _NumItem()
    if value is not None and isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value):
        it.setText(fmt.format(value))
        it.setData(Qt.ItemDataRole.UserRole, float(value))
    else:
        it.setText("—")
        it.setData(Qt.ItemDataRole.UserRole, -1e9)
    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return it


def _text_item(text) -> QTableWidgetItem:
    it = QTableWidgetItem(str(text))
    it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEditable)
    it.setToolTip(str(text))
    return it


# ---- the tab -------------------------------------------------------------------------------------
class TrainTab(QWidget):
    """Retraining screen.  ``ctx``: the app context (``classifier``, ``corrections``,
    ``begin_job``/``end_job``, ``activate``, ``modelChanged``)."""

    stateChanged = Signal(str)
    dataLoaded = Signal(int)              # rows
    previewUpdated = Signal()             # data check finished (report lines shown)
    trainingFinished = Signal(object)     # TrainOutcome
    modelSaved = Signal(str)              # path of the saved bundle
    modelActivated = Signal(str)

    FIELDS = [
        # name, kind, label, (range / choices), tooltip
        ("head_epochs", "int", "Head epochs", (0, 1000),
         "Phase 1: epochs of the classifier head on frozen, cached tower features.\n"
         "Fast even on a CPU. Early stopping ends it when validation macro-F1 stops improving."),
        ("finetune_epochs", "int", "Fine-tune epochs", (0, 100),
         "Phase 2: epochs that also train the top layers of both BERT towers.\n"
         "Much slower on a CPU; 0 trains the head only."),
        ("finetune_layers", "layers", "Fine-tuned layers", (-1, 48),
         "How many top encoder layers of each tower train in phase 2 ('all' includes the embeddings).\n"
         "Needs fine-tune epochs > 0."),
        ("head_lr", "float", "Head learning rate", (1e-7, 0.999),
         "Learning rate of the classifier head in phase 1 (e.g. 3e-3)."),
        ("tower_lr", "float", "Tower learning rate", (1e-7, 0.999),
         "Learning rate of the BERT towers in phase 2 (e.g. 5e-5). Too high destroys what they know."),
        ("finetune_head_lr", "float", "Head LR in phase 2", (1e-7, 0.999),
         "Learning rate of the classifier head while the towers are fine-tuned (e.g. 5e-4)."),
        ("batch_size", "int", "Batch size", (1, 1024),
         "Tickets per optimizer step. Lower it if training runs out of memory."),
        ("max_length", "int", "Max length (tokens)", (8, 512),
         "Tokens read per ticket and tower; longer tickets are cut. 128 covers most tickets."),
        ("pooling", "choice", "Pooling", [("mean", "Mean of the tokens"), ("pooler", "[CLS] pooler output")],
         "How a tower turns its token vectors into one vector. 'Mean' is usually better for\n"
         "sentence-transformer checkpoints such as all-MiniLM-L6-v2."),
        ("routing", "choice", "Tower inputs", [("same", "Same text to both towers"),
                                               ("split", "Title → tower A, body → tower B")],
         "Same: both towers read title + body. Split: tower A reads the title, tower B the body\n"
         "(needs separate title and body columns)."),
        ("class_weights", "bool", "Class weights", None,
         "Weight the loss by inverse class frequency so rare labels count more."),
        ("device", "choice", "Device", [("auto", "Automatic (GPU if available)"), ("cpu", "CPU"),
                                        ("cuda", "GPU (CUDA)")],
         "Where training runs. Automatic uses an NVIDIA GPU when PyTorch can see one."),
    ]

    def __init__(self, ctx, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("TrainTab")
        self.ctx = ctx
        self.config_overrides: dict = {}     # extra TrainConfig fields (tests, power users)
        self.export_options: dict = {}       # extra export_result options (e.g. quantize=False)
        self.last_error: tuple[str, str] | None = None
        self._state = "idle"
        self._df = None
        self._path: Path | None = None
        self._sheets: list[str] = []
        self._label_cache = None             # (key, labels list) after corrections
        self._jobs: set[Job] = set()
        self._train_job: Job | None = None
        self._load_job: Job | None = None
        self._check_job: Job | None = None
        self._check_again = False
        self._outcome: TrainOutcome | None = None
        self._saved_path: Path | None = None
        self._failure: FailureInfo | None = None
        self._t0 = 0.0
        self._phase = ""
        self._phase_step0 = 0
        self._phase_t0 = 0.0
        self._phase_total = 0
        self._error_box = None
        self._best = float("nan")
        self._corr_text = ""
        self.report_lines: list[str] = []
        self._closing = False
        self._job_claimed = False
        self._build()
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(300)
        self._check_timer.timeout.connect(self._run_check)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)
        self._apply_preset("quick")
        self.refresh_corrections_count()
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
        iv.addWidget(self._build_data_box())
        iv.addWidget(self._build_settings_box())
        iv.addStretch(1)
        scroll.setWidget(inner)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lv.addWidget(scroll, 1)
        lv.addWidget(self._build_run_bar())
        left.setMinimumWidth(440)
        split.addWidget(left)

        # ---- right: pages ----
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self._build_data_page(), "Labels")
        self.pages.addTab(self._build_training_page(), "Training")
        self.pages.addTab(self._build_results_page(), "Results")
        split.addWidget(self.pages)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([470, 970])
        self._mode_changed()

    def _build_data_box(self) -> QGroupBox:
        box = QGroupBox("1 · Labelled data")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.file_edit = QLineEdit()
        self.file_edit.setReadOnly(True)
        self.file_edit.setPlaceholderText("CSV, TSV, XLSX, JSON or JSONL with a label column")
        self.open_btn = QPushButton("Open…")
        self.open_btn.setToolTip("Choose a file of tickets that already have the right label")
        self.open_btn.clicked.connect(self._browse_file)
        row = QHBoxLayout()
        row.addWidget(self.file_edit, 1)
        row.addWidget(self.open_btn)
        form.addRow("File", row)
        self.sheet_combo = QComboBox()
        self.sheet_combo.setToolTip("Worksheet of the Excel file")
        self.sheet_combo.activated.connect(lambda _i: self._reload_sheet())
        self.sheet_label = QLabel("Sheet")
        form.addRow(self.sheet_label, self.sheet_combo)
        self.sheet_label.hide()
        self.sheet_combo.hide()
        self.read_info = _muted(QLabel(""))
        self.read_info.setWordWrap(True)
        form.addRow("", self.read_info)

        self.label_combo = QComboBox()
        self.label_combo.setToolTip("The column that holds the correct label of each ticket")
        form.addRow("Label column", self.label_combo)

        self.mode_pair = QRadioButton("Title + body")
        self.mode_one = QRadioButton("One text column")
        self.mode_pair.setChecked(True)
        self.mode_pair.setToolTip("Tickets have a short title/subject and a longer description")
        self.mode_one.setToolTip("Tickets have a single text column")
        grp = QButtonGroup(self)
        grp.addButton(self.mode_pair)
        grp.addButton(self.mode_one)
        mrow = QHBoxLayout()
        mrow.addWidget(self.mode_pair)
        mrow.addWidget(self.mode_one)
        mrow.addStretch(1)
        form.addRow("Ticket text", mrow)
        self.title_combo = QComboBox()
        self.body_combo = QComboBox()
        self.text_combo = QComboBox()
        self.title_combo.setToolTip("Column with the ticket title / subject")
        self.body_combo.setToolTip("Column with the ticket description / body")
        self.text_combo.setToolTip("Column with the whole ticket text")
        self.title_label = QLabel("Title column")
        self.body_label = QLabel("Body column")
        self.text_label = QLabel("Text column")
        form.addRow(self.title_label, self.title_combo)
        form.addRow(self.body_label, self.body_combo)
        form.addRow(self.text_label, self.text_combo)
        self.mode_pair.toggled.connect(self._mode_changed)
        for c in (self.label_combo, self.title_combo, self.body_combo, self.text_combo):
            c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            c.setMinimumContentsLength(12)
            c.currentIndexChanged.connect(self._columns_changed)

        self.corr_check = QCheckBox("Include my corrections (0)")
        self.corr_check.setToolTip("Add the corrections made in the app: they replace the label of the\n"
                                   "same ticket in the file, and tickets not in the file are added")
        self.corr_check.toggled.connect(self._columns_changed)
        form.addRow("", self.corr_check)

        self.threshold_spin = QSpinBox()
        self.threshold_spin.setRange(1, 100000)
        self.threshold_spin.setValue(30)
        self.threshold_spin.setSuffix(" tickets")
        self.threshold_spin.setToolTip("Labels with fewer tickets than this are too rare to learn well;\n"
                                       "they are dropped or merged into 'Other' (see below)")
        self.threshold_spin.valueChanged.connect(self._labels_changed)
        form.addRow("Rare-label threshold", self.threshold_spin)
        self.rare_combo = QComboBox()
        self.rare_combo.addItem("Leave them out", "drop")
        self.rare_combo.addItem("Merge them into 'Other'", "other")
        self.rare_combo.setToolTip("What happens to tickets of labels below the threshold")
        self.rare_combo.currentIndexChanged.connect(self._labels_changed)
        form.addRow("Rare labels", self.rare_combo)

        self.val_spin = QSpinBox()
        self.val_spin.setRange(5, 50)
        self.val_spin.setValue(10)
        self.val_spin.setSuffix(" %")
        self.val_spin.setToolTip("Share of tickets held out to measure the model during training\n"
                                 "(ignored when the file has a 'split' column with val rows)")
        self.test_spin = QSpinBox()
        self.test_spin.setRange(0, 40)
        self.test_spin.setValue(10)
        self.test_spin.setSuffix(" %")
        self.test_spin.setToolTip("Share of tickets kept aside for a final, untouched measurement")
        self.val_spin.valueChanged.connect(self._labels_changed)
        self.test_spin.valueChanged.connect(self._labels_changed)
        srow = QHBoxLayout()
        srow.addWidget(QLabel("validation"))
        srow.addWidget(self.val_spin)
        srow.addSpacing(10)
        srow.addWidget(QLabel("test"))
        srow.addWidget(self.test_spin)
        srow.addStretch(1)
        form.addRow("Held out", srow)

        self.merge_table = QTableWidget(0, 2)
        self.merge_table.setHorizontalHeaderLabels(["From label", "To label"])
        self.merge_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.merge_table.verticalHeader().hide()
        self.merge_table.setItemDelegate(_CompleterDelegate(self._current_labels, self.merge_table))
        self.merge_table.setToolTip("Rename labels before training, e.g. merge 'Printer' into 'Hardware'.\n"
                                    "Double-click a cell to type; names are completed from the file")
        self.merge_table.setMinimumHeight(96)
        self.merge_table.setMaximumHeight(150)
        self.merge_table.itemChanged.connect(lambda _it: self._labels_changed())
        add = QPushButton("Add")
        rem = QPushButton("Remove")
        add.setToolTip("Add a merge rule")
        rem.setToolTip("Remove the selected merge rules")
        add.clicked.connect(self._merge_add)
        rem.clicked.connect(self._merge_remove)
        mv = QVBoxLayout()
        mv.setSpacing(4)
        mv.addWidget(self.merge_table)
        br = QHBoxLayout()
        br.addWidget(add)
        br.addWidget(rem)
        br.addStretch(1)
        mv.addLayout(br)
        form.addRow("Merge labels", mv)
        self.data_box = box
        return box

    def _build_settings_box(self) -> QGroupBox:
        box = QGroupBox("2 · Model settings")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.preset_combo = QComboBox()
        for p in ("quick", "standard", "full", "seed"):
            self.preset_combo.addItem(p.capitalize(), p)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, PRESET_TEXT[p],
                                          Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.setToolTip("A preset fills the settings below; you can change them afterwards")
        self.preset_combo.currentIndexChanged.connect(
            lambda _i: self._apply_preset(self.preset_combo.currentData()))
        form.addRow("Preset", self.preset_combo)
        self.preset_info = _muted(QLabel(""))
        self.preset_info.setWordWrap(True)
        form.addRow("", self.preset_info)

        self.base_edit = QLineEdit("all-MiniLM-L6-v2")
        self.base_edit.setToolTip("The pretrained BERT both towers start from: all-MiniLM-L6-v2 (installed\n"
                                  "with the app) or a folder with a Hugging Face BERT checkpoint")
        base_btn = QPushButton("Folder…")
        base_btn.setToolTip("Use a BERT checkpoint folder (config.json, weights, tokenizer.json)")
        base_btn.clicked.connect(self._browse_base)
        reset_btn = QPushButton("Default")
        reset_btn.setToolTip("Back to the installed all-MiniLM-L6-v2")
        reset_btn.clicked.connect(lambda: self.base_edit.setText("all-MiniLM-L6-v2"))
        brow = QHBoxLayout()
        brow.addWidget(self.base_edit, 1)
        brow.addWidget(base_btn)
        brow.addWidget(reset_btn)
        form.addRow("Base checkpoint", brow)

        self.fields: dict[str, QWidget] = {}
        for name, kind, label, spec, tip in self.FIELDS:
            if kind in ("int", "layers"):
                w = QSpinBox()
                w.setRange(*spec)
                w.setMaximumWidth(120)
                if kind == "layers":
                    w.setSpecialValueText("all")
                w.valueChanged.connect(self._form_changed)
            elif kind == "float":
                w = SciEdit(*spec)
                w.textEdited.connect(self._form_changed)
            elif kind == "choice":
                w = QComboBox()
                for value, text in spec:
                    w.addItem(text, value)
                w.currentIndexChanged.connect(self._form_changed)
            else:
                w = QCheckBox("Weight rare labels more")
                w.toggled.connect(self._form_changed)
            w.setToolTip(tip)
            lab = QLabel(label)
            lab.setToolTip(tip)
            form.addRow(lab, w)
            self.fields[name] = w
        self.settings_box = box
        return box

    def _build_run_bar(self) -> QWidget:
        bar = QFrame()
        bar.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QGridLayout(bar)
        lay.setContentsMargins(8, 6, 8, 6)
        self.start_btn = QPushButton("Start training")
        self.start_btn.setObjectName("primary")
        self.start_btn.setDefault(True)
        f = self.start_btn.font()
        f.setBold(True)
        self.start_btn.setFont(f)
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop training; nothing is saved")
        self.cancel_btn.clicked.connect(self.request_stop)
        self.state_label = QLabel()
        self.state_label.setTextFormat(Qt.TextFormat.RichText)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        lay.addWidget(self.start_btn, 0, 0)
        lay.addWidget(self.cancel_btn, 0, 1)
        lay.addWidget(self.state_label, 0, 2, Qt.AlignmentFlag.AlignRight)
        lay.addWidget(self.status_label, 1, 0, 1, 3)
        lay.setColumnStretch(2, 1)
        return bar

    def _build_data_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        self.dist_chart = DistributionChart()
        sc = QScrollArea()
        sc.setWidgetResizable(True)
        sc.setFrameShape(QFrame.Shape.NoFrame)
        sc.setWidget(self.dist_chart)
        v.addWidget(sc, 3)
        head = QLabel("<b>Data check</b>")
        v.addWidget(head)
        self.report_view = QPlainTextEdit()
        self.report_view.setReadOnly(True)
        self.report_view.setPlaceholderText("What preparation will do with the file (rows read, dropped "
                                            "and why, the split) appears here.")
        self.report_view.setMaximumHeight(170)
        v.addWidget(self.report_view, 1)
        return page

    def _tile(self, grid: QGridLayout, col: int, row: int, caption: str, tip: str) -> QLabel:
        cap = _muted(QLabel(caption))
        cap.setToolTip(tip)
        val = QLabel("—")
        f = val.font()
        f.setPointSizeF(f.pointSizeF() * 1.25)
        f.setBold(True)
        val.setFont(f)
        val.setToolTip(tip)
        val.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid.addWidget(cap, row * 2, col)
        grid.addWidget(val, row * 2 + 1, col)
        return val

    def _build_training_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        grid = QGridLayout()
        grid.setHorizontalSpacing(24)
        grid.setVerticalSpacing(2)
        self.metric_labels = {
            "phase": self._tile(grid, 0, 0, "Phase", "What the training is doing now"),
            "epoch": self._tile(grid, 1, 0, "Epoch", "Epoch of the current phase"),
            "val_accuracy": self._tile(grid, 2, 0, "Val accuracy", "Share of validation tickets labelled right (last epoch)"),
            "val_macro_f1": self._tile(grid, 3, 0, "Val macro-F1", "F1 averaged over labels: rare labels count as much as big ones"),
            "samples_s": self._tile(grid, 0, 1, "Tickets / s", "Training throughput"),
            "elapsed": self._tile(grid, 1, 1, "Elapsed", "Time since Start"),
            "eta": self._tile(grid, 2, 1, "Phase ETA", "Estimated time left in the current phase"),
            "best": self._tile(grid, 3, 1, "Best macro-F1", "Best validation macro-F1 so far (its weights are kept)"),
        }
        self.metric_labels["phase"].setMinimumWidth(230)
        for c in range(4):
            grid.setColumnStretch(c, 1)
        v.addLayout(grid)
        prow = QHBoxLayout()
        self.progress_caption = _muted(QLabel("Progress"))
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        prow.addWidget(self.progress_caption)
        prow.addWidget(self.progress, 1)
        v.addLayout(prow)
        self.loss_plot = LossPlot()
        v.addWidget(self.loss_plot, 3)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(2000)
        self.log_view.setMaximumHeight(130)
        self.log_view.setPlaceholderText("Training log")
        v.addWidget(self.log_view, 1)
        return page

    def _build_results_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        self.summary_label = QLabel("Results appear here when training ends.")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.summary_label)

        vsplit = QSplitter(Qt.Orientation.Vertical)
        vsplit.setChildrenCollapsible(False)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.setChildrenCollapsible(False)
        self.class_table = QTableWidget(0, 5)
        self.class_table.setHorizontalHeaderLabels(["Label", "Precision", "Recall", "F1", "Support"])
        self._setup_table(self.class_table)
        self.class_table.setToolTip("Per-label quality on the validation split")
        top.addWidget(self.class_table)
        self.confusion_chart = ConfusionChart()
        csc = QScrollArea()
        csc.setWidgetResizable(True)
        csc.setFrameShape(QFrame.Shape.NoFrame)
        csc.setWidget(self.confusion_chart)
        top.addWidget(csc)
        top.setSizes([470, 450])
        vsplit.addWidget(top)

        cmp_box = QGroupBox("Compared with the active model (same validation tickets)")
        cv = QVBoxLayout(cmp_box)
        self.compare_label = QLabel("No comparison yet.")
        self.compare_label.setWordWrap(True)
        self.compare_label.setTextFormat(Qt.TextFormat.RichText)
        cv.addWidget(self.compare_label)
        self.compare_table = QTableWidget(0, 5)
        self.compare_table.setHorizontalHeaderLabels(["Label", "Active F1", "New F1", "Difference", "Support"])
        self._setup_table(self.compare_table)
        cv.addWidget(self.compare_table)
        vsplit.addWidget(cmp_box)
        vsplit.setSizes([380, 240])
        v.addWidget(vsplit, 1)

        srow = QHBoxLayout()
        srow.addWidget(QLabel("Model name"))
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. it-tickets-2025-06")
        self.name_edit.setToolTip("Folder name of the model under the app's models folder")
        srow.addWidget(self.name_edit, 1)
        self.save_btn = QPushButton("Save as model")
        self.save_btn.setToolTip("Keep the new model; it appears in Models")
        self.save_btn.clicked.connect(self.save_model)
        self.use_btn = QPushButton("Use this model")
        self.use_btn.setToolTip("Save it and switch the app to it now; the previous model stays in\n"
                                "Models so you can switch back")
        self.use_btn.clicked.connect(self.use_model)
        self.discard_btn = QPushButton("Discard")
        self.discard_btn.setToolTip("Delete the new model")
        self.discard_btn.clicked.connect(self.discard)
        srow.addWidget(self.save_btn)
        srow.addWidget(self.use_btn)
        srow.addWidget(self.discard_btn)
        v.addLayout(srow)
        return page

    @staticmethod
    def _setup_table(t: QTableWidget) -> None:
        t.verticalHeader().hide()
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setAlternatingRowColors(True)
        t.setSortingEnabled(True)
        h = t.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, t.columnCount()):
            h.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        t.setMinimumHeight(120)

    # ================================================================ state
    @property
    def state(self) -> str:
        return self._state

    def busy(self) -> bool:
        """True while any job of this tab (training, file reading, data check) runs."""
        return any(j.is_running() or j.thread.isRunning() for j in self._jobs)

    def training(self) -> bool:
        return self._state in ("running", "cancelling")

    def has_unsaved_result(self) -> bool:
        return self._outcome is not None and self._saved_path is None

    def _can_start(self) -> tuple[bool, str]:
        if self.training():
            return False, "A training run is already in progress."
        if self._df is None:
            return False, "Load a labelled file first."
        if self._load_job is not None:
            return False, "The file is still being read."
        if not self.label_combo.currentText():
            return False, "Choose the label column."
        cols = self._text_columns()
        if not any(cols.values()):
            return False, "Choose the ticket text column(s)."
        return True, ""

    def _set_state(self, state: str, message: str = "") -> None:
        assert state in STATES, state
        self._state = state
        running = state in ("running", "cancelling")
        ok, why = self._can_start()
        self.start_btn.setEnabled(ok)
        self.start_btn.setToolTip(why or "Prepare the data and train a new model")
        self.cancel_btn.setEnabled(state == "running")
        self.data_box.setEnabled(not running and self._load_job is None)
        self.settings_box.setEnabled(not running)
        self._update_result_buttons()
        dark = is_dark(self)
        colors = {"idle": "#9aa0a6" if dark else "#5f6368", "running": "#5aa9e6" if dark else "#1a73e8",
                  "cancelling": "#f0b429" if dark else "#b06000", "finished": "#6cc785" if dark else "#188038",
                  "failed": "#ff7b72" if dark else "#c5221f"}
        self.state_label.setText(f"<span style='color:{colors[state]}'>●</span> <b>{state.capitalize()}</b>")
        if message:
            self.status_label.setText(message)
        self.stateChanged.emit(state)

    def _update_result_buttons(self) -> None:
        have = self._outcome is not None and not self.training()
        self.save_btn.setEnabled(have and self._saved_path is None)
        self.discard_btn.setEnabled(have and self._saved_path is None)
        self.use_btn.setEnabled(have)
        self.name_edit.setEnabled(have and self._saved_path is None)

    def _refresh_start(self) -> None:
        ok, why = self._can_start()
        self.start_btn.setEnabled(ok)
        self.start_btn.setToolTip(why or "Prepare the data and train a new model")

    # ================================================================ data loading
    def _browse_file(self) -> None:
        start = str(self._path.parent) if self._path else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open labelled tickets", start, FILE_FILTER)
        if path:
            self.load_file(path)

    def _reload_sheet(self) -> None:
        if self._path is not None:
            self.load_file(self._path, sheet=self.sheet_combo.currentText() or None)

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
            self._set_data(p, df, rep, sheets, sheet)
            return True
        self.file_edit.setText(str(p))
        self.read_info.setText(f"Reading {size / 2**20:.0f} MB…")
        job = Job("train-load", read, self)
        job.finished.connect(lambda res: self._set_data(p, *res, sheet))
        job.failed.connect(lambda msg, det: self._error("Cannot read the file", msg, HINTS["table"], det))
        job.done.connect(lambda: self._job_done(job))
        self._load_job = job
        self._start_job(job)
        self._set_state(self._state)
        return True

    def _set_data(self, path: Path, df, rep, sheets: list[str], sheet: str | None) -> None:
        from triage_app.io import guess_columns

        self._df = df
        self._path = path
        self._sheets = sheets
        self._label_cache = None
        self.file_edit.setText(path.name)
        self.file_edit.setToolTip(str(path))
        info = rep.summary()
        if rep.warnings:
            info += "\n" + "\n".join(rep.warnings[:3])
        self.read_info.setText(info)
        with QSignalBlocker(self.sheet_combo):
            self.sheet_combo.clear()
            self.sheet_combo.addItems(sheets)
            if rep.sheet:
                self.sheet_combo.setCurrentText(rep.sheet)
        self.sheet_combo.setVisible(len(sheets) > 1)
        self.sheet_label.setVisible(len(sheets) > 1)
        cols = [str(c) for c in df.columns]
        guess = guess_columns(cols, df)
        combos = (self.label_combo, self.title_combo, self.body_combo, self.text_combo)
        blockers = [QSignalBlocker(c) for c in combos] + [QSignalBlocker(self.mode_pair),
                                                          QSignalBlocker(self.mode_one)]
        self.label_combo.clear()
        self.label_combo.addItems(cols)
        for c in (self.title_combo, self.body_combo, self.text_combo):
            c.clear()
            c.addItem("(none)", None)
            for name in cols:
                c.addItem(name, name)
        if guess.get("label"):
            self.label_combo.setCurrentText(guess["label"])

        def pick(combo, name):
            i = combo.findData(name) if name else 0
            combo.setCurrentIndex(max(i, 0))

        pick(self.title_combo, guess.get("title"))
        pick(self.body_combo, guess.get("body"))
        pick(self.text_combo, guess.get("text"))
        pair = bool(guess.get("title") or guess.get("body")) or not guess.get("text")
        self.mode_pair.setChecked(pair)
        self.mode_one.setChecked(not pair)
        del blockers
        self._mode_changed()
        self.pages.setCurrentIndex(0)
        self.dataLoaded.emit(len(df))

    def _job_done(self, job: Job) -> None:
        self._jobs.discard(job)
        if job is self._load_job:
            self._load_job = None
            self._set_state(self._state)
        if job is self._check_job:
            self._check_job = None
            if self._check_again:
                self._check_again = False
                self._check_timer.start()
        job.deleteLater()

    def _start_job(self, job: Job) -> None:
        self._jobs.add(job)
        job.start()

    # ================================================================ columns, labels, chart
    def _mode_changed(self, *_a) -> None:
        pair = self.mode_pair.isChecked()
        for w in (self.title_label, self.title_combo, self.body_label, self.body_combo):
            w.setVisible(pair)
        for w in (self.text_label, self.text_combo):
            w.setVisible(not pair)
        self._columns_changed()

    def _text_columns(self) -> dict:
        if self.mode_pair.isChecked():
            return {"title": self.title_combo.currentData(), "body": self.body_combo.currentData(),
                    "text": None}
        return {"title": None, "body": None, "text": self.text_combo.currentData()}

    def _columns_changed(self, *_a) -> None:
        self._label_cache = None
        self._labels_changed()

    def _labels_raw(self) -> list:
        """Label column values (after corrections when included); cached per column choice."""
        if self._df is None or not self.label_combo.currentText():
            return []
        cols = self._text_columns()
        use_corr = self.corr_check.isChecked() and self.corr_check.isEnabled()
        key = (self.label_combo.currentText(), cols["title"], cols["body"], cols["text"], use_corr)
        if self._label_cache is not None and self._label_cache[0] == key:
            return self._label_cache[1]
        df = self._df
        corr_text = ""
        if use_corr and any(cols.values()):
            try:
                df, stats = self.ctx.corrections.merge_into(
                    df, text_col=cols["text"], title_col=cols["title"], body_col=cols["body"],
                    label_col=key[0])
                corr_text = (f"Corrections: {stats['overridden']} labels changed, {stats['added']} "
                             f"tickets added.")
            except Exception as e:  # noqa: BLE001
                corr_text = f"Corrections could not be merged: {e}"
        labels = df[key[0]].tolist() if key[0] in df.columns else []
        self._label_cache = (key, labels)
        self._corr_text = corr_text
        return labels

    def _current_labels(self) -> list[str]:
        return sorted(label_counts(self._labels_raw()).keys())

    def merge_map(self) -> dict:
        out = {}
        for r in range(self.merge_table.rowCount()):
            a = self.merge_table.item(r, 0)
            b = self.merge_table.item(r, 1)
            a = a.text().strip() if a else ""
            b = b.text().strip() if b else ""
            if a and b and a != b:
                out[a] = b
        return out

    def set_merge_map(self, mapping: dict) -> None:
        with QSignalBlocker(self.merge_table):
            self.merge_table.setRowCount(0)
            for a, b in mapping.items():
                r = self.merge_table.rowCount()
                self.merge_table.insertRow(r)
                self.merge_table.setItem(r, 0, QTableWidgetItem(str(a)))
                self.merge_table.setItem(r, 1, QTableWidgetItem(str(b)))
        self._labels_changed()

    def _merge_add(self) -> None:
        r = self.merge_table.rowCount()
        with QSignalBlocker(self.merge_table):
            self.merge_table.insertRow(r)
            self.merge_table.setItem(r, 0, QTableWidgetItem(""))
            self.merge_table.setItem(r, 1, QTableWidgetItem(""))
        self.merge_table.setCurrentCell(r, 0)
        self.merge_table.editItem(self.merge_table.item(r, 0))

    def _merge_remove(self) -> None:
        rows = sorted({i.row() for i in self.merge_table.selectedIndexes()}, reverse=True)
        if not rows and self.merge_table.rowCount():
            rows = [self.merge_table.rowCount() - 1]
        for r in rows:
            self.merge_table.removeRow(r)
        self._labels_changed()

    def _labels_changed(self, *_a) -> None:
        """Redraw the distribution chart now; schedule the (background) data check."""
        self._refresh_start()
        if self._df is None:
            return
        counts = label_counts(self._labels_raw(), self.merge_map())
        self.dist_chart.set_data(counts, self.threshold_spin.value())
        self._check_timer.start()

    def refresh_corrections_count(self) -> None:
        store = getattr(self.ctx, "corrections", None)
        try:
            n = store.count() if store is not None else 0
        except Exception:  # noqa: BLE001
            n = 0
        self.corr_check.setText(f"Include my corrections ({n:,})")
        self.corr_check.setEnabled(n > 0)
        if n == 0:
            self.corr_check.setToolTip("No corrections stored yet: correct predictions in the Classify\n"
                                       "or Review screen and they can be added here")
        self._label_cache = None

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        if not self.training():
            before = self.corr_check.text()
            self.refresh_corrections_count()
            if before != self.corr_check.text():
                self._labels_changed()

    def data_spec(self) -> DataSpec | None:
        if self._df is None:
            return None
        cols = self._text_columns()
        routing = self.fields["routing"].currentData()
        return DataSpec(df=self._df, source=self._path.name if self._path else "data",
                        label_col=self.label_combo.currentText(), title_col=cols["title"],
                        body_col=cols["body"], text_col=cols["text"], merge_map=self.merge_map(),
                        min_per_class=self.threshold_spin.value(),
                        rare=self.rare_combo.currentData(), val_frac=self.val_spin.value() / 100,
                        test_frac=self.test_spin.value() / 100,
                        use_corrections=self.corr_check.isChecked() and self.corr_check.isEnabled(),
                        routing=routing, class_weights=self.fields["class_weights"].isChecked())

    # ---- background data check (prepare_frame on the current settings) ----
    def _run_check(self) -> None:
        if self.training() or self._closing:
            return
        if self._check_job is not None:
            self._check_again = True
            self._check_job.cancel()
            return
        spec = self.data_spec()
        if spec is None or not spec.label_col or not (spec.title_col or spec.body_col or spec.text_col):
            return
        corrections = getattr(self.ctx, "corrections", None)

        def check(emit, should_stop):
            try:
                data, _df = prepare(spec, corrections, should_stop)
            except Cancelled:
                raise Cancelled() from None
            sizes = {"train": len(data.train), "val": len(data.val),
                     "test": len(data.test) if data.test is not None else 0}
            return DataReady(data.report.lines(), sizes, list(data.labels))

        job = Job("train-check", check, self)
        job.finished.connect(self._show_report)
        job.failed.connect(self._show_check_error)
        job.done.connect(lambda: self._job_done(job))
        self._check_job = job
        self._start_job(job)

    def _report_text(self, ready: DataReady) -> str:
        lines = list(ready.lines)
        corr = getattr(self, "_corr_text", "")
        if corr and not any(line.startswith("corrections:") for line in lines):
            lines.append(corr)
        lines.append(f"ready to train: {len(ready.labels)} labels, " +
                     ", ".join(f"{k} {v:,} rows" for k, v in ready.sizes.items() if v))
        return "\n".join(lines)

    @Slot(object)
    def _show_report(self, ready) -> None:
        if self._check_again:
            return
        self.report_view.setPlainText(self._report_text(ready))
        self.report_lines = list(ready.lines)
        self.previewUpdated.emit()

    @Slot(str, str)
    def _show_check_error(self, msg: str, details: str) -> None:
        if self._check_again:
            return
        self.report_view.setPlainText(f"⚠ This data cannot be trained on yet:\n{msg}\n\n{HINTS['data']}")
        self.report_lines = []
        self.previewUpdated.emit()

    # ================================================================ settings form
    def _apply_preset(self, name: str) -> None:
        from trainer.config import TrainConfig

        cfg = TrainConfig.from_preset(name)
        self._preset_values = {k: getattr(cfg, k) for k, *_ in self.FIELDS}
        self._set_form(self._preset_values)
        self.preset_info.setText(PRESET_TEXT[name])
        i = self.preset_combo.findData(name)
        if i != self.preset_combo.currentIndex():
            with QSignalBlocker(self.preset_combo):
                self.preset_combo.setCurrentIndex(i)

    def _set_form(self, values: dict) -> None:
        self._filling = True
        try:
            for name, kind, *_ in self.FIELDS:
                w = self.fields[name]
                v = values[name]
                if kind in ("int", "layers"):
                    w.setValue(int(v))
                elif kind == "float":
                    w.setValue(v)
                elif kind == "choice":
                    w.setCurrentIndex(max(0, w.findData(v)))
                else:
                    w.setChecked(bool(v))
        finally:
            self._filling = False
        self._form_changed()

    def form_values(self) -> dict:
        out = {}
        for name, kind, label, *_ in self.FIELDS:
            w = self.fields[name]
            if kind in ("int", "layers"):
                out[name] = w.value()
            elif kind == "float":
                try:
                    out[name] = w.value()
                except ValueError:
                    raise ValueError(f"{label}: '{w.text()}' is not a number") from None
            elif kind == "choice":
                out[name] = w.currentData()
            else:
                out[name] = w.isChecked()
        return out

    def _form_changed(self, *_a) -> None:
        if getattr(self, "_filling", False):
            return
        try:
            vals = self.form_values()
        except ValueError:
            vals = None
        preset = self.preset_combo.currentData()
        modified = vals is not None and any(
            (abs(vals[k] - v) > 1e-12 if isinstance(v, float) else vals[k] != v)
            for k, v in getattr(self, "_preset_values", {}).items())
        self.preset_info.setText(PRESET_TEXT.get(preset, "") + (" (changed below)" if modified else ""))

    def _browse_base(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "BERT checkpoint folder", str(Path.home()))
        if d:
            self.base_edit.setText(d)

    def build_config(self):
        """The TrainConfig of the form (+ ``config_overrides``); raises ConfigError/ValueError."""
        from trainer.config import TrainConfig

        kw = self.form_values()
        base = self.base_edit.text().strip() or "all-MiniLM-L6-v2"
        if os.sep in base or "/" in base:
            if not Path(base).is_dir():
                from trainer.config import ConfigError

                raise ConfigError(f"base checkpoint folder not found: {base}")
        kw["base_model"] = base
        kw.update(self.config_overrides)
        return TrainConfig.from_preset(self.preset_combo.currentData(), **kw)

    # ================================================================ training
    def start(self) -> bool:
        """Start a training run; returns False (and says why) when it cannot start now."""
        ok, why = self._can_start()
        if not ok:
            if not self.training():
                self.status_label.setText(why)
            return False
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            self._error("Training is not available here",
                        "This installation of TicketTriage has no PyTorch, which training needs.",
                        "Install PyTorch (pip install torch) in the app's environment to retrain "
                        "models; classifying works without it.")
            return False
        discarded = self.has_unsaved_result()
        if discarded:
            self._discard_pending()
        try:
            cfg = self.build_config()
        except Exception as e:  # noqa: BLE001
            self._error("Check the model settings", str(e), HINTS["config"])
            return False
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
        self._check_timer.stop()
        if self._check_job is not None:
            self._check_job.cancel()
        try:
            root = paths.user_models_dir()
        except OSError as e:
            self._release_job()
            self._error("Cannot write models", str(e), "Check the permissions of the app's data folder.")
            return False
        stamp = time.strftime("%Y-%m-%d-%H%M")
        stem = safe_model_name(Path(spec.source).stem) or "tickets"
        name = safe_model_name(f"{stem}-{stamp}")
        fn = training_job(spec, cfg, active=getattr(self.ctx, "classifier", None),
                          corrections=getattr(self.ctx, "corrections", None), pending_root=root,
                          name=name, version=time.strftime("%Y%m%d.%H%M%S"),
                          export_options=dict(self.export_options))
        self._reset_run_views()
        self.name_edit.setText(name)
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
        self._t0 = time.perf_counter()
        self._clock.start()
        self.loss_plot.start()
        self._set_state("running", f"Training with the {cfg.preset} preset on {spec.source}…" +
                        (" (the previous unsaved model was discarded)" if discarded else ""))
        self.pages.setCurrentIndex(1)
        self._start_job(job)
        return True

    def request_stop(self) -> None:
        """Ask every job of this tab to stop (cooperative); the training run ends as cancelled."""
        if self._train_job is not None and self._train_job.is_running() and self._state == "running":
            self._train_job.cancel()
            self._set_state("cancelling", "Cancelling… (the current batch finishes first)")
        for j in list(self._jobs):
            j.cancel()
        self._check_timer.stop()

    def wait(self, ms: int = 30000) -> bool:
        """Wait until this tab's threads ended (after :meth:`request_stop`, e.g. on quit).

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
        self._phase = ""
        self._best = float("nan")
        self.loss_plot.reset()
        self.log_view.clear()
        for k, lab in self.metric_labels.items():
            lab.setText("—")
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress_caption.setText("Progress")
        self._clear_results()

    def _log(self, text: str) -> None:
        t = fmt_duration(time.perf_counter() - self._t0) if self._t0 else ""
        self.log_view.appendPlainText(f"[{t:>10}] {text}")

    @Slot(object)
    def _on_event(self, ev) -> None:
        kind = type(ev).__name__
        lab = self.metric_labels
        if kind == "PhaseEvent":
            self._phase = ev.phase
            lab["phase"].setText(PHASE_TEXT.get(ev.phase, ev.phase))
            if ev.phase != "export" or not self.log_view.toPlainText().endswith(ev.message):
                self._log(ev.message)
            if ev.phase in ("head", "finetune"):
                self._phase_total = ev.total_steps
                self._phase_step0 = None
                self._phase_t0 = time.perf_counter()
                self.progress_caption.setText("Steps")
                self.progress.setRange(0, max(ev.total_steps, 1))
                self.progress.setValue(0)
                lab["eta"].setText("—")
            elif ev.phase in ("data", "prepare", "export", "compare"):
                self.progress_caption.setText(PHASE_TEXT.get(ev.phase, ev.phase))
                self.progress.setRange(0, 0)     # busy indicator
            self.loss_plot.add(ev)
        elif kind == "ProgressEvent":
            cap = {"features": "Caching features", "cache": "Caching frozen layers",
                   "calibrate": "Calibrating", "test": "Test split",
                   "head": "Validation", "finetune": "Validation"}.get(ev.phase, ev.phase)
            self.progress_caption.setText(cap)
            self.progress.setRange(0, max(ev.total, 1))
            self.progress.setValue(ev.done)
            if ev.phase in ("features", "cache", "calibrate", "test") and self._phase != ev.phase:
                lab["phase"].setText(PHASE_TEXT.get(ev.phase, ev.phase))
        elif kind == "StepEvent":
            self.loss_plot.add(ev)
            if self._phase_step0 is None:
                self._phase_step0 = ev.step - 1
                self._phase_t0 = time.perf_counter()
            done = ev.step - self._phase_step0
            self.progress_caption.setText("Steps")
            self.progress.setRange(0, max(self._phase_total, done, 1))
            self.progress.setValue(done)
            lab["samples_s"].setText(f"{ev.samples_per_s:,.0f}")
            lab["epoch"].setText(f"{ev.epoch:.2f}")
            dt = time.perf_counter() - self._phase_t0
            if done > 0 and self._phase_total:
                lab["eta"].setText(fmt_duration(dt / done * max(self._phase_total - done, 0)))
        elif kind == "EpochEvent":
            self.loss_plot.add(ev)
            lab["val_accuracy"].setText(f"{ev.val_accuracy:.3f}")
            lab["val_macro_f1"].setText(f"{ev.val_macro_f1:.3f}")
            lab["epoch"].setText(f"{ev.epoch} / {ev.epochs}")
            if not (self._best >= ev.val_macro_f1):
                self._best = ev.val_macro_f1
            lab["best"].setText(f"{self._best:.3f}")
            phase = "phase 1" if ev.phase == "head" else "phase 2"
            self._log(f"{phase} epoch {ev.epoch}/{ev.epochs}: train loss {ev.train_loss:.4f}, "
                      f"val loss {ev.val_loss:.4f}, accuracy {ev.val_accuracy:.3f}, "
                      f"macro-F1 {ev.val_macro_f1:.3f}{'  ★ best so far' if ev.improved else ''}")
        elif kind == "DataReady":
            self.report_view.setPlainText(self._report_text(ev))
            self.report_lines = list(ev.lines)
            self._log("data: " + "; ".join(ev.lines))
        elif kind == "FailureInfo":
            self._failure = ev
        elif kind == "FinishedEvent":
            self.progress.setRange(0, 1)
            self.progress.setValue(1)

    def _tick(self) -> None:
        if self._t0:
            self.metric_labels["elapsed"].setText(fmt_duration(time.perf_counter() - self._t0))

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
            shutil.rmtree(outcome.pending_dir, ignore_errors=True)
            self._set_state("idle", "Cancelled — nothing saved.")
            return
        self._outcome = outcome
        self._saved_path = None
        self.name_edit.setText(outcome.name)
        self._show_results(outcome)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress_caption.setText("Done")
        self.metric_labels["phase"].setText("Finished")
        self._log(f"finished in {fmt_duration(outcome.elapsed_s)}; export: "
                  f"{outcome.export.get('precision', '?')} ({outcome.export.get('precision_note', '')})")
        acc = outcome.metrics.get("val", {}).get("accuracy", float("nan"))
        f1 = outcome.metrics.get("val", {}).get("macro_f1", float("nan"))
        self._set_state("finished", f"Finished in {fmt_duration(outcome.elapsed_s)}: validation accuracy "
                        f"{acc:.3f}, macro-F1 {f1:.3f}. Save the model to keep it.")
        self.pages.setCurrentIndex(2)
        self.trainingFinished.emit(outcome)

    @Slot(str, str)
    def _on_failed(self, msg: str, details: str) -> None:
        self._release_job()
        if self._state == "cancelling":
            self._set_state("idle", "Cancelled — nothing saved.")
            self._log(f"(while cancelling: {msg})")
            return
        kind = self._failure.kind if self._failure else "other"
        self._log(f"failed: {msg}")
        self.metric_labels["phase"].setText("Failed")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        titles = {"data": "The data cannot be used for training", "config": "Check the model settings",
                  "model": "The base checkpoint cannot be loaded", "memory": "Training ran out of memory",
                  "export": "The model could not be exported", "table": "Cannot read the file",
                  "device": "The GPU cannot be used"}
        self._set_state("failed", f"Training failed: {msg}")
        self._error(titles.get(kind, "Training failed"), msg, HINTS.get(kind, HINTS["other"]),
                    details if kind in ("other", "export", "memory") else "")

    @Slot()
    def _on_cancelled(self) -> None:
        self._release_job()
        self.metric_labels["phase"].setText("Cancelled")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._log("cancelled — nothing saved")
        self._set_state("idle", "Cancelled — nothing saved.")

    def _on_done(self, job: Job) -> None:
        self._jobs.discard(job)
        if job is self._train_job:
            self._train_job = None
            self._clock.stop()
            self._tick()
            self.loss_plot.stop()
            self._release_job()
            if self._state in ("running", "cancelling"):   # ended without a result signal
                self._set_state("idle", "Cancelled — nothing saved.")
            else:
                self._set_state(self._state)
        job.deleteLater()

    # ================================================================ results
    def _clear_results(self) -> None:
        self.class_table.setRowCount(0)
        self.compare_table.setRowCount(0)
        self.confusion_chart.cm = None
        self.confusion_chart.redraw()
        self.summary_label.setText("Results appear here when training ends.")
        self.compare_label.setText("No comparison yet.")
        self._update_result_buttons()

    def _show_results(self, o: TrainOutcome) -> None:
        val = o.metrics.get("val", {})
        per = val.get("per_class", {})
        t = self.class_table
        t.setSortingEnabled(False)
        t.setRowCount(len(per))
        for r, (lab, m) in enumerate(per.items()):
            t.setItem(r, 0, _text_item(lab))
            t.setItem(r, 1, _num(m["precision"]))
            t.setItem(r, 2, _num(m["recall"]))
            t.setItem(r, 3, _num(m["f1"]))
            t.setItem(r, 4, _num(m["support"], "{:,.0f}"))
        t.setSortingEnabled(True)
        t.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        if val.get("confusion") is not None:
            self.confusion_chart.set_data(val["confusion"], o.labels)
        parts = [f"<b>Validation</b> ({val.get('n', 0):,} tickets): accuracy <b>{val.get('accuracy', 0):.3f}</b>, "
                 f"macro-F1 <b>{val.get('macro_f1', 0):.3f}</b>, weighted-F1 {val.get('weighted_f1', 0):.3f}"]
        test = o.metrics.get("test")
        if test:
            parts.append(f"<b>Test</b> ({test.get('n', 0):,} tickets, never seen in training): accuracy "
                         f"<b>{test.get('accuracy', 0):.3f}</b>, macro-F1 <b>{test.get('macro_f1', 0):.3f}</b>")
        ex = o.metrics.get("test_exported")
        if ex:
            parts.append(f"<b>Test, the exported file as the app runs it</b> ({ex['precision']}): accuracy "
                         f"<b>{ex['accuracy']:.3f}</b>, macro-F1 <b>{ex['macro_f1']:.3f}</b>")
        if "temperature" in o.metrics:
            parts.append(f"Calibration: temperature {o.metrics['temperature']:.2f}, confidence error (ECE) "
                         f"{o.metrics.get('ece_before', float('nan')):.3f} → {o.metrics.get('ece_after', float('nan')):.3f}")
        parts.append(f"Exported as <b>{o.export.get('precision', '?')}</b>: {o.export.get('precision_note', '')}")
        self.summary_label.setText("<br>".join(parts))
        self._show_comparison(o.comparison)
        self._update_result_buttons()

    def _delta_brush(self, d: float) -> QBrush | None:
        if not np.isfinite(d) or abs(d) < 0.005:
            return None
        dark = is_dark(self)
        if d > 0:
            return QBrush(QColor("#6cc785" if dark else "#137333"))
        return QBrush(QColor("#ff7b72" if dark else "#c5221f"))

    def _show_comparison(self, c: dict | None) -> None:
        t = self.compare_table
        t.setSortingEnabled(False)
        t.setRowCount(0)
        if c is None:
            self.compare_label.setText("No active model to compare with: this will be the first model "
                                       "you use, or activate one in Models to compare next time.")
            return
        if "error" in c:
            self.compare_label.setText(f"The active model could not be run on the validation tickets: {c['error']}")
            return
        a, n = c["active"], c["new"]

        def fmt(x):
            return f"{x:.3f}" if np.isfinite(x) else "—"

        def diff(x, y):
            if not (np.isfinite(x) and np.isfinite(y)):
                return "—"
            d = y - x
            return f"{d:+.3f}"

        txt = (f"Active model <b>{c.get('active_name', '')}</b> vs the new model on {c['rows']:,} of "
               f"{c['total_rows']:,} validation tickets: accuracy {fmt(a['accuracy'])} → <b>{fmt(n['accuracy'])}</b> "
               f"({diff(a['accuracy'], n['accuracy'])}), macro-F1 {fmt(a['macro_f1'])} → "
               f"<b>{fmt(n['macro_f1'])}</b> ({diff(a['macro_f1'], n['macro_f1'])}).")
        if c["only_new"] or c["only_active"]:
            txt += ("<br>The two models have different labels, so they are compared only on the "
                    f"{len(c['shared'])} labels both know")
            if c["only_new"]:
                txt += f"; only the new model has: {', '.join(c['only_new'])}"
            if c["only_active"]:
                txt += f"; only the active model has: {', '.join(c['only_active'])}"
            txt += "."
        if not c["shared"]:
            txt = (f"The active model <b>{c.get('active_name', '')}</b> shares no label with the new "
                   "model, so they cannot be compared.")
        self.compare_label.setText(txt)
        rows = sorted(c["per_class"].items())
        t.setRowCount(len(rows))
        for r, (lab, m) in enumerate(rows):
            t.setItem(r, 0, _text_item(lab))
            t.setItem(r, 1, _num(m["active"]))
            t.setItem(r, 2, _num(m["new"]))
            d = m["new"] - m["active"]
            it = _num(d, "{:+.3f}")
            b = self._delta_brush(d)
            if b is not None:
                it.setForeground(b)
            t.setItem(r, 3, it)
            t.setItem(r, 4, _num(m["support"], "{:,.0f}"))
        t.setSortingEnabled(True)
        t.sortByColumn(0, Qt.SortOrder.AscendingOrder)

    # ---- save / use / discard ----
    def save_model(self) -> Path | None:
        """Move the trained model out of its hidden folder into the models folder."""
        o = self._outcome
        if o is None or self.training():
            return None
        if self._saved_path is not None:
            return self._saved_path
        from triage_app.bundle import META_FILE, load_bundle, write_json_atomic

        name = safe_model_name(self.name_edit.text())
        if not name:
            self._error("Choose a model name", "The model needs a name (letters, digits, - _ .).",
                        "Type a name next to 'Save as model'.")
            return None
        try:
            dest = paths.user_models_dir() / name
            if dest.exists():
                self._error("Choose another name", f"A model called '{name}' already exists.",
                            "Type a different name; existing models are never overwritten.")
                return None
            src = Path(o.bundle_path)
            b = load_bundle(src, verify_hash=False)
            meta = dict(b.meta)
            meta["name"] = name
            write_json_atomic(src / META_FILE, meta)
            os.replace(src, dest)
            shutil.rmtree(o.pending_dir, ignore_errors=True)
            load_bundle(dest)
        except Exception as e:  # noqa: BLE001
            self._error("The model could not be saved", str(e),
                        "Check free disk space and the permissions of the app's data folder.")
            return None
        self._saved_path = dest
        self.name_edit.setText(name)
        self._update_result_buttons()
        self.status_label.setText(f"Saved as '{name}' in {dest.parent}. It is listed in Models.")
        self._log(f"saved as {dest}")
        self.modelSaved.emit(str(dest))
        listed = getattr(self.ctx, "modelsListChanged", None)
        if listed is not None:
            listed.emit()
        return dest

    def use_model(self):
        """Save (if needed) and switch the app to the new model without a restart. The bundle is
        loaded in a worker (the "activate" job the Models tab uses too); the swap happens on the
        GUI thread when it is loaded. Returns the job, or None when nothing was started."""
        path = self.save_model()
        if path is None:
            return None
        from triage_app.gui.widgets import start_job

        def ok(clf):
            self.ctx.set_classifier(clf)
            self.status_label.setText(f"Now using '{path.name}'. The previous model stays listed in "
                                      "Models, so you can switch back at any time.")
            self.modelActivated.emit(str(path))

        def fail(msg, details):
            self.use_btn.setEnabled(True)
            self._error("The new model could not be activated", msg,
                        "The model is saved and the previous model is still active; see Models.", details)

        self.use_btn.setEnabled(False)
        job = start_job(self.ctx, self, "activate", lambda emit, should_stop: self.ctx.load_classifier(path),
                        "Activating the model failed", on_finished=ok, on_failed=fail)
        if job is None:
            self.use_btn.setEnabled(True)
        else:
            self.status_label.setText(f"Loading '{path.name}'…")
        return job

    def _discard_pending(self) -> None:
        o = self._outcome
        if o is not None and self._saved_path is None:
            shutil.rmtree(o.pending_dir, ignore_errors=True)
        self._outcome = None

    def discard(self) -> None:
        if self._outcome is None or self.training():
            return
        self._discard_pending()
        self._saved_path = None
        self._update_result_buttons()
        self._set_state("idle", "The new model was discarded.")

    # ================================================================ errors
    def _error(self, title: str, message: str, hint: str = "", details: str = "") -> None:
        """A readable, non-blocking (window-modal) message box: what happened, what to do."""
        self.last_error = (title, message)
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(title)
        box.setText(f"<b>{title}</b>")
        box.setInformativeText(f"{_html(message)}<br><br>{_html(hint)}" if hint else _html(message))
        if details:
            box.setDetailedText(details)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._error_box = box
        box.open()


def _html(s: str) -> str:
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", "<br>"))
