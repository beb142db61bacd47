"""Where the user's settings live (the window's and the self-test's): ``FMA_JUDGE_SETTINGS`` points them at an INI
file (tests, portable installs), else the platform's place (the registry on Windows, an INI file elsewhere)."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

MODEL_KEY = "model_path"
"""The settings key of the model bundle the window loads at start (the last one chosen)."""
ANALYST_KEY = "analyst"
"""The settings key of the analyst name the window records judgments under (asked once, then remembered)."""


def open_settings() -> QSettings:
    """The user's settings."""
    path = os.environ.get("FMA_JUDGE_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("fma-judge", "fma-judge")


def remembered_model(settings: QSettings | None = None) -> str:
    """The model bundle this workstation's window loads at start ("" when none was chosen yet: the demo model), from
    ``settings`` or the user's."""
    return str((settings if settings is not None else open_settings()).value(MODEL_KEY, "") or "")


def who_am_i() -> str:
    """The name a command records as who did it (``fma-judge monitor --pause``, ``deploy``) when ``--by`` is not
    given: the analyst name this workstation's window judges under, else the account's user name (a lead's pauses
    were recorded "by root")."""
    try:
        name = str(open_settings().value(ANALYST_KEY, "") or "").strip()
    except Exception:
        name = ""
    if name:
        return name
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this account (a container's uid): said plainly
        return "unknown"
