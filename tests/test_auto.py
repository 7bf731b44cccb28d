"""The ``auto`` preset: the recipe it picks for the data size, the device's measured speed and the
time budget, said before training; the ``lexical`` preset; the CLI's --time-budget."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from trainer.auto import DEFAULT_BUDGET_S, MIN_TRANSFORMER_ROWS, estimate, parse_duration, plan
from trainer.config import ConfigError, TrainConfig
from trainer.data import Split


def _data(n_train: int, n_val: int = 100, n_test: int = 100):
    texts = ["printer jams on floor three again", "vpn drops every hour", "reset my password please"]

    def split(n):
        t = [texts[i % 3] for i in range(n)]
        return Split(t, t, np.arange(n) % 3)

    return SimpleNamespace(train=split(n_train), val=split(n_val), test=split(n_test))


def test_durations_parse_and_bad_ones_are_named():
    assert parse_duration("20m") == 1200 and parse_duration("90s") == 90 and parse_duration("1.5h") == 5400
    assert parse_duration("45") == 2700            # minutes by default
    for bad in ("soon", "5s", "-3m", "2d"):
        with pytest.raises(ConfigError, match="time budget"):
            parse_duration(bad)


def test_estimates_grow_with_the_recipe_and_the_rows():
    tokens = {"train": (100_000, 0), "val": (10_000, 0), "test": (10_000, 0)}
    rows = {"train": 10_000, "val": 1_000, "test": 1_000}
    e = {p: estimate(TrainConfig.from_preset(p), tokens, rows, 1e-4, 6) for p in ("quick", "standard", "full")}
    assert e["quick"] < e["standard"] < e["full"]
    one = estimate(TrainConfig.standard(finetune_epochs=1), tokens, rows, 1e-4, 6)
    assert e["quick"] < one < e["standard"]
    double = {k: (2 * a, b) for k, (a, b) in tokens.items()}
    assert estimate(TrainConfig.standard(), double, rows, 1e-4, 6) > e["standard"]
    # split routing reads two texts per ticket: the tower-B tokens count too
    split = {k: (a, a) for k, (a, b) in tokens.items()}
    assert estimate(TrainConfig.standard(routing="split"), split, rows, 1e-4, 6) > e["standard"]
    # fp32 (a CPU without bf16 hardware): the probe's forward pass is in fp32 too, and an epoch of
    # fine-tuning costs fewer of its units; recipes without fine-tuning cost the same
    from trainer.auto import FT_FACTOR, FT_FACTOR_FP32
    fp32 = estimate(TrainConfig.standard(), tokens, rows, 1e-4, 6, precision="fp32")
    ft_share = 2 * 3 / 6 * 1e-4 * 100_000          # two epochs of the top 3 layers over the training tokens
    assert fp32 == pytest.approx(e["standard"] - (FT_FACTOR - FT_FACTOR_FP32) * ft_share)
    assert estimate(TrainConfig.quick(), tokens, rows, 1e-4, 6, precision="fp32") == e["quick"]


def test_tiny_data_gets_the_lexical_model_alone():
    p = plan(_data(MIN_TRANSFORMER_ROWS - 1), "unused", probe={"s_per_token": 1.0, "layers": 6, "device": "cpu"})
    assert p.preset == "lexical" and "too few" in p.reason
    assert p.config().preset == "lexical"


def test_the_strongest_recipe_that_fits_the_budget(tiny_checkpoint):
    data = _data(2000)
    fast = {"s_per_token": 1e-6, "layers": 2, "device": "cpu"}
    p = plan(data, str(tiny_checkpoint), probe=fast)
    assert p.preset == "standard" and p.overrides == {} and p.budget_s == DEFAULT_BUDGET_S
    assert "about" in p.describe() and "standard" in p.describe()
    assert "full" not in p.estimates                # never on a CPU
    on_gpu = plan(data, str(tiny_checkpoint), probe={**fast, "device": "cuda"})
    assert on_gpu.preset == "full"
    # slower device: the budget decides, and the plan says what the stronger recipes would take
    est = plan(data, str(tiny_checkpoint), probe={**fast, "s_per_token": 1e-3}).estimates
    budget = (est["standard (1 fine-tuning epoch)"] + est["standard"]) / 2
    p = plan(data, str(tiny_checkpoint), budget_s=budget, probe={**fast, "s_per_token": 1e-3})
    assert p.label == "standard (1 fine-tuning epoch)" and p.config().finetune_epochs == 1
    assert "standard would take about" in p.reason
    p = plan(data, str(tiny_checkpoint), budget_s=est["quick"] * 0.5, probe={**fast, "s_per_token": 1e-3})
    assert p.preset == "lexical" and "no transformer recipe fits" in p.reason
    # the user's own settings are kept in the chosen recipe
    p = plan(data, str(tiny_checkpoint), probe=fast, overrides={"routing": "split", "seed": 7})
    cfg = p.config(routing="split", seed=7)
    assert (cfg.preset, cfg.routing, cfg.seed, cfg.finetune_epochs) == ("standard", "split", 7, 2)


def test_the_probe_measures_the_device(tiny_checkpoint):
    from trainer.auto import probe_forward

    p = probe_forward(str(tiny_checkpoint), ["printer jams again on floor three"] * 10, device="cpu", rows=8)
    assert p["device"] == "cpu" and p["layers"] == 2 and 0 < p["s_per_token"] < 0.1
    assert probe_forward(str(tiny_checkpoint), ["printer jams"] * 4, device="cpu", rows=4,
                         precision="fp32")["precision"] == "fp32"
    assert p["precision"] in ("bf16", "fp32")      # auto: bf16 where the CPU has it


def test_explicit_settings_are_what_differs_from_the_defaults():
    assert TrainConfig.auto().explicit() == {}
    assert TrainConfig.auto(routing="split", max_length=64).explicit() == {"routing": "split", "max_length": 64}
    with pytest.raises(ConfigError, match="time_budget_s"):
        TrainConfig.auto(time_budget_s=0)


def test_cli_train_without_a_preset_is_auto_and_says_so(sample_csv, tmp_path, data_dir, capsys):
    from triage_app.cli import main
    from triage_app.engine import TicketClassifier

    out = tmp_path / "m"
    rc = main(["train", str(sample_csv), "--label-col", "category", "--title-col", "title", "--body-col", "body",
               "--min-per-class", "5", "--out", str(out), "--time-budget", "10m", "--card"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "[plan] auto: lexical" in cap.err and "too few" in cap.err   # said before training
    s = json.loads(cap.out)
    assert s["preset"] == "lexical" and s["auto"]["label"] == "lexical" and s["auto"]["budget_s"] == 600
    clf = TicketClassifier.load(out, device="cpu")
    assert clf.bundle.lexical_only and clf.bundle.meta["auto"]["preset"] == "lexical"
    assert clf.predict("printer jams on floor three").label in clf.labels
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert card.startswith("# m v1\n\nLexical ticket classifier") and "the `lexical` preset" in card
    assert "Recipe chosen by the `auto` preset: **lexical**" in card and "## Unfamiliar tickets" in card


def test_cli_refuses_options_auto_cannot_honour(sample_csv, tmp_path, data_dir, capsys):
    from triage_app.cli import main

    base = ["train", str(sample_csv), "--label-col", "category", "--text-col", "body", "--out", str(tmp_path / "x")]
    assert main(base + ["--epochs", "3"]) == 2
    assert "--epochs and --lr set the main phase of a named preset" in capsys.readouterr().err
    assert main(base + ["--preset", "quick", "--time-budget", "5m"]) == 2
    assert "--time-budget applies to --preset auto only" in capsys.readouterr().err
    assert main(base + ["--time-budget", "soon"]) == 2
    assert "time budget 'soon'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_no_lexical_rules_out_the_lexical_model(tiny_checkpoint):
    fast = {"s_per_token": 1e-6, "layers": 2, "device": "cpu"}
    p = plan(_data(MIN_TRANSFORMER_ROWS - 1), str(tiny_checkpoint), probe=fast, overrides={"hybrid": False})
    assert p.preset != "lexical"
    slow = {**fast, "s_per_token": 1.0}
    p = plan(_data(2000), str(tiny_checkpoint), budget_s=60, probe=slow, overrides={"hybrid": False})
    assert p.preset == "quick" and "ruled out by --no-lexical" in p.reason
    with pytest.raises(ConfigError, match="lexical preset trains the lexical model alone"):
        TrainConfig.lexical(hybrid=False)
