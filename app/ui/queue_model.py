"""The re-judge queue's item model: the rows of :class:`app.services.queue.QueuePage`, the column texts and
colours, "predicted type" or "determined node" headings in grouped mode, and page-by-page loading (the view
fetches the pages).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import QAbstractTableModel, QCoreApplication, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QStyle, QTableView

from app.services.queue import QueuePage, QueueRow
from app.store.errors import JudgmentConflictError
from app.store.records import same_decision
from app.ui.style import STATE_COLOURS, listed, note_author, reason_label, state_label, their_judgment


def set_names(leaf_name: Callable[[str | None], str], leaves: Sequence[str]) -> str:
    """Several leaves as one text, ``Metal particle + Scratch`` (a multi-label set); the name of no leaf when empty."""
    return " + ".join(map(leaf_name, leaves)) if leaves else leaf_name(None)


def age_text(age: dt.timedelta) -> str:
    """A short waiting time: minutes, hours or days."""
    minutes = max(0, int(age.total_seconds() // 60))
    if minutes < 60:
        return QCoreApplication.translate("Queue", "{n} min").format(n=minutes)
    if minutes < 48 * 60:
        return QCoreApplication.translate("Queue", "{n} h").format(n=minutes // 60)
    return QCoreApplication.translate("Queue", "{n} d").format(n=minutes // (24 * 60))


GROUPINGS: tuple[str, ...] = ("leaf", "determined")
"""What grouped mode groups by: the predicted leaf, or the node the model determined (hierarchical routing)."""


COLUMN_WIDTHS = (210, 190, 90, 230, 110, 120, 80)
"""The queue table's columns (file, predicted, confidence, reasons, new-type score, batch, waiting) at ease; the
state column stretches over the rest. The predicted type is the widest after the file and the reasons: at 150
leaves "Thin photoresist r…" and "Stainless-steel pa…" were cut while the score and the batch had room to spare."""
COLUMN_MINIMUMS = (120, 140, 90, 150, 110, 80, 80)
STATE_ROOM = 110
SQUEEZE_FLOOR = 0.5
"""Where even the minimums do not fit (1366 × 768 at 125 %: a 700-px table), every column shrinks in proportion,
down to this share of its minimum; its text is cut with "…"."""


HEADED_COLUMNS = (2, 4, 6)
"""The columns of short numbers (confidence, new-type score, waiting), whose headings :func:`fitted_widths` keeps
whole (``floors``)."""


def fitted_widths(room: int, floors: Sequence[int] = ()) -> list[int]:
    """The columns' widths in a table ``room`` pixels wide: :data:`COLUMN_WIDTHS`, or where they would not fit
    beside the state column, the wide ones narrowed in proportion to what each can give down to its minimum (a
    1440-px screen showed the queue's last columns only by scrolling sideways), and past that all of them, state
    column included, down to :data:`SQUEEZE_FLOOR` of their minimums (the waiting and state columns lay behind a
    sideways scroll at 125 %).

    ``floors``: per column, the width its heading needs (0: none); a column given one is never narrower (at 1366
    x 768 and 125 % the headings read "lew-type scor" and "Confidenc", their numbers having room to spare), and
    past the minimums the other columns give way for it."""
    floors = list(floors) + [0] * (len(COLUMN_WIDTHS) - len(floors))
    widths = [max(w, f) for w, f in zip(COLUMN_WIDTHS, floors, strict=True)]
    minimums = [max(m, f) for m, f in zip(COLUMN_MINIMUMS, floors, strict=True)]
    excess = sum(widths) + STATE_ROOM - room
    give = [w - m for w, m in zip(widths, minimums, strict=True)]
    if excess <= 0:
        return widths
    if excess <= sum(give):
        return [w - round(excess * g / sum(give)) for w, g in zip(widths, give, strict=True)]
    firm = sum(m for m, f in zip(minimums, floors, strict=True) if f)
    rest = sum(m for m, f in zip(minimums, floors, strict=True) if not f) + STATE_ROOM
    scale = max(SQUEEZE_FLOOR, (room - firm) / rest)
    return [m if f else int(m * scale) for m, f in zip(minimums, floors, strict=True)]


def heading_floors(table: QTableView) -> list[int]:
    """Per column of ``table``, the width :data:`HEADED_COLUMNS`' headings need whole (text, margins, sort arrow),
    else 0 (:func:`fitted_widths`' ``floors``)."""
    header, model = table.horizontalHeader(), table.model()
    metric = header.style().pixelMetric
    pad = 2 * metric(QStyle.PixelMetric.PM_HeaderMargin) + metric(QStyle.PixelMetric.PM_HeaderMarkSize) + 8
    return [header.fontMetrics().horizontalAdvance(str(model.headerData(c, Qt.Orientation.Horizontal))) + pad
            if c in HEADED_COLUMNS and model is not None else 0 for c in range(len(COLUMN_WIDTHS))]


def decided_by(rows: Sequence[QueueRow], analyst: str) -> tuple[list[QueueRow], list[QueueRow]]:
    """The rows ``analyst`` decided: ``(otherwise than the model's call (corrected, unknown), as it)``. Enter leaves
    both as they are, in the queue as in the judging window: selected by the state filter, Enter made the first the
    model's call, and wrote the second again (another identical row and undo step each time)."""
    own = [r for r in rows if r.state != "rejudge" and r.judged_by == analyst]
    agrees = {r.image_id for r in own if same_decision(r.judged_set, r.state == "unknown", r.predicted_set)}
    # (a correction a newer model agrees with is accepted, as in the judging window: a new decision, counted for
    # that model: review)
    return [r for r in own if r.image_id not in agrees], [r for r in own if r.image_id in agrees
                                                          and r.state != "corrected"]


def conflict_text(exc: JudgmentConflictError, undo: bool, file_name: Callable[[int], str],
                  leaf_name: Callable[[str], str | None]) -> str:
    """A refusal for a colleague's judgment made meanwhile, in the UI language, with the file (``file_name`` of an
    image id) and type names."""
    theirs = exc.current
    if undo and theirs is not None and exc.note:  # (an undo of a note a colleague's note was written over; its
        text = QCoreApplication.translate(  # author named when the latest row wrote it)
            "Queue", "Nothing undone: {who} changed the note of {file} since ({when}).") if note_author(theirs) \
            else QCoreApplication.translate("Queue", "Nothing undone: the note of {file} was changed since.")
        return text.format(file=file_name(theirs.image_id), **their_judgment(theirs, leaf_name, note=True))
    if undo and theirs is not None:
        return QCoreApplication.translate(
            "Queue", "Nothing undone: {file} was judged since by {who} ({when}): {what}.").format(
            file=file_name(theirs.image_id), **their_judgment(theirs, leaf_name))
    if exc.note and theirs is not None:  # a note written over a colleague's unseen: refused, the text kept
        return QCoreApplication.translate(
            "Queue", "Not saved: {who} changed the note meanwhile ({when}): “{theirs}”. Your text is kept: N on the "
                     "same selection brings it back.").format(
            theirs=theirs.note or QCoreApplication.translate("Queue", "no note"),
            **their_judgment(theirs, leaf_name, note=True))
    if exc.count:  # a bulk action some of whose images were decided meanwhile
        n, who = exc.count, ", ".join(exc.deciders)
        return (QCoreApplication.translate("Queue", "Nothing saved: 1 of the selected images was judged meanwhile "
                                                    "(by {who}); the queue shows it as it is now.") if n == 1 else
                QCoreApplication.translate("Queue", "Nothing saved: {n} of the selected images were judged "
                                                    "meanwhile (by {who}); the queue shows them as they are now.")
                ).format(n=n, who=who)
    return str(exc)


HEADING_LIT = "#35507a"
"""A group heading's fill under the cursor (the others' is grey)."""


@dataclass(frozen=True)
class GroupRow:
    """A heading in grouped mode: the rows below share ``key`` (their predicted leaf, or their determined node when
    ``by == "determined"``; None: no leaf / nothing determined); ``count`` is the whole queue's, not the page's
    (None until the counts arrive, after the rows)."""

    key: str | None
    count: int | None
    by: str = "leaf"


class QueueTableModel(QAbstractTableModel):
    """Rows of :class:`QueueRow` (and :class:`GroupRow` headings when grouped); more load on demand.

    Signals:
        moreWanted(int offset): the view scrolled to the end and the queue has more rows.
    """

    moreWanted = Signal(int)
    RowRole = Qt.ItemDataRole.UserRole + 1
    COLUMNS = ("file", "predicted", "confidence", "reasons", "unknown", "batch", "age", "state")
    SORT_BY_COLUMN: ClassVar[dict[int, str]] = {1: "leaf", 2: "confidence", 3: "reason", 5: "batch", 6: "age"}

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[QueueRow | GroupRow] = []
        self.total: int | None = 0  # None: not counted yet (the rows come first, the counts next)
        self.blind_waiting = 0  # spot checks waiting in their batches (judged blind there, never listed here)
        self.other_model = 0  # images waiting under another model version's prediction only (not listed here)
        self._full = False  # the last page was full: there may be more
        self.loaded = 0  # queue rows loaded (headings excluded)
        self.jump_pending = None  # the view whose Ctrl+Down waits for the next page (queue_gallery.jump_to_group)
        self.grouped: str | None = None  # None, or one of GROUPINGS
        self.group_counts: dict[str | None, int] | None = {}
        self.leaf_name = lambda leaf: leaf or "—"
        self.is_leaf = lambda node: False  # the view sets both from its taxonomy
        self.waiting_only = True  # the view's state filter: headings count "waiting" images, else "images"
        self.judged_only = False  # the state filter shows no waiting image: a heading says no "pick the type"
        self._waiting = False
        self.current = -1  # the views' current row (:meth:`set_current`): a heading there is drawn lit

    def set_current(self, row: int) -> None:
        """The views' cursor moved to ``row``: a heading it leaves or reaches is drawn again (a heading with the
        cursor on it looked like any other, and after Ctrl+Home or Ctrl+Down nothing showed where it was)."""
        before, self.current = self.current, row
        for at in (before, row):
            if 0 <= at < len(self.rows) and isinstance(self.rows[at], GroupRow):
                self.dataChanged.emit(self.index(at, 0), self.index(at, self.columnCount() - 1))

    # -- Qt model API --------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        return (
            QCoreApplication.translate("Queue", "File"),
            QCoreApplication.translate("Queue", "Predicted"),
            QCoreApplication.translate("Queue", "Confidence"),
            QCoreApplication.translate("Queue", "Reasons"),
            QCoreApplication.translate("Queue", "New-type score"),
            QCoreApplication.translate("Queue", "Batch"),
            QCoreApplication.translate("Queue", "Waiting"),
            QCoreApplication.translate("Queue", "State"),
        )[section]

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if isinstance(self.rows[index.row()], GroupRow):
            return Qt.ItemFlag.ItemIsEnabled
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == self.RowRole:
            return row
        if isinstance(row, GroupRow):
            return self._group_data(row, index.column(), role, lit=index.row() == self.current)
        col = self.COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.path}\n{row.batch_name}" if col in ("file", "batch") else self._text(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in ("confidence", "unknown", "age"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col == "state":
            held = row.held_by and row.state == "rejudge"  # a colleague is on it: yellow, as on its tile
            return QBrush(QColor("#fdd663" if held else STATE_COLOURS.get(row.state, "#9aa0a6")))
        if role == Qt.ItemDataRole.ForegroundRole and col == "confidence" and row.confidence is not None:
            colour = "#81c995" if row.confidence >= 0.9 else "#fdd663" if row.confidence >= 0.6 else "#f28b82"
            return QBrush(QColor(colour))
        return None

    def group_title(self, row: GroupRow) -> str:
        """A heading's text: "Bubble — 3 waiting", "Particle (determined) · pick the type — 12 waiting"."""
        if row.by != "determined":
            name = self.leaf_name(row.key)
        elif row.key is None:
            name = QCoreApplication.translate("Queue", "Nothing determined")
        elif self.is_leaf(row.key) or self.judged_only:  # a type the model is sure of, sent to a person by the
            # purity monitor; or judged images only, which have their type (nothing to pick)
            name = QCoreApplication.translate("Queue", "{node} (determined)").format(node=self.leaf_name(row.key))
        else:
            name = QCoreApplication.translate("Queue", "{node} (determined) · pick the type").format(
                node=self.leaf_name(row.key))
        if row.count is None:
            return name
        if self.waiting_only:
            return QCoreApplication.translate("Queue", "{name} — {n} waiting").format(name=name, n=row.count)
        if row.count == 1:
            return QCoreApplication.translate("Queue", "{name} — 1 image").format(name=name)
        return QCoreApplication.translate("Queue", "{name} — {n} images").format(name=name, n=row.count)

    def _group_data(self, row: GroupRow, column: int, role: int, *, lit: bool = False) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and column == 0:
            return ("▶ " if lit else "") + self.group_title(row)
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return QCoreApplication.translate("Queue", "Click (or Space) to select the group's images; Ctrl+Down and "
                                                       "Ctrl+Up go to the next and the previous group")
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(QColor(HEADING_LIT if lit else "#3c4043"))
        return None

    def _text(self, row: QueueRow, col: str) -> str:
        if col == "file":
            return Path(row.path).name if row.path else f"#{row.image_id}"
        if col == "predicted":
            return set_names(self.leaf_name, row.predicted_set)
        if col == "confidence":
            return "" if row.confidence is None else f"{row.confidence * 100:.1f}%"
        if col == "reasons":
            return listed(reason_label(r) for r in row.reasons)
        if col == "unknown":
            return "" if row.unknown_score is None else f"{row.unknown_score:.2f}"
        if col == "batch":
            return row.batch_name
        if col == "age":  # a judged image waits no longer (it read "3 min" beside "corrected")
            return age_text(row.age()) if row.state == "rejudge" else "—"
        if row.state != "rejudge" and row.judged_leaf and set(row.judged_set) != set(row.predicted_set):
            return f"{state_label(row.state)} → {set_names(self.leaf_name, row.judged_set)}"
        if row.held_by and row.state == "rejudge":
            return QCoreApplication.translate("Queue", "{who} holds it").format(who=row.held_by)
        return state_label(row.state)

    # -- content -------------------------------------------------------------------------------
    def set_page(self, page: QueuePage, *, grouped: str | None, append: bool = False,
                 keep_counts: bool = False) -> None:
        """Show a first page (``append=False``) or add the next one; ``grouped``: None or one of
        :data:`GROUPINGS` (the page must be sorted that way). A page without counts (``total`` None) keeps those
        of the first page, or leaves them unknown until :meth:`set_counts` (``keep_counts``: the previous counts
        stay shown meanwhile: a quiet reload of the same filters)."""
        self._waiting = False
        self._full = len(page.rows) >= page.limit
        if page.total is not None:
            self.total, self.blind_waiting, self.other_model = page.total, page.blind_waiting, page.other_model
            self.group_counts = dict(page.counts_by_determined if grouped == "determined" else page.counts_by_leaf)
        elif not append and not (keep_counts and grouped == self.grouped):
            self.total, self.group_counts = None, None
        new: list[QueueRow | GroupRow] = []
        last = self._last_key(grouped) if append else object()
        for row in page.rows:
            key = self.group_key(row, grouped)
            if grouped and key != last:
                new.append(GroupRow(key, None if self.group_counts is None else self.group_counts.get(key, 0), grouped))
                last = key
            new.append(row)
        if append:
            if new:
                self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(new) - 1)
                self.rows.extend(new)
                self.loaded += len(page.rows)
                self.endInsertRows()
            return
        self.beginResetModel()
        self.grouped = grouped
        self.rows = new
        self.loaded = len(page.rows)
        self.current = -1  # (the views set their cursor again, if they keep one)
        self.endResetModel()

    @staticmethod
    def group_key(row: QueueRow, grouped: str | None) -> str | None:
        return row.determined if grouped == "determined" else row.leaf

    def _last_key(self, grouped: str | None) -> object:
        for row in reversed(self.rows):
            if isinstance(row, QueueRow):
                return self.group_key(row, grouped)
        return object()

    def set_counts(self, page: QueuePage) -> None:
        """The total and group counts arrived (a page of counts, :meth:`app.services.queue.QueueService.counts`)."""
        self.total, self.blind_waiting, self.other_model = page.total, page.blind_waiting, page.other_model
        grouped = self.grouped
        self.group_counts = dict(page.counts_by_determined if grouped == "determined" else page.counts_by_leaf)
        for i, row in enumerate(self.rows):
            if isinstance(row, GroupRow):
                self.rows[i] = GroupRow(row.key, self.group_counts.get(row.key, 0), row.by)
                self.dataChanged.emit(self.index(i, 0), self.index(i, self.columnCount() - 1))

    def group_rows(self, heading: int) -> list[int]:
        """The row numbers of the queue rows under the heading at ``heading`` (those loaded so far)."""
        out = []
        for i in range(heading + 1, len(self.rows)):
            if isinstance(self.rows[i], GroupRow):
                break
            out.append(i)
        return out

    def queue_row(self, row: int) -> QueueRow | None:
        item = self.rows[row] if 0 <= row < len(self.rows) else None
        return item if isinstance(item, QueueRow) else None

    def canFetchMore(self, parent: QModelIndex) -> bool:
        if parent.isValid() or self._waiting:
            return False
        return self._full and (self.total is None or self.loaded < self.total)

    def fetchMore(self, parent: QModelIndex) -> None:
        if self.canFetchMore(parent):
            self._waiting = True
            self.moreWanted.emit(self.loaded)

    def fetch_failed(self) -> None:
        """The page asked for with ``moreWanted`` did not come: scrolling to the end may ask again."""
        self._waiting = False
