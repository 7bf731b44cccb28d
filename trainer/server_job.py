"""A "train on a server" job folder: the labeled data, the exact ``torchrun`` command that trains
with the chosen settings (``triage train`` under torchrun, docs/SCALING.md) and a README.

The Train tab writes one (a background job: the data may be large); the bundle the server
produces is imported with the Models tab.  Plain Python: no torch, no Qt.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import asdict
from pathlib import Path

from trainer.config import DEFAULT_BASE, TrainConfig

DATA_FILE = "tickets.csv"
MERGE_FILE = "merge_map.json"
SCRIPT = "train.sh"
# TrainConfig field -> `triage train` flag, for every setting the command line takes
FLAGS = {"head_epochs": "--head-epochs", "finetune_epochs": "--finetune-epochs",
         "finetune_layers": "--finetune-layers", "head_lr": "--head-lr", "tower_lr": "--tower-lr",
         "batch_size": "--batch-size", "max_length": "--max-length", "pooling": "--pooling",
         "routing": "--routing", "precision": "--precision", "seed": "--seed", "dropout": "--dropout",
         "max_steps": "--max-steps"}


def train_args(spec, cfg: TrainConfig, data_file: str = DATA_FILE, merge_file: str | None = None,
               out: str = "model", checkpoint_dir: str = "checkpoints") -> list[str]:
    """The arguments of ``triage train`` that reproduce ``spec`` (its columns and split) and
    ``cfg`` (every setting the form chose, the preset's own values included)."""
    args = [data_file]
    for col in (spec.label_cols or [spec.label_col]):     # several targets: one --label-col each
        args += ["--label-col", col]
    for col, w in (cfg.loss_weights or {}).items():
        args += ["--loss-weight", f"{col}={w:g}"]
    for flag, col in (("--title-col", spec.title_col), ("--body-col", spec.body_col), ("--text-col", spec.text_col)):
        if col:
            args += [flag, col]
    args += ["--val-frac", f"{spec.val_frac:g}", "--test-frac", f"{spec.test_frac:g}", "--rare", spec.rare]
    if spec.min_per_class is not None:
        args += ["--min-per-class", str(spec.min_per_class)]
    if merge_file:
        args += ["--merge-map", merge_file]
    args += ["--preset", cfg.preset if cfg.preset != "custom" else "standard"]
    if cfg.preset == "auto":
        if cfg.time_budget_s:
            args += ["--time-budget", f"{int(cfg.time_budget_s)}s"]
    else:
        for field, flag in FLAGS.items():
            v = getattr(cfg, field)
            if v is not None:
                args += [flag, f"{v:g}" if isinstance(v, float) else str(v)]
        if not cfg.class_weights:
            args.append("--no-class-weights")
    if not cfg.hybrid and cfg.preset != "lexical":
        args.append("--no-lexical")
    if cfg.base_model != DEFAULT_BASE:
        args += ["--base-model", cfg.base_model]
    return args + ["--out", out, "--checkpoint-dir", checkpoint_dir]


def torchrun_command(args: list[str], nproc: int | str = 1, nnodes: int = 1) -> str:
    """The shell command line: ``torchrun ... -m triage_app train ARGS`` (``nproc`` may be a shell
    expression such as ``${NPROC:-1}``; the arguments are quoted)."""
    if nnodes > 1:
        launch = (f"torchrun --nnodes {nnodes} --node_rank $NODE_RANK --nproc_per_node {nproc} "
                  '--rdzv_backend c10d --rdzv_endpoint "$MASTER_ADDR:29500" --rdzv_id triage')
    else:
        launch = f"torchrun --standalone --nproc_per_node {nproc}"
    return f"{launch} -m triage_app train " + " ".join(shlex.quote(a) for a in args)


def write_server_job(folder: str | Path, spec, cfg: TrainConfig, df, *, nproc: int = 1,
                     should_stop=None) -> Path:
    """Write the job folder (created; an existing non-empty folder is refused) and return it.
    ``df``: the table to train on as the app has it (corrections already merged when chosen)."""
    from triage_app.errors import Cancelled, UserError

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise UserError(f"{folder}: the folder is not empty; choose an empty or new folder for the job")
    folder.mkdir(parents=True, exist_ok=True)
    # plain CSV, no spreadsheet escaping: the trainer must read the tickets exactly as they are
    df.to_csv(folder / DATA_FILE, index=False, encoding="utf-8")
    if should_stop is not None and should_stop():
        raise Cancelled()
    merge = MERGE_FILE if spec.merge_map else None
    if merge:
        (folder / MERGE_FILE).write_text(json.dumps(spec.merge_map, indent=2, ensure_ascii=False), encoding="utf-8")
    args = train_args(spec, cfg, merge_file=merge)
    one = torchrun_command(args, "${NPROC:-1}")
    script = ("#!/bin/sh\n# Train on this machine's GPUs (NPROC of them; default 1), from this folder.\n"
              "# Needs: pip install ticket-triage (the same version as the app).\n"
              f"set -e\ncd \"$(dirname \"$0\")\"\n{one}\n")
    (folder / SCRIPT).write_text(script, encoding="utf-8")
    (folder / SCRIPT).chmod(0o755)
    job = {"command_args": ["train", *args], "nproc_per_node": nproc, "config": asdict(cfg),
           "rows": int(len(df))}
    (folder / "job.json").write_text(json.dumps(job, indent=2, default=str), encoding="utf-8")
    (folder / "README.md").write_text(readme(args, int(len(df)), nproc, cfg), encoding="utf-8")
    return folder


def readme(args: list[str], rows: int, nproc: int, cfg: TrainConfig) -> str:
    note = ("\nThe base model is a folder of this computer (`--base-model`): copy it to the server and change "
            "the path in the commands.\n" if cfg.base_model != DEFAULT_BASE else "")
    return f"""# TicketTriage training job

Written by the app's Train tab: {rows:,} labeled tickets (`{DATA_FILE}`) and the settings chosen there
(preset `{cfg.preset}`), as the command below. Everything runs on the server; nothing is downloaded.

## 1. Install (once, on every machine of the job)

    pip install ticket-triage          # the same version as the app; torch with CUDA for GPUs

## 2. Train

On one machine with {nproc} GPU(s) (or CPU processes; `NPROC=4 ./{SCRIPT}` for 4):

    {torchrun_command(args, nproc)}

On two machines ({nproc} GPU(s) each): copy this folder to both, then on each (NODE_RANK 0 on the
first, 1 on the second; MASTER_ADDR: the first machine's address, port 29500 open between them):

    {torchrun_command(args, nproc, nnodes=2)}

Rank 0 alone prints progress and writes `checkpoints/` and the bundle `model/`. If a process or a
machine stops, the job ends with a message; start the same command again with
`--resume checkpoints` added (any number of processes) to continue from the last epoch.
{note}
## 3. Bring the model back

    python -m triage_app models export ./model model.zip

Copy `model.zip` to the computer with the app and import it in the **Models** tab (Import…), or
`triage models import model.zip`. See docs/SCALING.md of TicketTriage for what each process does.
"""
