"""CorrectionsStore: SQLite round trip, dedup, CSV export, merge into training data."""
import csv
import sqlite3
import threading

import pandas as pd
import pytest

from triage_app.corrections import COLUMNS, CorrectionsStore, text_hash, ticket_text


@pytest.fixture
def store(tmp_path):
    return CorrectionsStore(tmp_path / "sub" / "corrections.sqlite3")


def test_round_trip(store, tmp_path):
    assert store.count() == 0 and store.all() == []
    store.add("Printer on floor 3 is jammed", {}, "Hardware", 0.42, "Hardware", "v1")
    store.add("Need admin rights for Docker", {"text": "ignored"}, "Access", 0.55,
              "Administrative rights", "v1")
    assert store.count() == 2
    rows = store.all()
    assert [r["text"] for r in rows] == ["Need admin rights for Docker",
                                         "Printer on floor 3 is jammed"]  # newest first
    r = rows[0]
    assert set(r) == set(COLUMNS)
    assert r["predicted"] == "Access" and r["corrected"] == "Administrative rights"
    assert r["confidence"] == pytest.approx(0.55) and r["model_version"] == "v1"
    assert r["text_hash"] == text_hash("Need admin rights for Docker")
    assert r["created"].endswith("+00:00")  # ISO UTC
    # a second store on the same file sees the same data
    again = CorrectionsStore(tmp_path / "sub" / "corrections.sqlite3")
    assert again.count() == 2
    frame = store.as_frame()
    assert list(frame.columns) == COLUMNS and len(frame) == 2
    with sqlite3.connect(tmp_path / "sub" / "corrections.sqlite3") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    store.clear()
    assert store.count() == 0 and store.as_frame().empty
    assert list(store.as_frame().columns) == COLUMNS


def test_dedup_by_normalised_text(store):
    store.add("VPN  keeps\n dropping ", {}, "Access", 0.5, "Access", "v1")
    store.add("VPN keeps dropping", {}, "Access", 0.6, "Hardware", "v2")
    assert store.count() == 1
    (r,) = store.all()
    assert r["corrected"] == "Hardware" and r["model_version"] == "v2"
    # case is kept: a different text
    store.add("vpn keeps dropping", {}, "Access", 0.6, "Access", "v2")
    assert store.count() == 2


def test_title_body_rule(store):
    assert ticket_text("x", "Mailbox full", "Cannot send mail") == "Mailbox full. Cannot send mail"
    assert ticket_text("x", "", "Cannot send mail") == "Cannot send mail"
    assert ticket_text("x", "Mailbox full", None) == "Mailbox full"
    assert ticket_text("plain text", "", "") == "plain text"
    store.add("shown text", {"title": "Mailbox full", "body": "Cannot send mail"},
              "Storage", 0.3, "Storage", "v1")
    (r,) = store.all()
    assert r["text"] == "Mailbox full. Cannot send mail"
    assert r["title"] == "Mailbox full" and r["body"] == "Cannot send mail"
    assert r["text_hash"] == text_hash("Mailbox full. Cannot send mail")


def test_add_rejects_empty(store):
    with pytest.raises(ValueError):
        store.add("   ", {}, "A", 0.1, "B", "v1")
    with pytest.raises(ValueError):
        store.add("text", {}, "A", 0.1, "", "v1")


def test_export_csv_bom_and_formula_escaping(store, tmp_path):
    store.add("=HYPERLINK(\"http://evil.example\",\"click\")", {}, "Misc", 0.2, "Miscellaneous", "v1")
    store.add('Says "hello", then, commas', {}, "Misc", 0.3, "-Misc", "@v2")
    store.add("\tTabbed start", {}, "+A", 0.4, "Access", "v1")
    out = tmp_path / "exports" / "corrections.csv"
    assert store.export_csv(out) == 3
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == COLUMNS
    by_text = {r["text"]: r for r in rows}
    assert "'=HYPERLINK(\"http://evil.example\",\"click\")" in by_text
    r = by_text['Says "hello", then, commas']
    assert r["corrected"] == "'-Misc" and r["model_version"] == "'@v2"
    r = by_text["'\tTabbed start"]
    assert r["predicted"] == "'+A" and r["corrected"] == "Access"
    assert float(r["confidence"]) == pytest.approx(0.4)
    # atomic write leaves no temp file behind, and overwrites cleanly
    assert [p.name for p in out.parent.iterdir()] == ["corrections.csv"]
    store.clear()
    assert store.export_csv(out) == 0
    with open(out, encoding="utf-8-sig", newline="") as fh:
        assert list(csv.reader(fh)) == [COLUMNS]


def test_merge_into_text_column(store):
    df = pd.DataFrame({"text": ["printer jammed", "need  admin rights", "mailbox full"],
                       "label": ["Hardware", "Access", "Storage"],
                       "other": [1, 2, 3]})
    store.add("need admin rights", {}, "Access", 0.4, "Administrative rights", "v1")
    store.add("mailbox full", {}, "Storage", 0.4, "Storage", "v1")          # same label
    store.add("new ticket only in store", {}, "Access", 0.4, "Miscellaneous", "v1")
    df2, stats = store.merge_into(df, text_col="text", label_col="label")
    assert stats == {"overridden": 1, "added": 1, "unchanged": 2}
    assert len(df2) == 4
    assert list(df2["label"]) == ["Hardware", "Administrative rights", "Storage", "Miscellaneous"]
    assert df2.loc[3, "text"] == "new ticket only in store"
    assert list(df["label"]) == ["Hardware", "Access", "Storage"]  # input untouched


def test_merge_into_title_body(store):
    df = pd.DataFrame({"title": ["Mailbox full", "VPN", ""],
                       "body": ["Cannot send mail", "", "Laptop dead"],
                       "category": ["Storage", "Access", "Access"]})
    store.add("", {"title": "Mailbox full", "body": "Cannot send mail"}, "Storage", 0.3,
              "Purchase", "v1")
    store.add("VPN", {}, "Access", 0.3, "Hardware", "v1")                # text only: title "VPN"
    store.add("x", {"title": "", "body": "Laptop dead"}, "Access", 0.3, "Hardware", "v1")
    store.add("", {"title": "New", "body": "Brand new ticket"}, "Access", 0.3, "Storage", "v1")
    store.add("Just text", {}, "Access", 0.3, "Access", "v1")
    store.add("Laptop dead", {}, "Access", 0.3, "Hardware", "v2")   # same hash as above: replaces
    assert store.count() == 5
    df2, stats = store.merge_into(df, title_col="title", body_col="body", label_col="category")
    assert stats == {"overridden": 3, "added": 2, "unchanged": 0}
    assert list(df2["category"][:3]) == ["Purchase", "Hardware", "Hardware"]
    added = df2.iloc[3:]
    assert set(zip(added["title"], added["body"], added["category"])) == {
        ("New", "Brand new ticket", "Storage"), ("", "Just text", "Access")}
    # merging again is idempotent: the appended rows now match
    df3, stats3 = store.merge_into(df2, title_col="title", body_col="body", label_col="category")
    assert stats3 == {"overridden": 0, "added": 0, "unchanged": 5}
    assert df3["category"].tolist() == df2["category"].tolist()


def test_merge_into_requires_label_col(store):
    with pytest.raises(ValueError):
        store.merge_into(pd.DataFrame({"text": ["a"]}), text_col="text")
    with pytest.raises(KeyError):
        store.merge_into(pd.DataFrame({"text": ["a"]}), text_col="body", label_col="label")


def test_concurrent_adds(store):
    def worker(k):
        for i in range(10):
            store.add(f"ticket {k}-{i}", {}, "A", 0.5, "B", "v1")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 30


def test_default_path_uses_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "data"))
    s = CorrectionsStore()
    assert s.path.name == "corrections.sqlite3"
    assert str(tmp_path) in str(s.path)
