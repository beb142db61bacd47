"""The re-judge queue's filter bar (a mixin of :class:`app.ui.queue_view.QueueView`): the reason, predicted type,
batch, waiting time, confidence, sort, state, analyst and grouping menus, what they make of
:class:`app.services.queue.QueueFilters`, and how page counts fill them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QSpinBox

from app.services.queue import (
    QUEUE_REASONS,
    QUEUE_SORTS,
    QUEUE_STATES,
    QueueFilters,
    QueuePage,
    node_order_in_tree,
)
from app.ui.flow_layout import FlowLayout, pair
from app.ui.queue_model import QueueTableModel
from app.ui.style import reason_label


class QueueFilterBar:
    """Expects the view's ``model``, ``table``, ``taxonomy``, ``lang``, ``model_version``, ``_leaf_name``,
    ``_batches``, ``_order``, ``_order_for``, ``refresh`` and ``_show_counts``."""

    def _build_filters(self) -> tuple[FlowLayout, FlowLayout]:
        """The filter widgets, in two rows of the window."""
        self.reason_combo = QComboBox(self)
        self.leaf_combo = QComboBox(self)
        self.batch_combo = QComboBox(self)
        self.sort_combo = QComboBox(self)
        for combo in (self.reason_combo, self.leaf_combo, self.batch_combo):
            # A width of their own, not their items': the counts arriving a moment after the rows widened them, and
            # every filter right of them jumped under the pointer. Their lists open as wide as their items.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(20)
        self.reason_combo.addItem(QCoreApplication.translate("Queue", "All reasons"), None)
        for code in QUEUE_REASONS:
            self.reason_combo.addItem(reason_label(code), code)
        self.leaf_combo.addItem(QCoreApplication.translate("Queue", "All predicted types"), None)
        self.batch_combo.addItem(QCoreApplication.translate("Queue", "All batches"), None)
        sort_names = {
            "confidence": QCoreApplication.translate("Queue", "Confidence"),
            "age": QCoreApplication.translate("Queue", "Waiting longest"),
            "leaf": QCoreApplication.translate("Queue", "Predicted type"),
            "batch": QCoreApplication.translate("Queue", "Batch"),
            "reason": QCoreApplication.translate("Queue", "Reason"),
        }
        for key in QUEUE_SORTS:
            if key in sort_names:  # "determined" is reached through the Group menu
                self.sort_combo.addItem(sort_names[key], key)
        self.reverse_box = QCheckBox(QCoreApplication.translate("Queue", "Re&verse"), self)
        self.min_conf = QSpinBox(self)
        self.max_conf = QSpinBox(self)
        for spin, value in ((self.min_conf, 0), (self.max_conf, 100)):
            spin.setRange(0, 100)
            spin.setSuffix("%")
            spin.setValue(value)
            spin.setKeyboardTracking(False)
        self.state_combo = QComboBox(self)
        for text, states in (
            (QCoreApplication.translate("Queue", "Waiting to be judged"), ("rejudge",)),
            (QCoreApplication.translate("Queue", "Judged"), ("accepted", "corrected", "unknown")),
            (QCoreApplication.translate("Queue", "Accepted"), ("accepted",)),
            (QCoreApplication.translate("Queue", "Corrected"), ("corrected",)),
            (QCoreApplication.translate("Queue", "Unknown / new type"), ("unknown",)),
            (QCoreApplication.translate("Queue", "Waiting or judged"), QUEUE_STATES),
        ):
            self.state_combo.addItem(text, states)
        self.age_combo = QComboBox(self)
        for text, hours in ((QCoreApplication.translate("Queue", "Any time"), None),
                            (QCoreApplication.translate("Queue", "Over 1 hour"), 1),
                            (QCoreApplication.translate("Queue", "Over 1 day"), 24),
                            (QCoreApplication.translate("Queue", "Over 1 week"), 24 * 7)):
            self.age_combo.addItem(text, hours)
        self.analyst_combo = QComboBox(self)
        self.analyst_combo.addItem(QCoreApplication.translate("Queue", "All analysts"), None)
        self.analyst_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.group_combo = QComboBox(self)
        self.group_combo.addItem(QCoreApplication.translate("Queue", "No grouping"), None)
        self.group_combo.addItem(QCoreApplication.translate("Queue", "Predicted type"), "leaf")
        self.group_combo.addItem(QCoreApplication.translate("Queue", "Determined node"), "determined")
        self.group_combo.setToolTip(QCoreApplication.translate(
            "Queue", "Determined node: the deepest group or subgroup the model is sure of at the target purity; "
                     "a group's images can be judged together (click its heading, then C)"))

        # two rows of filters that wrap in a narrow window (app.ui.flow_layout), each label beside its box
        bar = FlowLayout(spacing=12)
        for text, widget in (
            (QCoreApplication.translate("Queue", "&Reason:"), self.reason_combo),
            (QCoreApplication.translate("Queue", "&Predicted:"), self.leaf_combo),
            (QCoreApplication.translate("Queue", "&Batch:"), self.batch_combo),
            (QCoreApplication.translate("Queue", "&Waiting:"), self.age_combo),
            (QCoreApplication.translate("Queue", "Con&fidence:"), self.min_conf),
        ):
            label = QLabel(text, self)
            label.setBuddy(widget)
            extra = (QLabel("–", self), self.max_conf) if widget is self.min_conf else ()
            bar.addWidget(pair(self, label, widget, *extra))
        bar2 = FlowLayout(spacing=12)
        sort_label = QLabel(QCoreApplication.translate("Queue", "&Sort:"), self)
        sort_label.setBuddy(self.sort_combo)
        group_label = QLabel(QCoreApplication.translate("Queue", "&Group:"), self)
        group_label.setBuddy(self.group_combo)
        state_label = QLabel(QCoreApplication.translate("Queue", "Sta&te:"), self)
        state_label.setBuddy(self.state_combo)
        analyst_label = QLabel(QCoreApplication.translate("Queue", "&Analyst:"), self)
        analyst_label.setBuddy(self.analyst_combo)
        for widgets in ((sort_label, self.sort_combo, self.reverse_box), (state_label, self.state_combo),
                        (analyst_label, self.analyst_combo), (group_label, self.group_combo)):
            bar2.addWidget(pair(self, *widgets))
        # a choice made in an open menu, or Enter on a closed one, hands the keys back to the rows (Space on a
        # heading reopened the Group menu); arrows stepping through a closed menu's values stay in it (each step
        # sent the next arrow to the rows, and Esc then closed the queue; walk-through)
        self._menu_watch = _MenuWatch(lambda: self.active_view().setFocus(), self)
        for combo in (self.reason_combo, self.leaf_combo, self.batch_combo, self.age_combo, self.sort_combo,
                      self.state_combo, self.analyst_combo, self.group_combo):
            self._menu_watch.watch(combo)
        return bar, bar2

    def _state_changed(self) -> None:
        """Only decisions have an analyst: the analyst filter is off while the list shows waiting images only."""
        waiting = self.state_combo.currentData() == ("rejudge",)
        self.analyst_combo.setEnabled(not waiting)
        self.model.waiting_only = waiting
        self.model.judged_only = "rejudge" not in (self.state_combo.currentData() or ("rejudge",))
        if waiting and self.analyst_combo.currentIndex() != 0:
            self.analyst_combo.blockSignals(True)
            self.analyst_combo.setCurrentIndex(0)
            self.analyst_combo.blockSignals(False)

    def grouping(self) -> str | None:
        """What grouped mode groups by (``leaf``, ``determined``), or None."""
        return self.group_combo.currentData()

    def filters(self) -> QueueFilters | None:
        """The filters as the bar shows them; None without a model version."""
        if not self.model_version:
            return None
        low, high = self.min_conf.value(), self.max_conf.value()
        chosen = self.leaf_combo.currentData()  # a leaf, or a group or subgroup: every type under it
        under = self._leaves_under(chosen) if chosen is not None and self._is_node(chosen) else None
        reason = self.reason_combo.currentData()
        return QueueFilters(
            model_version=self.model_version,
            reasons=(reason,) if reason else None,
            leaf=None if under is not None else chosen,
            leaves=under,
            batch_id=self.batch_combo.currentData(),
            min_conf=low / 100 if low > 0 else None,
            older_than=_cutoff(self.age_combo.currentData()),
            max_conf=high / 100 if high < 100 else None,
            states=self.state_combo.currentData(),
            analyst=self.analyst_combo.currentData(),
            node_order=self._node_order(),
            sort=self.grouping() or self.sort_combo.currentData(),
            descending=self.reverse_box.isChecked() and not self.grouping(),
        )

    def _node_order(self) -> tuple[str, ...] | None:
        """Leaf and node ids in the tree's order (:func:`app.services.queue.node_order_in_tree`)."""
        if self.taxonomy is None or (self.sort_combo.currentData() != "leaf" and not self.grouping()):
            return None
        if self._order_for is not self.taxonomy:
            self._order = node_order_in_tree(self.taxonomy)
            self._order_for = self.taxonomy
        return self._order

    def _fill_combos(self, page: QueuePage) -> None:
        """Facet counts into the reason and leaf menus, the batch list into its menu; keep the choices."""
        for i in range(1, self.reason_combo.count()):
            code = self.reason_combo.itemData(i)
            self.reason_combo.setItemText(i, f"{reason_label(code)} ({page.counts_by_reason.get(code, 0)})")
        chosen_leaf, chosen_batch = self.leaf_combo.currentData(), self.batch_combo.currentData()
        for combo in (self.leaf_combo, self.batch_combo):
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
        counts = page.counts_by_leaf
        for level in self.taxonomy.levels[:-1] if self.taxonomy is not None else ():
            for node in dict.fromkeys(level):  # groups and subgroups, in tree order, before the types
                n = sum(counts.get(lf, 0) for lf in self._leaves_under(node)) if self._is_node(node) else 0
                if n or (node == chosen_leaf and self._is_node(node)):
                    self.leaf_combo.addItem(QCoreApplication.translate("Queue", "{name} — every type ({n})").format(
                        name=self._leaf_name(node), n=n), node)
        leaves = sorted(counts.items(), key=lambda kv: (-kv[1], self._leaf_name(kv[0])))
        if chosen_leaf is not None and chosen_leaf not in counts and not self._is_node(chosen_leaf):
            leaves.append((chosen_leaf, 0))
        for leaf, n in leaves:
            if leaf is not None:
                self.leaf_combo.addItem(f"{self._leaf_name(leaf)} ({n})", leaf)
        for batch_id, name, created in self._batches:  # the date tells two batches of one name apart
            self.batch_combo.addItem(f"{name} · {created.astimezone():%Y-%m-%d}" if created else name, batch_id)
        for combo, chosen in ((self.leaf_combo, chosen_leaf), (self.batch_combo, chosen_batch)):
            combo.setCurrentIndex(max(0, combo.findData(chosen)) if chosen is not None else 0)
            combo.blockSignals(False)
        for combo in (self.reason_combo, self.leaf_combo, self.batch_combo):
            combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 24)

    def _is_node(self, node: str) -> bool:
        """A group or subgroup of the taxonomy (not a leaf)."""
        return self.taxonomy is not None and node in self.taxonomy and node not in self.taxonomy.leaves

    def _leaves_under(self, node: str) -> tuple[str, ...]:
        taxonomy = self.taxonomy
        if taxonomy is None:
            return ()
        if getattr(self, "_under_for", None) is not taxonomy:
            self._under_for, self._under = taxonomy, {}
        if node not in self._under:
            self._under[node] = tuple(lf for lf in taxonomy.leaves if node in taxonomy.path(lf))
        return self._under[node]

    def _fill_analysts(self, analysts: list[str]) -> None:
        chosen = self.analyst_combo.currentData()
        if [self.analyst_combo.itemData(i) for i in range(1, self.analyst_combo.count())] == analysts:
            return
        self.analyst_combo.blockSignals(True)
        while self.analyst_combo.count() > 1:
            self.analyst_combo.removeItem(1)
        for name in analysts:
            self.analyst_combo.addItem(name, name)
        self.analyst_combo.setCurrentIndex(max(0, self.analyst_combo.findData(chosen)) if chosen else 0)
        self.analyst_combo.blockSignals(False)

    def _sync_header(self, filters: QueueFilters) -> None:
        column = {v: k for k, v in QueueTableModel.SORT_BY_COLUMN.items()}.get(filters.sort, 1)
        order = Qt.SortOrder.DescendingOrder if filters.descending else Qt.SortOrder.AscendingOrder
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(column, order)
        header.blockSignals(False)
        self._apply_spans()
        self._show_counts()

    def _header_sort(self, column: int, order: Qt.SortOrder) -> None:
        key = QueueTableModel.SORT_BY_COLUMN.get(column)
        if key is None or self.grouping():
            filters = self.filters()
            if filters is not None:
                self._sync_header(filters)  # not a sortable column (or grouped): keep the indicator
            return
        self.sort_combo.blockSignals(True)
        self.reverse_box.blockSignals(True)
        self.sort_combo.setCurrentIndex(self.sort_combo.findData(key))
        self.reverse_box.setChecked(order == Qt.SortOrder.DescendingOrder)
        self.sort_combo.blockSignals(False)
        self.reverse_box.blockSignals(False)
        self.refresh()


def _cutoff(hours: int | None) -> dt.datetime | None:
    """The waiting filter as a fixed time, to the minute: the pages, the counts and an export made within one minute
    cut at the same time (a span would move between them)."""
    if not hours:
        return None
    return dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=hours)


class _MenuWatch(QObject):
    """Calls ``back`` when a watched combo box's choice is made in its open menu (its list hides just before
    ``activated``) or Enter is pressed on it closed."""

    def __init__(self, back: Callable[[], object], parent: QObject) -> None:
        super().__init__(parent)
        self._back = back
        self._combos: dict[QObject, QComboBox] = {}

    def watch(self, combo: QComboBox) -> None:
        combo.setProperty("menuChoice", False)
        # (after the turn: the closing menu gives the focus back to its box once this returns)
        combo.activated.connect(lambda _i, c=combo: c.property("menuChoice") and QTimer.singleShot(0, self, self._back))
        combo.installEventFilter(self)
        menu = combo.view().parentWidget() or combo.view()  # the list's popup window (made with the view)
        menu.installEventFilter(self)
        self._combos[menu] = combo

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Hide and (combo := self._combos.get(watched)) is not None:
            combo.setProperty("menuChoice", True)  # (a choice in the menu is activated now, in this same turn)
            QTimer.singleShot(0, combo, lambda c=combo: c.setProperty("menuChoice", False))
        elif (event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and isinstance(watched, QComboBox)
              and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)):
            event.accept()  # (the box's own: a window's Enter shortcut is not run from a filter)
            if event.type() == QEvent.Type.KeyPress:
                self._back()
            return True
        return False
