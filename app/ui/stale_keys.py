"""Keys pressed while the app could not answer are not used.

When the window stops answering (a database that does not reply, seen with a PostgreSQL server that hung for
a minute), the window system keeps the keys pressed meanwhile and hands them over when it answers again. They were
then judged one after the other: Enter and 2 pressed while L007's judgment waited judged L011 and L015, two images
the analyst never saw. Every key event carries the time it was pressed (X11's server time, Windows' message time),
so :class:`StaleKeys`, a filter on the whole application, knows how long a key waited: one that waited longer than
:data:`STALE_S` is dropped, shortcuts included (their ``ShortcutOverride`` is taken, so no shortcut fires), and
``dropped`` says how many and how long, for the window to tell the analyst.

The press time runs on another clock than this process's (its zero is the X server's start, or the computer's),
so the wait of a key is its ``monotonic - timestamp`` less the smallest such difference seen, the wait of a key
handled at once. A platform that gives no press time (0: Qt's offscreen platform, test key clicks) is never
filtered; a jump of the clocks (the 49-day wrap of Windows' 32-bit time) starts the reference again instead of
dropping every key after it. No Qt widgets: a plain ``QObject``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Signal

__all__ = ["RESET_S", "STALE_S", "StaleKeys"]

STALE_S = 1.5
"""A key that waited longer than this (seconds) was pressed while the app could not answer: it is dropped."""
RESET_S = 600.0
"""A wait longer than this is a jump of the clocks, not a wait: the reference starts again and the key counts."""

_KEYS = (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride)


class StaleKeys(QObject):
    """The filter (install it on the ``QApplication``). Signal ``dropped(n, seconds)``: the ``n``-th key of one
    wait was dropped, pressed ``seconds`` before it could be handled."""

    dropped = Signal(int, float)

    def __init__(self, parent: QObject | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._clock = clock
        self._base: int | None = None  # the smallest (now - press time) seen, in ms: a key handled at once
        self._count = 0  # keys dropped since the last one handled
        self._last: tuple[int, int] | None = None  # (press time, key) of the last one dropped

    def wait_of(self, stamp: int) -> float | None:
        """Seconds a key pressed at ``stamp`` (the event's timestamp, ms) has waited; None when not known."""
        if not stamp:
            return None
        offset = int(self._clock() * 1000) - int(stamp)
        if self._base is None or offset < self._base or offset - self._base > RESET_S * 1000:
            self._base = offset
            return 0.0
        return (offset - self._base) / 1000

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() not in _KEYS:
            return False
        wait = self.wait_of(event.timestamp())
        if wait is None or wait < STALE_S:
            if wait is not None and event.type() == QEvent.Type.KeyPress:
                self._count = 0  # a key handled at once ends a wait
            return False
        if event.type() == QEvent.Type.ShortcutOverride:
            event.accept()  # taken: no shortcut fires; its KeyPress comes next and is dropped here too
        press = (int(event.timestamp()), int(event.key()))
        if press != self._last:  # (the same press reaches the window, then the widget)
            self._last = press
            self._count += 1
            self.dropped.emit(self._count, wait)
        return True
