"""MODEL_CARD.md and confusion.png for a bundle, written from what the bundle records."""
from __future__ import annotations

import json
import os
from pathlib import Path

from triage_app.atomic import write_json_atomic, write_text_atomic
from triage_app.bundle import CARD_FILE, META_FILE, load_bundle, sha256_file
from triage_app.hybrid import choice_rule


def _table(rows: list[list[str]]) -> str:
    head = "| " + " | ".join(rows[0]) + " |"
    sep = "|" + "|".join("---" for _ in rows[0]) + "|"
    return "\n".join([head, sep] + ["| " + " | ".join(r) + " |" for r in rows[1:]])


def _exported_line(m: dict) -> list[str]:
    ex = m.get("test_exported")
    if not ex:
        return []
    return [f"On `test` ({ex['rows']} tickets) the exported file as the app serves it ({ex['precision']}, "
            f"{ex['how']}): accuracy **{ex['accuracy']:.4f}**, weighted F1 **{ex['weighted_f1']:.4f}**, "
            f"macro F1 **{ex['macro_f1']:.4f}**.", ""]


def _hybrid_section(meta: dict) -> list[str]:
    h = meta.get("hybrid")
    if not h:
        return []
    lex = h.get("lexical", {})
    how = {"transformer": "the transformer alone (the lexical model did not help on validation)",
           "lexical": "the lexical model alone",
           "blend": f"a blend: {1 - h['lexical_weight']:g} x transformer log-probabilities + "
                    f"{h['lexical_weight']:g} x lexical log-probabilities"}[h["chosen"]]
    cands = h.get("candidates", {})
    by, figure = choice_rule(h)
    losses = figure == "log_loss"
    rows = [["candidate", "lexical weight", "validation accuracy", "validation macro-F1"]
            + (["validation log-loss"] if losses else [])]
    for name, c in cands.items():
        rows.append([name, f"{c['lexical_weight']:g}", f"{c['accuracy']:.4f}", f"{c['macro_f1']:.4f}"]
                    + ([f"{c['log_loss']:.4f}"] if losses else []))
    src = meta.get("metrics", {}).get("hybrid", {}).get("transformer_from")
    out = ["## Hybrid", "",
           f"Served: {how}, chosen by {by}; calibrated with its own temperature. "
           f"Lexical model: TF-IDF of word {lex.get('ngram_range', [1, 2])[0]}-{lex.get('ngram_range', [1, 2])[1]} "
           f"grams (sublinear tf, min_df {lex.get('min_df', '?')}, {lex.get('n_terms', '?')} terms) + class-balanced "
           f"logistic regression ({_lexical_fit(lex)}), `lexical.onnx`."
           + (f" The transformer is that of {src}, kept as exported." if src else ""), "", _table(rows), ""]
    return out


def _lexical_fit(lex: dict) -> str:
    """How the lexical model's C was chosen and which rows it was fitted on (older bundles: validation,
    training rows).  Its validation figures above are always of held-out predictions."""
    folds = lex.get("folds") or 0
    how = (f"{folds}-fold cross-validation on the training and validation rows" if folds
           else "the validation rows")
    rows = ("the training and validation rows (the figures above are of held-out predictions)"
            if lex.get("fitted_on") == "train+validation" else "the training rows")
    return f"C = {lex.get('C', '?')}, chosen by {how}; fitted on {rows}"


def _familiarity_section(meta: dict) -> list[str]:
    f = meta.get("familiarity")
    if not f:
        return []
    v = f.get("validation", {})
    acc = ""
    if v.get("accuracy_flagged") is not None and v.get("accuracy_other") is not None:
        acc = (f" On validation {v['flagged']} of {v['rows']} tickets were flagged; the model was right on "
               f"{v['accuracy_flagged']:.1%} of them and on {v['accuracy_other']:.1%} of the others.")
    elif v:
        acc = f" On validation {v.get('flagged', 0)} of {v.get('rows', 0)} tickets were flagged."
    short = (f"fewer than {f['min_words']} words" if f.get("min_words", 0) > 1 else None)
    return ["## Unfamiliar tickets", "",
            f"A ticket is flagged *needs review* whatever its confidence when more than "
            f"{f['unseen_limit']:.0%} of its words never occur in the training tickets"
            + (f", or when it has {short}" if short else "") + f" (limits chosen on validation; "
            f"`vocabulary.txt`, {f.get('words', '?')} words).{acc}", ""]


def _languages_section(meta: dict) -> list[str]:
    """Languages of the training rows with their counts, and the served figures per language."""
    rep = meta.get("data_report") or {}
    langs = rep.get("languages") or {}
    if not langs:
        return []
    out = ["## Languages", "", f"Languages of the training rows ({rep.get('language_source') or '?'}):", "",
           _table([["language", "training rows"]] + [[k, str(v)] for k, v in langs.items()]), ""]
    by = ((meta.get("metrics") or {}).get("test_exported") or {}).get("by_language") or {}
    if by:
        out += ["On the test split, as the app serves it:", "",
                _table([["language", "rows", "accuracy", "macro F1"]]
                       + [[k, str(r["rows"]), f"{r['accuracy']:.4f}", f"{r['macro_f1']:.4f}"] for k, r in by.items()]),
                ""]
    return out


def _encoders_line(meta: dict) -> str:
    """Which encoder each tower is, when the towers differ (another base or family)."""
    enc = meta.get("encoders") or {}
    a, b = enc.get("a") or {}, enc.get("b") or {}
    if not a or (a.get("base_model"), a.get("family")) == (b.get("base_model"), b.get("family")):
        return ""
    return (f" Tower A: `{a.get('base_model')}` ({a.get('family')}, hidden {a.get('hidden_size')}); tower B: "
            f"`{b.get('base_model')}` ({b.get('family')}, hidden {b.get('hidden_size')}, `{b.get('tokenizer')}`).")
def _targets_section(meta: dict) -> list[str]:
    """A multi-target model: each target with its labels, loss weight and served test figures (the
    rest of the card describes the first, primary target)."""
    rows = [["target", "labels", "loss weight", "served", "test accuracy", "test macro-F1"]]
    for k, t in enumerate(meta["targets"]):
        src = meta if k == 0 else t
        m = src.get("metrics") or {}
        te = m.get("test_exported") or m.get("test") or {}
        h = src.get("hybrid") or {}
        served = h.get("chosen", "transformer") + (f" {h['lexical_weight']:g}" if h.get("chosen") == "blend" else "")
        fmt = (lambda v: f"{v:.4f}" if isinstance(v, (int, float)) else "-")  # noqa: E731
        rows.append([t["name"], str(len(src["labels"])), f"{t.get('loss_weight', 1):g}", served,
                     fmt(te.get("accuracy")), fmt(te.get("macro_f1"))])
    return ["## Targets", "", f"One model (shared towers), one head per target; the sections below describe "
            f"the first target, `{meta['targets'][0]['name']}`.", "", _table(rows), ""]


def render_card(meta: dict, extra: str = "") -> str:
    m = meta.get("metrics", {})
    cfg = meta.get("train_config", {})
    fp = meta.get("data_fingerprint", {})
    exp = meta.get("export", {})
    labels = meta["labels"]
    h = meta.get("hybrid") or {}
    blended = (f", blended with a TF-IDF + logistic regression model (`lexical.onnx`, weight "
               f"{h['lexical_weight']:g}; see Hybrid)" if h.get("lexical_weight") else "")
    lexical_only = h.get("lexical_weight") == 1 and not meta.get("targets")
    if lexical_only:
        why = "it won on validation" if "transformer" in h.get("candidates", {}) else "the `lexical` preset"
        intro = (f"Lexical ticket classifier: TF-IDF + class-balanced logistic regression alone, exported to "
                 f"ONNX (`lexical.onnx`, no transformer: {why}; see Hybrid). Created {meta['created']}.")
    else:
        intro = (f"Dual-BERT ticket classifier ({meta.get('base_model')} towers, {meta.get('pooling', 'mean')} "
                 f"pooling, routing `{meta['routing']}`, max length {meta['max_length']}), exported to ONNX "
                 f"({meta['precision']}){blended}. Created {meta['created']}.{_encoders_line(meta)}")
    out = [f"# {meta['name']} v{meta['version']}", "", intro, ""]
    out += ["## Data", "", f"- Source: `{fp.get('source', '?')}`, {fp.get('rows', '?')} rows after cleaning "
            f"(fingerprint `{str(fp.get('sha256', ''))[:16]}`).", ""]
    counts = fp.get("label_counts", {})
    if meta.get("targets"):     # several targets: the counts per target, the primary's in the table
        out += _targets_section(meta)
        counts = counts.get(meta["targets"][0]["name"], {})
    if counts:
        out += [_table([["class", "rows"]] + [[k, str(v)] for k, v in counts.items()]), ""]
    for split in ("test", "val"):
        r = m.get(split)
        if not r:
            continue
        out += [f"## Metrics on `{split}` ({r.get('n', '?')} tickets)", "",
                f"accuracy **{r['accuracy']:.4f}**, weighted F1 **{r['weighted_f1']:.4f}**, "
                f"macro F1 **{r['macro_f1']:.4f}**" + (f", ECE {r['ece']:.4f}" if "ece" in r else "")
                + (" (the exported file)" if lexical_only else " (PyTorch, before export)"), ""]
        rows = [["class", "precision", "recall", "F1", "support"]]
        for lab in labels:
            pc = r["per_class"].get(lab, {})
            rows.append([lab, f"{pc.get('precision', 0):.3f}", f"{pc.get('recall', 0):.3f}",
                         f"{pc.get('f1', 0):.3f}", str(pc.get("support", 0))])
        out += [_table(rows), ""]
        if "confusion" in r:     # write_model_card draws it for this split (test, else validation)
            out += ["Confusion matrix (rows true, columns predicted): `confusion.png`.", "",
                    "![confusion matrix](confusion.png)", ""]
        break
    out += _exported_line(m)
    out += _hybrid_section(meta)
    out += _familiarity_section(meta)
    out += _languages_section(meta)
    cal = m.get("hybrid") or m     # a hybrid's served scores are calibrated on their own
    out += ["## Calibration", "",
            f"Temperature scaling fitted on the validation split: T = {meta['temperature']:.3f}"
            + (" (for the served blend)" if m.get("hybrid") else "") + ". "
            f"Expected calibration error on validation {cal.get('ece_before', float('nan')):.4f} before, "
            f"{cal.get('ece_after', float('nan')):.4f} after.", "",
            f"Default review threshold {meta['review_threshold']:.2f}: tickets whose calibrated confidence is "
            "below it are flagged *needs review*.", ""]
    out += ["## Precision", "", f"- Shipped: **{meta['precision']}**. {meta.get('precision_note', '')}"]
    if exp.get("int8"):
        q = exp["int8"]
        of = " of the served blend" if q.get("judged") == "served blend" else ""
        out.append(f"- int8 gate on {q['rows']} validation rows: top-1 agreement{of} {q['agreement']:.3f}, accuracy "
                   f"int8 {q['accuracy_int8']:.4f} vs fp32 {q['accuracy_fp32']:.4f}; int8 file {q['size_mb']} MB, "
                   f"fp32 {exp.get('sizes_mb', {}).get('fp32', '?')} MB.")
    if exp.get("fused"):
        out.append(f"- ONNX Runtime optimizer: {exp.get('optimizer_note', '')}; fused "
                   + ", ".join(f"{k} {v}" for k, v in exp["fused"].items()) + ".")
    out += ["", "## Training", ""]
    plan = meta.get("auto")
    if plan:
        out += [f"Recipe chosen by the `auto` preset: **{plan['label']}** (estimate {plan['estimate_s'] / 60:.1f} min, "
                f"time budget {plan['budget_s'] / 60:.0f} min on {plan['device']}; {plan['reason']}); training took "
                f"{m.get('train_seconds', float('nan')) / 60:.1f} min.", ""]
    out += ["```json", json.dumps(cfg, indent=2), "```", ""]
    out += ["## Limits", "",
            "- Trained on one helpdesk's tickets; other helpdesks use other words and categories: measure "
            "with `triage eval` on your own labeled tickets before trusting it, and retrain from the Train tab.",
            ("- Measured only in the languages it was trained on (see Languages)."
             if (meta.get("data_report") or {}).get("languages") else "- English only.") + " The text cleaning (`triage_app.text.clean_text`) is recorded in `bundle.json` and "
            "applied identically at training and inference time.", ""]
    if extra:
        out += [extra.strip(), ""]
    out += ["## Retraining", "", "From the app: Train tab. From the command line: `triage train DATA --label-col L "
            "--text-col T --preset standard --out DIR` (see README)."]
    return "\n".join(out) + "\n"


def write_model_card(bundle_dir: str | os.PathLike, extra: str = "") -> Path:
    """Write MODEL_CARD.md and confusion.png into a bundle (model.onnx untouched, hash unchanged).

    Each file is replaced atomically (:mod:`triage_app.atomic`)."""
    from trainer.evaluate import confusion_png

    b = load_bundle(bundle_dir)
    m = b.meta.get("metrics", {})
    r = m.get("test") or m.get("val")
    if r and "confusion" in r:
        confusion_png(r["confusion"], b.labels, Path(b.path) / "confusion.png",
                      title=f"{b.name} v{b.version} ({'test' if 'test' in m else 'val'})")
    p = Path(b.path) / CARD_FILE
    write_text_atomic(p, render_card(b.meta, extra))
    if b.model_path.is_file():
        assert sha256_file(b.model_path) == b.meta["onnx_sha256"]
    write_json_atomic(Path(b.path) / META_FILE, b.meta)
    return p
