"""`python -m segcore convert SRC OUT --from FORMAT --to FORMAT`: convert a labelled dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from segcore.cli.bars import progress_bar
from segcore.cli.source_args import add_source_arguments, open_source
from segcore.data.writers import WRITER_FORMATS, write_dataset


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "convert",
        help="convert a labelled dataset between formats",
        description="Read a labelled dataset in one format and write it in another, into a new folder.",
    )
    parser.add_argument("src", type=Path, help="the dataset folder to read")
    parser.add_argument("out", type=Path, help="the folder to write (must be new or empty)")
    add_source_arguments(parser)
    parser.add_argument("--to", dest="out_format", required=True, choices=WRITER_FORMATS, help="format to write")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    dataset = open_source(args, args.src)
    with progress_bar("sample") as progress:
        out = write_dataset(dataset, args.out, args.out_format, progress=progress)
    print(
        f"converted {len(dataset)} samples ({dataset.class_table.num_classes} classes) "
        f"from {args.src_format} {args.src} to {args.out_format} {out}"
    )
    return 0
