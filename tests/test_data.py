"""trainer.data: cleaning, dropping, merging, splitting, class weights and the report."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trainer.data import DataError, prepare_frame
from trainer.pipeline import DataSpec, prepare
from triage_app import text as textmod
from triage_app.errors import Cancelled

WORDS = {
    "Hardware": "printer monitor keyboard mouse laptop screen dock cable",
    "Access": "password login account locked vpn token reset permission",
    "Storage": "disk quota drive share folder backup archive space",
    "Purchase": "order quote invoice licence vendor budget buy request",
    "Other": "question feedback thanks meeting note misc general idea",
}


def _rows(label: str, n: int, start: int = 0) -> list[dict]:
    """``n`` distinct tickets of one class (text made unique by a number word)."""
    words = WORDS.get(label, "alpha beta gamma delta epsilon zeta eta theta").split()
    out = []
    for i in range(start, start + n):
        w = [words[(i + k) % len(words)] for k in range(4)]
        out.append({"title": f"{w[0]} {w[1]} issue {i}", "body": f"my {w[2]} and {w[3]} ticket number {i}",
                    "label": label})
    return out


def _frame(counts: dict[str, int]) -> pd.DataFrame:
    rows = []
    for lab, n in counts.items():
        rows += _rows(lab, n)
    return pd.DataFrame(rows)


def _prep(df, **kw):
    base = dict(label_col="label", title_col="title", body_col="body")
    base.update(kw)
    return prepare_frame(df, **base)


def _all_labels(d) -> list[str]:
    ys = [d.train.y, d.val.y] + ([d.test.y] if d.test is not None else [])
    return [d.labels[i] for y in ys for i in y]


# ---- rare classes -----------------------------------------------------------------------------
def test_rare_classes_dropped_by_default():
    df = _frame({"Hardware": 40, "Access": 35, "Storage": 10, "Purchase": 29})
    d = _prep(df, min_per_class=30)
    assert d.labels == ["Access", "Hardware"]
    assert d.report.dropped_rare == 39
    assert d.report.rare_labels == ["Purchase", "Storage"]
    assert sum(len(s) for s in (d.train, d.val, d.test)) == 75
    text = "\n".join(d.report.lines())
    assert ("left out 39 rows of 2 labels with fewer than 30 tickets each (the rare-label threshold): "
            "Purchase (29), Storage (10)") in text


def test_rare_classes_merged_into_other():
    df = _frame({"Hardware": 40, "Access": 35, "Storage": 10, "Purchase": 25})
    d = _prep(df, rare="other", min_per_class=30)
    assert d.labels == ["Access", "Hardware", "Other"]
    assert d.report.merged_rare == 35 and d.report.dropped_rare == 0
    assert _all_labels(d).count("Other") == 35
    assert ("merged 35 rows of 2 labels with fewer than 30 tickets each (the rare-label threshold) into 'Other': "
            "Purchase (25), Storage (10)") in "\n".join(d.report.lines())


def test_min_per_class_is_configurable():
    df = _frame({"Hardware": 12, "Access": 12, "Storage": 4})
    assert _prep(df, min_per_class=5).labels == ["Access", "Hardware"]
    assert _prep(df, min_per_class=3).labels == ["Access", "Hardware", "Storage"]


def test_bad_rare_option():
    with pytest.raises(DataError, match="rare"):
        _prep(_frame({"Hardware": 40, "Access": 40}), rare="keep")


# ---- merge map, duplicates, empties -----------------------------------------------------------
def test_merge_map_joins_labels_before_counting():
    df = _frame({"Hardware": 40, "Access": 20, "Storage": 20})
    # neither Access nor Storage reaches 30 alone; merged they do
    d = _prep(df, merge_map={"Access": "Access & Storage", "Storage": "Access & Storage"})
    assert d.labels == ["Access & Storage", "Hardware"]
    assert d.report.dropped_rare == 0
    assert _all_labels(d).count("Access & Storage") == 40


def test_exact_duplicates_dropped_and_counted():
    base = _frame({"Hardware": 40, "Access": 40})
    dups = base.iloc[[0, 1, 2, 50]].copy()
    dups2 = base.iloc[[0]].copy()
    df = pd.concat([base, dups, dups2], ignore_index=True)
    d = _prep(df)
    assert d.report.dropped_duplicate == 5
    assert d.fingerprint["rows"] == 80
    assert "dropped 5 exact duplicates" in d.report.lines()
    # the same text after cleaning counts as a duplicate too (whitespace / line breaks)
    ws = base.iloc[[3]].copy()
    ws["body"] = "  " + ws["body"].str.replace(" ", "\n  ") + "\t"
    d2 = _prep(pd.concat([base, ws], ignore_index=True))
    assert d2.report.dropped_duplicate == 1


def test_empty_texts_and_labels_dropped():
    base = _frame({"Hardware": 40, "Access": 40})
    bad = pd.DataFrame([{"title": "", "body": "", "label": "Hardware"},
                        {"title": "   ", "body": "\n\t", "label": "Access"},
                        {"title": None, "body": float("nan"), "label": "Access"},
                        {"title": "XXXX", "body": "XX/XX/2019", "label": "Access"},   # only masks
                        {"title": "real text here", "body": "and more", "label": ""},
                        {"title": "real text two", "body": "and more", "label": None}])
    d = _prep(pd.concat([base, bad], ignore_index=True))
    assert d.report.dropped_empty == 6
    assert d.fingerprint["rows"] == 80
    assert "dropped 6 rows with empty text or label" in d.report.lines()


def test_label_case_and_whitespace_variants_reported_not_merged():
    rows = _rows("Hardware", 40) + [dict(r, label="hardware") for r in _rows("Hardware", 35, start=100)] \
        + [dict(r, label="HARD  WARE") for r in _rows("Access", 31)]
    extra = [dict(r, label="hard ware") for r in _rows("Storage", 30)]
    d = _prep(pd.DataFrame(rows + extra))
    assert d.labels == ["HARD  WARE", "Hardware", "hard ware", "hardware"]
    assert d.report.label_case_variants == {"hardware": ["Hardware", "hardware"],
                                            "hard ware": ["HARD  WARE", "hard ware"]}
    lines = "\n".join(d.report.lines())
    assert "Hardware / hardware" in lines and "kept apart" in lines
    # leading / trailing spaces alone are stripped, not kept as a separate label
    df = _frame({"Hardware": 40, "Access": 40})
    df.loc[:9, "label"] = " Hardware  "
    assert _prep(df).labels == ["Access", "Hardware"]


# ---- splits -----------------------------------------------------------------------------------
def test_default_split_is_stratified_80_10_10_and_seeded():
    df = _frame({"Hardware": 100, "Access": 100, "Storage": 100})
    d = _prep(df, seed=7)
    assert d.report.split_source == "stratified"
    for name, n in (("train", 80), ("val", 10), ("test", 10)):
        assert d.report.counts[name] == {"Access": n, "Hardware": n, "Storage": n}
    again = _prep(df, seed=7)
    for a, b in ((d.train, again.train), (d.val, again.val), (d.test, again.test)):
        assert a.text_a == b.text_a and np.array_equal(a.y, b.y)
    other = _prep(df, seed=8)
    assert other.val.text_a != d.val.text_a
    # no overlap between the splits, nothing lost
    sets = [set(s.text_a) for s in (d.train, d.val, d.test)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert sum(map(len, sets)) == 300


def test_split_fractions_configurable():
    df = _frame({"Hardware": 100, "Access": 100})
    d = _prep(df, val_frac=0.2, test_frac=0.0)
    assert d.test is None
    assert d.report.counts["val"] == {"Access": 20, "Hardware": 20}
    assert len(d.train) == 160


def test_split_column_honoured():
    df = _frame({"Hardware": 40, "Access": 40})
    sp = (["train"] * 30 + ["VAL"] * 5 + [" test "] * 5) * 2
    df["split"] = sp
    d = _prep(df)
    assert d.report.split_source == "column 'split'"
    assert d.report.counts == {"train": {"Access": 30, "Hardware": 30}, "val": {"Access": 5, "Hardware": 5},
                               "test": {"Access": 5, "Hardware": 5}}
    val_titles = set(df.loc[[i for i, s in enumerate(sp) if s == "VAL"], "title"])
    assert {t.split(".")[0] for t in d.val.text_a} == val_titles
    assert "split: column 'split'" in "\n".join(d.report.lines())


@pytest.mark.parametrize("word", ["valid", "dev", "validation", "Dev"])
def test_split_column_val_synonyms(word):
    df = _frame({"Hardware": 40, "Access": 40})
    df["split"] = (["train"] * 34 + [word] * 6) * 2
    d = _prep(df)
    assert len(d.val) == 12 and d.test is None


def test_split_column_without_val_carves_val_from_train():
    df = _frame({"Hardware": 100, "Access": 100})
    df["split"] = (["train"] * 90 + ["test"] * 10) * 2
    d = _prep(df)
    assert d.report.counts["test"] == {"Access": 10, "Hardware": 10}
    assert d.report.counts["val"] == {"Access": 10, "Hardware": 10}      # 10 % of all rows
    assert d.report.counts["train"] == {"Access": 80, "Hardware": 80}
    test_titles = set(df.loc[df["split"] == "test", "title"])
    assert not ({t.split(".")[0] for t in d.val.text_a} & test_titles)   # carved from train only


def test_split_column_bad_values_and_no_train():
    df = _frame({"Hardware": 40, "Access": 40})
    df["split"] = ["train"] * 79 + ["holdout"]
    with pytest.raises(DataError, match="holdout"):
        _prep(df)
    df["split"] = ["test"] * 40 + ["val"] * 40
    with pytest.raises(DataError, match="no 'train' rows"):
        _prep(df)
    # split_col=None ignores the column
    assert _prep(df, split_col=None).report.split_source == "stratified"


# ---- class weights ----------------------------------------------------------------------------
def test_class_weights_are_n_over_k_count():
    df = _frame({"Hardware": 120, "Access": 60, "Storage": 30})
    d = _prep(df)
    cnt = np.array([d.report.counts["train"][lab] for lab in d.labels], dtype=float)
    n, k = cnt.sum(), len(d.labels)
    assert n == len(d.train)
    np.testing.assert_allclose(d.class_weights, n / (k * cnt))
    # by hand: 96 / 48 / 24 training rows -> 168 / (3 * count)
    assert d.report.counts["train"] == {"Access": 48, "Hardware": 96, "Storage": 24}
    np.testing.assert_allclose(d.class_weights, [168 / 144, 168 / 288, 168 / 72])
    assert np.isclose(np.sum(d.class_weights * cnt), n)        # the weighted rows sum to n
    assert _prep(df, class_weights=False).class_weights is None


# ---- impossible inputs ------------------------------------------------------------------------
def test_one_class_is_refused():
    with pytest.raises(DataError, match="at least 2 classes"):
        _prep(_frame({"Hardware": 50}))
    # two classes, but only one is frequent enough
    with pytest.raises(DataError, match=r"at least 2 classes.*found 1 \(Hardware\)"):
        _prep(_frame({"Hardware": 50, "Access": 4}))


def test_label_column_missing_lists_columns():
    df = _frame({"Hardware": 40, "Access": 40})
    with pytest.raises(DataError) as e:
        _prep(df, label_col="category")
    msg = str(e.value)
    assert "'category'" in msg and "title, body, label" in msg


def test_text_column_missing_or_not_chosen():
    df = _frame({"Hardware": 40, "Access": 40})
    with pytest.raises(DataError, match="choose a text column"):
        prepare_frame(df, label_col="label")
    with pytest.raises(DataError, match=r"'subject' not found; columns are: title, body, label"):
        prepare_frame(df, label_col="label", title_col="subject")


def test_fewer_rows_than_classes():
    df = pd.DataFrame([{"text": "printer broken", "label": "A"}, {"text": "vpn down", "label": "B"},
                       {"text": "disk full", "label": "C"}])
    with pytest.raises(DataError, match="3 rows are too few for 3 classes"):
        prepare_frame(df, label_col="label", text_col="text", min_per_class=1)


def test_all_rows_empty():
    df = pd.DataFrame({"text": ["", "  ", None], "label": ["A", "B", "A"]})
    with pytest.raises(DataError, match="no usable rows"):
        prepare_frame(df, label_col="label", text_col="text")


def test_errors_name_the_source():
    with pytest.raises(DataError, match=r"^tickets\.csv: "):
        prepare_frame(_frame({"Hardware": 40}), label_col="label", text_col="title", source="tickets.csv")


# ---- routing ----------------------------------------------------------------------------------
def test_routing_same_and_split_tower_inputs():
    df = _frame({"Hardware": 40, "Access": 40})
    df.loc[0, "title"] = "Printer  jammed\n(see https://x.example/t/1)"
    df.loc[0, "body"] = "Call me at me@example.com,   floor XXXX"
    same = _prep(df, routing="same", split_col=None, val_frac=0.5, test_frac=0.0)
    split = _prep(df, routing="split", split_col=None, val_frac=0.5, test_frac=0.0)
    t = textmod.clean_text(df.loc[0, "title"])
    b = textmod.clean_text(df.loc[0, "body"])
    # the shared cleaning ran (its exact output is tested with triage_app.text)
    assert t.startswith("Printer jammed") and "https" not in t and "\n" not in t
    assert "@" not in b and "XXXX" not in b

    def find(d, needle):
        for s in (d.train, d.val):
            for a, bb in zip(s.text_a, s.text_b):
                if needle in a or needle in bb:
                    return a, bb
        raise AssertionError(needle)

    assert find(same, "Printer jammed") == (f"{t}. {b}", f"{t}. {b}")
    assert find(split, "Printer jammed") == (t, b)
    assert same.routing == "same" and split.routing == "split"
    # every row: same routing gives both towers the same text, split gives title / body
    for s in (same.train, same.val):
        assert s.text_a == s.text_b
    assert all(not a.startswith("my ") and bb.startswith("my ") for a, bb in zip(split.train.text_a, split.train.text_b))


def test_routing_with_one_text_column():
    df = pd.DataFrame([{"text": r["title"] + " " + r["body"], "label": r["label"]}
                       for lab in ("Hardware", "Access") for r in _rows(lab, 40)])
    same = prepare_frame(df, label_col="label", text_col="text", routing="same")
    split = prepare_frame(df, label_col="label", text_col="text", routing="split")
    assert same.train.text_a == same.train.text_b
    assert all(a == "" for a in split.train.text_a)            # tower A (title) gets nothing
    assert split.train.text_b == same.train.text_a              # tower B reads the text
    assert same.columns == {"label": "label", "title": None, "body": None, "text": "text"}


def test_cleaning_options_are_used_and_kept():
    df = _frame({"Hardware": 40, "Access": 40})
    df.loc[:, "title"] = df["title"] + " https://x.example/a"
    d = _prep(df, cleaning_options={"mask_urls": False}, split_col=None)
    assert all("https://x.example/a" in a for a in d.train.text_a)
    assert d.cleaning_options == {"mask_urls": False}
    assert _prep(df).cleaning_options is None


def test_fingerprint_and_report():
    df = _frame({"Hardware": 40, "Access": 40, "Storage": 3})
    df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    d = prepare_frame(df, label_col="label", title_col="title", body_col="body", source="/x/y/tickets.csv")
    assert d.fingerprint["rows"] == 80
    assert d.fingerprint["label_counts"] == {"Access": 40, "Hardware": 40}
    assert d.fingerprint["source"] == "tickets.csv"
    assert len(d.fingerprint["sha256"]) == 64
    assert d.fingerprint == prepare_frame(df, label_col="label", title_col="title", body_col="body",
                                          source="/x/y/tickets.csv").fingerprint
    lines = d.report.lines()
    assert lines[0] == "/x/y/tickets.csv: 84 rows read"
    assert "dropped 1 exact duplicates" in lines
    assert ("left out 3 rows of 1 label with fewer than 5 tickets each (the rare-label threshold: 1 % of the "
            "labeled rows, at least 5, at most 30): Storage (3)") in lines
    assert lines[-1] == "split: stratified; train 64; val 8; test 8"
    json.dumps(d.report.to_dict())      # serialisable (stored in bundle.json)


def test_should_stop_cancels():
    with pytest.raises(Cancelled):
        _prep(_frame({"Hardware": 40, "Access": 40}), should_stop=lambda: True)


# ---- files ------------------------------------------------------------------------------------
def test_prepare_reads_nested_json(tmp_path):
    recs = []
    for lab, prod in (("Hardware", "Credit card"), ("Access", "Mortgage"), ("Storage", "Student loan")):
        for r in _rows(lab, 12):
            recs.append({"_index": "complaints", "_source": {"complaint_what_happened": r["title"] + ". " + r["body"],
                                                              "product": prod, "meta": {"state": "CA"}}})
    recs.append({"_source": {"complaint_what_happened": "", "product": "Mortgage"}})    # empty text
    p = tmp_path / "complaints.json"
    p.write_text(json.dumps(recs), encoding="utf-8")
    d, _ = prepare(DataSpec(str(p), label_col="_source.product", text_col="_source.complaint_what_happened",
                            min_per_class=10))
    assert d.labels == ["Credit card", "Mortgage", "Student loan"]
    assert d.report.rows_read == 37 and d.report.dropped_empty == 1
    assert d.columns["text"] == "_source.complaint_what_happened"
    assert d.fingerprint["source"] == "complaints.json"
    assert any("printer" in a for a in d.train.text_a)
    # a wrong column name lists the flattened names
    with pytest.raises(DataError, match=r"_source\.complaint_what_happened"):
        prepare(DataSpec(str(p), label_col="product", text_col="_source.complaint_what_happened"))


def test_prepare_reads_csv_with_split_column(tmp_path):
    df = _frame({"Hardware": 40, "Access": 40})
    df["split"] = (["train"] * 32 + ["dev"] * 8) * 2
    p = tmp_path / "t.csv"
    df.to_csv(p, index=False)
    d, _ = prepare(DataSpec(str(p), label_col="label", title_col="title", body_col="body"))
    assert d.report.counts["val"] == {"Access": 8, "Hardware": 8}
    assert d.test is None


def test_the_rare_label_threshold_scales_with_the_data_and_is_explained():
    import pandas as pd

    from trainer.config import default_min_per_class
    from trainer.data import prepare_frame

    assert [default_min_per_class(n) for n in (50, 300, 1200, 3000, 38000)] == [5, 5, 12, 30, 30]
    labels = ["Hardware"] * 150 + ["Access"] * 140 + ["Payroll"] * 4 + ["Legal"] * 3 + ["Fleet"] * 3
    df = pd.DataFrame({"text": [f"ticket number {i} about {lab}" for i, lab in enumerate(labels)], "label": labels})
    data = prepare_frame(df, label_col="label", text_col="text", source="small.csv")
    r = data.report
    assert r.min_per_class == 5 and r.min_per_class_scaled and data.labels == ["Access", "Hardware"]
    line = next(x for x in r.lines() if x.startswith("left out"))
    assert line == ("left out 10 rows of 3 labels with fewer than 5 tickets each (the rare-label threshold: 1 % "
                    "of the labeled rows, at least 5, at most 30): Payroll (4), Fleet (3), Legal (3)")
    kept = prepare_frame(df, label_col="label", text_col="text", min_per_class=3, source="small.csv")
    assert kept.labels == ["Access", "Fleet", "Hardware", "Legal", "Payroll"] and not kept.report.min_per_class_scaled
    merged = prepare_frame(df, label_col="label", text_col="text", min_per_class=4, rare="other", source="s.csv")
    assert any(x.startswith("merged 6 rows of 2 labels with fewer than 4 tickets each (the rare-label threshold)")
               for x in merged.report.lines())
