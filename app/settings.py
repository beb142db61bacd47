"""Where the user's settings live (the window's and the self-test's): ``FMA_JUDGE_SETTINGS`` points them at an INI
file (tests, portable installs), else the platform's place (the registry on Windows, an INI file elsewhere)."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

MODEL_KEY = "model_path"
"""The settings key of the model bundle the window loads at start (the last one chosen)."""


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
