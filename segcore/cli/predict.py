"""`segcore predict`: run a checkpoint on an image or a folder and export the results.

    python -m segcore predict --checkpoint best.pt --input frames/ --out preds/ --tile 1024 --overlap 0.25 \\
        --export palette,color,overlay,labelme
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from segcore.cli.bars import bars_disabled
from segcore.cli.exit_codes import UsageError, done_or_skipped
from segcore.cli.numbers import integer, real
from segcore.export.sequence import NEEDS, SEQUENCE_FORMATS, STACK_NAME, VIDEO_NAME
from segcore.export.writer import EXPORT_FORMATS, check_formats
from segcore.inference.tiling import MAX_OVERLAP, MIN_TILE

DEFAULT_FPS = 10.0
"""The overlay video's rate where the input gives none (a folder of frames, a TIFF without a frame interval)."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="predict images with a checkpoint and export masks")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--input", type=Path, required=True,
                        help="an image, a folder of images (natural order: frame2 before frame10), a multi-page TIFF "
                        "or a video (every frame)")
    parser.add_argument("--out", type=Path, required=True)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--tile", type=integer(MIN_TILE), metavar="SIDE",
                      help=f"sliding window of this side, at least {MIN_TILE} (default: chosen from free memory)")
    mode.add_argument("--resize", help="downscale first (N = long side, or a factor), predict, upscale")
    mode.add_argument("--whole", action="store_true", help="whole image in one forward")
    parser.add_argument("--overlap", type=real(0, MAX_OVERLAP), default=0.25,
                        help=f"tile overlap fraction, 0 to {MAX_OVERLAP} (default 0.25)")
    parser.add_argument("--tta", action="store_true",
                        help="labels from the mean of the image and its mirror both ways (the quality estimate's "
                        "view; with the fringe analysis, with the phase negated)")
    parser.add_argument("--one-region", action=argparse.BooleanOptionalAction, default=None,
                        help="each class but the first (background) keeps its largest region, holes filled: "
                        "for frames holding one object per class (default: as the checkpoint was trained)")
    parser.add_argument("--export", type=_formats, default=("palette",), metavar="FORMATS",
                        help=f"comma list of {', '.join(EXPORT_FORMATS)} per image, and {', '.join(SEQUENCE_FORMATS)} "
                        f"for the whole input in order ({STACK_NAME}: index masks, one page per frame; {VIDEO_NAME}) "
                        "(default palette)")
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
                        help="estimate each prediction's IoU from the image's mirror (two forwards an "
                        "image) into quality.json, and name those to check")
    parser.add_argument("--measure", action="store_true",
                        help="write measurements.csv: per image and class present, its area, centroid, bounding box, "
                        "equivalent diameter, orientation, mean intensity, fringe period (grayscale), estimated IoU "
                        "and a flag: check (estimate below 0.80), jump (with --sequence); turns --quality on")
    parser.add_argument("--sequence", action="store_true",
                        help="the images are frames of one acquisition, in order: --measure flags a region "
                        "that jumps against the same class in the frames beside it (on by itself for a TIFF stack "
                        "or a video)")
    parser.add_argument("--pixel-size", type=real(0, above=True), metavar="SIZE",
                        help="with --measure: the length of a pixel, to give lengths and areas in --unit too "
                        "(default: none, pixels only)")
    parser.add_argument("--unit", default="um", help="the unit of --pixel-size (default um)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segcore.inference.folder import list_frames, sequence_mean
    from segcore.inference.journal import PredictJournal
    from segcore.inference.predictor import Predictor
    from segcore.training.device import pick_device
    from segcore.training.distributed import all_reduce_mean, barrier, init_from_env, shutdown

    for option, given in (("--pixel-size", args.pixel_size is not None), ("--sequence", args.sequence)):
        if given and not args.measure:
            raise UsageError(f"{option} is about the measurements: it needs --measure")
    frames = list_frames(args.input)
    formats = tuple(f for f in args.export if f not in SEQUENCE_FORMATS)
    if any(frame.index is not None for frame in frames) and "labelme" in formats:
        raise UsageError("labelme JSON names the image file it outlines; a frame of a stack or video has none: "
                         "export palette, color, overlay, binary, rle or probs")
    helpers = tuple(dict.fromkeys(NEEDS[f] for f in args.export if f in NEEDS and NEEDS[f] not in formats))
    resize = None
    if args.resize:
        resize = float(args.resize) if "." in args.resize else int(args.resize)
    mode = "tile" if args.tile else "resize" if resize else "whole" if args.whole else "auto"
    device_type = pick_device(args.device).type
    ctx = init_from_env(device_type)  # under torchrun: this process predicts every world_size-th frame left
    try:
        device = f"cuda:{ctx.local_rank}" if ctx.enabled and device_type == "cuda" else args.device
        predictor = Predictor(args.checkpoint, device=device, mode=mode, tile=args.tile, overlap=args.overlap,
                              resize=resize, tta=args.tta, one_region=args.one_region, precision=args.precision,
                              compile=args.compile, keep_probabilities="probs" in formats,
                              uncertainty=not args.no_uncertainty, quality=args.quality or args.measure,
                              mean_image=sequence_mean(frames) if args.sequence_mean else None)
        journal = PredictJournal(args.out, _signature(args), rank=ctx.rank)
        todo = [frame for frame in frames if frame.label not in journal.done]
        barrier(ctx)  # every process has read what is done before any notes more: they share `todo` out alike
        if ctx.is_main and len(todo) < len(frames):
            print(f"resuming: {len(frames) - len(todo)} of {len(frames)} frames were predicted by an earlier run")
        try:
            failed = _predict_shard(args, predictor, todo[ctx.rank::ctx.world_size], formats + helpers, journal,
                                    show=ctx.is_main, total=len(frames), initial=len(frames) - len(todo))
        finally:
            journal.close()
        failed = round(all_reduce_mean(failed, ctx, predictor.device) * ctx.world_size)
        barrier(ctx)  # every process's frames are written and noted
        if ctx.is_main:
            journal.reload()
            _write_summaries(args, frames, journal)
            for helper in helpers:
                shutil.rmtree(args.out / helper, ignore_errors=True)
            journal.finish()
        barrier(ctx)
    finally:
        shutdown(ctx)
    return done_or_skipped(failed)


def _predict_shard(args: argparse.Namespace, predictor, frames: list, formats: tuple[str, ...], journal, *,  # noqa: ANN001
                   show: bool, total: int, initial: int) -> int:
    """Predict `frames`, export them in `formats`, note each finished one in `journal`; returns how many failed."""
    from tqdm import tqdm

    from segcore.inference.folder import predict_folder
    from segcore.inference.measure import measure_frame

    workers = args.workers if args.workers is not None else (2 if predictor.device.type == "cuda" else 0)
    failed = 0
    with tqdm(total=total, initial=initial, unit="img", disable=bars_disabled() if show else True) as bar:
        for result in predict_folder(predictor, frames, args.out, formats, batch_size=args.batch_size,
                                     workers=min(workers, len(frames))):
            bar.update(1)
            label = result.frame.label
            for note in result.notes:
                tqdm.write(f"note {label}: {note}")
            if result.error:
                failed += 1
                tqdm.write(f"skipped {label}: {result.error}")
                continue
            estimate = None if result.prediction.quality is None else round(result.prediction.quality.iou, 4)
            score = None if result.prediction.score is None else round(result.prediction.score, 6)
            # The frame read again for the measurements: the predictor's copy is gone, resized and normalised.
            measured = measure_frame(label, result.prediction.labels, result.frame.load(), predictor.class_table.names,
                                     quality=estimate) if args.measure else []
            journal.record(label, score=score, quality=estimate, measurements=measured)
    return failed


def _write_summaries(args: argparse.Namespace, frames: list, journal) -> None:  # noqa: ANN001 - a PredictJournal
    """scores.json, measurements.csv, quality.json and the whole-input exports, from every frame the journal holds."""
    from segcore.inference.measure import flag_jumps, write_measurements
    from segcore.inference.quality import CHECK_BELOW
    from segcore.io.atomic import atomic_write_bytes

    done = [frame.label for frame in frames if frame.label in journal.done]  # in frame order, resumed ones too
    scores = {name: journal.done[name]["score"] for name in done if journal.done[name]["score"] is not None}
    qualities = {name: journal.done[name]["quality"] for name in done if journal.done[name]["quality"] is not None}
    summary = f"predicted {len(done)} of {len(frames)} images into {args.out} ({', '.join(args.export)})"
    if args.no_uncertainty:
        print(summary)
    else:
        atomic_write_bytes(args.out / "scores.json", json.dumps(scores, indent=1).encode("utf-8"))
        print(f"{summary}; per-image uncertainty in {args.out / 'scores.json'}")
    if args.measure:
        measurements = [m for name in done for m in journal.measurements(name)]
        in_order = args.sequence or any(frame.index is not None for frame in frames)
        path = write_measurements(args.out / "measurements.csv", flag_jumps(measurements) if in_order else measurements,
                                  pixel_size=args.pixel_size, unit=args.unit)
        regions = sum(m.is_region for m in measurements)
        print(f"measured {regions} regions in {path}" + (f"; nothing found in {len(measurements) - regions} image(s)"
                                                          if regions < len(measurements) else ""))
    if args.quality or args.measure:
        atomic_write_bytes(args.out / "quality.json", json.dumps(qualities, indent=1).encode("utf-8"))
        check = sorted((name for name, value in qualities.items() if value < CHECK_BELOW), key=qualities.get)
        print(f"estimated IoU in {args.out / 'quality.json'}; {len(check)} below {CHECK_BELOW:.2f}, to check"
              + (f": {', '.join(check[:10])}{' ...' if len(check) > 10 else ''}" if check else ""))
    wholes = [f for f in args.export if f in SEQUENCE_FORMATS]
    if wholes and done:
        for path in _write_wholes(args, wholes, frames, set(done)):
            print(f"the whole input in order: {path}")


def _write_wholes(args: argparse.Namespace, wholes: list[str], frames: list, done: set[str]) -> list[Path]:
    """The --export formats of the whole input (`SEQUENCE_FORMATS`), from the per-frame files, in frame order."""
    from segcore.data.masks import read_index_mask
    from segcore.export.sequence import write_label_stack, write_overlay_video
    from segcore.io.sequences import open_sequence

    written = []
    if "tiff-stack" in wholes:
        masks = [args.out / "palette" / f"{frame.name}.png" if frame.label in done else None for frame in frames]
        size = read_index_mask(next(m for m in masks if m is not None)).shape
        written.append(write_label_stack(args.out / STACK_NAME, masks, size))
    if "overlay-video" in wholes:
        interval = None
        if any(frame.index is not None for frame in frames):
            with open_sequence(args.input) as sequence:
                interval = sequence.info.frame_interval_s
        written.append(write_overlay_video(args.out / VIDEO_NAME, (args.out / "overlay" / f"{frame.name}.png"
                                                                   for frame in frames if frame.label in done),
                                           1.0 / interval if interval else DEFAULT_FPS))
    return written


def _signature(args: argparse.Namespace) -> dict:
    """What makes two runs the same run for resuming: the checkpoint file as it is, the input and the options."""
    stat = args.checkpoint.stat()
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
               if k not in ("func", "out", "workers", "batch_size", "device", "compile", "command")}
    return {**options, "checkpoint": str(args.checkpoint.resolve()), "checkpoint_stamp": [stat.st_size, stat.st_mtime_ns],
            "input": str(args.input.resolve())}


def _formats(text: str) -> tuple[str, ...]:
    """`--export palette,color` -> ("palette", "color"); an unknown format is a usage error, before predicting."""
    names = list(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    try:
        return (*check_formats([f for f in names if f not in SEQUENCE_FORMATS]),
                *(f for f in names if f in SEQUENCE_FORMATS))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
