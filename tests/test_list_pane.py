"""L hides the image list so that a narrow window (half a laptop's screen) gives the image its width; the window says
so once when the image gets narrow, the keys walk the batch with the list hidden, F shows it again with its filter,
and the next start keeps it hidden."""

from __future__ import annotations

import pytest
from conftest import make_rejudge_bundle, open_window, write_image

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


@pytest.fixture(scope="module")
def rejudge_bundle(tmp_path_factory, taxonomy):
    return make_rejudge_bundle(tmp_path_factory.mktemp("list_pane") / "model", taxonomy)


def _batch(tmp_path, n: int = 4):
    folder = tmp_path / "batch"
    for i in range(n):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    return folder


def test_l_gives_the_image_the_lists_width_and_the_keys_still_walk_the_batch(qtbot, engine, rejudge_bundle, tmp_path,
                                                                            monkeypatch):
    win = open_window(qtbot, engine, rejudge_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(_batch(tmp_path))
        qtbot.waitUntil(lambda: (win.resize(800, 600), win.viewer.width() < 300)[1])
        list_width, image_width = win.splitter.sizes()[0], win.viewer.width()
        assert list_width > 200
        win.select(0)
        win.list_view.setFocus()  # the list had the keys: they stay with the window once it is hidden
        qtbot.keyClick(win, Qt.Key.Key_L)
        qtbot.waitUntil(lambda: win.list_pane.isHidden())
        QApplication.processEvents()
        assert win.viewer.width() >= image_width + list_width - 10  # the image took the list's width
        assert "L shows it again" in win.statusBar().currentMessage()
        assert not win.list_view.hasFocus()
        qtbot.keyClick(win, Qt.Key.Key_Down)
        assert win.current == 1  # the arrows walk the batch without the list
        qtbot.keyClick(win, Qt.Key.Key_End)
        assert win.current == 3

        qtbot.keyClick(win, Qt.Key.Key_L)
        qtbot.waitUntil(lambda: not win.list_pane.isHidden())
        QApplication.processEvents()
        assert abs(win.splitter.sizes()[0] - list_width) <= 2  # back at the width it had
        assert win.statusBar().currentMessage() == "Image list shown"

        qtbot.keyClick(win, Qt.Key.Key_L)
        qtbot.waitUntil(lambda: win.list_pane.isHidden())
        qtbot.keyClick(win, Qt.Key.Key_F)  # the filter is at the list's top: F shows the list and opens it
        bar = win.list_filter
        qtbot.waitUntil(lambda: bar.state_combo.view().isVisible(), timeout=5000)
        assert not win.list_pane.isHidden()
        bar.state_combo.hidePopup()
    finally:
        win.close()


def test_a_narrow_image_says_once_that_l_hides_the_list(qtbot, engine, rejudge_bundle, tmp_path, monkeypatch):
    win = open_window(qtbot, engine, rejudge_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(_batch(tmp_path, 2))
        win.statusBar().clearMessage()
        QApplication.processEvents()
        assert win.viewer.width() > 300 and win.statusBar().currentMessage() == ""  # room enough: nothing said
        # (resized again until it takes: a resize is held to the window's minimum when it is made, and the status
        # bar's widgets settle after the last prediction)
        qtbot.waitUntil(lambda: (win.resize(800, 600), win.viewer.width() < 300)[1])
        assert win.statusBar().currentMessage() == "Little room for the image: L hides the image list"
        win.statusBar().clearMessage()
        win.resize(1400, 800)
        QApplication.processEvents()
        win.resize(790, 600)
        QApplication.processEvents()
        assert win.statusBar().currentMessage() == ""  # once a window, not at every resize
    finally:
        win.close()


def test_the_list_stays_hidden_at_the_next_start_and_comes_back_at_its_width(qtbot, engine, rejudge_bundle, tmp_path,
                                                                               monkeypatch):
    folder = _batch(tmp_path, 2)
    first = open_window(qtbot, engine, rejudge_bundle, tmp_path, monkeypatch)
    with qtbot.waitSignal(first.allPredicted, timeout=120_000):
        first.open_folder(folder)
    # the next window's stored geometry is kept on the screen (the offscreen one is 800 px wide): this one too, as
    # on a workstation whose screen is the same at the next start (the status bar's texts held both wider, before)
    first.resize(first.screen().availableGeometry().size())
    QApplication.processEvents()
    first.splitter.setSizes([330, 250, 200])  # the analyst widened the list
    QApplication.processEvents()
    width = first.splitter.sizes()[0]
    first.close()
    second = open_window(qtbot, engine, rejudge_bundle, tmp_path, monkeypatch)
    with qtbot.waitSignal(second.allPredicted, timeout=120_000):
        second.open_folder(folder)
    assert abs(second.splitter.sizes()[0] - width) <= 2
    second.toggle_list_pane()
    second.close()  # closed with the list hidden: its width is not stored as shut
    third = open_window(qtbot, engine, rejudge_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(third.allPredicted, timeout=120_000):
            third.open_folder(folder)
        assert third.list_pane.isHidden()
        third.toggle_list_pane()
        QApplication.processEvents()
        assert not third.list_pane.isHidden() and abs(third.splitter.sizes()[0] - width) <= 2
    finally:
        third.close()
