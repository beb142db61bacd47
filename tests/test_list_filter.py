"""The main window's list filter (issue #18): F opens it, the list shows one state or type in the order chosen,
the arrows and "next" walk the filtered list, and Show all brings every image back."""

from __future__ import annotations

import pytest
from conftest import make_rejudge_bundle, open_window, write_image

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


@pytest.fixture(scope="module")
def rejudge_bundle(tmp_path_factory, taxonomy):
    return make_rejudge_bundle(tmp_path_factory.mktemp("list_filter") / "model", taxonomy)


def _listed(win) -> list[int]:
    return [r.image_id for r in win.list_model.rows]


def test_the_list_filter_narrows_orders_and_steers_next(qtbot, engine, rejudge_bundle, tmp_path, monkeypatch):
    folder = tmp_path / "batch"
    for i in range(6):
        write_image(folder / f"img_{i}.png", size=(96, 80), seed=i)
    win = open_window(qtbot, engine, rejudge_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        ids = [it.image.image_id for it in win.items]
        win.select(2)
        win.accept_current()  # image 2 accepted; the window moves on to image 3
        assert win.current_image_id == ids[3]

        # F opens the state menu; choosing "Judged by a person" lists the one judged image
        qtbot.keyClick(win, Qt.Key.Key_F)
        bar = win.list_filter
        qtbot.waitUntil(lambda: bar.state_combo.view().isVisible(), timeout=5000)
        popup = bar.state_combo.view()
        target = bar.state_combo.findText("Judged by a person")
        popup.setCurrentIndex(bar.state_combo.model().index(target, 0))
        qtbot.keyClick(popup, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: _listed(win) == [ids[2]], timeout=5000)
        assert bar.count_label.text() == "1 of 6 images listed" and bar.clear_btn.isEnabled()
        assert win.current_image_id == ids[3]  # the image on screen stays, although the list hides it
        QApplication.processEvents()
        assert QApplication.focusWidget() is not bar.state_combo  # the keys went back to judging

        # waiting images, least confident first: the arrows walk that order
        bar.set_value(bar.value().__class__(states=frozenset({"pending", "rejudge"}), sort="confidence"))
        bar.changed.emit(bar.value())
        conf = {it.image.image_id: it.prediction.confidence for it in win.items}
        listed = _listed(win)
        assert ids[2] not in listed and len(listed) == 5
        assert [conf[i] for i in listed] == sorted(conf[i] for i in listed)
        win.select(win.presenter.row_of(listed[0]))
        win.activateWindow()  # the offscreen platform does not hand activation back after a popup
        qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
        qtbot.keyClick(win, Qt.Key.Key_Down)
        assert win.current_image_id == listed[1]
        qtbot.keyClick(win, Qt.Key.Key_End)
        assert win.current_image_id == listed[-1]
        win.accept_current()  # "next" after the last listed image: the first open one of the list
        assert win.current_image_id == listed[0]

        # the type menu lists the batch's types with counts; a subgroup keeps only its images
        bar.type_combo.showPopup()
        types = [bar.type_combo.itemData(i) for i in range(bar.type_combo.count())]
        bar.type_combo.hidePopup()
        leaf = win.items[2].judgment.leaf
        group = win.presenter.names.path(leaf)[0]
        assert types[0] is None and group in types and leaf in types
        bar.set_value(bar.value().__class__(node=group))
        bar.changed.emit(bar.value())
        assert ids[2] in _listed(win)
        assert all(group in win.presenter.names.path(win.presenter.type_of(win.items[win.presenter.row_of(i)]))
                   for i in _listed(win))
        qtbot.mouseClick(bar.clear_btn, Qt.MouseButton.LeftButton)  # Show all
        assert _listed(win) == ids and not bar.count_label.isVisible()

        # the type menu is in tree order: each group, then its subgroups, each followed by its types
        tree = win.presenter.names
        order = types[1:]

        def ancestors(node: str) -> list[str]:
            return [*ancestors(tree.parent(node)), node] if node is not None else []

        def runs(seq: list[str]) -> list[str]:  # each value once per run of equal neighbours
            return [x for i, x in enumerate(seq) if i == 0 or seq[i - 1] != x]

        groups = [ancestors(n)[0] for n in order]
        assert len(set(groups)) > 1 and runs(groups) == list(dict.fromkeys(groups))  # a group's nodes stay together
        for node in order:
            assert all(order.index(up) < order.index(node) for up in ancestors(node)[:-1])  # each below its parents
        # indented by depth in the drawing, not by spaces in the text: typing a leaf's name finds it (with spaces
        # only the groups were found, at 150 leaves), and the closed menu shows the name and its count
        from app.ui.list_filter import DEPTH_ROLE

        combo = bar.type_combo
        assert [combo.itemData(i, DEPTH_ROLE) for i in range(1, combo.count())] == [
            len(ancestors(n)) - 1 for n in order]
        assert not any(combo.itemText(i).startswith(" ") for i in range(combo.count()))
        deepest = max(order, key=lambda n: len(ancestors(n)))
        combo.setFocus()
        combo.view().keyboardSearch(tree.name(deepest, "en")[:4])
        assert combo.view().currentIndex().data(Qt.ItemDataRole.UserRole) in {
            n for n in order if tree.name(n, "en").startswith(tree.name(deepest, "en")[:4])}
        # typed into the closed menu: it opens and finds the name there (closed, the first letter chose at once and
        # gave the keys back to the window, whose letters then judged the image on screen)
        combo.hidePopup()
        combo.setFocus()
        qtbot.wait(QApplication.keyboardInputInterval() + 100)  # (the search above is over)
        states = [it.state for it in win.items]
        chosen = combo.currentIndex()
        qtbot.keyClicks(combo, tree.name(deepest, "en")[:4])
        assert combo.view().isVisible() and combo.currentIndex() == chosen  # nothing chosen yet
        assert combo.view().currentIndex().data(Qt.ItemDataRole.UserRole) in {
            n for n in order if tree.name(n, "en").startswith(tree.name(deepest, "en")[:4])}
        assert [it.state for it in win.items] == states  # no key reached the judging window
        combo.hidePopup()

        # F, then Tab and Shift+Tab go from menu to menu, each opened; the highlighted state applies on Tab
        win.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
        qtbot.keyClick(win, Qt.Key.Key_F)
        qtbot.waitUntil(lambda: bar.state_combo.view().isVisible(), timeout=5000)
        auto = bar.state_combo.findText("Judged by a person")
        bar.state_combo.view().setCurrentIndex(bar.state_combo.model().index(auto, 0))
        qtbot.keyClick(bar.state_combo.view(), Qt.Key.Key_Tab)
        qtbot.waitUntil(lambda: bar.type_combo.view().isVisible(), timeout=5000)
        assert not bar.state_combo.view().isVisible() and bar.state_combo.currentIndex() == auto
        assert ids[2] in _listed(win) and len(_listed(win)) == 2  # the state chosen with Tab is applied
        qtbot.keyClick(bar.type_combo.view(), Qt.Key.Key_Tab)
        qtbot.waitUntil(lambda: bar.sort_combo.view().isVisible(), timeout=5000)
        qtbot.keyClick(bar.sort_combo.view(), Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
        qtbot.waitUntil(lambda: bar.type_combo.view().isVisible(), timeout=5000)
        bar.type_combo.hidePopup()
        qtbot.mouseClick(bar.clear_btn, Qt.MouseButton.LeftButton)
    finally:
        win.close()


def test_a_new_order_shows_the_image_on_screen_in_the_middle_of_the_list(qtbot, engine, rejudge_bundle, tmp_path,
                                                                         monkeypatch):
    """Least confident first kept the image on screen at the list's bottom edge (seen under Xvfb): the next rows
    of the new order were out of sight. It is scrolled to the middle now."""
    folder = tmp_path / "batch"
    for i in range(30):
        write_image(folder / f"img_{i:02d}.png", size=(96, 80), seed=i)
    win = open_window(qtbot, engine, rejudge_bundle, tmp_path, monkeypatch)
    try:
        with qtbot.waitSignal(win.allPredicted, timeout=120_000):
            win.open_folder(folder)
        conf = sorted((it.prediction.confidence, it.image.image_id) for it in win.items)
        middle = conf[len(conf) // 2][1]  # in the middle of the new order: it can be centred
        win.select(win.presenter.row_of(middle))
        view = win.list_view
        assert view.verticalScrollBar().maximum() > 0  # the list is longer than its pane
        bar = win.list_filter
        bar.set_value(bar.value().__class__(sort="confidence"))
        bar.changed.emit(bar.value())
        assert win.current_image_id == middle
        rect = view.visualRect(win.list_model.index(win.list_model.row_of(middle)))
        height = view.viewport().height()
        assert height / 4 < rect.center().y() < 3 * height / 4, (rect, height)
    finally:
        win.close()


def _three_level_bar(qtbot):
    """The list's filter bar, shown, over a group, a subgroup and a leaf with a long name."""
    from app.ui.list_filter import ListFilterBar

    types = [("foreign", "Foreign matter", 23), ("residues", "Residues and stains", 8),
             ("pi_residue", "PI (polyimide) residue", 2)]
    bar = ListFilterBar(lambda: types, lambda node: {"foreign": 0, "residues": 1}.get(node, 2))
    qtbot.addWidget(bar)
    bar.resize(280, 60)
    bar.show()
    qtbot.waitExposed(bar)
    return bar


def test_the_type_menu_is_wide_enough_for_its_longest_indented_name(qtbot) -> None:
    """It cut "PI (polyimi…residue (2)": Qt sized the open menu by the names without their indent."""
    from PySide6.QtWidgets import QStyleOptionViewItem

    from app.ui.list_filter import INDENT_PX

    combo = _three_level_bar(qtbot).type_combo
    combo.showPopup()
    try:
        view = combo.view()
        row = next(i for i in range(combo.count()) if combo.itemData(i) == "pi_residue")
        text = combo.itemText(row)
        needed = view.fontMetrics().horizontalAdvance(text) + 2 * INDENT_PX
        assert view.width() >= needed, (view.width(), needed)
        hint = combo.itemDelegate().sizeHint(QStyleOptionViewItem(), combo.model().index(row, 0))
        assert view.viewport().width() >= hint.width()
    finally:
        combo.hidePopup()


def test_the_closed_type_menu_elides_a_long_name_and_keeps_its_count(qtbot) -> None:
    """It was cut at the menu's edge: "Particle organic (3" (Chinese walk-through)."""
    from PySide6.QtGui import QFontMetrics

    from app.ui.list_filter import elide_keeping_count

    metrics = QFontMetrics(QApplication.font())
    assert elide_keeping_count("Crack (12)", metrics, 400) == "Crack (12)"
    short = elide_keeping_count("Particle organic residue (1,234)", metrics, 90)
    assert short.endswith("… (1,234)") and short.startswith("Par") and metrics.horizontalAdvance(short) <= 90
    assert elide_keeping_count("All types of the whole tree", metrics, 60).endswith("…")  # no count: elided
    combo = _three_level_bar(qtbot).type_combo
    combo.resize(90, combo.height())
    combo.showPopup()  # (its items are made when it opens)
    combo.hidePopup()
    row = next(i for i in range(combo.count()) if combo.itemData(i) == "pi_residue")
    combo.setCurrentIndex(row)
    combo.grab()  # (paints it: the elided label draws without error)


def test_a_type_chosen_in_the_open_menu_with_enter_is_applied(qtbot) -> None:
    """Enter (or a click) on a type in the open menu did nothing: the focus coming back from the menu made its items
    again, and the choice went with them; only Tab applied it (walk-through)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    bar = _three_level_bar(qtbot)
    chosen = []
    bar.changed.connect(chosen.append)
    combo = bar.type_combo
    combo.setFocus()
    QApplication.processEvents()
    combo.showPopup()
    QApplication.processEvents()
    qtbot.keyClick(combo.view(), Qt.Key.Key_Down)
    qtbot.keyClick(combo.view(), Qt.Key.Key_Down)
    qtbot.keyClick(combo.view(), Qt.Key.Key_Return)
    QApplication.processEvents()
    assert combo.currentData() == "residues" and chosen and chosen[-1].node == "residues"
