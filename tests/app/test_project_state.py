"""ProjectState: the signals widgets rely on, and navigation bounds."""

from __future__ import annotations

import pytest

from app.state.project_state import NO_IMAGE
from segcore.errors import ProjectError
from segcore.project.store import ProjectStore


def test_open_announces_project_images_and_first_image(qtbot, state, tiny_project):
    with qtbot.waitSignals([state.project_opened, state.images_changed, state.current_image_changed]):
        state.open(tiny_project.root)
    assert [r.name for r in state.images] == list(tiny_project.names)
    assert state.current_id == state.images[0].id
    assert state.class_table.names == ["background", "cell"]


def test_next_previous_stop_at_the_ends(qtbot, state, tiny_project):
    state.open(tiny_project.root)
    ids = [r.id for r in state.images]
    state.previous()
    assert state.current_id == ids[0]
    for _ in range(10):
        state.next()
    assert state.current_id == ids[-1]
    with qtbot.assertNotEmitted(state.current_image_changed):
        state.next()  # already last: no change, no signal
        state.select(ids[-1])


def test_select_unknown_id_raises(state, tiny_project):
    state.open(tiny_project.root)
    with pytest.raises(KeyError):
        state.select(10_000)


def test_opening_an_empty_project_clears_the_current_image(qtbot, state, tiny_project, tmp_path):
    state.open(tiny_project.root)
    ProjectStore.create(tmp_path / "empty", state.class_table).close()
    with qtbot.waitSignal(state.current_image_changed) as signal:
        state.open(tmp_path / "empty")
    assert signal.args == [NO_IMAGE] and state.images == []


def test_open_a_folder_that_is_not_a_project_keeps_the_open_one(state, tiny_project, tmp_path):
    state.open(tiny_project.root)
    current = state.current_id
    with pytest.raises(ProjectError):
        state.open(tmp_path / "nothing-here")
    assert state.is_open and state.current_id == current


def test_find_by_name_or_stem(state, tiny_project):
    state.open(tiny_project.root)
    assert state.find("gamma_rgb").name == "gamma_rgb"
    assert state.find("gamma_rgb.png").name == "gamma_rgb"  # the file name works too
    assert state.find("nope") is None
