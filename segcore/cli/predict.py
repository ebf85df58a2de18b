"""`segcore predict`: run a checkpoint on an image or a folder and export the results.

    python -m segcore predict --checkpoint best.pt --input frames/ --out preds/ --tile 1024 --overlap 0.25 \\
        --export palette,color,overlay,labelme
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from segcore.cli.bars import bars_disabled
from segcore.cli.exit_codes import UsageError, done_or_skipped
from segcore.cli.numbers import integer, real
from segcore.export.writer import EXPORT_FORMATS, check_formats
from segcore.inference.tiling import MAX_OVERLAP, MIN_TILE


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="predict images with a checkpoint and export masks")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--input", type=Path, required=True, help="an image or a folder of images (name order)")
    parser.add_argument("--out", type=Path, required=True)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--tile", type=integer(MIN_TILE), metavar="SIDE",
                      help=f"sliding window of this side, at least {MIN_TILE} (default: chosen from free memory)")
    mode.add_argument("--resize", help="downscale first (N = long side, or a factor), predict, upscale")
    mode.add_argument("--whole", action="store_true", help="whole image in one forward")
    parser.add_argument("--overlap", type=real(0, MAX_OVERLAP), default=0.25,
                        help=f"tile overlap fraction, 0 to {MAX_OVERLAP} (default 0.25)")
    parser.add_argument("--tta", action="store_true",
                        help="labels from the mean of the image and its mirrored views (the quality estimate's: "
                        "left-right, up-down, both; with the fringe analysis, two with the phase negated)")
    parser.add_argument("--one-region", action=argparse.BooleanOptionalAction, default=None,
                        help="each class but the first (background) keeps its largest region, holes filled: "
                        "for frames holding one object per class (default: as the checkpoint was trained)")
    parser.add_argument("--export", type=_formats, default=("palette",), metavar="FORMATS",
                        help=f"comma list of {', '.join(EXPORT_FORMATS)} (default palette)")
    parser.add_argument("--sequence-mean", action="store_true",
                        help="subtract the mean frame of the input folder first (interferogram sequences)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="auto: bf16 where the hardware has it and it agrees with fp32 on >= 99.5%% of pixels")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--batch-size", type=integer(1), default=1, help="images per forward in whole-image mode (default 1)")
    parser.add_argument("--workers", type=integer(0), help="decoding / preprocessing processes (default: 2 with a GPU; "
                        "0 on a CPU, whose cores are better spent on the model)")
    parser.add_argument("--no-uncertainty", action="store_true",
                        help="labels only: skip the per-pixel entropy and the per-image score (faster on a CPU)")
    parser.add_argument("--quality", action="store_true",
                        help="estimate each prediction's IoU from mirrored views of the image (four forwards an "
                        "image) into quality.json, and name those to check")
    parser.add_argument("--measure", action="store_true",
                        help="write measurements.csv: per image and class present, its area, centroid, bounding box, "
                        "equivalent diameter, orientation, mean intensity, fringe period (grayscale), estimated IoU "
                        "and a flag: check (estimate below 0.80), jump (with --sequence); turns --quality on")
    parser.add_argument("--sequence", action="store_true",
                        help="the images are frames of one acquisition, in name order: --measure flags a region "
                        "that jumps against the same class in the frames beside it")
    parser.add_argument("--pixel-size", type=real(0, above=True), metavar="SIZE",
                        help="with --measure: the length of a pixel, to give lengths and areas in --unit too "
                        "(default: none, pixels only)")
    parser.add_argument("--unit", default="um", help="the unit of --pixel-size (default um)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from segcore.inference.folder import list_images, predict_folder, sequence_mean
    from segcore.inference.measure import flag_jumps, measure_frame, write_measurements
    from segcore.inference.predictor import Predictor
    from segcore.inference.quality import CHECK_BELOW
    from segcore.io.atomic import atomic_write_bytes
    from segcore.io.images import read_image

    for option, given in (("--pixel-size", args.pixel_size is not None), ("--sequence", args.sequence)):
        if given and not args.measure:
            raise UsageError(f"{option} is about the measurements: it needs --measure")
    quality = args.quality or args.measure

    paths = list_images(args.input)
    formats = args.export
    resize = None
    if args.resize:
        resize = float(args.resize) if "." in args.resize else int(args.resize)
    mode = "tile" if args.tile else "resize" if resize else "whole" if args.whole else "auto"
    predictor = Predictor(args.checkpoint, device=args.device, mode=mode, tile=args.tile, overlap=args.overlap,
                          resize=resize, tta=args.tta, one_region=args.one_region, precision=args.precision,
                          compile=args.compile, keep_probabilities="probs" in formats,
                          uncertainty=not args.no_uncertainty, quality=quality,
                          mean_image=sequence_mean(paths) if args.sequence_mean else None)
    workers = args.workers if args.workers is not None else (2 if predictor.device.type == "cuda" else 0)
    scores, qualities, measurements, predicted, failed = {}, {}, [], 0, 0
    class_names = predictor.class_table.names
    with tqdm(total=len(paths), unit="img", disable=bars_disabled()) as bar:
        for result in predict_folder(predictor, paths, args.out, formats, batch_size=args.batch_size,
                                     workers=min(workers, len(paths))):
            bar.update(1)
            for note in result.notes:
                tqdm.write(f"note {result.path.name}: {note}")
            if result.error:
                failed += 1
                tqdm.write(f"skipped {result.path.name}: {result.error}")
                continue
            predicted += 1
            if result.prediction.score is not None:
                scores[result.path.name] = round(result.prediction.score, 6)
            if result.prediction.quality is not None:
                qualities[result.path.name] = round(result.prediction.quality.iou, 4)
            if args.measure:  # the frame read again: the predictor's copy is gone, resized and normalised
                measurements += measure_frame(result.path.name, result.prediction.labels, read_image(result.path),
                                              class_names, quality=qualities.get(result.path.name))
    summary = f"predicted {predicted} of {len(paths)} images into {args.out} ({', '.join(formats)})"
    if args.no_uncertainty:
        print(summary)
    else:
        atomic_write_bytes(args.out / "scores.json", json.dumps(scores, indent=1).encode("utf-8"))
        print(f"{summary}; per-image uncertainty in {args.out / 'scores.json'}")
    if args.measure:
        path = write_measurements(args.out / "measurements.csv", flag_jumps(measurements) if args.sequence else measurements,
                                  pixel_size=args.pixel_size, unit=args.unit)
        print(f"measured {len(measurements)} regions in {path}")
    if quality:
        atomic_write_bytes(args.out / "quality.json", json.dumps(qualities, indent=1).encode("utf-8"))
        check = sorted((name for name, value in qualities.items() if value < CHECK_BELOW), key=qualities.get)
        print(f"estimated IoU in {args.out / 'quality.json'}; {len(check)} below {CHECK_BELOW:.2f}, to check"
              + (f": {', '.join(check[:10])}{' ...' if len(check) > 10 else ''}" if check else ""))
    return done_or_skipped(failed)


def _formats(text: str) -> tuple[str, ...]:
    """`--export palette,color` -> ("palette", "color"); an unknown format is a usage error, before predicting."""
    try:
        return check_formats([f.strip() for f in text.split(",") if f.strip()])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
