"""`segcore demo`: create the demo project of synthetic interferograms (or find the existing one)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segcore.cli.numbers import integer
from segcore.demo import default_demo_dir, ensure_demo_project
from segcore.project.store import ProjectStore


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="create the demo project of synthetic interferograms and print its folder",
        description="Create a project of synthetic interferograms (1024x1024 8-bit and 3072x3072 16-bit), "
        "half of them labelled with boxes. An existing project in the folder is left as it is.",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help=f"project folder (default: {default_demo_dir()})")
    parser.add_argument("--seed", type=integer(0), default=0, help="random seed; the same seed gives the same frames (default 0)")
    parser.add_argument("--small", type=integer(0), default=8, metavar="N", help="number of 1024x1024 8-bit frames (default 8)")
    parser.add_argument("--large", type=integer(0), default=2, metavar="N", help="number of 3072x3072 16-bit frames (default 2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = args.out if args.out is not None else default_demo_dir()
    if ProjectStore.is_project(root):
        print(f"the demo project already exists; delete the folder to rebuild it: {root}", file=sys.stderr)
    print(ensure_demo_project(root, seed=args.seed, small=args.small, large=args.large))
    return 0
