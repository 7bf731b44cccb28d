"""Tokenisation and dynamic padding shared by the trainer and the engine (tokenizers + numpy)."""
from __future__ import annotations

import os

import numpy as np


def load_tokenizer(path: str | os.PathLike, max_length: int):
    """A fast ``tokenizers.Tokenizer`` from ``tokenizer.json`` that truncates to ``max_length``
    and does not pad (padding is done per batch by :func:`pad_batch`)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.enable_truncation(max_length=max_length)
    return tok


def encode(tok, texts: list[str]) -> list[list[int]]:
    return [e.ids for e in tok.encode_batch(list(texts))]


def encode_towers(tok_a, tok_b, texts_a: list[str], texts_b: list[str]):
    """Token ids of both towers: ``texts_a`` with ``tok_a``, ``texts_b`` with ``tok_b`` (None: the
    towers share ``tok_a``).  With one tokenizer and the same texts, tower B's ids *are* tower A's
    (the same list object, so callers can tell the towers read the same input)."""
    a = encode(tok_a, texts_a)
    if tok_b is None or tok_b is tok_a:
        return a, (a if list(texts_a) == list(texts_b) else encode(tok_a, texts_b))
    return a, encode(tok_b, texts_b)


def pad_batch(seqs: list[list[int]], pad_to: int | None = None, pad_id: int = 0):
    """Right-pad to the longest sequence (or ``pad_to``); returns int64 ids and mask."""
    n = len(seqs)
    width = pad_to or max((len(s) for s in seqs), default=1)
    width = max(width, 1)
    ids = np.full((n, width), pad_id, dtype=np.int64)
    mask = np.zeros((n, width), dtype=np.int64)
    for i, s in enumerate(seqs):
        s = s[:width]
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask


def length_sorted_batches(lengths, batch_size: int) -> list[np.ndarray]:
    """Indices grouped in batches of similar length (longest first), for inference."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
