"""A layout that lines its items up left to right and wraps them onto further lines where the width runs out.

The re-judge queue's filter rows and buttons use it: in one row each, they made the queue window at least 1365
pixels wide, past the edge of a 1024 screen or of half a 1920 one. A flow wraps instead, so the window's minimum
width is its widest single item's. Keep what belongs together (a label and its box) in one item.
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLayout, QLayoutItem, QWidget

__all__ = ["FlowLayout", "WrapLabel", "pair"]


class FlowLayout(QLayout):
    """Items left to right on as many lines as the width needs, each line as tall as its tallest item and the
    items centred in it; ``right``: each line ends at the right edge (a row of buttons). Its size hint is all
    items on one line; its minimum, the widest item."""

    def __init__(self, parent: QWidget | None = None, *, spacing: int = 6, right: bool = False) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.right = right
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    # QLayout's item list
    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    # sizes
    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), move=False)

    def sizeHint(self) -> QSize:
        shown = self._shown()
        width = sum(i.sizeHint().width() for i in shown) + self.spacing() * max(len(shown) - 1, 0)
        height = max((i.sizeHint().height() for i in shown), default=0)
        return QSize(width, height).grownBy(self.contentsMargins())

    def minimumSize(self) -> QSize:
        size = QSize(0, 0)
        for item in self._shown():
            size = size.expandedTo(item.minimumSize())
        return size.grownBy(self.contentsMargins())

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def _shown(self) -> list[QLayoutItem]:
        return [i for i in self._items if not i.isEmpty()]  # a hidden widget takes no room

    def _place(self, rect: QRect, *, move: bool) -> int:
        """Lay the items out in ``rect`` (``move``: for real); the height they take."""
        inner = rect.marginsRemoved(self.contentsMargins())
        lines: list[list[tuple[QLayoutItem, QSize]]] = [[]]
        used = 0
        for item in self._shown():
            size = item.sizeHint().boundedTo(QSize(inner.width(), item.sizeHint().height()))
            size = size.expandedTo(item.minimumSize())
            if lines[-1] and used + self.spacing() + size.width() > inner.width():
                lines.append([])
                used = 0
            used += (self.spacing() if lines[-1] else 0) + size.width()
            lines[-1].append((item, size))
        y = inner.top()
        for line in lines:
            if not line:
                continue
            height = max(size.height() for _item, size in line)
            width = sum(size.width() for _item, size in line) + self.spacing() * (len(line) - 1)
            x = inner.right() + 1 - width if self.right else inner.left()
            for item, size in line:
                if move:
                    item.setGeometry(QRect(QPoint(x, y + (height - size.height()) // 2), size))
                x += size.width() + self.spacing()
            y += height + self.spacing()
        margins: QMargins = self.contentsMargins()
        return max(y - self.spacing() - inner.top(), 0) + margins.top() + margins.bottom()


class WrapLabel(QLabel):
    """A label that asks for one line and wraps when it gets less (a plain word-wrapped label asks for a few
    words' width and wraps even where the row has room)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)

    def sizeHint(self) -> QSize:
        margins = self.contentsMargins()
        one_line = self.fontMetrics().horizontalAdvance(self.text()) + margins.left() + margins.right() + 2
        return QSize(one_line, super().sizeHint().height())


def pair(parent: QWidget, *widgets: QWidget) -> QWidget:
    """``widgets`` side by side in one flow item (a label and its box stay on one line)."""
    box = QWidget(parent)
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(4)
    for w in widgets:
        row.addWidget(w)
    return box
