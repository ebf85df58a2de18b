"""The error hierarchy every segcore layer raises; the GUI and CLI show these to the user."""

from __future__ import annotations

from pathlib import Path


class SegcoreError(Exception):
    """Base of every error segcore raises on purpose."""


class ImageReadError(SegcoreError):
    """An image file could not be read: missing, empty, corrupt, truncated or unsupported."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


class ImageTooLargeError(ImageReadError):
    """An image's header claims more pixels than the limit allows; nothing was decoded."""

    def __init__(self, path: str | Path, width: int, height: int, limit: int, setting: str):
        self.width, self.height, self.limit = width, height, limit
        super().__init__(
            path,
            f"{width} x {height} pixels ({width * height:,}) is above the limit of {limit:,} pixels; "
            f"if the frame is real, raise {setting}",
        )


class ImageWriteError(SegcoreError):
    """An image could not be written."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot write image {self.path}: {reason}")


class MaskError(SegcoreError):
    """A label mask does not fit its image or its class table (size, unknown colours, indices)."""


class UnknownColorError(MaskError):
    """A colour-coded mask holds colours that are not in the class table."""

    def __init__(self, colors: list[tuple[int, int, int]], counts: list[int], source: str = ""):
        self.colors = colors
        self.counts = counts
        shown = ", ".join(f"{c} x{n}" for c, n in zip(colors[:8], counts[:8]))
        more = f" and {len(colors) - 8} more" if len(colors) > 8 else ""
        where = f" in {source}" if source else ""
        super().__init__(
            f"{len(colors)} colour(s){where} not in the class table: {shown}{more} "
            "(add them to the table, or map them to the ignore index)"
        )


class DatasetError(SegcoreError):
    """A dataset folder or annotation file is missing, malformed or empty."""


class LabelFileError(DatasetError):
    """A labelme JSON or VOC XML annotation file could not be parsed."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        super().__init__(f"cannot read annotation file {self.path}: {reason}")


class ProjectError(SegcoreError):
    """A project store could not be opened, migrated or written."""


class DuplicateImageError(ProjectError):
    """An image with the same pixels is already in the project."""

    def __init__(self, source: str, existing: str):
        self.source, self.existing = source, existing
        super().__init__(f"{source} is already in the project as {existing!r} (same pixels); not added again")


class DiskFullError(SegcoreError):
    """A write failed because the disk (or the user's quota) is full; nothing half-written is left."""

    def __init__(self, path: str | Path, free_bytes: int | None = None):
        self.path = Path(path)
        self.free_bytes = free_bytes
        free = "" if free_bytes is None else f" ({free_bytes / 2**20:.1f} MiB free)"
        super().__init__(f"the disk holding {self.path} is full{free}; free some space and try again")


class ProjectDamagedError(ProjectError):
    """The project database is corrupt: refused before anything reads or writes it."""

    def __init__(self, root: str | Path, reason: str):
        self.root = Path(root)
        super().__init__(
            f"the project database {self.root / 'project.segdesk'} is damaged ({reason}); nothing was changed. "
            f"Rebuild the project from its files with: segcore project recover {self.root} NEW_FOLDER"
        )


class ProjectReadOnlyError(ProjectError):
    """A write to a project opened read-only (by choice, or because its folder or database is not writable)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        super().__init__(f"project {self.root} is read-only; nothing was changed")
