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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import IT, require_data  # noqa: E402


def score(combos: list[str], splits: list[str], fp32: bool = False):
    """Yield ``{"soup": combo, split: {"accuracy", "weighted_f1", "macro_f1"}, ...}`` per combo."""
    import pandas as pd
    import torch
    from safetensors.torch import load_file

    from trainer.data import prepare_frame
    from trainer.evaluate import classification_report
    from trainer.loop import _Encoded, load_checkpoint
    from trainer.model import DualBertClassifier, tokenizer_file
    from triage_app.tokens import length_sorted_batches, load_tokenizer

    require_data(IT)
    for combo in combos:
        for d in combo.split("+"):
            if not (Path(d) / "last" / "best.safetensors").is_file():
                sys.exit(f"{d}: no finished checkpoint (last/best.safetensors missing)")
    df = pd.read_csv(IT, dtype=str, keep_default_na=False)
    data = prepare_frame(df, label_col="Topic_group", text_col="Document", source=str(IT),
                         class_weights=False)
    cfg = load_checkpoint(combos[0].split("+")[0])["config"]
    tok = load_tokenizer(tokenizer_file(cfg["base_model"]), cfg["max_length"])
    model = DualBertClassifier.from_pretrained(cfg["base_model"], cfg["base_model_b"], len(data.labels),
                                               cfg["pooling"], cfg["dropout"]).eval()
    encs = {s: _Encoded(tok, getattr(data, s)) for s in splits}
    cache: dict = {}
    amp = torch.autocast("cpu", enabled=False) if fp32 else torch.autocast("cpu", dtype=torch.bfloat16)
    for combo in combos:
        sds = [cache.setdefault(d, load_file(str(Path(d) / "last" / "best.safetensors")))
               for d in combo.split("+")]
        model.load_state_dict({k: sum(sd[k].float() for sd in sds) / len(sds) for k in sds[0]})
        out: dict = {"soup": combo, "precision": "fp32" if fp32 else "bf16 autocast"}
        for s, enc in encs.items():
            logits = np.zeros((len(enc.y), len(data.labels)), np.float32)
            with torch.no_grad(), amp:
                for idx in length_sorted_batches(enc.len, 128):
                    t, _ = enc.batch(idx, "cpu")
                    logits[idx] = model(*t).float().numpy()
            rep = classification_report(enc.y, logits.argmax(1), data.labels)
            out[s] = {k: round(float(rep[k]), 4) for k in ("accuracy", "weighted_f1", "macro_f1")}
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
