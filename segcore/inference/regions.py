"""One region per class, holes filled: for frames that hold one object of each class.

A network trained on a few frames leaves specks and strips of false positives beside the object
and holes where the object's inside looks like background. When every frame holds one object per
class (a sample in an interferogram), keeping each class's largest connected region and filling
its holes removes both (docs/results.md measures it). Scenes with many objects of a class (cars,
cells) must not use it: it would drop all but one of them.

Given the network's certainty, "largest" counts only the pixels it is sure of: a model trained on
eight big samples finds a small one at a probability near 1 but may also leave a wide, doubtful
strip along the frame's edge, which by its pixels alone would win and put the frame at IoU 0.
"""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUND = 0
CONFIDENT = 0.9
"""A pixel counts toward its region's size where the network gives its label at least this probability."""


def confident_pixels(probabilities: np.ndarray) -> np.ndarray:
    """H x W: where the most probable class of the C x H x W softmax has at least `CONFIDENT`."""
    return probabilities.max(axis=0) >= CONFIDENT


def keep_one_region(labels: np.ndarray, confident: np.ndarray | None = None,
                    background: int = BACKGROUND) -> np.ndarray:
    """A copy of the H x W label map where each class but `background` is its largest region, holes filled.

    Regions are 8-connected; "largest" counts a region's holes as its own, so a ring round a sample's
    middle (a network that took a fringe of the sample's phase for its edge) wins over the middle it
    encloses (docs/results.md). confident: H x W bool (`confident_pixels`); where given, a region's size
    is its confident pixels plus its holes, its whole area breaking ties. Pixels of a dropped region
    become `background`; a hole is filled only where it is `background` (another class inside the
    region stays).
    """
    tidy = labels.copy()
    classes = [cls for cls in np.unique(labels) if cls != background]
    for cls in classes:
        region = labels == cls
        count, components, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8), connectivity=8)
        if count > 2:  # label 0 is everything else: more than one region of the class
            tidy[region & (components != _largest_with_holes(components, stats, count, confident))] = background
    for cls in classes:  # after every drop: a speck of another class inside a hole is gone by now
        tidy[_holes(tidy == cls) & (tidy == background)] = cls
    return tidy


def holds_one_region_per_class(labels: np.ndarray, classes: int, background: int = BACKGROUND) -> bool:
    """Whether no class of 0..classes-1 but `background` has more than one region (counted as `keep_one_region` does).

    Values from `classes` up (the ignore index) are not a class.
    """
    for cls in np.unique(labels):
        if cls != background and cls < classes:
            if cv2.connectedComponents((labels == cls).astype(np.uint8), connectivity=8)[0] > 2:  # + everything else
                return False
    return True


def _largest_with_holes(components: np.ndarray, stats: np.ndarray, count: int,
                        confident: np.ndarray | None) -> int:
    """The component whose (confident) pixels plus holes are the most, its area plus holes breaking ties. A region
    and its holes fit in its bounding box, so regions are tried largest box first and the search stops once no box
    left can hold more (a young model's thousand specks cost their boxes, not a flood fill each)."""
    boxes = stats[1:count, cv2.CC_STAT_WIDTH].astype(np.int64) * stats[1:count, cv2.CC_STAT_HEIGHT]
    best, best_size = 0, (-1, -1)
    for k in 1 + np.argsort(-boxes, kind="stable"):
        if boxes[k - 1] < best_size[0]:
            break
        window = _window(stats, int(k))
        region = components[window] == k
        holes = int(_holes(region).sum())
        area = int(stats[k, cv2.CC_STAT_AREA])
        sure = area if confident is None else int((region & confident[window]).sum())
        size = (sure + holes, area + holes)
        if size > best_size:
            best, best_size = int(k), size
    return best


def _window(stats: np.ndarray, k: int) -> tuple[slice, slice]:
    """Component `k`'s bounding box plus a pixel of margin (its holes are inside that box)."""
    x, y, w, h = (int(v) for v in stats[k, :4])
    return slice(max(y - 1, 0), y + h + 1), slice(max(x - 1, 0), x + w + 1)


def _holes(region: np.ndarray) -> np.ndarray:
    """Pixels outside `region` that no 4-connected path outside it joins to the frame's border."""
    outside = ~region
    _, components = cv2.connectedComponents(outside.astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([components[0], components[-1], components[:, 0], components[:, -1]]))
    return outside & ~np.isin(components, border)
