"""The re-judge queue as a gallery (issue #18): thumbnails decoded off the UI thread, one selection shared with
the table, the detail pane of the current image, keyboard-only bulk actions, and a note on many images."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import write_image
from test_queue import _ids, _wait_for_pool, engine, queue_window, store  # noqa: F401 (fixtures used by name)

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.store import repo
from app.store.db import session_scope

SQLITE_ONLY = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def _write_files(view) -> dict[str, int]:
    """Real image files where the queue's rows say the images are; one of them is not an image."""
    rows = [view.model.queue_row(i) for i in range(view.model.rowCount())]
    colours = {}
    for k, row in enumerate(r for r in rows if r):
        if k == 1:
            Path(row.path).parent.mkdir(parents=True, exist_ok=True)
            Path(row.path).write_text("not an image")
        else:
            write_image(Path(row.path), size=(120, 90), seed=k)
        colours[row.path] = k
    return colours


@SQLITE_ONLY
def test_gallery_shows_thumbnails_shares_the_selection_and_notes_by_key(qtbot, queue_window, store, engine):  # noqa: F811
    window, view = queue_window
    files = _write_files(view)
    bad = next(p for p, k in files.items() if k == 1)
    qtbot.keyClick(view.table, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)  # Ctrl+G: the gallery
    assert view.active_view() is view.gallery and view.gallery.hasFocus()
    loader = view.gallery.loader
    qtbot.waitUntil(lambda: all(loader.cached(p) is not None for p in files), timeout=10_000)
    assert loader.cached(bad).isNull()  # decoded, and found not to be an image: the tile says so
    good = [p for p in files if p != bad]
    assert all(not loader.cached(p).isNull() and max(loader.cached(p).width(),
                                                          loader.cached(p).height()) <= 160 for p in good)
    shot = view.gallery.viewport().grab().toImage()
    tile = view.gallery.visualRect(view.model.index(0, 0))
    colours = {shot.pixel(x, y) for x in range(tile.left() + 20, tile.left() + 140, 3)
               for y in range(tile.top() + 20, tile.top() + 100, 3)}
    assert len(colours) > 100  # a random image is painted there, not the grey stand-in
    window.grab().save("/tmp/queue_gallery.png")

    # keys move in the grid; the selection is the table's too; the detail pane shows the current image
    qtbot.keyClick(view.gallery, Qt.Key.Key_Home)
    qtbot.keyClick(view.gallery, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    picked = [r.image_id for r in view.selected_rows()]
    assert picked == _ids(view)[:2]
    assert {i.row() for i in view.table.selectionModel().selectedRows()} == {0, 1}
    current = view.model.queue_row(view.gallery.currentIndex().row())
    qtbot.waitUntil(lambda: view.detail.detail is not None and view.detail.detail.image_id == current.image_id,
                    timeout=10_000)
    text = view.detail.text.text()
    assert Path(current.path).name in text and "1. " in text and view.detail.row == current

    # N: one note on both images; neither is judged by it
    def type_note() -> None:
        dialog = QApplication.activeModalWidget()
        dialog.editor.setPlainText("smear on the lens")
        qtbot.keyClick(dialog.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    QTimer.singleShot(200, type_note)
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.gallery, Qt.Key.Key_N)
    with session_scope(engine, action="read") as s:
        notes = repo.current_notes(s, picked)
        current_j = repo.current_judgments(s, picked)
    assert notes == dict.fromkeys(picked, "smear on the lens")
    assert {j.status for j in current_j.values()} == {"reverted"} and set(_ids(view)[:2]) == set(picked)
    assert "Noted 2 images" in view.status_label.text()
    qtbot.waitUntil(lambda: "Note: smear on the lens" in view.detail.text.text(), timeout=10_000)  # read again
    # a short window: the details scroll, so the note, last, can be reached (it was cut off, seen under Xvfb)
    height = window.height()
    window.resize(window.width(), 420)
    area = view.detail.text_area
    qtbot.waitUntil(lambda: area.verticalScrollBar().maximum() > 0 and area.verticalScrollBar().isVisible(),
                    timeout=5000)  # (the bar shows once the layout has settled: waited for, not asserted at once)
    window.resize(window.width(), height)

    # N again, changed, then Esc: the text stays the selection's draft
    def change_and_cancel() -> None:
        dialog = QApplication.activeModalWidget()
        dialog.editor.setPlainText("smear on the lens, both")
        qtbot.keyClick(dialog.editor, Qt.Key.Key_Escape)

    QTimer.singleShot(200, change_and_cancel)
    qtbot.keyClick(view.gallery, Qt.Key.Key_N)
    assert view.note_drafts.get(tuple(sorted(picked))) == "smear on the lens, both"
    assert "brings your text back" in view.status_label.text()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)

    # Enter in the gallery accepts the selection (not the window's Return shortcut)
    view.gallery.setFocus()
    view.gallery.clearSelection()
    view.gallery.setCurrentIndex(view.model.index(0, 0))
    first = view.selected_rows()[0].image_id
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.gallery, Qt.Key.Key_Return)
    assert window.stolen == [] and first not in _ids(view)
    with session_scope(engine, action="read") as s:
        last = repo.judgment_history(s, first)[-1]
    assert (last.status, last.action, last.note) == ("accepted", "bulk", "smear on the lens")  # the note is kept

    # End, then Enter: the last tile is judged and the one now last is next (not the first, far up a long queue)
    qtbot.keyClick(view.gallery, Qt.Key.Key_End)
    ids = _ids(view)
    assert [r.image_id for r in view.selected_rows()] == [ids[-1]]
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        qtbot.keyClick(view.gallery, Qt.Key.Key_Return)
    assert ids[-1] not in _ids(view) and [r.image_id for r in view.selected_rows()] == [ids[-2]]

    qtbot.keyClick(view.gallery, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)  # back to the table
    assert view.active_view() is view.table
    _wait_for_pool()


@SQLITE_ONLY
def test_batches_are_listed_with_their_date_and_the_waiting_filter_reaches_the_query(qtbot, queue_window):  # noqa: F811
    import datetime as dt

    _window, view = queue_window
    texts = [view.batch_combo.itemText(i) for i in range(1, view.batch_combo.count())]
    made = {name: f"{when.astimezone():%Y-%m-%d}" for _id, name, when in view.service.batches()}  # (not "today":
    assert texts == [f"batch B · {made['batch B']}", f"batch A · {made['batch A']}"]  # a run may cross midnight)
    assert set(made.values()) <= {f"{dt.datetime.now().astimezone() - dt.timedelta(days=d):%Y-%m-%d}" for d in (0, 1)}
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        view.age_combo.setCurrentIndex(view.age_combo.findText("Over 1 week"))
    cut = view.filters().older_than  # a fixed time (to the minute), the same for every page and the counts
    assert abs(dt.datetime.now(dt.UTC) - cut - dt.timedelta(days=7)) < dt.timedelta(minutes=2)
    assert len(_ids(view)) == 5  # every prediction of the test store is older than a week


@SQLITE_ONLY
def test_the_predicted_menu_offers_groups_and_subgroups(qtbot, queue_window, store, taxonomy):  # noqa: F811
    _window, view = queue_window
    combo = view.leaf_combo
    entries = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}
    name = taxonomy.name("mechanical", "en")
    assert entries["mechanical"] == f"{name} — every type (3)"  # scratch, crack, dent waiting
    with qtbot.waitSignal(view.pageLoaded, timeout=10_000):
        combo.setCurrentIndex(combo.findData("mechanical"))
    assert view.filters().leaf is None and set(view.filters().leaves) >= {"scratch", "crack", "dent"}
    assert sorted(_ids(view)) == sorted(store[n] for n in ("img0", "img1", "img2"))
    assert view.counts_label.text().startswith("3 waiting")
    assert combo.currentData() == "mechanical"  # kept through the reload of the menu


def test_paging_stops_on_a_short_page_whatever_the_counts_said() -> None:
    """Other workstations judge between the counts and the next page: a short page is the last one."""
    import datetime as dt

    from PySide6.QtCore import QModelIndex

    from app.services.queue import QueuePage, QueueRow
    from app.ui.queue_model import QueueTableModel

    def rows(start: int, n: int) -> list[QueueRow]:
        return [QueueRow(image_id=i, prediction_id=i, path="", batch_ids=(), batch_names=(), leaf="crack",
                         confidence=0.5, reasons=(), unknown_score=None, created_at=dt.datetime.now(dt.UTC))
                for i in range(start, start + n)]

    model = QueueTableModel()
    model.set_page(QueuePage(rows=rows(0, 2), total=None, limit=2), grouped=None)
    assert model.total is None and model.canFetchMore(QModelIndex())  # a full page: maybe more
    model.set_counts(QueuePage(rows=[], total=10))
    model.set_page(QueuePage(rows=rows(2, 1), total=None, offset=2, limit=2), grouped=None, append=True)
    assert model.total == 10 and model.loaded == 3 and not model.canFetchMore(QModelIndex())


def test_the_detail_pane_names_the_node_the_model_determined(qtbot) -> None:
    """As the judging panel: the path marks the determined subgroup, and a line says to pick the type."""
    import datetime as dt

    from app.services.queue import QueueDetail
    from app.store.queries import QueueRow
    from app.ui.queue_gallery import QueueDetailPane

    pane = QueueDetailPane(service=None, runner=None)
    qtbot.addWidget(pane)
    pane.leaf_name = {"foreign": "Foreign matter", "particle": "Particles", "fiber": "Fiber"}.get
    row = QueueRow(image_id=1, prediction_id=2, path="/x/P004_20x.png", batch_ids=(1,), batch_names=("lot7",),
                   leaf="fiber", confidence=0.4, reasons=("low_confidence",), unknown_score=None,
                   created_at=dt.datetime.now(dt.UTC), determined="particle")
    pane.row, pane.detail = row, QueueDetail(1, 2, ("foreign", "particle", "fiber"), (0.99, 0.98, 0.4),
                                             (("fiber", 0.4),), None, None)
    pane._write()
    text = pane.text.text()
    assert "P004_20x.png</b><br>" in text  # the file and where it waits: one block
    assert "Particles ✓ " in text and "✓ Particles is determined · pick the type" in text
    pane.row = dataclasses.replace(row, determined=None)
    pane._write()
    assert "✓" not in pane.text.text()


def test_the_detail_pane_shows_another_image_from_its_top(qtbot) -> None:
    """The pane kept the last image's scroll: after scrolling once to the Top-5, the next image's file name stayed
    out of sight, and the analyst could not tell which file they judged (zh_TW walk-through)."""
    import datetime as dt

    from app.services.queue import QueueDetail
    from app.store.queries import QueueRow
    from app.ui.queue_gallery import QueueDetailPane

    pane = QueueDetailPane(service=None, runner=None)
    qtbot.addWidget(pane)
    pane._settle.setInterval(60_000)  # (no service here: the image is not loaded)
    pane.resize(320, 420)
    pane.show()
    row = QueueRow(image_id=1, prediction_id=2, path="/x/P004_20x.png", batch_ids=(1,), batch_names=("lot7",),
                   leaf="fiber", confidence=0.4, reasons=("low_confidence",), unknown_score=None,
                   created_at=dt.datetime.now(dt.UTC))
    pane.row, pane.detail = row, QueueDetail(1, 2, ("foreign", "particle", "fiber"), (0.99, 0.98, 0.4),
                                             tuple((f"leaf{k}", 0.1) for k in range(5)), None, None)
    pane._write()
    bar = pane.text_area.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=5000)
    bar.setValue(bar.maximum())
    pane.show_row(dataclasses.replace(row, image_id=3, prediction_id=4, path="/x/P005_20x.png"))
    assert bar.value() == 0


def test_the_detail_pane_names_the_subtree_of_a_top5_row_outside_the_prediction(qtbot) -> None:
    """The judging panel shows each Top-5 row's ancestry; the queue's pane showed bare leaf names, so "Fiber 30 %"
    under a particle prediction did not say it was a foreign-matter call of another subgroup. Now a row of another
    subtree than the prediction's names it; the prediction's siblings stay bare."""
    import datetime as dt

    from app.services.queue import QueueDetail
    from app.store.queries import QueueRow
    from app.ui.queue_gallery import QueueDetailPane

    pane = QueueDetailPane(service=None, runner=None)
    qtbot.addWidget(pane)
    names = {"foreign": "Foreign matter", "particle": "Particles", "metal": "Metal particle",
             "organic": "Organic particle", "residue": "Residue", "pi": "PI residue", "coating": "Coating"}
    parents = {"metal": ("foreign", "particle"), "organic": ("foreign", "particle"), "pi": ("coating", "residue")}
    pane.leaf_name, pane.leaf_parents = names.get, lambda leaf: parents.get(leaf, ())
    row = QueueRow(image_id=1, prediction_id=2, path="/x/a.png", batch_ids=(1,), batch_names=("lot7",),
                   leaf="metal", confidence=0.5, reasons=("low_confidence",), unknown_score=None,
                   created_at=dt.datetime.now(dt.UTC))
    pane.row, pane.detail = row, QueueDetail(1, 2, ("foreign", "particle", "metal"), (0.99, 0.9, 0.5),
                                             (("metal", 0.5), ("pi", 0.3), ("organic", 0.1)), None, None)
    pane._write()
    lines = pane.text.text().split("<br>")
    pi = next(line for line in lines if line.startswith("2. PI residue"))
    assert "· Coating › Residue" in pi
    assert not any("›" in line for line in lines if line.startswith(("1. ", "3. ")))


def test_a_gallery_tile_counts_its_further_reasons_and_its_tooltip_lists_them(qtbot) -> None:
    """A tile showed the first reason alone: an image held for low confidence *and* a possible new type looked like
    any low-confidence image. Now "+1" says there is more, and the tile's tooltip names every reason."""
    import datetime as dt

    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QToolTip

    from app.services.queue import QueuePage
    from app.store.queries import QueueRow
    from app.ui.queue_gallery import QueueGallery, tile_reasons
    from app.ui.queue_model import QueueTableModel

    assert tile_reasons(()) == "" and tile_reasons(("spot_check",)) == "spot check"
    assert tile_reasons(("low_confidence", "possible_unknown")) == "low confidence +1"
    row = QueueRow(image_id=1, prediction_id=2, path="/x/a.png", batch_ids=(1,), batch_names=("lot7",),
                   leaf="metal", confidence=0.5, reasons=("low_confidence", "possible_unknown"), unknown_score=None,
                   created_at=dt.datetime.now(dt.UTC))
    model = QueueTableModel()
    model.set_page(QueuePage(rows=[row], total=1, limit=50), grouped=None)
    gallery = QueueGallery()
    qtbot.addWidget(gallery)
    gallery.setModel(model)
    gallery.resize(600, 400)
    gallery.show()
    QApplication.processEvents()
    rect = gallery.visualRect(model.index(0, 0))
    event = QHelpEvent(QEvent.Type.ToolTip, rect.center(), gallery.viewport().mapToGlobal(rect.center()))
    QApplication.sendEvent(gallery.viewport(), event)
    qtbot.waitUntil(QToolTip.isVisible, timeout=3000)
    tip = QToolTip.text()
    assert "/x/a.png" in tip and "lot7" in tip and "low confidence, possible new type" in tip
    QToolTip.hideText()


def test_a_corrected_tiles_confidence_is_said_to_be_the_models_call(qtbot) -> None:
    """Seen: a corrected image's tile read "Metal particle 53% low confidence", the 53 % being the model's for
    Particle cluster. A decision other than the model's call says whose the confidence is."""
    import datetime as dt

    from app.store.queries import QueueRow
    from app.ui.queue_gallery import tile_text

    names = {"metal": "Metal particle", "cluster": "Particle cluster"}.get
    row = QueueRow(image_id=1, prediction_id=2, path="/x/a.png", batch_ids=(1,), batch_names=("lot7",),
                   leaf="cluster", confidence=0.53, reasons=("low_confidence",), unknown_score=None,
                   created_at=dt.datetime.now(dt.UTC))
    assert tile_text(row, names) == ("Particle cluster", "53%", "low confidence")  # waiting: the model's call
    accepted = dataclasses.replace(row, state="accepted", judged_leaf="cluster")
    assert tile_text(accepted, names) == ("Particle cluster", "53%", "low confidence")
    corrected = dataclasses.replace(row, state="corrected", judged_leaf="metal")
    assert tile_text(corrected, names) == ("Metal particle", "", "model: Particle cluster 53%")
    unknown = dataclasses.replace(row, state="unknown")
    assert tile_text(unknown, names) == ("unknown type", "", "model: Particle cluster 53%")
    both = dataclasses.replace(row, labels=("cluster", "metal"), state="accepted", judged_leaf="metal",
                               judged_labels=("metal", "cluster"))  # the same set in another order: accepted
    assert tile_text(both, names)[1:] == ("53%", "low confidence")


def test_the_gallery_spreads_its_tiles_over_the_whole_width(qtbot) -> None:
    """A fixed grid left up to a tile's width empty at the right edge (seen at 1440 × 880: five tiles and a gap);
    the cells now share the width, never narrower than a tile."""
    from app.ui.queue_gallery import GRID, QueueGallery, tile_grid

    gallery = QueueGallery()
    qtbot.addWidget(gallery)
    gallery.show()
    for width in (1060, 700, 200):
        gallery.resize(width, 500)
        QApplication.processEvents()
        cell, room = gallery.gridSize().width(), gallery.viewport().width()
        assert cell >= GRID.width() and gallery.gridSize().height() == tile_grid(gallery.fontMetrics()).height()
        assert room < GRID.width() + 22 or room - (room - 22) // cell * cell < GRID.width(), (width, cell)
    # a short queue, no scroll bar: the cells must still fit one row as wide as Qt lays it out (no tile wraps)
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QStyledItemDelegate

    class Plain(QStyledItemDelegate):
        def sizeHint(self, option, index):
            return GRID

    gallery.setItemDelegate(Plain(gallery))
    model = QStandardItemModel()
    for i in range(5):
        model.appendRow(QStandardItem(str(i)))
    gallery.setModel(model)
    gallery.resize(1060, 900)
    QApplication.processEvents()
    QApplication.processEvents()
    assert not gallery.verticalScrollBar().isVisible()
    assert {gallery.visualRect(model.index(i, 0)).top() for i in range(5)} == {0}, gallery.gridSize()
    assert gallery.viewport().width() - gallery.visualRect(model.index(4, 0)).right() < GRID.width()  # no gap


def test_a_tile_names_its_file_and_says_while_its_picture_loads(qtbot) -> None:
    """Seen: two tiles of one type read alike (the file was only in the tooltip), and a tile whose picture was still
    being read (a large file: 1 to 4 s) was a blank grey square, which looked empty or broken. The tile's last line
    is the file's name now, and a loading tile says so."""
    import datetime as dt

    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtWidgets import QStyleOptionViewItem

    from app.services.queue import QueuePage
    from app.store.queries import QueueRow
    from app.ui.queue_gallery import GRID, TILE, QueueGallery, tile_file
    from app.ui.queue_model import QueueTableModel

    row = QueueRow(image_id=7, prediction_id=2, path="/lot7/P001_20x.png", batch_ids=(1,), batch_names=("lot7",),
                   leaf="metal", confidence=0.5, reasons=("low_confidence",), unknown_score=None,
                   created_at=dt.datetime.now(dt.UTC))
    other = dataclasses.replace(row, image_id=8, path="/lot7/Q999_50x_long_name_of_a_file.png")
    assert tile_file(row) == "P001_20x.png" and tile_file(dataclasses.replace(row, path="")) == "#7"
    model = QueueTableModel()
    model.set_page(QueuePage(rows=[row, other], total=2, limit=50), grouped=None)
    gallery = QueueGallery()
    qtbot.addWidget(gallery)
    gallery.setModel(model)
    gallery.loader.get = lambda path: None  # every picture is still being read

    def paint(index: int) -> QImage:
        image = QImage(GRID, QImage.Format.Format_RGB32)
        image.fill(QColor("black"))
        option = QStyleOptionViewItem()
        option.rect = QRect(0, 0, GRID.width(), GRID.height())
        option.font = gallery.font()
        option.fontMetrics = gallery.fontMetrics()
        painter = QPainter(image)
        gallery.delegate.paint(painter, option, model.index(index, 0))
        painter.end()
        return image

    first, second = paint(0), paint(1)
    grey = QColor("#3c4043").rgb()
    thumb = {first.pixel(x, y) for x in range(12, TILE) for y in range(8, TILE)}
    assert thumb - {grey}, "the loading tile is a blank grey square"
    names = range(TILE + 8 + 2 * (gallery.fontMetrics().height() + 2), GRID.height() - 4)
    differ = [(x, y) for x in range(8, GRID.width() - 8) for y in names if first.pixel(x, y) != second.pixel(x, y)]
    assert differ, "two tiles of one type and confidence with different files paint alike"
    # the file's line clear of the focus frame, whatever the font (at 125 % in Chinese the frame ran through it)
    from PySide6.QtGui import QFont, QFontMetrics

    from app.ui.queue_gallery import tile_grid

    for size in (9, 12, 16):
        font = QFont(gallery.font())
        font.setPointSize(size)
        fm = QFontMetrics(font)
        height = tile_grid(fm).height()
        text_bottom = 4 + TILE + 8 + 2 * (fm.height() + 2) + fm.height()  # (the tile's rect less 4 px a side)
        assert text_bottom + 3 <= height - 4 - 2, (size, height)


def test_page_down_and_up_move_through_the_gallery(qtbot) -> None:
    """Page Down and Page Up did nothing in the gallery where less than two rows of tiles were in sight (1366 × 768
    at 125 %: the list's own page found no tile where the page landed); they move by the rows in sight less one."""
    import datetime as dt

    from PySide6.QtCore import Qt

    from app.services.queue import QueuePage
    from app.store.queries import QueueRow
    from app.ui.queue_gallery import QueueGallery
    from app.ui.queue_model import QueueTableModel

    rows = [QueueRow(image_id=i, prediction_id=i, path=f"/x/{i}.png", batch_ids=(1,), batch_names=("lot7",),
                     leaf="metal", confidence=0.5, reasons=("low_confidence",), unknown_score=None,
                     created_at=dt.datetime.now(dt.UTC)) for i in range(60)]
    model = QueueTableModel()
    model.set_page(QueuePage(rows=rows, total=60, limit=200), grouped=None)
    gallery = QueueGallery()
    qtbot.addWidget(gallery)
    gallery.loader.get = lambda path: None
    gallery.setModel(model)
    for height in (330, 800):  # one row of tiles in sight, then three
        gallery.resize(800, height)
        gallery.show()
        QApplication.processEvents()
        across = gallery.viewport().width() // gallery.gridSize().width()
        step = across * max(1, gallery.viewport().height() // gallery.gridSize().height() - 1)
        gallery.setCurrentIndex(model.index(1, 0))
        qtbot.keyClick(gallery, Qt.Key.Key_PageDown)
        assert gallery.currentIndex().row() == 1 + step, height
        qtbot.keyClick(gallery, Qt.Key.Key_PageDown)
        assert gallery.currentIndex().row() == 1 + 2 * step
        qtbot.keyClick(gallery, Qt.Key.Key_PageUp)
        assert gallery.currentIndex().row() == 1 + step
        qtbot.keyClick(gallery, Qt.Key.Key_End)
        qtbot.keyClick(gallery, Qt.Key.Key_PageDown)  # at the end it stays
        assert gallery.currentIndex().row() == 59
        gallery.setCurrentIndex(model.index(1, 0))
        qtbot.keyClick(gallery, Qt.Key.Key_PageUp)  # at the top: the first row's tile in this column
        assert gallery.currentIndex().row() == 1
