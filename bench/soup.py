"""Uniform weight averages ("model soups") of finished fine-tuning checkpoints on it_service_tickets.

Each combination is checkpoint directories joined with '+' (as written by ``triage train
--checkpoint-dir``; their ``best`` weights are averaged; one directory scores that run alone).
Scores are PyTorch on the CPU (bf16 autocast like the trainer, or ``--fp32``), before calibration
and export, so they compare with the ``val`` / ``test`` figures in a run's log.

    python bench/soup.py --splits val runs/e3/ckpt+runs/lr2e4/ckpt runs/lr2e4/ckpt+runs/ep4/ckpt
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def score(combos: list[str], splits: list[str], fp32: bool = False):
    """Yield ``{"soup": combo, split: {"accuracy", "weighted_f1", "macro_f1"}, ...}`` per combo."""
    import torch
    from accuracy import metrics_of, prepare_dataset

    from trainer.checkpoint import load_checkpoint
    from trainer.evaluate import classification_report
    from trainer.export import torch_logits
    from trainer.model import DualBertClassifier, tokenizer_file
    from triage_app.tokens import load_tokenizer

    cks = {}
    for d in {d for combo in combos for d in combo.split("+")}:
        try:
            cks[d] = load_checkpoint(d)
        except FileNotFoundError as e:
            sys.exit(str(e))
        if cks[d]["best"] is None:
            sys.exit(f"{d}: no best weights in this checkpoint (the run has not finished an epoch)")
    data = prepare_dataset("it")
    cfg = cks[combos[0].split("+")[0]]["config"]
    tok = load_tokenizer(tokenizer_file(cfg["base_model"]), cfg["max_length"])
    model = DualBertClassifier.from_pretrained(cfg["base_model"], cfg["base_model_b"], len(data.labels),
                                               cfg["pooling"], cfg["dropout"])
    for combo in combos:
        sds = [cks[d]["best"] for d in combo.split("+")]
        model.load_state_dict({k: sum(sd[k].float() for sd in sds) / len(sds) for k in sds[0]})
        out: dict = {"soup": combo, "precision": "fp32" if fp32 else "bf16 autocast"}
        for s in splits:
            split = getattr(data, s)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not fp32):
                logits = torch_logits(model, tok, split.text_a, split.text_b)
            out[s] = {k: round(float(v), 4)
                      for k, v in metrics_of(classification_report(split.y, logits.argmax(1), data.labels)).items()}
        yield out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("combos", nargs="+", help="checkpoint dirs joined with '+'")
    ap.add_argument("--splits", default="val", help="comma-separated: val, test")
    ap.add_argument("--fp32", action="store_true", help="no bf16 autocast")
    a = ap.parse_args(argv)
    for out in score(a.combos, a.splits.split(","), a.fp32):
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
