"""triage_app.io: column guessing, formula escaping and writing ticket tables (real files under
tmp_path; full disks simulated)."""
from __future__ import annotations

import builtins
import codecs
import csv
import errno
import json
import os
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import triage_app.io as tio
from triage_app.io import TableError, TableWriter, escape_formula, guess_columns, read_table, write_table

# --------------------------------------------------------------------------- helpers


def leftovers(folder: Path) -> list[str]:
    """Temporary files a writer may have left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


class FullDisk:
    """A file object whose writes fail with ENOSPC once ``budget`` characters are written."""

    def __init__(self, f, budget: int):
        self._f = f
        self._left = budget

    def write(self, data):
        if len(data) > self._left:
            part = data[: self._left]
            if part:
                self._f.write(part)
                self._f.flush()  # really put the partial data on disk
            self._left = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._left -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def fill_disk_for(monkeypatch, dest: Path, budget: int = 200) -> list[Path]:
    """Make writes to the temporary file of ``dest`` hit a full disk."""
    real_open = builtins.open
    opened: list[Path] = []

    def fake_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if isinstance(file, (str, os.PathLike)):
            p = Path(os.fspath(file))
            if p.parent == dest.parent and p.name.startswith("." + dest.name) \
                    and p.name.endswith(".tmp"):
                opened.append(p)
                return FullDisk(f, budget)
        return f

    monkeypatch.setattr(builtins, "open", fake_open)
    return opened


# --------------------------------------------------------------------------- guess_columns


def test_guess_columns_by_name_case_insensitive():
    g = guess_columns(["Ticket ID", "SUBJECT", "Description", "Category"])
    assert g == {"title": "SUBJECT", "body": "Description", "text": None, "label": "Category"}


def test_guess_columns_nested_complaint_export():
    cols = ["_index", "_id", "_source.sub_product", "_source.product", "_source.issue",
            "_source.complaint_what_happened", "_source.date_received"]
    g = guess_columns(cols)
    assert g["body"] == "_source.complaint_what_happened"
    assert g["label"] == "_source.product"
    assert g["title"] is None and g["text"] is None


@pytest.mark.parametrize("cols,role,expected", [
    (["short_description", "x"], "title", "short_description"),
    (["Summary", "details"], "body", "details"),
    (["Document", "Topic_group"], "text", "Document"),
    (["Document", "Topic_group"], "label", "Topic_group"),
    (["ticket", "queue"], "label", "queue"),
    (["shortDescription"], "title", "shortDescription"),
    (["Issue Description", "ticket_number"], "body", "Issue Description"),
])
def test_guess_columns_names(cols, role, expected):
    assert guess_columns(cols)[role] == expected


def test_guess_columns_does_not_take_code_columns_as_text():
    cols = ["title", "body", "ticket_type", "category", "sub_category1", "urgency", "split"]
    assert guess_columns(cols) == {"title": "title", "body": "body", "text": None,
                                   "label": "category"}
    assert guess_columns(["ticket_type", "ticket_text_raw"])["text"] == "ticket_text_raw"


def test_guess_columns_never_picks_ids_or_reuses_a_column():
    g = guess_columns(["ticket_id", "text", "label"])
    assert g == {"title": None, "body": None, "text": "text", "label": "label"}


def test_guess_columns_falls_back_to_longest_text_column():
    df = pd.DataFrame({"code": ["A1", "B2"], "notes": ["printer is on fire again", "vpn drops"],
                       "amount": ["123456789012", "99999999999999"], "kind": ["x", "y"]})
    assert guess_columns(df.columns)["text"] is None
    assert guess_columns(df.columns, df)["text"] == "notes"


def test_guess_columns_none_when_absent():
    assert guess_columns(["foo", "bar"]) == {"title": None, "body": None, "text": None, "label": None}


# --------------------------------------------------------------------------- escape_formula


@pytest.mark.parametrize("value", ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
                                   "\tx", "\rx", "=HYPERLINK(\"http://x\")", "-", "+"])
def test_escape_formula_prefixes_dangerous_text(value):
    assert escape_formula(value) == "'" + value


@pytest.mark.parametrize("value", ["hello", "", " =1", "'=1", 5, -5, 1.5, -2.0, None, True,
                                   "-12.5", "+3", "-1e5"])
def test_escape_formula_leaves_numbers_and_plain_text(value):
    assert escape_formula(value) == value


# --------------------------------------------------------------------------- write_table


DF = pd.DataFrame({"text": ["=1+1", "fine", "@cmd", "-5"], "n": [1, -3, 0, 7],
                   "x": [1.5, np.nan, -2.0, 0.0]})


def test_write_csv_has_bom_and_escapes_formulas(tmp_path):
    p = tmp_path / "o.csv"
    write_table(DF, p)
    raw = p.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["text", "n", "x"]
    assert [r[0] for r in rows[1:]] == ["'=1+1", "fine", "'@cmd", "-5"]
    assert [r[1] for r in rows[1:]] == ["1", "-3", "0", "7"]  # numbers untouched
    assert [r[2] for r in rows[1:]] == ["1.5", "", "-2.0", "0.0"]
    df, rep = read_table(p)
    assert rep.encoding == "utf-8-sig" and df["text"].tolist()[0] == "'=1+1"
    assert leftovers(tmp_path) == []


def test_write_tsv_escapes_formulas(tmp_path):
    p = tmp_path / "o.tsv"
    write_table(DF, p)
    df, rep = read_table(p)
    assert rep.delimiter == "\t"
    assert df["text"].tolist() == ["'=1+1", "fine", "'@cmd", "-5"]


def test_write_xlsx_escapes_formulas_and_keeps_numbers(tmp_path):
    p = tmp_path / "o.xlsx"
    write_table(DF, p)
    ws = openpyxl.load_workbook(p).active
    assert ws["A2"].value == "'=1+1" and ws["A2"].data_type == "s"  # text, not a formula
    assert ws["A4"].value == "'@cmd"
    assert ws["B3"].value == -3 and ws["C2"].value == 1.5 and ws["C3"].value is None
    df, _ = read_table(p)
    assert df["text"].tolist() == ["'=1+1", "fine", "'@cmd", "-5"]


def test_write_json_and_jsonl_round_trip(tmp_path):
    for name in ("o.json", "o.jsonl"):
        write_table(DF, tmp_path / name)
        df, _ = read_table(tmp_path / name)
        assert df["text"].tolist() == ["=1+1", "fine", "@cmd", "-5"]  # JSON is not escaped
        assert df["n"].tolist() == ["1", "-3", "0", "7"]
        assert df["x"].tolist() == ["1.5", "", "-2.0", "0.0"]


def test_write_is_atomic_and_keeps_the_old_file_on_error(tmp_path):
    p = tmp_path / "o.csv"
    p.write_text("old content")

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    bad = pd.DataFrame({"a": ["x"] * 5000 + [Boom()]})
    with pytest.raises(RuntimeError, match="boom"):
        write_table(bad, p)
    assert p.read_text() == "old content"
    assert leftovers(tmp_path) == []
    write_table(DF, p)  # a good write replaces it
    assert read_table(p)[0]["n"].tolist() == ["1", "-3", "0", "7"]
    assert leftovers(tmp_path) == []


def test_write_xlsx_refuses_too_many_rows(tmp_path):
    df = pd.DataFrame({"a": np.zeros(1_048_576, dtype=np.int8)})
    with pytest.raises(TableError) as e:
        write_table(df, tmp_path / "big.xlsx")
    assert str(e.value).startswith("big.xlsx: 1,048,576 rows do not fit")
    assert "split the export or use CSV" in str(e.value)
    assert not (tmp_path / "big.xlsx").exists() and leftovers(tmp_path) == []


def test_write_xlsx_refuses_a_cell_over_32767_chars(tmp_path):
    df = pd.DataFrame({"id": [1, 2], "text": ["ok", "y" * 32_768]})
    with pytest.raises(TableError) as e:
        write_table(df, tmp_path / "long.xlsx")
    msg = str(e.value)
    assert msg.startswith("long.xlsx: row 3, column 'text'") and "32,767" in msg
    assert "split the export or use CSV" in msg
    assert not (tmp_path / "long.xlsx").exists() and leftovers(tmp_path) == []


def test_write_disk_full_leaves_no_partial_file(tmp_path, monkeypatch):
    p = tmp_path / "o.csv"
    p.write_text("old content")
    opened = fill_disk_for(monkeypatch, p, budget=300)
    big = pd.DataFrame({"text": [f"ticket {i} " * 5 for i in range(2000)]})
    with pytest.raises(TableError) as e:
        write_table(big, p)
    assert str(e.value).startswith("o.csv: disk full")
    assert opened, "the temporary file was never opened"
    assert p.read_text() == "old content"
    assert leftovers(tmp_path) == []


def test_write_xlsx_disk_full_leaves_no_file(tmp_path, monkeypatch):
    p = tmp_path / "o.xlsx"
    fill_disk_for(monkeypatch, p, budget=100)
    with pytest.raises(TableError, match=r"^o\.xlsx: disk full"):
        write_table(DF, p)
    assert not p.exists() and leftovers(tmp_path) == []


def test_write_rejects_unknown_extension_and_missing_folder(tmp_path):
    with pytest.raises(TableError, match=r"^o\.txt: cannot write"):
        write_table(DF, tmp_path / "o.txt")
    with pytest.raises(TableError, match=r"^o\.csv: the folder .* does not exist"):
        write_table(DF, tmp_path / "nope" / "o.csv")


# --------------------------------------------------------------------------- TableWriter


def test_table_writer_streams_chunks_and_commits(tmp_path):
    p = tmp_path / "s.csv"
    w = TableWriter(p)
    for k in range(3):
        w.write(pd.DataFrame({"id": [k * 2, k * 2 + 1], "text": ["=x", "y"]}))
    assert not p.exists() and w.temp_path.exists()  # nothing visible before commit
    assert w.commit() == p
    assert not w.temp_path.exists()
    df, _ = read_table(p)
    assert df["id"].tolist() == [str(i) for i in range(6)]
    assert df["text"].tolist() == ["'=x", "y"] * 3
    assert w.rows_written == 6


def test_table_writer_abort_removes_the_temp_file(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("old")
    w = TableWriter(p, columns=["a"])
    w.write(pd.DataFrame({"a": [1, 2]}))
    w.abort()
    assert p.read_text() == "old" and leftovers(tmp_path) == []
    with pytest.raises(TableError, match="already aborted"):
        w.write(pd.DataFrame({"a": [3]}))


def test_table_writer_context_manager_aborts_on_exception(tmp_path):
    p = tmp_path / "s.jsonl"
    with pytest.raises(KeyError):
        with TableWriter(p) as w:
            w.write(pd.DataFrame({"a": [1]}))
            raise KeyError("stop")
    assert not p.exists() and leftovers(tmp_path) == []
    with TableWriter(p) as w:  # a normal exit commits
        w.write(pd.DataFrame({"a": [1]}))
    assert read_table(p)[0]["a"].tolist() == ["1"]


def test_table_writer_xlsx(tmp_path):
    p = tmp_path / "s.xlsx"
    with TableWriter(p, columns=["text", "n"]) as w:
        w.write(pd.DataFrame({"text": ["=a", "b"], "n": [1, 2]}))
        w.write(pd.DataFrame({"n": [3], "text": ["+c"]}))  # other order: follows `columns`
    df, _ = read_table(p)
    assert df.to_dict("list") == {"text": ["'=a", "b", "'+c"], "n": ["1", "2", "3"]}


def test_table_writer_xlsx_row_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(tio.writing, "XLSX_MAX_ROWS", 5)  # the module whose TableWriter reads it
    p = tmp_path / "s.xlsx"
    w = TableWriter(p)
    w.write(pd.DataFrame({"a": range(4)}))
    with pytest.raises(TableError, match=r"^s\.xlsx: more than 5 rows .*split the export or use CSV"):
        w.write(pd.DataFrame({"a": range(2)}))
    assert not p.exists() and leftovers(tmp_path) == []


def test_table_writer_missing_and_extra_columns(tmp_path):
    p = tmp_path / "s.csv"
    w = TableWriter(p, columns=["a", "b"])
    w.write(pd.DataFrame({"a": ["1"]}))  # missing b -> empty
    w.commit()
    assert read_table(p)[0].to_dict("records") == [{"a": "1", "b": ""}]
    w2 = TableWriter(tmp_path / "t.csv", columns=["a"])
    with pytest.raises(TableError, match=r"^t\.csv: a chunk has columns that are not in the output: 'z'"):
        w2.write(pd.DataFrame({"a": [1], "z": [2]}))
    assert leftovers(tmp_path) == []


def test_table_writer_json_array(tmp_path):
    p = tmp_path / "s.json"
    with TableWriter(p) as w:
        w.write(pd.DataFrame({"a": [1, 2]}))
        w.write(pd.DataFrame({"a": [3]}))
    assert json.loads(p.read_text()) == [{"a": 1}, {"a": 2}, {"a": 3}]
    with TableWriter(tmp_path / "e.json", columns=["a"]):
        pass
    assert json.loads((tmp_path / "e.json").read_text()) == []


def test_table_writer_disk_full_aborts(tmp_path, monkeypatch):
    p = tmp_path / "s.csv"
    fill_disk_for(monkeypatch, p, budget=500)
    w = TableWriter(p)
    with pytest.raises(TableError, match=r"^s\.csv: disk full"):
        for _ in range(50):
            w.write(pd.DataFrame({"text": ["x" * 100] * 20}))
        w.commit()
    assert not p.exists() and leftovers(tmp_path) == []
