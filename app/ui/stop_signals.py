"""A stop from outside closes the window as its close button does (POSIX: SIGTERM, SIGHUP, SIGINT).

A logout, a shutdown, IT's ``kill`` or the terminal that started the app going away sends SIGTERM or SIGHUP;
Ctrl+C in that terminal sends SIGINT. Python's default for the first two ended the process at once (SIGINT waited
for the next Python code, then left a traceback): the images the analyst held stayed claimed for the lease (five
minutes), so colleagues saw them as taken, and the store's write-ahead log was not folded into the database file.
Now the window closes (its claims released, its layout saved, its unsaved notes kept on disk as on any close) and
the app exits with status 0. A second signal of the same kind while it closes ends the process at once. A signal
ignored when the app started (``nohup``) stays ignored.

Qt's event loop runs no Python while it waits, so the signal is seen through a socket Python's C handler writes to
(:func:`signal.set_wakeup_fd`) and a :class:`QSocketNotifier` on its other end: the notifier's slot is Python code,
during which the Python handler runs. Windows has no such signals for a GUI process: its session end reaches the
window through Qt.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable

from PySide6.QtCore import QObject, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name))


def close_on_stop(app: QApplication, close: Callable[[], None]) -> Callable[[], None]:
    """Have a stop signal call ``close`` (from the event loop, never inside the handler; ``close`` ends the event
    loop). Returns the function that puts the handlers as they were (the caller calls it when the event loop is over)."""
    if os.name != "posix" or not STOP_SIGNALS:
        return lambda: None
    reader, writer = socket.socketpair()
    for end in (reader, writer):
        end.setblocking(False)
    try:
        old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:  # not the main thread (a test's window): the signals stay as they were
        reader.close()
        writer.close()
        return lambda: None
    # a signal ignored at start stays ignored: `nohup fma-judge &` (SIGHUP), a launcher without job control (SIGINT)
    old = {sig: handler for sig in STOP_SIGNALS if (handler := signal.getsignal(sig)) is not signal.SIG_IGN}
    holder = QObject(app)  # the notifier lives as long as the handlers
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, holder)

    def drain() -> None:  # (the Python handler below runs around this slot)
        try:
            while reader.recv(64):
                pass
        except OSError:
            pass

    def stop(signum, _frame) -> None:
        signal.signal(signum, signal.SIG_DFL)  # a second one while it closes ends the process at once
        QTimer.singleShot(0, close)

    notifier.activated.connect(drain)
    for sig in old:
        signal.signal(sig, stop)

    def restore() -> None:
        notifier.setEnabled(False)
        for sig, handler in old.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(old_fd)
        holder.deleteLater()
        reader.close()
        writer.close()

    return restore
