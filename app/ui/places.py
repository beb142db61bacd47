"""Where this workstation's own files go (note drafts, the crash log), by the settings in use."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings


def local_folder(settings: QSettings) -> Path:
    """This workstation's own files (note drafts, the crash log): beside an INI settings file, else the user data
    folder (:func:`app.store.urls.user_data_folder`'s formula, without importing the store at start-up)."""
    if settings.format() == QSettings.Format.IniFormat:
        return Path(settings.fileName()).parent
    import platformdirs

    return Path(platformdirs.user_data_dir("fma-judge", appauthor=False))
