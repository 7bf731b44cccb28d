"""Train tab, "Server job…": the folder holds the data, the exact torchrun command with the form's
settings and a README; the command, run as it is, trains the model the form describes, and the
bundle imports like any other."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

from tests.test_gui_train import ctx, load_sample, tab, tiny_settings  # noqa: F401  (fixtures)


def test_server_job_folder_runs_as_written_and_imports(qtbot, tab, sample_csv, tiny_checkpoint, tmp_path,  # noqa: F811
                                                        data_dir, monkeypatch, capsys, one_torch_thread):
    from PySide6.QtWidgets import QFileDialog

    from triage_app.bundle import import_zip
    from triage_app.cli import main

    load_sample(qtbot, tab, sample_csv)
    tiny_settings(tab, tiny_checkpoint, head_epochs=3)
    tab.config_overrides = {}
    folder = tmp_path / "job"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    assert tab.run_bar.server_btn.isEnabled()
    with qtbot.waitSignal(tab.serverJobWritten, timeout=30000) as blocker:
        tab.run_bar.server_btn.click()
    job = tab.ctx.job("server-job")
    if job is not None:
        qtbot.waitUntil(lambda: not job.is_running(), timeout=10000)
    assert Path(blocker.args[0]) == folder
    assert "Server job written" in tab.run_bar.status_label.text()
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "job.json", "tickets.csv", "train.sh"]
    spec = json.loads((folder / "job.json").read_text())
    args = spec["command_args"]
    readme = (folder / "README.md").read_text()
    one_gpu = "torchrun --standalone --nproc_per_node 1 -m triage_app " + " ".join(shlex.quote(a) for a in args)
    assert one_gpu in readme
    assert "--nnodes 2" in readme and "--resume checkpoints" in readme and "Models" in readme
    assert "-m triage_app train" in (folder / "train.sh").read_text()
    for flag, value in (("--preset", "quick"), ("--head-epochs", "3"), ("--batch-size", "16"),
                        ("--max-length", "64"), ("--min-per-class", "5"), ("--val-frac", "0.25"),
                        ("--base-model", str(tiny_checkpoint))):
        assert args[args.index(flag) + 1] == value, flag
    # what the server runs (one process here: torchrun with one process is the same run)
    monkeypatch.chdir(folder)
    rc = main([*args, "--no-int8", "-q"])
    assert rc == 0, capsys.readouterr().err
    meta = json.loads((folder / "model" / "bundle.json").read_text())
    want = tab.build_config().to_dict()
    got = meta["train_config"]
    for k in ("preset", "head_epochs", "head_lr", "batch_size", "max_length", "base_model", "seed", "pooling"):
        assert got[k] == want[k], k
    # and it comes back through the Models import as any bundle
    assert main(["models", "export", str(folder / "model"), str(tmp_path / "model.zip")]) == 0
    installed = import_zip(tmp_path / "model.zip", data_dir / "models")
    assert (Path(installed) / "bundle.json").is_file()


def test_server_job_refuses_a_non_empty_folder(qtbot, tab, sample_csv, tmp_path, monkeypatch):  # noqa: F811
    load_sample(qtbot, tab, sample_csv)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x.txt").write_text("x")
    errors = []
    monkeypatch.setattr(tab, "_error", lambda *a, **k: errors.append(a))
    job = tab.write_server_job(tmp_path / "busy")
    assert job is not None
    qtbot.waitUntil(lambda: bool(errors), timeout=20000)
    qtbot.waitUntil(lambda: not job.is_running(), timeout=10000)
    assert "not empty" in errors[0][1]
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["x.txt"]
