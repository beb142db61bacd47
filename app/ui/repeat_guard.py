"""Keys held down: the actions that write, open or close happen once per press, not at the keyboard's repeat rate.

A held Enter accepted about 20 images a second, none of them seen (58 in 3 s, 19 of them wrong: the factory-scale
walk-through). ``QShortcut.setAutoRepeat(False)`` does not stop it on X11 here (PySide6 6.x, xcb: the shortcut fired
on every repeat), while the key events themselves say they are repeats (``QKeyEvent.isAutoRepeat``), on X11 and on
Windows alike, mostly: X11 sends a repeat as a release and a press with one timestamp, and Qt's look at the next
event to call them a repeat misses when the process is busy (4 of 12 held-Enter repeats came as new presses while
the model predicted). So the window drops the presses flagged as repeats, and those that follow a release of the
same key within :data:`REPEAT_GAP_MS` (no finger lifts and presses a key again that fast), before the shortcuts see
them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QPlainTextEdit, QTextEdit, QWidget

REPEAT_GAP_MS = 5
"""A press of a key this soon after its release (the events' timestamps) is the keyboard's repeat."""
TYPED_INTO = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)
"""Widgets a key types into: their keys repeat as they always did (the queue's filter fields, a note)."""


def key_text(event: QKeyEvent) -> str:
    """The key and its modifiers as a key map writes them (``Shift+C``, ``Return``; the keypad's Enter is Enter)."""
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return QKeySequence(event.key() | mods.value).toString(QKeySequence.SequenceFormat.PortableText)


def key_text_of(key: str) -> str:
    """A key map's text as :func:`key_text` writes it."""
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)


class RepeatGuard(QObject):
    """Drops the keyboard's repeats of ``keys()`` (key map texts) in ``window``: its widgets' ShortcutOverride and
    KeyPress events that are repeats (an application-wide event filter: the shortcuts are tried before the focus
    widget sees the key). Other windows (a dialog, the queue) and other keys (the arrows, zoom) repeat as usual."""

    def __init__(self, window: QWidget, keys: Callable[[], Collection[str]]) -> None:
        super().__init__(window)
        self._window, self._keys = window, keys
        self._released: dict[str, int] = {}  # key text -> the timestamp of its last release
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress, QEvent.Type.KeyRelease) or not isinstance(
                event, QKeyEvent) or not isinstance(watched, QWidget) or watched.window() is not self._window.window():
            return False
        if isinstance(watched, TYPED_INTO):  # (a filter field, a note: a held key types as it always did)
            return False
        text = key_text(event)
        if kind == QEvent.Type.KeyRelease:
            self._released[text] = event.timestamp()
            return False
        released, at = self._released.get(text), event.timestamp()  # (0: an event made by a test, or by no window
        repeat = event.isAutoRepeat() or (bool(released) and bool(at) and 0 <= at - released <= REPEAT_GAP_MS)  # system)
        if not repeat or text not in self._keys():
            return False
        event.accept()  # (a ShortcutOverride taken: no shortcut; the KeyPress that follows is dropped here too)
        return True
