"""Undo/redo across tools and images, autosave to the store's journal, and what survives a reopen."""

from __future__ import annotations

import numpy as np
import test_canvas
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from segcore.project.store import ImageStatus, ProjectStore

workspace = test_canvas.workspace  # the shared canvas fixture


def _edit_with_three_tools(ws) -> list[np.ndarray]:
    """Brush, box and fill on the current image; the mask after each edit (the first: before any)."""
    snapshots = [ws.mask.copy()]
    ws.key(Qt.Key.Key_B)
    ws.tools.settings.set_brush_size(5)
    ws.drag((3, 40), (30, 44))
    snapshots.append(ws.mask.copy())
    ws.key(Qt.Key.Key_R)
    ws.drag((45, 5), (60, 20))
    ws.key(Qt.Key.Key_Return)
    snapshots.append(ws.mask.copy())
    ws.state.set_current_class(0)
    ws.key(Qt.Key.Key_G)
    ws.click(25, 15)  # the original cell block
    snapshots.append(ws.mask.copy())
    assert all(not np.array_equal(a, b) for a, b in zip(snapshots, snapshots[1:], strict=False))
    return snapshots


def test_undo_redo_across_tools_restore_exact_masks_and_the_store(workspace, tiny_project):
    image_id = workspace.select("beta_gray16")
    snapshots = _edit_with_three_tools(workspace)
    stack = workspace.view.document.undo_stack()
    assert [stack.text(i) for i in range(stack.count())] == ["Brush stroke", "Box", "Fill"]
    for expected in reversed(snapshots[:-1]):
        stack.undo()
        np.testing.assert_array_equal(workspace.mask, expected)
        np.testing.assert_array_equal(workspace.stored_mask(image_id), expected)
        shown_as_cell = workspace.view.overlay_item.image().pixelColor(25, 15).alpha() == 255
        assert shown_as_cell == (expected[15, 25] == 1)
    assert workspace.state.store.boxes(image_id) == []  # undoing the box removed its box label
    for expected in snapshots[1:]:
        stack.redo()
        np.testing.assert_array_equal(workspace.mask, expected)
        np.testing.assert_array_equal(workspace.stored_mask(image_id), expected)
    assert len(workspace.state.store.boxes(image_id)) == 1
    np.testing.assert_array_equal(snapshots[0], tiny_project.mask)


def test_undo_and_redo_keys_through_the_group_actions(workspace):
    group = workspace.view.document.undo_group
    undo, redo = group.createUndoAction(workspace.win), group.createRedoAction(workspace.win)
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    workspace.win.addActions([undo, redo])
    image_id = workspace.select("alpha_gray8")
    assert not undo.isEnabled()
    workspace.key(Qt.Key.Key_B)
    workspace.drag((5, 5), (20, 5))
    painted = workspace.mask.copy()
    assert undo.isEnabled() and "Brush stroke" in undo.text()
    workspace.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not workspace.mask.any() and not workspace.stored_mask(image_id).any()
    workspace.key(Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(workspace.mask, painted)
    workspace.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    workspace.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(workspace.stored_mask(image_id), painted)


def test_switching_images_keeps_masks_and_per_image_history(workspace):
    alpha = workspace.select("alpha_gray8")
    workspace.key(Qt.Key.Key_B)
    workspace.drag((5, 5), (20, 5))
    alpha_mask = workspace.mask.copy()
    beta = workspace.select("beta_gray16")
    beta_before = workspace.mask.copy()
    workspace.drag((5, 40), (20, 40))
    beta_mask = workspace.mask.copy()

    workspace.select("alpha_gray8")
    np.testing.assert_array_equal(workspace.mask, alpha_mask)
    assert workspace.view.document.undo_stack().count() == 1
    workspace.view.document.undo_stack().undo()
    assert not workspace.mask.any()

    workspace.select("beta_gray16")
    np.testing.assert_array_equal(workspace.mask, beta_mask)
    workspace.view.document.undo_stack().undo()
    np.testing.assert_array_equal(workspace.stored_mask(beta), beta_before)
    np.testing.assert_array_equal(workspace.stored_mask(alpha), np.zeros_like(alpha_mask))


def test_leaving_an_image_compacts_its_journal_and_reopen_finds_everything(qtbot, workspace, tiny_project):
    image_id = workspace.select("delta_gray16")
    assert workspace.state.record(image_id).status is ImageStatus.UNLABELLED
    workspace.key(Qt.Key.Key_B)
    workspace.drag((2, 2), (10, 10))
    workspace.drag((2, 15), (20, 15))
    edited = workspace.mask.copy()
    assert workspace.state.store.pending_patches(image_id) == 2
    assert workspace.state.record(image_id).status is ImageStatus.LABELLED
    workspace.select("alpha_gray8")
    qtbot.waitUntil(lambda: workspace.state.store.pending_patches(image_id) == 0)
    workspace.drag((1, 1), (8, 1))  # still in the journal when the project closes
    alpha = workspace.state.current_id
    alpha_mask = workspace.mask.copy()
    workspace.state.close()
    with ProjectStore.open(tiny_project.root) as store:
        assert store.pending_patches(alpha) == 0  # folded on close
        np.testing.assert_array_equal(store.load_mask(image_id), edited)
        np.testing.assert_array_equal(store.load_mask(alpha), alpha_mask)
        assert store.image(image_id).status is ImageStatus.LABELLED

    reopened = test_canvas.open_workspace(qtbot, tiny_project.root)
    try:
        reopened.select("delta_gray16")
        np.testing.assert_array_equal(reopened.mask, edited)
        assert reopened.view.document.undo_stack().count() == 0  # history is per session
    finally:
        reopened.state.close()


def test_a_stroke_cancelled_by_an_image_switch_leaves_nothing(workspace):
    alpha = workspace.select("alpha_gray8")
    workspace.key(Qt.Key.Key_B)
    workspace.press(5, 5)
    workspace.move(15, 5)
    workspace.select("delta_gray16")
    workspace.release(15, 5)
    assert workspace.stored_mask(alpha) is None
    assert not workspace.mask.any()


def test_class_reorder_reloads_the_mask_and_clears_the_history(qtbot, workspace, tiny_project):
    workspace.select("beta_gray16")
    workspace.key(Qt.Key.Key_B)
    workspace.drag((2, 40), (10, 40))
    edited = workspace.mask.copy()
    table, remap = workspace.state.class_table.reordered([1, 0])  # cell becomes class 0
    workspace.state.set_class_table(table, remap)
    workspace.wait_loaded()
    np.testing.assert_array_equal(workspace.mask, remap[edited])
    assert workspace.view.document.undo_stack().count() == 0  # its patches held the old indices
    overlay = workspace.view.overlay_item.image()
    assert overlay.pixelColor(25, 15).red() == 255  # still drawn red: the colour moved with the class


def test_an_edit_the_store_refuses_is_dropped_and_reported(workspace, monkeypatch, errors_shown):
    image_id = workspace.select("alpha_gray8")
    before = workspace.mask.copy()
    store = workspace.state.store

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "save_mask_patch", disk_full)
    workspace.key(Qt.Key.Key_B)
    workspace.drag((2, 5), (20, 5))
    assert workspace.view.document.undo_stack().count() == 0  # no history entry for an unsaved edit
    np.testing.assert_array_equal(workspace.mask, before)  # the live stroke was taken back
    assert store.load_mask(image_id) is None
    assert len(errors_shown) == 1 and "No space left" in errors_shown[0]
    errors_shown.clear()


def test_undoing_every_edit_gives_the_image_its_status_back(workspace):
    image_id = workspace.select("alpha_gray8")  # never labelled
    assert workspace.state.store.image(image_id).status is ImageStatus.UNLABELLED
    workspace.key(Qt.Key.Key_B)
    workspace.drag((3, 3), (20, 20))
    workspace.drag((25, 5), (35, 25))
    stack = workspace.view.document.undo_stack()
    assert workspace.state.record(image_id).status is ImageStatus.LABELLED
    stack.undo()
    assert workspace.state.store.image(image_id).status is ImageStatus.LABELLED  # one stroke is still there
    stack.undo()  # back to the empty mask it started with
    assert not workspace.mask.any()
    assert workspace.state.store.image(image_id).status is ImageStatus.UNLABELLED
    assert workspace.state.record(image_id).status is ImageStatus.UNLABELLED  # what the browser shows
    assert not workspace.view.document.labelled
    stack.redo()
    assert workspace.state.store.image(image_id).status is ImageStatus.LABELLED
    # A labelled image stays labelled whatever is undone: its label was there before the edits.
    labelled = workspace.select("beta_gray16")
    workspace.drag((3, 40), (30, 44))
    workspace.view.document.undo_stack().undo()
    assert workspace.state.store.image(labelled).status is ImageStatus.LABELLED
