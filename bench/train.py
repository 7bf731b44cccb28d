"""Training speed: samples/s of a fine-tuning step, the reference recipe (fp32, every ticket padded
to 128, random batches) vs ours (bf16 autocast where the CPU supports it, dynamic padding,
length-bucketed batches), same batch size, both towers fully trainable, measured side by side.

    python bench/train.py [--steps 12] [--batch-size 32]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_it, save  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    import torch

    from trainer.batching import bucketed_batches
    from trainer.config import DEFAULT_BASE
    from trainer.loop import cpu_supports_bf16
    from trainer.model import DualBertClassifier, tokenizer_file
    from triage_app.text import compose
    from triage_app.tokens import encode, load_tokenizer, pad_batch

    df = load_it("train")
    texts = [compose(None, None, t, "same")[0] for t in df["Document"]]
    tok = load_tokenizer(tokenizer_file(DEFAULT_BASE), 128)
    ids = encode(tok, texts)
    lengths = np.array([len(x) for x in ids])
    y = torch.randint(0, 8, (len(ids),))
    rng = np.random.default_rng(0)
    random_batches = [rng.choice(len(ids), args.batch_size, replace=False) for _ in range(args.steps + 2)]
    ours_batches = bucketed_batches(lengths, args.batch_size, np.random.default_rng(0))[: args.steps + 2]
    out = {}

    def run(name, batches, pad_to, bf16):
        torch.manual_seed(0)
        model = DualBertClassifier.from_pretrained(DEFAULT_BASE, None, 8)
        model.unfreeze_top(-1)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=5e-5)
        loss_fn = torch.nn.CrossEntropyLoss()
        seen = 0
        t0 = None
        for i, b in enumerate(batches):
            if i == 2:  # two warm-up steps
                t0 = time.perf_counter()
                seen = 0
            a, m = pad_batch([ids[j] for j in b], pad_to)
            ta, tm = torch.from_numpy(a), torch.from_numpy(m)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(ta, tm, ta, tm)
            loss = loss_fn(logits.float(), y[b])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            seen += len(b)
        dt = time.perf_counter() - t0
        out[name] = {"samples_per_s": seen / dt, "s_per_step": dt / (len(batches) - 2),
                     "mean_tokens": float(np.mean([min(lengths[j], 128) for b in batches for j in b]))}
        print(f"{name:<55} {seen / dt:7.1f} samples/s  {dt / (len(batches) - 2):.2f} s/step", flush=True)

    bf16 = cpu_supports_bf16()
    run("reference: fp32, pad to 128, random batches", random_batches, 128, False)
    run("fp32, dynamic padding, length buckets", ours_batches, None, False)
    run(f"ours: {'bf16 autocast' if bf16 else 'fp32 (no bf16 on this CPU)'}, dynamic padding, length buckets",
        ours_batches, None, bf16)
    ref = out["reference: fp32, pad to 128, random batches"]["samples_per_s"]
    for v in out.values():
        v["ratio_to_reference"] = v["samples_per_s"] / ref
    p = save("train_speed", {"batch_size": args.batch_size, "steps": args.steps, "results": out,
                             "torch_threads": torch.get_num_threads()})
    print(f"-> {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
