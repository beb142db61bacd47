"""Telling the user about an error: a message box, or, when nobody is at the screen, one line on stderr.

A run without a user (``fma-judge --screenshot``) must never wait for a click: there :func:`alert` prints
``fma-judge: <line>`` and ends the event loop with :data:`USER_ERROR` instead of opening a modal box.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

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
