"""Automatic backups of the open SQLite store, on the app's timer. No Qt.

The window asks :meth:`BackupSchedule.run_if_due` every few minutes on a worker thread; a backup is made when the
newest one is older than the interval (``backup_every_hours`` in the settings, default 4; 0 = off) and the
newest ``backup_keep`` (default 10) are kept (:mod:`app.store.backup`). A PostgreSQL store, an in-memory one
and a read-only one are not backed up here.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from app.store.backup import (
    DEFAULT_BACKUP_EVERY_S,
    DEFAULT_BACKUP_KEEP,
    BackupInfo,
    list_backups,
    restore,
    rolling_backup,
)
from app.store.db import read_only, sqlite_path


class BackupSchedule:
    """When and where the store's rolling backups go."""

    def __init__(self, engine: Engine, *, every_s: float = DEFAULT_BACKUP_EVERY_S,
                 keep: int = DEFAULT_BACKUP_KEEP) -> None:
        self.path = sqlite_path(engine.url)
        self.every_s = every_s
        self.keep = max(1, keep)
        self._read_only = read_only(engine)

    @property
    def enabled(self) -> bool:
        return self.path is not None and self.every_s > 0 and self._read_only is None

    def run_if_due(self) -> Path | None:
        """Make a backup when one is due; the new file, or None.

        Raises:
            StoreError: the backup cannot be made (the message names the file and why).
        """
        if not self.enabled or self.path is None or not self.path.is_file():
            return None
        return rolling_backup(self.path, every_s=self.every_s, keep=self.keep)


def newest_backup(db_path: Path) -> BackupInfo | None:
    """The newest backup of the SQLite file ``db_path``, or None."""
    found = list_backups(db_path)
    return found[0] if found else None


def restore_backup(backup: Path, db_path: Path) -> Path | None:
    """Put ``backup`` in place of ``db_path`` (see :func:`app.store.backup.restore`); where the old file is kept."""
    return restore(backup, db_path)
