"""The re-judge queue, image first: a gallery of thumbnails over the queue's item model, and a detail pane
(the image with its heatmap, the predicted path, the Top-5, the reasons, the note) for the current row.

The gallery and the table are two views of one :class:`app.ui.queue_model.QueueTableModel` sharing one selection
model, so every bulk action acts on the same selection whichever view shows it. Thumbnails are decoded off the UI
thread by a :class:`app.ui.image_cache.ThumbnailLoader` (newest request first, so a fast scroll decodes what is
on screen, not what was scrolled past) and painted from its cache; until then a grey tile stands in.

Keys (either view): :data:`QUEUE_KEYS` (Enter accepts, 1-5 pick from the image's Top-5, C relabels, U unknown,
N note, O opens), Space on a group
heading selects the group; the arrows, Page Up/Down, Home and End move as usual (in the grid, Left/Right too).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QHelpEvent, QKeyEvent, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLabel,
    QListView,
    QScrollArea,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.services.presenter_records import PATH_SEPARATOR
from app.services.queue import QueueDetail, QueueRow, QueueService
from app.store.records import FILE_REPLACED
from app.ui.image_cache import ThumbnailLoader, decode_qimage
from app.ui.keymap import claim_keys
from app.ui.queue_model import HEADING_LIT, GroupRow, QueueTableModel, age_text, set_names
from app.ui.style import PROBLEM_COLOUR, STATE_COLOURS, file_reason_text, listed, reason_label, state_label
from app.ui.viewer import ImageViewer
from app.ui.workers import Task, TaskRunner

TILE = 160
"""A gallery thumbnail's side in pixels."""
GRID = QSize(TILE + 16, TILE + 72)
"""A tile's least size (its height grows with the font: :func:`tile_grid`)."""


def tile_grid(fm: QFontMetrics) -> QSize:
    """A tile's size for the font of ``fm``: the thumbnail and three lines of text, clear of the focus frame (at 125 %
    in Chinese the frame ran through the file's line)."""
    return QSize(GRID.width(), max(GRID.height(), TILE + 22 + 3 * (fm.height() + 2)))

QUEUE_KEYS: dict[Qt.Key, str] = {
    Qt.Key.Key_Return: "accept", Qt.Key.Key_Enter: "accept", Qt.Key.Key_C: "relabel", Qt.Key.Key_U: "unknown",
    Qt.Key.Key_N: "note", Qt.Key.Key_O: "open",
    Qt.Key.Key_1: "top1", Qt.Key.Key_2: "top2", Qt.Key.Key_3: "top3", Qt.Key.Key_4: "top4", Qt.Key.Key_5: "top5",
}  # fmt: skip
"""The queue's one-key actions (without modifiers), in both views; 1 to 5 pick from the image's Top-5, which the
detail pane numbers, as in the judging window."""

QUEUE_ONCE = frozenset(QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText) for key in QUEUE_KEYS)
"""The queue's one-key actions as key texts: a held key does them once (:class:`app.ui.repeat_guard.RepeatGuard`)."""

MOVE_KEYS = frozenset({
    Qt.Key.Key_Space, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End,
})  # fmt: skip


def queue_key(view: QAbstractItemView, event: QKeyEvent, emit) -> bool:
    """Answer one of the queue's keys in ``view``: ``emit(action)`` with an action of :data:`QUEUE_KEYS`, or
    ``"heading"`` for Space on a group heading; Ctrl+Down and Ctrl+Up go to the next and the previous group heading
    (:func:`jump_to_group`). False: not the queue's key (the view moves as usual)."""
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    if mods == Qt.KeyboardModifier.ControlModifier and event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
        return jump_to_group(view, forward=event.key() == Qt.Key.Key_Down)
    if mods != Qt.KeyboardModifier.NoModifier:
        return False
    action = QUEUE_KEYS.get(Qt.Key(event.key()))
    if action is not None and event.isAutoRepeat():
        return True  # a held key judges once (a held Enter accepted row after row, unseen)
    if action is None and event.key() == Qt.Key.Key_Space \
            and isinstance(view.currentIndex().data(QueueTableModel.RowRole), GroupRow):
        action = "heading"
    if action is None:
        return False
    emit(action)
    return True


def jump_to_group(view: QAbstractItemView, *, forward: bool) -> bool:
    """Put the cursor on the next (``forward``) or the previous group heading of a grouped queue, at the top of the
    view, with nothing selected (as Home does onto a heading): at 150 types a group of one image sat between groups of
    hundreds, reached only by arrows. The first heading is the previous one of the rows above the second; past the
    last heading the cursor stays. False where the queue is not grouped (the view's own Ctrl+arrow)."""
    model = view.model()
    rows = getattr(model, "rows", None)
    if not rows or not any(isinstance(r, GroupRow) for r in rows):
        return False
    here = view.currentIndex().row()
    order = range(here + 1, len(rows)) if forward else range(min(here, len(rows)) - 1, -1, -1)
    target = next((i for i in order if isinstance(rows[i], GroupRow)), None)
    model.jump_pending = None
    if target is not None:
        index = model.index(target, 0)
        view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.Clear)
        view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtTop)
    elif forward and model.canFetchMore(QModelIndex()):  # the next heading is on a page not loaded yet (200
        # rows a page, groups of hundreds): it loads, and the jump is made when it comes (the window calls
        # :func:`jump_after_page`)
        model.jump_pending = view
        model.fetchMore(QModelIndex())
    return True


def jump_after_page(model) -> None:
    """A page came: a Ctrl+Down that waited for it goes on to the next heading (or asks for one more page)."""
    view, model.jump_pending = getattr(model, "jump_pending", None), None
    if view is not None and isValid(view):
        jump_to_group(view, forward=True)


class KeysToRows(QObject):
    """On the detail pane's parts that take the focus (its text, its image): the queue's one-key actions go to the
    rows (``rows()``: the view shown), which take the focus, so the key acts on the selection as it would there.
    Tab put the focus in the pane unseen, and 1-5, Enter, C, U and N did nothing there (zh_TW walk-through); the
    arrows and Page Up/Down still scroll the pane."""

    def __init__(self, rows: Callable[[], QAbstractItemView], parent: QObject) -> None:
        super().__init__(parent)
        self._rows = rows

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not isinstance(event, QKeyEvent) or Qt.Key(event.key()) not in QUEUE_KEYS or \
                event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        if event.type() == QEvent.Type.ShortcutOverride:
            event.accept()  # (the key itself, not the window's shortcut for it)
            return True
        if event.type() == QEvent.Type.KeyPress:
            rows = self._rows()
            rows.setFocus()
            QCoreApplication.sendEvent(rows, QKeyEvent(event.type(), event.key(), event.modifiers(), event.text(),
                                                       event.isAutoRepeat()))
            return True
        return False


class GalleryDelegate(QStyledItemDelegate):
    """A tile: the thumbnail ("loading…" on grey until it is read), the predicted type, confidence and first reason,
    the file's name, and a state dot once the image is judged; a group heading is a tile with the group's title."""

    def __init__(self, loader: ThumbnailLoader, parent=None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.leaf_name = lambda leaf: leaf or "—"
        self.group_title = lambda row: str(row.key)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return tile_grid(option.fontMetrics)

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView, option: QStyleOptionViewItem,
                  index: QModelIndex) -> bool:
        """A tile's tooltip: the file, its batches and every reason (the tile has room for the first)."""
        row = index.data(QueueTableModel.RowRole)
        if event.type() != QEvent.Type.ToolTip or not isinstance(row, QueueRow):
            return super().helpEvent(event, view, option, index)
        lines = [row.path or f"#{row.image_id}", ", ".join(row.batch_names),
                 file_reason_text(FILE_REPLACED) if row.replaced else ""]
        if row.reasons:
            lines.append(QCoreApplication.translate("Queue", "Sent to a person: {reasons}").format(
                reasons=listed(reason_label(r) for r in row.reasons)))
        QToolTip.showText(event.globalPos(), "\n".join(line for line in lines if line), view.viewport(),
                          view.visualRect(index))
        return True

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        row = index.data(QueueTableModel.RowRole)
        r = option.rect.adjusted(4, 4, -4, -4)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if isinstance(row, GroupRow):
            lit = index.row() == getattr(index.model(), "current", -1)  # the cursor is on it: lit and framed
            p.setPen(QPen(QColor("#8ab4f8"), 2) if lit else Qt.PenStyle.NoPen)
            p.setBrush(QColor(HEADING_LIT if lit else "#3c4043"))
            p.drawRoundedRect(r, 6, 6)
            p.setPen(QColor("#e8eaed"))
            font = QFont(option.font)
            font.setBold(True)
            p.setFont(font)
            p.drawText(r.adjusted(10, 10, -10, -30), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
                       | Qt.TextFlag.TextWordWrap, self.group_title(row))
            p.setFont(option.font)
            p.setPen(QColor("#9aa0a6"))
            p.drawText(r.adjusted(10, 0, -10, -8), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                       QCoreApplication.translate("Queue", "Space: select the group"))
            p.restore()
            return
        p.setPen(QPen(QColor("#8ab4f8"), 2) if selected else Qt.PenStyle.NoPen)
        p.setBrush(QColor("#394457") if selected else QColor("#2d2e31"))
        p.drawRoundedRect(r, 6, 6)
        if option.state & QStyle.StateFlag.State_HasFocus:
            p.setPen(QPen(QColor("#e8eaed"), 1, Qt.PenStyle.DotLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(r.adjusted(2, 2, -2, -2), 5, 5)
        thumb = QRect(r.left() + (r.width() - TILE) // 2, r.top() + 4, TILE, TILE)
        pix = self.loader.get(row.path) if isinstance(row, QueueRow) and not row.replaced else None
        if pix is not None and not pix.isNull():
            p.drawPixmap(thumb.left() + (TILE - pix.width()) // 2, thumb.top() + (TILE - pix.height()) // 2, pix)
        else:
            p.fillRect(thumb, QColor("#3c4043"))
            if pix is not None or (isinstance(row, QueueRow) and row.replaced):  # not read, and why; or its
                p.setPen(QColor(PROBLEM_COLOUR))  # file holds another picture now
                why = FILE_REPLACED if pix is None else self.loader.reason(row.path)
                p.drawText(thumb.adjusted(6, 0, -6, 0), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                           file_reason_text(why) if why else QCoreApplication.translate("Queue", "cannot be read"))
            elif isinstance(row, QueueRow) and row.path:  # being read (a large picture takes a while): said, so
                p.setPen(QColor("#9aa0a6"))  # that a grey tile is not taken for one that is empty or broken
                p.drawText(thumb, Qt.AlignmentFlag.AlignCenter, QCoreApplication.translate("Queue", "loading…"))
        if row.state != "rejudge":
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(STATE_COLOURS.get(row.state, "#9aa0a6")))
            p.drawEllipse(thumb.left() + 6, thumb.top() + 6, 12, 12)
        fm = option.fontMetrics
        text = r.adjusted(8, TILE + 8, -8, 0)
        name, conf, reasons = tile_text(row, self.leaf_name)
        p.setPen(QColor("#e8eaed"))
        p.drawText(QRect(text.left(), text.top(), text.width(), fm.height()), Qt.AlignmentFlag.AlignLeft,
                   fm.elidedText(name, Qt.TextElideMode.ElideRight, text.width()))
        colour = "#9aa0a6" if row.confidence is None else \
            "#81c995" if row.confidence >= 0.9 else "#fdd663" if row.confidence >= 0.6 else "#f28b82"
        line2 = QRect(text.left(), text.top() + fm.height() + 2, text.width(), fm.height())
        p.setPen(QColor(colour))
        p.drawText(line2, Qt.AlignmentFlag.AlignLeft, conf)
        p.setPen(QColor("#9aa0a6"))
        if row.held_by and row.state == "rejudge":  # a colleague's window is on it: the bulk keys leave it to them
            reasons = QCoreApplication.translate("Queue", "{who} holds it").format(who=row.held_by)
            p.setPen(QColor("#fdd663"))
        shift = fm.horizontalAdvance(conf + "  ") if conf else 0
        p.drawText(line2.adjusted(shift, 0, 0, 0), Qt.AlignmentFlag.AlignLeft,
                   fm.elidedText(reasons, Qt.TextElideMode.ElideRight, max(0, text.width() - shift)))
        # the file, last: two tiles of one type read alike, and the analyst's notes and the line's reports name
        # files (its middle elided: lot prefixes and the suffix tell files apart)
        p.setPen(QColor("#9aa0a6"))
        p.drawText(line2.translated(0, fm.height() + 2), Qt.AlignmentFlag.AlignLeft,
                   fm.elidedText(tile_file(row), Qt.TextElideMode.ElideMiddle, text.width()))
        p.restore()


def home_end_selection(event: QEvent | None) -> QItemSelectionModel.SelectionFlag | None:
    """The selection of a Home or End key press (Ctrl+Home and Ctrl+End too, not with Shift) in the queue's
    table or gallery: the row it goes to, alone, as the arrows select (None: the view's own rule). With Ctrl a
    view only moves its cursor, so the rows selected before stayed selected out of sight, and Enter on a group
    heading at the top accepted an image the analyst did not see; on a heading nothing is selected now."""
    if (isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Home, Qt.Key.Key_End)
            and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
        return QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    return None


class QueueGallery(QListView):
    """The queue's rows as a grid of thumbnails; takes its keys before the window's shortcuts.

    Signals:
        action(str): one of :data:`QUEUE_KEYS`' actions, or ``heading`` (Space on a group heading).
    """

    action = Signal(str)
    KEYS: ClassVar[frozenset[Qt.Key]] = frozenset(QUEUE_KEYS) | MOVE_KEYS

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.loader = ThumbnailLoader(TILE, parent=self)
        self.delegate = GalleryDelegate(self.loader, self)
        self.setItemDelegate(self.delegate)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setUniformItemSizes(True)
        self.setGridSize(tile_grid(self.fontMetrics()))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(self.gridSize().height() // 3)
        self.setStyleSheet("QListView { background: #202124; border: none; }")
        self._repaint = QTimer(self)  # thumbnails arriving in a burst repaint the viewport once
        self._repaint.setSingleShot(True)
        self._repaint.setInterval(30)
        self._repaint.timeout.connect(self.viewport().update)
        self.loader.ready.connect(lambda _path: self._repaint.start())

    def event(self, event: QEvent) -> bool:
        return claim_keys(event, self.KEYS) or super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not queue_key(self, event, self.action.emit):
            super().keyPressEvent(event)
            if event.key() == Qt.Key.Key_End:
                self.action.emit("end")  # the last row loaded: the window says whether more follow

    def selectionCommand(self, index: QModelIndex, event: QEvent | None = None) -> QItemSelectionModel.SelectionFlag:
        return home_end_selection(event) or super().selectionCommand(index, event)

    def moveCursor(self, action: QAbstractItemView.CursorAction, modifiers: Qt.KeyboardModifier) -> QModelIndex:
        """Page Down and Page Up move by the rows of tiles in sight less one (one at least), in the same column: the
        list's own page moves found no tile where a page would land and did nothing (walk-through, 1366 x 768)."""
        pages = {QAbstractItemView.CursorAction.MovePageDown: 1, QAbstractItemView.CursorAction.MovePageUp: -1}
        if action not in pages or self.model() is None or not self.model().rowCount():
            return super().moveCursor(action, modifiers)
        grid = self.gridSize()
        across = max(1, self.viewport().width() // max(1, grid.width()))
        down = max(1, self.viewport().height() // max(1, grid.height()) - 1)
        here = max(0, self.currentIndex().row())
        target = here + pages[action] * across * down
        last = self.model().rowCount() - 1
        if target > last:  # past the last row of tiles: the last tile
            target = last
        elif target < 0:
            target = here % across
        return self.model().index(target, 0)

    def viewportEvent(self, event: QEvent) -> bool:
        """As many tiles a row as fit, spread over the whole width (a fixed grid left up to a tile's width empty
        at the right edge); the viewport's width, so that a scroll bar appearing counts."""
        if event.type() == QEvent.Type.Resize:
            # the view lays out as if its scroll bar were there even while it is hidden, and keeps a few pixels
            bar = 0 if self.verticalScrollBar().isVisible() else self.style().pixelMetric(
                QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
            width = self.viewport().width() - bar - 8
            grid = QSize(max(GRID.width(), width // max(1, width // GRID.width())),
                         tile_grid(self.fontMetrics()).height())
            if grid != self.gridSize():
                self.setGridSize(grid)
        return super().viewportEvent(event)


class QueueDetailPane(QWidget):
    """The current row, large: the image (with the predicted type's heatmap once the model has made it), the
    predicted path with each level's score, the Top-5, the reasons, the state and the note.

    Signals:
        heatmapWanted(int image_id, str path, str leaf): the view would show this heatmap (the main window's
            model thread makes it; :meth:`set_heatmap` brings it).
    """

    heatmapWanted = Signal(int, str, str)
    imageTried = Signal()  # the current row's image was read, or found not readable (:attr:`unshown`)

    def __init__(self, service: QueueService, runner: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.service = service
        self.runner = runner
        self.leaf_name = lambda leaf: leaf or "—"
        self.leaf_parents = lambda _leaf: ()  # a leaf's group and subgroup ids (the queue window's taxonomy)
        self.row: QueueRow | None = None
        self.detail: QueueDetail | None = None
        self.unshown: tuple[int, str] | None = None  # (image id, why) of the row whose image could not be shown
        self.viewer = ImageViewer(self)
        self.viewer.setMinimumSize(300, 260)
        self.text = QLabel(self)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # scrolled when the window is short: the note, last, was cut off with no way to it
        self.text_area = QScrollArea(self)
        self.text_area.setWidget(self.text)
        self.text_area.setWidgetResizable(True)
        self.text_area.setFrameShape(QFrame.Shape.NoFrame)
        self.text_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.text_area.setMinimumHeight(120)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        layout.addWidget(self.viewer, 3)
        layout.addWidget(self.text_area, 2)
        self._settle = QTimer(self)  # arrows held down move through rows: load only where the selection rests
        self._settle.setSingleShot(True)
        self._settle.setInterval(120)
        self._settle.timeout.connect(self._load)
        self.show_row(None)

    def show_row(self, row: QueueRow | None, *, empty: bool = False) -> None:
        """Show ``row`` (None: nothing is current; ``empty``: because the list is empty); the image and details load
        in the background."""
        if row is not None and self.row is not None and _same(row, self.row):
            self.row = row  # the same image reloaded: its state or note may have changed
            self._write()
            if self.unshown is not None and self.unshown[0] == row.image_id and not row.replaced:
                self._load()  # not shown: read again (a file put back; its keys stayed off until reselected)
            else:
                self._load_detail()
            return
        self.row, self.detail, self.unshown = row, None, None
        self.text_area.verticalScrollBar().setValue(0)  # another image: its file name first (the pane kept the last
        self.viewer.set_heatmap(None)  # image's scroll, and the file's line stayed above it: walk-through)
        self.viewer.set_heatmap_caption("")
        if row is None:
            self.viewer.set_image(None, QCoreApplication.translate("Queue", "No image in this list: nothing waits for a "
                                                                            "person here, or the filters leave none")
                                  if empty else QCoreApplication.translate("Queue", "Select an image to see it here"))
        else:
            self.viewer.set_image(None, QCoreApplication.translate("Queue", "Loading…"))
            self._settle.start()
        self._write()

    def _load(self) -> None:
        row = self.row
        if row is None:
            return
        if row.replaced:  # its file holds another picture now: none shown, and not judged unseen (Enter)
            self.viewer.set_image(None, file_reason_text(FILE_REPLACED))
            self.unshown = (row.image_id, FILE_REPLACED)
            self.imageTried.emit()
            self._load_detail()
            return
        image_task = Task(decode_qimage, row.path)
        image_task.signals.result.connect(lambda res, r=row: isValid(self) and self._image_ready(r, *res))
        self.runner.start(image_task)
        self._load_detail()
        if row.leaf:
            self.heatmapWanted.emit(row.image_id, row.path, row.leaf)

    def _load_detail(self) -> None:
        row = self.row
        if row is not None:
            task = Task(self.service.detail, row.image_id, row.prediction_id)
            task.signals.result.connect(lambda d, r=row: isValid(self) and self._detail_ready(r, d))
            self.runner.start(task)

    def _image_ready(self, row: QueueRow, image, reason: str | None) -> None:
        if self.row is not None and _same(row, self.row):  # a reload may have brought a new record of it
            self.viewer.set_image(image, file_reason_text(reason) if reason else "")  # (said in English in zh_TW)
            self.unshown = (row.image_id, reason or "") if image is None or image.isNull() else None
            self.imageTried.emit()

    def _detail_ready(self, row: QueueRow, detail: QueueDetail | None) -> None:
        if self.row is not None and _same(row, self.row):
            self.detail = detail
            self._write()

    def _elsewhere(self, leaf: str, predicted_parents: tuple[str, ...]) -> str:
        """After a Top-5 row of another subtree than the prediction's: its parents' names, greyed ("· Particle ›
        Organic"), as the judging panel shows them; nothing for the prediction's siblings."""
        parents = tuple(self.leaf_parents(leaf))
        if not parents or parents == tuple(predicted_parents):
            return ""
        return (" <span style='color:#9aa0a6'>· " + _escape(PATH_SEPARATOR.join(self.leaf_name(n) for n in parents))
                + "</span>")

    def set_heatmap(self, image_id: int, leaf: str, heatmap: object, kind: str = "gradcam") -> None:
        """A heatmap asked for with ``heatmapWanted`` arrived (``kind``: "cbam" for a CBAM network's attention,
        else the LayerCAM of ``leaf``); drawn when its row is still shown."""
        if self.row is not None and self.row.image_id == image_id and self.row.leaf == leaf:
            self.viewer.set_heatmap(heatmap)
            self.viewer.set_heatmap_caption(
                QCoreApplication.translate("Queue", "Attention (CBAM)") if kind == "cbam" else
                QCoreApplication.translate("Queue", "Where the model looked for {name} (LayerCAM)").format(
                    name=self.leaf_name(leaf)))

    def _write(self) -> None:
        row, d = self.row, self.detail
        if row is None:
            self.text.setText("")
            return
        esc = _escape
        lines = [f"<b>{esc(tile_file(row))}</b><br>"  # the file, where
                 f"<span style='color:#9aa0a6'>{esc(', '.join(row.batch_names))} · "
                 + esc(QCoreApplication.translate("Queue", "waiting {age}").format(age=age_text(row.age()))
                       if row.state == "rejudge" else  # (a judged image said "waiting 3 min")
                       QCoreApplication.translate("Queue", "judged by {who}").format(who=row.judged_by or "?"))
                 + "</span>"]
        if d is not None and d.error:
            lines.append(f"<span style='color:#f28b82'>{esc(d.error)}</span>")
        elif d is not None and d.path:
            node = row.determined if row.determined in d.path[:-1] else None  # a group or subgroup, not a leaf
            lines.append(PATH_SEPARATOR.join(f"{esc(self.leaf_name(n))}{' ✓' if n == node else ''} "
                                    f"<span style='color:#9aa0a6'>{s * 100:.0f}%</span>"
                                    for n, s in zip(d.path, d.path_scores, strict=False)))
            if node is not None:  # as the judging panel says it
                lines[-1] += "<br><span style='color:#1e8e3e'>" + esc(QCoreApplication.translate(
                    "Panel", "✓ {node} is determined · pick the type").format(
                    node=self.leaf_name(node))) + "</span>"
        if d is not None and d.top5:
            lines.append("<br>".join(f"{k}. {esc(self.leaf_name(leaf))} — {score * 100:.1f}%"
                                     + self._elsewhere(leaf, d.path[:-1])
                                     for k, (leaf, score) in enumerate(d.top5, start=1)))
        if row.reasons:
            lines.append(esc(QCoreApplication.translate("Queue", "Sent to a person: {reasons}").format(
                reasons=listed(reason_label(r) for r in row.reasons))))
        state = state_label(row.state)
        if row.state != "rejudge":
            state += f" · {set_names(self.leaf_name, row.judged_set)}" if row.judged_leaf else ""
            state += f" · {row.judged_by}" if row.judged_by else ""
        lines.append(f"<span style='color:{STATE_COLOURS.get(row.state, '#9aa0a6')}'>{esc(state)}</span>")
        if d is not None and d.note:
            lines.append("<i>" + esc(QCoreApplication.translate("Queue", "Note: {note}").format(note=d.note)) + "</i>")
        self.text.setText("<p style='line-height:130%'>" + "<br><br>".join(lines) + "</p>")


def tile_text(row: QueueRow, leaf_name) -> tuple[str, str, str]:
    """A tile's words: ``(the types it shows, the model's confidence, its second line)``. A decision other than the
    model's call shows the decision, and the second line says the model's call with its confidence (the confidence
    beside the correction read as the correction's: "Metal particle 53%" where the model said Particle cluster)."""
    shown = row.judged_set if row.state != "rejudge" and row.judged_leaf else row.predicted_set
    conf = "" if row.confidence is None else f"{row.confidence * 100:.0f}%"
    unknown = row.state == "unknown"  # judged a kind outside the tree
    if (unknown or set(shown) != set(row.predicted_set)) and row.predicted_set:  # (a set: its order is no change)
        return state_label("unknown") if unknown else set_names(leaf_name, shown), "", QCoreApplication.translate(
            "Queue", "model: {name} {conf}").format(name=set_names(leaf_name, row.predicted_set), conf=conf).strip()
    return set_names(leaf_name, shown), conf, tile_reasons(row.reasons)


def tile_file(row: QueueRow) -> str:
    """A tile's file line: the file's name (its folder is in the tooltip), or the image's number without a path."""
    return Path(row.path).name if row.path else f"#{row.image_id}"


def tile_reasons(reasons: tuple[str, ...]) -> str:
    """A tile's reasons line: the first reason, and how many more ("low confidence +1"); the tooltip lists all."""
    if not reasons:
        return ""
    first = reason_label(reasons[0])
    return first if len(reasons) == 1 else f"{first} +{len(reasons) - 1}"


def _same(a: QueueRow, b: QueueRow) -> bool:
    return a.image_id == b.image_id and a.prediction_id == b.prediction_id


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
