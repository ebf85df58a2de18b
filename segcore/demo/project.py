"""The demo project: synthetic interferograms in a real project store, half of them box-labelled."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from segcore.data.boxes import boxes_to_mask
from segcore.data.classes import ClassTable
from segcore.demo.interferogram import demo_samples
from segcore.errors import ProjectError
from segcore.project.store import ProjectStore

log = logging.getLogger(__name__)

DEMO_CLASSES = ("background", "sample")
DEMO_NAME = "segdesk demo"
_PARTIAL_TAG = ".partial-"
STALE_PARTIAL_S = 600
"""A partial build older than this belongs to a killed run (a live build takes seconds) and is removed."""


def create_demo_project(
    root: str | Path,
    *,
    seed: int = 0,
    small: int = 8,
    large: int = 2,
    labelled: int | None = None,
    small_size: int = 1024,
    large_size: int = 3072,
) -> Path:
    """Build the demo project in `root`: every frame added, `labelled` of them with a box and its mask.

    `labelled` defaults to half the frames; the labelled ones include a large frame when there is one.
    The rest stay unlabelled, ready for prediction and review.
    """
    total = small + large
    labelled = total // 2 if labelled is None else labelled
    if not 0 <= labelled <= total:
        raise ValueError(f"labelled must be within 0..{total}, got {labelled}")
    large_labelled = min(large, max(1, labelled * large // total)) if labelled and large else 0
    small_labelled = min(small, labelled - large_labelled)
    large_labelled = labelled - small_labelled
    chosen = set(range(small_labelled)) | {small + i for i in range(large_labelled)}

    root = Path(root)
    with ProjectStore.create(root, ClassTable.from_names(DEMO_CLASSES), name=DEMO_NAME) as store:
        samples = demo_samples(seed, small=small, large=large, small_size=small_size, large_size=large_size)
        for index, sample in enumerate(samples):
            record = store.add_image_array(sample.name, sample.image)
            if index in chosen:
                store.add_box(record.id, sample.box)
                store.save_mask(record.id, boxes_to_mask(sample.image.shape[:2], [sample.box]), source="boxes")
    log.info("demo project with %d frames (%d labelled) in %s", total, labelled, root)
    return root


def default_demo_dir() -> Path:
    """Where the demo project lives: `<per-user data folder>/segdesk/demo`, or `$SEGDESK_DATA_DIR/demo`."""
    override = os.environ.get("SEGDESK_DATA_DIR")
    if override:
        return Path(override).expanduser() / "demo"
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        # The XDG spec says to ignore a relative XDG_DATA_HOME.
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "segdesk" / "demo"


def ensure_demo_project(root: str | Path | None = None, *, seed: int = 0, small: int = 8, large: int = 2) -> Path:
    """The demo project in `root` (default: `default_demo_dir()`), built on first use.

    It is built in a temporary sibling folder and renamed into place, so `root` is either absent or
    complete: a run killed midway leaves only a partial sibling, which a later call removes.
    """
    root = Path(root) if root is not None else default_demo_dir()
    if ProjectStore.is_project(root):
        return root
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ProjectError(f"{root} exists and is not a segdesk project; choose another folder for the demo")
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(root)
    partial = Path(tempfile.mkdtemp(prefix=f".{root.name}{_PARTIAL_TAG}", dir=root.parent))
    try:
        create_demo_project(partial, seed=seed, small=small, large=large)
        if root.exists():
            root.rmdir()  # the empty folder checked above; os.replace cannot replace a folder on Windows
        os.replace(partial, root)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if ProjectStore.is_project(root):  # another process finished first
            return root
        raise ProjectError(f"cannot create the demo project in {root}: {exc}") from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return root


def _remove_stale_partials(root: Path) -> None:
    cutoff = time.time() - STALE_PARTIAL_S
    for leftover in root.parent.glob(f".{root.name}{_PARTIAL_TAG}*"):
        try:
            if leftover.is_dir() and leftover.stat().st_mtime < cutoff:
                log.info("removing a partial demo build left by a killed run: %s", leftover)
                shutil.rmtree(leftover)
        except OSError as exc:
            log.warning("cannot remove partial demo build %s: %s", leftover, exc)
