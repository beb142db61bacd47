"""The start page, shown before a batch is open: what to do next, and the batches worked on most recently."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.store.records import BatchSummary
from app.ui import keymap
from app.ui.keymap import claim_keys


class RecentList(QListWidget):
    """The recent batches; claims Enter and the arrows before the window's judging shortcuts do."""

    KEYS = frozenset({Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Home,
                      Qt.Key.Key_End, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Space})
    chosen = Signal(object)  # the BatchSummary to open

    def event(self, event: QEvent) -> bool:
        return claim_keys(event, self.KEYS) or super().event(event)

    def sizeHint(self) -> QSize:
        """Wide enough for a batch's line where there is room; a narrower window gets a narrower list, never a
        wider window: the start page shares the window's minimum width with the judging panes (a minimum of 640
        here kept every window at least 1246 pixels wide, past the edge of a 1024 screen)."""
        return QSize(760, super().sizeHint().height())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space) and self.currentItem():
            self.chosen.emit(self.currentItem().data(Qt.ItemDataRole.UserRole))
        else:
            super().keyPressEvent(event)


def batch_line(b: BatchSummary) -> str:
    """"lot7 — 30 of 40 done (75%): 12 judged, 18 auto-judged · 10 left · last worked on 2026-12-01 10:42". The
    unreadable images, said after it, are not among those to do: a finished batch with 4 of them reads "12 of 12
    done (100%)", not "12 of 16 done (75%)"."""
    done = b.judged + b.auto
    total = b.total - b.unreadable
    share = f"{100 * done / total:.0f}%" if total > 0 else "–"
    text = QCoreApplication.translate(
        "Main", "{name} — {done} of {total} done ({share}): {judged} judged, {auto} auto-judged · {left} left").format(
        name=b.name, done=f"{done:,}", total=f"{total:,}", share=share, judged=f"{b.judged:,}", auto=f"{b.auto:,}",
        left=f"{b.left:,}")  # (20,000, as the status bar says it)
    if b.unreadable:
        text += " · " + QCoreApplication.translate("Main", "{n} unreadable").format(n=f"{b.unreadable:,}")
    when = b.updated_at or b.created_at
    if when is not None:
        text += " · " + QCoreApplication.translate("Main", "last worked on {when}").format(
            when=when.astimezone().strftime("%Y-%m-%d %H:%M"))
    return text


class WelcomePage(QWidget):
    """Shown before a batch is open: open a folder or the demo, or resume a recent batch (Enter)."""

    openDemo = Signal()
    openFolder = Signal()
    openBatch = Signal(object)  # a BatchSummary of the recent list

    def __init__(self, parent=None, has_demo: bool = True) -> None:
        super().__init__(parent)
        title = QLabel(QCoreApplication.translate("Main", "Judge a batch of defect images"), self)
        title.setStyleSheet("font-size: 22px; font-weight: bold;")
        self.text = text = QLabel(self)
        text.setWordWrap(True)
        text.setStyleSheet("color: #9aa0a6; font-size: 14px;")
        self.demo_btn = QPushButton(QCoreApplication.translate("Main", "Open the demo batch"), self)
        self.folder_btn = QPushButton(self)
        for b in (self.demo_btn, self.folder_btn):
            b.setMinimumHeight(40)
            b.setStyleSheet("font-size: 14px; padding: 6px 18px;")
        self.demo_btn.setVisible(has_demo)
        self.demo_btn.clicked.connect(self.openDemo)
        self.folder_btn.clicked.connect(self.openFolder)
        self.recent_title = QLabel(QCoreApplication.translate("Main", "Recent batches (Enter opens one)"), self)
        self.recent_title.setStyleSheet("font-size: 14px; font-weight: bold; margin-top: 18px;")
        self.recent = RecentList(self)
        self.recent.setMinimumWidth(300)
        self.recent.setMaximumWidth(900)
        # a line wider than the list (a narrow window) ends in "…", its whole text in the tooltip: a scroll bar
        # over the one-row list hid the row itself
        self.recent.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.recent.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.recent.setStyleSheet("font-size: 13px;")
        self.recent.chosen.connect(self.openBatch)
        self.recent.itemDoubleClicked.connect(lambda item: self.openBatch.emit(item.data(Qt.ItemDataRole.UserRole)))
        for w in (self.recent_title, self.recent):
            w.setVisible(False)
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        for w in (title, text):
            lay.addWidget(w, 0, Qt.AlignmentFlag.AlignHCenter)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.demo_btn)
        row.addWidget(self.folder_btn)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addWidget(self.recent_title, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.recent, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(2)
        self.set_keys(keymap.defaults())


    @staticmethod
    def _hint(keys) -> str:
        return QCoreApplication.translate(
            "Main", "Open a folder of microscope images (PNG, JPEG, BMP, TIFF), or drop files here.\n"
                    "The model predicts each image; you accept with {accept} or correct with {topk} or {picker}.").format(
            accept=keymap.shown_keys(keys, "accept"), topk=keymap.shown_keys(keys, *(f"top{k}" for k in range(1, 6))),
            picker=keymap.shown_keys(keys, "picker"))

    def set_keys(self, keys) -> None:
        """The analyst's keys (Settings → Keyboard shortcuts) in the hint."""
        self.text.setText(self._hint(keys))
        self.folder_btn.setText(keymap.labelled(QCoreApplication.translate("Main", "Open a folder…"), keys,
                                                "open_folder", gap="  "))
    def set_recent(self, batches: list[BatchSummary]) -> None:
        """Show the recent batches (none: the list stays hidden); the first one is selected, the list focused. The
        same batches again (the 30-second poll: colleagues judged, a lead resumed a type) update their lines in place,
        the row the analyst is on kept (the counts stayed as they were at the start: team lead's walk-through)."""
        shown = [self.recent.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.recent.count())]
        on = self.recent.currentItem().data(Qt.ItemDataRole.UserRole).id if self.recent.currentItem() else None
        if batches and [b.id for b in shown] == [b.id for b in batches]:
            for i, b in enumerate(batches):
                item = self.recent.item(i)
                item.setText(batch_line(b))
                item.setData(Qt.ItemDataRole.UserRole, b)
                item.setToolTip(f"{item.text()}\n{b.source_folder}")
            return
        self.recent.clear()
        for b in batches:
            item = QListWidgetItem(batch_line(b), self.recent)
            item.setData(Qt.ItemDataRole.UserRole, b)
            item.setToolTip(f"{item.text()}\n{b.source_folder}")
        self.recent.setFixedHeight(min(10, max(1, len(batches))) * 28 + 8)
        for w in (self.recent_title, self.recent):
            w.setVisible(bool(batches))
        if batches:  # the batch the analyst was on stays chosen when the poll reorders them (Enter opened another)
            ids = [b.id for b in batches]
            self.recent.setCurrentRow(ids.index(on) if on in ids else 0)
            if self.isVisible() and not shown:
                self.recent.setFocus()
