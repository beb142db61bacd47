"""What a SQLite path given as the store is, read from the file itself before SQLite is asked: a folder, an fma-judge
database, one that was backed up (so a file there that reads as nothing else is a damaged store), or another kind of
file. No SQL; :mod:`app.store.db` says it, :mod:`app.store.backup` names the backups the same way."""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator
from pathlib import Path

from app.store.errors import Reason

BACKUP_DIR = "backups"
"""The folder beside a database that holds its backups (``<name>-<UTC stamp>.sqlite3``)."""

SQLITE_HEADER = b"SQLite format 3\x00"
FILE_KINDS = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"II*\x00": "a TIFF image",
              b"MM\x00*": "a TIFF image", b"PK\x03\x04": "a ZIP file", b"%PDF": "a PDF file"}
"""File signatures a wrong ``--db`` is most often, by what to call them (the UI translates these names)."""


def backup_files(db_path: Path) -> Iterator[Path]:
    """The files in ``db_path``'s backups folder named as its backups (none when there is no such folder)."""
    folder = Path(db_path).parent / BACKUP_DIR
    return folder.glob(f"{glob.escape(Path(db_path).name)}-*.sqlite3") if folder.is_dir() else iter(())


def was_backed_up(db_path: Path) -> bool:
    """Whether ``db_path`` has backups: it was a store, so whatever it holds now is a damaged one."""
    return any(backup_files(db_path))


def not_a_store_file(path: Path | None) -> Reason | None:
    """Why a SQLite path given as the database cannot be one (None: it can, or it is new or empty): a folder, or a
    file that is no SQLite database and was never backed up as one (a backed-up one is damaged: restore). Said
    before SQLite is asked, which called a folder "read-only" or a "disk I/O error", and an image "damaged"."""
    if path is None:
        return None
    try:
        folder = path.is_dir()
    except PermissionError:  # a folder on the way this account may not enter (it ended in a traceback; a window
        return Reason(f"the file cannot be opened; check its permissions ({path.parent}: permission denied)",
                      "no_permission", detail=f"{path.parent}: permission denied")  # started from the menu vanished)
    if folder:
        return Reason(f"{path} is a folder; give a database file, such as {path / 'fma-judge.sqlite3'}", "is_folder",
                      path=str(path), example=str(path / "fma-judge.sqlite3"))
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError:  # missing, or unreadable: SQLite's own message says it
        return None
    if not head.strip(b"\x00") or head == SQLITE_HEADER or was_backed_up(path):  # (new or empty; a zeroed header
        return None  # or a backed-up file: a damaged store, with the restore offered)
    kind = next((k for magic, k in FILE_KINDS.items() if head.startswith(magic)), "another kind of file")
    return Reason(f"{path} is not a database but {kind}; give the fma-judge database file, or a new file name",
                  "not_database", path=str(path), kind=kind)


def quick_check_problems(rows: Iterable) -> str | None:
    """``PRAGMA quick_check``'s rows as one line: None for "ok", else the first two problems and a count."""
    lines = [line.strip() for row in rows for line in str(row[0]).splitlines()]
    problems = [line for line in lines if line and line != "ok" and not line.startswith("***")]
    if not problems:
        return None
    more = f" (and {len(problems) - 2} more problems)" if len(problems) > 2 else ""
    return "; ".join(problems[:2]) + more
