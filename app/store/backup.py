"""Backups of a SQLite store: rolling copies made with SQLite's online backup API, listing, restoring.

A backup is a complete, checked SQLite file in a ``backups`` folder beside the database, named
``<file name>-<UTC time>.sqlite3`` (the whole name: ``lab.db`` and ``lab.sqlite3`` never share backups). It is made while other windows keep judging (the backup API copies a consistent
snapshot; WAL readers never block writers), written to a temporary name, checked (``PRAGMA quick_check``) and
only then renamed into place, so a crash or a full disk never leaves a half backup under a backup's name.

Typical use::

    rolling_backup(db_path, every_s=4 * 3600, keep=10)   # at start-up and on a timer: None when one is recent
    restore(list_backups(db_path)[0].path, db_path)       # the newest one, after a damaged start-up

PostgreSQL is backed up by its own tools (``pg_dump``); these functions take SQLite files only.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from app.store.db import quick_check_problems
from app.store.errors import StoreError

__all__ = [
    "BACKUP_DIR",
    "DEFAULT_BACKUP_EVERY_S",
    "DEFAULT_BACKUP_KEEP",
    "BackupInfo",
    "backup_to",
    "backups_folder",
    "check_file",
    "list_backups",
    "restore",
    "rolling_backup",
]

BACKUP_DIR = "backups"
DEFAULT_BACKUP_EVERY_S = 4 * 3600.0
DEFAULT_BACKUP_KEEP = 10
_STAMP = "%Y%m%dT%H%M%SZ"
PARTIAL = ".partial"


@dataclass(frozen=True)
class BackupInfo:
    """One backup file: where, when (UTC, from its name), how big."""

    path: Path
    created: dt.datetime
    size: int


def backups_folder(db_path: Path) -> Path:
    """The folder holding ``db_path``'s backups (``backups`` beside it)."""
    return Path(db_path).parent / BACKUP_DIR


def _created(path: Path, name: str) -> dt.datetime | None:
    tail = path.name[len(name) + 1: -len(".sqlite3")] if path.name.startswith(name + "-") else ""
    try:
        return dt.datetime.strptime(tail, _STAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def list_backups(db_path: Path) -> list[BackupInfo]:
    """``db_path``'s backups, newest first (files of another database or name are ignored)."""
    db_path = Path(db_path)
    folder = backups_folder(db_path)
    found = []
    for path in folder.glob(f"{glob.escape(db_path.name)}-*.sqlite3") if folder.is_dir() else ():
        created = _created(path, db_path.name)
        if created is not None and path.is_file():
            found.append(BackupInfo(path, created, path.stat().st_size))
    return sorted(found, key=lambda b: b.created, reverse=True)


@contextmanager
def _connect(path: Path, *, read_only: bool) -> Iterator[sqlite3.Connection]:
    uri = f"{path.resolve().as_uri()}?mode=ro" if read_only else str(path)
    with closing(sqlite3.connect(uri, uri=read_only, timeout=10.0, isolation_level=None)) as conn:
        yield conn


def check_file(path: Path) -> str | None:
    """The first problem ``PRAGMA quick_check`` finds in a SQLite file, or None when it is sound.

    A file that is not a SQLite database, or has no fma-judge schema, is a problem too.
    """
    try:
        with _connect(Path(path), read_only=True) as conn:
            problem = quick_check_problems(conn.execute("PRAGMA quick_check").fetchall())
            if problem is not None:
                return problem
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone() is None:
                return "it holds no fma-judge schema"
    except sqlite3.Error as exc:
        return str(exc)
    return None


def backup_to(db_path: Path, dest: Path) -> Path:
    """Copy the database at ``db_path`` into the new file ``dest`` (online: others may keep writing).

    Raises:
        StoreError: the database cannot be read, the copy cannot be written, or the copy is not sound.
    """
    db_path, dest = Path(db_path), Path(dest)
    if not db_path.is_file():
        raise StoreError(f"Cannot back up {db_path}: there is no database file there")
    if dest.exists() or (dest.resolve().name.startswith(db_path.resolve().name) and \
            dest.resolve().parent == db_path.resolve().parent):
        raise StoreError(f"Cannot back up {db_path} to {dest}: that file exists (or is the database itself); "
                         "choose a new file name")
    tmp: Path | None = None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(dest.parent)
        handle, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=PARTIAL)
        os.close(handle)
        tmp = Path(name)  # a name of its own: two windows backing up in the same second never share it
        with _connect(db_path, read_only=True) as src, _connect(tmp, read_only=False) as dst:
            # One step: the copy reads one snapshot (WAL: writers go on meanwhile). In several steps a judgment
            # committed by another connection between two steps would restart the copy, for ever on a busy day.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        problem = check_file(tmp)
        if problem is not None:
            raise StoreError(f"Cannot back up {db_path}: the copy is not sound ({problem})")
        os.replace(tmp, dest)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"Cannot back up {db_path} to {dest}: {exc}") from exc
    finally:
        if tmp is not None:
            for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
                leftover.unlink(missing_ok=True)
    return dest


def _remove_stale_partials(folder: Path, older_than_s: float = 3600.0) -> None:
    """Copies a killed backup left behind (hours old: no backup takes that long)."""
    cutoff = time.time() - older_than_s
    for leftover in folder.glob(f".*{PARTIAL}*"):
        with suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def rolling_backup(
    db_path: Path, *, every_s: float = DEFAULT_BACKUP_EVERY_S, keep: int = DEFAULT_BACKUP_KEEP,
    now: dt.datetime | None = None,
) -> Path | None:
    """A new backup when the newest is older than ``every_s`` (None otherwise); keeps the newest ``keep``.

    Raises:
        StoreError: as :func:`backup_to`.
    """
    db_path = Path(db_path)
    now = now or dt.datetime.now(dt.UTC)
    existing = list_backups(db_path)
    if existing and 0 <= (now - existing[0].created).total_seconds() < every_s:
        return None  # (a backup "from the future", a clock set back, does not stop the next ones)
    dest = backups_folder(db_path) / f"{db_path.name}-{now.strftime(_STAMP)}.sqlite3"
    if dest.exists():
        return None  # made this very second by another window
    made = backup_to(db_path, dest)
    for old in list_backups(db_path)[max(1, keep):]:
        old.path.unlink(missing_ok=True)
    return made


def restore(backup: Path, db_path: Path) -> Path | None:
    """Put ``backup`` in place of the database at ``db_path``; the file it replaces is kept beside it.

    Close every fma-judge window on that database first: a database another program is writing is refused.

    The copies are made first; the check that nobody has the file open comes right before the swap, so a window
    opened meanwhile is caught too.

    Returns:
        Where the replaced database was kept (``<name>.before-restore-<time>``, its WAL beside it), for a damaged
        one too; None when there was no database file.

    Raises:
        StoreError: the backup is not sound, or the database is in use, or a file cannot be written.
    """
    backup, db_path = Path(backup), Path(db_path)
    if not backup.is_file():  # (it said "not a sound backup (unable to open database file)")
        raise StoreError(f"Cannot restore {backup}: " + ("it is a folder, not a backup file" if backup.is_dir()
                                                          else "no such file (fma-judge restore --list shows them)"))
    problem = check_file(backup)
    if problem is not None:
        raise StoreError(f"Cannot restore {backup}: it is not a sound fma-judge backup ({problem})")
    stamp = dt.datetime.now(dt.UTC).strftime(_STAMP)
    kept = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
    tmp = db_path.with_name(f".{db_path.name}.restoring")
    existed = db_path.exists()
    try:
        if existed:
            shutil.copy2(db_path, kept)  # the file as it is, even a damaged one, and its WAL
            wal = db_path.with_name(db_path.name + "-wal")
            if wal.exists():
                shutil.copy2(wal, kept.with_name(kept.name + "-wal"))
        shutil.copy2(backup, tmp)
        if existed:
            _refuse_if_in_use(db_path)
        for suffix in ("-wal", "-shm"):  # pages of the replaced file must never be replayed onto the backup
            db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
        os.replace(tmp, db_path)
    except OSError as exc:
        raise StoreError(f"Cannot restore {backup} to {db_path}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return kept if existed else None


def _refuse_if_in_use(db_path: Path) -> None:
    """Raise when another connection has the database open (its window would keep writing to the old file).

    Leaving WAL mode needs the only connection to the file, so it fails while any other one is open, idle too.
    """
    try:
        with closing(sqlite3.connect(db_path, timeout=0.5, isolation_level=None)) as conn:
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
            if str(mode).lower() == "wal":
                raise sqlite3.OperationalError("database is locked")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(
                f"Cannot restore over {db_path}: another program has it open; close every fma-judge window "
                "on it (and stop fma-judge classify) and retry") from exc
        raise StoreError(f"Cannot restore over {db_path}: {exc}") from exc
    except sqlite3.DatabaseError:
        pass  # damaged beyond opening: nothing can be using it usefully, and restoring is the point
