"""`python -m segcore convert SRC OUT --from FORMAT --to FORMAT`: convert a labelled dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from segcore.data.classes import BUILTIN_TABLES, resolve_class_table
from segcore.data.readers import list_readers, open_dataset
from segcore.data.readers.colormask import UNKNOWN_COLOR_POLICIES
from segcore.data.writers import WRITER_FORMATS, write_dataset


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "convert",
        help="convert a labelled dataset between formats",
        description="Read a labelled dataset in one format and write it in another, into a new folder.",
    )
    parser.add_argument("src", type=Path, help="the dataset folder to read")
    parser.add_argument("out", type=Path, help="the folder to write (must be new or empty)")
    parser.add_argument("--from", dest="src_format", required=True, choices=list_readers(), help="format of SRC")
    parser.add_argument("--to", dest="out_format", required=True, choices=WRITER_FORMATS, help="format to write")
    parser.add_argument(
        "--labels",
        metavar="LABELS",
        help=f"class table: a labels file (one class per line, optionally `name r g b`) or one of {', '.join(BUILTIN_TABLES)}",
    )
    parser.add_argument(
        "--unknown-colors",
        choices=UNKNOWN_COLOR_POLICIES,
        default="error",
        help="colormask input: stop on a colour that is not in the class table (error), or make it ignore (ignore)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    options: dict = {}
    if args.labels:
        options["class_table"] = resolve_class_table(args.labels)
    if args.src_format == "colormask":
        options["unknown"] = args.unknown_colors
    dataset = open_dataset(args.src_format, args.src, **options)
    out = write_dataset(dataset, args.out, args.out_format)
    print(
        f"converted {len(dataset)} samples ({dataset.class_table.num_classes} classes) "
        f"from {args.src_format} {args.src} to {args.out_format} {out}"
    )
    return 0
