"""What the training loop feeds the towers: length-bucketed batches, the token ids of a split
(:class:`Encoded`), and the layer cache of phase 2 (:class:`LayerCache`, built by
:func:`cache_layers`: the hidden states after the frozen bottom layers, computed once).  Used by
:mod:`trainer.loop`; every rank of a torchrun job builds its caches in shards
(:mod:`trainer.distributed`)."""
from __future__ import annotations

import os

import numpy as np
import torch

from trainer import distributed
from trainer.data import Split
from trainer.events import ProgressEvent
from triage_app.errors import Cancelled
from triage_app.tokens import encode_towers, length_sorted_batches, pad_batch


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                     bucket: int = 50) -> list[np.ndarray]:
    """Shuffle, cut into chunks of ``bucket`` batches, sort each chunk by length, batch, shuffle
    the batches: similar lengths together (little padding) but random order."""
    idx = rng.permutation(len(lengths))
    out = []
    span = batch_size * bucket
    for s in range(0, len(idx), span):
        chunk = idx[s: s + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out.extend(chunk[i: i + batch_size] for i in range(0, len(chunk), batch_size))
    order = rng.permutation(len(out))
    return [out[i] for i in order]


class Encoded:
    """Token ids of one split for both towers (``tok_b``: tower B's own tokenizer, or None)."""

    def __init__(self, tok, split: Split, tok_b=None):
        self.a, self.b = encode_towers(tok, tok_b, split.text_a, split.text_b)
        self.y = split.y
        self.len = np.array([max(len(x), len(z)) for x, z in zip(self.a, self.b)])

    def batch(self, idx, device, pad_to=None):
        a_ids, a_m = pad_batch([self.a[i] for i in idx], pad_to)
        if self.b is self.a:
            b_ids, b_m = a_ids, a_m
        else:
            b_ids, b_m = pad_batch([self.b[i] for i in idx], pad_to)
        t = [torch.from_numpy(x).to(device) for x in (a_ids, a_m, b_ids, b_m)]
        return t, torch.from_numpy(self.y[idx]).to(device)


class LayerCache:
    """Hidden states after the frozen bottom layers of the towers, one flat tensor per tower and
    split (variable lengths, no padding stored). They do not change while only the top layers
    train, so they are computed once instead of once per batch per epoch."""

    def __init__(self, hid_a, off_a, hid_b, off_b, y):
        self.hid_a, self.off_a, self.hid_b, self.off_b, self.y = hid_a, off_a, hid_b, off_b, y

    @staticmethod
    def _pad(hid, off, idx, pad_to):
        lens = [int(off[i + 1] - off[i]) for i in idx]
        L = max(max(lens), pad_to or 0)
        x = torch.zeros((len(idx), L, hid.shape[1]), dtype=hid.dtype)
        m = torch.zeros((len(idx), L), dtype=torch.long)
        for r, (i, n) in enumerate(zip(idx, lens)):
            x[r, :n] = hid[off[i]: off[i] + n]
            m[r, :n] = 1
        return x, m

    def batch(self, idx, device, pad_to=None):
        ha, ma = self._pad(self.hid_a, self.off_a, idx, pad_to)
        if self.hid_b is self.hid_a:
            hb, mb = ha, ma
        else:
            hb, mb = self._pad(self.hid_b, self.off_b, idx, pad_to)
        t = [x.to(device) for x in (ha, ma, hb, mb)]
        return t, torch.from_numpy(self.y[idx]).to(device)


def layer_cache_bytes(encs, hidden: int, itemsize: int, twins: bool) -> int:
    toks = 0
    for e in encs:
        toks += sum(len(x) for x in e.a)
        if not (twins and e.b is e.a):
            toks += sum(len(x) for x in e.b)
    return toks * hidden * itemsize


def memory_budget() -> int:
    """Bytes the layer cache may take: a third of the physical memory, at most 8 GiB."""
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        phys = 8 << 30
    return min(phys // 3, 8 << 30)


def cache_layers(model, enc: Encoded, upto: int, twins: bool, cfg, device, autocast, stop, emit,
                  amp) -> LayerCache:
    """Run the first ``upto`` layers of each tower over ``enc`` once (eval mode, no grad) and keep
    the unpadded hidden states."""
    dtype = amp if amp in (torch.bfloat16, torch.float16) else torch.float32

    def one(tower, seqs):
        H = tower.config.hidden_size
        lens = np.array([len(x) for x in seqs])
        off = np.zeros(len(seqs) + 1, dtype=np.int64)
        off[1:] = np.cumsum(lens)
        hid = torch.zeros((int(off[-1]), H), dtype=dtype)  # zeros: the rows of other ranks are added in
        batches = distributed.current().shard(length_sorted_batches(lens, cfg.eval_batch_size))
        with torch.no_grad(), autocast():
            for bi, idx in enumerate(batches):
                if stop():
                    raise Cancelled()
                ids, m = pad_batch([seqs[i] for i in idx])
                h = model.bottom_states(tower, torch.from_numpy(ids).to(device),
                                        torch.from_numpy(m).to(device), upto).to("cpu", dtype)
                for r, i in enumerate(idx):
                    hid[off[i]: off[i + 1]] = h[r, : lens[i]]
                emit(ProgressEvent("cache", bi + 1, len(batches)))
        return distributed.current().gather_rows(hid), off

    model.eval()
    ha, oa = one(model.tower_a, enc.a)
    if twins and enc.b is enc.a:
        hb, ob = ha, oa
    else:
        hb, ob = one(model.tower_b, enc.b)
    return LayerCache(ha, oa, hb, ob, enc.y)
