"""The main window's right column: the prediction panel over the FTIR spectrum and the similar cases.

A vertical splitter that keeps the prediction panel (the path and the Top-5; its judging buttons sit under the
whole column, :func:`with_actions`) whole when a
pane below it appears. Qt gives a pane shown again its own size hint and takes it from the stretching panel: on
an 880-pixel window, an image with a spectrum left the Top-5 two rows and a scroll bar. Now, when the spectrum or
the similar cases appear, the panel gets back what its contents want, taken from the spectrum pane first (its chart
shrinks) and never below a pane's minimum. If the panel is still short, it goes compact (no ancestry line under
each Top-5 row, no model line: the status bar names the model), and so do the panes that can (``set_compact``: the
spectrum's "no reference yet" hint hidden, "nothing similar yet" folded into its title line). Still short, the
similar cases fold onto their title line too (``set_tight``: the nearest case and how many more); what still does
not fit scrolls. The same when a
pane's contents grow (the similar cases' first tiles) and when the window is resized; room the panel does not need
goes back to the panes, up to their own heights. Once the analyst drags a handle, the heights are theirs: kept
as they are, and the next window starts with them (:meth:`app.ui.side_actions.SideActions.restore_layout`; heights
never dragged are not stored, so a new window balances again), until Settings → "Fit the right column again"
(:meth:`RightColumn.release`).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

TIGHT_MARGIN = 12
"""Pixels the compact panel may lack before the panes fold further (a part of a line scrolls; a row does not)."""


class RightColumn(QSplitter):
    """The prediction panel first (it must have ``wanted_height()``), then the panes below it, the one to shrink
    first second: given when made, or with ``addWidget``."""

    def __init__(self, parent: QWidget | None = None, *panes: QWidget) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self._pending = False
        self._dragged = False
        self.splitterMoved.connect(self._moved)
        for pane in panes:
            self.addWidget(pane)

    def addWidget(self, widget: QWidget) -> None:
        super().addWidget(widget)
        self.setStretchFactor(self.count() - 1, int(self.count() == 1))  # the panel takes what is left
        if self.count() > 1:
            widget.installEventFilter(self)
        elif hasattr(widget, "contentsChanged"):  # the panel shows another image: it may want more room
            widget.contentsChanged.connect(self._schedule)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Show, QEvent.Type.Hide, QEvent.Type.LayoutRequest):
            self._schedule()
        return False

    def resizeEvent(self, event) -> None:  # the window made taller or shorter: compact or not again
        super().resizeEvent(event)
        self._schedule()

    def _schedule(self) -> None:
        """Balance once the current events are handled (after the splitter has placed a pane; one pass for
        several changes)."""
        if not self._pending and not self._dragged:
            self._pending = True
            QTimer.singleShot(0, self, self.balance)  # (with self: not after it is deleted)

    def _moved(self, *_: int) -> None:
        self._dragged = True

    @property
    def dragged(self) -> bool:
        """Whether the heights are the analyst's (dragged now, or restored from a drag)."""
        return self._dragged

    def release(self) -> None:
        """Forget the analyst's heights (Settings → Fit the right column again): balanced from now on."""
        self._dragged = False
        self._schedule()

    def keep(self, sizes: list[int]) -> None:
        """Heights the analyst dragged in an earlier window: set, and kept like a drag."""
        self.setSizes(sizes)
        self._dragged = True

    def balance(self) -> None:
        """Give the prediction panel what its contents want, from the panes below (module doc)."""
        self._pending = False
        if self.count() < 2 or not self.isVisible() or self._dragged:
            return
        sizes = self.sizes()
        for i in range(1, self.count()):
            if not self.widget(i).isVisible() and sizes[i] > 0:
                # a pane just hidden may still hold its height (the splitter gives it away later): the panel's room
                # now, else the panel stays compact beside an empty gap (seen at 1440 × 880: P001, with a
                # spectrum, then P004, without)
                sizes[0] += sizes[i]
                sizes[i] = 0
            elif self.widget(i).isVisible() and sizes[i] == 0:  # a pane just shown: its own height, as Qt gives
                pane = self.widget(i)
                sizes[i] = max(pane.sizeHint().height(), pane.minimumSizeHint().height(), pane.minimumHeight())
                sizes[0] -= sizes[i]
            elif self.widget(i).isVisible():  # a pane whose least height grew (similar cases came: their tiles)
                pane = self.widget(i)  # holds that much as soon as the splitter lays out again: counted now, else
                least = max(pane.minimumSizeHint().height(), pane.minimumHeight())  # the panel lost it after
                if sizes[i] < least:  # this pass and the tiles hid its Top-5 and routing reason (zh_TW walk-through)
                    sizes[0] -= least - sizes[i]
                    sizes[i] = least
        short = self.widget(0).wanted_height() - sizes[0]
        for i in range(1, self.count()):
            pane = self.widget(i)
            if short <= 0:
                break
            if not pane.isVisible() or sizes[i] == 0:
                continue
            give = max(0, min(short, sizes[i] - pane.minimumSizeHint().height(), sizes[i] - pane.minimumHeight()))
            sizes[i] -= give
            sizes[0] += give
            short -= give
        for i in range(1, self.count()):  # room to spare: the panes grow back towards their own heights
            pane = self.widget(i)
            if short >= 0:
                break
            if pane.isVisible() and sizes[i] > 0:
                give = max(0, min(-short, pane.sizeHint().height() - sizes[i]))
                sizes[i] += give
                sizes[0] -= give
                short += give
        if sizes != self.sizes():
            self.setSizes(sizes)
        # Short as if nothing were compact (the room compact panes free now counted back), so that going compact,
        # which frees that room, does not end compact on the next pass.
        panes = [self.widget(i) for i in range(1, self.count())]
        spare = sum(pane.spare_height() for pane in panes if pane.isVisible() and hasattr(pane, "spare_height"))
        folded = sum(pane.tight_spare() for pane in panes if pane.isVisible() and hasattr(pane, "tight_spare"))
        compact = short + spare + folded > 0
        self.widget(0).set_compact(compact)
        for pane in panes:
            if hasattr(pane, "set_compact"):
                pane.set_compact(compact)
        # Still short when compact (a laptop screen, similar cases shown: two Top-5 rows and the routing reason
        # scrolled away under a half-empty strip of tiles): the panes that can fold further do (``set_tight``: the
        # similar cases on their title line). Counted as above, the room they free now counted back.
        saving = getattr(self.widget(0), "compact_saving", None)
        lacking = short + folded - (saving() if saving is not None else 0)
        tight = compact and lacking > TIGHT_MARGIN
        for pane in panes:
            if hasattr(pane, "set_tight"):
                pane.set_tight(tight)


def with_actions(column: RightColumn, actions: QWidget) -> QWidget:
    """The column, and the judging buttons (:attr:`app.ui.prediction_panel.PredictionPanel.actions`) under it, at
    the column's bottom: the panes above them come and go and change height from image to image, the buttons stay
    where they are (under the panel they moved up and down with the spectrum and the similar cases)."""
    panel = actions.parentWidget().layout()
    margins = panel.contentsMargins()  # the panel's sides: the buttons under its text
    # no more room than under the panel: at 1366 x 768 and 125 % every pixel counts towards the fifth Top-5 row (the
    # panel's bottom margin went with the buttons: the splitter's handle parts it from the pane below)
    panel.setContentsMargins(margins.left(), margins.top(), margins.right(), 0)
    actions.layout().setContentsMargins(margins.left(), 2, margins.right(), margins.bottom())
    box = QWidget(column.parentWidget())
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(column, 1)
    layout.addWidget(actions)
    return box
