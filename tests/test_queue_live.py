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


def test_the_queue_follows_the_main_window_and_marks_a_selection_unknown(qtbot, engine, rejudge_bundle, tmp_path,
                                                                         monkeypatch):
    folder = tmp_path / "batch"
    for i in range(3):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    win = open_window(qtbot, engine, rejudge_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        view = win.queue_view
        with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
            win.show_queue()
        assert view.model.total == 3
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
