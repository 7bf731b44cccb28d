"""How the hybrid's blend weight is chosen on validation: each rule's choice and what it gives on
test, over several datasets, targets and recipes.

For every case the script runs the training pipeline as ``triage train`` does, up to the point where
the blend is chosen, and keeps what that choice sees: the transformer's validation scores, the
lexical model's out-of-fold validation probabilities and the labels; then the test split's scores of
the same two parts (the transformer in PyTorch fp32, the lexical model as refitted for serving).
No bundle is exported.  The cached scores live in bench/results/tmp (not in the repository).

    python bench/blend_rule.py --cases endava-quick,endava-multi-quick   # run (or reuse) the cases
    python bench/blend_rule.py --table                                   # the table of every rule

A rule is a function of the validation scores alone; test figures only judge it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ENDAVA, IT, RESULTS, ROOT, require_data, save  # noqa: E402

CACHE = RESULTS / "tmp" / "blend_rule"
ENDAVA_TARGETS = ["category", "business_service", "urgency", "ticket_type", "impact"]
MULTI = ["category", "ticket_type", "urgency", "impact"]
SHIPPED = ROOT / "resources" / "models" / "it-service-minilm"


class _Enough(Exception):
    """Raised once every target's blend inputs are captured: the rest of the run is not needed."""


def _spec(ds: str, cols: list[str], rows: int | None):
    import pandas as pd

    from trainer.pipeline import DataSpec

    path = IT if ds == "it" else ENDAVA
    require_data(path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if rows:
        df = df.sample(n=rows, random_state=0).drop(columns=["split"], errors="ignore").reset_index(drop=True)
    kw = {"text_col": "Document"} if ds == "it" else {"title_col": "title", "body_col": "body"}
    return DataSpec(str(path), cols[0], df=df, label_cols=cols if len(cols) > 1 else [],
                    min_per_class=None if rows else (30 if ds == "it" else 5), **kw)


def capture(ds: str, cols: list[str], preset: str, rows: int | None = None, shipped: bool = False) -> dict:
    """{target: arrays} for one pipeline run (see the module's docstring)."""
    import tempfile

    import trainer.hybrid as hybrid_mod
    import trainer.loop as loop_mod
    from trainer.config import TrainConfig
    from trainer.export import torch_logits
    from trainer.pipeline import run
    from triage_app.tokens import load_tokenizer

    got, trained, original_fit, original_train = {}, {}, hybrid_mod.fit_hybrid, loop_mod.train

    def train(cfg, data, **kw):
        res = original_train(cfg, data, **kw)
        trained["res"] = res
        return res

    def fit_hybrid(res, data, stop=None):
        choice = original_fit(res, data, stop)
        lexical = choice.model
        if lexical is None:     # weight 0: the model is dropped; refit the same way for the study
            from trainer.lexical import fit_lexical
            lexical = fit_lexical(hybrid_mod.split_texts(data.train), data.train.y,
                                  hybrid_mod.split_texts(data.val), data.val.y, len(res.labels))
        name = cols[len(got)]
        got[name] = {"val_T": np.asarray(res.val_logits, np.float32), "val_L": lexical.val_proba,
                     "val_y": np.asarray(res.val_y), "test_y": np.asarray(data.test.y),
                     "test_L": lexical.predict_proba(hybrid_mod.split_texts(data.test)),
                     "test_T": getattr(res, "test_logits", None), "labels": list(res.labels)}
        if len(got) == len(cols):
            raise _Enough()
        return choice

    hybrid_mod.fit_hybrid, loop_mod.train = fit_hybrid, train
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig.quick() if preset == "quick" else TrainConfig.standard()
            run(_spec(ds, cols, rows), cfg, Path(tmp) / "m", name="blend-rule",
                transformer_from=SHIPPED if shipped else None,
                on_event=lambda ev: print(f"  {ev}", flush=True) if type(ev).__name__ in ("PhaseEvent",) else None)
    except _Enough:
        pass
    finally:
        hybrid_mod.fit_hybrid, loop_mod.train = original_fit, original_train
    if not shipped:     # the transformer's test scores, in PyTorch fp32
        from trainer.multitarget import segments
        from trainer.pipeline import prepare

        res = trained["res"]
        data, _ = prepare(_spec(ds, cols, rows).with_config(res.config))
        tok = load_tokenizer(res.tokenizer_path, res.config.max_length)
        if res.tokenizer_path_b:
            tok = (tok, load_tokenizer(res.tokenizer_path_b, res.config.max_length))
        z = torch_logits(res.model, tok, data.test.text_a, data.test.text_b)
        segs = segments(data.targets) if data.targets else [slice(None)]
        for k, (name, seg) in enumerate(zip(cols, segs)):
            got[name]["test_T"] = z[data.test.y[:, k] >= 0][:, seg] if data.targets else z
    return got


CASES = {
    # name: (dataset, label columns, preset, sampled rows, shipped transformer)
    "endava-quick": ("endava", ENDAVA_TARGETS, "quick", None, False),     # one run per target
    "endava-multi-quick": ("endava", MULTI, "quick", None, False),        # one run, four targets
    "endava-standard": ("endava", ["category", "urgency"], "standard", None, False),
    "it-6k-quick": ("it", ["Topic_group"], "quick", 6000, False),
    "it-shipped": ("it", ["Topic_group"], "-", None, True),
}


def run_case(name: str) -> None:
    ds, cols, preset, rows, shipped = CASES[name]
    groups = [[c] for c in cols] if name in ("endava-quick", "endava-standard") else [cols]
    for group in groups:
        key = f"{name}-{'+'.join(group)}" if len(groups) > 1 else name
        if (CACHE / f"{key}.json").exists():
            print(f"{key}: cached")
            continue
        print(f"{key}: running", flush=True)
        got = capture(ds, group, preset, rows, shipped)
        CACHE.mkdir(parents=True, exist_ok=True)
        for target, arrays in got.items():
            np.savez(CACHE / f"{key}--{target}.npz", **{k: v for k, v in arrays.items() if k != "labels"})
        (CACHE / f"{key}.json").write_text(json.dumps({t: a["labels"] for t, a in got.items()}))


# ---- rules: validation scores -> lexical weight --------------------------------------------------
from trainer.hybrid import WEIGHTS  # noqa: E402


def _curve(val_T, val_L, y, n):
    """The trainer's own validation scores of every weight (:func:`trainer.hybrid.score_weights`)."""
    from trainer.hybrid import score_weights

    return [{"w": r["lexical_weight"], "macro_f1": r["macro_f1"], "accuracy": r["accuracy"], "nll": r["log_loss"]}
            for r in score_weights(val_T, val_L, y, n, WEIGHTS)]


def _smooth(vals):
    return [np.mean(vals[max(0, i - 1):i + 2]) for i in range(len(vals))]


def _argmax(vals):
    """Index of the largest value; ties: the smaller lexical weight (as the trainer's rule)."""
    best = max(round(v, 12) for v in vals)
    return next(i for i, v in enumerate(vals) if round(v, 12) == best)


def _trainer_rule(c):
    """What ``triage train`` does (:func:`trainer.hybrid.choose`)."""
    from trainer.hybrid import choose

    best = choose([{"lexical_weight": r["w"], "log_loss": r["nll"]} for r in c])
    return next(i for i, r in enumerate(c) if r["w"] == best["lexical_weight"])


RULES = {
    "macro-F1 (argmax)": lambda c: _argmax([r["macro_f1"] for r in c]),
    "log-loss (argmin, own temperature)": lambda c: _trainer_rule(c),
    "macro-F1, 3-point smoothed": lambda c: _argmax(_smooth([r["macro_f1"] for r in c])),
    "mean of macro-F1 and accuracy": lambda c: _argmax([r["macro_f1"] + r["accuracy"] for r in c]),
    "macro-F1 then log-loss (within 0.5 pt)": lambda c: _argmax(
        [-r["nll"] if r["macro_f1"] >= max(x["macro_f1"] for x in c) - 0.005 else -np.inf for r in c]),
}


def evaluate() -> dict:
    from trainer.evaluate import macro_f1
    from triage_app.hybrid import blend_logits

    out = {}
    for meta in sorted(CACHE.glob("*.json")):
        labels = json.loads(meta.read_text())
        for target, labs in labels.items():
            a = np.load(CACHE / f"{meta.stem}--{target}.npz")
            n = len(labs)
            curve = _curve(a["val_T"], a["val_L"], a["val_y"], n)
            ty = a["test_y"]
            m = ty >= 0
            row = {"rows_val": int(len(a["val_y"])), "rows_test": int(m.sum()), "labels": n, "rules": {}}
            for rule, f in RULES.items():
                w = curve[f(curve)]["w"]
                pred = blend_logits(a["test_T"][m], a["test_L"][m], w).argmax(1)
                row["rules"][rule] = {"w": w, "accuracy": float(np.mean(pred == ty[m])),
                                      "macro_f1": macro_f1(ty[m], pred, n)}
            best = []
            for w in WEIGHTS:
                pred = blend_logits(a["test_T"][m], a["test_L"][m], w).argmax(1)
                best.append(macro_f1(ty[m], pred, n))
            row["test_best"] = {"w": WEIGHTS[int(np.argmax(best))], "macro_f1": float(max(best))}
            out[f"{meta.stem} / {target}"] = row
    return out


def table(res: dict) -> str:
    rules = list(RULES)
    lines = ["| case / target | " + " | ".join(rules) + " | best on test |",
             "|---|" + "---|" * (len(rules) + 1)]
    for case, row in res.items():
        cells = [f"{row['rules'][r]['w']:g}: {row['rules'][r]['accuracy']:.4f} / {row['rules'][r]['macro_f1']:.4f}"
                 for r in rules]
        lines.append(f"| {case} | " + " | ".join(cells) + f" | {row['test_best']['w']:g}: "
                     f"{row['test_best']['macro_f1']:.4f} |")
    mean = {r: (np.mean([row["rules"][r]["accuracy"] for row in res.values()]),
                np.mean([row["rules"][r]["macro_f1"] for row in res.values()])) for r in rules}
    lines.append("| **mean** | " + " | ".join(f"{a:.4f} / {f:.4f}" for a, f in mean.values()) + " | |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="", help="comma-separated: " + ", ".join(CASES))
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    for name in filter(None, args.cases.split(",")):
        run_case(name)
    res = evaluate()
    save("blend_rule", {"cases": res, "rules": list(RULES)})
    print(table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
