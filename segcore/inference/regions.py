"""One region per class, holes filled: for frames that hold one object of each class.

A network trained on a few frames leaves specks and strips of false positives beside the object
and holes where the object's inside looks like background. When every frame holds one object per
class (a sample in an interferogram), keeping each class's largest connected region and filling
its holes removes both (docs/results.md measures it). Scenes with many objects of a class (cars,
cells) must not use it: it would drop all but one of them.
"""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUND = 0


def keep_one_region(labels: np.ndarray, background: int = BACKGROUND) -> np.ndarray:
    """A copy of the H x W label map where each class but `background` is its largest region, holes filled.

    Regions are 8-connected; "largest" counts a region's holes as its own, so a ring round a sample's
    middle (a network that took a fringe of the sample's phase for its edge) wins over the middle it
    encloses (docs/results.md). Pixels of a dropped region become `background`; a hole is filled only
    where it is `background` (another class inside the region stays).
    """
    tidy = labels.copy()
    classes = [cls for cls in np.unique(labels) if cls != background]
    for cls in classes:
        region = labels == cls
        count, components, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8), connectivity=8)
        if count > 2:  # label 0 is everything else: more than one region of the class
            filled = [stats[k, cv2.CC_STAT_AREA] + int(_holes(_bounded(components, k, stats)).sum())
                      for k in range(1, count)]
            largest = 1 + int(np.argmax(filled))
            tidy[region & (components != largest)] = background
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


def _bounded(components: np.ndarray, k: int, stats: np.ndarray) -> np.ndarray:
    """Component `k` within its bounding box plus a pixel of margin (its holes are inside that box)."""
    x, y, w, h = (int(v) for v in stats[k, :4])
    y0, x0 = max(y - 1, 0), max(x - 1, 0)
    return components[y0 : y + h + 1, x0 : x + w + 1] == k


def _holes(region: np.ndarray) -> np.ndarray:
    """Pixels outside `region` that no 4-connected path outside it joins to the frame's border."""
    outside = ~region
    _, components = cv2.connectedComponents(outside.astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([components[0], components[-1], components[:, 0], components[:, -1]]))
    return outside & ~np.isin(components, border)
