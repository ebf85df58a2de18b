"""A project folder as a dataset (`--format project`): its labelled and reviewed images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segcore.data.classes import ClassTable
from segcore.data.readers import register_reader
from segcore.data.readers.base import LabelledDataset
from segcore.errors import DatasetError
from segcore.project.store import ProjectStore
from segcore.project.transfer import project_dataset


@register_reader("project")
def read_project(root: Path, *, class_table: ClassTable | None = None, **unused: Any) -> LabelledDataset:
    if class_table is not None:
        raise DatasetError("a project has its own class table; --labels does not apply to --format project")
    store = ProjectStore.open(root)
    # The samples' mask loaders read through the store, so it stays open for the dataset's lifetime.
    return project_dataset(store)
