"""`segcore project create|import|add-images|export|info|recover`: manage a project store from the command line."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from segcore.cli.bars import progress_bar
from segcore.cli.exit_codes import done_or_skipped
from segcore.cli.source_args import add_source_arguments, open_source
from segcore.data.classes import ClassTable, resolve_class_table
from segcore.data.writers import WRITER_FORMATS
from segcore.project.image_import import import_images
from segcore.project.recover import recover_project
from segcore.project.store import ImageStatus, ProjectStore
from segcore.project.transfer import LABELLED_STATUSES, ImportReport, export_project, import_dataset

SEQUENCE_CLASSES = ClassTable.from_names(["background", "sample"])
"""The classes of a project a sequence creates without --labels: a sample among fringes or noise."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("project", help="create, import into, add images to, export, describe or recover "
                                   "a project")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create an empty project")
    create.add_argument("project", type=Path)
    create.add_argument("--labels", required=True, help="labels file, or a built-in table: voc, camvid, landcover")
    create.add_argument("--name", help="display name (default: the folder name)")
    create.set_defaults(func=_create)

    imp = actions.add_parser("import", help="import a labelled dataset, or reference an acquisition (--from sequence: "
                                            "a multi-page TIFF, a video or a folder of numbered frames), into a "
                                            "project (created if missing)")
    imp.add_argument("project", type=Path)
    imp.add_argument("source", type=Path)
    add_source_arguments(imp, more_formats=("sequence",))
    imp.add_argument("--link", action="store_true", help="reference the images where they are instead of copying "
                                                         "(a sequence is always referenced)")
    imp.set_defaults(func=_import)

    add = actions.add_parser("add-images", help="add unlabelled images (files, or folders of them) to a project")
    add.add_argument("project", type=Path)
    add.add_argument("paths", type=Path, nargs="+", metavar="FILES_OR_FOLDERS")
    add.add_argument("--link", action="store_true", help="reference the images where they are instead of copying")
    add.set_defaults(func=_add_images)

    exp = actions.add_parser("export", help="export a project's labels as a dataset folder")
    exp.add_argument("project", type=Path)
    exp.add_argument("out", type=Path)
    exp.add_argument("--to", dest="fmt", required=True, choices=WRITER_FORMATS)
    exp.add_argument("--status", action="append", choices=[s.value for s in ImageStatus],
                     help="statuses to export (repeatable; default: labelled and reviewed)")
    exp.set_defaults(func=_export)

    info = actions.add_parser("info", help="describe a project")
    info.add_argument("project", type=Path)
    info.add_argument("--json", action="store_true", help="one JSON object instead of text")
    info.set_defaults(func=_info)

    recover = actions.add_parser(
        "recover", help="rebuild a damaged project in a new folder from its files and what its database still reads",
    )
    recover.add_argument("project", type=Path, help="the damaged project (only read)")
    recover.add_argument("out", type=Path, help="the folder for the rebuilt project (must not hold one)")
    recover.set_defaults(func=_recover)


def _create(args: argparse.Namespace) -> int:
    with ProjectStore.create(args.project, resolve_class_table(args.labels), name=args.name) as store:
        print(f"created project {store.root} with {store.class_table().num_classes} classes")
    return 0


def _import(args: argparse.Namespace) -> int:
    if args.src_format == "sequence":
        return _import_sequence(args)
    dataset = open_source(args, args.source)
    with ProjectStore.open_or_create(args.project, dataset.class_table) as store, progress_bar("image") as progress:
        report = import_dataset(store, dataset, copy=not args.link, progress=progress)
    print(f"imported {report.added} of {len(dataset)} images into {args.project}")
    if report.new_classes:
        print(f"new classes added to the project: {', '.join(report.new_classes)}")
    return _skipped(report)


def _import_sequence(args: argparse.Namespace) -> int:
    table = resolve_class_table(args.labels) if args.labels else SEQUENCE_CLASSES
    with ProjectStore.open_or_create(args.project, table) as store:
        record = store.add_sequence(args.source)
    interval = f", {record.frame_interval_s:g} s apart" if record.frame_interval_s else ""
    print(f"referenced {record.frames} frames of {args.source} ({record.kind}{interval}) as sequence "
          f"{record.name!r} in {args.project}; nothing copied")
    return 0


def _add_images(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store, progress_bar("image") as progress:
        report = import_images(store, args.paths, copy=not args.link, progress=progress)
    total = report.added + len(report.failed) + len(report.duplicates)
    print(f"added {report.added} of {total} images to {args.project}")
    return _skipped(report)


def _skipped(report: ImportReport) -> int:
    """Name what an import skipped; exit code SKIPPED when a file could not be added (duplicates are no failure)."""
    for name, reason in report.failed:
        print(f"skipped {name}: {reason}")
    if report.duplicates:
        # Named, so a re-run after an interrupted import shows what it had already done.
        names = ", ".join(name for name, _existing in report.duplicates)
        print(f"{len(report.duplicates)} image(s) already in the project (same pixels), not added again: {names}")
    return done_or_skipped(report.failed)


def _export(args: argparse.Namespace) -> int:
    statuses = [ImageStatus(s) for s in args.status] if args.status else LABELLED_STATUSES
    with ProjectStore.open(args.project) as store, progress_bar("image") as progress:
        out = export_project(store, args.out, args.fmt, statuses=statuses, progress=progress)
    print(f"exported to {out} ({args.fmt})")
    return 0


def _info(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        images = store.images()
        counts = Counter(i.status.value for i in images)
        if args.json:
            print(json.dumps(_info_dict(store, len(images), counts)))
            return 0
        table = store.class_table()
        print(f"project {store.name!r} at {store.root}")
        print(f"  images: {len(images)} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items())) or 'none'})")
        print(f"  classes ({table.num_classes}): {', '.join(table.names)}; ignore index {table.ignore_index}")
        print(f"  training runs: {len(store.runs())}")
        for sequence in store.sequences():
            problem = store.sequence_problem(sequence)
            print(f"  {problem}" if problem else f"  sequence {sequence.name!r}: {sequence.frames} frames "
                  f"({sequence.kind}) referenced at {store.sequence_path(sequence)}")
    return 0


def _info_dict(store: ProjectStore, images: int, counts: Counter) -> dict:
    table = store.class_table()
    runs = [{"id": r.id, "name": r.name, "status": r.status, "best_miou": r.best_score,
             "folder": str(store.root / r.checkpoint_dir) if r.checkpoint_dir else None} for r in store.runs()]
    return {"name": store.name, "root": str(store.root), "images": images, "statuses": dict(sorted(counts.items())),
            "classes": table.names, "ignore_index": table.ignore_index, "runs": runs,
            "sequences": [{"name": q.name, "path": str(store.sequence_path(q)), "kind": q.kind, "frames": q.frames,
                           "frame_interval_s": q.frame_interval_s, "problem": store.sequence_problem(q)}
                          for q in store.sequences()]}


def _recover(args: argparse.Namespace) -> int:
    report = recover_project(args.project, args.out)
    print(f"recovered {report.images} images and {report.masks} masks into {args.out}")
    for line in report.sources:
        print(f"  {line}")
    print("  not recovered: training runs and predictions (train and predict again)")
    for line in report.lost:
        print(f"lost: {line}")
    return done_or_skipped(report.lost)
