"""The batch list's filter bar: which states and which type of images the list shows, and in which order.

A thin view over :class:`app.services.batch_presenter.ListFilter`; the presenter applies it (and "next" then walks
the filtered list in its order). F (rebindable) opens the state menu; Tab goes on to the type and order menus;
choosing hands the keys back to the judging window.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionComboBox,
    QStyleOptionViewItem,
    QStylePainter,
    QVBoxLayout,
    QWidget,
)

from app.services.batch_presenter import LIST_SORTS, ListFilter


def _states() -> list[tuple[str, frozenset[str] | None]]:
    return [
        (QCoreApplication.translate("ListFilter", "All images"), None),
        (QCoreApplication.translate("ListFilter", "Waiting for a person"), frozenset({"pending", "rejudge"})),
        (QCoreApplication.translate("ListFilter", "Sent to re-judge"), frozenset({"rejudge"})),
        (QCoreApplication.translate("ListFilter", "Auto-judged"), frozenset({"auto"})),
        (QCoreApplication.translate("ListFilter", "Judged by a person"), frozenset({"accepted", "corrected", "unknown"})),
        (QCoreApplication.translate("ListFilter", "Corrected"), frozenset({"corrected"})),
        (QCoreApplication.translate("ListFilter", "Unknown / new type"), frozenset({"unknown"})),
        (QCoreApplication.translate("ListFilter", "Cannot be read"), frozenset({"error"})),
    ]


def _index(combo: QComboBox, data: object) -> int | None:
    """The item holding ``data`` (compared in Python: Qt's findData does not compare frozensets), or None."""
    return next((i for i in range(combo.count()) if combo.itemData(i) == data), None)


DEPTH_ROLE = Qt.ItemDataRole.UserRole + 1
"""A type menu item's depth in the tree (0: a group): the menu indents it by that much."""
INDENT_PX = 14


class _IndentDelegate(QStyledItemDelegate):
    """Draws a type menu item indented by its depth. The indent is not in the item's text: typing a name in the
    menu finds it (Qt matches the text's start: with leading spaces only the groups were found), and the closed
    menu shows the name, not spaces that pushed its count out of sight."""

    def paint(self, painter, option: QStyleOptionViewItem, index) -> None:
        shifted = QStyleOptionViewItem(option)
        shifted.rect = option.rect.adjusted(INDENT_PX * int(index.data(DEPTH_ROLE) or 0), 0, 0, 0)
        super().paint(painter, shifted, index)

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width() + INDENT_PX * int(index.data(DEPTH_ROLE) or 0), size.height())


def elide_keeping_count(text: str, metrics: QFontMetrics, width: int) -> str:
    """``text`` in at most ``width`` pixels: a trailing count ("… (12)") is kept whole and the name before it
    elided."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    name, sep, count = text.rpartition(" (")
    if not sep or not count.endswith(")") or not count[:-1].replace(",", "").isdigit():
        return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
    tail = f" ({count}"
    return metrics.elidedText(name, Qt.TextElideMode.ElideRight, max(0, width - metrics.horizontalAdvance(tail))) + tail


class _TypeCombo(QComboBox):
    """Its items are made when it opens or takes the focus (the batch's types change as predictions arrive)."""

    def __init__(self, refill: Callable[[], None], parent=None) -> None:
        super().__init__(parent)
        self._refill = refill
        self.setItemDelegate(_IndentDelegate(self))

    def showPopup(self) -> None:
        self._refill()
        # as wide as its widest item with that item's indent: Qt measured the names without it and cut the longest
        # ("PI (polyimi…residue (2)")
        view = self.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + 2 * view.frameWidth()
                             + view.verticalScrollBar().sizeHint().width() + INDENT_PX)
        super().showPopup()

    def paintEvent(self, _event) -> None:
        """Closed, a long type's name is elided and its count kept ("Particle org… (3)"): the text was cut at the
        menu's edge ("Particle organic (3")."""
        painter = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        opt.currentText = elide_keeping_count(opt.currentText, self.fontMetrics(), field.width() - 4)
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)

    def focusInEvent(self, event) -> None:
        if event.reason() != Qt.FocusReason.PopupFocusReason:  # (back from its own open menu: the items stay, or
            self._refill()  # the choice made in it, by Enter or a click, was lost as they were made again)
        # a name typed with the menu closed (it opens) finds the batch's types as they are now
        super().focusInEvent(event)


class ListFilterBar(QWidget):
    """State, type and order menus over the batch list.

    Args:
        types: returns ``(node id, name, images)`` of the open batch's types, in tree order
            (:meth:`app.services.batch_presenter.BatchPresenter.list_types`).
        depth: returns a node's depth (0: a group), to indent the type menu.

    Signals:
        changed(ListFilter): the analyst chose another filter or order.
        done(): a menu was closed: the judging window takes the keys back.
    """

    changed = Signal(object)
    done = Signal()

    def __init__(self, types: Callable[[], list[tuple[str, str, int]]], depth: Callable[[str], int],
                 parent=None) -> None:
        super().__init__(parent)
        self._types, self._depth = types, depth
        self.state_combo = QComboBox(self)
        for text, states in _states():
            self.state_combo.addItem(text, states)
        self.type_combo = _TypeCombo(self._fill_types, self)
        self.type_combo.addItem(QCoreApplication.translate("ListFilter", "All types"), None)
        self.sort_combo = QComboBox(self)
        sorts = {"order": QCoreApplication.translate("ListFilter", "Batch order"),
                 "confidence": QCoreApplication.translate("ListFilter", "Least confident first"),
                 "type": QCoreApplication.translate("ListFilter", "By type")}
        for key in LIST_SORTS:
            self.sort_combo.addItem(sorts[key], key)
        self.clear_btn = QPushButton(QCoreApplication.translate("ListFilter", "Show all"), self)
        self.clear_btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.clear_btn.clicked.connect(self.clear)
        self.count_label = QLabel(self)
        self.count_label.setStyleSheet("color: #9aa0a6; font-size: 11px; padding-left: 4px;")  # (it touched the edge)
        grid = QGridLayout()
        grid.setContentsMargins(4, 4, 4, 2)
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(3)
        grid.addWidget(self.state_combo, 0, 0)
        grid.addWidget(self.type_combo, 0, 1)
        grid.addWidget(self.sort_combo, 1, 0)
        grid.addWidget(self.clear_btn, 1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(grid)
        layout.addWidget(self.count_label)
        for combo in (self.state_combo, self.type_combo, self.sort_combo):
            combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
            combo.activated.connect(lambda _i: (self.changed.emit(self.value()), self.done.emit()))
            combo.installEventFilter(self)
            combo.view().installEventFilter(self)  # (an open menu's keys go to its list)
        self.show_count(0, 0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Tab and Shift+Tab go from menu to menu (state, type, order, round), each opened: the one left keeps
        the item highlighted in it, as Enter would, but the keys stay in the menus. (The menus take no Tab focus
        of their own, which kept Tab inside the judging window.)"""
        if event.type() == QEvent.Type.KeyPress and event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
            combos = (self.state_combo, self.type_combo, self.sort_combo)
            at = next((i for i, c in enumerate(combos) if watched is c or watched is c.view()), None)
            if at is not None:
                combo = combos[at]
                if combo.view().isVisible():
                    row = combo.view().currentIndex().row()
                    combo.hidePopup()
                    if row >= 0 and row != combo.currentIndex():
                        combo.setCurrentIndex(row)
                        self.changed.emit(self.value())
                back = event.key() == Qt.Key.Key_Backtab or bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
                nxt = combos[(at + (-1 if back else 1)) % len(combos)]
                nxt.setFocus(Qt.FocusReason.TabFocusReason)
                nxt.showPopup()
                return True
        if (event.type() == QEvent.Type.KeyPress and watched in (self.state_combo, self.type_combo, self.sort_combo)
                and event.text().strip() and event.text().isprintable()
                and not event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)):
            # a name typed into a closed menu: the menu opens and finds it there. Closed, Qt chose the first letter's
            # item at once, the choice gave the keys back to the judging window, and the next letters judged the
            # image on screen ("Dust": D filtered, u marked it unknown)
            if not watched.view().isVisible():
                watched.showPopup()
            watched.view().keyboardSearch(event.text())
            return True
        return super().eventFilter(watched, event)

    def value(self) -> ListFilter:
        """The filter as the menus show it."""
        return ListFilter(states=self.state_combo.currentData(), node=self.type_combo.currentData(),
                          sort=self.sort_combo.currentData())

    def set_value(self, value: ListFilter) -> None:
        """Show ``value`` in the menus (emits nothing)."""
        if value.node is not None and _index(self.type_combo, value.node) is None:
            self.type_combo.addItem(value.node, value.node)
        for combo, data in ((self.state_combo, value.states), (self.type_combo, value.node),
                            (self.sort_combo, value.sort)):
            combo.setCurrentIndex(_index(combo, data) or 0)

    def clear(self) -> None:
        """Every image, in the batch's order."""
        self.set_value(ListFilter())
        self.changed.emit(self.value())
        self.done.emit()

    def open_menu(self) -> None:
        """F: the state menu opens (Tab goes on to the type and order menus)."""
        self.state_combo.setFocus()
        self.state_combo.showPopup()

    def show_count(self, listed: int, total: int) -> None:
        """"12 of 500 images listed" while a filter is on; nothing otherwise."""
        active = self.value().active
        self.clear_btn.setEnabled(active)
        self.count_label.setText(QCoreApplication.translate("ListFilter", "{n} of {m} images listed").format(
            n=f"{listed:,}", m=f"{total:,}") if active else "")
        self.count_label.setVisible(active)

    def _fill_types(self) -> None:
        chosen = self.type_combo.currentData()
        self.type_combo.blockSignals(True)
        while self.type_combo.count() > 1:
            self.type_combo.removeItem(1)
        for node, name, n in self._types():
            self.type_combo.addItem(f"{name} ({n})", node)
            self.type_combo.setItemData(self.type_combo.count() - 1, self._depth(node), DEPTH_ROLE)
        if chosen is not None and _index(self.type_combo, chosen) is None:
            self.type_combo.addItem(chosen, chosen)
        self.type_combo.setCurrentIndex(_index(self.type_combo, chosen) or 0)
        self.type_combo.blockSignals(False)
