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


def check_targets(meta: dict, folder: Path, meta_path: Path, verify_hash: bool) -> None:
    """A multi-target bundle (``"targets"`` in bundle.json, format 2) lists 2 to ``MAX_TARGETS``
    targets with distinct names; the first names the primary target (whose labels are the
    top-level ones); every other one has valid labels, temperature, thresholds and hybrid record
    (with its ``lexical_<k>.onnx``).  See :mod:`triage_app.targets`."""
    from triage_app.targets import MAX_TARGETS, lexical_file

    targets = meta.get("targets")
    if targets is None:
        return
    if not isinstance(targets, list) or not 2 <= len(targets) <= MAX_TARGETS:
        raise BundleError(f"{meta_path}: 'targets' must be a list of 2 to {MAX_TARGETS} targets")
    if not isinstance(meta.get("format_version"), int) or meta["format_version"] < 2:
        raise BundleError(f"{meta_path}: a bundle with several targets needs format_version 2")
    names = [t.get("name") if isinstance(t, dict) else None for t in targets]
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise BundleError(f"{meta_path}: every target needs a distinct, non-empty 'name'")
    if targets[0].get("labels", meta["labels"]) != meta["labels"]:
        raise BundleError(f"{meta_path}: the first target's labels are not the bundle's 'labels'")
    for k, t in enumerate(targets[1:], start=1):
        where = f"{meta_path}: target {t['name']!r}"
        labels = t.get("labels")
        if (not isinstance(labels, list) or len(labels) < 2
                or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels)):
            raise BundleError(f"{where}: 'labels' must be a list of at least 2 distinct names")
        temp = t.get("temperature")
        if not isinstance(temp, (int, float)) or not 0.01 <= temp <= 100:
            raise BundleError(f"{where}: bad temperature {temp!r}")
        rt = t.get("review_threshold")
        if not isinstance(rt, (int, float)) or not 0 <= rt <= 1:
            raise BundleError(f"{where}: review_threshold must be in [0, 1], got {rt!r}")
        for lab, v in (t.get("class_thresholds") or {}).items():
            if lab not in labels or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise BundleError(f"{where}: bad class threshold {lab!r}: {v!r}")
        check_hybrid(t, folder / lexical_file(k), meta_path, verify_hash)
