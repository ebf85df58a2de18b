"""Editing class tables: add, rename, recolour, the ignore colour, and reordering with its mask LUT."""

from __future__ import annotations

import numpy as np
import pytest

from segcore.data.classes import IGNORE_INDEX, ClassTable, voc_colormap
from segcore.errors import DatasetError


@pytest.fixture()
def table() -> ClassTable:
    return ClassTable.from_names(["background", "cell", "nucleus"], [(0, 0, 0), (255, 0, 0), (0, 0, 255)])


def test_with_class_appends_with_the_voc_colour_of_its_index(table):
    grown = table.with_class("membrane")
    assert grown.names == ["background", "cell", "nucleus", "membrane"]
    assert grown.classes[3].index == 3 and grown.colors[3] == tuple(voc_colormap()[3].tolist())
    assert grown.with_class("debris", (1, 2, 3)).colors[4] == (1, 2, 3)
    assert grown.with_class("  spaced  ").names[-1] == "spaced"
    assert table.names == ["background", "cell", "nucleus"]  # the original is untouched


@pytest.mark.parametrize(("name", "message"), [("cell", "already exists"), ("  ", "empty"), ("__ignore__", "cannot be")])
def test_with_class_refuses_duplicate_empty_and_reserved_names(table, name, message):
    with pytest.raises(DatasetError, match=message):
        table.with_class(name)


def test_with_class_refuses_a_bad_colour(table):
    with pytest.raises(DatasetError, match="0..255"):
        table.with_class("x", (0, 300, 0))
    with pytest.raises(DatasetError, match="three values"):
        table.with_class("x", (0, 0))  # type: ignore[arg-type]


def test_renamed_and_recoloured_change_one_class(table):
    renamed = table.renamed(1, "cytoplasm")
    assert renamed.names == ["background", "cytoplasm", "nucleus"] and renamed.colors == table.colors
    assert table.renamed(1, "cell") == table  # its own name is not a duplicate
    recoloured = table.recoloured(2, (10, 20, 30))
    assert recoloured.colors == [(0, 0, 0), (255, 0, 0), (10, 20, 30)] and recoloured.names == table.names
    with pytest.raises(DatasetError, match="already exists"):
        table.renamed(1, "nucleus")
    with pytest.raises(DatasetError, match="no class 3"):
        table.renamed(3, "x")
    with pytest.raises(DatasetError, match="no class -1"):
        table.recoloured(-1, (0, 0, 0))


def test_with_ignore_color_changes_the_ignore_colour_only(table):
    changed = table.with_ignore_color((9, 8, 7))
    assert changed.ignore_color == (9, 8, 7) and changed.classes == table.classes
    assert tuple(changed.color_lut()[IGNORE_INDEX]) == (9, 8, 7)


def test_edits_survive_a_dict_round_trip(table):
    edited = table.with_class("membrane").renamed(0, "bg").recoloured(1, (1, 1, 1)).with_ignore_color((2, 2, 2))
    assert ClassTable.from_dict(edited.to_dict()) == edited


def test_reordered_lut_remaps_a_mask_to_the_new_classes(table):
    new, lut = table.reordered([2, 0, 1])  # nucleus first, then background, then cell
    assert new.names == ["nucleus", "background", "cell"]
    assert [c.index for c in new.classes] == [0, 1, 2]
    assert new.colors == [(0, 0, 255), (0, 0, 0), (255, 0, 0)]
    assert lut.shape == (256,) and lut.dtype == np.uint8
    mask = np.array([[0, 1, 2], [IGNORE_INDEX, 2, 0]], np.uint8)
    remapped = lut[mask]
    assert remapped.tolist() == [[1, 2, 0], [IGNORE_INDEX, 0, 1]]
    # Every pixel keeps its class name; unused values and the ignore index map to themselves.
    assert [new.names[v] for v in remapped[0]] == [table.names[v] for v in mask[0]]
    assert (lut[3:] == np.arange(3, 256)).all()


def test_reordered_identity_and_swap(table):
    same, lut = table.reordered([0, 1, 2])
    assert same == table and (lut == np.arange(256)).all()
    swapped, lut = table.reordered([1, 0, 2])
    back, lut_back = swapped.reordered([1, 0, 2])
    assert back == table and (lut_back[lut] == np.arange(256)).all()


@pytest.mark.parametrize("order", [[0, 1], [0, 1, 1], [0, 1, 3], [0, 1, 2, 3], [-1, 0, 1]])
def test_reordered_refuses_anything_but_a_permutation(table, order):
    with pytest.raises(ValueError, match="permutation"):
        table.reordered(order)
