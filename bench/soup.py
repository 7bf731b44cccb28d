"""Uniform weight averages ("model soups") of finished fine-tuning checkpoints on it_service_tickets.

Each combination is checkpoint directories joined with '+' (as written by ``triage train
--checkpoint-dir``; their ``best`` weights are averaged). Scores are PyTorch bf16 on the CPU,
before calibration and export, so they compare with the ``val`` / ``test`` figures in a run's log.

    python bench/soup.py --splits val runs/e3/ckpt+runs/lr2e4/ckpt runs/lr2e4/ckpt+runs/ep4/ckpt
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DATA  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("combos", nargs="+", help="checkpoint dirs joined with '+'")
    ap.add_argument("--splits", default="val", help="comma-separated: val, test")
    a = ap.parse_args(argv)

    import pandas as pd
    from safetensors.torch import load_file

    from trainer.data import prepare_frame
    from trainer.loop import _Encoded, load_checkpoint, macro_f1
    from trainer.model import DualBertClassifier, tokenizer_file
    from triage_app.tokens import length_sorted_batches, load_tokenizer

    df = pd.read_csv(DATA / "it_service_tickets" / "it_service_tickets.csv.gz", dtype=str,
                     keep_default_na=False)
    data = prepare_frame(df, label_col="Topic_group", text_col="Document", source="it_service_tickets",
                         class_weights=False)
    first = a.combos[0].split("+")[0]
    cfg = load_checkpoint(first)["config"]
    tok = load_tokenizer(tokenizer_file(cfg["base_model"]), cfg["max_length"])
    model = DualBertClassifier.from_pretrained(cfg["base_model"], cfg["base_model_b"], len(data.labels),
                                               cfg["pooling"], cfg["dropout"]).eval()
    encs = {s: _Encoded(tok, getattr(data, s)) for s in a.splits.split(",")}
    cache: dict = {}

    def best(d: str) -> dict:
        if d not in cache:
            p = Path(d) / "last" if (Path(d) / "last").is_dir() else Path(d)
            cache[d] = load_file(str(p / "best.safetensors"))
        return cache[d]

    for combo in a.combos:
        dirs = combo.split("+")
        sds = [best(d) for d in dirs]
        model.load_state_dict({k: sum(sd[k].float() for sd in sds) / len(sds) for k in sds[0]})
        out = {"soup": combo}
        for s, enc in encs.items():
            logits = np.zeros((len(enc.y), len(data.labels)), np.float32)
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                for idx in length_sorted_batches(enc.len, 128):
                    t, _ = enc.batch(idx, "cpu")
                    logits[idx] = model(*t).float().numpy()
            pred = logits.argmax(1)
            out[s] = {"accuracy": round(float((pred == enc.y).mean()), 4),
                      "macro_f1": round(macro_f1(enc.y, pred, len(data.labels)), 4)}
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
