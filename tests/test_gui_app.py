"""App start-up without a model, context job bookkeeping, closing during a job."""
from __future__ import annotations

from PySide6.QtCore import QSettings

from tests.conftest import load_file, write_tickets


def test_start_without_model_shows_banner(qtbot, data_dir, tmp_path, monkeypatch):
    from triage_app.corrections import CorrectionsStore
    from triage_app.gui.app import activate_startup_model
    from triage_app.gui.context import AppContext
    from triage_app.gui.main_window import MainWindow

    monkeypatch.setenv("TRIAGE_DEFAULT_MODEL", str(tmp_path / "missing"))
    ctx = AppContext(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                     CorrectionsStore(data_dir / "c.sqlite3"))
    msg = activate_startup_model(ctx, None)
    assert msg.startswith("No model") and ctx.classifier is None
    assert ctx.list_models() == []
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    assert w.banner.text().startswith("No model")
    assert not w.triage.classify_btn.isEnabled()
    assert w.model_label.text() == "No model"
    assert [w.tabs.tabText(i) for i in range(4)] == ["Triage", "Batch", "Train", "Models"]


def test_context_jobs_and_settings(gui_ctx, tmp_path):
    ctx = gui_ctx
    seen = []
    ctx.jobChanged.connect(seen.append)
    assert ctx.begin_job("batch") and not ctx.begin_job("batch")
    assert ctx.begin_job("train") and ctx.active_job == "batch, train"
    ctx.end_job("batch")
    ctx.end_job("train")
    assert ctx.active_job == "" and seen[-1] == ""
    ctx.remember_dir("open", tmp_path / "x.csv")
    assert ctx.last_dir("open") == str(tmp_path)
    assert [e.bundle.name for e in ctx.list_models()] == ["tiny-test"]


def test_close_during_batch_cancels_and_waits(win, qtbot, sample_csv, tmp_path):
    src = tmp_path / "t.csv"
    write_tickets(src, sample_csv, n=3000)
    load_file(qtbot, win, src)
    win.batch.batch_size = 4
    job = win.batch.classify()
    assert job is not None and win._busy()
    win.close()                       # ask() is patched to "yes"
    assert not job.thread.isRunning()
    assert win.ctx.settings.value("window/geometry") is not None


def test_drop_a_ticket_file_opens_it_in_batch(win, qtbot, sample_csv):
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(sample_csv))])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    win.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(win.batch.fileLoaded, timeout=20000):
        win.dropEvent(drop)
    assert win.tabs.currentWidget() is win.batch


def test_ctrl_o_action_opens_the_file_dialog(win, monkeypatch):
    from PySide6.QtGui import QAction, QKeySequence

    calls = []
    monkeypatch.setattr(win.batch, "open_dialog", lambda: calls.append(1))
    act = [a for a in win.findChildren(QAction) if a.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)]
    assert act, "no action bound to Ctrl+O"
    act[0].trigger()
    assert calls == [1] and win.tabs.currentWidget() is win.batch


def test_quit_with_an_unsaved_trained_model_asks_first_and_then_deletes_it(win, qtbot, monkeypatch, tiny_bundle):
    import shutil

    import triage_app.gui.main_window as mw
    from trainer.pipeline import TrainOutcome
    from triage_app import paths
    from triage_app.bundle import new_pending_dir

    win.tabs.setCurrentWidget(win.train)                 # builds the Train tab
    qtbot.waitUntil(lambda: win.train_tab is not None, timeout=10000)
    win.tabs.setCurrentWidget(win.triage)
    tab = win.train_tab
    pending = new_pending_dir(paths.user_models_dir())    # what a finished, unsaved run leaves
    shutil.copytree(tiny_bundle, pending / "bundle")
    tab._pending = pending
    tab._outcome = TrainOutcome(str(pending / "bundle"), "x", "1", [], {}, {}, None, [], 1.0)
    asked = []
    monkeypatch.setattr(mw, "ask", lambda parent, title, text, **k: asked.append(title) or False)
    assert not win.close()                               # "keep it": the window stays, on the Train tab
    assert asked == ["Keep the trained model?"] and win.isVisible()
    assert win.tabs.currentWidget() is win.train and pending.exists()
    monkeypatch.setattr(mw, "ask", lambda *a, **k: True)
    assert win.close()
    assert not pending.exists()                          # deleted, not left for the day-old clean-up


def test_error_hints_are_chosen_by_class():
    import errno

    from triage_app.bundle import BundleError
    from triage_app.gui.widgets import hint_for
    from triage_app.io import TableError

    assert "Models" in hint_for(BundleError("x"))
    assert "mapping panel" in hint_for(TableError("x"))
    assert "free some disk space" in hint_for(OSError(errno.ENOSPC, "No space left on device"))
    assert "free some disk space" in hint_for(PermissionError("x"))
    assert "still exists" in hint_for(FileNotFoundError("x"))
    # the words of a message do not decide: a ValueError mentioning a model gets the general hint
    assert "Show Details" in hint_for(ValueError("the model column is bad"))
    assert "Show Details" in hint_for(None)


def test_help_menu_has_a_guide_and_the_real_shortcuts(win, qtbot):
    from PySide6.QtCore import Qt

    from triage_app.gui.help import SHORTCUTS

    titles = [a.text() for m in win.menuBar().actions() if m.text() == "&Help" for a in m.menu().actions()]
    assert titles[:2] == ["&User guide", "&Keyboard shortcuts"]
    dlg = win.show_help("keys")
    qtbot.waitExposed(dlg)
    assert dlg.pages.currentIndex() == 1 and "Ctrl+Enter" in dlg.keys.toPlainText()
    assert "Retrain on your own tickets" in dlg.guide.toPlainText()
    dlg.close()
    # every tab shortcut listed is bound: Ctrl+3 goes to Train, Ctrl+1 back to Triage
    assert any(k.startswith("Ctrl+1") for k, _ in SHORTCUTS)
    qtbot.keyClick(win, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert win.tabs.currentIndex() == 2
    qtbot.keyClick(win, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert win.tabs.currentIndex() == 0


def test_one_corrections_count_everywhere(win, qtbot):
    """A correction saved in the Triage tab updates the status bar at once (it waited for the next
    model or job change) and the Train tab's count, which was built before."""
    from tests.test_gui_triage import classify

    train = win.train.ensure()
    assert win.corr_label.text() == "" and train.data_panel.corr_check.text().endswith("(0)")
    classify(qtbot, win.triage)
    other = next(lab for lab in win.ctx.classifier.labels if lab != win.triage.result["label"])
    win.triage.correct_combo.setCurrentText(other)
    assert win.triage.save_correction()
    assert win.corr_label.text() == "1 correction" and win.ctx.corrections.count() == 1
    assert train.data_panel.corr_check.text() == "Include my corrections (1)"


def test_every_tab_fits_a_1024_by_700_window(win, qtbot, bundle_copy, sample_csv):
    """No tab asks for more than a 1024x700 screen, the Batch tab with results on screen included."""
    win.ctx.activate(bundle_copy)
    win.batch.open_file(sample_csv)
    qtbot.wait(50)
    hint = win.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 700, hint
    for i in range(win.tabs.count()):
        w = win.tabs.widget(i).minimumSizeHint()
        assert w.width() <= 1024 and w.height() <= 660, (win.tabs.tabText(i), w)
    win.resize(1024, 700)
    qtbot.wait(50)
    assert win.width() == 1024


def test_flow_layout_wraps_its_widgets_when_narrow(qtbot):
    from PySide6.QtWidgets import QPushButton, QWidget

    from triage_app.gui.flow_layout import FlowLayout

    host = QWidget()
    qtbot.addWidget(host)
    lay = FlowLayout(host)
    buttons = [QPushButton(f"Button number {i}") for i in range(4)]
    for b in buttons:
        lay.addWidget(b)
    one_row = lay.sizeHint().width()
    host.resize(one_row, 60)
    host.show()
    qtbot.waitExposed(host)
    assert len({b.y() for b in buttons}) == 1
    assert lay.heightForWidth(one_row) == max(b.sizeHint().height() for b in buttons)
    host.resize(one_row // 2 + 10, 200)       # two buttons a row
    qtbot.wait(50)
    assert len({b.y() for b in buttons}) == 2
    assert lay.heightForWidth(one_row // 2 + 10) > lay.heightForWidth(one_row)
    for a, b in zip(buttons, buttons[1:]):
        assert not a.geometry().intersects(b.geometry())
    assert lay.minimumSize().width() == max(b.sizeHint().width() for b in buttons)


def test_batch_tool_bar_fits_a_1024_window(win, qtbot, bundle_copy, sample_csv):
    """Filter, order, review queue, export and the ticket-panel toggle all show whole, without
    overlapping, in a 1024x700 window (the bar wraps onto a second row when it must)."""
    win.ctx.activate(bundle_copy)
    win.batch.open_file(sample_csv)
    win.tabs.setCurrentWidget(win.batch)
    qtbot.waitUntil(lambda: win.batch.df is not None, timeout=60000)
    job = win.batch.classify()
    qtbot.waitUntil(lambda: not job.is_running() and win.batch.model is not None, timeout=60000)
    rv = win.batch.results
    assert win.batch.inner.currentWidget() is rv
    buttons = [rv.filter_edit, rv.review_only, rv.order_combo, rv.review_btn, rv.export_btn, rv.side_btn]
    win.resize(1024, 700)
    qtbot.wait(80)
    for b in buttons:
        assert b.isVisible() and rv.rect().contains(b.geometry()), b
        assert b.width() >= b.sizeHint().width()
    for a, b in zip(buttons, buttons[1:]):
        assert not a.geometry().intersects(b.geometry())
    assert rv.split.geometry().top() > max(b.geometry().bottom() for b in buttons)
