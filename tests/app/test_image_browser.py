"""The image browser on its own: background thumbnails, per-row status updates, the thumbnail size toggle."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage

from app.panels.image_browser import LARGE_ICON, SMALL_ICON, THUMBNAIL_SIDE, ImageBrowser
from segcore.data.classes import ClassTable
from segcore.project.store import ImageStatus, ProjectStore
from segcore.project.thumbnails import thumbnail_cache_path


@pytest.fixture()
def browser(qtbot, state):
    browser = ImageBrowser(state)
    qtbot.addWidget(browser)
    browser.show()
    return browser


def _all_thumbnails_shown(browser: ImageBrowser) -> bool:
    model = browser.model
    ids = [model.index(row, 0).data(Qt.ItemDataRole.UserRole) for row in range(model.rowCount())]
    return bool(ids) and all(model.has_thumbnail(image_id) for image_id in ids)


def _decoration(browser: ImageBrowser, name: str) -> QImage:
    """The name column's picture at full size: a THUMBNAIL_SIDE square with the thumbnail centred."""
    row = browser.visible_names().index(name)
    icon = browser.view.model().index(row, 0).data(Qt.ItemDataRole.DecorationRole)
    assert icon.availableSizes() == [QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE)]
    return icon.pixmap(THUMBNAIL_SIDE, THUMBNAIL_SIDE).toImage()


def _drawn_size(picture: QImage) -> tuple[int, int]:
    """Width and height of the opaque part of a picture."""
    alpha = [[picture.pixelColor(x, y).alpha() for x in range(picture.width())] for y in range(picture.height())]
    rows, columns = np.nonzero(np.array(alpha))
    return (0, 0) if not len(rows) else (int(np.ptp(columns)) + 1, int(np.ptp(rows)) + 1)


def _status_of(browser: ImageBrowser, name: str) -> str:
    row = browser.visible_names().index(name)
    return browser.view.model().index(row, 3).data()


def test_every_row_gets_its_thumbnail_in_the_background(qtbot, state, browser, tiny_project):
    state.open(tiny_project.root)
    assert browser.thumbnail_worker is not None
    qtbot.waitUntil(lambda: _all_thumbnails_shown(browser), timeout=10_000)
    # Small images keep their size (never enlarged); the name column carries the picture.
    assert _drawn_size(_decoration(browser, "alpha_gray8")) == (40, 30)
    rgb = _decoration(browser, "gamma_rgb").pixelColor(THUMBNAIL_SIDE // 2, THUMBNAIL_SIDE // 2)
    assert (rgb.red(), rgb.green(), rgb.blue()) == (200, 0, 50)
    for record in state.images:
        assert thumbnail_cache_path(tiny_project.root, record.id, THUMBNAIL_SIDE).is_file()
    qtbot.waitUntil(lambda: browser.thumbnail_worker is None)  # done: no worker left running


def test_rows_show_a_blank_placeholder_until_their_thumbnail_arrives(qtbot, state, browser, tiny_project):
    state.open(tiny_project.root)
    browser.thumbnail_worker.wait(10)  # hold the GUI thread: the results are queued, not yet delivered
    assert _drawn_size(_decoration(browser, "delta_gray16")) == (0, 0)  # a blank placeholder
    qtbot.waitUntil(lambda: _all_thumbnails_shown(browser), timeout=10_000)
    assert _drawn_size(_decoration(browser, "delta_gray16")) == (24, 20)


def test_closing_the_project_stops_the_thumbnail_worker(qtbot, state, browser, tmp_path):
    root = tmp_path / "many"
    rng = np.random.default_rng(0)
    with ProjectStore.create(root, ClassTable.from_names(["background", "cell"])) as store:
        for i in range(40):
            store.add_image_array(f"img{i:02d}", rng.integers(0, 65535, (256, 256), dtype=np.uint16))
    state.open(root)
    worker = browser.thumbnail_worker
    state.close()
    assert browser.thumbnail_worker is None and worker.abort_requested
    assert worker.wait(10)
    qtbot.wait(50)  # let any queued results arrive: they must be dropped
    assert browser.model.rowCount() == 0
    made = list((root / "thumbnails").glob("*.png"))
    assert len(made) < 40  # stopped early, not run to the end


def test_new_images_get_thumbnails_after_a_refresh(qtbot, state, browser, tiny_project):
    state.open(tiny_project.root)
    qtbot.waitUntil(lambda: _all_thumbnails_shown(browser), timeout=10_000)
    state.store.add_image_array("epsilon_new", np.full((10, 12), 77, np.uint8))
    state.refresh()
    assert "epsilon_new" in browser.visible_names()
    qtbot.waitUntil(lambda: _all_thumbnails_shown(browser), timeout=10_000)
    assert _drawn_size(_decoration(browser, "epsilon_new")) == (12, 10)


def test_record_changed_updates_the_row_status_and_counts(qtbot, state, browser, tiny_project):
    state.open(tiny_project.root)
    record = state.find("alpha_gray8")
    assert _status_of(browser, "alpha_gray8") == "unlabelled"
    state.store.set_status(record.id, ImageStatus.REVIEWED)
    state.reload_record(record.id)
    assert _status_of(browser, "alpha_gray8") == "reviewed"
    combo = browser.status_filter
    assert combo.itemText(combo.findData("reviewed")) == "reviewed (1)"


def test_labelling_the_current_image_under_a_status_filter_keeps_it_current(qtbot, state, browser, tiny_project):
    state.open(tiny_project.root)
    current = state.current_id  # alpha_gray8, unlabelled
    combo = browser.status_filter
    combo.setCurrentIndex(combo.findData("unlabelled"))
    assert browser.visible_names() == ["alpha_gray8", "delta_gray16"]
    state.store.set_status(current, ImageStatus.LABELLED)
    state.reload_record(current)
    assert browser.visible_names() == ["delta_gray16"]  # the row leaves the filtered list...
    assert state.current_id == current  # ...but the image stays the one being edited
    assert not browser.view.selectionModel().hasSelection()


def test_thumbnail_size_toggle_sets_the_row_height(qtbot, state, browser, tiny_project):
    state.open(tiny_project.root)
    qtbot.waitUntil(lambda: _all_thumbnails_shown(browser), timeout=10_000)
    view = browser.view

    def row_height() -> int:
        return view.visualRect(view.model().index(0, 0)).height()

    assert view.iconSize().width() == LARGE_ICON and row_height() >= LARGE_ICON
    browser.large_thumbnails_action.trigger()
    assert view.iconSize().width() == SMALL_ICON
    qtbot.waitUntil(lambda: row_height() < LARGE_ICON)
    browser.large_thumbnails_action.trigger()
    qtbot.waitUntil(lambda: row_height() >= LARGE_ICON)


SIMILAR_NAMES = ("interferogram_00", "interferogram_large_00", "0001TP_006690", "0001TP_006720")


@pytest.fixture()
def similar_names(tmp_path):
    root = tmp_path / "names"
    with ProjectStore.create(root, ClassTable.from_names(["background", "sample"])) as store:
        for value, name in enumerate(SIMILAR_NAMES):
            store.add_image_array(name, np.full((8, 8), value, np.uint8))
    return root


def test_names_that_share_a_stem_stay_tellable_apart(qtbot, state, browser, similar_names):
    state.open(similar_names)
    view = browser.view
    metrics = view.fontMetrics()
    icon_and_margins = view.iconSize().width() + 3 * view.style().pixelMetric(view.style().PixelMetric.PM_FocusFrameHMargin)
    # At the width the browser asks for, the longest name is whole.
    widest = max(metrics.horizontalAdvance(name) for name in SIMILAR_NAMES)
    browser.resize(browser.preferred_width(), 400)
    qtbot.waitUntil(lambda: view.header().sectionSize(0) >= widest + icon_and_margins, timeout=2000)
    # Narrower, the name gives way and every other column stays whole (no sideways scrolling).
    browser.resize(260, 400)
    qtbot.waitUntil(lambda: sum(view.header().sectionSize(c) for c in range(4)) <= view.viewport().width(), timeout=2000)
    assert view.header().sectionSize(3) >= view.sizeHintForColumn(3)
    # Squeezed by the user, a name loses its start, never the end that tells frames apart.
    for first, second in (SIMILAR_NAMES[:2], SIMILAR_NAMES[2:]):
        width = metrics.horizontalAdvance("…large_00")
        assert metrics.elidedText(first, view.textElideMode(), width) != metrics.elidedText(second, view.textElideMode(), width)
    # The whole name is always one hover away.
    for row, name in enumerate(browser.visible_names()):
        assert view.model().index(row, 0).data(Qt.ItemDataRole.ToolTipRole).splitlines()[0] == name
