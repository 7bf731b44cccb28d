"""A file whose columns are not the ones the model was trained on: the mapping proposed, the
prompt shown (Batch tab, `triage classify`), and split-routing models never fed one text column."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import load_file, run_batch
from triage_app.cli import main
from triage_app.mapping import check_mapping, suggest_mapping, trained_columns

TEXT_MODEL = {"routing": "same", "columns": {"label": "Topic_group", "title": None, "body": None,
                                             "text": "Document"}}
SPLIT_MODEL = {"routing": "split", "columns": {"label": "queue", "title": "subject", "body": "body",
                                               "text": None}}


# ---- the rules ------------------------------------------------------------------------------------
def test_trained_columns_of_old_or_foreign_bundles():
    assert trained_columns({}) == {"title": None, "body": None, "text": None, "label": None}
    assert trained_columns(TEXT_MODEL)["text"] == "Document"


def test_the_model_columns_win_over_the_guess():
    cols = ["id", "title", "Document", "Topic_group"]
    df = pd.DataFrame({c: ["x"] for c in cols})
    # the guess alone would take the file's 'title' column
    assert suggest_mapping(cols, df, None)["title"] == "title"
    got = suggest_mapping(cols, df, TEXT_MODEL)
    assert got == {"title": None, "body": None, "text": "Document", "label": "Topic_group"}
    # names are matched without regard to case or surrounding spaces
    assert suggest_mapping(["DOCUMENT ", "x"], None, TEXT_MODEL)["text"] == "DOCUMENT "
    # a split model's two columns must both be there to be used
    assert suggest_mapping(["subject", "description"], None, SPLIT_MODEL) == \
        suggest_mapping(["subject", "description"], None, None)


def test_prompt_names_the_training_columns_until_confirmed():
    cols = ["ticket_text", "prio"]
    msg = check_mapping({"text": "ticket_text"}, TEXT_MODEL, cols)
    assert msg and "Text ← 'Document'" in msg and "no column named 'Document'" in msg
    assert "Text ← 'ticket_text'" in msg
    assert check_mapping({"text": "ticket_text"}, TEXT_MODEL, cols, confirmed=True) is None
    assert check_mapping({"text": "Document"}, TEXT_MODEL, ["Document"]) is None
    assert check_mapping({"text": "x"}, {}, ["x"]) is None           # bundle without column record
    assert check_mapping({}, TEXT_MODEL, cols).startswith("Choose a Text column")


@pytest.mark.parametrize("mapping,gets", [({"text": "t"}, "one Text column"),
                                          ({"title": "s"}, "only a Title"),
                                          ({"body": "b"}, "only a Body"),
                                          ({"title": "s", "body": "b", "text": "t"}, "one Text column")])
def test_split_model_needs_title_and_body(mapping, gets):
    for confirmed in (False, True):        # structural: shown even after the user confirmed
        msg = check_mapping(mapping, SPLIT_MODEL, ["s", "b", "t"], confirmed=confirmed)
        assert msg and "separate towers" in msg and gets in msg
        assert "Title ← 'subject', Body ← 'body'" in msg
    assert check_mapping({"title": "s", "body": "b"}, SPLIT_MODEL, ["s", "b"], confirmed=True) is None


# ---- CLI --------------------------------------------------------------------------------------------
def _retag(bundle, **meta):
    p = bundle / "bundle.json"
    m = json.loads(p.read_text())
    m.update(meta)
    p.write_text(json.dumps(m))
    return bundle


def test_cli_uses_the_model_columns_and_says_when_they_are_missing(sample_csv, bundle_copy, tmp_path, capsys):
    df = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    b = _retag(bundle_copy, columns=TEXT_MODEL["columns"])
    # a file with the model's column plus a 'title' the guess would prefer
    f1 = tmp_path / "with_doc.csv"
    pd.DataFrame({"title": "printer", "Document": df["body"]}).to_csv(f1, index=False)
    out = tmp_path / "o1.csv"
    assert main(["classify", str(f1), "-o", str(out), "--model", str(b)]) == 0
    err = capsys.readouterr().err
    assert "note: columns" not in err
    ref = tmp_path / "ref.csv"
    assert main(["classify", str(f1), "-o", str(ref), "--model", str(b), "--text-col", "Document", "-q"]) == 0
    assert pd.read_csv(out)["predicted_label"].tolist() == pd.read_csv(ref)["predicted_label"].tolist()
    # a file without it: classified from the detected column, with a note naming both
    f2 = tmp_path / "other.csv"
    pd.DataFrame({"description": df["body"]}).to_csv(f2, index=False)
    assert main(["classify", str(f2), "-o", str(tmp_path / "o2.csv"), "--model", str(b)]) == 0
    err = capsys.readouterr().err
    assert "note: columns (detected): body <- 'description'" in err
    assert "trained on Text <- 'Document'" in err and "no column named 'Document'" in err
    # -q silences it; an explicit choice counts as confirmed
    assert main(["classify", str(f2), "-o", str(tmp_path / "o3.csv"), "--model", str(b),
                 "--text-col", "description"]) == 0
    assert "note: columns" not in capsys.readouterr().err
    # nothing to detect: the error names the model's column
    f3 = tmp_path / "nums.csv"
    pd.DataFrame({"id": [1, 2], "score": [3, 4]}).to_csv(f3, index=False)
    assert main(["classify", str(f3), "-o", str(tmp_path / "o4.csv"), "--model", str(b)]) == 2
    err = capsys.readouterr().err
    assert "cannot tell which column holds the ticket text (the model was trained on Text <- 'Document')" \
        in err.replace("←", "<-")
    assert not (tmp_path / "o4.csv").exists()


def test_cli_split_model_given_one_text_column(sample_csv, bundle_copy, tmp_path, capsys):
    df = pd.read_csv(sample_csv, dtype=str, keep_default_na=False).head(10)
    b = _retag(bundle_copy, routing="split", columns=SPLIT_MODEL["columns"])
    src = tmp_path / "t.csv"
    df.to_csv(src, index=False)
    assert main(["classify", str(src), "-o", str(tmp_path / "o.csv"), "--model", str(b),
                 "--text-col", "body"]) == 0
    err = capsys.readouterr().err
    assert "note: columns (given): text <- 'body'" in err and "separate towers" in err


# ---- Batch tab ----------------------------------------------------------------------------------------
def test_batch_prompts_for_columns_the_model_was_not_trained_on(win, qtbot, sample_csv, tmp_path):  # noqa: F811
    tab = win.batch
    meta = win.ctx.classifier.bundle.meta
    assert meta["columns"]["title"] == "title" and meta["columns"]["body"] == "body"
    df = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    # same columns as in training: no prompt
    same = tmp_path / "same.csv"
    df.to_csv(same, index=False)
    load_file(qtbot, win, same)
    assert not tab.mapping_note.isVisibleTo(tab)
    # other names: guessed, and a prompt that names what the model was trained on
    other = tmp_path / "helpdesk_export.csv"
    df.rename(columns={"title": "Subject", "body": "Description"}).to_csv(other, index=False)
    load_file(qtbot, win, other)
    assert tab.mapping()["title"] == "Subject" and tab.mapping()["body"] == "Description"
    assert tab.mapping_note.isVisibleTo(tab)
    text = tab.mapping_note.text()
    assert "Title ← 'title', Body ← 'body'" in text and "Title ← 'Subject'" in text
    assert tab.classify_btn.isEnabled()          # a prompt, not a block
    # the user confirms by choosing: the prompt goes, and stays gone for this file's columns
    tab.set_mapping(body="Description")
    tab.set_mapping(text=None)
    tab.col_combos["title"].setCurrentText("Subject")
    tab._mapping_changed()
    assert not tab.mapping_note.isVisibleTo(tab)
    load_file(qtbot, win, other)
    assert not tab.mapping_note.isVisibleTo(tab)
    assert run_batch(qtbot, win) == "finished"
