"""Keys and clicks made while the app could not answer are dropped, not judged (a team walk: with a PostgreSQL
server that hung for a minute, Enter and 2 pressed meanwhile judged two images the analyst never saw)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QLineEdit

from app.ui.stale_keys import AFTER_S, STALE_S, StaleKeys


class Clock:
    def __init__(self) -> None:
        self.s = 10_000_000.0  # this process's clock; the press times below run on another one, 1,000 s behind

    def __call__(self) -> float:
        return self.s


OFFSET_MS = 1_000_000


def _key(kind: QEvent.Type, key: Qt.Key, text: str, pressed_s: float | None) -> QKeyEvent:
    event = QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, text)
    event.setTimestamp(0 if pressed_s is None else int(pressed_s * 1000) - OFFSET_MS)
    return event


class Edit(QLineEdit):
    """A line edit whose events pass the filter under test only: the test's press times run on the test's clock, and
    the windows other tests left open have filters of their own on the application (on the real clock)."""

    def __init__(self, keys: StaleKeys) -> None:
        super().__init__()
        self.keys = keys

    def send(self, event) -> None:
        if not self.keys.eventFilter(self, event):
            self.event(event)


def _filter(qtbot):
    clock = Clock()
    keys = StaleKeys(clock=clock)
    keys._timer.stop()  # the test beats by hand, on its own clock
    edit = Edit(keys)
    qtbot.addWidget(edit)
    seen: list[tuple[int, float]] = []
    keys.dropped.connect(lambda n, wait: seen.append((n, wait)))
    return clock, keys, edit, seen


def _press(edit, key, text, pressed_s):
    edit.send(_key(QEvent.Type.KeyPress, key, text, pressed_s))


def test_keys_pressed_during_a_stall_are_dropped_and_counted_and_the_next_ones_typed(qtbot):
    clock, keys, edit, seen = _filter(qtbot)
    _press(edit, Qt.Key.Key_X, "x", clock.s)  # handled at once: the reference between the clocks
    clock.s += 0.2
    keys.beat()
    _press(edit, Qt.Key.Key_Y, "y", clock.s - 0.02)
    assert edit.text() == "xy" and seen == []
    # a judgment waits 8 s on the database: the loop runs nothing; the keys pressed meanwhile arrive in a burst
    stall = clock.s
    clock.s += 8
    _press(edit, Qt.Key.Key_A, "a", stall + 3)
    _press(edit, Qt.Key.Key_Return, "\r", stall + 5)
    edit.send(_key(QEvent.Type.KeyPress, Qt.Key.Key_Return, "\r", stall + 5))  # the same press at a parent
    assert edit.text() == "xy"
    assert [n for n, _ in seen] == [1, 2] and seen[0][1] == pytest.approx(5.0) and seen[1][1] == pytest.approx(3.0)
    # the heartbeat runs again (it saw the stall); a key pressed during the stall and handled now is dropped too,
    # and a shortcut's override of it is taken (accepted), so no shortcut fires
    clock.s += 0.01
    keys.beat()
    late = _key(QEvent.Type.ShortcutOverride, Qt.Key.Key_2, "2", stall + 7)
    late.ignore()
    assert keys.eventFilter(edit, late) is True and late.isAccepted() and seen[-1][0] == 3
    # a click on Accept made during the stall is not used either
    click = QMouseEvent(QEvent.Type.MouseButtonPress, QPointF(5, 5), QPointF(5, 5), Qt.MouseButton.LeftButton,
                        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    click.setTimestamp(int((stall + 7.5) * 1000) - OFFSET_MS)
    assert keys.eventFilter(edit, click) is True and seen[-1][0] == 4
    # a key pressed after the window answers again is typed, and the count starts again
    clock.s += 0.05
    _press(edit, Qt.Key.Key_Z, "z", clock.s - 0.01)
    assert edit.text() == "xyz"
    clock.s += AFTER_S
    keys.beat()
    _press(edit, Qt.Key.Key_B, "b", stall + 6)  # (a press time inside the stall, long after it: not this stall's)
    assert edit.text() == "xyzb"
    clock.s += 0.1
    keys.beat()
    clock.s += STALE_S + 0.5  # another, shorter stall: its first key is the first of a new count
    _press(edit, Qt.Key.Key_C, "c", clock.s - 1)
    assert seen[-1][0] == 1 and edit.text() == "xyzb"


def test_without_a_stall_nothing_is_dropped_whatever_the_clocks_say(qtbot):
    """A held key whose repeats all carry the first press's time (Wayland), a press clock that jumps, wraps or runs
    elsewhere: the loop never stalled, so every key is used."""
    clock, keys, edit, seen = _filter(qtbot)
    _press(edit, Qt.Key.Key_X, "x", clock.s)
    for i in range(20):  # a key held for 4 s, every repeat stamped with the first press
        clock.s += 0.2
        keys.beat()
        _press(edit, Qt.Key.Key_Down, "", clock.s - 0.2 * (i + 1))
    clock.s += 0.2
    keys.beat()
    _press(edit, Qt.Key.Key_Y, "y", clock.s - 3_000_000)  # the press clock wrapped or jumped
    _press(edit, Qt.Key.Key_Z, "z", clock.s + 3_600)  # ... or runs an hour ahead (an X server elsewhere)
    assert edit.text() == "xyz" and seen == []


def test_a_long_stall_drops_all_its_keys_and_one_without_a_press_time_is_never_dropped(qtbot):
    """A stall of 15 minutes (a hung server) drops the keys pressed at its start as those pressed at its end; an
    event without a press time (Qt's offscreen platform, a test's click, whose code may run for seconds without the
    event loop) is never taken for a stall's."""
    clock, keys, edit, seen = _filter(qtbot)
    clock.s += 0.2
    keys.beat()
    clock.s += 4
    _press(edit, Qt.Key.Key_B, "b", None)
    assert edit.text() == "b" and seen == []
    keys.beat()
    clock.s += 0.01
    _press(edit, Qt.Key.Key_X, "x", clock.s)  # the reference
    clock.s += 0.2
    keys.beat()
    start = clock.s
    clock.s += 900
    _press(edit, Qt.Key.Key_1, "1", start + 1)
    _press(edit, Qt.Key.Key_2, "2", start + 600)
    assert edit.text() == "bx" and seen == [(1, pytest.approx(899.0)), (2, pytest.approx(300.0))]


def test_the_windows_say_what_was_dropped(qtbot, engine, tmp_path, monkeypatch):
    """The main window's status bar, and the queue window when it is the active one, say how many keys were not
    used and what to do."""
    import time

    from conftest import open_window

    from app.ui.style import dropped_keys_text

    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        # the window's filter is on the whole application: a key handled after a stall, anywhere, is dropped
        edit = QLineEdit()
        qtbot.addWidget(edit)
        qtbot.wait(300)  # every filter's heartbeat runs (the windows of other tests have theirs)

        def press(key, text, ago=0.0):  # a press time on this process's clock (as X11's server time is, here)
            event = QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier, text)
            event.setTimestamp(int((time.monotonic() - ago) * 1000))
            QCoreApplication.sendEvent(edit, event)

        press(Qt.Key.Key_X, "x")
        assert edit.text() == "x"
        win.status.stale_keys._beat = time.monotonic() - 5  # the loop ran nothing for 5 s
        press(Qt.Key.Key_A, "a", ago=4.0)  # pressed during it
        assert edit.text() == "x"
        assert win.status.currentMessage().startswith("A key or click made while the window was not answering (4 s) "
                                                      "was not used: look at the image on screen")
        win.status.stale_keys.dropped.emit(2, 7.4)
        assert win.status.currentMessage() == ("2 keys or clicks made while the window was not answering (7 s) were "
                                               "not used: look at the image on screen, then press again.")
        assert dropped_keys_text(1, 0.2).startswith("A key or click made while the window was not answering (1 s)")
        view = win.queue_view  # the queue window, active: its own status line says it
        view.show()
        view.activateWindow()
        qtbot.waitUntil(view.isActiveWindow, timeout=5_000)
        win.status.stale_keys.dropped.emit(3, 2.0)
        assert view.status_label.text().startswith("3 keys or clicks made while the window was not answering (2 s)")
    finally:
        win.close()
