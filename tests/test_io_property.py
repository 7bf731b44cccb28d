"""Property tests for triage_app.io: writing then reading never crashes and keeps the text."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage_app.io import TableError, escape_formula, guess_columns, read_table, write_table

PROPS = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=15, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

# printable text plus tab / newline / carriage return: what real ticket cells hold
plain_chars = st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\n\r")
risky = st.sampled_from(["=", "+", "-", "@", "\t", "\r", '"', ",", ";", "|", "\n", "'", " "])
cell = st.one_of(
    st.text(plain_chars, max_size=40),
    st.tuples(risky, st.text(plain_chars, max_size=20)).map("".join),
)
rows = st.lists(st.tuples(cell, cell), min_size=1, max_size=25)


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def frame(pairs) -> pd.DataFrame:
    return pd.DataFrame({"id": [str(i) for i in range(len(pairs))],
                         "a": [p[0] for p in pairs], "b": [p[1] for p in pairs]})


@PROPS
@given(rows)
def test_csv_round_trip_keeps_text_and_escapes_formulas(folder, pairs):
    df = frame(pairs)
    write_table(df, folder / "rt.csv")
    back, rep = read_table(folder / "rt.csv", on_bad_lines="error")
    assert rep.encoding == "utf-8-sig" and rep.delimiter == ","
    assert list(back.columns) == ["id", "a", "b"]
    assert back["id"].tolist() == df["id"].tolist()
    assert back["a"].tolist() == [escape_formula(x) for x in df["a"]]
    assert back["b"].tolist() == [escape_formula(x) for x in df["b"]]
    # everything that comes back is already safe to open in a spreadsheet
    assert all(escape_formula(v) == v for v in back[["a", "b"]].to_numpy().ravel())


@PROPS
@given(rows)
def test_tsv_round_trip(folder, pairs):
    df = frame(pairs)
    write_table(df, folder / "rt.tsv")
    back, rep = read_table(folder / "rt.tsv", on_bad_lines="error")
    assert rep.delimiter == "\t"
    assert back["a"].tolist() == [escape_formula(x) for x in df["a"]]


@PROPS
@given(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=30)), min_size=1, max_size=15))
def test_csv_with_any_text_never_crashes(folder, pairs):
    """Any text, control characters included: the table comes back intact or a TableError
    explains why (e.g. too many control characters to look like text), never anything else."""
    df = frame(pairs)
    write_table(df, folder / "any.csv")
    try:
        back, _ = read_table(folder / "any.csv")
    except TableError as e:
        assert str(e).startswith("any.csv: ")
        return
    assert back["a"].tolist() == [escape_formula(x) for x in df["a"]]
    assert back["b"].tolist() == [escape_formula(x) for x in df["b"]]


@PROPS
@given(rows)
def test_jsonl_and_json_round_trip_exactly(folder, pairs):
    df = frame(pairs)
    for name in ("rt.jsonl", "rt.json"):
        write_table(df, folder / name)
        back, _ = read_table(folder / name, on_bad_lines="error")
        assert back["a"].tolist() == df["a"].tolist()  # JSON is not formula-escaped
        assert back["b"].tolist() == df["b"].tolist()


xlsx_chars = st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\n")


@SLOW
@given(st.lists(st.tuples(st.text(xlsx_chars, max_size=30), st.text(xlsx_chars, max_size=30)),
                min_size=1, max_size=10))
def test_xlsx_round_trip(folder, pairs):
    df = frame(pairs)
    write_table(df, folder / "rt.xlsx")
    back, _ = read_table(folder / "rt.xlsx")

    assert back["id"].tolist() == df["id"].tolist()
    assert back["a"].tolist() == [escape_formula(x) for x in df["a"]]
    assert back["b"].tolist() == [escape_formula(x) for x in df["b"]]


@PROPS
@given(st.binary(max_size=3000), st.sampled_from([".csv", ".tsv", ".txt", ".json", ".jsonl"]))
def test_reading_any_bytes_returns_a_table_or_a_table_error(folder, data, ext):
    p = folder / f"fuzz{ext}"
    p.write_bytes(data)
    try:
        df, rep = read_table(p)
    except TableError as e:
        assert str(e).startswith(p.name + ": ")
        return
    assert len(df) == rep.rows > 0
    assert all(isinstance(v, str) for v in df.to_numpy().ravel())


@PROPS
@given(st.text(max_size=400), st.sampled_from([".csv", ".txt", ".jsonl"]))
def test_reading_any_text_returns_a_table_or_a_table_error(folder, text, ext):
    p = folder / f"fuzz{ext}"
    p.write_text(text, encoding="utf-8", newline="")
    for kwargs in ({}, {"skip_truncated_tail": True}, {"on_bad_lines": "error"}):
        try:
            df, rep = read_table(p, **kwargs)
        except TableError as e:
            assert str(e).startswith(p.name + ": ")
            continue
        assert len(df) == rep.rows and len(set(df.columns)) == len(df.columns)


@PROPS
@given(st.lists(st.text(max_size=30), max_size=12))
def test_guess_columns_returns_distinct_real_columns(names):
    g = guess_columns(names)
    assert set(g) == {"title", "body", "text", "label"}
    chosen = [v for v in g.values() if v is not None]
    assert all(c in names for c in chosen) and len(chosen) == len(set(chosen))


@PROPS
@given(st.one_of(st.text(), st.integers(), st.floats(), st.none()))
def test_escape_formula_is_idempotent(value):
    once = escape_formula(value)
    assert escape_formula(once) == once or (once != once)  # NaN != NaN
    if isinstance(value, str):
        assert once in (value, "'" + value)
