"""The re-judge queue window follows judgments made in the main window, and judges a selection unknown with U
(issue #18)."""

from __future__ import annotations

import pytest
from conftest import make_rejudge_bundle, open_window, write_image

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt

from app.store import repo
from app.store.db import session_scope


@pytest.fixture(scope="module")
def rejudge_bundle(tmp_path_factory, taxonomy):
    return make_rejudge_bundle(tmp_path_factory.mktemp("queue_live") / "model", taxonomy)


def _queue_of(qtbot, engine, bundle, tmp_path, monkeypatch, n: int):
    """The main window with a batch of ``n`` images predicted by ``bundle`` (all to re-judge), and its queue shown.
    The caller closes the window."""
    folder = tmp_path / "batch"
    for i in range(n):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    win = open_window(qtbot, engine, bundle, tmp_path, monkeypatch)
    with qtbot.waitSignal(win.allPredicted, timeout=120_000):
        win.open_folder(folder)
    view = win.queue_view
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        win.show_queue()
    return win, view


def test_the_queue_follows_the_main_window_and_marks_a_selection_unknown(qtbot, engine, rejudge_bundle, tmp_path,
                                                                         monkeypatch):
    win, view = _queue_of(qtbot, engine, rejudge_bundle, tmp_path, monkeypatch, 3)
    try:
        assert view.model.total == 3
        assert view.export_folder() is None  # the labels' and the queue's exports share the remembered folder
        view.export_done(tmp_path)
        assert view.export_folder() == tmp_path.resolve() and win.settings.value("export/folder") == str(
            tmp_path.resolve())
        assert view.focusWidget() is view.table  # an arrow key moves in the table (it changed the reason filter)
        first = win.presenter.current_item.image.image_id
        view.table.clearSelection()
        chosen = next(i for i in range(view.model.rowCount()) if view.model.queue_row(i).image_id == first)
        view.table.selectRow(chosen)
        with qtbot.waitSignal(view.pageLoaded, timeout=10_000):  # judged in the main window: the queue reloads
            win.accept_current()
        assert view.model.total == 2 and first not in {r.image_id for r in view.model.rows}
        assert view.selected_rows() == []  # the image selected here was judged there: no other one takes its place
        second = view.model.queue_row(0).image_id
        view.table.selectRow(0)
        with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
            view._poll_tick()  # a reload of its own: the selection stays on the same image
        assert [r.image_id for r in view.selected_rows()] == [second]
        view.table.setFocus()
        view.table.selectAll()
        with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
            qtbot.keyClick(view.table, Qt.Key.Key_U)
        assert view.model.total == 0 and "Marked 2 images unknown" in view.status_label.text()
        ids = [it.image.image_id for it in win.items if it.image.image_id != first]
        with session_scope(engine, action="read") as s:
            current = repo.current_judgments(s, ids)
        assert {(j.status, j.leaf) for j in current.values()} == {("unknown", None)}
        assert {win.presenter.state(it) for it in win.items if it.image.image_id != first} == {"unknown"}
        with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
            qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one undo takes both back
        assert view.model.total == 2
    finally:
        win.close()


@pytest.mark.parametrize("family", ["convnext", "resnet_cbam"])
def test_the_queue_pane_shows_the_models_own_heatmap(qtbot, engine, taxonomy, tmp_path, monkeypatch, family):
    """The detail pane of the re-judge queue shows what the main window shows: a CBAM network's attention from
    its forward pass (it showed four-backward-pass LayerCAM for every model), else the predicted type's LayerCAM."""
    bundle = make_rejudge_bundle(tmp_path / family, taxonomy, family=family)
    win, view = _queue_of(qtbot, engine, bundle, tmp_path, monkeypatch, 2)
    try:
        view.table.clearSelection()
        wanted = view.model.queue_row(1).image_id  # (row 0's, asked for as the page loaded, may come first)
        with qtbot.waitSignal(win.worker.attended, timeout=60_000,
                              check_params_cb=lambda image_id, *_rest: image_id == wanted) as got:
            view.table.selectRow(1)
        image_id, leaf, heatmap, kind = got.args
        row = view.model.queue_row(1)
        assert (image_id, leaf) == (row.image_id, row.leaf) and heatmap.ndim == 2
        assert kind == ("cbam" if family == "resnet_cbam" else "gradcam")
        qtbot.waitUntil(lambda: view.detail.viewer.heatmap_caption != "", timeout=5_000)
        caption = view.detail.viewer.heatmap_caption
        assert caption == "Attention (CBAM)" if kind == "cbam" else caption.startswith("Where the model looked for")
    finally:
        win.close()


def test_the_shown_queue_takes_the_images_a_batch_queues_while_it_is_predicted(qtbot, engine, rejudge_bundle, tmp_path,
                                                                              monkeypatch):
    """The queue window open while a batch is predicted: its queued images show within a few seconds of being stored
    (they showed at the next 30-s poll)."""
    from app.ui import queue_view

    folder = tmp_path / "batch"
    for i in range(3):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    win = open_window(qtbot, engine, rejudge_bundle, tmp_path, monkeypatch)
    try:
        view = win.queue_view
        with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
            win.show_queue()
        assert view.model.total == 0 and view._poll.interval() == queue_view.POLL_MS > 10_000
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        qtbot.waitUntil(lambda: view.model.total == 3, timeout=queue_view.CATCH_UP_MS + 5_000)
    finally:
        win.close()


def test_the_queue_opens_grouped_and_as_a_gallery_as_it_was_left(qtbot, engine, tmp_path, monkeypatch):
    """An analyst who works the queue group by group chose the grouping again at every start: the grouping and the
    gallery are kept in the settings."""
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        view = win.queue_view
        assert view.group_combo.currentData() is None and view.active_view() is view.table
        view.group_combo.setCurrentIndex(view.group_combo.findData("determined"))
        view.gallery_btn.toggle()
    finally:
        win.close()
    win.settings.sync()
    again = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        view = again.queue_view
        assert view.group_combo.currentData() == "determined" and view.active_view() is view.gallery
        view.group_combo.setCurrentIndex(view.group_combo.findData(None))
        assert again.settings.value("queue/group") == ""
    finally:
        again.close()
