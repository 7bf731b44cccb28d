"""triage_app.atomic, the one way this project writes a file, and who uses it (real files)."""
from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from triage_app.atomic import (
    atomic_path,
    atomic_write,
    temp_sibling,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from triage_app.bundle import WORK_NAME, clean_stale_work
from triage_app.errors import Cancelled, TriageError

ROOT = Path(__file__).resolve().parent.parent


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- the helper


def test_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    p = tmp_path / "settings.json"
    p.write_text("old", encoding="utf-8")
    with atomic_write(p) as f:
        f.write("new ä")
    assert p.read_text(encoding="utf-8") == "new ä"
    assert entries(tmp_path) == ["settings.json"]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), Cancelled(), KeyboardInterrupt()])
def test_atomic_write_keeps_the_old_content_when_the_block_raises(tmp_path, exc):
    p = tmp_path / "out.txt"
    p.write_text("old content", encoding="utf-8")
    seen = []
    with pytest.raises(type(exc)):
        with atomic_write(p) as f:
            f.write("half of the new content")
            seen.append(Path(f.name))
            raise exc
    assert p.read_text(encoding="utf-8") == "old content"
    assert entries(tmp_path) == ["out.txt"]  # no temporary file left
    assert seen and not seen[0].exists()


def test_atomic_write_creates_nothing_when_the_first_write_fails(tmp_path):
    p = tmp_path / "new.bin"
    with pytest.raises(ValueError):
        with atomic_write(p, binary=True) as f:
            f.write(b"x")
            raise ValueError("stop")
    assert entries(tmp_path) == []


def test_atomic_path_for_writers_that_want_a_file_name(tmp_path):
    p = tmp_path / "w.bin"
    with atomic_path(p) as tmp:
        assert tmp.parent == tmp_path and tmp != p
        tmp.write_bytes(b"\x00\x01")
        assert not p.exists()  # nothing at the destination before the block ends
    assert p.read_bytes() == b"\x00\x01"
    assert entries(tmp_path) == ["w.bin"]
    with pytest.raises(OSError):
        with atomic_path(p) as tmp:
            tmp.write_bytes(b"new")
            raise OSError("disk full")
    assert p.read_bytes() == b"\x00\x01" and entries(tmp_path) == ["w.bin"]


def test_temp_name_is_one_that_clean_stale_work_removes(tmp_path):
    p = tmp_path / "MODEL_CARD.md"
    for name in (temp_sibling(p).name, temp_sibling(tmp_path / "x").name,
                 temp_sibling(tmp_path / "a b.tar.gz").name):
        assert WORK_NAME.match(name), name
    with atomic_path(p) as tmp:
        assert WORK_NAME.match(tmp.name)
        assert tmp.name.startswith(".MODEL_CARD.md.") and tmp.name.endswith(".tmp")
        tmp.write_text("x")
    # a temporary file left by a killed process is removed once it is old; the real file stays
    stale = temp_sibling(p)
    stale.write_text("left by a crash")
    old = time.time() - 3 * 24 * 3600
    os.utime(stale, (old, old))
    os.utime(p, (old, old))
    assert clean_stale_work(tmp_path) == [stale.name]
    assert entries(tmp_path) == ["MODEL_CARD.md"]


def test_write_json_atomic_round_trip(tmp_path):
    obj = {"labels": ["Hardware", "Zugang ä", "日本"], "n": 3, "t": 1.25, "none": None,
           "nested": {"a": [1, {"b": True}]}}
    p = tmp_path / "bundle.json"
    write_json_atomic(p, obj)
    assert json.loads(p.read_text(encoding="utf-8")) == obj
    assert "Zugang ä" in p.read_text(encoding="utf-8")  # readable UTF-8, not \\u escapes
    write_json_atomic(p, {"v": 2}, indent=None)
    assert p.read_text(encoding="utf-8") == '{"v": 2}'
    assert entries(tmp_path) == ["bundle.json"]


def test_write_json_atomic_keeps_the_old_file_when_the_object_cannot_be_written(tmp_path):
    p = tmp_path / "bundle.json"
    write_json_atomic(p, {"ok": 1})
    with pytest.raises(TypeError):
        write_json_atomic(p, {"bad": object()})
    assert json.loads(p.read_text(encoding="utf-8")) == {"ok": 1}
    assert entries(tmp_path) == ["bundle.json"]


def test_write_text_and_bytes_atomic_round_trip(tmp_path):
    write_text_atomic(tmp_path / "a.md", "line 1\r\nline 2\n")
    assert (tmp_path / "a.md").read_bytes() == b"line 1\r\nline 2\n"  # newlines as given
    write_bytes_atomic(tmp_path / "b.bin", bytes(range(256)))
    assert (tmp_path / "b.bin").read_bytes() == bytes(range(256))
    assert entries(tmp_path) == ["a.md", "b.bin"]


# --------------------------------------------------------------------------- its users


def test_table_writer_temp_file_uses_the_helper_name(tmp_path):
    from triage_app.io import TableWriter

    w = TableWriter(tmp_path / "out.csv")
    try:
        assert WORK_NAME.match(w.temp_path.name) and w.temp_path.parent == tmp_path
        w.write(pd.DataFrame({"a": ["=1+1"]}))
    finally:
        w.abort()
    assert entries(tmp_path) == []


def test_confusion_png_is_a_png_and_leaves_no_temp_file(tmp_path):
    pytest.importorskip("matplotlib")
    from trainer.evaluate import confusion_png

    out = confusion_png([[3, 1], [0, 4]], ["a", "b"], tmp_path / "confusion.png")
    assert Path(out).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert entries(tmp_path) == ["confusion.png"]


def _os_replace_calls(path: Path) -> list[int]:
    """Lines of ``os.replace(...)`` / ``os.rename(...)`` calls and ``from os import replace``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("replace", "rename") \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "os":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and any(a.name in ("replace", "rename") for a in node.names):
            lines.append(node.lineno)
    return lines


# Who may call os.replace.  Files are written only through triage_app.atomic; the others move
# whole folders, which that module does not do:
ALLOWED_OS_REPLACE = {
    "triage_app/atomic.py",    # the one file-writing helper
    "triage_app/bundle.py",    # bundle folders: publish, install, import, rename, delete
    "trainer/checkpoint.py",   # checkpoint folder: .tmp-<pid> renamed to 'last'
}


def test_only_the_helper_and_folder_moves_call_os_replace():
    found = {}
    for top in ("triage_app", "trainer"):
        for f in sorted((ROOT / top).rglob("*.py")):
            lines = _os_replace_calls(f)
            if lines:
                found[f.relative_to(ROOT).as_posix()] = lines
    unexpected = {k: v for k, v in found.items() if k not in ALLOWED_OS_REPLACE}
    assert not unexpected, f"write files with triage_app.atomic instead of os.replace: {unexpected}"
    assert "triage_app/atomic.py" in found


# --------------------------------------------------------------------------- triage_app.io names

# every public name of the old single-file triage_app/io.py (its __all__ plus XLSX_MAX_COLS)
IO_PUBLIC = ["TableError", "ReadReport", "read_table", "iter_table_chunks", "TableChunks",
             "list_sheets", "guess_columns", "require_columns", "escape_formula", "write_table",
             "TableWriter", "READ_EXTENSIONS", "WRITE_EXTENSIONS", "XLSX_MAX_ROWS", "XLSX_MAX_COLS",
             "XLSX_MAX_CELL_CHARS"]


@pytest.mark.parametrize("name", IO_PUBLIC)
def test_public_io_names_still_import_from_the_package(name):
    ns: dict = {}
    exec(f"from triage_app.io import {name}", ns)
    assert ns[name] is not None
    import triage_app.io as tio

    assert getattr(tio, name) is ns[name]


def test_io_star_import_and_constants():
    import triage_app.io as tio

    ns: dict = {}
    exec("from triage_app.io import *", ns)
    assert set(tio.__all__) <= set(ns) and set(IO_PUBLIC) <= set(tio.__all__)
    assert tio.XLSX_MAX_ROWS == 1_048_575 and tio.XLSX_MAX_COLS == 16_384
    assert tio.XLSX_MAX_CELL_CHARS == 32_767
    assert tio.WRITE_EXTENSIONS == (".csv", ".tsv", ".xlsx", ".json", ".jsonl")
    assert ".ndjson" in tio.READ_EXTENSIONS and ".xlsm" in tio.READ_EXTENSIONS


def test_table_error_is_a_user_fixable_value_error():
    from triage_app.io import TableError

    assert issubclass(TableError, TriageError) and issubclass(TableError, ValueError)
    e = TableError("t.csv: line 3: bad", path="/x/t.csv", line=3, column="text")
    assert (str(e), e.path, e.line, e.column) == ("t.csv: line 3: bad", "/x/t.csv", 3, "text")


def test_io_modules_stay_small():
    for f in sorted((ROOT / "triage_app" / "io").glob("*.py")):
        n = len(f.read_text(encoding="utf-8").splitlines())
        assert n <= 600, f"{f.name}: {n} lines"
