"""Where the store is: the per-user database's folder and URL, what ``--db`` names (:func:`resolve_db_url`), a
SQLite URL's file, a URL fit for messages. No engine is made here (:mod:`app.store.db` opens the store)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TypeVar

import platformdirs
from sqlalchemy import URL, make_url
from sqlalchemy import exc as sa_exc

from app.store.errors import StoreError

__all__ = ["APP_NAME", "DB_FILENAME", "DB_HELP", "default_db_url", "describe_url", "is_store_file",
           "refuse_new_relative", "require_existing", "resolve_db_url", "sqlite_path", "user_data_folder"]

APP_NAME = "fma-judge"
DB_FILENAME = "fma-judge.sqlite3"
DB_HELP = ("the database: a SQLite file's path, or a URL (sqlite:////abs/path.sqlite, on Windows "
           "sqlite:///C:/path/x.sqlite; postgresql+psycopg://USER@HOST/DB); a relative path is taken from the "
           "current folder and must name a file there: a new database is made only at a full path (default: the "
           "FMA_JUDGE_DB environment variable where IT set it, else the per-user fma-judge database)")
"""The ``--db`` help of every command and of the window: what :func:`resolve_db_url` accepts."""

_Db = TypeVar("_Db", str, URL)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+://")  # 2+ letters: "C:/data/x.sqlite" is a Windows path
# A database URL's scheme without its "//" ("sqlite:x.db", "postgresql:/host/db"); any other name with a colon is a
# file's ("run-10:00.sqlite" is one on Linux)
_SCHEME_ONLY = re.compile(r"(?i)(sqlite|postgres(ql)?|mysql|mariadb|mssql|oracle)(\+[A-Za-z0-9_]+)?:(?![/\\]{2})")


def user_data_folder() -> Path:
    """The per-user data folder, ``platformdirs.user_data_dir("fma-judge")`` (not created here): the default
    database and the note drafts (:mod:`app.services.note_drafts`) live there."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


DB_ENV = "FMA_JUDGE_DB"
"""The database of a workstation without ``--db``, set once by IT (the team's server): every shortcut and command
landed on a private SQLite file unless each was edited."""


def default_db_url() -> str:
    """The database without ``--db``: :data:`DB_ENV` where it is set, else the per-user SQLite database, in
    :func:`user_data_folder` (folder created)."""
    if given := os.environ.get(DB_ENV, "").strip():  # as --db is taken: a relative path names a file there (a
        return given  # scheduler's working folder is no place for a new database), checked where it is opened
    folder = user_data_folder()
    folder.mkdir(parents=True, exist_ok=True)
    return URL.create("sqlite", database=str(folder / DB_FILENAME)).render_as_string()


def _absolute(database: str) -> str:
    """A SQLite file's path, ``~`` expanded and made absolute against the current folder (not resolved: a linked
    folder keeps the name the user gave)."""
    return os.path.abspath(os.path.expanduser(database))


def resolve_db_url(db: _Db) -> _Db:
    """What ``--db`` names, as the URL the store opens: the same everywhere ``--db`` is taken (every command and the
    window), so each opens, names and backs up the same file.

    - a plain file path (``/data/x.sqlite``, ``C:\\data\\x.sqlite``, ``x.sqlite``, ``~/x.sqlite``) is that SQLite
      file;
    - a SQLite URL with a relative path (``sqlite:///x.sqlite``) or ``~`` is made absolute: SQLite would take it
      from the current folder anyway, which for a scheduled task is wherever the scheduler starts it
      (``C:\\Windows\\System32``, ``/``), so messages name the whole path (and :func:`refuse_new_relative`
      keeps a new database from being made there);
    - any other URL (``postgresql+psycopg://...``, in-memory and ``file:`` URI SQLite) is returned unchanged.

    Raises:
        StoreError: ``db`` looks like a URL but is not one (``postgresql:/host/db``, ``sqlite:x.sqlite``).
    """
    if isinstance(db, URL):
        return _absolute_sqlite(db) or db
    text = db.strip()
    if not text:
        return db  # (opening "" says it is not a database URL)
    if _URL.match(text):
        try:
            parsed = make_url(text)
        except sa_exc.ArgumentError as exc:
            raise StoreError.refused("use", f"URL {db!r}", str(exc)) from None
        fixed = _absolute_sqlite(parsed)
        return db if fixed is None else fixed.render_as_string(hide_password=False)
    if _SCHEME_ONLY.match(text):
        raise StoreError.refused("use", repr(db), "it is neither a URL (sqlite:////abs/path.sqlite, "
                                 "postgresql+psycopg://USER@HOST/DB) nor a file path")
    return URL.create("sqlite", database=_absolute(text)).render_as_string(hide_password=False)


def refuse_new_relative(db: str | URL) -> None:
    """A new SQLite database is made only where a full path says: ``--db x.sqlite`` (or ``sqlite:///x.sqlite``)
    opens ``x.sqlite`` of the current folder when it is there, and is refused when it is not, rather than make an
    empty database wherever the program was started (a scheduled task: ``C:\\Windows\\System32``, ``/``) or from a
    typo. Raises :class:`StoreError` saying which file was looked for and what to type."""
    text = "" if isinstance(db, URL) else db.strip()
    if isinstance(db, URL) or _URL.match(text):
        try:
            file = _sqlite_file(make_url(db))
        except sa_exc.ArgumentError:
            return  # (nothing is made: opening it says what is wrong)
    elif not text or _SCHEME_ONLY.match(text):
        return
    else:
        file = text
    relative = file is not None and not os.path.isabs(os.path.expanduser(file))
    path = sqlite_path(db) if relative else None
    if path is None or path.exists():
        return
    full = f"sqlite:///{path}" if isinstance(db, URL) or _URL.match(text) else str(path)
    raise StoreError.refused("use", repr(str(db)), f"{path} does not exist (a relative path is taken from the current "
                             f"folder, {Path.cwd()}). fma-judge makes a new database only at a full path, never in "
                             f"whatever folder it was started in: give --db {full} to make it there, or the full "
                             "path of the database you meant")


def _sqlite_file(url: URL) -> str | None:
    """The file part of a SQLite URL as written; None for other backends, in-memory and ``file:`` URI forms."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return database


def _absolute_sqlite(url: URL) -> URL | None:
    """``url`` with its SQLite file made absolute; None when it is already, or is not a SQLite file's URL."""
    database = _sqlite_file(url)
    return None if database is None or os.path.isabs(database) else url.set(database=_absolute(database))


def sqlite_path(url: str | URL) -> Path | None:
    """The database file of a SQLite URL or of a file path (:func:`resolve_db_url`: absolute); None for other
    backends and in-memory databases.

    Raises:
        StoreError: the URL cannot be parsed.
    """
    url = resolve_db_url(url)
    try:
        url = make_url(url)
    except sa_exc.ArgumentError as exc:
        raise StoreError.refused("use", f"URL {url!r}", str(exc)) from None
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    if database.startswith("file:"):  # URI form: sqlite:///file:/path/db.sqlite3?mode=ro&uri=true
        database = database[len("file:") :].split("?", 1)[0]
    return Path(database).expanduser()


def is_store_file(url: str | URL, path: Path) -> bool:
    """Whether writing ``path`` would write over the SQLite database at ``url`` or its WAL, index or journal (an
    export given the database's own name would replace the judgments with a CSV)."""
    db = sqlite_path(url)
    if db is None:
        return False
    path, db = Path(path).expanduser().resolve(), db.resolve()
    for suffix in ("", "-wal", "-shm", "-journal"):
        mine = db.with_name(db.name + suffix)
        if path == mine:
            return True
        try:  # the same file by another name: a case-insensitive disk (macOS), a hard link
            if path.exists() and mine.exists() and os.path.samefile(path, mine):
                return True
        except OSError:
            continue
    return False


def describe_url(url: str | URL) -> str:
    """The URL with its password masked (safe for messages and logs); SQLite files as ``sqlite:///<absolute path>``
    (on POSIX ``sqlite:////data/x.sqlite``)."""
    path = sqlite_path(url)
    if path is not None:
        return f"sqlite:///{path}"
    return make_url(resolve_db_url(url)).render_as_string(hide_password=True)


def without_password(url: str | URL) -> str:
    """``url`` for a command a person is told to run: a server URL without its password (given by PGPASSWORD or a
    password file when the command runs: printed, it was the team's password in plain text, and a masked ``***``
    cannot be pasted); anything else as given."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except Exception:  # a SQLite path, not a URL
        return str(url)
    if parsed.password is None:
        return str(url) if isinstance(url, str) else parsed.render_as_string(hide_password=False)
    return parsed._replace(password=None).render_as_string(hide_password=False)  # (set(password=None) keeps it)


def require_existing(url: str | URL | None) -> None:
    """A command that only reads (export, monitor) refuses a SQLite file that is not there, rather than make an
    empty database as a side effect. Raises :class:`StoreError`."""
    path = sqlite_path(url if url is not None else default_db_url())
    if path is not None and not path.is_file():
        raise StoreError(f"no fma-judge database at {path} (nothing has been judged there yet?)")
