"""Bundle validation: one test per error, atomic writes, zip import safety, thresholds."""
from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile

import pytest

from triage_app.bundle import (
    REQUIRED_KEYS,
    BundleError,
    export_zip,
    import_zip,
    load_bundle,
    save_thresholds,
    sha256_file,
    write_bundle,
)


def _meta(p):
    return json.loads((p / "bundle.json").read_text())


def _write_meta(p, meta):
    (p / "bundle.json").write_text(json.dumps(meta))


def test_valid_bundle_loads(tiny_bundle):
    b = load_bundle(tiny_bundle)
    assert b.name == "tiny-test" and len(b.labels) == 8
    assert b.routing in ("same", "split") and b.max_length == 64
    assert sha256_file(b.model_path) == b.meta["onnx_sha256"]
    for k in REQUIRED_KEYS:
        assert k in b.meta


def test_missing_folder(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nope")


def test_missing_bundle_json(bundle_copy):
    (bundle_copy / "bundle.json").unlink()
    with pytest.raises(BundleError, match=r"bundle\.json: missing"):
        load_bundle(bundle_copy)


def test_bad_json(bundle_copy):
    (bundle_copy / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(bundle_copy)


def test_missing_keys(bundle_copy):
    m = _meta(bundle_copy)
    del m["labels"], m["temperature"]
    _write_meta(bundle_copy, m)
    with pytest.raises(BundleError, match="missing keys: labels, temperature"):
        load_bundle(bundle_copy)


def test_newer_format_version(bundle_copy):
    m = _meta(bundle_copy)
    m["format_version"] = 99
    _write_meta(bundle_copy, m)
    with pytest.raises(BundleError, match="newer than this app supports"):
        load_bundle(bundle_copy)


def test_missing_model(bundle_copy):
    (bundle_copy / "model.onnx").unlink()
    with pytest.raises(BundleError, match=r"model\.onnx: missing"):
        load_bundle(bundle_copy)


def test_corrupt_model_hash_mismatch(bundle_copy):
    with open(bundle_copy / "model.onnx", "r+b") as f:
        f.seek(200)
        f.write(b"\x00garbage\x00")
    with pytest.raises(BundleError, match="sha256 mismatch"):
        load_bundle(bundle_copy)


def test_truncated_model(bundle_copy):
    (bundle_copy / "model.onnx").write_bytes(b"x")
    with pytest.raises(BundleError, match="empty or truncated"):
        load_bundle(bundle_copy)


def test_missing_tokenizer(bundle_copy):
    (bundle_copy / "tokenizer.json").unlink()
    with pytest.raises(BundleError, match="tokenizer"):
        load_bundle(bundle_copy)


def test_unloadable_tokenizer(bundle_copy):
    from triage_app.engine import TicketClassifier

    (bundle_copy / "tokenizer.json").write_text("{}")
    with pytest.raises(BundleError, match="tokenizer cannot be loaded"):
        TicketClassifier.load(bundle_copy)


def test_label_count_mismatch(bundle_copy):
    from triage_app.engine import TicketClassifier

    m = _meta(bundle_copy)
    m["labels"] = m["labels"][:-1]
    _write_meta(bundle_copy, m)
    with pytest.raises(BundleError, match="outputs 8 classes but bundle.json lists 7"):
        TicketClassifier.load(bundle_copy)


def test_bad_threshold_and_routing(bundle_copy):
    m = _meta(bundle_copy)
    m["review_threshold"] = 2
    _write_meta(bundle_copy, m)
    with pytest.raises(BundleError, match="review_threshold"):
        load_bundle(bundle_copy)
    m["review_threshold"] = 0.5
    m["routing"] = "sideways"
    _write_meta(bundle_copy, m)
    with pytest.raises(BundleError, match="routing"):
        load_bundle(bundle_copy)


def test_other_cleaning_function_refused(bundle_copy):
    m = _meta(bundle_copy)
    m["cleaning"]["function"] = "somebody.else"
    _write_meta(bundle_copy, m)
    with pytest.raises(BundleError, match="cleaning"):
        load_bundle(bundle_copy)


def test_write_bundle_is_atomic_and_replaces(tiny_bundle, tmp_path):
    meta = _meta(tiny_bundle)
    out = tmp_path / "out"
    files = {"model.onnx": tiny_bundle / "model.onnx", "tokenizer.json": tiny_bundle / "tokenizer.json"}
    write_bundle(files, meta, out)
    first = load_bundle(out)
    meta2 = dict(meta, version="2")
    write_bundle(files, meta2, out)
    assert load_bundle(out).version == "2" and first.path == out
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temp or old folders left


def test_write_bundle_failure_leaves_previous(tiny_bundle, tmp_path):
    meta = _meta(tiny_bundle)
    out = tmp_path / "out"
    files = {"model.onnx": tiny_bundle / "model.onnx", "tokenizer.json": tiny_bundle / "tokenizer.json"}
    write_bundle(files, meta, out)
    bad = dict(meta, labels=["only-one"])
    with pytest.raises(BundleError):
        write_bundle(files, bad, out)
    assert load_bundle(out).labels == meta["labels"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_zip_round_trip(tiny_bundle, tmp_path):
    z = export_zip(tiny_bundle, tmp_path / "m.zip")
    dest = tmp_path / "models"
    p = import_zip(z, dest)
    b = load_bundle(p)
    assert b.labels == load_bundle(tiny_bundle).labels
    p2 = import_zip(z, dest)  # same again: a new folder, never overwrite
    assert p2 != p and p2.exists()


def _zip_with(tmp_path, entries):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name, data, attr in entries:
            info = zipfile.ZipInfo(name)
            if attr is not None:
                info.external_attr = attr
            zf.writestr(info, data)
    return z


@pytest.mark.parametrize("name, msg", [("../evil/bundle.json", r"outside the bundle"),
                                       ("/etc/bundle.json", "absolute path"),
                                       ("m/sub/deep/bundle.json", "nested too deep"),
                                       ("m/run.sh", "unexpected file")])
def test_zip_rejects_paths(tmp_path, name, msg):
    z = _zip_with(tmp_path, [(name, b"{}", None)])
    with pytest.raises(BundleError, match=msg):
        import_zip(z, tmp_path / "models")
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_zip_rejects_links(tmp_path):
    z = _zip_with(tmp_path, [("m/model.onnx", b"/etc/passwd", (stat.S_IFLNK | 0o777) << 16)])
    with pytest.raises(BundleError, match="link"):
        import_zip(z, tmp_path / "models")


def test_zip_bomb_size_limit(tmp_path):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("m/model.onnx", b"\0" * (3 * 2**20))
    with pytest.raises(BundleError, match="limit"):
        import_zip(z, tmp_path / "models", max_bytes=2**20)


def test_zip_with_corrupt_model_is_rejected_and_leaves_nothing(tiny_bundle, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(tiny_bundle, src)
    (src / "model.onnx").write_bytes((src / "model.onnx").read_bytes()[:-100] + b"\0" * 100)
    z = tmp_path / "bad.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in src.iterdir():
            zf.write(f, f"m/{f.name}")
    with pytest.raises(BundleError, match="sha256"):
        import_zip(z, tmp_path / "models")
    assert [p for p in (tmp_path / "models").iterdir()] == []


def test_not_a_zip(tmp_path):
    f = tmp_path / "x.zip"
    f.write_text("hello")
    with pytest.raises(BundleError, match="not a valid zip"):
        import_zip(f, tmp_path / "models")


def test_save_thresholds(bundle_copy):
    b = load_bundle(bundle_copy)
    lab = b.labels[0]
    b2 = save_thresholds(bundle_copy, 0.42, {lab: 0.8})
    assert b2.review_threshold == 0.42 and b2.class_thresholds == {lab: 0.8}
    with pytest.raises(BundleError, match="unknown labels"):
        save_thresholds(bundle_copy, 0.5, {"Nope": 0.3})
    assert load_bundle(bundle_copy).review_threshold == 0.42
    assert not [p for p in os.listdir(bundle_copy) if p.endswith(".tmp")]


def test_install_copy_never_overwrites_and_applies_meta(tiny_bundle, tmp_path):
    from triage_app.bundle import install_copy

    a = install_copy(tiny_bundle, tmp_path / "models")
    b = install_copy(tiny_bundle, tmp_path / "models", suffix="-custom", meta_update={"read_only": False})
    assert a.name == "tiny-test-v1" and b.name == "tiny-test-v1-custom" and a != b
    assert load_bundle(b).meta["read_only"] is False
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]


def test_clean_stale_work_removes_only_our_old_leftovers(tmp_path):
    import os
    import time

    from triage_app.bundle import clean_stale_work

    ours_dirs = [".export-ab12_xYz", ".tmp-my-model-0123abcd", ".old-my-model-89abcdef",
                 ".tmp-install-0a1b2c3d", ".tmp-import-deadbeef", ".tmp-4242", ".old-4242", ".pending-1234567890"]
    ours_files = [".bundle.json.k2j4h5g6.tmp"]
    foreign = [".tmp", ".export-short", ".git", "my-model", ".tmp-notours", "notes.tmp"]
    for n in ours_dirs + foreign:
        (tmp_path / n).mkdir()
        (tmp_path / n / "model.onnx").write_bytes(b"x" * 10)
    for n in ours_files:
        (tmp_path / n).write_text("{}")
    old = time.time() - 3 * 24 * 3600
    for p in tmp_path.iterdir():
        os.utime(p, (old, old))
    (tmp_path / ".export-fresh123").mkdir()         # a running export's folder: recent, kept
    assert clean_stale_work(tmp_path, files=False) and (tmp_path / ours_files[0]).exists()
    removed = clean_stale_work(tmp_path)
    assert removed == ours_files
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(foreign + [".export-fresh123"])
    assert clean_stale_work(tmp_path / "missing") == []


def test_export_and_checkpoint_clean_their_stale_leftovers(tiny_result, tmp_path):
    import os
    import time

    from trainer.checkpoint import save_checkpoint
    from trainer.export import export_result

    old = time.time() - 3 * 24 * 3600
    for d in (tmp_path / ".export-k1l2m3n4", tmp_path / "ck" / ".tmp-999"):
        d.mkdir(parents=True)
        (d / "big.onnx").write_bytes(b"x" * 1000)
        os.utime(d, (old, old))
    export_result(tiny_result, tmp_path / "b", quantize=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "ck"]
    save_checkpoint(tmp_path / "ck", tiny_result.model, None, None, {"step": 1}, tiny_result.config,
                    tiny_result.labels, None)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["last"]


# ---- publish / delete ------------------------------------------------------------------------
def test_publish_moves_the_bundle_under_its_name_and_never_overwrites(bundle_copy, tmp_path):
    from triage_app.bundle import discard_pending, new_pending_dir, publish_bundle

    models = tmp_path / "models"
    pending = new_pending_dir(models)
    shutil.move(str(bundle_copy), str(pending / "bundle"))
    b = publish_bundle(pending / "bundle", models, "My model / v2")
    assert b.path == models / "My-model-v2" and b.name == "My-model-v2"
    assert not (pending / "bundle").exists()
    discard_pending(pending)
    assert sorted(p.name for p in models.iterdir()) == ["My-model-v2"]
    other = new_pending_dir(models)
    shutil.copytree(b.path, other / "bundle")
    with pytest.raises(BundleError, match="already exists"):
        publish_bundle(other / "bundle", models, "My-model-v2")
    with pytest.raises(BundleError, match="needs a name"):
        publish_bundle(other / "bundle", models, " ..// ")
    assert load_bundle(b.path).name == "My-model-v2"


def test_delete_interrupted_half_way_is_cleaned_up_later(bundle_copy, tmp_path, monkeypatch):
    import triage_app.bundle as bundle_mod

    models = tmp_path / "models"
    models.mkdir()
    target = models / "old-model"
    shutil.move(str(bundle_copy), str(target))
    (models / "keep").mkdir()

    def crash(*a, **k):
        raise KeyboardInterrupt  # the process dies after the rename, before anything is removed

    monkeypatch.setattr(bundle_mod.shutil, "rmtree", crash)
    with pytest.raises(KeyboardInterrupt):
        bundle_mod.delete_bundle(target)
    monkeypatch.undo()
    assert not target.exists()                      # gone from every listing at once
    left = [p.name for p in models.iterdir() if p.name.startswith(".deleting-")]
    assert len(left) == 1
    assert bundle_mod.clean_stale_work(models) == left   # removed at once, whatever its age
    assert sorted(p.name for p in models.iterdir()) == ["keep"]


def test_pending_folder_of_a_running_app_is_never_cleaned(tmp_path):
    import subprocess
    import sys
    import time

    from triage_app.bundle import clean_stale_work, new_pending_dir

    mine = new_pending_dir(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    orphan = tmp_path / f".pending-{dead}-0123456789"
    orphan.mkdir()
    old = time.time() - 3 * 24 * 3600
    for d in (mine, orphan):
        os.utime(d, (old, old))
    assert clean_stale_work(tmp_path) == [orphan.name]     # the ended process's folder only
    assert mine.exists()
