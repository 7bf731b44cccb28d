"""Hybrid models: the blend formula, the choice on validation, bundles with a lexical part, and
the engine serving them (real tiny training, real ONNX Runtime)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import tiny_config
from trainer.hybrid import choose, score_weights
from triage_app.bundle import BundleError, load_bundle
from triage_app.hybrid import blend_logits, log_softmax
from triage_app.text import lexical_text


def test_blend_formula():
    t = np.array([[2.0, 0.0, -1.0]])
    p = np.array([[0.2, 0.5, 0.3]])
    assert np.allclose(blend_logits(t, None, 0.0), t)
    assert np.allclose(blend_logits(None, p, 1.0), np.log(p))
    assert np.allclose(blend_logits(t, p, 0.25), 0.75 * log_softmax(t) + 0.25 * np.log(p), atol=1e-6)
    assert np.isfinite(blend_logits(t, np.array([[1.0, 0.0, 0.0]]), 0.5)).all()   # a zero probability
    with pytest.raises(ValueError):
        blend_logits(t, p, 1.5)


def test_lexical_text_joins_and_lowercases():
    assert lexical_text("Drucker Größe", "Drucker Größe") == "drucker größe"
    assert lexical_text("VPN", "Drops every HOUR") == "vpn drops every hour"
    assert lexical_text("", "Body only") == "body only"
    assert lexical_text("Title only", "") == "title only"


def test_the_useless_part_gets_no_weight():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    good_logits = np.eye(4)[y] * 5.0 + rng.normal(0, 0.1, (400, 4))
    noise_logits = rng.normal(0, 1, (400, 4))
    good_probs = np.eye(4)[y] * 0.9 + 0.025
    noise_probs = rng.dirichlet(np.ones(4), 400)
    # the transformer knows, the lexical model guesses: the transformer alone (a tie goes to the
    # smaller lexical weight, so the tie between 0 and small weights picks 0)
    assert choose(score_weights(good_logits, noise_probs, y, 4))["lexical_weight"] == 0.0
    # the lexical model knows, the transformer guesses: mostly or only the lexical model
    best = choose(score_weights(noise_logits, good_probs, y, 4))
    assert best["lexical_weight"] >= 0.5 and best["macro_f1"] == 1.0


def test_one_rare_ticket_does_not_choose_the_weight():
    """Validation log-loss chooses: a transformer that is worse on 399 of 400 tickets but happens to
    get the only validation ticket of a rare label right wins on macro-F1 (a third of it is that one
    ticket), not on log-loss, which weighs every ticket."""
    rng = np.random.default_rng(1)
    y = np.r_[rng.integers(0, 2, 399), 2]
    lex = np.full((400, 3), 0.05)
    lex[np.arange(400), y] = 0.9
    lex[399] = [0.9, 0.08, 0.02]                     # the rare ticket: the lexical model says label 0
    trans = rng.normal(0, 1, (400, 3))
    right = rng.random(400) < 0.8                    # the transformer: right on about 80 % of tickets
    trans[np.arange(400)[right], y[right]] += 3.0
    trans[:, 2] -= 3.0                               # it never says the rare label...
    trans[399] = [0.0, 0.0, 4.0]                     # ...except on the one validation ticket
    scores = score_weights(trans, lex, y, 3)
    by_f1 = max(scores, key=lambda s: (round(s["macro_f1"], 12), -s["lexical_weight"]))
    assert by_f1["lexical_weight"] <= 0.5             # macro-F1 follows the rare ticket
    best = choose(scores)
    assert best["lexical_weight"] > 0.5
    assert best["log_loss"] == min(s["log_loss"] for s in scores)
    assert best["accuracy"] > by_f1["accuracy"]


def _train_hybrid(tiny_checkpoint, sample_csv, tmp_path, force_weight=None, monkeypatch=None):
    from trainer import hybrid
    from trainer.pipeline import DataSpec, run

    if force_weight is not None:
        monkeypatch.setattr(hybrid, "choose", lambda scores: next(
            (s for s in scores if s["lexical_weight"] == force_weight), scores[0]))
    spec = DataSpec(str(sample_csv), "category", title_col="title", body_col="body", min_per_class=5,
                    val_frac=0.25, test_frac=0.15)
    cfg = tiny_config(tiny_checkpoint, head_epochs=2, finetune_epochs=0, finetune_layers=0, preset="quick",
                      max_length=32, precision="fp32")    # validation scores comparable with ONNX fp32
    return run(spec, cfg, tmp_path / "m", name="hyb", export_options={"quantize": False})


@pytest.mark.parametrize("weight,chosen", [(0.5, "blend"), (1.0, "lexical"), (0.0, "transformer")])
def test_each_path_exports_loads_and_classifies(weight, chosen, tiny_checkpoint, sample_csv, tmp_path,
                                                data_dir, monkeypatch, one_torch_thread):
    from triage_app.engine import TicketClassifier

    o = _train_hybrid(tiny_checkpoint, sample_csv, tmp_path, weight, monkeypatch)
    b = load_bundle(o.bundle_path)
    h = b.meta["hybrid"]
    assert h["chosen"] == chosen and b.lexical_weight == weight
    assert set(h["candidates"]) == {"transformer", "lexical", "blend"}
    assert (b.lexical_path.is_file()) == (weight > 0)
    # the lexical model alone wins: the bundle has no transformer at all, and is served without one
    assert b.model_path.is_file() == b.tokenizer_path.is_file() == (weight < 1) == (not b.lexical_only)
    clf = TicketClassifier.load(b, device="cpu")
    assert (clf.lexical_session is not None) == (weight > 0)
    assert (clf.session is None) == (weight == 1.0)
    preds = clf.predict(["Printer on floor 3 jams", {"title": "VPN", "body": "cannot connect from home"}])
    assert all(p.label in b.labels and 0 < p.confidence <= 1 for p in preds)
    # the validation scores stored in the bundle are what the engine serves for those rows, calibrated
    from trainer.pipeline import DataSpec, prepare
    data, _ = prepare(DataSpec(str(sample_csv), "category", title_col="title", body_col="body",
                               min_per_class=5, val_frac=0.25, test_frac=0.15))
    with np.load(b.validation_path) as z:
        stored = z["probs"]
    assert np.abs(stored - held_out_served(clf, data, weight)).max() < 2e-3
    ex = o.metrics["test_exported"]
    assert ("blended with the lexical model" in ex["how"]) == (0 < weight < 1)
    assert ("the lexical model alone" in ex["how"]) == (weight == 1)
    # the unfamiliar-ticket signal comes with every bundle the pipeline writes
    fam = b.meta["familiarity"]
    assert b.vocabulary_path.is_file() and fam["words"] > 50 and 0.25 <= fam["unseen_limit"] < 1
    if weight > 0:
        assert b.meta["export"]["lexical"]["max_abs_diff"] < 1e-4
    # explanations run through the served blend
    assert clf.explain("printer jams on floor 3")


def held_out_served(clf, data, weight):
    """What the engine serves for the validation rows, calibrated, with the lexical part's
    probabilities held out (out of fold: the served lexical model was refitted on those rows)."""
    from trainer.hybrid import split_texts
    from trainer.lexical import fit_lexical
    from triage_app.hybrid import blend_logits

    pairs = list(zip(data.val.text_a, data.val.text_b))
    if weight == 0:
        return clf.probabilities(clf._logits_for(pairs, None))
    lex = fit_lexical(split_texts(data.train), data.train.y, split_texts(data.val), data.val.y, len(data.labels))
    transformer = clf.transformer_logits(pairs, None) if weight < 1 else None
    return clf.probabilities(blend_logits(transformer, lex.val_proba, weight))


def test_served_validation_probabilities_match_the_engine(tiny_checkpoint, sample_csv, tmp_path, data_dir,
                                                          monkeypatch, one_torch_thread):
    """validation.npz (threshold tools) holds the blend the engine serves, calibrated, on held-out
    predictions: the lexical part's are out of fold, so they differ from the served (refitted) ones."""
    from trainer.pipeline import DataSpec, prepare
    from triage_app.engine import TicketClassifier

    o = _train_hybrid(tiny_checkpoint, sample_csv, tmp_path, 0.5, monkeypatch)
    b = load_bundle(o.bundle_path)
    data, _ = prepare(DataSpec(str(sample_csv), "category", title_col="title", body_col="body",
                               min_per_class=5, val_frac=0.25, test_frac=0.15))
    clf = TicketClassifier.load(b, device="cpu")
    pairs = list(zip(data.val.text_a, data.val.text_b))
    with np.load(b.validation_path) as z:
        stored, y = z["probs"], z["y"]
    assert np.array_equal(y, data.val.y)
    # transformer: PyTorch fp32 at training time vs ONNX fp32 now; lexical: scikit-learn out of fold
    assert np.abs(stored - held_out_served(clf, data, 0.5)).max() < 2e-3
    # the served lexical model has read the validation rows (refitted on training + validation)
    assert b.meta["hybrid"]["lexical"]["fitted_on"] == "train+validation"
    assert np.abs(stored - clf.probabilities(clf._logits_for(pairs, None))).max() > 2e-3
    assert b.temperature == pytest.approx(o.metrics["hybrid"]["temperature"])


def test_hybrid_bundle_is_validated(tiny_checkpoint, sample_csv, tmp_path, data_dir, monkeypatch, one_torch_thread):
    o = _train_hybrid(tiny_checkpoint, sample_csv, tmp_path, 0.5, monkeypatch)
    src = tmp_path / "m"
    bad = tmp_path / "bad"

    def variant(edit_meta=None, drop_lexical=False, corrupt=False):
        shutil.rmtree(bad, ignore_errors=True)
        shutil.copytree(src, bad)
        if edit_meta:
            meta = json.loads((bad / "bundle.json").read_text())
            edit_meta(meta)
            (bad / "bundle.json").write_text(json.dumps(meta))
        if drop_lexical:
            (bad / "lexical.onnx").unlink()
        if corrupt:
            with open(bad / "lexical.onnx", "ab") as f:
                f.write(b"x")
        return bad

    assert load_bundle(o.bundle_path).lexical_weight == 0.5
    with pytest.raises(BundleError, match="lexical_weight"):
        load_bundle(variant(lambda m: m["hybrid"].update(lexical_weight=2)))
    with pytest.raises(BundleError, match=r"lexical\.onnx: missing"):
        load_bundle(variant(drop_lexical=True))
    with pytest.raises(BundleError, match="sha256 mismatch"):
        load_bundle(variant(corrupt=True))


def test_a_bundle_without_a_lexical_part_loads_and_serves_unchanged(tiny_bundle):
    from triage_app.engine import TicketClassifier

    b = load_bundle(tiny_bundle)
    assert "hybrid" not in b.meta and b.lexical_weight == 0.0
    clf = TicketClassifier.load(b, device="cpu")
    assert clf.lexical_session is None
    pairs = [clf.compose("printer jams")]
    assert np.array_equal(clf._logits_for(pairs, None), clf.transformer_logits(pairs, None))


FROM_ARGS = ["--label-col", "category", "--title-col", "title", "--body-col", "body", "--min-per-class", "5",
             "--val-frac", "0.25", "--test-frac", "0.15"]


def test_hybrid_on_an_existing_transformer(tiny_checkpoint, sample_csv, tmp_path, data_dir, monkeypatch,
                                           capsys, one_torch_thread):
    """`triage train --transformer-from`: the bundle's ONNX transformer is kept byte for byte, only the
    lexical model is fitted; the test figures are those of the served blend, measured anew."""
    from triage_app.bundle import sha256_file
    from triage_app.cli import main
    from triage_app.engine import TicketClassifier

    base_dir = Path(_train_hybrid(tiny_checkpoint, sample_csv, tmp_path, 0.0, monkeypatch).bundle_path)
    monkeypatch.undo()                                    # the real choice from here on
    base = load_bundle(base_dir)
    out = tmp_path / "hyb"
    extra = tmp_path / "extra.md"
    extra.write_text("## Limits seen\n\nA hand-written section.\n")
    rc = main(["train", str(sample_csv), *FROM_ARGS, "--transformer-from", str(base_dir), "--card",
               "--card-extra", str(extra), "--version", "2", "--compare", str(base_dir), "-q", "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    s = json.loads(cap.out)
    b = load_bundle(out)
    assert sha256_file(b.model_path) == sha256_file(base.model_path)
    assert b.meta["metrics"]["hybrid"]["transformer_from"] == "hyb v1"
    assert b.meta["data_fingerprint"] == base.meta["data_fingerprint"]
    assert s["hybrid"]["chosen"] == b.meta["hybrid"]["chosen"]
    assert set(s["hybrid"]["candidates"]) >= {"transformer", "lexical"}
    # the rule that chose is recorded, and the choice is the candidate with the lowest log-loss
    assert s["hybrid"]["chosen_by"] == b.meta["hybrid"]["chosen_by"] == "validation log-loss"
    cands = s["hybrid"]["candidates"]
    assert cands[s["hybrid"]["chosen"]]["log_loss"] == min(c["log_loss"] for c in cands.values())
    assert s["compared_with_active"]["rows"] > 0            # --compare is honoured
    assert "caveat" not in s["compared_with_active"]        # the same split, its TF-IDF part not served
    assert b.version == "2"
    # the served blend measured on the test rows, not the base's transformer-only figure
    from trainer.evaluate import classification_report
    from trainer.pipeline import DataSpec, prepare
    data, _ = prepare(DataSpec(str(sample_csv), "category", title_col="title", body_col="body",
                               min_per_class=5, val_frac=0.25, test_frac=0.15))
    clf = TicketClassifier.load(b, device="cpu")
    probs = clf.probabilities(clf._logits_for(list(zip(data.test.text_a, data.test.text_b)), None))
    served = classification_report(data.test.y, probs.argmax(1), b.labels)
    assert s["test_exported"]["rows"] == len(data.test.y)
    assert s["test_exported"]["accuracy"] == pytest.approx(served["accuracy"], abs=1e-9)
    card = (out / "MODEL_CARD.md").read_text()
    assert "A hand-written section." in card and card.index("Limits seen") < card.index("## Retraining")
    assert "## Hybrid" in card and "kept as exported" in card and "chosen by validation log-loss" in card
    assert "| validation log-loss |" in card
    assert clf.predict("printer jams on floor 3").label in b.labels


def test_transformer_from_refuses_other_data_flags_and_folders(tiny_checkpoint, tiny_bundle, sample_csv, tmp_path,
                                                                data_dir, monkeypatch, capsys, one_torch_thread):
    from triage_app.cli import main

    base_dir = Path(_train_hybrid(tiny_checkpoint, sample_csv, tmp_path, 0.0, monkeypatch).bundle_path)
    monkeypatch.undo()

    def train(*extra, base=base_dir, out=tmp_path / "x"):
        rc = main(["train", str(sample_csv), *FROM_ARGS, *extra, "--transformer-from", str(base), "-q",
                   "--out", str(out)])
        return rc, capsys.readouterr().err

    # other held-out shares: the new validation rows could be the transformer's training rows
    rc, err = train("--val-frac", "0.3")
    assert rc == 2 and "was trained on" in err and not (tmp_path / "x").exists()
    # a transformer trained on other rows (the session's tiny bundle: no test split)
    rc, err = train(base=tiny_bundle)
    assert rc == 2 and "was trained on" in err
    rc, err = train("--merge-map", str(_merge_map(tmp_path)))          # other labels
    assert rc == 2 and "cannot be reused" in err
    rc, err = train("--no-lexical")
    assert rc == 2 and "--no-lexical" in err
    # an existing folder that is not a bundle is never replaced
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "thesis.txt").write_text("years of work")
    rc, err = train(out=docs)
    assert rc == 2 and "not a model bundle" in err
    assert (docs / "thesis.txt").read_text() == "years of work"


def _merge_map(tmp_path):
    p = tmp_path / "merge.json"
    p.write_text(json.dumps({"Storage": "Hardware"}))
    return p


def test_train_tab_results_show_what_is_served():
    """The results page's validation line, per-class table and confusion chart come from the served
    blend of a hybrid, not from the transformer alone."""
    from trainer.pipeline import TrainOutcome
    from triage_app.gui.train.results_page import served_val, summary_html

    transformer = {"accuracy": 0.5, "macro_f1": 0.4, "weighted_f1": 0.45, "n": 10, "per_class": {}}
    blend = {"accuracy": 0.9, "macro_f1": 0.8, "weighted_f1": 0.85, "n": 10, "per_class": {}}
    cand = {"transformer": {"lexical_weight": 0.0, "accuracy": 0.5, "macro_f1": 0.4},
            "lexical": {"lexical_weight": 1.0, "accuracy": 0.7, "macro_f1": 0.6},
            "blend": {"lexical_weight": 0.3, "accuracy": 0.9, "macro_f1": 0.8}}
    m = {"val": transformer, "hybrid": {"chosen": "blend", "lexical_weight": 0.3, "candidates": cand,
                                        "temperature": 1.2, "ece_before": 0.1, "ece_after": 0.02, "val": blend}}
    o = TrainOutcome("/m", "m", "1", ["a", "b"], m, {"precision": "fp32"}, None, [], 1.0)
    assert served_val(o) is blend
    html = summary_html(o)
    assert "of the served model" in html and "<b>0.900</b>" in html and "a blend, 0.3 TF-IDF" in html
    assert "temperature 1.20" in html
    assert "chosen on validation macro-F1: transformer 0.400, lexical 0.600, blend 0.800" in html  # an older run
    for name, loss in zip(cand, (0.9, 0.7, 0.3)):
        cand[name]["log_loss"] = loss
    m["hybrid"]["chosen_by"] = "validation log-loss"
    assert "chosen on validation log-loss: transformer 0.900, lexical 0.700, blend 0.300" in summary_html(o)
    plain = TrainOutcome("/m", "m", "1", ["a", "b"], {"val": transformer}, {"precision": "fp32"}, None, [], 1.0)
    assert served_val(plain) is transformer and "of the served model" not in summary_html(plain)


def test_no_lexical_and_the_seed_preset_train_the_transformer_alone(tiny_checkpoint, sample_csv, tmp_path,
                                                                     data_dir, capsys, one_torch_thread):
    from triage_app.cli import main

    for extra, out in ((["--preset", "quick", "--no-lexical"], tmp_path / "a"), (["--preset", "seed"], tmp_path / "b")):
        rc = main(["train", str(sample_csv), *FROM_ARGS, "--base-model", str(tiny_checkpoint), "--epochs", "1",
                   "--max-length", "32", "--no-int8", *extra, "-q", "--out", str(out)])
        assert rc == 0, capsys.readouterr().err
        b = load_bundle(out)
        assert "hybrid" not in b.meta and not b.lexical_path.exists() and b.lexical_weight == 0.0
        assert "hybrid" not in json.loads(capsys.readouterr().out)


def test_a_hybrid_bundle_survives_a_zip_round_trip(tiny_checkpoint, sample_csv, tmp_path, data_dir, monkeypatch,
                                                   one_torch_thread):
    from triage_app.bundle import export_zip, import_zip

    o = _train_hybrid(tiny_checkpoint, sample_csv, tmp_path, 0.5, monkeypatch)
    z = export_zip(o.bundle_path, tmp_path / "m.zip")
    b = load_bundle(import_zip(z, tmp_path / "imported"))
    assert b.lexical_weight == 0.5 and b.lexical_path.is_file()


def test_a_hybrid_engine_cancels_inside_the_lexical_pass(tiny_checkpoint, sample_csv, tmp_path, data_dir,
                                                         monkeypatch, one_torch_thread):
    from triage_app.engine import LEXICAL_BATCH, TicketClassifier
    from triage_app.errors import Cancelled

    o = _train_hybrid(tiny_checkpoint, sample_csv, tmp_path, 1.0, monkeypatch)   # lexical only
    clf = TicketClassifier.load(o.bundle_path, device="cpu")
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 1                  # stop after the first lexical batch
    with pytest.raises(Cancelled):
        clf.predict_proba(["printer jams"] * (3 * LEXICAL_BATCH), should_stop=stop)
    seen = []
    clf.predict_proba(["printer jams"] * 10, on_progress=lambda d, n: seen.append((d, n)))
    assert seen[-1] == (10, 10)


def test_the_card_and_the_train_tab_read_the_choice_rule_alike():
    """One helper tells the model card and the Train tab which rule chose and which figure to list:
    log-loss only when the rule is log-loss and every candidate has one (older bundles: macro-F1)."""
    from trainer.card import _hybrid_section
    from trainer.pipeline import TrainOutcome
    from triage_app.gui.train.results_page import summary_html
    from triage_app.hybrid import choice_rule

    cand = {"transformer": {"lexical_weight": 0.0, "accuracy": 0.5, "macro_f1": 0.4, "log_loss": 0.9},
            "blend": {"lexical_weight": 0.3, "accuracy": 0.9, "macro_f1": 0.8, "log_loss": 0.3}}
    h = {"chosen": "blend", "lexical_weight": 0.3, "candidates": cand, "chosen_by": "validation log-loss"}
    assert choice_rule(h) == ("validation log-loss", "log_loss")
    assert choice_rule({**h, "chosen_by": "validation macro-F1"}) == ("validation macro-F1", "macro_f1")
    old = {k: v for k, v in h.items() if k != "chosen_by"}
    assert choice_rule(old) == ("validation macro-F1", "macro_f1")
    del cand["transformer"]["log_loss"]          # a log-loss rule with a candidate lacking its figure
    assert choice_rule(h) == ("validation log-loss", "macro_f1")
    cand["transformer"]["log_loss"] = 0.9
    for hyb, listed, column in ((h, "transformer 0.900, blend 0.300", True),
                                (old, "transformer 0.400, blend 0.800", False)):
        card = "\n".join(_hybrid_section({"hybrid": hyb}))
        assert ("| validation log-loss |" in card) is column
        o = TrainOutcome("/m", "m", "1", ["a", "b"], {"val": {}, "hybrid": hyb}, {"precision": "fp32"}, None, [], 1.0)
        assert f"chosen on {choice_rule(hyb)[0]}: {listed}" in summary_html(o)
        assert f"chosen by {choice_rule(hyb)[0]}" in card


def test_comparing_with_a_hybrid_trained_on_the_same_data_is_flagged(tiny_checkpoint, sample_csv, tmp_path,
                                                                     data_dir, monkeypatch, capsys,
                                                                     one_torch_thread):
    """The active model's TF-IDF part was refitted on training + validation rows of this very file:
    the comparison on those validation rows says the active model's figures are optimistic."""
    from triage_app.cli import main

    active = _train_hybrid(tiny_checkpoint, sample_csv, tmp_path, 0.5, monkeypatch).bundle_path
    monkeypatch.undo()
    assert load_bundle(active).meta["hybrid"]["lexical"]["fitted_on"] == "train+validation"
    rc = main(["train", str(sample_csv), *FROM_ARGS, "--preset", "quick", "--base-model", str(tiny_checkpoint),
               "--epochs", "1", "--max-length", "32", "--no-int8", "--compare", str(active), "-q",
               "--out", str(tmp_path / "new")])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    c = json.loads(cap.out)["compared_with_active"]
    assert c["rows"] > 0 and "optimistic" in c["caveat"] and "validation tickets too" in c["caveat"]
