"""`python -m segcore SUBCOMMAND ...`: thin wrappers that parse arguments, call the engine, report.

Each subcommand module has `add_parser(subparsers)` that registers its parser and sets
`func=run`; `run(args) -> int` returns the exit code (`segcore.cli.exit_codes`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from segcore import __version__
from segcore.cli.bars import set_quiet
from segcore.cli.exit_codes import ExitCode, UsageError
from segcore.cli.numbers import integer
from segcore.errors import DiskFullError, SegcoreError
from segcore.io.atomic import free_bytes, is_disk_full
from segcore.io.header import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, max_image_pixels

_SUBCOMMAND_MODULES = ("convert", "boxes", "demo", "project", "models", "train", "predict", "export_onnx",
                       "mean_image")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segcore", description="segdesk's engine on the command line.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and details")
    parser.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    parser.add_argument("--max-pixels", type=integer(1), metavar="N",
                        help=f"largest image (width x height) to decode; default {DEFAULT_MAX_PIXELS:,}, "
                        f"or ${MAX_PIXELS_ENV}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(f"segcore.cli.{name}").add_parser(subparsers)
    _verbose_after_commands(parser)
    return parser


QUIET_HELP = "errors only: no warnings and no progress bars (what a command reports at its end stays)"


def _verbose_after_commands(parser: argparse.ArgumentParser) -> None:
    """Accept -v and -q after every (sub)command too; SUPPRESS keeps one given before it when none comes after."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in set(action.choices.values()):
                command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                                     help="log progress and details")
                command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP)
                _verbose_after_commands(command)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet = args.quiet and not args.verbose
    if quiet:
        logging.getLogger().setLevel(logging.ERROR)  # basicConfig sets a level only once a process
    set_quiet(quiet)
    if args.max_pixels is not None:
        os.environ[MAX_PIXELS_ENV] = str(args.max_pixels)  # the environment reaches worker processes too
    _quiet_libraries()
    try:
        max_image_pixels()  # a bad SEGDESK_MAX_PIXELS is one error here, not one per image
        return int(args.func(args) or 0)
    except SegcoreError as exc:
        # Expected failures (bad input, missing files) get one clear line, not a traceback.
        return _fail(args, _as_disk_full(exc, args) or exc)
    except KeyboardInterrupt:
        print(f"segcore {args.command}: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:
        # A full disk surfaces as whatever the writing library raises (OSError, torch, SQLite).
        disk_full = _as_disk_full(exc, args)
        if disk_full is not None:
            return _fail(args, disk_full)
        if isinstance(exc, _PATH_ERRORS) and exc.filename:  # a path the user gave cannot be made or written
            return _fail(args, _path_error(exc))
        raise


_PATH_ERRORS = (FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError)


def _path_error(exc: OSError) -> str:
    """'cannot write out/a.png: File exists (a file stands where a folder is needed)'."""
    hint = " (a file stands where a folder is needed)" if isinstance(exc, (FileExistsError, NotADirectoryError)) else ""
    return f"cannot write {exc.filename}: {exc.strerror}{hint}"


def _fail(args: argparse.Namespace, exc: Exception | str) -> int:
    message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    print(f"segcore {args.command}: error: {message}", file=sys.stderr)
    return ExitCode.USAGE if isinstance(exc, UsageError) else ExitCode.FAILED


def _as_disk_full(exc: BaseException, args: argparse.Namespace) -> DiskFullError | None:
    """`exc` as a `DiskFullError` naming the command's output when it (or its cause) says the disk is full."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DiskFullError):
            return seen
        if is_disk_full(seen):
            where = getattr(args, "out", None) or getattr(args, "project", None) or Path.cwd()
            return DiskFullError(where, free_bytes(where))
        seen = seen.__cause__ or seen.__context__
    return None


def _quiet_libraries() -> None:
    """Leave the terminal to segcore's own one-line errors: they name the file that OpenCV's log
    lines and Pillow's metadata warnings would only describe again, over several lines."""
    import cv2

    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
