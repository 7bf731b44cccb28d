"""File types the :mod:`triage_app.io` package reads and writes, Excel's limits, and what a
missing or plainly numeric cell is (shared by the readers, the writers and column guessing)."""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

XLSX_MAX_ROWS = 1_048_575  # data rows: 1,048,576 sheet rows minus the header
XLSX_MAX_COLS = 16_384
XLSX_MAX_CELL_CHARS = 32_767

TEXT_EXTS = (".csv", ".tsv", ".txt")
EXCEL_EXTS = (".xlsx", ".xlsm")
JSON_EXTS = (".json",)
JSONL_EXTS = (".jsonl", ".ndjson")
READ_EXTENSIONS = TEXT_EXTS + EXCEL_EXTS + JSON_EXTS + JSONL_EXTS
WRITE_EXTENSIONS = (".csv", ".tsv", ".xlsx", ".json", ".jsonl")

# a cell that is a plain number: never formula-escaped, never a ticket text
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")


def is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, (float, np.floating)):
        return bool(np.isnan(v))
    if isinstance(v, np.datetime64):
        return bool(np.isnat(v))
    return False
