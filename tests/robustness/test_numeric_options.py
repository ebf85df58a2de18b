"""Every numeric CLI option is checked where it is parsed: a bad value is one usage line naming the option.

Before, `train --lr nan` trained to a NaN loss, `predict --tile 64 --overlap 2` ended in a traceback and
`--tile 0` or `--overlap nan` passed without a word when no tiling happened (issue 27, items 11 and 12).
"""

from __future__ import annotations

import argparse
import math

import pytest

from segcore.cli import build_parser, main
from segcore.cli.numbers import integer, real
from segcore.training import TrainConfig
from segcore.training.config import ConfigError

TRAIN = ["train", "--data", "nowhere", "--format", "folder", "--out", "run"]
PREDICT = ["predict", "--checkpoint", "c.pt", "--input", "in", "--out", "out"]
BAD = [
    (TRAIN, "--lr", "nan"), (TRAIN, "--lr", "0"), (TRAIN, "--lr", "-1e-3"), (TRAIN, "--lr", "inf"),
    (TRAIN, "--epochs", "0"), (TRAIN, "--batch-size", "2.5"), (TRAIN, "--val-fraction", "1"),
    (TRAIN, "--momentum", "1"), (TRAIN, "--step-gamma", "0"), (TRAIN, "--workers", "-1"), (TRAIN, "--seed", "-1"),
    (TRAIN, "--grad-clip", "0"), (TRAIN, "--weight-decay", "-1"), (TRAIN, "--pseudo-confidence", "0.2"),
    (TRAIN, "--warmup", "nan"), (TRAIN, "--keep-top-k", "-1"), (TRAIN, "--patience", "0"),
    (PREDICT, "--tile", "0"), (PREDICT, "--tile", "16"), (PREDICT, "--overlap", "2"), (PREDICT, "--overlap", "nan"),
    (PREDICT, "--overlap", "-1"), (PREDICT, "--batch-size", "0"), (PREDICT, "--workers", "-2"),
    (["demo"], "--small", "-1"), (["models"], "--num-classes", "0"), ([], "--max-pixels", "0"),
]


@pytest.mark.parametrize(("command", "option", "value"), BAD, ids=[f"{c[0] if c else 'segcore'}{o}={v}" for c, o, v in BAD])
def test_a_bad_number_is_one_usage_line_naming_the_option(command, option, value, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    given = f"{option}={value}"  # "=": argparse reads a lone -1 as an option
    argv = [*command, given] if command else [given, "models"]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and f"argument {option}: must be a " in errors[0], errors
    assert value in errors[0] or repr(value) in errors[0]
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_an_unknown_export_format_is_refused_before_predicting(capsys, tmp_path):
    # before: a traceback per image from the writer, "predicted 0 of 1", and exit 0
    with pytest.raises(SystemExit) as exit_:
        main([*PREDICT, "--export", "palette,jpeg2000"])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert exit_.value.code == 2 and len(errors) == 1
    assert "argument --export: unknown export format 'jpeg2000'; choose from palette, color" in errors[0]
    assert build_parser().parse_args([*PREDICT, "--export", "color, palette,color"]).export == ("color", "palette")


def test_tile_and_overlap_on_the_edge_of_their_range_are_taken():
    args = build_parser().parse_args([*PREDICT, "--tile", "32", "--overlap", "0.9"])
    assert (args.tile, args.overlap) == (32, 0.9)
    args = build_parser().parse_args([*TRAIN, "--val-fraction", "0", "--momentum", "0", "--workers", "0"])
    assert (args.val_fraction, args.momentum, args.workers) == (0.0, 0.0, 0)


def test_every_numeric_option_says_its_default():
    def numeric(action: argparse.Action) -> bool:
        return getattr(action.type, "__qualname__", "").startswith((integer.__name__, real.__name__))

    def parsers(parser: argparse.ArgumentParser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in set(action.choices.values()):
                    yield from parsers(sub)

    unsaid = [f"{parser.prog} {action.option_strings[0]}" for parser in parsers(build_parser())
              for action in parser._actions if numeric(action) and "default" not in (action.help or "")]
    checked = sum(numeric(action) for parser in parsers(build_parser()) for action in parser._actions)
    assert checked >= 25 and unsaid == []


@pytest.mark.parametrize("field", ["lr", "weight_decay", "momentum", "val_fraction", "warmup_epochs", "grad_clip"])
def test_the_engine_refuses_a_nan_option_too(field):
    with pytest.raises(ConfigError, match=f"{field} must be a finite number"):
        TrainConfig(**{field: math.nan}).validate()
    with pytest.raises(ConfigError):
        TrainConfig(**{field: -1.0}).validate()


def test_the_config_option_is_named_as_the_cli_names_it_and_old_configs_still_load():
    # issue 27, item 18: TrainConfig(workers=0) failed where the CLI says --workers
    assert TrainConfig(workers=2).workers == 2
    assert build_parser().parse_args([*TRAIN, "--workers", "3"]).workers == 3
    old = {**TrainConfig().to_dict(), "num_workers": 1}  # a run or checkpoint saved before the rename
    del old["workers"]
    assert TrainConfig.from_dict(old).workers == 1
