"""The "2 · Model settings" box: preset, base checkpoint and the training fields; builds the
:class:`trainer.config.TrainConfig` (``trainer.config`` is imported where it is used)."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from trainer.config import DEFAULT_BASE, looks_like_hub_id
from triage_app.gui.train.common import PRESET_TEXT
from triage_app.gui.widgets import muted_label, wheel_only_when_focused

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
     f"sentence-transformer checkpoints such as {DEFAULT_BASE}."),
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


FOLDER_ITEM = "Folder…"
RECENT_BASES_KEY = "train/recent_base_models"
MAX_RECENT_BASES = 5
BASE_TIP = (f"The pretrained encoder both towers start from: {DEFAULT_BASE} (installed with the app, no\n"
            "download), a folder with a Hugging Face checkpoint (BERT, DistilBERT, RoBERTa, XLM-RoBERTa,\n"
            "DeBERTa-v2/v3 or ELECTRA: config.json, weights, tokenizer), or a hub id such as\n"
            "xlm-roberta-base (downloaded once: needs internet). Recent choices are listed.")


class SettingsForm(QGroupBox):
    FIELDS = FIELDS

    def __init__(self, parent: QWidget | None = None, settings=None):
        super().__init__("2 · Model settings", parent)
        self._settings = settings          # QSettings for the recent base checkpoints (None: none kept)
        self._filling = False
        self._preset_values: dict = {}
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._build_preset_rows(form)
        self.fields: dict[str, QWidget] = {}
        for name, kind, label, spec, tip in FIELDS:
            w = self._field_widget(kind, spec)
            w.setToolTip(tip)
            lab = QLabel(label)
            lab.setToolTip(tip)
            form.addRow(lab, w)
            self.fields[name] = w
        self.apply_preset("auto")
        wheel_only_when_focused(self.preset_combo, self.budget_spin, self.base_combo,
                                *(w for w in self.fields.values() if isinstance(w, (QSpinBox, QComboBox))))

    def _build_preset_rows(self, form: QFormLayout) -> None:
        self.preset_combo = QComboBox()
        for p in ("auto", "quick", "standard", "full", "lexical", "seed"):
            self.preset_combo.addItem(p.capitalize(), p)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, PRESET_TEXT[p],
                                          Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.setToolTip("A preset fills the settings below; you can change them afterwards")
        self.preset_combo.currentIndexChanged.connect(
            lambda _i: self.apply_preset(self.preset_combo.currentData()))
        form.addRow("Preset", self.preset_combo)
        self.preset_info = muted_label("", wrap=False)
        self.preset_info.setWordWrap(True)
        form.addRow("", self.preset_info)
        self.budget_spin = QSpinBox()
        self.budget_spin.setRange(1, 24 * 60)
        self.budget_spin.setValue(25)
        self.budget_spin.setSuffix(" min")
        self.budget_spin.setMaximumWidth(120)
        self.budget_spin.setToolTip("Auto: the longest the whole run (training, lexical model, export) may "
                                    "take; auto picks the strongest recipe whose estimate fits")
        self.budget_label = QLabel("Time budget")
        self.budget_label.setToolTip(self.budget_spin.toolTip())
        form.addRow(self.budget_label, self.budget_spin)

        # Editable: the installed default, recent choices and "Folder…" in the list; a hub id or a
        # path can be typed.  ``base_edit`` is its line edit.
        self.base_combo = QComboBox()
        self.base_combo.setEditable(True)
        self.base_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.base_combo.setToolTip(BASE_TIP)
        self.base_edit = self.base_combo.lineEdit()
        self._last_base = DEFAULT_BASE
        self._fill_base_items(DEFAULT_BASE)
        self.base_edit.textChanged.connect(self._base_text_changed)
        self.base_combo.activated.connect(self._base_item_chosen)
        form.addRow("Base checkpoint", self.base_combo)

    def _field_widget(self, kind: str, spec) -> QWidget:
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
        return w

    # ---- values ----
    def apply_preset(self, name: str) -> None:
        from trainer.config import TrainConfig

        cfg = TrainConfig.from_preset(name)
        self._preset_values = {k: getattr(cfg, k) for k, *_ in FIELDS}
        self.set_values(self._preset_values)
        self.preset_info.setText(PRESET_TEXT[name])
        for w in (self.budget_spin, self.budget_label):
            w.setVisible(name == "auto")
        i = self.preset_combo.findData(name)
        if i != self.preset_combo.currentIndex():
            with QSignalBlocker(self.preset_combo):
                self.preset_combo.setCurrentIndex(i)

    def set_values(self, values: dict) -> None:
        self._filling = True
        try:
            for name, kind, *_ in FIELDS:
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
        for name, kind, label, *_ in FIELDS:
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

    def routing(self) -> str:
        return self.fields["routing"].currentData()

    def class_weights(self) -> bool:
        return self.fields["class_weights"].isChecked()

    def _form_changed(self, *_a) -> None:
        if self._filling:
            return
        try:
            vals = self.form_values()
        except ValueError:
            vals = None
        preset = self.preset_combo.currentData()
        modified = vals is not None and any(
            (abs(vals[k] - v) > 1e-12 if isinstance(v, float) else vals[k] != v)
            for k, v in self._preset_values.items())
        self.preset_info.setText(PRESET_TEXT.get(preset, "") + (" (changed below)" if modified else ""))

    # ---- base checkpoint ----
    def recent_bases(self) -> list[str]:
        """Base checkpoints used before (newest first; the installed default is always listed)."""
        if self._settings is None:
            return []
        v = self._settings.value(RECENT_BASES_KEY, [])
        v = [v] if isinstance(v, str) else list(v or [])
        return [str(x) for x in v if str(x).strip() and str(x) not in (DEFAULT_BASE, FOLDER_ITEM)][:MAX_RECENT_BASES]

    def remember_base(self, base: str) -> None:
        """Put ``base`` first among the recent choices (kept in the settings)."""
        if self._settings is None or not base or base == DEFAULT_BASE:
            return
        rest = [b for b in self.recent_bases() if b != base]
        self._settings.setValue(RECENT_BASES_KEY, ([base] + rest)[:MAX_RECENT_BASES])
        self._fill_base_items(self.base_edit.text())

    def _fill_base_items(self, text: str) -> None:
        with QSignalBlocker(self.base_combo):
            self.base_combo.clear()
            self.base_combo.addItem(DEFAULT_BASE)
            self.base_combo.setItemData(0, "Installed with the app (no download)", Qt.ItemDataRole.ToolTipRole)
            for b in self.recent_bases():
                self.base_combo.addItem(b)
                self.base_combo.setItemData(self.base_combo.count() - 1, "Used recently", Qt.ItemDataRole.ToolTipRole)
            self.base_combo.addItem(FOLDER_ITEM)
            self.base_combo.setItemData(self.base_combo.count() - 1, "Choose a checkpoint folder (config.json, "
                                        "weights, tokenizer)", Qt.ItemDataRole.ToolTipRole)
            self.base_edit.setText(text)

    def _base_text_changed(self, text: str) -> None:
        if text != FOLDER_ITEM:
            self._last_base = text

    def _base_item_chosen(self, index: int) -> None:
        if self.base_combo.itemText(index) == FOLDER_ITEM:
            self._browse_base()

    def _browse_base(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Checkpoint folder", str(Path.home()))
        self.base_edit.setText(d or self._last_base)

    def build_config(self, overrides: dict | None = None):
        """The TrainConfig of the form (+ ``overrides``); raises ConfigError/ValueError."""
        from trainer.config import TrainConfig

        kw = self.form_values()
        base = self.base_edit.text().strip() or DEFAULT_BASE
        if base == FOLDER_ITEM:
            base = DEFAULT_BASE
        if not looks_like_hub_id(base) and not Path(os.path.expanduser(base)).is_dir():
            from trainer.config import ConfigError

            raise ConfigError(f"base checkpoint folder not found: {base}")
        kw["base_model"] = base
        preset = self.preset_combo.currentData()
        if preset == "auto":
            kw["time_budget_s"] = 60.0 * self.budget_spin.value()
        kw.update(overrides or {})
        return TrainConfig.from_preset(preset, **kw)
