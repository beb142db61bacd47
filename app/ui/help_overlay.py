"""A translucent overlay listing every keyboard shortcut (F1 or ? to show, any key or click to hide).

The overlay floats over its whole window: it is a child of the top-level window outside any layout, so
opening it changes no pane, splitter or viewer geometry; it follows the window's size while it is open.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QCoreApplication, QEvent, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from app.ui.keymap import actions

_MODIFIER_KEYS = frozenset({Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta,
                            Qt.Key.Key_AltGr, Qt.Key.Key_CapsLock})


def either(first: str, second: str) -> str:
    """Two keys that do the same thing, joined by the UI language's "or"."""
    return QCoreApplication.translate("Help", "{first}  or  {second}").format(first=first, second=second)


# The action ids (app.ui.keymap) behind each row: a row whose actions were given other keys lists those keys.
_ROW_IDS: tuple[tuple[str, ...], ...] = (
    ("accept",), ("top1", "top2", "top3", "top4", "top5"), ("picker",), ("add_label", "remove_label"), ("unknown",),
    ("note",),
    ("previous", "next"), ("first", "last"), ("page_up", "page_down"), ("panel_up", "panel_down"), ("undo",), ("redo",), ("heatmap",), ("side",),
    ("why",), ("top_scope",), ("spectrum_reference", "spectrum_next"), ("opacity_down", "opacity_up"), ("zoom_in", "zoom_out", "fit"),
    ("brightness_up", "brightness_down", "contrast_up", "contrast_down", "gamma_up", "gamma_down", "reset_view"),
    ("references",), ("list_filter",), ("list_pane",), ("skipped",), ("dismiss",), ("notice_action",), ("open_folder", "open_files"), ("model",), ("export",),
    ("settings",), ("queue",), ("dashboard",), ("help",), ("quit",),
)


def shortcut_rows(keymap: Mapping[str, tuple[str, ...]] | None = None) -> list[tuple[str, str]]:
    """(keys, action) pairs, translated; the single source for the overlay and the README. With ``keymap`` (the
    analyst's bindings), a row whose actions have other keys than the defaults lists them."""
    rows = [
        ("Enter / Space", QCoreApplication.translate("Help", "Accept the prediction")),
        ("1 – 5", QCoreApplication.translate("Help", "Choose that Top-k leaf")),
        (either("C", "/"), QCoreApplication.translate("Help", "Open the defect-type picker")),
        ("Shift+C / X", QCoreApplication.translate("Help", "Another defect on the image: add a type / take off the "
                                                           "last")),
        ("U", QCoreApplication.translate("Help", "Mark as unknown / new defect type")),
        ("N", QCoreApplication.translate("Help", "Add a note to the current image")),
        ("← → ↑ ↓", QCoreApplication.translate("Help", "Previous / next image")),
        ("Home / End", QCoreApplication.translate("Help", "First / last image")),
        ("PgUp / PgDn", QCoreApplication.translate("Help", "One page of the list up / down")),
        ("Shift+PgUp / PgDn", QCoreApplication.translate("Help", "Scroll the prediction panel up / down (what is "
                                                                 "below its fold)")),
        ("Ctrl+Z", QCoreApplication.translate("Help", "Undo (across images)")),
        ("Ctrl+Shift+Z", QCoreApplication.translate("Help", "Redo")),
        ("H", QCoreApplication.translate("Help", "Heatmap on / off")),
        ("S", QCoreApplication.translate("Help", "Heatmap side by side")),
        ("W", QCoreApplication.translate("Help", "Why this type? Evidence for Top-1, 2 … 5, then attention again")),
        ("A", QCoreApplication.translate("Help", "Top-5: the determined group's types, or all types")),
        ("I / Shift+I", QCoreApplication.translate("Help", "FTIR spectrum: the next reference over it / the image's "
                                                           "next spectrum")),
        ("[  ]", QCoreApplication.translate("Help", "Heatmap opacity − / +")),
        ("+  −  0", QCoreApplication.translate("Help", "Zoom in / out / fit")),
        ("B  K  G", QCoreApplication.translate("Help", "Brightness, contrast, gamma up (with Shift: down); R resets")),
        ("E", QCoreApplication.translate("Help", "Reference images: judged examples of the Top-1 and Top-2 types")),
        ("F", QCoreApplication.translate("Help", "Filter or sort the list")),
        ("L", QCoreApplication.translate("Help", "Image list shown / hidden (more room for the image)")),
        ("Ctrl+Shift+L", QCoreApplication.translate("Help", "Files left out of the batch, and why")),
        ("Esc", QCoreApplication.translate("Help", "Close the notices over the image")),
        ("Ctrl+Enter", QCoreApplication.translate("Help", "Do what the notice over the image offers (the team's "
                                                          "model: load it; judged meanwhile: back to it)")),
        ("Ctrl+O / Ctrl+Shift+O", QCoreApplication.translate("Help", "Open a folder / image files")),
        ("Ctrl+M", QCoreApplication.translate("Help", "Choose a model")),
        ("Ctrl+E", QCoreApplication.translate("Help", "Export labels")),
        ("Ctrl+,", QCoreApplication.translate("Help", "Settings: language, analyst, keyboard shortcuts, scale bar")),
        ("Q", QCoreApplication.translate("Help", "Re-judge queue (all batches)")),
        ("D", QCoreApplication.translate("Help", "Dashboard: the team's counts, spot-check purity and drift")),
        (either("F1", "?"), QCoreApplication.translate("Help", "Show / hide this help")),
        ("Ctrl+Q", QCoreApplication.translate("Help", "Close the window (judgments are saved as they are made)")),
    ]
    if keymap is None:
        return rows
    defaults = {a.id: a.default for a in actions()}
    out = []
    for (keys, text), ids in zip(rows, _ROW_IDS, strict=True):
        if any(tuple(keymap.get(i, defaults[i])) != defaults[i] for i in ids):
            keys = " / ".join(k for i in ids for k in keymap.get(i, defaults[i])) or "—"
        out.append((keys, text))
    return out


def queue_rows() -> list[tuple[str, str]]:
    """The re-judge queue's keys (its window's F1 or ?), in the UI language."""
    return [
        ("Enter", QCoreApplication.translate("Help", "Accept the selected images' predicted types")),
        ("1 – 5", QCoreApplication.translate("Help", "One selected image: that type of its Top-5 (the details number them)")),
        ("C", QCoreApplication.translate("Help", "Relabel the selected images (pick the type)")),
        ("U", QCoreApplication.translate("Help", "Unknown / new type")),
        ("N", QCoreApplication.translate("Help", "Note on the selected images")),
        ("O", QCoreApplication.translate("Help", "Open the image in the judging window")),
        ("↑ ↓ ← →  PgUp PgDn  Home End", QCoreApplication.translate("Help", "Move (with Shift: select as you go)")),
        ("Ctrl+A", QCoreApplication.translate("Help", "Select every row loaded")),
        ("Space", QCoreApplication.translate("Help", "On a group heading: select the group's images")),
        ("Ctrl+↓ / Ctrl+↑", QCoreApplication.translate("Help", "The next / previous group heading")),
        ("Ctrl+G", QCoreApplication.translate("Help", "Gallery or table")),
        ("Ctrl+Z", QCoreApplication.translate("Help", "Undo the queue's last action (again: the one before)")),
        ("Ctrl+E", QCoreApplication.translate("Help", "Export the queue as a CSV file")),
        ("F5", QCoreApplication.translate("Help", "Reload")),
        ("Tab", QCoreApplication.translate("Help", "The filters, the rows, the details")),
        ("Esc", QCoreApplication.translate("Help", "Back to the rows; on the rows: close the queue")),
        (either("F1", "?"), QCoreApplication.translate("Help", "Show / hide this help")),
    ]


HELP_FONT_PX = (14, 13, 12, 11, 10)
"""The rows' text sizes the help tries, largest first, until its box fits the window."""


class HelpOverlay(QWidget):
    """Covers the top-level window of ``parent`` (never a pane of a layout or splitter); hides on any key
    (a modifier alone does not count: Shift is half of "?") or click."""

    closed = Signal()  # hidden (by a key or a click): the window gives the focus back where the keys work

    def __init__(self, parent: QWidget, keymap: Mapping[str, tuple[str, ...]] | None = None, *,
                 rows: list[tuple[str, str]] | None = None) -> None:
        """``rows``: (keys, what they do) to list instead of the judging window's (:func:`shortcut_rows`); such
        an overlay takes every key while it shows (the window's shortcuts, Esc closing it, wait)."""
        super().__init__(parent.window())
        self._claims = rows is not None
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        box = QWidget(self)
        box.setObjectName("helpBox")
        self.box = box
        self._font_px = 0
        self._set_font(HELP_FONT_PX[0])
        self.grid = QGridLayout(box)
        self.grid.setContentsMargins(28, 20, 28, 20)
        self.grid.setHorizontalSpacing(28)
        self.title = QLabel(QCoreApplication.translate("Help", "Keyboard shortcuts"), box)
        self.title.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.rows: list[tuple[QLabel, QLabel]] = []
        for keys, action in rows if rows is not None else shortcut_rows(keymap):
            k = QLabel(keys, box)
            k.setStyleSheet("font-family: monospace; color: #8ab4f8; font-weight: bold;")
            self.rows.append((k, QLabel(action, box)))
        self.hint = QLabel(QCoreApplication.translate("Help", "Press any key or click to close"), box)
        self.hint.setStyleSheet("color: #9aa0a6; font-size: 12px;")
        self.columns = 0
        self._one_column: int | None = None  # the box's height with one column pair: the rows never change
        self._lay_out(1)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(1)
        self.parentWidget().installEventFilter(self)
        self.hide()

    def _lay_out(self, columns: int) -> None:
        """The rows in ``columns`` pairs of key and action columns, filled top to bottom then left to right."""
        if columns == self.columns:
            return
        self.columns = columns
        for widget in (self.title, self.hint, *(w for row in self.rows for w in row)):
            self.grid.removeWidget(widget)
        per = -(-len(self.rows) // columns)
        self.grid.addWidget(self.title, 0, 0, 1, 2 * columns)
        for n, (keys, action) in enumerate(self.rows):
            top = Qt.AlignmentFlag.AlignTop  # the keys beside the first line of an action that wraps
            self.grid.addWidget(keys, 1 + n % per, 2 * (n // per), top)
            self.grid.addWidget(action, 1 + n % per, 2 * (n // per) + 1, top)
        self.grid.addWidget(self.hint, per + 1, 0, 1, 2 * columns)

    def _set_font(self, px: int) -> None:
        """The text size of the rows (the title and the hint keep theirs); the measures taken at another size go."""
        if px != self._font_px:
            self._font_px, self._one_column = px, None
            self.box.setStyleSheet("#helpBox { background: #2b2d31; border-radius: 10px; }"
                                   f"QLabel {{ color: #e8eaed; font-size: {px}px; }}")

    def _fit(self) -> None:
        """Cover the window; two column pairs when one is taller than the window (a laptop's 768 pixels), the
        action texts wrapped when the pairs side by side would be wider than the window, and a smaller text while
        the wrapped box is still taller than the window (at 1366 × 768 and 125 % the wrapped rows were squeezed to
        half their height, their lines cut: analyst's walk-through). Under about 1000 × 500 the smallest text may
        still not fit."""
        for px in HELP_FONT_PX:
            self._set_font(px)
            self._fit_at_this_size()
            if self._box_height() <= self.height() - 24:
                return

    def _box_height(self) -> int:
        """The box's height with its wrapped rows at their widths (a plain size hint leaves wrapping out)."""
        grid = self.grid
        return grid.totalHeightForWidth(self.box.sizeHint().width()) if grid.hasHeightForWidth() else \
            self.box.sizeHint().height()

    def _fit_at_this_size(self) -> None:
        self.setGeometry(self.parentWidget().rect())
        if self._one_column is None:  # measured once, when shown (the style sheet's fonts are in place then)
            self._lay_out(1)
            self._one_column = self.box.sizeHint().height()
        columns = 2 if self._one_column > self.height() - 24 else 1
        self._lay_out(columns)
        natural = self._unwrapped()
        if self.box.sizeHint().width() > self.width() - 24:  # each action's column gets an equal share of the rest
            grid, per = self.grid, -(-len(self.rows) // columns)
            parts = [self.rows[i:i + per] for i in range(0, len(self.rows), per)]
            keys = sum(max(k.sizeHint().width() for k, _a in part) for part in parts)
            margins = grid.contentsMargins().left() + grid.contentsMargins().right()
            spacing = (2 * columns - 1) * grid.horizontalSpacing()
            room = max((self.width() - 24 - margins - spacing - keys) // columns, 120)
            for (_keys, action), width in zip(self.rows, natural, strict=True):
                action.setWordWrap(width > room)
                action.setFixedWidth(min(width, room))  # a wrapped label would otherwise take Qt's narrow guess

    def _unwrapped(self) -> list[int]:
        """Every action text on one line again; their widths so."""
        for _keys, action in self.rows:
            action.setWordWrap(False)
            action.setMinimumWidth(0)
            action.setMaximumWidth(16777215)
        return [action.sizeHint().width() for _keys, action in self.rows]

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self._fit()
            self.show()
            self.raise_()
            self.setFocus()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self._fit()
        return False

    def showEvent(self, event) -> None:
        self._fit()
        super().showEvent(event)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0, 150))

    def event(self, event: QEvent) -> bool:
        if self._claims and event.type() == QEvent.Type.ShortcutOverride:
            event.accept()  # the key closes the help, and does nothing else
            return True
        return super().event(event)

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self.closed.emit()

    def keyPressEvent(self, event) -> None:
        if event.key() not in _MODIFIER_KEYS:
            self.hide()
        event.accept()

    def mousePressEvent(self, event) -> None:
        self.hide()
