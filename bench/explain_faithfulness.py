"""How faithful are the Triage tab's explanations?  A deletion test on the IT test split.

For each ticket the explanation method scores the words of the cleaned text; the top-k words it
names are removed and the drop in the predicted class's calibrated probability is measured (all
variants of a ticket in one engine call, so int8 batch effects are the same for every method),
against removing k random words (mean of 3 draws).  A faithful method's words matter more than
random ones.  Methods:

* ``word``: occlusion of single words (what the engine's ``explain`` does);
* ``span2``: occlusion of two-word spans, a word scored by the mean drop of the spans it is in.

    python bench/explain_faithfulness.py --rows 300      # -> bench/results/explain_faithfulness.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import IT, RESULTS, ROOT, machine, require_data, write_text_atomic  # noqa: E402

SHIPPED = ROOT / "resources" / "models" / "it-service-minilm"


def probs_of(clf, texts: list[str]) -> np.ndarray:
    """Calibrated probabilities of already-cleaned texts, in one engine call (same routing)."""
    pairs = [(t, t) for t in texts]
    return clf.probabilities(clf._logits_for(pairs, None))


def word_scores(clf, words: list[str], cls: int, base: float) -> np.ndarray:
    variants = [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))]
    return base - probs_of(clf, variants)[:, cls]


def span_scores(clf, words: list[str], cls: int, base: float, span: int = 2) -> np.ndarray:
    n = len(words)
    if n <= span:
        return word_scores(clf, words, cls, base)
    starts = list(range(n - span + 1))
    drops = base - probs_of(clf, [" ".join(words[:s] + words[s + span:]) for s in starts])[:, cls]
    score, count = np.zeros(n), np.zeros(n)
    for s, d in zip(starts, drops):
        score[s:s + span] += d
        count[s:s + span] += 1
    return score / np.maximum(count, 1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--k", default="1,3")
    ap.add_argument("--out", default=str(RESULTS / "explain_faithfulness.json"))
    args = ap.parse_args()
    import pandas as pd

    from triage_app import text as textmod
    from triage_app.engine import TicketClassifier

    require_data(IT)
    df = pd.read_csv(IT, dtype=str, keep_default_na=False)
    test = df[df["split"] == "test"].sample(n=args.rows, random_state=0)
    clf = TicketClassifier.load(SHIPPED, device="cpu")
    ks = [int(k) for k in args.k.split(",")]
    rng = np.random.default_rng(0)
    methods = {"word": word_scores, "span2": span_scores}
    drops = {m: {k: [] for k in ks} for m in methods}
    drops["random"] = {k: [] for k in ks}
    seconds = {m: 0.0 for m in methods}
    used = 0
    for doc in test["Document"]:
        a, _b = textmod.compose(None, None, doc, clf.routing, clf.cleaning)
        words = a.split()
        if len(words) < max(ks) + 2:
            continue
        used += 1
        p0 = probs_of(clf, [a])[0]
        cls, base = int(p0.argmax()), float(p0.max())
        variants, keys = [], []
        for m, fn in methods.items():
            t0 = time.perf_counter()
            order = np.argsort(-fn(clf, words, cls, base), kind="stable")
            seconds[m] += time.perf_counter() - t0
            for k in ks:
                drop = set(order[:k].tolist())
                variants.append(" ".join(w for i, w in enumerate(words) if i not in drop))
                keys.append((m, k))
        for k in ks:
            for _ in range(3):
                drop = set(rng.choice(len(words), size=k, replace=False).tolist())
                variants.append(" ".join(w for i, w in enumerate(words) if i not in drop))
                keys.append(("random", k))
        after = probs_of(clf, variants)[:, cls]          # every deletion of this ticket in one call
        rand: dict = {k: [] for k in ks}
        for (m, k), p in zip(keys, after):
            if m == "random":
                rand[k].append(base - float(p))
            else:
                drops[m][k].append(base - float(p))
        for k in ks:
            drops["random"][k].append(float(np.mean(rand[k])))
    res = {"tickets": used, "model": f"{clf.name} v{clf.version}", "k": ks,
           "mean_drop": {m: {str(k): float(np.mean(v[k])) for k in ks} for m, v in drops.items()},
           "wins_over_random": {m: {str(k): float(np.mean(np.array(drops[m][k]) > np.array(drops["random"][k])))
                                    for k in ks} for m in methods},
           "seconds_per_ticket": {m: seconds[m] / max(used, 1) for m in methods},
           "machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(Path(args.out), json.dumps(res, indent=2))
    print(json.dumps(res["mean_drop"], indent=1))
    print(json.dumps(res["wins_over_random"], indent=1))
    print(json.dumps(res["seconds_per_ticket"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
