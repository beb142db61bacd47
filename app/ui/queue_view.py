"""The re-judge queue view: every image the model sent back to a person, across batches, keyboard first.

A thin view over :class:`app.services.queue.QueueService`. Pages load on the thread pool (the table
fetches the next page when scrolled to its end); bulk judgments run on the UI thread, like every other
judgment, so a row shows as done only once it is committed.

Keys (with the table focused): Enter accepts the selection, 1 to 5 judge the one selected image as that type of
its Top-5 (numbered in the detail pane), C relabels it with the taxonomy picker (scoped to
the node the model determined when the selection shares one), U judges it "unknown / new defect type", Space on a group heading (or a click) selects
the group's images, Ctrl+Down and Ctrl+Up go to the next and the previous group heading, O or double-click opens the current image, Ctrl+A selects every loaded row, Ctrl+Z undoes the last bulk
action, F5 reloads, Ctrl+E exports, Esc closes the window. The filters are reached with Tab or their Alt+letter mnemonics.

The rows, their texts and colours are the item model's (:mod:`app.ui.queue_model`); the window's look is
:data:`app.ui.style.WINDOW_STYLE`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QItemSelectionModel, QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.services.note_drafts import NoteDrafts
from app.services.queue import (
    QueueFilters,
    QueuePage,
    QueueRow,
    QueueService,
)
from app.ui.flow_layout import FlowLayout, WrapLabel
from app.ui.help_overlay import HelpOverlay, queue_rows
from app.ui.queue_actions import QueueActions, QueueTable
from app.ui.queue_filters import QueueFilterBar
from app.ui.queue_gallery import QUEUE_ONCE, KeysToRows, QueueDetailPane, QueueGallery, jump_after_page
from app.ui.queue_model import COLUMN_WIDTHS, STATE_ROOM, GroupRow, QueueTableModel
from app.ui.repeat_guard import RepeatGuard
from app.ui.style import WINDOW_STYLE, dropped_keys_text, store_line, window_shortcuts
from app.ui.workers import Task, TaskRunner
from models.taxonomy import Taxonomy

PAGE_SIZE = 200
TYPE_AHEAD = 10
"""Judging keys kept while the list reloads after the analyst's own judgment (a burst of Enters, one row each)."""
POLL_MS = 30_000  # while shown, the queue reloads this often (other analysts' judgments on a shared database)
CATCH_UP_MS = 5_000  # while this app's model stores predictions, the shown queue reloads at most this often



class MiddleElided(QStyledItemDelegate):
    """A column whose text is cut in its middle (a file name keeps its end: the number that tells it apart)."""

    def initStyleOption(self, option: QStyleOptionViewItem, index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle

class QueueView(QueueFilterBar, QueueActions, QWidget):
    """The cross-batch re-judge queue.

    Args:
        service: the queue service (store access).
        taxonomy: names for leaf ids and the relabel picker (None: ids are shown, relabel is off).
        lang: ``en`` or ``zh_TW`` for leaf names.
        model_version: whose routing to show (None until a model is loaded; see :meth:`set_model_version`).

    Signals:
        openImage(int image_id): the analyst wants to look at an image.
        judged(list): JudgmentRecords just committed by a bulk action or an undo.
        rowsShown(object): a first page's rows are shown (a QueuePage without counts: they come next).
        pageLoaded(object): a QueuePage is complete: a first page once its counts are shown too, or a next page.
    """

    openImage = Signal(int)
    judged = Signal(list)
    rowsShown = Signal(object)
    pageLoaded = Signal(object)

    def __init__(self, service: QueueService, *, taxonomy: Taxonomy | None = None, lang: str = "en",
                 model_version: str | None = None, note_drafts: NoteDrafts | None = None, parent=None) -> None:
        super().__init__(parent)
        self.service = service
        self.note_drafts = NoteDrafts() if note_drafts is None else note_drafts  # the main window's: one per image
        # where an export starts, and what it tells once written (the main window's: its settings' export folder)
        self.export_folder: Callable[[], Path | None] = lambda: None
        self.export_done: Callable[[Path], None] = lambda _folder: None
        self.taxonomy = taxonomy
        self.lang = lang
        self.model_version = model_version
        self.pool = QThreadPool.globalInstance()
        self._runner = TaskRunner(self.pool)
        self._request = 0
        self._reselect: set[int] | None = None  # the images the next first page selects (an undo's)
        # a judging key pressed while the list reloads after the analyst's own judgment: answered on the rows it
        # brings (three Enters 40 ms apart accepted two images and refused the third as "judged meanwhile (by
        # ana)", the analyst's own judgment: walk-through)
        self._after_own = False
        self._own_judged: set[int] = set()  # (the images of that judgment: a key on other rows is answered at once)
        self._typed_ahead: deque[str] = deque(maxlen=TYPE_AHEAD)
        self._load_error: str | None = None  # what the status line says of the last load that failed
        self._batches: list[tuple[int, str, object]] = []
        self._order: tuple[str, ...] = ()
        self._order_for: Taxonomy | None = None  # the tree _order was made from (the names play no part now)
        # a held Enter, digit, C or U judges once (it accepted row after row, unseen)
        self._once = RepeatGuard(self, lambda: QUEUE_ONCE)
        self._soon = QTimer(self)  # one reload for a burst of judgments made in the main window
        self._soon.setSingleShot(True)
        self._soon.setInterval(250)
        self._soon.timeout.connect(lambda: self.refresh(quiet=True))
        self._poll = QTimer(self)  # judgments of other workstations on a shared database
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._poll_tick)
        self._catch_up = QTimer(self)  # predictions stored by this app: their queued images show within CATCH_UP_MS
        self._catch_up.setSingleShot(True)
        self._catch_up.setInterval(CATCH_UP_MS)
        self._catch_up.timeout.connect(self._poll_tick)
        self._build()
        self.model.leaf_name = self._leaf_name
        self.model.is_leaf = lambda node: self.taxonomy is not None and node in self.taxonomy.leaves
        self._update_buttons()

    # -- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        bar, bar2 = self._build_filters()

        self.model = QueueTableModel(self)
        self.model.moreWanted.connect(self._load_more)
        self.table = QueueTable(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.setWordWrap(False)
        # file names cut in the middle, as the judging list does: "particle_organic_00…" four times over looked
        # alike, the numbers that tell them apart cut away (walk-through at 1366 x 768); the rest at their end
        self.table.setItemDelegateForColumn(QueueTableModel.COLUMNS.index("file"), MiddleElided(self.table))
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(2, Qt.SortOrder.AscendingOrder)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # the stretched state column never narrower than its width before the stretch: Qt's default, 100 px, where
        # the fitted columns left it 89 (1366 x 768 at 125 %), and the table scrolled sideways by 11 px
        header.resizeSection(len(COLUMN_WIDTHS), STATE_ROOM // 2)
        header.setStretchLastSection(True)
        header.sortIndicatorChanged.connect(self._header_sort)
        self.gallery = QueueGallery(self)
        self.gallery.setModel(self.model)
        self.gallery.setSelectionModel(self.table.selectionModel())  # one selection, whichever view shows it
        self.gallery.delegate.leaf_name = self._leaf_name
        self.gallery.delegate.group_title = self.model.group_title
        for view in (self.table, self.gallery):
            view.action.connect(self._key_action)
            view.clicked.connect(lambda idx: self._select_group(idx.row())
                                 if isinstance(idx.data(QueueTableModel.RowRole), GroupRow) else None)
            view.doubleClicked.connect(lambda _idx: self._open_current())
        self._refused_on: tuple[frozenset[int], str] | None = None  # the status line says a key judged nothing on these
        self.table.selectionModel().selectionChanged.connect(lambda *_: (self._update_buttons(),
                                                                         self._selection_moved()))
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.gallery)
        self.detail = QueueDetailPane(self.service, self._runner, self)
        self.detail.imageTried.connect(self._update_buttons)
        self.detail.leaf_name = self._leaf_name
        self.detail.leaf_parents = self._leaf_parents
        self._keys_to_rows = KeysToRows(self.active_view, self)
        for part in (self.detail.text_area, self.detail.viewer):
            part.installEventFilter(self._keys_to_rows)
        self.table.selectionModel().currentChanged.connect(
            lambda idx, _prev: (self.model.set_current(idx.row()), self.detail.show_row(self.model.queue_row(idx.row()))))
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)

        self.accept_btn = QPushButton(QCoreApplication.translate("Queue", "Accept selected  (Enter)"), self)
        self.accept_btn.setStyleSheet("QPushButton { background: #1e8e3e; color: white; font-weight: bold; }"
                                      "QPushButton:disabled { background: #5f6368; color: #bdc1c6; }")
        self.relabel_btn = QPushButton(QCoreApplication.translate("Queue", "Relabel selected…  (C)"), self)
        self.unknown_btn = QPushButton(QCoreApplication.translate("Queue", "Unknown / new type  (U)"), self)
        self.note_btn = QPushButton(QCoreApplication.translate("Queue", "Note…  (N)"), self)
        self.gallery_btn = QPushButton(QCoreApplication.translate("Queue", "Gallery  (Ctrl+G)"), self)
        self.gallery_btn.setCheckable(True)
        self.gallery_btn.setStyleSheet("QPushButton:checked { background: #394457; border: 1px solid #8ab4f8; }")
        # (pressed in, the gallery shows: it looked the same both ways, walk-through)
        self.gallery_btn.toggled.connect(self.set_gallery)
        bar2.addWidget(self.gallery_btn)
        self.undo_btn = QPushButton(QCoreApplication.translate("Queue", "Undo last  (Ctrl+Z)"), self)
        self.export_btn = QPushButton(QCoreApplication.translate("Queue", "Export queue…"), self)
        self.refresh_btn = QPushButton(QCoreApplication.translate("Queue", "Reload  (F5)"), self)
        for b in (self.accept_btn, self.relabel_btn, self.unknown_btn, self.note_btn, self.undo_btn,
                  self.export_btn, self.refresh_btn, self.gallery_btn):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.note_btn.clicked.connect(self.note_selected)
        self.accept_btn.clicked.connect(self.accept_selected)
        self.relabel_btn.clicked.connect(self.relabel_selected)
        self.unknown_btn.clicked.connect(self.unknown_selected)
        self.undo_btn.clicked.connect(self.undo_last)
        self.export_btn.clicked.connect(self.export_queue)
        self.refresh_btn.clicked.connect(self.refresh)
        self.counts_label = WrapLabel(self)  # one line where there is room
        self.counts_label.setStyleSheet("font-weight: bold;")
        self.status_label = QLabel(self)
        self.status_label.setStyleSheet("color: #9aa0a6;")
        # a long message wraps: it never widens the window (past the screen's edge)
        self.status_label.setWordWrap(True)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # the counts and the buttons wrap in a narrow window (app.ui.flow_layout): in one row they made the
        # window at least 1365 pixels wide
        buttons = QWidget(self)
        flow = FlowLayout(buttons, right=True)
        for b in (self.accept_btn, self.relabel_btn, self.unknown_btn, self.note_btn, self.undo_btn,
                  self.export_btn, self.refresh_btn):
            flow.addWidget(b)
        # the counts beside what the last key did, over the buttons: beside the buttons, at 1366 x 768 and 125 %
        # they had 130 pixels and took three lines (analyst's walk-through)
        said = QHBoxLayout()
        said.addWidget(self.counts_label, 0)
        said.addSpacing(16)
        said.addWidget(self.status_label, 1)

        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(WINDOW_STYLE)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(bar2)
        layout.addWidget(self.splitter, 1)
        # what the last key did, on a row of its own over the buttons: beside them, the buttons took the whole width
        # of a window narrower than about 1,300 px and "Accepted 1 image" was never seen
        layout.addLayout(said)
        layout.addWidget(buttons)
        # Tab as the screen reads: the filters row by row, the rows, the details (Waiting came after State, and the
        # details before the filters: walk-through); the buttons take no focus (the keys are the rows')
        order = [self.reason_combo, self.leaf_combo, self.batch_combo, self.age_combo, self.min_conf, self.max_conf,
                 self.sort_combo, self.reverse_box, self.state_combo, self.analyst_combo, self.group_combo,
                 self.table, self.gallery, self.detail.text_area]
        for first, second in pairwise(order):
            QWidget.setTabOrder(first, second)

        for combo in (self.reason_combo, self.leaf_combo, self.batch_combo, self.sort_combo, self.group_combo,
                      self.state_combo, self.analyst_combo, self.age_combo):
            combo.currentIndexChanged.connect(lambda _i: (self._forget_said(), self.refresh()))
        self.reverse_box.toggled.connect(lambda _on: self.refresh())
        self.group_combo.currentIndexChanged.connect(lambda _i: (self.sort_combo.setEnabled(not self.grouping()),
                                                                 self.reverse_box.setEnabled(not self.grouping())))
        self.state_combo.currentIndexChanged.connect(self._state_changed)
        self._state_changed()
        for spin in (self.min_conf, self.max_conf):
            spin.valueChanged.connect(lambda _v: self.refresh())
        self.setWindowTitle(QCoreApplication.translate("Queue", "Re-judge queue — fma-judge"))
        self.help: HelpOverlay | None = None  # F1 or ?: the queue's keys (they were listed nowhere)
        window_shortcuts(self, [("F5", self.refresh), ("Ctrl+Z", self.undo_last), ("Ctrl+E", self.export_queue),
                                ("Ctrl+G", self.gallery_btn.toggle), ("F1", self._toggle_help),
                                ("?", self._toggle_help)], rows=self.active_view)

    def _toggle_help(self) -> None:
        """Show or hide the queue's keys over the window the queue is in now (made when first asked: the view
        becomes its own window after it is made, and an overlay made at once covered the judging window)."""
        if self.help is None or self.help.parentWidget() is not self.window():
            if self.help is not None:
                self.help.deleteLater()
            self.help = HelpOverlay(self, rows=queue_rows())
            self.help.closed.connect(lambda: self.active_view().setFocus())
        self.help.toggle()

    def sizeHint(self) -> QSize:
        """Wide enough for every column, the scroll bar and the detail pane (the table's own hint is narrower)."""
        columns = sum(COLUMN_WIDTHS) + STATE_ROOM  # the columns at ease, and the stretched state column
        margins = self.layout().contentsMargins()
        return QSize(columns + self.table.verticalScrollBar().sizeHint().width() + margins.left() + margins.right()
                     + 2 * self.table.frameWidth() + 360, 760)

    def active_view(self) -> QAbstractItemView:
        """The table or the gallery, whichever is shown (they share one model and one selection)."""
        return self.stack.currentWidget()

    def set_gallery(self, on: bool) -> None:
        """Show the queue as a gallery of thumbnails (True) or as the table (Ctrl+G switches)."""
        current = self.table.currentIndex()
        self.stack.setCurrentWidget(self.gallery if on else self.table)
        if self.gallery_btn.isChecked() != on:
            self.gallery_btn.setChecked(on)
        if current.isValid():
            self.active_view().scrollTo(current)
        self.active_view().setFocus()

    def refresh_soon(self) -> None:
        """Reload shortly (judgments were made elsewhere in this app; a burst of them reloads once)."""
        self._soon.start()

    def predictions_stored(self, *_chunk) -> None:
        """This app's model stored a chunk of predictions (some may be queued): reload within :data:`CATCH_UP_MS`,
        and no more often while the chunks go on (a batch predicts several a second); as the poll, only while the
        first page is what is loaded. Before, the queued images of a batch being predicted showed at the next 30-s
        poll."""
        if self.isVisible() and not self._catch_up.isActive():
            self._catch_up.start()

    def keys_dropped(self, n: int, wait: float) -> None:
        """Keys pressed while the app could not answer were not used (:mod:`app.ui.stale_keys`): said here when
        they were this window's."""
        if self.isActiveWindow():
            self.status_label.setText(dropped_keys_text(n, wait))

    def _poll_tick(self) -> None:
        """The periodic reload, only while the first page is what is loaded (a reload shows the first page again:
        it must not pull an analyst who scrolled further back to the top)."""
        if self.model.loaded <= PAGE_SIZE:
            self.refresh(quiet=True)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.counts_label.setMaximumWidth(max(200, self.width() * 9 // 20))  # the rest of its row: what a key did

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._poll.start()
        self.active_view().setFocus()  # the keys (arrows, Enter, C, U) go to the images, not to a filter box

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self._poll.stop()
        self._catch_up.stop()
        self._forget_said()
        if self.help is not None:  # (left up, it came back with the queue, the keys acting on rows under it)
            self.help.hide()

    def _forget_said(self) -> None:
        """What the last key did is said no more: the window closed (it came back with the queue reopened), or the
        list shows other rows now (walk-through); a load's failure stays said until a load works."""
        if self.status_label.text() != self._load_error:
            self.status_label.setText("")
            self._refused_on = None

    # -- state ---------------------------------------------------------------------------------
    def set_model_version(self, version: str | None) -> None:
        """Show the queue of another model version (reloads)."""
        self.model_version = version
        self.refresh()

    def set_taxonomy(self, taxonomy: Taxonomy | None, lang: str | None = None) -> None:
        self.taxonomy = taxonomy
        self.lang = lang or self.lang
        self.model.layoutChanged.emit()
        self._update_buttons()

    def _leaf_name(self, leaf: str | None) -> str:
        if not leaf:
            return "—"
        if self.taxonomy is not None and leaf in self.taxonomy:
            return self.taxonomy.name(leaf, self.lang)
        if self.taxonomy is not None:  # judged under another tree (the batch list marks it the same way)
            return QCoreApplication.translate("Panel", "{leaf} (not in this model's tree)").format(leaf=leaf)
        return leaf

    def _leaf_parents(self, leaf: str) -> tuple[str, ...]:
        if self.taxonomy is not None and leaf in self.taxonomy:
            return tuple(self.taxonomy.path(leaf)[:-1])
        return ()

    def selected_rows(self) -> list[QueueRow]:
        """The selected queue rows, top to bottom (headings excluded)."""
        picked = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [r for r in (self.model.queue_row(i) for i in picked) if r is not None]

    # -- loading -------------------------------------------------------------------------------
    def refresh(self, quiet: bool = False) -> None:
        """Reload the first page (and the batch list) in the background (``quiet``: without "Loading…")."""
        filters = self.filters()
        self._request += 1
        if filters is None:
            self._after_own = False
            self._typed_ahead.clear()
            self.model.set_page(QueuePage(rows=[], total=0), grouped=None)
            self.counts_label.setText(QCoreApplication.translate("Queue", "Load a model to see its queue"))
            return
        if not self.status_label.text() and not quiet:
            self.status_label.setText(QCoreApplication.translate("Queue", "Loading…"))
        task = Task(self.service.page, filters, limit=PAGE_SIZE, facets=False)  # the rows first, the counts next
        request = self._request
        task.signals.result.connect(lambda page: isValid(self) and self._first_loaded(request, filters, page,
                                                                                     quiet=quiet))
        task.signals.failed.connect(lambda exc: isValid(self) and self._load_failed(exc))
        self._start(task)

    def _load_counts(self, filters: QueueFilters) -> tuple[QueuePage, list[tuple[int, str]], list[str]]:
        return self.service.counts(filters), self.service.batches(), self.service.analysts()

    def _counts_loaded(self, request: int, filters: QueueFilters, counts: QueuePage,
                       batches: list[tuple[int, str]], analysts: list[str]) -> None:
        if request != self._request:
            return  # a newer request is on its way
        self.model.set_counts(counts)
        self._batches = batches
        self._fill_combos(counts)
        self._fill_analysts(analysts)
        self._show_counts()
        if self.status_label.text() in (QCoreApplication.translate("Queue", "Loading…"), self._load_error):
            self.status_label.setText("")  # (a failed load's message stayed after the database was back)
        self._load_error = None
        self.pageLoaded.emit(counts)

    def _first_loaded(self, request: int, filters: QueueFilters, page: QueuePage, *, quiet: bool = False) -> None:
        """A first page arrived. After the analyst's own action the selection moves on to the next row; after a
        reload from elsewhere (``quiet``: the main window judged, or the 30 s poll) the selection keeps only the
        rows still listed, never jumps to another image, and the view stays where it was scrolled."""
        if request != self._request:
            return  # a newer request is on its way
        own, self._after_own = self._after_own, False
        quiet = quiet and not own  # (a poll's reload overtook the key's own)
        keep = self._reselect or {r.image_id for r in self.selected_rows()}
        self._reselect = None
        picked = [i.row() for i in self.table.selectionModel().selectedRows()]
        current = min(picked) if picked else self.table.currentIndex().row()  # where the next one will be
        on = self.table.currentIndex().data(QueueTableModel.RowRole)
        heading = (on.key, on.by) if isinstance(on, GroupRow) and not keep else None  # the cursor on a heading
        scrolled = self.active_view().verticalScrollBar().value()
        self._group_loading = None  # the rows are new: a group still loading is not (its heading moved)
        # a file not found at the last page may be back, a file shown may be gone: their tiles ask again
        self.gallery.loader.forget_missed([r.path for r in page.rows if r.path] if self.active_view() is self.gallery
                                          else [])
        self.model.set_page(page, grouped=self.grouping(), keep_counts=quiet)
        self._sync_header(filters)
        if self.model.rows:
            self._restore_selection(keep, None if quiet else current)
        if quiet and heading is not None:  # stays there: the 30 s poll cleared it, and Space did nothing, the next
            at = next((i for i, r in enumerate(self.model.rows)  # Down went to the first heading (walk-through)
                       if isinstance(r, GroupRow) and (r.key, r.by) == heading), None)
            if at is not None:
                self.active_view().selectionModel().setCurrentIndex(self.model.index(at, 0),
                                                                    QItemSelectionModel.SelectionFlag.Clear)
        if quiet:
            self.active_view().verticalScrollBar().setValue(scrolled)
        # (a reset model moves the current row without currentChanged: the pane showed a judged image as waiting)
        self.model.set_current(self.table.currentIndex().row())
        self.detail.show_row(self.model.queue_row(self.table.currentIndex().row()), empty=not self.model.rows)
        self._update_buttons()
        self.rowsShown.emit(page)
        if self._typed_ahead and own:  # (after the paint: each key's result is seen before the next)
            QTimer.singleShot(0, self, self._replay_typed)
        else:  # (keys for rows after a judgment that is not what this reload follows: dropped)
            self._typed_ahead.clear()
        task = Task(self._load_counts, filters)
        task.signals.result.connect(lambda res: isValid(self) and self._counts_loaded(request, filters, *res))
        task.signals.failed.connect(lambda exc: isValid(self) and request == self._request and self._load_failed(
            exc, rows=False))
        self._start(task)

    def _load_more(self, offset: int) -> None:
        filters = self.filters()
        if filters is None:
            return
        request = self._request
        task = Task(self.service.page, filters, offset=offset, limit=PAGE_SIZE, facets=False)
        task.signals.result.connect(lambda page: isValid(self) and self._more_loaded(request, page))
        task.signals.failed.connect(lambda exc: isValid(self) and self._load_failed(exc))
        self._start(task)

    def _more_loaded(self, request: int, page: QueuePage) -> None:
        if request != self._request:
            return
        self.model.set_page(page, grouped=self.grouping(), append=True)
        self._apply_spans()
        self._update_buttons()
        self.say_loaded(asked=False)
        self._group_page_loaded()
        jump_after_page(self.model)
        self.pageLoaded.emit(page)

    def _load_failed(self, error: BaseException, *, rows: bool = True) -> None:
        """A page (``rows``) or the counts could not be read: said until a load succeeds."""
        if rows:
            self.model.fetch_failed()
            self._group_loading = None
            self._after_own = False
            self._typed_ahead.clear()  # (keys for rows that did not come: dropped, the line says why)
        self._load_error = QCoreApplication.translate("Queue", "Could not load the queue: {msg}").format(
            msg=store_line(error))
        self.status_label.setText(self._load_error)

    def _start(self, task: Task) -> None:
        self._runner.start(task)

    def _apply_spans(self) -> None:
        self.table.clearSpans()
        if self.model.grouped:
            for row, item in enumerate(self.model.rows):
                if isinstance(item, GroupRow):
                    self.table.setSpan(row, 0, 1, self.model.columnCount())

    def _show_counts(self) -> None:
        states = self.state_combo.currentData()
        if self.model.total is None:
            text = QCoreApplication.translate("Queue", "Counting…")
        elif states == ("rejudge",):
            text = QCoreApplication.translate("Queue", "{n} waiting").format(n=self.model.total)
        elif "rejudge" in states:
            text = QCoreApplication.translate("Queue", "{n} judged or waiting").format(n=self.model.total)
        else:
            text = QCoreApplication.translate("Queue", "{n} judged").format(n=self.model.total)
        if self.model.total is not None and self.model.blind_waiting:  # why the window's re-judge count is higher
            text += "  ·  " + QCoreApplication.translate(
                "Queue", "blind checks (in their batch): {n}").format(n=self.model.blind_waiting)
        if self.model.total is not None and self.model.other_model:  # (a backlog read short without a word)
            text += "  ·  " + QCoreApplication.translate(
                "Queue", "under another model's predictions: {n} (opening their batch predicts them with this one)"
            ).format(n=self.model.other_model)
        if n := len(self.selected_rows()):  # (Ctrl+A took the rows loaded: "200 selected" beside 309, said only by
            loaded = self.model.loaded  # the bulk question: scale walk-through)
            text += "  ·  " + (QCoreApplication.translate(
                "Queue", "{n} selected: every row loaded, of {total} (more load as you scroll)").format(
                n=n, total=self.model.total) if n == loaded and (self.model.total or 0) > loaded else
                QCoreApplication.translate("Queue", "{n} selected").format(n=n))
        self.counts_label.setText(text)

    def _restore_selection(self, image_ids: set[int], current: int | None) -> None:
        """Select the rows of ``image_ids``; when none is left, the row at ``current`` (None: nothing), or the last
        one above it when the judged rows were the last (never a jump back to the top of a long queue)."""
        rows = [i for i in range(len(self.model.rows)) if (r := self.model.queue_row(i)) and r.image_id in image_ids]
        if not rows and current is None:
            self.table.clearSelection()
            return
        if not rows:
            n = len(self.model.rows)
            rows = [next((i for i in range(max(0, current), n) if self.model.queue_row(i)),
                         next((i for i in range(min(current, n) - 1, -1, -1) if self.model.queue_row(i)), 0))]
        self.table.clearSelection()
        self.active_view().setCurrentIndex(self.model.index(rows[0], 0))
        for row in rows:
            self.table.selectionModel().select(
                self.model.index(row, 0),
                self.table.selectionModel().SelectionFlag.Select | self.table.selectionModel().SelectionFlag.Rows)

    def _update_buttons(self) -> None:
        selected = self.selected_rows() if self.service.read_only is None else []  # read-only: no judging
        pane = getattr(self, "detail", None)  # (made after the buttons)
        n, unshown = len(selected), pane.unshown if pane is not None else None
        judge = n > 1 or (n == 1 and (unshown is None or unshown[0] != selected[0].image_id))  # (as the keys:
        self.accept_btn.setEnabled(judge)  # one image its pane could not show takes no judgment)
        self.relabel_btn.setEnabled(judge and self.taxonomy is not None)
        self.unknown_btn.setEnabled(judge)
        self.note_btn.setEnabled(n > 0)
        self.undo_btn.setEnabled(self.service.can_undo and self.service.read_only is None)
        self.export_btn.setEnabled(self.model_version is not None)
        if self.model_version:
            self._show_counts()
