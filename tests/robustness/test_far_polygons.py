"""Issue 27, items 10 and 12: polygons with vertices at 1e30 and polygons of one or two points.

Before, a COCO polygon at 1e30 crashed pycocotools (exit 139: convert, project import, train) and the
labelme path raised OverflowError; COCO polygons of 1-2 points were dropped without a word.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from corpus import good_image

from segcore.data.coco import decode_segmentation
from segcore.data.polygons import FAR, reachable_polygon
from segcore.data.shapes import shape_to_bool_mask
from segcore.errors import DatasetError
from segcore.io.images import write_image

H, W = 32, 48


def _triangle(reach: float) -> list[tuple[float, float]]:
    """A right triangle from (3, 4) reaching `reach` px right and down: in the image, all below-right of it."""
    return [(3.0, 4.0), (3.0 + reach, 4.0), (3.0, 4.0 + reach)]


def test_a_far_vertex_is_clipped_and_the_pixels_in_the_image_are_the_same():
    near, far = _triangle(FAR / 4), _triangle(1e30)
    assert reachable_polygon(near, H, W) == near  # drawn as given
    assert max(abs(v) for p in reachable_polygon(far, H, W) for v in p) <= 2 * max(H, W)
    labelme = [shape_to_bool_mask({"label": "s", "points": [list(p) for p in points], "shape_type": "polygon"},
                                  (H, W)) for points in (near, far)]
    np.testing.assert_array_equal(labelme[0], labelme[1])
    assert labelme[1][4:, 3:].all() and not labelme[1][:3].any()
    coco = [decode_segmentation([[v for p in points for v in p]], H, W) for points in (near, far)]
    np.testing.assert_array_equal(coco[0], coco[1])
    assert coco[1].sum() == pytest.approx((H - 4) * (W - 3), rel=0.1)


def test_a_polygon_wholly_far_outside_covers_nothing():
    assert not decode_segmentation([[1e30, 1e30, 2e30, 1e30, 2e30, 2e30]], H, W).any()


@pytest.mark.parametrize("points", [[5, 5], [5, 5, 20, 20]])
def test_a_coco_polygon_of_one_or_two_points_is_refused_as_labelme_refuses_it(points):
    with pytest.raises(DatasetError, match=f"a polygon needs at least 3 points, got {len(points) // 2}"):
        decode_segmentation([points], H, W)


def test_coco_at_1e30_through_convert_is_handled_in_a_child_process(tmp_path, cli):
    """In a child process: before the fix pycocotools took the whole process down with a segfault."""
    write_image(tmp_path / "src" / "images" / "a.png", good_image())
    doc = {"images": [{"id": 1, "file_name": "a.png", "height": 32, "width": 32}],
           "categories": [{"id": 1, "name": "square"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                            "segmentation": [[1, 1, 1e30, 5, 5, 1e30]]}]}
    (tmp_path / "src" / "annotations").mkdir(parents=True)
    (tmp_path / "src" / "annotations" / "instances.json").write_text(json.dumps(doc))
    run = cli.run(["convert", "src", "out", "--from", "coco", "--to", "folder"], tmp_path)
    assert run.code == 0 and "Traceback" not in run.stderr, run.stderr
    assert (tmp_path / "out" / "masks" / "a.png").is_file()
