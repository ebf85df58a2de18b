"""Canvas tools: pan, box/ROI, polygon, brush, eraser, fill. Each edits the mask through the `MaskDocument`."""
