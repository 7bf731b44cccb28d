"""`triage ... --help`: every option says what it does, its default and its choices; the defaults
that come from a training preset are the presets' real values; help never imports torch."""
from __future__ import annotations

import argparse
import dataclasses
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from triage_app.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["classify", "train", "eval", "models", "thresholds"]


def _subparser(cmd: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[cmd]


def _documented(sp: argparse.ArgumentParser):
    """The actions of a subcommand that need a help text (not -h/--help, --version)."""
    return [a for a in sp._actions if not isinstance(a, (argparse._HelpAction, argparse._VersionAction))]


def _rendered(sp: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help text of one action as `--help` prints it (%(default)s and friends expanded)."""
    return " ".join(sp._get_formatter()._expand_help(action).split())


def _name(action: argparse.Action) -> str:
    return "/".join(action.option_strings) or action.dest


def test_every_subcommand_is_covered():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(sub.choices) == sorted(COMMANDS)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_option_and_positional_has_help(cmd):
    sp = _subparser(cmd)
    missing = [_name(a) for a in _documented(sp)
               if not a.help or a.help == argparse.SUPPRESS or not a.help.strip()]
    assert not missing, f"triage {cmd}: no help for {missing}"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_real_defaults_are_shown(cmd):
    sp = _subparser(cmd)
    for a in _documented(sp):
        if a.default is None or a.default is False or a.default == argparse.SUPPRESS:
            continue
        assert str(a.default) in _rendered(sp, a), f"triage {cmd} {_name(a)}: default {a.default!r} not in help"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_options_taking_a_value_state_their_default(cmd):
    """Options that take a value say what happens without them ("default: ...") or that they are
    required; flags are off unless given."""
    sp = _subparser(cmd)
    silent = [_name(a) for a in _documented(sp)
              if a.option_strings and a.nargs != 0
              and not re.search(r"\b(default|required)\b", _rendered(sp, a))]
    assert not silent, f"triage {cmd}: no default stated for {silent}"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_choices_are_explained(cmd):
    """Each choice of an option is named in its help (argparse lists them only in the usage)."""
    sp = _subparser(cmd)
    for a in _documented(sp):
        if a.choices and a.option_strings:
            text = _rendered(sp, a)
            for c in a.choices:
                assert re.search(rf"\b{re.escape(str(c))}\b", text), f"triage {cmd} {_name(a)}: {c!r} not explained"


# ---- defaults that come from the training preset ----------------------------------------------
def _preset_values(text: str, presets) -> dict[str, str] | None:
    """{preset: value} as stated in a help text, or None when it states none."""
    m = re.search(r"default per --preset: ([^)]*)\)", text)
    if m:
        pairs = dict(part.split(" ", 1) for part in m.group(1).split(", "))
        assert sorted(pairs) == sorted(presets), text
        return pairs
    m = re.search(r"default: (\S+) in every preset", text)
    if m:
        return {p: m.group(1) for p in presets}
    return None


def _same(stated: str, real) -> bool:
    if isinstance(real, bool) or not isinstance(real, (int, float)):
        return stated == str(real)
    return math.isclose(float(stated), real, rel_tol=1e-12)


def _train_args(*extra: str):
    return build_parser().parse_args(["train", "data.csv", "--label-col", "y", "--out", "o", *extra])


def _configs(*extra: str) -> dict:
    """What `triage train --preset P ...extra` really trains with, per preset that trains a
    transformer (auto becomes one of them, lexical has none of these settings)."""
    from trainer.config import TRANSFORMER_PRESETS
    from triage_app.cli.train import train_config

    return {p: train_config(_train_args("--preset", p, *extra)) for p in TRANSFORMER_PRESETS}


def _field_set_by(flag: str, value: str) -> dict[str, str]:
    """{preset: the TrainConfig field that `flag value` changes}."""
    base, changed = _configs(), _configs(flag, value)
    out = {}
    for p in base:
        diff = [f.name for f in dataclasses.fields(base[p])
                if getattr(base[p], f.name) != getattr(changed[p], f.name)]
        assert len(diff) == 1, (flag, p, diff)
        out[p] = diff[0]
    return out


def test_preset_defaults_in_train_help_are_the_presets():
    from trainer.config import TrainConfig

    sp = _subparser("train")
    base = _configs()
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    field_of = {"epochs": _field_set_by("--epochs", "7"), "lr": _field_set_by("--lr", "0.0123")}
    checked = set()
    for a in _documented(sp):
        if a.dest in field_of:
            per_preset = field_of[a.dest]
        elif a.dest in fields and a.default is None and all(getattr(c, a.dest) is not None for c in base.values()):
            per_preset = dict.fromkeys(base, a.dest)
        else:
            continue
        text = _rendered(sp, a)
        stated = _preset_values(text, base)
        assert stated is not None, f"--{a.dest}: the preset defaults are not stated: {text}"
        for p, cfg in base.items():
            real = getattr(cfg, per_preset[p])
            assert _same(stated[p], real), f"{_name(a)} preset {p}: help says {stated[p]}, trains with {real!r}"
        checked.add(a.dest)
    must = {"epochs", "lr", "head_epochs", "head_lr", "finetune_epochs", "finetune_layers", "tower_lr",
            "batch_size", "max_length", "pooling", "routing", "device", "precision", "seed"}
    assert must <= checked, must - checked


def test_main_phase_flags_name_the_field_they_set():
    """--epochs / --lr help says which phase's setting they replace in each preset."""
    sp = _subparser("train")
    for flag, fields in (("--epochs", _field_set_by("--epochs", "7")), ("--lr", _field_set_by("--lr", "0.0123"))):
        action = next(a for a in sp._actions if flag in a.option_strings)
        text = _rendered(sp, action)
        for p, field in fields.items():
            m = re.search(rf"--([a-z-]+) for [a-z, ]*\b{p}\b", text)
            assert m and m.group(1).replace("-", "_") == field, (flag, p, field, text)


def test_class_weights_help_matches_presets():
    sp = _subparser("train")
    action = next(a for a in sp._actions if "--no-class-weights" in a.option_strings)
    text = _rendered(sp, action)
    m = re.search(r"weighted in ([^;]*); unweighted in ([^)]*)\)", text)
    assert m, text
    stated_on = set(m.group(1).split(", "))
    real_on = {p for p, c in _configs().items() if c.class_weights}
    assert stated_on == real_on


# ---- help is light ------------------------------------------------------------------------------
@pytest.mark.parametrize("cmd", ["classify", "train"])
def test_help_does_not_import_torch(cmd):
    code = ("import sys, contextlib, io\n"
            "from triage_app.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    try:\n"
            f"        main([{cmd!r}, '--help'])\n"
            "    except SystemExit:\n"
            "        pass\n"
            "assert 'usage: triage' in out.getvalue(), out.getvalue()\n"
            "print('\\n'.join(sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    mods = set(r.stdout.split())
    assert not {"torch", "transformers"} & mods
    assert not any(m.startswith("PySide6") for m in mods)
