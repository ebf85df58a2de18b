"""`segcore models [--json]`: every registered model with its size, input divisor, heads and paper."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from segcore.cli.numbers import integer


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list the segmentation models with their sizes and papers")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--num-classes", type=integer(1), default=21, help="classes for the parameter count (default 21)")
    parser.add_argument("--in-channels", type=integer(1), default=3, help="input channels for the parameter count (default 3)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segcore.models.summary import (
        summarize_all,  # torch loads only for this command
    )

    summaries = summarize_all(num_classes=args.num_classes, in_channels=args.in_channels)
    if args.json:
        print(json.dumps([asdict(s) for s in summaries], indent=2))
        return 0
    print(f"{'model':34} {'params':>9} {'divisor':>7} {'aux':>3}  paper")
    for s in summaries:
        print(f"{s.name:34} {s.parameters / 1e6:8.1f}M {s.divisor:7d} {s.aux_heads:3d}  {s.paper}")
    print(f"(parameters for {args.num_classes} classes and {args.in_channels} input channels)")
    return 0
