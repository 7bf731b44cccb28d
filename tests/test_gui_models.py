"""Models tab: hot swap + rollback, corrupt bundle keeps the previous model, zip round trip, delete."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import user_copy
from triage_app import paths


def wait_job(qtbot, job, timeout=60000):
    assert job is not None
    if job.is_running() or job.thread.isRunning():
        with qtbot.waitSignal(job.done, timeout=timeout):
            pass


def test_hot_swap_and_rollback(win, qtbot, tiny_bundle):
    tab = win.models
    v2 = user_copy(tiny_bundle, paths.user_models_dir() / "tiny-v2", version="2")
    tab.refresh()
    assert tab.select_path(v2)
    with qtbot.waitSignal(win.ctx.modelChanged, timeout=30000):
        tab.activate_selected()
    wait_job(qtbot, tab.activate_job)
    assert win.ctx.classifier.version == "2"
    assert "v2" in win.model_label.text() and "8 labels" in win.model_label.text()
    assert win.provider_label.text().startswith("Runs on")
    active_rows = [tab.table.item(r, 0).text() for r in range(tab.table.rowCount())]
    assert active_rows.count("● active") == 1
    # rollback to the built-in v1
    assert tab.select_path(tiny_bundle)
    with qtbot.waitSignal(win.ctx.modelChanged, timeout=30000):
        tab.activate_selected()
    wait_job(qtbot, tab.activate_job)
    assert win.ctx.classifier.version == "1" and "v1" in win.model_label.text()


def test_corrupt_bundle_keeps_previous_model(win, qtbot, tiny_bundle):
    tab = win.models
    bad = user_copy(tiny_bundle, paths.user_models_dir() / "tiny-bad", version="9")
    data = (bad / "model.onnx").read_bytes()
    (bad / "model.onnx").write_bytes(data[: len(data) // 2] + b"\0" * 100)
    broken = paths.user_models_dir() / "not-a-bundle"
    broken.mkdir()
    (broken / "readme.txt").write_text("x")
    tab.refresh()
    names = [tab.table.item(r, 0).text() for r in range(tab.table.rowCount())]
    assert "⚠ invalid" in names                                        # listed, not crashing
    before = win.ctx.classifier
    assert tab.select_path(bad)
    job = tab.activate_selected()
    with qtbot.waitSignal(job.failed, timeout=30000):
        pass
    wait_job(qtbot, job)
    assert win.ctx.classifier is before
    assert "v1" in win.model_label.text()
    assert "sha256" in (tab.property("lastError") or "")
    assert "stays active" in tab.status.text() or "still using" in tab.status.text()


def test_zip_round_trip_and_delete(win, qtbot, tiny_bundle, tmp_path):
    tab = win.models
    assert tab.select_path(tiny_bundle)
    assert not tab.delete_btn.isEnabled()                      # built-in default cannot be deleted
    zp = tmp_path / "export.zip"
    wait_job(qtbot, tab.export_selected(zp))
    assert zp.is_file()
    wait_job(qtbot, tab.import_path(zp))
    imported = [p for p in paths.user_models_dir().iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(imported) == 1 and (imported[0] / "model.onnx").is_file()
    sel = tab.selected_entry()
    assert sel is not None and Path(sel.path) == imported[0] and sel.bundle.name == "tiny-test"
    assert tab.card_view.toPlainText().strip()
    # import the folder too (a second copy), then delete both
    wait_job(qtbot, tab.import_path(tiny_bundle))
    assert len([p for p in paths.user_models_dir().iterdir() if not p.name.startswith(".")]) == 2
    for p in list(paths.user_models_dir().iterdir()):
        if p.name.startswith("."):
            continue
        assert tab.select_path(p)
        assert tab.delete_selected()
    assert not [p for p in paths.user_models_dir().iterdir() if not p.name.startswith(".")]


def test_the_model_card_shows_its_confusion_image(win, qtbot, tiny_bundle):
    """The card's `![confusion matrix](confusion.png)` resolves in the bundle folder (it was a
    broken image), and the list shows how many test tickets stand behind each figure."""
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QTextDocument

    from trainer.card import write_model_card

    tab = win.models
    b = user_copy(tiny_bundle, paths.user_models_dir() / "tiny-card", version="5")
    write_model_card(b)
    assert (b / "confusion.png").is_file()
    tab.refresh()
    assert tab.select_path(b)
    doc = tab.card_view.document()
    assert "confusion.png" in doc.toMarkdown()
    img = doc.resource(QTextDocument.ResourceType.ImageResource, QUrl("confusion.png"))
    if img is None:     # resources load on layout; ask the browser as the layout would
        img = tab.card_view.loadResource(QTextDocument.ResourceType.ImageResource.value, QUrl("confusion.png"))
    assert img is not None and not getattr(img, "isNull", lambda: False)()
    row = next(r for r in range(tab.table.rowCount()) if tab.table.item(r, 2).text() == "5")
    meta = __import__("json").loads((b / "bundle.json").read_text(encoding="utf-8"))
    m = meta["metrics"].get("test_exported") or meta["metrics"].get("test") or meta["metrics"]["val"]
    rows = m.get("rows", m.get("n"))
    assert tab.table.item(row, 6).text().endswith(f" on {rows:,}")


def test_what_a_model_was_trained_on_shows_where_it_is_chosen_and_used(win, qtbot, tiny_bundle):
    from tests.test_gui_triage import classify

    tab = win.models
    tab.refresh()
    assert tab.select_path(tiny_bundle)
    text = tab.trained_label.text()
    assert text.startswith("Trained on ") and "tickets of sample_tickets.csv (8 labels" in text
    assert "less reliable" in text
    assert text in tab.table.item(0, 1).toolTip()
    r = classify(qtbot, win.triage)
    assert f"Model tiny-test v1: {text}" in win.triage.label_view.toolTip() and r["label"] in win.triage.label_view.toolTip()
