"""Model bundle: one folder with ``model.onnx``, ``tokenizer.json``, ``bundle.json`` and optional
``MODEL_CARD.md`` / ``validation.npz`` / ``confusion.png`` / ``lexical.onnx`` (hybrid) /
``vocabulary.txt`` (unfamiliar-ticket signal).  A lexical-only bundle (hybrid lexical weight 1)
has no ``model.onnx`` and no ``tokenizer.json``.  Read, validate, write atomically, import/export
as zip.  Stdlib + numpy only.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from triage_app.atomic import atomic_path, fsync_dir, write_json_atomic
from triage_app.bundle_checks import check_familiarity, check_hybrid, check_sha256, check_targets, sha256_file
from triage_app.errors import BundleError
from triage_app.targets import TARGET_LEXICAL_FILES, TargetInfo, lexical_file, targets_of

# 1: one target; 2: several targets ("targets" in bundle.json, triage_app/targets.py).  A
# single-target bundle is still written as format 1, so older apps keep loading it.
FORMAT_VERSION = 2
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_B_FILE = "tokenizer_b.json"  # tower B's own tokenizer when its base is of another family
META_FILE = "bundle.json"
CARD_FILE = "MODEL_CARD.md"
VALIDATION_FILE = "validation.npz"
LEXICAL_FILE = "lexical.onnx"          # the TF-IDF + logistic regression part of a hybrid model
VOCABULARY_FILE = "vocabulary.txt"     # the training words, for the unfamiliar-ticket signal
OPTIONAL_FILES = (CARD_FILE, VALIDATION_FILE, "confusion.png", LEXICAL_FILE, VOCABULARY_FILE,
                  TOKENIZER_B_FILE) + TARGET_LEXICAL_FILES
ALLOWED_FILES = (MODEL_FILE, TOKENIZER_FILE, META_FILE) + OPTIONAL_FILES
REQUIRED_KEYS = (
    "format_version", "name", "version", "labels", "routing", "max_length", "cleaning",
    "temperature", "review_threshold", "base_model", "precision", "onnx_sha256",
    "train_config", "data_fingerprint", "metrics", "created",
)
ZIP_MAX_BYTES = 2 * 1024**3          # uncompressed size limit of an imported zip
ZIP_MAX_RATIO = 200                  # compression ratio above this is treated as a zip bomb


@dataclass
class Bundle:
    path: Path
    meta: dict = field(repr=False)

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def version(self) -> str:
        return str(self.meta["version"])

    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"])

    @property
    def routing(self) -> str:
        return self.meta["routing"]

    @property
    def max_length(self) -> int:
        return int(self.meta["max_length"])

    @property
    def temperature(self) -> float:
        return float(self.meta["temperature"])

    @property
    def review_threshold(self) -> float:
        return float(self.meta["review_threshold"])

    @property
    def class_thresholds(self) -> dict[str, float]:
        return {k: float(v) for k, v in (self.meta.get("class_thresholds") or {}).items()}

    @property
    def precision(self) -> str:
        return self.meta["precision"]

    @property
    def cleaning_options(self) -> dict:
        return dict(self.meta["cleaning"].get("options", {}))

    @property
    def input_fields(self) -> list[str]:
        return list(self.meta.get("input_fields", ["title", "body"]))

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def lexical_weight(self) -> float:
        """Weight of the lexical part in the served blend (0 for a transformer-only bundle)."""
        return float((self.meta.get("hybrid") or {}).get("lexical_weight", 0.0))

    @property
    def lexical_path(self) -> Path:
        return self.path / LEXICAL_FILE

    @property
    def lexical_only(self) -> bool:
        """True for a bundle served by its lexical model alone (no transformer file)."""
        return _lexical_only(self.meta)

    @property
    def targets(self) -> list[TargetInfo]:
        """The targets of a multi-target bundle, the primary (the single-target fields) first;
        ``[]`` for a single-target bundle (:mod:`triage_app.targets`)."""
        return targets_of(self.meta, self.path)

    @property
    def familiarity(self) -> dict | None:
        """The unfamiliar-ticket record of ``bundle.json`` (limits chosen on validation), or None."""
        return self.meta.get("familiarity") or None

    @property
    def vocabulary_path(self) -> Path:
        return self.path / VOCABULARY_FILE

    @property
    def tokenizer_path(self) -> Path:
        return self.path / TOKENIZER_FILE

    @property
    def tokenizer_b_path(self) -> Path | None:
        """Tower B's own tokenizer (``encoders.b.tokenizer`` in ``bundle.json``), or None when
        both towers read with ``tokenizer.json`` (every single-family bundle)."""
        b = ((self.meta.get("encoders") or {}).get("b") or {}).get("tokenizer", TOKENIZER_FILE)
        return self.path / TOKENIZER_B_FILE if b == TOKENIZER_B_FILE else None

    @property
    def languages(self) -> dict:
        """Languages of the training rows and their counts (``data_report.languages``), or {}."""
        return dict((self.meta.get("data_report") or {}).get("languages") or {})

    @property
    def validation_path(self) -> Path:
        return self.path / VALIDATION_FILE

    @property
    def read_only(self) -> bool:
        return bool(self.meta.get("read_only", False)) or not os.access(self.path / META_FILE, os.W_OK)

    def trained_on(self) -> str:
        """One line for people: what the model learned from and where it is weak, e.g. ``Trained on
        38,267 tickets of it_service_tickets.csv.gz (8 labels, text column Document) ...``."""
        fp = self.meta.get("data_fingerprint") or {}
        counts = (self.meta.get("data_report") or {}).get("counts") or {}
        train = sum((counts.get("train") or {}).values()) if counts.get("train") else fp.get("rows")
        cols = self.meta.get("columns") or {}
        fields = ", ".join(f"{k} column {v}" for k, v in cols.items() if k != "label" and v)
        src = fp.get("source") or "unrecorded data"
        out = f"Trained on {train:,} tickets of {src}" if isinstance(train, int) else f"Trained on {src}"
        out += f" ({len(self.labels)} labels" + (f", {fields})" if fields else ")") + "."
        s = self.summary()
        if isinstance(s["accuracy"], (int, float)):
            out += f" Test accuracy {s['accuracy']:.1%}" + (f" on {s['rows']:,} tickets" if s.get("rows") else "") + "."
        out += (" Tickets unlike these (another helpdesk, free prose, another language) are less reliable"
                + ("; those with many words it never saw are flagged for review." if self.familiarity else "."))
        return out

    def summary(self) -> dict:
        m = self.meta.get("metrics", {}) or {}
        # the exported file as served first; else the trainer's figures (PyTorch, before export)
        test = m.get("test_exported") or m.get("test") or m.get("val") or {}
        return {"name": self.name, "version": self.version, "created": self.meta["created"],
                "labels": len(self.labels), "precision": self.precision,
                "accuracy": test.get("accuracy"), "macro_f1": test.get("macro_f1"),
                "rows": test.get("rows", test.get("n")),
                "base_model": self.meta["base_model"], "path": str(self.path)}


def load_bundle(path: str | os.PathLike, verify_hash: bool = True) -> Bundle:
    """Read and validate a bundle folder. Raises :class:`BundleError` naming file and problem."""
    p = Path(path)
    if not p.exists():
        raise BundleError(f"{p}: bundle folder not found")
    if not p.is_dir():
        raise BundleError(f"{p}: not a folder (a bundle is a folder; import zips with 'Import')")
    meta_path = p / META_FILE
    if not meta_path.is_file():
        raise BundleError(f"{meta_path}: missing (not a TicketTriage model bundle)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{meta_path}: not valid JSON ({e})") from e
    if not isinstance(meta, dict):
        raise BundleError(f"{meta_path}: expected a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise BundleError(f"{meta_path}: missing keys: {', '.join(missing)}")
    fv = meta["format_version"]
    if not isinstance(fv, int) or fv < 1:
        raise BundleError(f"{meta_path}: bad format_version {fv!r}")
    if fv > FORMAT_VERSION:
        raise BundleError(f"{meta_path}: format version {fv} is newer than this app supports "
                          f"({FORMAT_VERSION}); update TicketTriage to use this model")
    labels = meta["labels"]
    if (not isinstance(labels, list) or len(labels) < 2
            or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels)):
        raise BundleError(f"{meta_path}: 'labels' must be a list of at least 2 distinct names")
    if meta["routing"] not in ("same", "split"):
        raise BundleError(f"{meta_path}: routing must be 'same' or 'split', got {meta['routing']!r}")
    if not isinstance(meta["max_length"], int) or not 8 <= meta["max_length"] <= 512:
        raise BundleError(f"{meta_path}: bad max_length {meta['max_length']!r}")
    t = meta["temperature"]
    if not isinstance(t, (int, float)) or not 0.01 <= t <= 100:
        raise BundleError(f"{meta_path}: bad temperature {t!r}")
    rt = meta["review_threshold"]
    if not isinstance(rt, (int, float)) or not 0 <= rt <= 1:
        raise BundleError(f"{meta_path}: review_threshold must be in [0, 1], got {rt!r}")
    for k, v in (meta.get("class_thresholds") or {}).items():
        if k not in labels or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise BundleError(f"{meta_path}: bad class threshold {k!r}: {v!r}")
    cleaning = meta["cleaning"]
    if not isinstance(cleaning, dict) or "function" not in cleaning:
        raise BundleError(f"{meta_path}: 'cleaning' must record the cleaning function and options")
    from triage_app import text as _text
    if cleaning["function"] != _text.CLEANING_NAME or cleaning.get("version", 1) > _text.CLEANING_VERSION:
        raise BundleError(f"{meta_path}: trained with cleaning {cleaning['function']} "
                          f"v{cleaning.get('version')}, this app has {_text.CLEANING_NAME} "
                          f"v{_text.CLEANING_VERSION}")
    if meta["precision"] not in ("fp32", "int8", "int8-emb"):
        raise BundleError(f"{meta_path}: precision must be fp32, int8 or int8-emb, got {meta['precision']!r}")
    check_hybrid(meta, p / LEXICAL_FILE, meta_path, verify_hash)
    check_targets(meta, p, meta_path, verify_hash)
    if not _lexical_only(meta):   # lexical-only bundles have no transformer
        model = p / MODEL_FILE
        if not model.is_file():
            raise BundleError(f"{model}: missing")
        if model.stat().st_size < 64:
            raise BundleError(f"{model}: file is empty or truncated")
        tok = p / TOKENIZER_FILE
        if not tok.is_file():
            raise BundleError(f"{tok}: missing (the tokenizer is needed to read tickets)")
        tok_b = Bundle(p, meta).tokenizer_b_path
        if tok_b is not None and not tok_b.is_file():
            raise BundleError(f"{tok_b}: missing (bundle.json says tower B reads with its own tokenizer)")
        if verify_hash:
            check_sha256(model, meta["onnx_sha256"])
    check_familiarity(meta, p / VOCABULARY_FILE, meta_path, verify_hash)
    return Bundle(path=p, meta=meta)


def _lexical_only(meta: dict) -> bool:
    """Every target is served by its lexical model alone (lexical weight 1): no transformer."""
    parts = [meta] + list(meta.get("targets") or [])[1:]
    return all((m.get("hybrid") or {}).get("lexical_weight") == 1 for m in parts)


# Hidden work folders and files this project creates beside bundles and checkpoints; a process
# killed half-way leaves them behind (the real output is never half-written).
WORK_NAME = re.compile(r"^\.(export-[A-Za-z0-9_]{8}|(tmp|old)-.+-[0-9a-f]{8}|tmp-(install|import)-[0-9a-f]{8}"
                       r"|(tmp|old)-\d+|pending-.+|deleting-[0-9a-f]{8}|.+\.[A-Za-z0-9_]{8}\.tmp)$")
# A folder being deleted is renamed to this first (one atomic step); whatever a crash leaves of it
# is removed at the next clean-up whatever its age, because nothing ever uses it again.
TRASH_NAME = re.compile(r"^\.deleting-[0-9a-f]{8}$")
PENDING_PREFIX = ".pending-"
STALE_WORK_S = 24 * 3600


def clean_stale_work(root: str | os.PathLike, max_age_s: float = STALE_WORK_S, files: bool = True) -> list[str]:
    """Remove this project's hidden work folders (and, with ``files``, its hidden ``.NAME.*.tmp``
    files) in ``root`` untouched for ``max_age_s``: left by a killed export, install or checkpoint
    save; a running job touches its own within minutes.  Nothing else is touched.  Returns the
    names removed."""
    removed = []
    try:
        now = time.time()
        for p in Path(root).iterdir():
            if not WORK_NAME.match(p.name) or (not files and not p.is_dir()):
                continue
            try:
                if now - p.lstat().st_mtime <= max_age_s and not TRASH_NAME.match(p.name):
                    continue
                if _owner_alive(p.name):  # an unsaved trained model the app still shows
                    continue
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
                removed.append(p.name)
            except OSError:
                continue
    except OSError:
        pass
    return removed


def _owner_alive(name: str) -> bool:
    """True for a pending folder (``.pending-<pid>-<hex>``) whose process still runs."""
    m = re.match(r"^\.pending-(\d+)-", name)
    if not m:
        return False
    pid = int(m.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:          # exists but belongs to someone else (or the platform cannot tell)
        return True
    return True


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def replaceable(out: Path) -> bool:
    """True when a bundle may be written to ``out``: absent, empty, or a bundle (never another folder)."""
    return not out.exists() or (out.is_dir() and ((out / META_FILE).is_file() or not any(out.iterdir())))


def write_bundle(files: dict[str, str | os.PathLike], meta: dict, out_dir: str | os.PathLike,
                 move: bool = False) -> Bundle:
    """Assemble a bundle in a hidden temp folder beside ``out_dir`` and rename it into place.

    ``files`` maps bundle file names (``model.onnx``, ``tokenizer.json``, optional extras) to
    source paths or to the file's content (``bytes``).  ``onnx_sha256``, ``format_version`` and ``created`` are filled in.  If the
    process dies half-way only a hidden ``.tmp-*`` folder remains; ``out_dir`` is either absent,
    the previous bundle, or the complete new one.
    """
    out = Path(out_dir)
    if not replaceable(out):
        raise BundleError(f"{out}: exists and is not a model bundle; choose a new or empty folder "
                          "(only an existing bundle folder is replaced)")
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in files:
        if name not in ALLOWED_FILES or name == META_FILE:
            raise BundleError(f"{name}: not a bundle file")
    tmp = out.parent / f".tmp-{out.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for name, src in files.items():
            if isinstance(src, bytes):
                (tmp / name).write_bytes(src)
            else:
                (shutil.move if move else shutil.copyfile)(str(src), str(tmp / name))
        meta = dict(meta)
        meta["format_version"] = FORMAT_VERSION if meta.get("targets") else 1
        meta.setdefault("created", now_iso())
        meta["onnx_sha256"] = sha256_file(tmp / MODEL_FILE) if (tmp / MODEL_FILE).is_file() else ""
        if (tmp / LEXICAL_FILE).is_file() and isinstance(meta.get("hybrid"), dict):
            meta["hybrid"] = {**meta["hybrid"], "lexical_sha256": sha256_file(tmp / LEXICAL_FILE)}
        if isinstance(meta.get("targets"), list):   # the lexical parts of the other targets
            meta["targets"] = [{**t, "hybrid": {**t["hybrid"], "lexical_sha256": sha256_file(tmp / lexical_file(k))}}
                               if k and isinstance(t.get("hybrid"), dict) and (tmp / lexical_file(k)).is_file()
                               else t for k, t in enumerate(meta["targets"])]
        if (tmp / VOCABULARY_FILE).is_file() and isinstance(meta.get("familiarity"), dict):
            meta["familiarity"] = {**meta["familiarity"], "vocabulary_sha256": sha256_file(tmp / VOCABULARY_FILE)}
        write_json_atomic(tmp / META_FILE, meta)
        load_bundle(tmp, verify_hash=False)  # never publish something that would not load (hashes just computed)
        fsync_dir(tmp)
        old = None
        if out.exists():
            old = out.parent / f".old-{out.name}-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:
            if old is not None:  # put the previous bundle back where it was
                os.replace(old, out)
            raise
        fsync_dir(out.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_bundle(out, verify_hash=False)


def save_thresholds(bundle_dir: str | os.PathLike, global_threshold: float,
                    class_thresholds: dict[str, float] | None, target: str | None = None) -> Bundle:
    """Store review thresholds in ``bundle.json`` (atomic); validated like any load.  ``target``
    (a multi-target bundle's target name) stores that target's; None or the primary target's name:
    the bundle's own (top-level) thresholds."""
    b = load_bundle(bundle_dir, verify_hash=False)
    if not 0 <= global_threshold <= 1:
        raise BundleError(f"threshold must be in [0, 1], got {global_threshold}")
    meta = dict(b.meta)
    names = [t.name for t in b.targets]
    if target is not None and target not in names:
        raise BundleError(f"{b.path / META_FILE}: no target {target!r}"
                          + (f" (targets: {', '.join(names)})" if names else " (a single-target model)"))
    k = names.index(target) if target is not None else 0
    labels = b.targets[k].labels if k else b.labels
    ct = {lab: round(float(v), 4) for lab, v in (class_thresholds or {}).items()}
    unknown = [lab for lab in ct if lab not in labels]
    if unknown:
        raise BundleError(f"{b.path / META_FILE}: unknown labels in thresholds: {', '.join(unknown)}")
    rec = {"review_threshold": round(float(global_threshold), 4), "class_thresholds": ct}
    if k == 0:
        meta.update(rec)
    else:
        meta["targets"] = [dict(t, **rec) if i == k else t for i, t in enumerate(meta["targets"])]
    write_json_atomic(b.path / META_FILE, meta)
    return load_bundle(b.path, verify_hash=False)


# ---- zip ----------------------------------------------------------------------------------
def export_zip(bundle_dir: str | os.PathLike, zip_path: str | os.PathLike) -> Path:
    b = load_bundle(bundle_dir)
    zp = Path(zip_path)
    with atomic_path(zp) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in ALLOWED_FILES:
            f = b.path / name
            if f.is_file():
                z.write(f, f"{b.path.name}/{name}")
    return zp


def _unique_dir(parent: Path, name: str) -> Path:
    cand = parent / name
    i = 2
    while cand.exists():
        cand = parent / f"{name}-{i}"
        i += 1
    return cand


def _install_dir(parent: Path, b: Bundle, suffix: str = "") -> Path:
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in b.name) or "model"
    return _unique_dir(parent, f"{name}-v{b.version}{suffix}")


def install_copy(src: str | os.PathLike, dest_parent: str | os.PathLike, suffix: str = "",
                 meta_update: dict | None = None) -> Path:
    """Copy a bundle folder into ``dest_parent/<name>-v<version><suffix>`` (never overwriting):
    validated first, copied to a hidden temp folder, ``meta_update`` applied to its
    ``bundle.json``, validated again, then renamed into place."""
    b = load_bundle(src)
    dest_parent = Path(dest_parent)
    dest_parent.mkdir(parents=True, exist_ok=True)
    tmp = dest_parent / f".tmp-install-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        for name in ALLOWED_FILES:
            if (b.path / name).is_file():
                shutil.copyfile(b.path / name, tmp / name)
        if meta_update:
            write_json_atomic(tmp / META_FILE, {**b.meta, **meta_update})
        load_bundle(tmp)
        final = _install_dir(dest_parent, b, suffix)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def import_zip(zip_path: str | os.PathLike, dest_parent: str | os.PathLike,
               max_bytes: int = ZIP_MAX_BYTES) -> Path:
    """Safely extract a bundle zip into ``dest_parent/<name>``; validated before it appears.

    Rejects absolute paths, ``..``, links, unknown files, nested folders, more than one bundle,
    and archives whose uncompressed size exceeds ``max_bytes`` or whose ratio looks like a bomb.
    """
    zp = Path(zip_path)
    dest_parent = Path(dest_parent)
    if not zp.is_file():
        raise BundleError(f"{zp}: file not found")
    try:
        z = zipfile.ZipFile(zp)
    except (zipfile.BadZipFile, OSError) as e:
        raise BundleError(f"{zp}: not a valid zip file ({e})") from e
    with z:
        infos = [i for i in z.infolist() if not i.is_dir()]
        if not infos:
            raise BundleError(f"{zp}: the zip is empty")
        total = 0
        plan: dict[str, zipfile.ZipInfo] = {}
        prefixes = set()
        for i in infos:
            name = i.filename.replace("\\", "/")
            mode = (i.external_attr >> 16) & 0xFFFF
            if stat.S_ISLNK(mode):
                raise BundleError(f"{zp}: {i.filename} is a link; links are not allowed")
            if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
                raise BundleError(f"{zp}: {i.filename} has an absolute path")
            parts = name.split("/")
            if ".." in parts:
                raise BundleError(f"{zp}: {i.filename} points outside the bundle ('..')")
            if len(parts) > 2:
                raise BundleError(f"{zp}: {i.filename} is nested too deep")
            prefixes.add(parts[0] if len(parts) == 2 else "")
            base = parts[-1]
            if base not in ALLOWED_FILES:
                raise BundleError(f"{zp}: unexpected file {i.filename} in a model bundle")
            if base in plan:
                raise BundleError(f"{zp}: {base} appears twice")
            total += i.file_size
            if total > max_bytes:
                raise BundleError(f"{zp}: uncompressed size over the {max_bytes // 2**20} MiB limit")
            if i.compress_size and i.file_size / i.compress_size > ZIP_MAX_RATIO and i.file_size > 10 * 2**20:
                raise BundleError(f"{zp}: {i.filename} has a suspicious compression ratio (zip bomb?)")
            plan[base] = i
        if len(prefixes) > 1:
            raise BundleError(f"{zp}: holds more than one bundle")
        dest_parent.mkdir(parents=True, exist_ok=True)
        tmp = dest_parent / f".tmp-import-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            for base, info in plan.items():
                written = 0
                with z.open(info) as src, open(tmp / base, "wb") as dst:
                    while True:
                        chunk = src.read(1 << 20)
                        if not chunk:
                            break
                        written += len(chunk)
                        if written > info.file_size or written > max_bytes:
                            raise BundleError(f"{zp}: {info.filename} is larger than declared")
                        dst.write(chunk)
            final = _install_dir(dest_parent, load_bundle(tmp))
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


# ---- publish / delete -----------------------------------------------------------------------
def safe_model_name(name: str) -> str:
    """A folder name made of letters, digits, ``. _ -`` and spaces turned into ``-`` (max 80)."""
    s = re.sub(r"[^A-Za-z0-9._ -]+", "-", str(name)).strip().strip(".-")
    s = re.sub(r"-{2,}", "-", re.sub(r"\s+", "-", s))
    return s[:80]


def new_pending_dir(root: str | os.PathLike) -> Path:
    """A hidden work folder in ``root`` for a bundle not yet published (e.g. a trained model
    waiting for "Save"); removed by :func:`discard_pending` or, once its process has ended, by
    :func:`clean_stale_work` a day later.  Its name carries the process id, so a model the app still
    shows is never cleaned away under it, however long it waits."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    d = root / f"{PENDING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:10]}"
    d.mkdir()
    return d


def discard_pending(pending: str | os.PathLike | None) -> None:
    """Delete a pending work folder (crash-safe like :func:`delete_bundle`)."""
    if pending is not None and Path(pending).exists():
        delete_bundle(pending)


def publish_bundle(src: str | os.PathLike, models_dir: str | os.PathLike, name: str) -> Bundle:
    """Move the bundle folder ``src`` to ``models_dir/<name>`` and record ``name`` in its
    ``bundle.json``.  Never overwrites: an existing ``name`` is a :class:`BundleError`.  The
    move is one rename on the same disk, so the model appears complete or not at all."""
    clean = safe_model_name(name)
    if not clean:
        raise BundleError("the model needs a name (letters, digits, - _ .)")
    dest = Path(models_dir) / clean
    if dest.exists():
        raise BundleError(f"{dest}: a model called '{clean}' already exists; choose another name")
    b = load_bundle(src, verify_hash=False)
    if b.meta.get("name") != clean:
        write_json_atomic(b.path / META_FILE, {**b.meta, "name": clean})
    try:
        os.rename(b.path, dest)
    except OSError as e:     # the name appeared meanwhile, or the folder cannot be written
        raise BundleError(f"{dest}: the model could not be saved under this name ({e.strerror or e})") from e
    fsync_dir(dest.parent)
    return load_bundle(dest)


def delete_bundle(path: str | os.PathLike) -> None:
    """Delete a bundle (or work) folder: first renamed to a hidden ``.deleting-*`` name in the
    same folder (atomic: the model disappears from every listing at once), then removed.  What a
    crash leaves behind is removed by the next :func:`clean_stale_work` in that folder."""
    p = Path(path)
    trash = p.parent / f".deleting-{uuid.uuid4().hex[:8]}"
    os.replace(p, trash)
    shutil.rmtree(trash, ignore_errors=True)
    clean_stale_work(p.parent, files=False)
