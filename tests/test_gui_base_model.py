"""The Train tab's base checkpoint field (issue 19): the installed default, recent choices and
"Folder…" in its list, hub ids accepted, missing folders refused; per-language results."""
from __future__ import annotations

import pytest


@pytest.fixture
def form(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from triage_app.gui.train.settings_form import SettingsForm

    f = SettingsForm(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(f)
    return f


def _items(form):
    return [form.base_combo.itemText(i) for i in range(form.base_combo.count())]


def test_base_field_offers_default_recent_and_folder(form, tmp_path, monkeypatch):
    from trainer.config import DEFAULT_BASE
    from triage_app.gui.train import settings_form as mod

    assert _items(form) == [DEFAULT_BASE, mod.FOLDER_ITEM] and form.base_edit.text() == DEFAULT_BASE
    form.remember_base("xlm-roberta-base")
    form.remember_base(str(tmp_path))
    form.remember_base("xlm-roberta-base")             # used again: first, once
    assert _items(form) == [DEFAULT_BASE, "xlm-roberta-base", str(tmp_path), mod.FOLDER_ITEM]
    # "Folder…" opens the folder dialog; cancelling it keeps the previous choice
    form.base_edit.setText("xlm-roberta-base")
    monkeypatch.setattr(mod.QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: ""))
    form.base_combo.setCurrentIndex(3)
    form.base_combo.activated.emit(3)
    assert form.base_edit.text() == "xlm-roberta-base"
    monkeypatch.setattr(mod.QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path)))
    form.base_combo.setCurrentIndex(3)
    form.base_combo.activated.emit(3)
    assert form.base_edit.text() == str(tmp_path)


def test_hub_ids_pass_the_form_and_missing_folders_do_not(form, tmp_path):
    from trainer.config import ConfigError

    form.base_edit.setText("FacebookAI/xlm-roberta-base")
    assert form.build_config().base_model == "FacebookAI/xlm-roberta-base"   # the loader says if it is offline
    form.base_edit.setText(str(tmp_path))
    assert form.build_config().base_model == str(tmp_path)
    form.base_edit.setText(str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="folder not found"):
        form.build_config()


def test_results_show_figures_per_language():
    from trainer.pipeline import TrainOutcome
    from triage_app.gui.train.results_page import summary_html

    ex = {"accuracy": 0.8, "macro_f1": 0.7, "precision": "fp32", "rows": 30,
          "by_language": {"de": {"rows": 20, "accuracy": 0.85, "macro_f1": 0.8},
                          "en": {"rows": 10, "accuracy": 0.7, "macro_f1": 0.6}}}
    o = TrainOutcome("b", "m", "1", ["a", "b"], {"val": {"n": 5, "accuracy": 0.8, "macro_f1": 0.7,
                                                          "weighted_f1": 0.7}, "test_exported": ex},
                     {"precision": "fp32", "precision_note": ""}, None, [], 1.0)
    html = summary_html(o)
    assert "Per language" in html and "de 20 tickets" in html and "<b>0.600</b>" in html
