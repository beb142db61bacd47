"""Keys and clicks made while the app could not answer are not used.

When the window stops answering (a database that does not reply, seen with a PostgreSQL server that hung for
a minute), the window system keeps the keys pressed meanwhile and hands them over when it answers again. They were
then judged one after the other: Enter and 2 pressed while L007's judgment waited judged L011 and L015, two images
the analyst never saw. :class:`StaleKeys`, a filter on the whole application, drops a key press (shortcuts
included: their ``ShortcutOverride`` is taken, so no shortcut fires) or a mouse press made during such a stall, and
``dropped`` says how many and how long, for the window to tell the analyst.

A stall is what the event loop itself saw, never a guess from clocks alone: a heartbeat timer (:data:`BEAT_MS`)
notes when the loop last ran. Only an event that carries the moment it was pressed is ever dropped (the window
system's events carry one: X11's server time; Qt's offscreen platform and test key presses carry 0; Qt's test
clicks carry made-up times (2, 505, 1008 ms…), so the tests' own fixture keeps a test's clicks from being taken for
a stall's while its code runs for seconds without the loop). One handled while the last
beat is more than :data:`STALE_S` old comes from the burst the window system delivers when a stall ends: it is
dropped; one handled just after the heartbeat has seen the stall end is dropped too when it was pressed during the
stall. The press time runs on
another clock than this process's, so it is placed on this one by the smallest difference between the two seen
so far (the difference of an event handled at once; allowed to creep up by :data:`DRIFT` per second, for clocks
of slightly different rates). Without a stall nothing is ever dropped, whatever the clocks say: a held key whose
repeats all carry the first press's time (Wayland), a press clock that jumps or wraps, or one of another machine
(an X server elsewhere) cannot cost a key. No Qt widgets: a plain ``QObject`` with a timer.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Signal

__all__ = ["BEAT_MS", "STALE_S", "StaleKeys"]

STALE_S = 1.5
"""An event loop that ran no timer for longer than this (seconds) was stalled: input made meanwhile is dropped."""
BEAT_MS = 200
"""The heartbeat: how often the event loop notes that it runs."""
AFTER_S = 2.0
"""An event pressed during the last stall is dropped when handled this soon after the stall's end."""
DRIFT = 0.001
"""How fast (seconds per second) the reference between the press clock and this one may creep up."""

_KEYS = (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride)
_CLICKS = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick)
_INPUTS = frozenset(_KEYS + _CLICKS)  # every event of the application passes the filter: one lookup for the rest


class StaleKeys(QObject):
    """The filter (install it on the ``QApplication``). Signal ``dropped(n, seconds)``: the ``n``-th key or click
    of one stall was dropped, made ``seconds`` before it could be handled."""

    dropped = Signal(int, float)

    def __init__(self, parent: QObject | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._clock = clock
        self._beat = clock()  # when the event loop last ran the heartbeat
        self._stall: tuple[float, float] | None = None  # (start, end) of the last stall the heartbeat saw
        self._base: float | None = None  # this clock minus the press clock, at its smallest (seconds)
        self._base_at = 0.0
        self._count = 0  # inputs dropped since the last one used
        self._last: tuple[int, int, int] | None = None  # the last one dropped (press time, kind, key or button)
        self._timer = QTimer(self)
        self._timer.setInterval(BEAT_MS)
        self._timer.timeout.connect(self.beat)
        self._timer.start()

    def beat(self) -> None:
        """The heartbeat: the event loop runs (a gap longer than :data:`STALE_S` since the last one was a stall)."""
        now = self._clock()
        if now - self._beat > STALE_S:
            self._stall = (self._beat, now)
        self._beat = now

    def pressed_at(self, stamp: int) -> float | None:
        """When an event with press time ``stamp`` (ms) was made, on this process's clock; None when not known."""
        if not stamp:
            return None
        now = self._clock()
        offset = now - stamp / 1000
        if self._base is None or offset < self._base + DRIFT * (now - self._base_at):
            self._base, self._base_at = offset, now
        return stamp / 1000 + self._base

    def stale_for(self, stamp: int) -> float | None:
        """How long an event pressed at ``stamp`` waited, when it was made while the app could not answer; None
        when it was not."""
        now = self._clock()
        pressed = self.pressed_at(stamp)
        if pressed is None:  # no press time: a synthetic event (offscreen, a test), never taken for a stall's
            return None
        if now - self._beat > STALE_S:  # handled in the burst that ends a stall, before the heartbeat ran again
            return now - pressed if self._beat - 1 <= pressed <= now else now - self._beat
        if self._stall is not None:
            start, end = self._stall
            if start <= pressed < end and now - end < AFTER_S:  # pressed during the stall the heartbeat saw
                return now - pressed
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in _INPUTS:
            return False
        stamp = int(event.timestamp())
        waited = self.stale_for(stamp)
        if waited is None:
            self._count = 0  # an input used ends a stall's count
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # taken: no shortcut fires; its KeyPress comes next and is dropped here too
        which = int(event.key()) if kind in _KEYS else int(event.button().value)
        press = (stamp, 0 if kind in _KEYS else 1, which)
        if press != self._last:  # (the same press reaches the window, then the widget)
            self._last = press
            self._count += 1
            self.dropped.emit(self._count, waited)
        return True
