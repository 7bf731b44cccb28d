"""Training checkpoints: weights and optimizer state as safetensors, the rest as JSON.

A checkpoint folder holds ``last/`` with ``model.safetensors``, ``best.safetensors`` (the best
weights so far, when there are any), ``optimizer.safetensors`` (the optimizer's tensors) and
``state.json`` (loop state, training config, labels, the optimizer's other state and param groups,
the scheduler).  Nothing is pickled.  :func:`save_checkpoint` replaces ``last`` atomically.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from trainer.config import TrainConfig
from triage_app.atomic import fsync_dir
from triage_app.bundle import clean_stale_work


def save_checkpoint(ckpt_dir: Path, model, optimizer, scheduler, state: dict, cfg: TrainConfig,
                    labels, best_state: dict | None) -> None:
    """Weights and optimizer state as safetensors, the rest as JSON, in ``ckpt_dir/last``.

    Atomic as a folder (the pattern of :func:`triage_app.bundle.publish_bundle`): every file is
    written plainly into a hidden ``.tmp-<pid>`` folder that nothing reads, which then replaces
    ``last`` by renames; on an error the previous ``last`` is put back and the temporary folder
    removed.  A process killed between the two renames leaves the previous checkpoint as a hidden
    ``.old-<pid>`` folder; :func:`~triage_app.bundle.clean_stale_work` removes leftovers later.
    """
    from safetensors.torch import save_file

    ckpt_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_work(ckpt_dir)  # left by a process killed while saving, days ago
    tmp = ckpt_dir / f".tmp-{os.getpid()}"
    old = ckpt_dir / f".old-{os.getpid()}"
    final = ckpt_dir / "last"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    tmp.mkdir()
    try:
        sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(sd, str(tmp / "model.safetensors"))
        if best_state is not None:
            save_file({k: v.contiguous() for k, v in best_state.items()}, str(tmp / "best.safetensors"))
        opt_tensors, opt_meta = {}, {"param_groups": [], "state_keys": []}
        if optimizer is not None:
            osd = optimizer.state_dict()
            for pid, st in osd["state"].items():
                for k, v in st.items():
                    if torch.is_tensor(v):
                        opt_tensors[f"{pid}.{k}"] = v.detach().cpu().contiguous()
                    else:
                        opt_meta["state_keys"].append([pid, k, v])
            opt_meta["param_groups"] = osd["param_groups"]
            if opt_tensors:
                save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
        full = {"state": state, "config": cfg.to_dict(), "labels": list(labels), "optimizer": opt_meta,
                "scheduler": scheduler.state_dict() if scheduler is not None else None}
        (tmp / "state.json").write_text(json.dumps(full, indent=2, default=float), encoding="utf-8")
        fsync_dir(tmp)
        moved = False
        if final.exists():
            os.replace(final, old)
            moved = True
        try:
            os.replace(tmp, final)
        except BaseException:
            if moved:  # put the previous checkpoint back where it was
                os.replace(old, final)
            raise
        fsync_dir(ckpt_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint in ``path`` (a checkpoint folder or its ``last`` subfolder): ``state.json``'s
    content plus the tensors: ``model``, ``best`` (or None), ``opt_tensors`` and the ``path`` read."""
    from safetensors.torch import load_file

    p = Path(path)
    if (p / "last").is_dir():
        p = p / "last"
    st = p / "state.json"
    if not st.is_file():
        raise FileNotFoundError(f"{p}: no checkpoint (state.json missing)")
    full = json.loads(st.read_text(encoding="utf-8"))
    full["model"] = load_file(str(p / "model.safetensors"))
    full["best"] = load_file(str(p / "best.safetensors")) if (p / "best.safetensors").is_file() else None
    full["opt_tensors"] = load_file(str(p / "optimizer.safetensors")) if (p / "optimizer.safetensors").is_file() else {}
    full["path"] = str(p)
    return full


def restore_optimizer(optimizer, ck: dict) -> None:
    """Load the optimizer state of checkpoint ``ck`` (from :func:`load_checkpoint`) into ``optimizer``."""
    meta = ck["optimizer"]
    state: dict = {}
    for key, v in ck["opt_tensors"].items():
        pid, k = key.split(".", 1)
        state.setdefault(int(pid), {})[k] = v
    for pid, k, v in meta["state_keys"]:
        state.setdefault(int(pid), {})[k] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
