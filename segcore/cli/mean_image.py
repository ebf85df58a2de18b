"""`segcore mean-image`: the mean frame of a folder (a sequence), for `--aug mean-image=PATH`.

    python -m segcore mean-image --input frames/ --out mean.npy
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segcore.errors import DatasetError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("mean-image", help="average the frames of a folder into a mean image (.npy)")
    parser.add_argument("--input", type=Path, required=True, metavar="FOLDER", help="frames of one size (name order)")
    parser.add_argument("--out", type=Path, required=True, metavar="MEAN.npy",
                        help="float32 array in the frames' units")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from segcore.cli.bars import bar_over
    from segcore.data.normalization import compute_mean_image
    from segcore.inference.folder import list_images
    from segcore.io.atomic import atomic_save_npy
    from segcore.io.images import read_image

    paths = list_images(args.input)
    try:
        mean = compute_mean_image(read_image(p) for p in bar_over(paths, "frames"))
    except ValueError as exc:  # frames of different sizes or channel counts
        raise DatasetError(f"cannot average the frames of {args.input}: {exc}") from exc
    atomic_save_npy(args.out, mean)
    shape = "x".join(str(v) for v in mean.shape)
    print(f"wrote the mean of {len(paths)} frames ({shape}) to {args.out}")
    return 0
