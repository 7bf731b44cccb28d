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
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from trainer.config import DEFAULT_BASE
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


class SettingsForm(QGroupBox):
    FIELDS = FIELDS

    def __init__(self, parent: QWidget | None = None):
        super().__init__("2 · Model settings", parent)
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
        wheel_only_when_focused(self.preset_combo, self.budget_spin,
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

        self.base_edit = QLineEdit(DEFAULT_BASE)
        self.base_edit.setToolTip(f"The pretrained BERT both towers start from: {DEFAULT_BASE} (installed\n"
                                  "with the app) or a folder with a Hugging Face BERT checkpoint")
        base_btn = QPushButton("Folder…")
        base_btn.setToolTip("Use a BERT checkpoint folder (config.json, weights, tokenizer.json)")
        base_btn.clicked.connect(self._browse_base)
        reset_btn = QPushButton("Default")
        reset_btn.setToolTip(f"Back to the installed {DEFAULT_BASE}")
        reset_btn.clicked.connect(lambda: self.base_edit.setText(DEFAULT_BASE))
        brow = QHBoxLayout()
        brow.addWidget(self.base_edit, 1)
        brow.addWidget(base_btn)
        brow.addWidget(reset_btn)
        form.addRow("Base checkpoint", brow)

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

    def _browse_base(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "BERT checkpoint folder", str(Path.home()))
        if d:
            self.base_edit.setText(d)

    def build_config(self, overrides: dict | None = None):
        """The TrainConfig of the form (+ ``overrides``); raises ConfigError/ValueError."""
        from trainer.config import TrainConfig

        kw = self.form_values()
        base = self.base_edit.text().strip() or DEFAULT_BASE
        if os.sep in base or "/" in base:
            if not Path(base).is_dir():
                from trainer.config import ConfigError

                raise ConfigError(f"base checkpoint folder not found: {base}")
        kw["base_model"] = base
        preset = self.preset_combo.currentData()
        if preset == "auto":
            kw["time_budget_s"] = 60.0 * self.budget_spin.value()
        kw.update(overrides or {})
        return TrainConfig.from_preset(preset, **kw)
