"""Texts and tiny helpers shared by the panels of the Train tab."""
from __future__ import annotations

import math
from dataclasses import dataclass

from trainer.config import DEFAULT_BASE

PRESET_TEXT = {
    "auto": "Auto — picks the strongest recipe that fits the data, this computer and the time budget, "
            "and says which with its time estimate before training; settings you change below are kept.",
    "quick": "Quick — towers frozen, only the classifier head trains (minutes on a CPU).",
    "standard": "Standard — head first, then the top 3 layers of both towers for two epochs (frozen layers cached).",
    "full": "Full — head first, then every layer fine-tuned (a GPU is recommended).",
    "lexical": "Lexical — the TF-IDF + logistic regression model alone, no transformer (seconds).",
    "seed": "Seed — the reference study's recipe (pooler output, pad to 128, head only).",
}
PHASE_TEXT = {   # short: they fill the Phase tile, narrow in a 1024-pixel window
    "data": "Preparing the data", "prepare": "Loading the base model",
    "features": "Caching features", "head": "Phase 1 · head",
    "cache": "Caching frozen layers",
    "finetune": "Phase 2 · fine-tuning", "calibrate": "Calibrating",
    "test": "Measuring on test", "export": "Exporting",
    "compare": "Comparing models",
    "lexical": "TF-IDF model, blend",
    "plan": "Auto · choosing",
}
HINTS = {
    "table": "Check that the file is a CSV, TSV, XLSX, JSON or JSONL table with a header row, that "
             "it is not open in another program, and that it is complete.",
    "data": "Lower the rare-label threshold, merge small labels into bigger ones with the merge map, "
            "or choose other label / text columns.",
    "config": "Correct the value in Model settings, or pick a preset again.",
    "model": "Choose a folder that holds a checkpoint (config.json, model weights and its tokenizer) "
             "of the BERT, DistilBERT, RoBERTa, XLM-RoBERTa, DeBERTa-v2/v3 or ELECTRA family; a hub id needs "
             f"internet once; or choose {DEFAULT_BASE}, the installed default.",
    "memory": "Lower the batch size or the max length, or use the quick preset.",
    "device": "Set Device to 'Automatic' or 'CPU' in Model settings, or check the NVIDIA driver.",
    "export": "The model trained but could not be exported. Try again; if it keeps failing, "
              "send the details to support.",
    "busy": "Only one training runs on a machine at a time. Wait until the other one has finished "
            "(or stop it), then start again.",
    "input": "Check the file and the settings named in the message.",
    "other": "Try the quick preset or a smaller batch size. The details below help support.",
}

FAILURE_TITLES = {"data": "The data cannot be used for training", "config": "Check the model settings",
                  "model": "The base checkpoint cannot be loaded", "memory": "Training ran out of memory",
                  "export": "The model could not be exported", "table": "Cannot read the file",
                  "device": "The GPU cannot be used",
                  "busy": "Another training is running on this machine",
                  "input": "Check the input"}


@dataclass
class FailureInfo:
    """Event from the training job: what kind of error ended it (a key of ``HINTS``)."""
    kind: str
    message: str


def fmt_duration(s: float | None) -> str:
    if s is None or not math.isfinite(s) or s < 0:
        return "—"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
