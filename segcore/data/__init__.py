"""Class tables, masks, boxes and dataset readers/writers."""
