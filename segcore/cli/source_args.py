"""The options every subcommand that reads a dataset shares: --from, --labels, --unknown-colors."""

from __future__ import annotations

import argparse

from segcore.data.classes import BUILTIN_TABLES, resolve_class_table
from segcore.data.readers import LabelledDataset, list_readers, open_dataset
from segcore.data.readers.colormask import UNKNOWN_COLOR_POLICIES


def add_source_arguments(parser: argparse.ArgumentParser, *, more_formats: tuple[str, ...] = ()) -> None:
    """Add --from FORMAT (a dataset format, or one of `more_formats`), --labels and --unknown-colors to a parser."""
    parser.add_argument("--from", dest="src_format", required=True, choices=[*list_readers(), *more_formats],
                        help="format of the source")
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


def reader_options(fmt: str, labels: str | None, unknown_colors: str = "error") -> dict:
    """Reader keyword options from the CLI's --labels (a file or built-in table) and --unknown-colors."""
    options: dict = {}
    if labels:
        options["class_table"] = resolve_class_table(labels)
    if fmt == "colormask":
        options["unknown"] = unknown_colors
    return options


def open_source(args: argparse.Namespace, src) -> LabelledDataset:  # noqa: ANN001 - a path-like
    """Open the dataset at `src` with the options added by `add_source_arguments`."""
    return open_dataset(args.src_format, src, **reader_options(args.src_format, args.labels, args.unknown_colors))
