"""Where the store is: the per-user database's folder and URL, a SQLite URL's file, a URL fit for messages. No
engine is made here (:mod:`app.store.db` opens the store)."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from sqlalchemy import URL, make_url
from sqlalchemy import exc as sa_exc

from app.store.errors import StoreError

__all__ = ["APP_NAME", "DB_FILENAME", "default_db_url", "describe_url", "is_store_file", "require_existing",
           "sqlite_path", "user_data_folder"]

APP_NAME = "fma-judge"
DB_FILENAME = "fma-judge.sqlite3"


def user_data_folder() -> Path:
    """The per-user data folder, ``platformdirs.user_data_dir("fma-judge")`` (not created here): the default
    database and the note drafts (:mod:`app.services.note_drafts`) live there."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_db_url() -> str:
    """The per-user SQLite database, in :func:`user_data_folder` (folder created)."""
    folder = user_data_folder()
    folder.mkdir(parents=True, exist_ok=True)
    return URL.create("sqlite", database=str(folder / DB_FILENAME)).render_as_string()


def sqlite_path(url: str | URL) -> Path | None:
    """The database file of a SQLite URL; None for other backends and in-memory databases.

    Raises:
        StoreError: the URL cannot be parsed.
    """
    try:
        url = make_url(url)
    except sa_exc.ArgumentError as exc:
        raise StoreError(f"Cannot use the database URL {url!r}: {exc}") from None
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
    return path.parent == db.parent and path.name in {db.name + s for s in ("", "-wal", "-shm", "-journal")}


def describe_url(url: str | URL) -> str:
    """The URL with its password masked (safe for messages and logs); SQLite files as ``sqlite:///<path>``."""
    path = sqlite_path(url)
    if path is not None:
        return f"sqlite:///{path}"
    return make_url(url).render_as_string(hide_password=True)


def require_existing(url: str | URL | None) -> None:
    """A command that only reads (export, monitor) refuses a SQLite file that is not there, rather than make an
    empty database as a side effect. Raises :class:`StoreError`."""
    path = sqlite_path(url if url is not None else default_db_url())
    if path is not None and not path.is_file():
        raise StoreError(f"no fma-judge database at {path} (nothing has been judged there yet?)")
