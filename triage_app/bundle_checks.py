"""Checks of a bundle's optional parts against what ``bundle.json`` records (stdlib only):
file hashes, the hybrid record with ``lexical.onnx``, the unfamiliar-ticket record with
``vocabulary.txt``.  :func:`triage_app.bundle.load_bundle` calls them."""
from __future__ import annotations

import hashlib
from pathlib import Path

from triage_app.errors import BundleError


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def check_familiarity(meta: dict, voc: Path, meta_path: Path, verify_hash: bool) -> None:
    """A bundle with an unfamiliar-ticket record carries its vocabulary with the recorded sha256
    and valid limits."""
    fam = meta.get("familiarity")
    if fam is None:
        return
    if not isinstance(fam, dict):
        raise BundleError(f"{meta_path}: 'familiarity' must be an object")
    lim, mw = fam.get("unseen_limit"), fam.get("min_words")
    if not isinstance(lim, (int, float)) or not 0 <= lim <= 1:
        raise BundleError(f"{meta_path}: familiarity.unseen_limit must be a number in [0, 1], got {lim!r}")
    if not isinstance(mw, int) or mw < 0:
        raise BundleError(f"{meta_path}: familiarity.min_words must be an integer >= 0, got {mw!r}")
    if not voc.is_file():
        raise BundleError(f"{voc}: missing (bundle.json has an unfamiliar-ticket record)")
    if verify_hash:
        check_sha256(voc, fam.get("vocabulary_sha256"))


def check_sha256(path: Path, recorded) -> None:
    """``path``'s content is what ``bundle.json`` recorded (BundleError otherwise)."""
    digest = sha256_file(path)
    if digest != recorded:
        raise BundleError(f"{path}: sha256 mismatch (file {digest[:12]}…, bundle.json says "
                          f"{str(recorded)[:12]}…); the file is corrupt or was replaced")


def check_hybrid(meta: dict, lex: Path, meta_path: Path, verify_hash: bool) -> None:
    """A hybrid bundle (``"hybrid"`` in bundle.json) names its lexical weight and, when that is
    above 0, carries ``lexical.onnx`` with the sha256 it records."""
    hybrid = meta.get("hybrid")
    if hybrid is None:
        return
    if not isinstance(hybrid, dict):
        raise BundleError(f"{meta_path}: 'hybrid' must be an object")
    w = hybrid.get("lexical_weight")
    if not isinstance(w, (int, float)) or not 0 <= w <= 1:
        raise BundleError(f"{meta_path}: hybrid.lexical_weight must be a number in [0, 1], got {w!r}")
    if w == 0:
        return
    if not lex.is_file():
        raise BundleError(f"{lex}: missing (bundle.json gives the lexical part a weight of {w})")
    if verify_hash:
        check_sha256(lex, hybrid.get("lexical_sha256"))
