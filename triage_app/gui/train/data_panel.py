"""The "1 · Labelled data" box: file and sheet, label and text columns, corrections, rare-label
threshold, held-out split and the label merge map.

The panel holds the loaded table and reports through signals: ``fileChosen`` / ``sheetChosen``
when the user picks a file or worksheet (the tab reads it, in a job when large, and hands the
result back with :meth:`set_data`), ``labelsChanged`` whenever the labels that training would see
may differ (columns, corrections, threshold, split, merge map)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from trainer.config import DEFAULT_MIN_PER_CLASS, default_min_per_class
from trainer.pipeline import DataSpec, label_counts
from triage_app.gui.train.targets_box import MoreTargets
from triage_app.gui.widgets import TABLE_FILTER, muted_label, wheel_only_when_focused


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


class DataPanel(QGroupBox):
    """``ctx``: the app context (its ``corrections`` store is read when corrections are included)."""

    fileChosen = Signal(str)           # the user picked a file in the dialog
    sheetChosen = Signal(str)          # the user picked another worksheet ("" = default)
    labelsChanged = Signal()           # labels / counts / split settings may have changed

    def __init__(self, ctx, parent: QWidget | None = None):
        super().__init__("1 · Labelled data", parent)
        self.ctx = ctx
        self.df = None                     # pandas.DataFrame as read (never modified)
        self.path: Path | None = None
        self.sheets: list[str] = []
        self._label_cache = None           # (key, labels list) after corrections
        self.corrections_note = ""         # what merging the corrections did (for the data check)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._build_file_rows(form)
        self._build_column_rows(form)
        self._build_label_rows(form)
        self._build_merge_rows(form)
        self._mode_changed()

    # ---- construction ----
    def _build_file_rows(self, form: QFormLayout) -> None:
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
        self.sheet_combo.activated.connect(lambda _i: self._sheet_picked())
        self.sheet_label = QLabel("Sheet")
        form.addRow(self.sheet_label, self.sheet_combo)
        self.sheet_label.hide()
        self.sheet_combo.hide()
        self.read_info = muted_label("", wrap=False)
        self.read_info.setWordWrap(True)
        form.addRow("", self.read_info)

    def _build_column_rows(self, form: QFormLayout) -> None:
        self.label_combo = QComboBox()
        self.label_combo.setToolTip("The column that holds the correct label of each ticket")
        form.addRow("Label column", self.label_combo)
        self.label_note = muted_label("")
        self.label_note.setObjectName("warnText")
        self.label_note.hide()
        form.addRow("", self.label_note)
        self.more_targets = MoreTargets()         # several targets: further label columns
        self.more_targets.changed.connect(self._columns_changed)
        form.addRow("More label columns", self.more_targets)

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

    def _build_label_rows(self, form: QFormLayout) -> None:
        self.threshold_spin = QSpinBox()
        self.threshold_spin.setRange(1, 100000)
        self.threshold_spin.setValue(DEFAULT_MIN_PER_CLASS)
        self.threshold_spin.setSuffix(" tickets")
        self.threshold_spin.setToolTip("Labels with fewer tickets than this are too rare to learn well;\n"
                                       "they are dropped or merged into 'Other' (see below). Set to 1 % of\n"
                                       "the file's rows (5 to 30) when a file is loaded")
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
        wheel_only_when_focused(self.sheet_combo, self.label_combo, self.title_combo, self.body_combo,
                                self.text_combo, self.threshold_spin, self.rare_combo, self.val_spin,
                                self.test_spin)
        srow = QHBoxLayout()
        srow.addWidget(QLabel("validation"))
        srow.addWidget(self.val_spin)
        srow.addSpacing(10)
        srow.addWidget(QLabel("test"))
        srow.addWidget(self.test_spin)
        srow.addStretch(1)
        form.addRow("Held out", srow)

    def _build_merge_rows(self, form: QFormLayout) -> None:
        self.merge_table = QTableWidget(0, 2)
        self.merge_table.setHorizontalHeaderLabels(["From label", "To label"])
        self.merge_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.merge_table.verticalHeader().hide()
        self.merge_table.setItemDelegate(_CompleterDelegate(self.current_labels, self.merge_table))
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

    # ---- file ----
    def _browse_file(self) -> None:
        start = str(self.path.parent) if self.path else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open labelled tickets", start, TABLE_FILTER)
        if path:
            self.fileChosen.emit(path)

    def _sheet_picked(self) -> None:
        if self.path is not None:
            self.sheetChosen.emit(self.sheet_combo.currentText())

    def has_data(self) -> bool:
        return self.df is not None

    def show_reading(self, path: Path, size: int) -> None:
        """A large file is being read in the background."""
        self.file_edit.setText(str(path))
        self.read_info.setText(f"Reading {size / 2**20:.0f} MB…")

    def set_data(self, path: Path, df, rep, sheets: list[str]) -> None:
        """Show a table that was read: file line, worksheets, guessed columns."""
        from triage_app.io import guess_columns

        self.df = df
        self.path = path
        self.sheets = sheets
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
        with QSignalBlocker(self.threshold_spin):     # the rare-label threshold scales with the file
            self.threshold_spin.setValue(default_min_per_class(len(df)))
        self._fill_columns(cols, guess_columns(cols, df))
        self._mode_changed()

    def _fill_columns(self, cols: list[str], guess: dict) -> None:
        combos = (self.label_combo, self.title_combo, self.body_combo, self.text_combo)
        blockers = [QSignalBlocker(c) for c in combos] + [QSignalBlocker(self.mode_pair),
                                                          QSignalBlocker(self.mode_one)]
        self.label_combo.clear()
        if not guess.get("label"):    # no column looks like a label: the analyst picks one
            self.label_combo.addItem("(choose the label column)", None)
        for name in cols:
            self.label_combo.addItem(name, name)
        for c in (self.title_combo, self.body_combo, self.text_combo):
            c.clear()
            c.addItem("(none)", None)
            for name in cols:
                c.addItem(name, name)
        if guess.get("label"):
            self.label_combo.setCurrentText(guess["label"])
        self.more_targets.set_columns(cols)

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

    # ---- columns and labels ----
    def _mode_changed(self, *_a) -> None:
        pair = self.mode_pair.isChecked()
        for w in (self.title_label, self.title_combo, self.body_label, self.body_combo):
            w.setVisible(pair)
        for w in (self.text_label, self.text_combo):
            w.setVisible(not pair)
        self._columns_changed()

    def text_columns(self) -> dict:
        if self.mode_pair.isChecked():
            return {"title": self.title_combo.currentData(), "body": self.body_combo.currentData(),
                    "text": None}
        return {"title": None, "body": None, "text": self.text_combo.currentData()}

    def label_column(self) -> str:
        return self.label_combo.currentData() or ""

    def use_corrections(self) -> bool:
        return self.corr_check.isChecked() and self.corr_check.isEnabled()

    def threshold(self) -> int:
        return self.threshold_spin.value()

    def _used_columns(self) -> list[str]:
        return [c for c in [self.label_column(), *self.text_columns().values()] if c]

    def extra_label_columns(self) -> list[str]:
        """The ticked further label columns (each one more target), not the label or text columns."""
        return self.more_targets.checked(self._used_columns())

    def _columns_changed(self, *_a) -> None:
        self._label_cache = None
        self.more_targets.refresh(self.df, self._used_columns(), self.label_column() or "")
        note = self.label_warning()
        self.label_note.setText(note)
        self.label_note.setVisible(bool(note))
        self._labels_changed()

    def label_warning(self) -> str:
        """Why the chosen label column may be the wrong one ("" when it looks fine)."""
        if self.df is None:
            return ""
        if not self.label_column():
            return "No column looks like a label: choose the one that holds each ticket's category."
        counts = label_counts(self.labels_raw())
        n = sum(counts.values())
        if n >= 20 and len(counts) > 0.5 * n:
            return (f"'{self.label_column()}' has {len(counts):,} different values in {n:,} rows: that looks "
                    "like an id or free text, not a label.")
        return ""

    def _labels_changed(self, *_a) -> None:
        self.labelsChanged.emit()

    def labels_raw(self) -> list:
        """Label column values (after corrections when included); cached per column choice."""
        if self.df is None or not self.label_column():
            return []
        cols = self.text_columns()
        use_corr = self.use_corrections()
        key = (self.label_column(), cols["title"], cols["body"], cols["text"], use_corr)
        if self._label_cache is not None and self._label_cache[0] == key:
            return self._label_cache[1]
        df = self.df
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
        self.corrections_note = corr_text
        return labels

    def current_labels(self) -> list[str]:
        return sorted(label_counts(self.labels_raw()).keys())

    def label_counts(self) -> dict:
        """Tickets per label as training would see them (corrections and merge map applied)."""
        return label_counts(self.labels_raw(), self.merge_map())

    def refresh_corrections_count(self) -> bool:
        """Re-read the number of stored corrections; True when the checkbox text changed."""
        before = self.corr_check.text()
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
        return before != self.corr_check.text()

    # ---- merge map ----
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

    # ---- snapshot for the jobs ----
    def data_spec(self, routing: str = "same", class_weights: bool = True) -> DataSpec | None:
        """What data preparation needs (``routing`` and ``class_weights`` come from the settings)."""
        if self.df is None:
            return None
        cols = self.text_columns()
        return DataSpec(df=self.df, source=self.path.name if self.path else "data",
                        label_col=self.label_column(), title_col=cols["title"],
                        body_col=cols["body"], text_col=cols["text"], merge_map=self.merge_map(),
                        min_per_class=self.threshold_spin.value(),
                        rare=self.rare_combo.currentData(), val_frac=self.val_spin.value() / 100,
                        test_frac=self.test_spin.value() / 100,
                        use_corrections=self.use_corrections(),
                        routing=routing, class_weights=class_weights,
                        label_cols=[self.label_column(), *extra] if (extra := self.extra_label_columns()) else [])
