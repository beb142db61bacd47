"""The batch list: a model/view list with lazily made thumbnails, a status badge per image, and a note marker."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QCoreApplication,
    QModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPixmap, QPolygon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
)

from app.services.batch_presenter import ListRow
from app.store.records import FILE_REPLACED
from app.ui.image_cache import PixmapCache, ThumbnailJob, ThumbnailSignals
from app.ui.style import PROBLEM_COLOUR, STATE_COLOURS, file_reason_text, state_label
from models.imageio import is_content_reason

THUMB = 72
ROW_H = THUMB + 10
NOTE_COLOUR = "#fbbc04"
DRAFT_COLOUR = "#f29900"  # a note typed and not saved: the marker's outline only (the note is not in the store)
HELD_COLOUR = "#8ab4f8"  # a colleague is on the image: their name, beside the badge


def row_label(row: ListRow) -> str:
    """The row's second line: the type, or why an unreadable image cannot be read (in the UI language)."""
    return file_reason_text(row.label) if row.state == "error" else row.label


UNREACHED_RETRY_S = 20.0
"""How long a thumbnail whose file was not reached waits before a paint asks for it again."""


class BatchListModel(QAbstractListModel):
    """Rows of :class:`ListRow`; thumbnails are decoded off the UI thread on first display and cached.

    Signals:
        unreadable(int image_id, str reason): a row's thumbnail could not be decoded (a file cut short passes the
            header check when the folder is read): the window marks the image unreadable at once.
    """

    RowRole = Qt.ItemDataRole.UserRole + 1
    unreadable = Signal(int, str)

    def __init__(self, parent=None, cache_size: int = 2000) -> None:
        super().__init__(parent)
        self.rows: list[ListRow] = []
        self._index: dict[int, int] = {}
        self._by_path: dict[str, list[int]] = {}  # path -> its rows (a thumbnail that arrives repaints them)
        self._thumbs = PixmapCache(cache_size)
        self._pending: set[str] = set()
        self._held: list[str] | None = None  # thumbnails asked for while held (hold_thumbnails), in order
        self._failed: dict[str, str] = {}  # path -> why its thumbnail could not be decoded (said for every batch)
        # path -> when its file was not reached (a share away): its thumbnail is asked for again at a paint after
        # UNREACHED_RETRY_S (it stayed blank for the session once the share was back)
        self._unreached: dict[str, float] = {}
        self._signals = ThumbnailSignals()
        self._signals.finished.connect(self._thumb_ready)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)

    # -- Qt model API --------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.file_name
        if role == self.RowRole:
            return row
        if role == Qt.ItemDataRole.DecorationRole:  # (a file written over holds another picture: none shown)
            return QPixmap() if FILE_REPLACED in (row.file_problem, row.label) else self.thumbnail(row.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            note = "\n" + QCoreApplication.translate("BatchList", "Has a note (N to read or edit it)") \
                if row.has_note else ""
            if row.has_draft:
                note += "\n" + QCoreApplication.translate("BatchList", "A note typed and not saved (N brings it back)")
            if row.held_by:
                note += "\n" + QCoreApplication.translate("BatchList", "{who} is on it now").format(who=row.held_by)
            if row.file_problem:
                note += "\n" + file_reason_text(row.file_problem)
            label = row_label(row)
            return f"{row.path}\n{state_label(row.state)}{' · ' + label if label else ''}{note}"
        return None

    # -- content -------------------------------------------------------------------------------
    def set_rows(self, rows: list[ListRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self._index = {r.image_id: i for i, r in enumerate(self.rows)}
        self._by_path = {}
        for i, r in enumerate(self.rows):
            self._by_path.setdefault(r.path, []).append(i)
        self.endResetModel()
        self._say_failed(self.rows)

    def append_rows(self, rows: list[ListRow]) -> None:
        """Rows added at the end (a large folder's next part): the view keeps its scroll and selection."""
        if not rows:
            return
        first = len(self.rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self.rows.extend(rows)
        for i, r in enumerate(rows, start=first):
            self._index[r.image_id] = i
            self._by_path.setdefault(r.path, []).append(i)
        self.endInsertRows()
        self._say_failed(rows)

    def update_row(self, image_id: int, **changes) -> None:
        i = self._index.get(image_id)
        if i is None:
            return
        self.rows[i] = replace(self.rows[i], **changes)
        idx = self.index(i)
        self.dataChanged.emit(idx, idx)

    def row_of(self, image_id: int) -> int | None:
        return self._index.get(image_id)

    def thumbnail(self, path: str) -> QPixmap:
        """The row's thumbnail, or a null pixmap while it loads (the delegate draws a grey square for it)."""
        if (pix := self._thumbs.get(path)) is not None:
            return pix
        if (when := self._unreached.get(path)) is not None and time.monotonic() - when < UNREACHED_RETRY_S:
            return QPixmap()
        if path not in self._pending:
            self._pending.add(path)
            if self._held is not None:
                self._held.append(path)
            else:
                self.pool.start(ThumbnailJob(path, self._signals))
        return QPixmap()

    def hold_thumbnails(self) -> None:
        """Thumbnails asked for from now on wait for :meth:`release_thumbnails`. The window holds them while the
        model makes a batch's first predictions: decoding them competes for the two cores, and on the
        development machine made the first prediction 0.4 s later (``python -m bench.startup``)."""
        if self._held is None:
            self._held = []

    def release_thumbnails(self) -> None:
        """Decode the thumbnails asked for while they were held (a no-op when they were not)."""
        held, self._held = self._held, None
        for path in held or ():
            self.pool.start(ThumbnailJob(path, self._signals))

    def retry_unreached(self) -> None:
        """A file not reached was read again (a share back): the thumbnails not reached are asked for at once (a
        repaint of the rows on screen), not only after :data:`UNREACHED_RETRY_S` at a paint."""
        if self._unreached:
            self._unreached.clear()
            if self.rows:  # (a range: the view repaints its viewport, not row by row)
                self.dataChanged.emit(self.index(0), self.index(len(self.rows) - 1), [Qt.ItemDataRole.DecorationRole])

    def _thumb_ready(self, path: str, image: QImage, why: str) -> None:
        self._pending.discard(path)
        if why and is_content_reason(why):
            self._thumb_failed(path, why)
        elif image.isNull():  # not reached: not cached, asked for again later
            self._unreached[path] = time.monotonic()
            return
        self._unreached.pop(path, None)
        if not image.isNull() and (image.width() > THUMB or image.height() > THUMB):  # scaled once, not per paint
            image = image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
        self._thumbs.put(path, QPixmap.fromImage(image) if not image.isNull() else QPixmap())
        for i in self._by_path.get(path, ()):  # not a scan of every row: a batch can hold 100,000
            idx = self.index(i)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def _thumb_failed(self, path: str, reason: str) -> None:
        """A thumbnail job found the file unreadable: said once for each of its rows (here, and at each later
        opening of a batch that lists it: :meth:`_say_failed`; its cached null thumbnail is never decoded again)."""
        self._failed[path] = reason
        self._say([(self.rows[i].image_id, reason) for i in self._by_path.get(path, ())])

    def _say_failed(self, rows: list[ListRow]) -> None:
        """Rows just listed whose thumbnail failed at an earlier opening (this session): said once, after the
        list is shown (a batch opened again starts with its rows pending)."""
        if self._failed:
            said = [(r.image_id, self._failed[r.path]) for r in rows if r.path in self._failed]
            if said:
                QTimer.singleShot(0, self, lambda: self._say(said))

    def _say(self, said: list[tuple[int, str]]) -> None:
        """``unreadable`` for each listed image whose row does not say so already."""
        for image_id, reason in said:
            if (i := self._index.get(image_id)) is not None and self.rows[i].state != "error":
                self.unreadable.emit(image_id, reason)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.state] = out.get(r.state, 0) + 1
        return out


def note_marker_rect(badge: QRect) -> QRect:
    """Where the note marker of a row goes: right of its status badge."""
    return QRect(badge.right() + 8, badge.top() + 2, 13, 16)


def draw_note_marker(p: QPainter, rect: QRect, *, draft: bool = False) -> None:
    """A small sticky note (folded corner, two lines of "text") in :data:`NOTE_COLOUR`; a ``draft`` (typed, not
    saved) is the outline of one in :data:`DRAFT_COLOUR`."""
    fold = 5
    page = QPolygon([QPoint(rect.left(), rect.top()), QPoint(rect.right() - fold, rect.top()),
                     QPoint(rect.right(), rect.top() + fold), QPoint(rect.right(), rect.bottom()),
                     QPoint(rect.left(), rect.bottom())])
    colour = QColor(DRAFT_COLOUR if draft else NOTE_COLOUR)
    p.setPen(QPen(colour, 1.5) if draft else Qt.PenStyle.NoPen)
    p.setBrush(Qt.BrushStyle.NoBrush if draft else colour)
    p.drawPolygon(page)
    p.setPen(QPen(colour if draft else QColor("#202124"), 1.2))
    for y in (rect.top() + 7, rect.top() + 11):
        p.drawLine(rect.left() + 3, y, rect.right() - 3, y)


class BatchItemDelegate(QStyledItemDelegate):
    """Thumbnail, file name, label, a coloured status badge, and a note marker when the image has a note."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(260, ROW_H)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        row: ListRow = index.data(BatchListModel.RowRole)
        if row is None:
            return
        p.save()
        r = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        p.fillRect(r, QColor("#174ea6") if selected else QColor("#202124") if index.row() % 2 else QColor("#26272b"))
        thumb_rect = QRect(r.left() + 5, r.top() + 5, THUMB, THUMB)
        pix = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pix, QPixmap) and not pix.isNull():  # already at most THUMB x THUMB (the model scaled it)
            p.drawPixmap(thumb_rect.left() + (THUMB - pix.width()) // 2,
                         thumb_rect.top() + (THUMB - pix.height()) // 2, pix)
        else:
            p.fillRect(thumb_rect, QColor("#3c4043"))
        colour = QColor(STATE_COLOURS.get(row.state, "#9aa0a6"))
        p.fillRect(QRect(r.left(), r.top(), 4, r.height()), colour)
        x = thumb_rect.right() + 10
        text_w = r.right() - x - 6
        f = QFont(option.font)
        f.setBold(True)
        p.setFont(f)
        p.setPen(QColor("#e8eaed"))
        name = p.fontMetrics().elidedText(row.file_name, Qt.TextElideMode.ElideMiddle, text_w)
        p.drawText(QRect(x, r.top() + 6, text_w, 20), Qt.AlignmentFlag.AlignLeft, name)
        p.setFont(option.font)
        p.setPen(QColor("#bdc1c6"))
        label = row_label(row)
        label += f"  {row.confidence * 100:.0f}%" if row.confidence is not None else ""
        label = p.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, text_w)
        p.drawText(QRect(x, r.top() + 28, text_w, 20), Qt.AlignmentFlag.AlignLeft, label)
        badge = state_label(row.state)
        bw = p.fontMetrics().horizontalAdvance(badge) + 14
        badge_rect = QRect(x, r.top() + 52, bw, 20)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.drawRoundedRect(badge_rect, 4, 4)
        p.setPen(QColor("white"))
        p.drawText(badge_rect, Qt.AlignmentFlag.AlignCenter, badge)
        marker = note_marker_rect(badge_rect)
        if row.has_note:
            draw_note_marker(p, marker)
            marker = marker.translated(marker.width() + 6, 0)
        if row.has_draft:
            draw_note_marker(p, marker, draft=True)
            marker = marker.translated(marker.width() + 6, 0)
        # its file gone or written over (its judgment stands; the badge alone hid it), else a colleague on it (a team
        # on one database: "next" passes it over)
        held = QCoreApplication.translate("BatchList", "{who} is on it").format(who=row.held_by) if row.held_by else ""
        aside = file_reason_text(row.file_problem) if row.file_problem else held
        if aside:
            room = r.right() - marker.left() - 6
            p.setPen(QColor(PROBLEM_COLOUR if row.file_problem else HELD_COLOUR))
            p.drawText(QRect(marker.left(), badge_rect.top(), room, badge_rect.height()),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       p.fontMetrics().elidedText(aside, Qt.TextElideMode.ElideRight, room))
        p.restore()


class BatchListView(QTableView):
    """The batch's list: one column of rows of a fixed height. The list never takes the keyboard focus: the
    window's shortcuts move through it (arrows, Home/End, PgUp/PgDn; :meth:`page_rows` is a page), so they never
    fight with the judging keys.

    A table, not a ``QListView``: a list view lays out every row again whenever rows are added or changed (it asks
    the Python model for an index per row, each a call of ``rowCount``: 0.15 s per selection at 20,000 rows, seconds
    at 100,000, measured with ``python -m bench folder``), while a table's fixed-height rows are placed by arithmetic.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setItemDelegate(BatchItemDelegate(self))
        self.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrows are global judging shortcuts
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QTableView.ScrollMode.ScrollPerPixel)
        self.horizontalHeader().hide()
        self.horizontalHeader().setStretchLastSection(True)
        rows = self.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setMinimumSectionSize(ROW_H)
        rows.setDefaultSectionSize(ROW_H)
        self.setMinimumWidth(250)
        self.setStyleSheet("QTableView { background: #202124; border: none; }")

    def dataChanged(self, top_left: QModelIndex, bottom_right: QModelIndex, roles=()) -> None:
        """Repaint the changed rows, and only that (their size never changes: fixed rows, no editors)."""
        self.viewport().update(self.visualRect(top_left).united(self.visualRect(bottom_right)))

    def scrollTo(self, index: QModelIndex, hint=QAbstractItemView.ScrollHint.EnsureVisible) -> None:
        """Bring ``index`` into view with a row of context above and below it where the list has room for three:
        moving down, the current row sat on the list's last visible line, the images coming next out of sight."""
        if hint == QAbstractItemView.ScrollHint.EnsureVisible and index.isValid() \
                and self.viewport().height() >= 3 * ROW_H:
            model = index.model()
            for near in (index.row() + 1, index.row() - 1):
                if 0 <= near < model.rowCount():
                    super().scrollTo(model.index(near, index.column()), hint)
        super().scrollTo(index, hint)

    def page_rows(self) -> int:
        """Rows one page moves: those fully visible, less one kept in view (at least 1)."""
        return max(1, self.viewport().height() // ROW_H - 1)


def file_name(path: str) -> str:
    return Path(path).name
