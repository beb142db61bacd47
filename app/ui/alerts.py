"""Telling the user about an error: a message box, or, when nobody is at the screen, one line on stderr.

A run without a user (``fma-judge --screenshot``) must never wait for a click: there :func:`alert` prints
``fma-judge: <line>`` and ends the event loop with :data:`USER_ERROR` instead of opening a modal box.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QWidget

USER_ERROR = 2
"""The exit code of a run stopped by the user's input (a database, folder or model that cannot be used)."""


def fail(line: str) -> int:
    """Print ``fma-judge: <line>`` (one line, whatever ``line`` holds) on stderr; returns :data:`USER_ERROR`."""
    print(f"fma-judge: {' '.join(line.split())}", file=sys.stderr)
    return USER_ERROR


def alert(parent: QWidget | None, box: Callable, title: str, text: str, *, line: str, interactive: bool) -> None:
    """Show ``box`` (``QMessageBox.warning``, ``.critical`` ...) with ``title`` and ``text``; without a user
    (``interactive=False``) print ``line`` instead (English, like every stderr message) and end the running event
    loop with :data:`USER_ERROR`."""
    if interactive:
        box(parent, title, text)
    else:
        QCoreApplication.exit(fail(line))  # does nothing before the event loop runs: start-up returns fail() itself


def say_uncaught(window, log: Path | None) -> Callable[..., None]:
    """Say on screen that an exception no code caught broke what a key or click asked for (it went only to stderr
    and ``crash.log``: an analyst pressed Q and nothing happened, with no word). Chained after the hook before it
    (:func:`app.crash_log.enable`, which logs the traceback); the main thread's only (a worker's errors are its own
    to say). The message goes to the status line of the active window, or ``window``'s status bar. Returns the hook
    installed (the caller puts the one before back when it is still this one)."""
    previous = sys.excepthook

    def hook(kind, value, tb) -> None:
        previous(kind, value, tb)
        if threading.current_thread() is not threading.main_thread() or issubclass(kind, KeyboardInterrupt):
            return
        what = " ".join(f"{kind.__name__}: {value}".split())
        text = QCoreApplication.translate(
            "Main", "Something went wrong, so what the last key or click asked for may not have been done ({what}). "
                    "Saved judgments are kept. Details: {path}").format(
            what=what if len(what) <= 160 else what[:159] + "…", path=log or "stderr")
        active = QApplication.activeWindow()
        if active is not None and hasattr(active, "status_label"):
            active.status_label.setText(text)
        with contextlib.suppress(RuntimeError):  # the window is gone (the app is closing)
            window.statusBar().showMessage(text, 30_000)

    sys.excepthook = hook
    return hook
