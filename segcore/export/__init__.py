"""Exports of predicted (or labelled) index masks in forms other tools read.

palette / colour / overlay / binary PNGs (`masks`), labelme JSON polygons (`labelme_json`),
COCO RLE (`rle`), and `export_prediction` (`writer`), which writes any set of them.
"""

from segcore.export.labelme_json import (
    mask_to_labelme,
    write_labelme_json,
    write_labelme_labels,
)
from segcore.export.masks import (
    overlay_rgb,
    write_binary_masks,
    write_color_mask,
    write_overlay,
)
from segcore.export.rle import decode_rle, encode_rle, mask_to_rle_doc, rle_doc_to_mask
from segcore.export.writer import EXPORT_FORMATS, check_formats, export_prediction

__all__ = [
    "EXPORT_FORMATS",
    "check_formats",
    "decode_rle",
    "encode_rle",
    "export_prediction",
    "mask_to_labelme",
    "mask_to_rle_doc",
    "overlay_rgb",
    "rle_doc_to_mask",
    "write_binary_masks",
    "write_color_mask",
    "write_labelme_json",
    "write_labelme_labels",
    "write_overlay",
]
