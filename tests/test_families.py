"""Towers of every supported encoder family (issue 19): tiny random models (2 layers, small vocab,
a tokenizer built here with ``tokenizers``: WordPiece, byte-level BPE, Unigram) trained a few
steps, exported (optimizer per family, int8 gate, parity) and served by the engine with parity
against PyTorch; towers of two families in one model; a hub id that cannot be downloaded."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import tiny_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# family -> (tokenizer kind, special tokens in id order, pad token, template of one sequence)
SPECS = {
    "bert": ("wordpiece", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], "[CLS] $A [SEP]"),
    "distilbert": ("wordpiece", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], "[CLS] $A [SEP]"),
    "electra": ("wordpiece", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], "[CLS] $A [SEP]"),
    "roberta": ("bpe", ["<s>", "<pad>", "</s>", "<unk>", "<mask>"], "<s> $A </s>"),
    "xlm-roberta": ("unigram", ["<s>", "<pad>", "</s>", "<unk>", "<mask>"], "<s> $A </s>"),
    "deberta-v2": ("unigram", ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"], "[CLS] $A [SEP]"),
}


def build_tokenizer(kind: str, specials: list[str], template: str, texts: list[str], vocab: int):
    """A small trained tokenizer of ``kind`` with a post-processor that adds the family's
    sequence markers (what the engine reads from ``tokenizer.json``)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    unk = next(s for s in specials if "unk" in s.lower())
    if kind == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token=unk))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab, special_tokens=specials)
        tok.decoder = decoders.WordPiece()
    elif kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token=unk))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.decoder = decoders.ByteLevel()
    else:
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab, special_tokens=specials, unk_token=unk)
        tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(texts, trainer)
    first, last = template.split()[0], template.split()[-1]
    tok.post_processor = processors.TemplateProcessing(
        single=template, pair=f"{template} $B:1 {last}:1",
        special_tokens=[(first, tok.token_to_id(first)), (last, tok.token_to_id(last))])
    return tok


def family_config(fam: str, vocab: int, pad_id: int, hidden: int = 32):
    from transformers import AutoConfig

    common = dict(vocab_size=vocab, pad_token_id=pad_id, max_position_embeddings=160)
    if fam == "distilbert":
        return AutoConfig.for_model(fam, dim=hidden, n_layers=2, n_heads=2, hidden_dim=2 * hidden, **common)
    kw = dict(hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2, intermediate_size=2 * hidden)
    if fam == "electra":
        kw["embedding_size"] = hidden // 2        # ELECTRA projects smaller embeddings up
    if fam == "deberta-v2":                        # DeBERTa-v3 style: relative positions only
        kw.update(relative_attention=True, position_biased_input=False, pos_att_type=["p2c", "c2p"],
                  position_buckets=32, max_relative_positions=-1)
    return AutoConfig.for_model(fam, **kw, **common)


def save_family_checkpoint(out: Path, fam: str, texts: list[str], hidden: int = 32, seed: int = 0) -> Path:
    """A random ``fam`` encoder with its own trained tokenizer, saved as a Hugging Face folder."""
    import torch
    from transformers import AutoModel

    kind, specials, template = SPECS[fam]
    tok = build_tokenizer(kind, specials, template, texts, vocab=300)
    pad = next(s for s in specials if "pad" in s.lower())
    torch.manual_seed(seed)
    model = AutoModel.from_config(family_config(fam, tok.get_vocab_size(), tok.token_to_id(pad), hidden))
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save(str(out / "tokenizer.json"))
    return out


@pytest.fixture(scope="module")
def corpus(sample_data) -> list[str]:
    d = sample_data
    return list(d.train.text_a) + list(d.train.text_b) + list(d.val.text_a) + list(d.val.text_b)


def _train_export_serve(base_a, sample_data, out, base_b=None, **kw):
    """Train a few steps (head, then the top layer on cached bottom-layer outputs), export with
    the optimizer and the int8 gate, load with the engine; returns (result, bundle, report, engine)."""
    from trainer.export import export_result
    from trainer.loop import train
    from triage_app.engine import TicketClassifier

    cfg = tiny_config(base_a, base_model_b=str(base_b) if base_b else None, head_epochs=2,
                      finetune_layers=1, max_steps=3, hybrid=False, **kw)
    res = train(cfg, sample_data)
    bundle, rep = export_result(res, out, name="fam", version="1", max_val_rows=64)
    return res, bundle, rep, TicketClassifier.load(bundle.path, device="cpu")


def _assert_parity(res, engine, rep):
    """The engine's logits against PyTorch on the validation rows: equal to float precision when
    fp32 shipped; with int8, the gate's own agreement."""
    from trainer.export import torch_logits
    from triage_app.tokens import load_tokenizer

    v = res.data.val
    tok = load_tokenizer(res.tokenizer_path, res.config.max_length)
    if res.tokenizer_path_b:
        tok = (tok, load_tokenizer(res.tokenizer_path_b, res.config.max_length))
    ref = torch_logits(res.model, tok, v.text_a, v.text_b)
    got = engine.transformer_logits(list(zip(v.text_a, v.text_b)), None)
    assert rep.fp32_max_diff <= 1e-3
    if engine.bundle.precision == "fp32":
        assert np.abs(ref - got).max() <= 1e-3
    else:
        assert (ref.argmax(1) == got.argmax(1)).mean() >= 0.9
    assert rep.int8.get("tried"), "the int8 gate ran"


@pytest.mark.parametrize("fam", list(SPECS))
def test_family_trains_exports_and_serves_with_parity(fam, corpus, sample_data, tmp_path):
    ck = save_family_checkpoint(tmp_path / fam, fam, corpus)
    res, bundle, rep, engine = _train_export_serve(ck, sample_data, tmp_path / "bundle",
                                                   pooling="pooler" if fam in ("distilbert", "electra") else "mean")
    assert res.model.tower_a.config.model_type == fam
    _assert_parity(res, engine, rep)
    enc = bundle.meta["encoders"]
    assert enc["a"]["family"] == enc["b"]["family"] == fam and enc["b"]["tokenizer"] == "tokenizer.json"
    assert bundle.tokenizer_b_path is None and not (bundle.path / "tokenizer_b.json").exists()
    if fam in ("distilbert", "electra"):   # pooler pooling asked of a family without a pooler
        assert enc["a"]["pooling"].startswith("first token")
    if fam == "deberta-v2":     # no fusions for DeBERTa in ONNX Runtime's optimizer: skipped, said so
        assert rep.optimizer_model_type == "" and not rep.optimized
        assert "skipped" in rep.optimizer_note and "deberta-v2" in rep.optimizer_note
    else:
        assert rep.optimizer_model_type == "bert" and f"for {fam} towers" in rep.optimizer_note
    assert engine.predict({"title": "vpn", "body": "cannot connect"}).label in bundle.labels


def test_towers_of_two_families_with_their_own_tokenizers(corpus, sample_data, tmp_path):
    """A small DistilBERT (WordPiece) reads titles, a wider XLM-R (Unigram) bodies."""
    a = save_family_checkpoint(tmp_path / "a", "distilbert", corpus, hidden=32)
    b = save_family_checkpoint(tmp_path / "b", "xlm-roberta", corpus, hidden=48, seed=1)
    res, bundle, rep, engine = _train_export_serve(a, sample_data, tmp_path / "bundle", base_b=b, routing="split")
    assert res.tokenizer_path_b and (bundle.path / "tokenizer_b.json").is_file()
    assert res.model.hidden == 32 + 48
    enc = bundle.meta["encoders"]
    assert (enc["a"]["family"], enc["b"]["family"]) == ("distilbert", "xlm-roberta")
    assert enc["b"]["tokenizer"] == "tokenizer_b.json" and bundle.tokenizer_b_path.is_file()
    assert engine.tokenizer_b is not None
    _assert_parity(res, engine, rep)
    # the bundle still loads after a zip round trip (tokenizer_b.json is a bundle file)
    from triage_app.bundle import export_zip, import_zip

    z = export_zip(bundle.path, tmp_path / "b.zip")
    imported = import_zip(z, tmp_path / "models")
    assert (Path(imported) / "tokenizer_b.json").is_file()


def test_missing_tokenizer_b_is_named(bundle_copy):
    """A bundle whose bundle.json says tower B reads with its own tokenizer, which is not there."""
    from triage_app.bundle import BundleError, load_bundle

    bj = bundle_copy / "bundle.json"
    meta = json.loads(bj.read_text(encoding="utf-8"))
    meta["encoders"]["b"]["tokenizer"] = "tokenizer_b.json"
    bj.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(BundleError, match="tokenizer_b.json: missing"):
        load_bundle(bundle_copy)


def test_hub_id_offline_says_what_to_do(monkeypatch):
    import huggingface_hub.constants

    from trainer.model import ModelLoadError, load_encoder

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError) as e:
        load_encoder("example-org/no-such-encoder-xyz")
    msg = str(e.value)
    assert "example-org/no-such-encoder-xyz" in msg and "could not be downloaded" in msg
    assert "--base-model" in msg and "all-MiniLM-L6-v2" in msg and "hf download" in msg
    with pytest.raises(ModelLoadError, match="no such folder"):
        load_encoder("./no/such/folder")


def test_default_and_folder_bases_still_load(tiny_checkpoint):
    from trainer.model import encoder_stack, load_encoder, tokenizer_file

    m = load_encoder(str(tiny_checkpoint))
    assert m.config.model_type == "bert" and len(encoder_stack(m).layer) == 2
    assert tokenizer_file("all-MiniLM-L6-v2").is_file()
    assert json.loads(tokenizer_file(str(tiny_checkpoint)).read_text())["model"]["type"] == "WordPiece"
