"""Free names for what a project holds: the first of stem, stem_1, stem_2... not taken wins."""

from __future__ import annotations

from collections.abc import Iterator


def candidate_names(stem: str) -> Iterator[str]:
    """stem, stem_1, stem_2, ...: the names an image or a sequence may take, first free one wins."""
    yield stem
    n = 1
    while True:
        yield f"{stem}_{n}"
        n += 1
