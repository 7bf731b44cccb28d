"""triage_app.io: reading ticket tables (real files under tmp_path): formats, encodings, bad lines, unreadable files, chunks."""
from __future__ import annotations

import builtins
import codecs
import errno
import gzip
import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from triage_app.io import (
    ReadReport,
    TableError,
    guess_columns,
    iter_table_chunks,
    list_sheets,
    read_table,
    require_columns,
)

# --------------------------------------------------------------------------- helpers


def put(path: Path, text: str | bytes, encoding: str = "utf-8") -> Path:
    """Write exactly these bytes (no newline translation)."""
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


def make_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


# --------------------------------------------------------------------------- formats


def test_csv_values_are_strings_and_labels_stay_as_written(tmp_path):
    p = put(tmp_path / "t.csv", "id,text,label,score\n1,hello,1,0.50\n2,,02,\n")
    df, rep = read_table(p)
    assert list(df.columns) == ["id", "text", "label", "score"]
    assert all(df[c].dtype == object for c in df.columns)
    assert df["label"].tolist() == ["1", "02"]  # never 1.0 / 2
    assert df["score"].tolist() == ["0.50", ""]  # missing -> ""
    assert df["text"].tolist() == ["hello", ""]
    assert all(isinstance(v, str) for v in df.to_numpy().ravel())
    assert rep.rows == 2 and rep.delimiter == "," and rep.encoding == "utf-8"


def test_tsv_is_read_with_tabs(tmp_path):
    p = put(tmp_path / "t.tsv", "title\tbody\nA, b\tc; d\n")
    df, rep = read_table(p)
    assert rep.delimiter == "\t"
    assert df.to_dict("records") == [{"title": "A, b", "body": "c; d"}]


def test_txt_delimiter_is_sniffed(tmp_path):
    p = put(tmp_path / "t.txt", "title|body|label\nPrinter, 2nd floor|Paper jam; again|hw\n")
    df, rep = read_table(p)
    assert rep.delimiter == "|"
    assert df.iloc[0].tolist() == ["Printer, 2nd floor", "Paper jam; again", "hw"]


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path, delim):
    text = (f"id{delim}text{delim}label\n"
            f'1{delim}"a, b; c|d\te"{delim}x\n'
            f"2{delim}plain{delim}y\n")
    df, rep = read_table(put(tmp_path / "t.csv", text))
    assert rep.delimiter == delim
    assert df["text"].tolist() == ["a, b; c|d\te", "plain"]
    assert df["label"].tolist() == ["x", "y"]


def test_quoted_fields_with_newlines_and_quotes(tmp_path):
    text = ('id,text\r\n'
            '1,"He said ""reboot"", then\r\nit crashed"\r\n'
            '2,"a,b"\r\n')
    df, rep = read_table(put(tmp_path / "q.csv", text))
    assert df["text"].tolist() == ['He said "reboot", then\r\nit crashed', "a,b"]
    assert rep.rows == 2 and rep.skipped_rows == 0


def test_xlsx_reads_first_sheet_by_default(tmp_path):
    p = make_xlsx(tmp_path / "w.xlsx", {"Tickets": [["text", "label"], ["vpn down", "network"]],
                                        "Other": [["x"], ["y"]]})
    df, rep = read_table(p)
    assert rep.sheet == "Tickets"
    assert df.to_dict("records") == [{"text": "vpn down", "label": "network"}]
    assert rep.encoding is None and rep.delimiter is None


def test_xlsx_sheet_argument_chooses_the_sheet(tmp_path):
    p = make_xlsx(tmp_path / "w.xlsx", {"Tickets": [["text"], ["a"]],
                                        "Archive": [["text", "label"], ["old", "hw"]]})
    df, rep = read_table(p, sheet="Archive")
    assert rep.sheet == "Archive"
    assert df.to_dict("records") == [{"text": "old", "label": "hw"}]
    df2, _ = read_table(p, sheet=1)
    assert df2.equals(df)


def test_list_sheets_in_workbook_order(tmp_path):
    p = make_xlsx(tmp_path / "w.xlsx", {"B": [["a"], [1]], "A": [["a"], [2]], "C": [["a"], [3]]})
    assert list_sheets(p) == ["B", "A", "C"]
    assert list_sheets(put(tmp_path / "t.csv", "a\n1\n")) == []


def test_xlsx_unknown_sheet_lists_the_real_ones(tmp_path):
    p = make_xlsx(tmp_path / "w.xlsx", {"Tickets": [["a"], [1]], "Archive": [["a"], [2]]})
    with pytest.raises(TableError) as e:
        read_table(p, sheet="Nope")
    assert str(e.value).startswith("w.xlsx: ")
    assert "'Nope'" in str(e.value) and "Tickets, Archive" in str(e.value)


def test_xlsx_numbers_and_empty_cells_become_strings(tmp_path):
    p = make_xlsx(tmp_path / "n.xlsx", {"S": [["label", "score", "text", "flag"],
                                               [1, 2.5, None, True],
                                               [2.0, -3, "x", False]]})
    df, _ = read_table(p)
    assert df["label"].tolist() == ["1", "2"]  # 2.0 (an Excel number) -> "2"
    assert df["score"].tolist() == ["2.5", "-3"]
    assert df["text"].tolist() == ["", "x"]
    assert df["flag"].tolist() == ["TRUE", "FALSE"]


def test_xlsx_row_with_values_beyond_the_header_is_a_bad_line(tmp_path):
    p = make_xlsx(tmp_path / "b.xlsx", {"S": [["a", "b"], [1, 2], [3, 4, 5], [], [6]]})
    df, rep = read_table(p)
    assert df.to_dict("records") == [{"a": "1", "b": "2"}, {"a": "6", "b": ""}]
    assert rep.skipped_rows == 1 and rep.skipped_lines == [3]  # Excel row numbers
    with pytest.raises(TableError, match=r"^b\.xlsx: line 3: too many values"):
        read_table(p, on_bad_lines="error")


def test_json_array_of_records(tmp_path):
    recs = [{"id": 1, "label": 1, "text": "a", "meta": {"x": None, "ok": True}},
            {"id": 2, "label": 2.5, "text": "b", "tags": ["p", 1]}]
    df, rep = read_table(put(tmp_path / "r.json", json.dumps(recs)))
    assert list(df.columns) == ["id", "label", "text", "meta.x", "meta.ok", "tags"]
    assert df["label"].tolist() == ["1", "2.5"]
    assert df["meta.x"].tolist() == ["", ""]  # null and missing -> ""
    assert df["meta.ok"].tolist() == ["true", ""]
    assert df["tags"].tolist() == ["", '["p", 1]']
    assert rep.rows == 2 and rep.encoding == "utf-8"


def test_json_hits_are_flattened_with_dots(tmp_path):
    data = {"took": 3, "hits": {"total": 2, "hits": [
        {"_id": "a1", "_source": {"product": "Mortgage", "complaint_what_happened": "They lost it",
                                  "company": {"name": "Bank"}}},
        {"_id": "a2", "_source": {"product": "Credit card", "complaint_what_happened": ""}},
    ]}}
    df, _ = read_table(put(tmp_path / "es.json", json.dumps(data)))
    assert list(df.columns) == ["_id", "_source.product", "_source.complaint_what_happened",
                                "_source.company.name"]
    assert df["_source.product"].tolist() == ["Mortgage", "Credit card"]
    assert df["_source.company.name"].tolist() == ["Bank", ""]


def test_json_invalid_names_file_and_line(tmp_path):
    p = put(tmp_path / "bad.json", '[\n{"a": 1},\n{"a": 2,,}\n]\n')
    with pytest.raises(TableError, match=r"^bad\.json: line 3, column \d+: invalid JSON"):
        read_table(p)


def test_json_truncated_array_keeps_complete_records_when_asked(tmp_path):
    p = put(tmp_path / "cut.json", '[{"a": "1"},\n{"a": "2"},\n{"a": "thr')
    with pytest.raises(TableError, match=r"^cut\.json: line 3: .*cut off"):
        read_table(p)
    df, rep = read_table(p, skip_truncated_tail=True)
    assert df["a"].tolist() == ["1", "2"] and rep.truncated_at_line == 3


def test_jsonl_records_and_bad_lines(tmp_path):
    p = put(tmp_path / "t.jsonl", '{"text": "a", "label": 1}\n\nnot json\n[1, 2]\n'
                                  '{"text": "b", "x": {"y": 2}}\n')
    df, rep = read_table(p)
    assert list(df.columns) == ["text", "label", "x.y"]
    assert df.to_dict("records") == [{"text": "a", "label": "1", "x.y": ""},
                                     {"text": "b", "label": "", "x.y": "2"}]
    assert rep.skipped_rows == 2 and rep.skipped_lines == [3, 4]
    with pytest.raises(TableError, match=r"^t\.jsonl: line 3: not valid JSON"):
        read_table(p, on_bad_lines="error")


def test_jsonl_cut_off_last_line(tmp_path):
    p = put(tmp_path / "t.jsonl", '{"a": "1"}\n{"a": "2"}\n{"a": "tr')
    with pytest.raises(TableError, match=r"^t\.jsonl: line 3: .*cut off"):
        read_table(p)
    df, rep = read_table(p, skip_truncated_tail=True)
    assert df["a"].tolist() == ["1", "2"] and rep.truncated_at_line == 3


def test_gzipped_csv_and_jsonl_are_read(tmp_path):
    p = tmp_path / "t.csv.gz"
    with gzip.open(p, "wb") as f:
        f.write("id;text\n1;café\n2;b\n".encode("cp1252"))
    df, rep = read_table(p)
    assert df["text"].tolist() == ["café", "b"]
    assert (rep.delimiter, rep.encoding) == (";", "cp1252")
    j = tmp_path / "t.jsonl.gz"
    with gzip.open(j, "wt", encoding="utf-8") as f:
        f.write('{"a": 1}\n{"a": 2}\n')
    assert [len(c) for c in iter_table_chunks(j, chunksize=1)] == [1, 1]


def test_damaged_gzip_is_an_error(tmp_path):
    good = gzip.compress(b"id,text\n" + b"1,abc\n" * 5000)
    with pytest.raises(TableError, match=r"^cut\.csv\.gz: the gzip data is damaged or cut off"):
        read_table(put(tmp_path / "cut.csv.gz", good[: len(good) // 2]))
    with pytest.raises(TableError, match=r"^fake\.csv\.gz: is not a gzip file"):
        read_table(put(tmp_path / "fake.csv.gz", "id,text\n1,a\n"))


SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.mark.realdata
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not present")
def test_shared_datasets_read_and_guess():
    df, rep = read_table(SHARED / "it_service_tickets" / "it_service_tickets.csv.gz")
    assert len(df) == 47_837 and rep.skipped_rows == 0 and rep.warnings == []
    assert guess_columns(df.columns, df) == {"title": None, "body": None, "text": "Document",
                                             "label": "Topic_group"}
    assert df["split"].value_counts().to_dict() == {"train": 38_269, "val": 4_784, "test": 4_784}
    df, rep = read_table(SHARED / "endava_tickets_sample" / "endava_tickets_sample.csv.gz")
    assert len(df) == 5_431 and rep.skipped_rows == 0
    assert (df["title"] == "").sum() == 107  # empty titles stay "" (not NaN)
    g = guess_columns(df.columns, df)
    assert (g["title"], g["body"], g["text"]) == ("title", "body", None)


# --------------------------------------------------------------------------- encodings

TEXT = "id,text\n1,café naïve – 5 € ok\n"


@pytest.mark.parametrize("raw,name", [
    (TEXT.encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
    (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16-le"),
    (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16-be"),
    (TEXT.encode("cp1252"), "cp1252"),
], ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "cp1252"])
def test_encodings_are_detected_and_reported(tmp_path, raw, name):
    df, rep = read_table(put(tmp_path / "e.csv", raw))
    assert rep.encoding == name
    assert list(df.columns) == ["id", "text"]  # no BOM left in the first name
    assert df["text"].tolist() == ["café naïve – 5 € ok"]


def test_latin1_is_the_last_fallback(tmp_path):
    # 0x81 is undefined in cp1252, so only Latin-1 decodes this
    df, rep = read_table(put(tmp_path / "l.csv", b"id,text\n1,caf\xe9 \x81\n"))
    assert rep.encoding == "latin-1"
    assert df["text"].tolist() == ["café \x81"]
    assert any("Latin-1" in w for w in rep.warnings)


# --------------------------------------------------------------------------- truncation / bad lines


def test_truncated_quote_raises_naming_file_and_line(tmp_path):
    p = put(tmp_path / "cut.csv", 'id,text\n1,ok\n2,"this one is cut')
    with pytest.raises(TableError) as e:
        read_table(p)
    msg = str(e.value)
    assert msg.startswith("cut.csv: line 3: ")
    assert "quoted field" in msg and "skip_truncated_tail" in msg
    assert e.value.line == 3


def test_truncated_quote_skip_keeps_rows_before_it(tmp_path):
    p = put(tmp_path / "cut.csv", 'id,text\n1,ok\n2,"fine\nmultiline"\n3,"cut\nhere')
    df, rep = read_table(p, skip_truncated_tail=True)
    assert df["id"].tolist() == ["1", "2"]
    assert rep.truncated_at_line == 5
    assert rep.rows == 2
    assert any("kept the 2 complete rows" in w for w in rep.warnings)


def test_truncated_quote_line_is_where_the_broken_quote_starts(tmp_path):
    # the cut record starts on line 4; its broken quote opens on line 5
    p = put(tmp_path / "cut.csv", 'id,text,note\n1,"multi\nline",ok\n2,"two\nlines","cut here\nand')
    with pytest.raises(TableError, match=r"^cut\.csv: line 5: "):
        read_table(p)
    _, rep = read_table(p, skip_truncated_tail=True)
    assert rep.truncated_at_line == 5 and rep.rows == 1


def test_bad_lines_are_skipped_and_counted(tmp_path):
    p = put(tmp_path / "b.csv", "id,text\n1,a\n2,b,EXTRA\n3\n4,d\n")
    df, rep = read_table(p)
    assert df["id"].tolist() == ["1", "4"]
    assert rep.skipped_rows == 2
    assert rep.skipped_lines == [3, 4]
    assert any("skipped 2 bad rows" in w for w in rep.warnings)


def test_bad_lines_error_names_the_line(tmp_path):
    p = put(tmp_path / "b.csv", "id,text\n1,a\n2,b,EXTRA\n")
    with pytest.raises(TableError) as e:
        read_table(p, on_bad_lines="error")
    assert str(e.value).startswith("b.csv: line 3: too many fields (expected 2, found 3)")
    assert e.value.line == 3


def test_bad_line_numbers_count_physical_lines_of_multiline_records(tmp_path):
    p = put(tmp_path / "b.csv", 'id,text\n1,"x\ny\nz"\n\n2\n3,c\n')
    df, rep = read_table(p)
    assert df["id"].tolist() == ["1", "3"] and rep.skipped_lines == [6]


# --------------------------------------------------------------------------- empty / header / columns


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(TableError, match=r"^empty\.csv: file is empty"):
        read_table(put(tmp_path / "empty.csv", b""))


def test_blank_lines_only_is_an_error(tmp_path):
    with pytest.raises(TableError, match=r"^blank\.csv: file is empty"):
        read_table(put(tmp_path / "blank.csv", "\n\r\n  \n"))


def test_header_only_is_an_error(tmp_path):
    p = put(tmp_path / "h.csv", "id,text,label\n")
    with pytest.raises(TableError, match=r"^h\.csv: has a header but no rows"):
        read_table(p)
    with pytest.raises(TableError, match="has a header but no rows"):
        iter_table_chunks(p)
    df, _ = read_table(p, max_rows=0)  # asking for the header only is fine
    assert list(df.columns) == ["id", "text", "label"] and len(df) == 0


def test_all_rows_bad_is_an_error(tmp_path):
    with pytest.raises(TableError, match=r"^x\.csv: has no usable rows"):
        read_table(put(tmp_path / "x.csv", "a,b\n1\n2\n"))


def test_duplicate_columns_are_renamed_with_a_warning(tmp_path):
    df, rep = read_table(put(tmp_path / "d.csv", "text,text,label,text\n1,2,3,4\n"))
    assert list(df.columns) == ["text", "text.1", "label", "text.2"]
    assert df.iloc[0].tolist() == ["1", "2", "3", "4"]
    assert any("duplicate column names" in w and "'text.1'" in w for w in rep.warnings)


def test_require_columns_lists_the_real_columns(tmp_path):
    with pytest.raises(TableError) as e:
        require_columns(["Title", "Body", "label"], {"text": "body", "label": "label"},
                        tmp_path / "t.csv")
    msg = str(e.value)
    assert msg.startswith("t.csv: column 'body' (for text) not found")
    assert "(did you mean 'Body'?)" in msg
    assert "'Title', 'Body', 'label'" in msg
    require_columns(["Title", "Body"], {"title": "Title", "body": "Body", "label": None}, "t.csv")


def test_missing_values_become_empty_strings(tmp_path):
    df, _ = read_table(put(tmp_path / "n.csv", "a,b,c\n1,,NaN\n,null,\n"))
    assert df.to_dict("records") == [{"a": "1", "b": "", "c": "NaN"}, {"a": "", "b": "null", "c": ""}]


def test_a_5mb_cell_reads_fine(tmp_path):
    big = "x" * 5_000_000
    p = put(tmp_path / "big.csv", f'id,text\n1,"{big}"\n2,{big}\n3,short\n')
    df, rep = read_table(p)
    assert [len(t) for t in df["text"]] == [5_000_000, 5_000_000, 5]
    assert rep.skipped_rows == 0


# --------------------------------------------------------------------------- unreadable files


def test_png_renamed_to_csv_is_rejected(tmp_path):
    p = put(tmp_path / "photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises(TableError, match=r"^photo\.csv: does not look like a text table.*PNG"):
        read_table(p)


def test_zip_renamed_to_csv_is_rejected(tmp_path):
    p = tmp_path / "archive.csv"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("a.txt", "hello")
    with pytest.raises(TableError, match=r"^archive\.csv: does not look like a text table.*ZIP"):
        read_table(p)


def test_random_binary_renamed_to_csv_is_rejected(tmp_path):
    p = put(tmp_path / "blob.csv", np.random.default_rng(0).bytes(5000))
    with pytest.raises(TableError, match=r"^blob\.csv: does not look like a text table"):
        read_table(p)


def test_a_stray_nul_in_a_text_file_is_still_text(tmp_path):
    df, _ = read_table(put(tmp_path / "nul.csv", "id,text\n1,a\x00b\n2," + "x" * 500 + "\n"))
    assert df["text"].tolist()[0] == "a\x00b"


def test_permission_denied_names_the_file(tmp_path, monkeypatch):
    p = put(tmp_path / "secret.csv", "a,b\n1,2\n")
    p.chmod(0)  # enough for a normal user; root ignores it, so open() is made to refuse too
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(os.fspath(file)) == p:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    try:
        with pytest.raises(TableError, match=r"^secret\.csv: permission denied"):
            read_table(p)
    finally:
        p.chmod(0o600)


def test_a_folder_is_not_a_file(tmp_path):
    d = tmp_path / "folder.csv"
    d.mkdir()
    with pytest.raises(TableError, match=r"^folder\.csv: is a folder"):
        read_table(d)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(TableError, match=r"^nope\.csv: file not found"):
        read_table(tmp_path / "nope.csv")


def test_unsupported_and_old_excel_extensions(tmp_path):
    with pytest.raises(TableError, match=r"^a\.docx: unsupported file type"):
        read_table(put(tmp_path / "a.docx", "x"))
    with pytest.raises(TableError, match=r"^a\.xls: old Excel \.xls"):
        read_table(put(tmp_path / "a.xls", "x"))


def test_text_file_named_xlsx_is_explained(tmp_path):
    with pytest.raises(TableError, match=r"^a\.xlsx: is not an Excel workbook.*rename it to \.csv"):
        read_table(put(tmp_path / "a.xlsx", "a,b\n1,2\n"))


def test_read_report_fields(tmp_path):
    df, rep = read_table(put(tmp_path / "r.csv", "a;b\n1;2\n3;4\n"), max_rows=1)
    assert isinstance(rep, ReadReport)
    assert rep.path == str(tmp_path / "r.csv")
    assert (rep.rows, rep.skipped_rows, rep.skipped_lines) == (1, 0, [])
    assert (rep.encoding, rep.delimiter, rep.sheet, rep.truncated_at_line) == ("utf-8", ";", None, None)
    assert rep.warnings == [] and len(df) == 1
    assert "1 rows read from r.csv" in rep.summary()


# --------------------------------------------------------------------------- chunks


def test_iter_table_chunks_yields_all_rows_in_chunks(tmp_path):
    p = put(tmp_path / "c.csv", "id,text\n" + "".join(f"{i},t{i}\n" for i in range(10)))
    chunks = iter_table_chunks(p, chunksize=4)
    assert chunks.columns == ["id", "text"]
    got = list(chunks)
    assert [len(c) for c in got] == [4, 4, 2]
    assert pd.concat(got, ignore_index=True).equals(read_table(p)[0])
    assert chunks.report.rows == 10


def test_iter_table_chunks_max_rows(tmp_path):
    p = put(tmp_path / "c.csv", "id\n" + "".join(f"{i}\n" for i in range(10)))
    assert [len(c) for c in iter_table_chunks(p, chunksize=3, max_rows=7)] == [3, 3, 1]


def test_iter_table_chunks_jsonl_columns_are_stable(tmp_path):
    p = put(tmp_path / "c.jsonl", '{"a": 1}\n{"a": 2}\n{"a": 3, "late": "x"}\n')
    got = list(iter_table_chunks(p, chunksize=2))
    assert [list(c.columns) for c in got] == [["a", "late"], ["a", "late"]]
    assert got[1]["late"].tolist() == ["x"]


def test_iter_table_chunks_xlsx_and_json(tmp_path):
    x = make_xlsx(tmp_path / "c.xlsx", {"S": [["a"]] + [[i] for i in range(5)]})
    assert [c["a"].tolist() for c in iter_table_chunks(x, chunksize=2)] == [["0", "1"], ["2", "3"], ["4"]]
    j = put(tmp_path / "c.json", json.dumps([{"a": i} for i in range(5)]))
    assert [len(c) for c in iter_table_chunks(j, chunksize=2)] == [2, 2, 1]


def test_iter_table_chunks_truncated_end_raises_after_good_chunks(tmp_path):
    p = put(tmp_path / "c.csv", "id,text\n1,a\n2,b\n3,\"cut")
    it = iter_table_chunks(p, chunksize=1)
    assert next(it)["id"].tolist() == ["1"]
    with pytest.raises(TableError, match=r"^c\.csv: line 4: "):
        list(it)


def test_iter_table_chunks_constant_memory(tmp_path):
    p = tmp_path / "big.csv"
    filler = "lorem ipsum dolor sit amet " * 3
    with open(p, "w", encoding="utf-8", newline="") as f:
        f.write("id,body,label\n")
        for i in range(100_000):
            f.write(f"{i},{filler}{i},L{i % 7}\n")
    size = p.stat().st_size
    assert size > 8_000_000
    tracemalloc.start()
    try:
        n = 0
        for chunk in iter_table_chunks(p, chunksize=1000):
            n += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 100_000
    assert peak < size / 4, f"peak {peak:,} bytes for a {size:,}-byte file"
