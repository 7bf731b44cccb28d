"""The ``triage`` argument parser: every subcommand, its options, help texts and defaults.

Help states every default; the defaults of ``train`` that come from a training preset are read
from the presets themselves (:mod:`trainer.config` needs only the standard library, so building
the parser never imports torch).  The commands import their heavy modules when they run."""
from __future__ import annotations

import argparse
import functools

from triage_app import __version__
from triage_app.cli.classify import cmd_classify
from triage_app.cli.evaluate import cmd_eval
from triage_app.cli.models import cmd_models, cmd_thresholds
from triage_app.cli.train import MAIN_PHASE_TUNES_TOWERS, cmd_train

DEVICE_HELP = ("auto: a CUDA GPU when ONNX Runtime can use one, else the CPU; cpu; cuda: the GPU, "
               "falling back to the CPU with a note (default: %(default)s)")
COLUMN_GUESS = "default: the model's training columns, else guessed"


@functools.lru_cache(maxsize=1)
def _preset_configs() -> dict | None:
    """Each preset's TrainConfig (None in a build without the trainer).  trainer.config needs only
    the standard library (tested), so building the parser for ``classify`` never imports torch."""
    try:
        from trainer.config import TRANSFORMER_PRESETS, TrainConfig
    except ImportError:
        return None
    # auto resolves to one of these; lexical trains no transformer
    return {p: TrainConfig.from_preset(p) for p in TRANSFORMER_PRESETS}


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _preset_default(field: str, tuned: str | None = None) -> str:
    """``default per --preset: quick 30, standard 20, ...`` for a TrainConfig field, or
    ``default: 128 in every preset``.  ``tuned``: the field read instead for the presets whose main
    phase tunes the towers (--epochs, --lr)."""
    cfgs = _preset_configs()
    if cfgs is None:
        return "default: set by --preset"
    vals = {p: getattr(c, tuned if tuned and p in MAIN_PHASE_TUNES_TOWERS else field) for p, c in cfgs.items()}
    if len(set(vals.values())) == 1:
        return f"default: {_fmt(next(iter(vals.values())))} in every preset"
    return "default per --preset: " + ", ".join(f"{p} {_fmt(v)}" for p, v in vals.items())


def _class_weights_default() -> str:
    cfgs = _preset_configs()
    if cfgs is None:
        return "default: set by --preset"
    on = [p for p, c in cfgs.items() if c.class_weights]
    off = [p for p, c in cfgs.items() if not c.class_weights]
    return (f"default: weighted in {', '.join(on) or 'no preset'}; "
            f"unweighted in {', '.join(off) or 'no preset'}")


def _add_column_options(sp, default: str = COLUMN_GUESS) -> None:
    """--title-col, --body-col, --text-col and --sheet; ``default`` says what happens without them."""
    sp.add_argument("--title-col", metavar="COLUMN", help=f"column holding the ticket title ({default})")
    sp.add_argument("--body-col", metavar="COLUMN", help=f"column holding the ticket body ({default})")
    sp.add_argument("--text-col", metavar="COLUMN",
                    help=f"column holding the whole ticket text, instead of title and body ({default})")
    sp.add_argument("--sheet", metavar="NAME", help="XLSX sheet to read (default: the first sheet)")


def _add_classify(sub) -> None:
    from triage_app.io.defaults import DEFAULT_CHUNK_ROWS  # stdlib only: no pandas for the parser

    c = sub.add_parser("classify", help="classify a file of tickets or one ticket")
    c.add_argument("input", nargs="?", metavar="INPUT",
                   help="ticket file: CSV, TSV, XLSX, JSON or JSONL (leave out with --text, --title or --body)")
    c.add_argument("-o", "--output", metavar="FILE",
                   help="output file, format from its extension (default: INPUT.triaged.csv next to INPUT)")
    c.add_argument("--text", metavar="TEXT", help="classify this one ticket text and print the result "
                   "(default: classify INPUT)")
    c.add_argument("--title", metavar="TEXT",
                   help="title of one ticket to classify, with or without --body (default: classify INPUT)")
    c.add_argument("--body", metavar="TEXT",
                   help="body of one ticket to classify, with or without --title (default: classify INPUT)")
    _add_column_options(c)
    c.add_argument("--model", metavar="MODEL",
                   help="bundle folder or installed model name (default: the bundled model)")
    c.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help=DEVICE_HELP)
    c.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads for ONNX Runtime (default: ONNX Runtime's choice)")
    c.add_argument("--threshold", type=float, metavar="P",
                   help="review threshold 0-1: predictions less confident than this are marked "
                        "needs_review (default: the bundle's, per label where it has them)")
    c.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="tickets per model call (default: 16 on the CPU, 64 on a GPU)")
    c.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_ROWS, metavar="ROWS",
                   help="rows read, classified and written at a time (default: %(default)s)")
    c.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="classify INPUT on a Ray cluster with Ray Data, one engine per actor (needs "
                        "pip install 'ticket-triage[cluster]'): no ADDRESS starts Ray on this machine, 'auto' "
                        "joins the cluster this machine belongs to, ray://HOST:10001 a remote one "
                        "(default: no Ray; docs/SCALING.md)")
    c.add_argument("--ray-actors", type=int, default=None, metavar="N",
                   help="engines (Ray actors) running at once (default: one per CPU, or per GPU with --ray-gpus)")
    c.add_argument("--ray-gpus", type=float, default=0, metavar="G",
                   help="GPUs per actor, e.g. 1 or 0.5; with 0 the actors run on CPUs (default: %(default)s)")
    c.add_argument("--top-k", type=int, default=3, metavar="K",
                   help="labels printed for one ticket (default: %(default)s); files always get the top 3")
    c.add_argument("--json", action="store_true", help="print the one-ticket result as JSON (default: text)")
    c.add_argument("--progress", action="store_true",
                   help="show the progress bar even when stderr is not a terminal (default: only on a terminal)")
    c.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar, notes or summary on stderr (errors are still printed)")
    c.set_defaults(func=cmd_classify)


def _add_train(sub) -> None:
    from trainer.config import DEFAULT_MIN_PER_CLASS, MIN_PER_CLASS_FLOOR  # stdlib only: classify stays torch-free

    t = sub.add_parser("train", help="fine-tune a dual-BERT classifier and export a bundle")
    t.add_argument("data", metavar="DATA", help="labeled ticket file: CSV, TSV, XLSX, JSON or JSONL")
    t.add_argument("--label-col", required=True, action="append", metavar="COLUMN",
                   help="column holding the label to learn (required); repeat it for several targets: one model, "
                        "one head per target, the first one primary (rows with an empty label are left out of "
                        "that target's loss only)")
    t.add_argument("--loss-weight", action="append", metavar="COLUMN=W", default=None,
                   help="several targets: the weight of that target's loss in the sum (default: 1 each)")
    _add_column_options(t, "no default: give --text-col, or --title-col and/or --body-col")
    _add_training_options(t)
    t.add_argument("--min-per-class", type=int, default=None, metavar="N",
                   help="labels with fewer rows are rare, see --rare (default: 1 %% of the labeled rows, at "
                        f"least {MIN_PER_CLASS_FLOOR}, at most {DEFAULT_MIN_PER_CLASS})")
    t.add_argument("--val-frac", type=float, default=0.1, metavar="SHARE",
                   help="share of rows held out for validation, stratified by label; ignored when the "
                        "file has a 'split' column (default: %(default)s)")
    t.add_argument("--test-frac", type=float, default=0.1, metavar="SHARE",
                   help="share of rows kept aside for the final test measurement; 0 for none "
                        "(default: %(default)s)")
    t.add_argument("--rare", choices=["drop", "other"], default="drop",
                   help="rows of rare labels: drop: left out; other: merged into one 'Other' label "
                        "(default: %(default)s)")
    t.add_argument("--merge-map", metavar="FILE",
                   help="JSON file {\"old label\": \"new label\"} applied before training; with several "
                        "targets, {\"COLUMN\": {\"old label\": \"new label\"}, ...} per label column "
                        "(default: no merging)")
    t.add_argument("--corrections", nargs="?", const="default", metavar="STORE",
                   help="also learn from the corrections agents saved in the app: the default store when "
                        "given without a value, or a .sqlite3 file (default: not used)")
    t.add_argument("--checkpoint-dir", metavar="DIR",
                   help="save a checkpoint here after every epoch, for --resume (default: none saved)")
    t.add_argument("--resume", metavar="DIR",
                   help="checkpoint folder (an earlier --checkpoint-dir) to continue from (default: start fresh)")
    t.add_argument("--no-int8", action="store_true",
                   help="ship the fp32 model (default: int8 when it passes the parity check against fp32, else fp32)")
    t.add_argument("--name", metavar="NAME", help="model name in the bundle (default: the --out folder's name)")
    t.add_argument("--version", default="1", metavar="VERSION", help="bundle version (default: %(default)s)")
    t.add_argument("--read-only", action="store_true",
                   help="mark the bundle read-only, for shipped models (default: editable)")
    t.add_argument("--card", action="store_true",
                   help="write MODEL_CARD.md and confusion.png into the bundle (default: not written)")
    t.add_argument("--card-extra", metavar="FILE",
                   help="markdown appended to MODEL_CARD.md before its Retraining section, with --card "
                        "(default: none)")
    t.add_argument("--transformer-from", metavar="BUNDLE",
                   help="reuse this bundle's exported transformer as it is served instead of training one: "
                        "only the lexical model is fitted and the blend chosen on validation (the data must "
                        "have the bundle's labels; default: train a transformer)")
    t.add_argument("--progress", action="store_true",
                   help="show progress bars even when stderr is not a terminal (default: only on a terminal)")
    t.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch (default: all cores)")
    t.add_argument("--out", required=True, metavar="DIR", help="bundle folder to write (required)")
    t.add_argument("--compare", metavar="MODEL",
                   help="also run this bundle (folder or installed name) on the validation rows and "
                        "report both models side by side (default: no comparison)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress output on stderr")
    t.set_defaults(func=cmd_train)


def _add_training_options(t) -> None:
    """The options of ``train`` that set TrainConfig fields (their defaults come from --preset)."""
    t.add_argument("--preset", choices=["auto", "quick", "standard", "full", "lexical", "seed"], default="auto",
                   help="auto: the strongest of the others that fits the data, the device and --time-budget, "
                        "said with its time estimate before training; quick: frozen towers, a classifier "
                        "head on features computed once (minutes on a CPU); standard: the head, then the top "
                        "encoder layers fine-tuned; full: the head, then every layer fine-tuned (GPU "
                        "recommended); lexical: the TF-IDF + logistic regression model alone (seconds); "
                        "seed: the reference study's recipe (pooler output, padded to 128, head only) "
                        "(default: %(default)s)")
    t.add_argument("--time-budget", metavar="DURATION",
                   help="with --preset auto: the longest the whole run may take, e.g. 20m, 90s, 1.5h "
                        "(default: 25m)")
    t.add_argument("--epochs", type=int, metavar="N",
                   help="epochs of the preset's main phase: --head-epochs for quick and seed, "
                        f"--finetune-epochs for standard and full ({_preset_default('head_epochs', 'finetune_epochs')})")
    t.add_argument("--lr", type=float, metavar="LR",
                   help="learning rate of the preset's main phase: --head-lr for quick and seed, "
                        f"--tower-lr for standard and full ({_preset_default('head_lr', 'tower_lr')})")
    t.add_argument("--head-epochs", type=int, metavar="N",
                   help=f"epochs of phase 1, the head on frozen towers ({_preset_default('head_epochs')})")
    t.add_argument("--head-lr", type=float, metavar="LR",
                   help=f"learning rate of the head in phase 1 ({_preset_default('head_lr')})")
    t.add_argument("--finetune-epochs", type=int, metavar="N",
                   help=f"epochs of phase 2, fine-tuning the towers; 0 = no phase 2 ({_preset_default('finetune_epochs')})")
    t.add_argument("--finetune-layers", type=int, metavar="N",
                   help="top N encoder layers of each tower tuned in phase 2; -1 = all and the embeddings, "
                        f"0 = none ({_preset_default('finetune_layers')})")
    t.add_argument("--tower-lr", type=float, metavar="LR",
                   help=f"learning rate of the towers in phase 2 ({_preset_default('tower_lr')})")
    t.add_argument("--batch-size", type=int, metavar="N", help=f"tickets per training step ({_preset_default('batch_size')})")
    t.add_argument("--dropout", type=float, metavar="P",
                   help=f"dropout before the linear head, in [0, 1) ({_preset_default('dropout')})")
    t.add_argument("--max-length", type=int, metavar="TOKENS",
                   help=f"tokens kept per text, 8 to 512 ({_preset_default('max_length')})")
    t.add_argument("--max-steps", type=int, metavar="N",
                   help="stop each phase after N optimizer steps, for smoke runs (default: no limit)")
    t.add_argument("--pooling", choices=["mean", "pooler"],
                   help="how a tower turns token vectors into one: mean: their average; pooler: BERT's "
                        f"pooler output of the first token ({_preset_default('pooling')})")
    t.add_argument("--routing", choices=["same", "split"],
                   help="same: both towers read title and body joined; split: tower A reads the title, "
                        f"tower B the body ({_preset_default('routing')})")
    t.add_argument("--base-model", metavar="CHECKPOINT",
                   help="the encoder the towers start from: a Hugging Face hub id (downloaded once, needs "
                        "internet) or a local checkpoint folder, of the BERT, DistilBERT, RoBERTa, XLM-RoBERTa, "
                        "DeBERTa-v2/v3 or ELECTRA family; the default one is an installed package "
                        f"({_preset_default('base_model')})")
    t.add_argument("--base-model-b", metavar="CHECKPOINT",
                   help="another encoder for tower B (e.g. a multilingual one for bodies beside a small one "
                        "for titles), with its own tokenizer (default: --base-model)")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"],
                   help=f"auto: a CUDA GPU when torch sees one, else the CPU; cpu; cuda: the GPU "
                        f"({_preset_default('device')})")
    t.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"],
                   help="auto: bf16 autocast where the CPU or GPU supports it (fp16 on GPUs without bf16), "
                        f"else fp32; fp16 applies on a GPU only ({_preset_default('precision')})")
    t.add_argument("--seed", type=int, metavar="N",
                   help=f"random seed of the data split, shuffling and initialisation ({_preset_default('seed')})")
    t.add_argument("--no-class-weights", action="store_true",
                   help=f"train without class weights in the loss ({_class_weights_default()})")
    t.add_argument("--no-lexical", action="store_true",
                   help="train the transformer alone: no TF-IDF + logistic regression model beside it "
                        "(default: one is fitted and the blend that wins on validation is served; the "
                        "seed preset never fits one)")


def _add_eval(sub) -> None:
    e = sub.add_parser("eval", help="evaluate a bundle on a labeled file")
    e.add_argument("bundle", metavar="MODEL", help="bundle folder or installed model name")
    e.add_argument("data", metavar="DATA", help="labeled ticket file: CSV, TSV, XLSX, JSON or JSONL")
    e.add_argument("--label-col", action="append", metavar="COLUMN",
                   help="column holding the true label (required for a single-target model); a multi-target "
                        "model is evaluated on each target whose column is given (repeat it), or, without it, on "
                        "each target whose training column the file has")
    _add_column_options(e)
    e.add_argument("--split", metavar="VALUE",
                   help="only rows whose 'split' column has this value, e.g. test (default: all rows)")
    e.add_argument("--language-col", metavar="COLUMN",
                   help="column holding each ticket's language, for the per-language figures (default: a "
                        "column named language, lang or locale; without one the language is identified offline)")
    e.add_argument("--baseline", action="store_true",
                   help="also TF-IDF + logistic regression trained on the other rows (needs --split; default: off)")
    e.add_argument("--confusion", metavar="PNG", help="write the confusion matrix PNG here (default: none)")
    e.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help=DEVICE_HELP)
    e.add_argument("--json", action="store_true", help="print the report as JSON (default: a table)")
    e.add_argument("--progress", action="store_true",
                   help="show the progress bar even when stderr is not a terminal (default: only on a terminal)")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notes on stderr")
    e.set_defaults(func=cmd_eval)


def _add_models(sub) -> None:
    m = sub.add_parser("models", help="list, import or export model bundles")
    m.add_argument("action", nargs="?", choices=["list", "import", "export"], default="list",
                   help="list: the bundled and installed models; import: install PATH (a .zip or a bundle "
                        "folder); export: write model PATH to the .zip DEST (default: %(default)s)")
    m.add_argument("path", nargs="?", metavar="PATH",
                   help="import: a .zip or bundle folder; export: a model name or bundle folder")
    m.add_argument("dest", nargs="?", metavar="DEST", help="export: the .zip file to write")
    m.add_argument("--json", action="store_true", help="print the list as JSON (default: a table)")
    m.set_defaults(func=cmd_models)


def _add_thresholds(sub) -> None:
    h = sub.add_parser("thresholds", help="review thresholds for a target precision")
    h.add_argument("bundle", metavar="MODEL", help="bundle folder or installed model name")
    h.add_argument("data", nargs="?", metavar="DATA",
                   help="labeled ticket file (default: the validation rows stored in the bundle)")
    h.add_argument("--label-col", metavar="COLUMN", help="column holding the true label (required with DATA)")
    _add_column_options(h)
    h.add_argument("--target", metavar="NAME",
                   help="a multi-target model's target (its label column) to set thresholds for (default: the "
                        "first, primary target)")
    h.add_argument("--target-precision", type=float, default=0.95, metavar="P",
                   help="precision 0-1 the auto-routed tickets should reach (default: %(default)s)")
    h.add_argument("--save", action="store_true",
                   help="store the thresholds in the bundle (default: only print them)")
    h.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help=DEVICE_HELP)
    h.set_defaults(func=cmd_thresholds)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``triage``; each subcommand sets ``func``, the function that runs it."""
    p = argparse.ArgumentParser(prog="triage", description="Triage support tickets with a local transformer.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)
    for add in (_add_classify, _add_train, _add_eval, _add_models, _add_thresholds):
        add(sub)
    return p
