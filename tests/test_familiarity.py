"""The unfamiliar-ticket signal: limits chosen on validation, stored in the bundle, served by the
engine and shown in every output (CLI columns, Batch table and export, Triage badge)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from triage_app.bundle import BundleError, load_bundle
from triage_app.familiarity import UNSEEN_FLOOR, fit_familiarity

IN_DOMAIN = ["printer jams on floor three", "vpn drops every hour from home", "reset my password please",
             "laptop screen flickers after the update", "add me to the finance shared drive",
             "order a new monitor for the desk", "outlook does not sync my calendar",
             "badge does not open the door on floor two"]


def _val(n=200):
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(" ".join(IN_DOMAIN).split(), 6)) for _ in range(n)]


def test_limits_are_chosen_on_validation_and_flag_the_right_tickets():
    fam = fit_familiarity(IN_DOMAIN * 5, _val(), val_correct=[True] * 200)
    assert fam.min_words == 2
    assert fam.unseen_limit == UNSEEN_FLOOR          # every validation word is known: the floor holds
    assert fam.validation["rows"] == 200 and fam.validation["flagged"] == 0
    r = fam.reasons(["printer jams on floor three", "hi", "", "xqzv blorf wug zzzt",
                     "ich kann mich nicht am vpn anmelden bitte um hilfe"])
    assert r[0] == ""
    assert r[1] == "too short (1 word)"
    assert r[2] == "too short (0 words)"
    assert r[3].startswith("unfamiliar words (100%")
    assert r[4].startswith("unfamiliar words (") and "not seen in training" in r[4]


def test_validation_that_is_unfamiliar_itself_raises_the_limit():
    rng = np.random.default_rng(1)
    val = [f"{t} {' '.join(f'w{rng.integers(1e9)}' for _ in range(3))}" for t in _val(300)]   # 1/3 new words
    fam = fit_familiarity(IN_DOMAIN, val)
    assert fam.unseen_limit > 0.33                    # its 99th percentile, so ~1 % are flagged
    assert fam.validation["flagged"] <= 0.02 * 300


def test_helpdesks_of_one_word_tickets_keep_them():
    fam = fit_familiarity(IN_DOMAIN + ["printer"], ["printer"] * 50 + _val(50))
    assert fam.min_words == 0 and fam.reasons(["printer"]) == [""]


# ---- bundles and serving ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lexical_bundle(sample_csv, tmp_path_factory):
    """A real lexical-only bundle of the sample tickets (the ``lexical`` preset: seconds)."""
    from trainer.config import TrainConfig
    from trainer.pipeline import DataSpec, run

    spec = DataSpec(str(sample_csv), "category", title_col="title", body_col="body", min_per_class=5,
                    val_frac=0.25, test_frac=0.15)
    out = tmp_path_factory.mktemp("lex") / "lex-bundle"
    o = run(spec, TrainConfig.lexical(), out, name="lex")
    return load_bundle(o.bundle_path)


def test_the_pipeline_stores_the_signal_and_the_engine_serves_it(lexical_bundle):
    from triage_app.engine import TicketClassifier

    b = lexical_bundle
    fam = b.familiarity
    assert fam["vocabulary_sha256"] and fam["min_words"] == 2 and fam["unseen_limit"] >= UNSEEN_FLOOR
    words = b.vocabulary_path.read_text(encoding="utf-8").split()
    assert "printer" in words or "laptop" in words
    clf = TicketClassifier.load(b, device="cpu")
    gib, ok, short = clf.predict([{"title": "Zorblat quenx", "body": "vrum skreel glorp fnax"},
                                  {"title": "Laptop won't power on", "body": "The charging light blinks"},
                                  {"text": "hi"}])
    assert gib.needs_review and gib.review_reason.startswith("unfamiliar words (100%")
    assert not ok.review_reason.startswith(("unfamiliar", "too short"))
    assert short.needs_review and short.review_reason == "too short (1 word)"
    # a confident in-domain ticket: its reason is the confidence or nothing, never the signal
    assert ok.needs_review == bool(ok.review_reason)


def test_the_vocabulary_is_checked_like_the_model(lexical_bundle, tmp_path):
    import shutil

    b = tmp_path / "b"
    shutil.copytree(lexical_bundle.path, b)
    with open(b / "vocabulary.txt", "a", encoding="utf-8") as f:
        f.write("smuggled\n")
    with pytest.raises(BundleError, match="vocabulary.txt: sha256 mismatch"):
        load_bundle(b)
    (b / "vocabulary.txt").unlink()
    with pytest.raises(BundleError, match="vocabulary.txt: missing"):
        load_bundle(b)
    meta = json.loads((b / "bundle.json").read_text(encoding="utf-8"))
    meta["familiarity"]["unseen_limit"] = 3
    (b / "bundle.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(BundleError, match="unseen_limit must be a number in"):
        load_bundle(b, verify_hash=False)


def test_a_bundle_without_the_signal_flags_by_confidence_only(tiny_bundle):
    from triage_app.engine import TicketClassifier

    clf = TicketClassifier.load(tiny_bundle, device="cpu")
    assert clf.familiarity is None
    p = clf.predict({"text": "zorblat quenx vrum"}, threshold=0.0)
    assert not p.needs_review and p.review_reason == ""
    p = clf.predict({"text": "zorblat quenx vrum"}, threshold=1.0)
    assert p.needs_review and p.review_reason.startswith("low confidence (")


def test_cli_classify_writes_the_review_reason(lexical_bundle, tmp_path, capsys):
    from triage_app.cli import main

    src = tmp_path / "in.csv"
    pd.DataFrame({"title": ["Zorblat quenx", "Laptop won't power on", ""],
                  "body": ["vrum skreel glorp fnax", "The charging light blinks", "hi"]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    assert main(["classify", str(src), "--model", str(lexical_bundle.path), "--output", str(out), "-q"]) == 0
    res = pd.read_csv(out, keep_default_na=False)
    assert res["review_reason"][0].startswith("unfamiliar words") and res["needs_review"][0]
    assert res["review_reason"][2] == "too short (1 word)"
    assert main(["classify", "--model", str(lexical_bundle.path), "--text", "hi"]) == 0
    assert "[needs review: too short (1 word)]" in capsys.readouterr().out


def test_batch_results_show_and_export_the_reason(qapp):
    from triage_app.gui.results_model import ResultsModel

    df = pd.DataFrame({"text": ["a", "b", "c"]})
    m = ResultsModel(df, ["x", "y"])
    m.set_thresholds(0.6, {})
    m.append_chunk(0, np.array([[0.9, 0.1], [0.55, 0.45], [0.95, 0.05]], dtype=np.float32),
                   ["", "", "unfamiliar words (80% not seen in training)"])
    assert [m.data(m.index(r, 2)) for r in range(3)] == ["", "Review", "Unfamiliar words"]
    assert m.data(m.index(2, 2), role=3) == "unfamiliar words (80% not seen in training)"   # tooltip
    out = m.to_frame()
    assert out["needs_review"].tolist() == [False, True, True]
    assert out["review_reason"].tolist() == ["", "low confidence (55% < 60%)",
                                             "unfamiliar words (80% not seen in training)"]
    m.set_thresholds(0.5, {})                       # a lower threshold never clears the signal
    assert m.to_frame()["review_reason"].tolist() == ["", "", "unfamiliar words (80% not seen in training)"]


def test_triage_tab_badge_says_why(win, qtbot, lexical_bundle, tmp_path):
    """A lexical-only bundle served in the app: an unfamiliar ticket is badged with the reason,
    which a lower review threshold does not clear; a known ticket follows its confidence."""
    import shutil

    from tests.test_gui_triage import classify

    dst = tmp_path / "lex"
    shutil.copytree(lexical_bundle.path, dst)
    win.ctx.activate(dst)
    tab = win.triage
    r = classify(qtbot, tab, "Zorblat quenx", "vrum skreel glorp fnax")
    assert r["needs_review"] and r["review_reason"].startswith("unfamiliar words (100%")
    assert tab.badge.text() == "Needs review · unfamiliar words"
    assert "not seen in training" in tab.badge.toolTip() and "not seen in training" in tab.conf_view.text()
    assert json.loads(tab.result_text("json"))["review_reason"] == r["review_reason"]
    r = classify(qtbot, tab, "Laptop won't power on", "The charging light blinks orange and nothing happens")
    assert r["flag"] == "" and r["needs_review"] == (r["confidence"] < r["threshold"])
    assert tab.badge.text() == ("Needs review" if r["needs_review"] else "Auto-route")
