"""`triage` CLI end to end on real files with the tiny bundle."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from triage_app.cli import PRED_COLUMNS, main


@pytest.fixture(scope="module")
def sample_df(sample_csv):
    return pd.read_csv(sample_csv, dtype=str, keep_default_na=False)


def _write(df, path):
    ext = path.suffix
    if ext == ".csv":
        df.to_csv(path, index=False)
    elif ext == ".tsv":
        df.to_csv(path, index=False, sep="\t")
    elif ext == ".xlsx":
        df.to_excel(path, index=False)
    elif ext == ".json":
        df.to_json(path, orient="records")
    elif ext == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    return path


def _read(path):
    from triage_app.io import read_table
    return read_table(path)[0]


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".xlsx", ".json", ".jsonl"])
def test_classify_each_format(ext, sample_df, tiny_bundle, tmp_path):
    src = _write(sample_df, tmp_path / f"tickets{ext}")
    out = tmp_path / f"out{ext}"
    assert main(["classify", str(src), "-o", str(out), "--model", str(tiny_bundle), "-q"]) == 0
    res = _read(out)
    assert len(res) == len(sample_df)
    assert list(res.columns) == list(sample_df.columns) + PRED_COLUMNS
    assert res["ticket_id"].tolist() == sample_df["ticket_id"].tolist()
    assert set(res["predicted_label"]) <= set(json.loads((tiny_bundle / "bundle.json").read_text())["labels"])


def test_streaming_over_several_chunks_keeps_order(sample_df, tiny_bundle, tmp_path):
    big = pd.concat([sample_df] * 4, ignore_index=True)
    big["ticket_id"] = [f"T{i}" for i in range(len(big))]
    src = _write(big, tmp_path / "big.csv")
    out = tmp_path / "big.out.csv"
    assert main(["classify", str(src), "-o", str(out), "--model", str(tiny_bundle), "--chunk-size", "50", "-q"]) == 0
    res = _read(out)
    assert res["ticket_id"].tolist() == big["ticket_id"].tolist()
    one = tmp_path / "one.out.csv"
    assert main(["classify", str(src), "-o", str(one), "--model", str(tiny_bundle), "-q"]) == 0
    # same numbers whatever the chunking (labels of near-ties may flip with padding rounding)
    a = _read(one)["confidence"].astype(float).to_numpy()
    b = res["confidence"].astype(float).to_numpy()
    assert abs(a - b).max() < 2e-3


def test_formula_cells_are_escaped_in_csv_and_xlsx(tiny_bundle, tmp_path):
    df = pd.DataFrame({"title": ["=HYPERLINK(\"http://evil\")", "+1 call me", "normal"],
                       "body": ["-2+3", "@SUM(A1)", "printer jam"]})
    src = _write(df, tmp_path / "f.csv")
    for ext in (".csv", ".xlsx"):
        out = tmp_path / f"f.out{ext}"
        assert main(["classify", str(src), "-o", str(out), "--model", str(tiny_bundle), "-q"]) == 0
        if ext == ".csv":
            raw = out.read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
            text = raw.decode("utf-8-sig")
            assert "'=HYPERLINK" in text and "'+1 call me" in text and "'-2+3" in text and "'@SUM" in text
        else:
            import openpyxl
            ws = openpyxl.load_workbook(out).active
            vals = [c.value for c in ws["A"]]
            assert vals[1].startswith("'=") and vals[2].startswith("'+")


def test_one_ticket_text_and_json(tiny_bundle, capsys):
    assert main(["classify", "--model", str(tiny_bundle), "--title", "VPN down", "--body", "cannot connect", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) == {"label", "confidence", "top", "needs_review", "review_reason"} and len(d["top"]) == 3


@pytest.mark.parametrize("argv_tail, msg", [
    (["MISSING.csv"], "file not found"),
    (["SAMPLE", "--text-col", "nope"], "'nope'"),
    (["SAMPLE", "--model", "/no/such/model"], "no such model"),
    (["SAMPLE", "--batch-size", "0"], "--batch-size must be at least 1"),
])
def test_bad_input_exit_2_one_line(argv_tail, msg, tiny_bundle, sample_csv, tmp_path, capsys):
    argv = ["classify"] + [str(sample_csv) if a == "SAMPLE" else (str(tmp_path / a) if a == "MISSING.csv" else a)
                           for a in argv_tail]
    if "--model" not in argv:
        argv += ["--model", str(tiny_bundle)]
    argv += ["-o", str(tmp_path / "o.csv"), "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o.csv").exists()


def test_binary_file_renamed_csv(tiny_bundle, tmp_path, capsys):
    f = tmp_path / "image.csv"
    f.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    assert main(["classify", str(f), "--model", str(tiny_bundle), "-o", str(tmp_path / "o.csv"), "-q"]) == 2
    assert "image.csv" in capsys.readouterr().err


def test_ambiguous_columns_listed(tiny_bundle, tmp_path, capsys):
    df = pd.DataFrame({"a": ["1", "2"], "b": ["3", "4"]})  # no text-like column to guess
    src = _write(df, tmp_path / "n.csv")
    rc = main(["classify", str(src), "--model", str(tiny_bundle), "-o", str(tmp_path / "o.csv"), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "--text-col" in err and "Columns: a, b" in err
    assert not (tmp_path / "o.csv").exists()


def test_models_list_import_export(tiny_bundle, tmp_path, data_dir, capsys):
    z = tmp_path / "m.zip"
    assert main(["models", "export", str(tiny_bundle), str(z)]) == 0
    assert main(["models", "import", str(z)]) == 0
    capsys.readouterr()
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r.get("name") == "tiny-test" and r["kind"] == "user" for r in rows)


def test_eval_prints_report_and_png(tiny_bundle, sample_csv, tmp_path, capsys):
    png = tmp_path / "cm.png"
    assert main(["eval", str(tiny_bundle), str(sample_csv), "--label-col", "category", "--confusion", str(png), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["rows"] == 96 and 0 <= d["model"]["accuracy"] <= 1
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_eval_baseline_is_fitted_outside_the_split(tiny_bundle, sample_csv, tmp_path, capsys):
    import numpy as np
    import pandas as pd

    from trainer.evaluate import tfidf_baseline
    from triage_app.engine import TicketClassifier
    from triage_app.text import compose

    df = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    df["split"] = ["test" if i % 3 == 0 else "train" for i in range(len(df))]
    f = tmp_path / "split.csv"
    df.to_csv(f, index=False)
    assert main(["eval", str(tiny_bundle), str(f), "--label-col", "category", "--split", "test", "--baseline",
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    labels = TicketClassifier.load(tiny_bundle, device="cpu").labels
    known = {lab: i for i, lab in enumerate(labels)}
    te, tr = df[df.split == "test"], df[df.split == "train"]
    te, tr = te[te.category.isin(known)], tr[tr.category.isin(known)]
    text = [compose(a, b, None, "same")[0] for a, b in zip(pd.concat([tr, te]).title, pd.concat([tr, te]).body)]
    want = tfidf_baseline(text[:len(tr)], np.array([known[v] for v in tr.category]), text[len(tr):],
                          np.array([known[v] for v in te.category]), labels)
    assert d["rows"] == len(te)
    assert d["baseline_tfidf"]["accuracy"] == pytest.approx(want["accuracy"])
    assert d["baseline_tfidf"]["macro_f1"] == pytest.approx(want["macro_f1"])
    assert main(["eval", str(tiny_bundle), str(sample_csv), "--label-col", "category", "--baseline"]) == 2
    assert "--baseline needs --split" in capsys.readouterr().err


def test_thresholds_from_stored_validation_and_save(bundle_copy, capsys):
    assert main(["thresholds", str(bundle_copy), "--target-precision", "0.5", "--save"]) == 0
    out = capsys.readouterr().out
    assert "auto-routed" in out and "saved" in out
    meta = json.loads((bundle_copy / "bundle.json").read_text())
    import numpy as np

    with np.load(bundle_copy / "validation.npz") as z:
        predicted = {meta["labels"][i] for i in z["probs"].argmax(1)}
    # a class the model never predicts on validation gets no threshold of its own (the global one
    # applies) and the output says "no tickets" for it
    assert set(meta["class_thresholds"]) == predicted
    assert all(f"({'no tickets'})" in out for lab in set(meta["labels"]) - predicted)


def test_train_quick_then_classify(tiny_checkpoint, sample_csv, tmp_path, data_dir, capsys):
    out = tmp_path / "trained"
    rc = main(["train", str(sample_csv), "--label-col", "category", "--title-col", "title", "--body-col", "body",
               "--preset", "quick", "--base-model", str(tiny_checkpoint), "--epochs", "2", "--batch-size", "16",
               "--max-length", "48", "--min-per-class", "5", "--out", str(out), "--card"])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["bundle"] == str(out) and (out / "MODEL_CARD.md").exists() and (out / "confusion.png").exists()
    assert main(["classify", "--model", str(out), "--text", "printer broken"]) == 0


def test_train_bad_label_column_exit_2(tiny_checkpoint, sample_csv, tmp_path, data_dir, capsys):
    rc = main(["train", str(sample_csv), "--label-col", "nope", "--text-col", "body", "--base-model",
               str(tiny_checkpoint), "--out", str(tmp_path / "x")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "nope" in err and "category" in err
    assert not (tmp_path / "x").exists()


def test_train_with_corrections_overrides_labels(tiny_checkpoint, sample_csv, tmp_path, data_dir, capsys):
    import pandas as pd

    from triage_app.corrections import CorrectionsStore

    df = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    store = CorrectionsStore(tmp_path / "c.sqlite3")
    row = df.iloc[0]
    new_label = next(c for c in sorted(df.category.unique()) if c != row.category)
    store.add(f"{row.title}. {row.body}", {"title": row.title, "body": row.body}, row.category, 0.4,
              new_label, "1")
    store.add("A brand new ticket about the coffee machine", {"title": "Coffee machine", "body": "It leaks"},
              "Hardware", 0.3, "Miscellaneous", "1")
    out = tmp_path / "m"
    rc = main(["train", str(sample_csv), "--label-col", "category", "--title-col", "title", "--body-col", "body",
               "--preset", "quick", "--base-model", str(tiny_checkpoint), "--epochs", "1", "--min-per-class", "5",
               "--max-length", "32", "--corrections", str(tmp_path / "c.sqlite3"), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "corrections: overridden 1, added 1" in err
    import json
    meta = json.loads((out / "bundle.json").read_text())
    assert meta["data_report"]["corrections"] == {"overridden": 1, "added": 1, "unchanged": len(df) - 1}


# ---- progress bars (tqdm on stderr) -------------------------------------------------------------
def test_progress_bar_forced_draws_on_stderr(tiny_bundle, sample_csv, tmp_path, capsys):
    out = tmp_path / "o.csv"
    assert main(["classify", str(sample_csv), "-o", str(out), "--model", str(tiny_bundle), "--device", "cpu",
                 "--progress"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert "classify sample_tickets.csv" in err and "96/96" in err and "100%" in err and "rows/s" in err
    assert err.rstrip("\n").splitlines()[-1].startswith("96 tickets classified")


def test_no_bar_without_terminal_only_the_summary(tiny_bundle, sample_csv, tmp_path, capsys):
    out = tmp_path / "o.csv"
    assert main(["classify", str(sample_csv), "-o", str(out), "--model", str(tiny_bundle), "--device", "cpu"]) == 0
    err = capsys.readouterr().err  # capsys's stderr is not a terminal
    assert "\r" not in err and "%|" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("96 tickets classified") and str(out) in lines[0]


def test_quiet_wins_over_progress(tiny_bundle, sample_csv, tmp_path, capsys):
    out = tmp_path / "o.csv"
    assert main(["classify", str(sample_csv), "-o", str(out), "--model", str(tiny_bundle), "--device", "cpu",
                 "--progress", "-q"]) == 0
    assert capsys.readouterr().err == ""
    assert out.exists()


def test_eval_progress_bar_forced(tiny_bundle, sample_csv, capsys):
    assert main(["eval", str(tiny_bundle), str(sample_csv), "--label-col", "category", "--device", "cpu",
                 "--json", "--progress"]) == 0
    captured = capsys.readouterr()
    assert "eval" in captured.err and "96/96" in captured.err
    assert json.loads(captured.out)["rows"] == 96  # the bar never mixes into the report on stdout


def test_progress_bar_helper(capsys):
    """The helper `triage train` uses for its phases: a tqdm on stderr, silent when disabled."""
    from triage_app.cli import progress_bar

    bar = progress_bar(10, "head epoch 1", enabled=True, unit="steps")
    bar.update(4)
    bar.update(6)
    bar.close()
    off = progress_bar(None, "hidden", enabled=False)
    off.update(5)
    off.close()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "head epoch 1" in captured.err and "10/10" in captured.err and "steps/s" in captured.err
    assert "hidden" not in captured.err
