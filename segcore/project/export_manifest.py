"""`manifest.csv` beside an export: for every image in the folder, whether its files hold its label or its
prediction, and which run, checkpoint and time made them.

Exporting labels and then predictions into one folder replaced labels with predictions of the same name
and nothing told them apart. The manifest is merged across exports into one folder (a row per image, the
latest export's), and an image whose files change source is reported.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from segcore.io.atomic import atomic_write_bytes

MANIFEST_NAME = "manifest.csv"


@dataclass(frozen=True)
class ManifestRow:
    image: str
    source: str
    """'label' or 'prediction'."""
    run: str = ""
    """The run that made the prediction (its id and name), '' for a label."""
    checkpoint: str = ""
    made_at: str = ""
    """When the label was saved or the prediction made (UTC, as the project records it)."""
    exported_at: str = ""
    formats: str = ""
    """The formats written, ';'-separated."""


COLUMNS = tuple(f.name for f in fields(ManifestRow))


def read_manifest(folder: Path) -> dict[str, ManifestRow]:
    """The rows of `folder`'s manifest by image name ({} when there is none, or it is not one of ours)."""
    path = folder / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        return {}
    return {row["image"]: ManifestRow(**row) for row in reader}


def write_manifest(folder: Path, rows: dict[str, ManifestRow]) -> Path:
    """Write the rows (sorted by image name) atomically; returns the manifest's path."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for name in sorted(rows):
        writer.writerow(asdict(rows[name]))
    path = folder / MANIFEST_NAME
    atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))
    return path
