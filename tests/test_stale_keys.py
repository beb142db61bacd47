"""Keys pressed while the app could not answer are dropped, not judged (a team walk: with a PostgreSQL server that
hung for a minute, Enter and 2 pressed meanwhile judged two images the analyst never saw)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit

from app.ui.stale_keys import RESET_S, STALE_S, StaleKeys


class Clock:
    def __init__(self) -> None:
        self.ms = 5_000_000  # this process's clock; the press times below run on another one, 1,000 s behind

    def __call__(self) -> float:
        return self.ms / 1000


def _key(kind: QEvent.Type, key: Qt.Key, text: str, pressed_ms: int) -> QKeyEvent:
    event = QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, text)
    event.setTimestamp(pressed_ms)
    return event


def test_a_key_that_waited_is_dropped_and_counted_and_a_fresh_one_is_typed(qtbot):
    clock = Clock()
    keys = StaleKeys(clock=clock)
    edit = QLineEdit()
    qtbot.addWidget(edit)
    edit.installEventFilter(keys)
    seen: list[tuple[int, float]] = []
    keys.dropped.connect(lambda n, wait: seen.append((n, wait)))
    offset = 1_000_000  # the press clock's zero is elsewhere: only differences count

    def press(key, text, pressed_ms):
        QCoreApplication.sendEvent(edit, _key(QEvent.Type.KeyPress, key, text, pressed_ms - offset))

    press(Qt.Key.Key_X, "x", clock.ms)  # handled at once: the reference
    clock.ms += 50
    press(Qt.Key.Key_Y, "y", clock.ms - 20)
    assert edit.text() == "xy" and seen == []
    # the window froze 8 s: two keys pressed during it arrive now
    frozen_at = clock.ms
    clock.ms += 8_000
    press(Qt.Key.Key_A, "a", frozen_at + 3_000)
    press(Qt.Key.Key_Return, "\r", frozen_at + 5_000)
    assert edit.text() == "xy"
    assert [n for n, _ in seen] == [1, 2] and seen[0][1] == pytest.approx(5.0) and seen[1][1] == pytest.approx(3.0)
    # the same press reaching a parent again is not counted twice
    QCoreApplication.sendEvent(edit, _key(QEvent.Type.KeyPress, Qt.Key.Key_Return, "\r", frozen_at + 5_000 - offset))
    assert len(seen) == 2
    # a shortcut's override of a stale key is taken (accepted), so no shortcut fires
    override = _key(QEvent.Type.ShortcutOverride, Qt.Key.Key_Return, "\r", frozen_at + 6_000 - offset)
    override.ignore()
    assert keys.eventFilter(edit, override) is True and override.isAccepted()
    # the next key pressed after the window answers again is typed, and starts a new count
    clock.ms += 10
    press(Qt.Key.Key_Z, "z", clock.ms - 5)
    assert edit.text() == "xyz"
    clock.ms += 3_000
    press(Qt.Key.Key_B, "b", clock.ms - int((STALE_S + 0.5) * 1000))
    assert seen[-1][0] == 1 and edit.text() == "xyz"


def test_no_press_time_or_a_clock_jump_never_drops_a_key(qtbot):
    clock = Clock()
    keys = StaleKeys(clock=clock)
    assert keys.wait_of(0) is None  # the offscreen platform and test clicks give no press time
    assert keys.wait_of(clock.ms) == 0.0
    clock.ms += 1_000
    assert keys.wait_of(clock.ms - 200) == pytest.approx(0.2)
    clock.ms += 100
    # Windows' 32-bit message time wrapped: the press time is suddenly days behind; the reference starts again
    assert keys.wait_of(clock.ms - int(RESET_S * 1000) - 10_000) == 0.0
    clock.ms += 100
    assert keys.wait_of(clock.ms - int(RESET_S * 1000) - 10_000 + 100) == pytest.approx(0.0)


def test_the_windows_say_what_was_dropped(qtbot, engine, tmp_path, monkeypatch):
    """The main window's status bar, and the queue window when it is the active one, say how many keys were not
    used and what to do."""
    import time

    from conftest import open_window

    from app.ui.style import dropped_keys_text

    win = open_window(qtbot, engine, None, tmp_path, monkeypatch)
    try:
        # the window's filter is on the whole application: a key that waited 5 s, anywhere, is dropped and said
        edit = QLineEdit()
        qtbot.addWidget(edit)
        now = int(time.monotonic() * 1000)
        QCoreApplication.sendEvent(edit, _key(QEvent.Type.KeyPress, Qt.Key.Key_X, "x", now))
        QCoreApplication.sendEvent(edit, _key(QEvent.Type.KeyPress, Qt.Key.Key_A, "a", now - 5_000))
        assert edit.text() == "x"
        assert win.status.currentMessage().startswith("A key pressed while the window was not answering (5 s) was "
                                                      "not used: look at the image on screen")
        win.status.stale_keys.dropped.emit(2, 7.4)
        assert win.status.currentMessage() == ("2 keys pressed while the window was not answering (7 s) were not "
                                               "used: look at the image on screen, then press again.")
        assert dropped_keys_text(1, 0.2).startswith("A key pressed while the window was not answering (1 s) was not")
        view = win.queue_view  # the queue window, active: its own status line says it
        view.show()
        view.activateWindow()
        qtbot.waitUntil(view.isActiveWindow, timeout=5_000)
        win.status.stale_keys.dropped.emit(3, 2.0)
        assert view.status_label.text().startswith("3 keys pressed while the window was not answering (2 s)")
    finally:
        win.close()
