"""The main window's right column keeps the prediction panel whole when a pane below it appears or grows
(:mod:`app.ui.right_column`): on a short window the spectrum gave the Top-5 two rows and a scroll bar."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication, QWidget

from app.ui.right_column import RightColumn


class Panel(QWidget):
    def __init__(self, wanted: int) -> None:
        super().__init__()
        self.wanted, self.compact = wanted, False
        self.setMinimumHeight(90)

    def wanted_height(self) -> int:
        return self.wanted

    def set_compact(self, on: bool) -> None:
        self.compact = on


class Pane(QWidget):
    def __init__(self, minimum: int, hint: int) -> None:
        super().__init__()
        self.hint = hint
        self.setMinimumHeight(minimum)

    def sizeHint(self) -> QSize:
        return QSize(300, self.hint)


def _column(qtbot, wanted: int, height: int, spectrum_min: int = 100) -> tuple[RightColumn, Panel, Pane, Pane]:
    column = RightColumn()
    qtbot.addWidget(column)
    panel, spectrum, similar = Panel(wanted), Pane(spectrum_min, 300), Pane(120, 120)
    for widget in (panel, spectrum, similar):
        column.addWidget(widget)
    spectrum.hide()
    column.resize(360, height)
    column.show()
    qtbot.waitExposed(column)
    return column, panel, spectrum, similar


def test_a_pane_that_appears_gives_the_panel_what_it_wants_first(qtbot) -> None:
    column, panel, spectrum, _ = _column(qtbot, wanted=500, height=800)
    column.setSizes([680, 0, 120])
    spectrum.show()  # Qt would give it its size hint, taken from the panel
    column.setSizes([380, 300, 120])
    qtbot.waitUntil(lambda: not column._pending, timeout=2000)
    sizes = column.sizes()
    # (Qt scales the heights to the column's by a few pixels)
    assert abs(sizes[0] - 500) <= 8 and sizes[2] == 120 and sizes[1] < 300 and not panel.compact, sizes


def test_too_short_a_window_shrinks_the_spectrum_to_its_minimum_and_makes_the_panel_compact(qtbot) -> None:
    column, panel, spectrum, _ = _column(qtbot, wanted=700, height=800)
    spectrum.show()
    qtbot.waitUntil(lambda: panel.compact, timeout=2000)
    sizes = column.sizes()
    assert sizes[1] == 100 and sizes[2] == 120 and sizes[0] == sum(sizes) - 220  # never below a pane's minimum
    panel.wanted = 400  # a shorter prediction: the panes keep their heights, the panel is whole again
    column.balance()
    assert not panel.compact


def test_a_pane_hidden_gives_its_room_to_the_panel_at_once(qtbot) -> None:
    """Seen at 1440 × 880: P001 (a spectrum) made the panel compact; on P004 (none) the pass that followed the
    spectrum's hiding still counted its height as the spectrum's, so the panel stayed compact beside an empty gap
    until the analyst moved on and back."""
    column, panel, spectrum, _ = _column(qtbot, wanted=650, height=800)
    spectrum.show()
    qtbot.waitUntil(lambda: panel.compact and not column._pending, timeout=2000)
    assert column.sizes()[1] == 100
    spectrum.hide()
    assert column.sizes()[1] > 0  # the splitter has not given the hidden pane's height away yet
    column.balance()
    assert not panel.compact and column.sizes()[0] >= 650 and column.sizes()[1] == 0, column.sizes()


def test_a_height_the_analyst_drags_stays(qtbot) -> None:
    column, _, spectrum, _ = _column(qtbot, wanted=500, height=800)
    spectrum.show()
    qtbot.waitUntil(lambda: column.sizes()[0] >= 490, timeout=2000)
    column.splitterMoved.emit(300, 1)  # what a drag of the first handle sends
    column.setSizes([300, 380, 120])
    spectrum.hide()
    spectrum.show()
    column.balance()
    assert column.sizes()[0] < 500


def test_a_taller_window_gives_the_spectrum_back_its_height_and_the_panel_its_ancestry_lines(qtbot) -> None:
    column, panel, spectrum, _ = _column(qtbot, wanted=700, height=800)
    spectrum.show()
    qtbot.waitUntil(lambda: panel.compact, timeout=2000)
    column.resize(360, 1200)
    qtbot.waitUntil(lambda: not panel.compact, timeout=2000)
    sizes = column.sizes()
    assert sizes[1] == 300 and sizes[0] >= 700, sizes  # the spectrum's own height again, the panel whole


def test_fit_again_forgets_the_dragged_heights(qtbot) -> None:
    """Settings → "Fit the right column again" hands the heights back to the balancing."""
    column, _, spectrum, _ = _column(qtbot, wanted=500, height=800)
    spectrum.show()
    qtbot.waitUntil(lambda: column.sizes()[0] >= 490, timeout=2000)
    column.splitterMoved.emit(300, 1)
    column.setSizes([300, 380, 120])
    assert column.dragged
    column.release()
    qtbot.waitUntil(lambda: column.sizes()[0] >= 490, timeout=2000)
    assert not column.dragged


class FoldingPane(Pane):
    """A pane with a line it can fold away when compact (the spectrum's setup hint, "nothing similar yet")."""

    def __init__(self, minimum: int, hint: int, spare: int) -> None:
        super().__init__(minimum, hint)
        self.full, self.spare, self.compact = minimum, spare, False

    def set_compact(self, on: bool) -> None:
        self.compact = on
        self.setMinimumHeight(self.full - self.spare if on else self.full)

    def spare_height(self) -> int:
        return self.spare if self.compact else 0


def test_panes_fold_with_the_panel_and_stay_folded_while_their_room_is_what_makes_it_fit(qtbot) -> None:
    """Seen at 1366 × 768 with a spectrum: the fifth Top-5 row scrolled while the spectrum's "no reference yet" hint
    and "nothing similar yet" took three lines. The panes fold those lines when the panel goes compact; the room that
    frees must not end compact on the next pass (it would flip on every pass), only a taller window does."""
    column = RightColumn()
    qtbot.addWidget(column)
    panel, spectrum, similar = Panel(10_000), FoldingPane(100, 300, 30), FoldingPane(120, 120, 40)
    for widget in (panel, spectrum, similar):
        column.addWidget(widget)
    column.resize(360, 800)
    column.show()
    qtbot.waitExposed(column)
    qtbot.waitUntil(lambda: not column._pending, timeout=2000)
    panel.wanted = column.sizes()[0] + 20  # 20 px short with the panes at their minimums: 70 px once they fold
    column.balance()
    qtbot.waitUntil(lambda: panel.compact and spectrum.compact and similar.compact, timeout=2000)
    for _ in range(3):  # folded, the panes could give 70 px; the panel took the 20 it needs: compact stays
        QApplication.processEvents()
        column.balance()
        assert panel.compact and spectrum.compact and similar.compact, column.sizes()
    assert column.sizes()[1:] == [80, 120] and column.sizes()[0] >= panel.wanted  # only what it needs, spectrum first
    column.resize(360, 1200)  # room for the panel, both lines and the spectrum's own height: everything unfolds
    qtbot.waitUntil(lambda: not (panel.compact or spectrum.compact or similar.compact), timeout=2000)


def test_a_column_deleted_with_a_balance_pending_does_not_raise_after_it(qtbot) -> None:
    """Closing a window right after its panel changed left a balance queued for a deleted column: the queued
    call raised 'Internal C++ object (RightColumn) already deleted' (the timer now has the column as context)."""
    import shiboken6
    from PySide6.QtCore import QTimer

    column = RightColumn()  # (not given to qtbot, which would close it after the test)
    spectrum = Pane(100, 300)
    for widget in (Panel(500), spectrum):
        column.addWidget(widget)
    column.resize(360, 800)
    column.show()
    qtbot.waitUntil(lambda: not column._pending, timeout=2000)
    spectrum.hide()  # queues a balance
    assert column._pending
    shiboken6.delete(column)
    with qtbot.captureExceptions() as caught:
        done = []
        QTimer.singleShot(20, lambda: done.append(1))
        qtbot.waitUntil(lambda: bool(done), timeout=2000)
    assert not caught, [e for _t, e, _tb in caught]


def test_the_panel_says_what_going_compact_saves_as_it_is_laid_out(qtbot) -> None:
    """The saving counted each ancestry line whole (112 px at 1366 × 768 where about 40 were freed: a row is as high
    as its key button, the line beside it): the column judged the compact panel to fit, the similar cases kept their
    tiles, and the fifth Top-5 row and the routing reason scrolled away on an image's first showing."""
    from app.services.batch_presenter import PanelData, TopEntry
    from app.ui.prediction_panel import PredictionPanel

    panel = PredictionPanel()
    qtbot.addWidget(panel)
    panel.resize(360, 2000)
    panel.show()
    qtbot.waitExposed(panel)
    panel.show_data(PanelData(
        file_name="a.png", state="rejudge", leaf="fiber", path=("foreign_matter", "particle", "fiber"),
        path_names=("Foreign matter", "Particle", "Fiber"), path_scores=(0.99, 0.9, 0.6),
        top5=tuple(TopEntry(f"leaf{k}", f"Type {k}", "Foreign matter › Particle", 0.2) for k in range(5))))

    QApplication.processEvents()
    full = panel.wanted_height()  # the body and what is under it (the model line, the buttons)
    panel.set_compact(True)
    QApplication.processEvents()
    saving = panel.compact_saving()
    laid_out = panel.wanted_height() - saving  # (wanted_height counts the saving back: "as if not compact")
    assert saving > 0 and abs(saving - (full - laid_out)) <= 4, (saving, full - laid_out)


def test_a_pane_whose_least_height_grew_is_counted_at_it_before_the_splitter_lays_it_out(qtbot, monkeypatch) -> None:
    """Similar cases came in (their tiles: a taller least height) and the pass that followed counted the pane at its
    old height: the panel seemed to fit, stayed whole, and lost its last rows once the splitter laid the pane out."""
    column, panel, _spectrum, similar = _column(qtbot, wanted=600, height=800)
    qtbot.waitUntil(lambda: not column._pending, timeout=2000)
    assert not panel.compact
    similar.setMinimumHeight(300)  # the tiles: 800 - 300 < 600 wanted
    monkeypatch.setattr(column, "sizes", lambda: [680, 0, 120])  # (as the splitter has them before it lays out)
    set_to: list[list[int]] = []
    monkeypatch.setattr(column, "setSizes", set_to.append)
    column.balance()
    assert panel.compact and set_to and set_to[-1][2] >= 300


def test_shift_page_keys_scroll_the_prediction_panel(qtbot, engine, tmp_path, monkeypatch) -> None:
    """At 1366 x 768 and 125 % a note or a "Judged … by …" line stayed below the panel's fold, and a keyboard-only
    analyst had no key to reach it (walk-through): Shift+PgDn and Shift+PgUp scroll the panel a page, a line of the
    page before kept in sight."""
    from PySide6.QtCore import Qt

    from app.services.batch_presenter import PanelData, TopEntry
    from tests.conftest import open_window, wait_on_screen, write_image

    for i in range(3):
        write_image(tmp_path / "batch" / f"img_{i}.png", seed=i)
    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        win.open_folder(tmp_path / "batch")
        qtbot.waitUntil(lambda: len(win.list_model.rows) == 3 and win.panel.isVisible(), timeout=30_000)
        wait_on_screen(qtbot, win)  # (its own panel shown first: ours is not replaced after)
        panel, row = win.panel, win.list_view.currentIndex().row()
        panel.show_data(PanelData(
            file_name="a.png", state="rejudge", leaf="fiber", path=("foreign_matter", "particle", "fiber"),
            path_names=("Foreign matter", "Particle", "Fiber"), path_scores=(0.99, 0.9, 0.6),
            top5=tuple(TopEntry(f"leaf{k}", f"Type {k}", "Foreign matter › Particle", 0.2) for k in range(5))))
        panel.scroll.setFixedHeight(120)  # (the panel's own height at 125 %, less: it scrolls whatever the font)
        QApplication.processEvents()
        bar = panel.scroll.verticalScrollBar()
        assert bar.maximum() > bar.pageStep() and bar.value() == 0
        qtbot.keyClick(win, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ShiftModifier)
        first = bar.value()
        line = panel.title.fontMetrics().height()
        assert 0 < first == bar.pageStep() - line  # a page, less the line kept in sight
        assert win.list_view.currentIndex().row() == row  # the list did not page
        while panel.scroll_page(1):
            pass
        assert bar.value() == bar.maximum() and not panel.scroll_page(1)  # at the end: nothing further
        qtbot.keyClick(win, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ShiftModifier)
        assert bar.value() == bar.maximum() - first
    finally:
        win.close()
