"""Backups of a SQLite store: rolling copies made with SQLite's online backup API, listing, restoring.

A backup is a complete, checked SQLite file in a ``backups`` folder beside the database, named
``<file name>-<UTC time>.sqlite3`` (the whole name: ``lab.db`` and ``lab.sqlite3`` never share backups). It is made while other windows keep judging (the backup API copies a consistent
snapshot; WAL readers never block writers), written to a temporary name, checked (``PRAGMA quick_check``) and
only then renamed into place, so a crash or a full disk never leaves a half backup under a backup's name. A backup
gets the permissions a plain copy (``cp``) of the database would: readable by whom the database is, less the umask.

Typical use::

    rolling_backup(db_path, every_s=4 * 3600, keep=10)   # at start-up and on a timer: None when one is recent
    restore(list_backups(db_path)[0].path, db_path)       # the newest one, after a damaged start-up

PostgreSQL is backed up by its own tools (``pg_dump``); these functions take SQLite files only.
"""

from __future__ import annotations

import datetime as dt
import glob
import logging
import os
import shutil
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from app.store.errors import StoreError
from app.store.store_file import BACKUP_DIR, backup_files, quick_check_problems
from models.atomic import create_new

__all__ = [
    "BACKUP_DIR",
    "DEFAULT_BACKUP_EVERY_S",
    "DEFAULT_BACKUP_KEEP",
    "BackupInfo",
    "backup_before_upgrade",
    "backup_to",
    "backups_folder",
    "check_file",
    "list_backups",
    "restore",
    "rolling_backup",
    "say_upgraded",
]

DEFAULT_BACKUP_EVERY_S = 4 * 3600.0
DEFAULT_BACKUP_KEEP = 10
_STAMP = "%Y%m%dT%H%M%SZ"
PARTIAL = ".partial"
RESTORING = ".restoring"
_SIDE_FILES = ("-wal", "-journal")  # what SQLite would replay onto the file it sits beside (``-shm`` is only an index)

_log = logging.getLogger(__name__)


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
    found = []
    for path in backup_files(db_path):
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
        tmp = _new_file(dest.parent, f".{dest.name}.", PARTIAL)  # two windows in the same second never share it
        with _connect(db_path, read_only=True) as src, _connect(tmp, read_only=False) as dst:
            # One step: the copy reads one snapshot (WAL: writers go on meanwhile). In several steps a judgment
            # committed by another connection between two steps would restart the copy, for ever on a busy day.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        problem = check_file(tmp)
        if problem is not None:
            raise StoreError(f"Cannot back up {db_path}: the copy is not sound ({problem})")
        if os.name != "nt":  # (mkstemp's 0600 kept another account that shares the database from restoring it)
            os.chmod(tmp, stat.S_IMODE(tmp.stat().st_mode) & stat.S_IMODE(db_path.stat().st_mode) & 0o666)
        os.replace(tmp, dest)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"Cannot back up {db_path} to {dest}: {exc}") from exc
    finally:
        if tmp is not None:
            for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
                leftover.unlink(missing_ok=True)
    return dest


def _new_file(folder: Path, prefix: str, suffix: str) -> Path:
    """A new, empty file of a name of its own in ``folder``, with the mode any new file gets (0666 less the umask).

    Not ``tempfile.mkstemp``: its files are 0600, and a restored database (or a backup) that only its maker can
    read locks out every other account that shares the database.
    """
    fd, path = create_new(folder, prefix, suffix)
    os.close(fd)
    return path


def _remove_stale_partials(folder: Path, older_than_s: float = 3600.0, pattern: str = f".*{PARTIAL}*") -> None:
    """Copies a killed backup (or restore) left behind (hours old: none takes that long)."""
    cutoff = time.time() - older_than_s
    for leftover in folder.glob(pattern):
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


def say_upgraded(where: str, before: str, after: str, copy: Path | None) -> None:
    """A database's schema was upgraded: said as a warning (on stderr where nothing else logs), with its copy. A
    lead who only asked which model was deployed found the team's database upgraded without a word, and the
    workstations not yet updated locked out."""
    _log.warning("fma-judge: the database %s was upgraded from schema %s to %s (%s); an older fma-judge can no longer "
                 "open it", where, before, after, f"its copy before the upgrade: {copy}" if copy is not None else
                 "no copy was made here: back up a server's database on the server")


def backup_before_upgrade(db_path: Path, current: str, head: str) -> Path | None:
    """A copy of a SQLite store at the older schema ``current``, made before its upgrade (IT found one upgraded at a
    new version's first start with no copy: the rolling backup came a minute later, of the upgraded file, and an
    older install could no longer open it): ``backups/NAME-before-upgrade-SCHEMA-TIME.sqlite3``, SCHEMA the one the
    copy has. Not a rolling backup: never pruned, and not what ``restore --newest`` puts back (an older fma-judge
    restores it by name). None when another process upgraded the file to ``head`` meanwhile (its own copy, made
    first, is of the older file); a copy another version upgraded part-way is kept under the schema it has.

    Raises:
        StoreError: the copy could not be made (then nothing is upgraded).
    """
    stamp = dt.datetime.now(dt.UTC).strftime(_STAMP)
    dest = backups_folder(db_path) / f"{db_path.name}-before-upgrade-{current}-{stamp}.sqlite3"
    try:
        made = backup_to(db_path, dest)
    except StoreError:
        if dest.is_file():  # another window starting this second made it, of the same older file
            return dest
        raise
    try:
        with _connect(made, read_only=True) as conn:
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"Cannot check the copy {made} made before the upgrade: {exc}") from exc
    if revision is None or revision[0] == head:  # upgraded by another process before the copy: not a copy of the
        made.unlink(missing_ok=True)  # older file (it would pass for one)
        return None
    if revision[0] != current:  # upgraded part-way by another version: named by the schema it has
        named = made.with_name(made.name.replace(f"-before-upgrade-{current}-", f"-before-upgrade-{revision[0]}-"))
        os.replace(made, named)
        return named
    return made


def restore(backup: Path, db_path: Path) -> Path | None:
    """Put ``backup`` in place of the database at ``db_path``; the file it replaces is kept beside it.

    Close every fma-judge window on that database first: a database another program is writing is refused.

    The copies are made first; the check that nobody has the file open comes right before the swap, so a window
    opened meanwhile is caught too. A restore that does not go through (refused, a full disk, interrupted) removes
    the copies it made and puts back the database's WAL it moved aside. The restored file keeps the
    replaced one's permissions (and owner and group, where this account may set them): backups may be private,
    and a database that only its restorer can open locks out the other accounts that share it. A database path
    that is a symbolic link stays one: the file it points to is replaced.

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
    target = Path(os.path.realpath(db_path))  # (os.replace on the link replaced the link, not the database)
    existed = target.exists()
    made: list[Path] = []  # files this restore created, removed unless it goes through
    aside: dict[Path, Path] = {}  # the database's WAL (or journal) and -shm, moved aside until the swap is done
    kept: Path | None = None
    done = False
    try:
        _remove_stale_partials(target.parent, pattern=f".{glob.escape(target.name)}.*restoring*")
        if existed:
            kept = _keep_copy(target, made)  # the file as it is, even a damaged one, and its WAL
        tmp = _new_file(target.parent, f".{target.name}.", RESTORING)
        made.append(tmp)
        shutil.copyfile(backup, tmp)  # (copy2 gave the database the backup's mode, 0600)
        if existed:
            _copy_owner_and_mode(target, tmp)
            _refuse_if_in_use(target)
        for suffix in (*_SIDE_FILES, "-shm"):  # pages of the replaced file must never be replayed onto the backup
            side = target.with_name(target.name + suffix)
            if side.exists():
                aside[side] = tmp.with_name(tmp.name + suffix)
                os.replace(side, aside[side])
        os.replace(tmp, target)
        done = True
    except OSError as exc:
        raise StoreError(f"Cannot restore {backup} to {db_path}: {exc}") from exc
    finally:
        for side, moved in aside.items():
            with suppress(OSError):
                if done:
                    moved.unlink()
                else:
                    os.replace(moved, side)
        for path in made if not done else ():  # (once done, the temporary copy is the database)
            with suppress(OSError):
                path.unlink(missing_ok=True)
    return kept


def _keep_copy(db_path: Path, made: list[Path]) -> Path:
    """Copy the database and its WAL (or journal) to ``<name>.before-restore-<time>``, a name nothing has.

    Two restores in the same second once shared the name: the second overwrote the first's copy, the only one of
    the database as it was before both.
    """
    stamp = dt.datetime.now(dt.UTC).strftime(_STAMP)
    sides = [suffix for suffix in _SIDE_FILES if db_path.with_name(db_path.name + suffix).exists()]
    for n in range(1, 1000):
        kept = db_path.with_name(f"{db_path.name}.before-restore-{stamp}" + (f"-{n}" if n > 1 else ""))
        if any(kept.with_name(kept.name + suffix).exists() for suffix in _SIDE_FILES):
            continue
        try:
            os.close(os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600))
        except FileExistsError:
            continue
        made.append(kept)
        shutil.copy2(db_path, kept)
        _copy_owner_and_mode(db_path, kept)  # (a restore run as root: the owner can still read the copy)
        for suffix in sides:
            made.append(kept.with_name(kept.name + suffix))
            shutil.copy2(db_path.with_name(db_path.name + suffix), made[-1])
            _copy_owner_and_mode(db_path.with_name(db_path.name + suffix), made[-1])
        return kept
    raise FileExistsError(f"no free name for a copy of {db_path}")


def _copy_owner_and_mode(like: Path, path: Path) -> None:
    """Give ``path`` the permissions of ``like`` (POSIX), and its owner and group where this account may."""
    if os.name == "nt":
        return  # (a new file there takes its folder's permissions, as the replaced one did)
    st = like.stat()
    for uid in (st.st_uid, -1):  # another owner only for root; a group of one's own for anyone
        try:
            os.chown(path, uid, st.st_gid)
            break
        except OSError:
            continue
    os.chmod(path, stat.S_IMODE(st.st_mode))  # after chown, which clears set-id bits


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
