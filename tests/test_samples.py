"""The bundled sample tickets used by the README demo and other tests."""
from pathlib import Path

import pandas as pd
import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples" / "sample_tickets.csv"
CATEGORIES = {"Hardware", "Access", "HR Support", "Storage", "Purchase",
              "Administrative rights", "Internal Project", "Miscellaneous"}


@pytest.fixture(scope="module")
def samples():
    return pd.read_csv(SAMPLES, dtype=str, keep_default_na=False)


def test_columns_and_size(samples):
    assert list(samples.columns) == ["ticket_id", "title", "body", "category", "priority"]
    assert len(samples) >= 80


def test_categories(samples):
    counts = samples["category"].value_counts()
    assert set(counts.index) <= CATEGORIES
    assert (counts >= 8).sum() >= 6
    assert len(counts) == 8 and counts.min() >= 12


def test_no_empty_fields_and_unique_ids(samples):
    for col in ["ticket_id", "title", "body", "category", "priority"]:
        assert (samples[col].str.strip() != "").all(), col
    assert samples["ticket_id"].is_unique
    assert set(samples["priority"]) <= {"Low", "Medium", "High", "Critical"}


def test_utf8_and_quoting():
    raw = SAMPLES.read_bytes()
    raw.decode("utf-8")
    df = pd.read_csv(SAMPLES, dtype=str, keep_default_na=False)
    assert df["body"].str.contains(",").any() and df["body"].str.contains('"').any()
