"""What each lexical weight would have given on the Endava test split, for one target of a bundle:
the served blend of the bundle's transformer and lexical model at weights 0 (transformer alone) to
1 (lexical alone).  A diagnosis of the weight chosen on validation, never used to choose it.

    python bench/blend_curve.py BUNDLE --target category     # a bundle trained on the Endava sample
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ENDAVA, require_data  # noqa: E402

WEIGHTS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle")
    ap.add_argument("--target", default="category", help="target name (its label column in the file)")
    args = ap.parse_args()
    require_data(ENDAVA)
    import pandas as pd

    from trainer.evaluate import classification_report
    from triage_app.engine import TicketClassifier
    from triage_app.hybrid import blend_logits

    df = pd.read_csv(ENDAVA, dtype=str, keep_default_na=False)
    df = df[df["split"] == "test"]
    clf = TicketClassifier.load(args.bundle, device="cpu")
    pairs = [clf.compose({"title": a, "body": b}) for a, b in zip(df.title, df.body)]
    targets = clf.targets or []
    k = next((i for i, t in enumerate(targets) if t.name == args.target), 0)
    labels = targets[k].labels if targets else clf.labels
    chosen = targets[k].lexical_weight if targets else clf.lexical_weight
    start = sum(len(t.labels) for t in targets[:k])
    if chosen <= 0:
        sys.exit(f"{args.bundle}: target {args.target} has no lexical part (weight 0)")
    z = clf.transformer_logits(pairs, None)[:, start:start + len(labels)]
    session = clf.lexical_session if k == 0 else clf.target_lexical[targets[k].name]
    lex = clf._lexical_probs(pairs, None, None, session, len(labels))
    idx = {lab: i for i, lab in enumerate(labels)}
    y = np.array([idx.get(v, -1) for v in df[args.target]])
    m = y >= 0
    print(f"{args.target}: {int(m.sum()):,} test rows; weight chosen on validation {chosen:g}")
    print("| lexical weight | accuracy | macro-F1 |\n|---|---|---|")
    for w in WEIGHTS:
        rep = classification_report(y[m], blend_logits(z, lex, w)[m].argmax(1), labels)
        print(f"| {w:g}{' (chosen)' if abs(w - chosen) < 1e-9 else ''} | {rep['accuracy']:.4f} | {rep['macro_f1']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
