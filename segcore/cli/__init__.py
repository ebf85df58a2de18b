"""`python -m segcore SUBCOMMAND ...`: thin wrappers that parse arguments, call the engine, report.

Each subcommand module has `add_parser(subparsers)` that registers its parser and sets
`func=run`; `run(args) -> int` returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from segcore.errors import SegcoreError

_SUBCOMMAND_MODULES = ("convert", "boxes", "demo", "project", "models", "train", "predict", "export_onnx")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segcore", description="segdesk's engine on the command line.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and details")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(f"segcore.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except SegcoreError as exc:
        # Expected failures (bad input, missing files) get one clear line, not a traceback.
        print(f"segcore {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"segcore {args.command}: interrupted", file=sys.stderr)
        return 130
