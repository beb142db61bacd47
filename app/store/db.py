"""Open the store: database URL, engine (SQLite pragmas), schema migrations and clear errors.

Typical use (one user action = one session)::

    engine = make_engine(url)          # url None -> the per-user SQLite file
    init_db(engine)                    # create / upgrade the schema to the newest revision
    with session_scope(engine) as session:
        repo.record_judgment(session, ...)

Database problems (read-only file, missing folder, locked too long, disk full, not a database,
server unreachable) surface as :class:`StoreError` naming the database and the reason.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Engine, create_engine, event, inspect, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from app.store import stall_guard
from app.store.backup import backup_before_upgrade, say_upgraded
from app.store.driver_errors import file_read_only as _file_read_only
from app.store.driver_errors import no_folder, refused_rights, store_error
from app.store.errors import DamagedDatabaseError, ReadOnlyError, Reason, SchemaVersionError, StoreError
from app.store.schema import Base
from app.store.store_file import not_a_store_file, quick_check_problems, was_backed_up
from app.store.urls import (
    APP_NAME,
    DB_FILENAME,
    default_db_url,
    describe_url,
    refuse_new_relative,
    require_existing,
    resolve_db_url,
    sqlite_path,
    user_data_folder,
)

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "APP_NAME",
    "DB_FILENAME",
    "MIGRATIONS_DIR",
    "DamagedDatabaseError",
    "OpenedStore",
    "SchemaVersionError",
    "StoreError",
    "alembic_config",
    "check_integrity",
    "current_revision",
    "default_db_url",
    "describe_url",
    "head_revision",
    "init_db",
    "make_engine",
    "open_store",
    "read_only",
    "read_only_reason",
    "refuse_new_relative",
    "require_existing",
    "resolve_db_url",
    "session_scope",
    "sqlite_path",
    "translate_errors",
    "user_data_folder",
]

MIGRATIONS_DIR: Path = Path(__file__).resolve().parent / "migrations"
PG_CONNECT_ARGS = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                   "keepalives_count": 3, "tcp_user_timeout": 20_000}
"""libpq parameters of every PostgreSQL connection (a URL's own win): fail a connection attempt after 5 s (libpq
tries twice, with and without SSL: 10 s for a server that never answers; 10 s each measured 20), and a
connection whose server stopped answering: idle, after 5 s and 3 unanswered probes 2 s apart; waiting for data it
sent, after 20 s unacknowledged. A server that is up but slow is not cut: its kernel answers both."""

DEFAULT_BUSY_TIMEOUT_S = 10.0
_BUSY_TIMEOUTS: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()
_LOCK_WAIT_STARTED: ContextVar[float | None] = ContextVar("fma_judge_lock_wait_started", default=None)
_READ_ONLY: weakref.WeakKeyDictionary[Engine, Reason] = weakref.WeakKeyDictionary()  # engine -> why
_BEGIN_IMMEDIATE = "fma_judge_begin_immediate"  # execution option: SQLite write transactions lock at BEGIN
_DURABLE = "fma_judge_durable"  # execution option: False = a SQLite commit without fsync (recomputable data)
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
"""SQLite: the write transactions of one process's threads take turns on this lock before BEGIN IMMEDIATE.

SQLite's own busy handler polls a locked database with growing sleeps (1, 2, 5, 10 ... 100 ms), so a judgment
that finds the model thread's chunk of predictions writing can sleep on past that chunk's commit; a thread waiting
on this lock starts the moment the other commits (judgments' store calls during a prediction run: slowest 16-43 ms
with it, 23-55 ms without, three runs each of ``BENCH_TRACE=1`` :mod:`bench.judging_driver`). Other processes
still meet SQLite's busy timeout."""


# ------------------------------------------------------------------------------------------ errors
_PASS_THROUGH = (sa_exc.IntegrityError, sa_exc.ProgrammingError, sa_exc.DataError)


@contextmanager
def translate_errors(engine: Engine, action: str = "use") -> Iterator[None]:
    """Turn driver errors (locked, read-only, disk full ...) raised inside the block into :class:`StoreError`.

    Integrity/programming errors are bugs or conflicts, not environment problems: they pass unchanged, but for a
    server's refusal of the login's rights (:func:`~app.store.driver_errors.refused_rights`).
    """
    token, done = _LOCK_WAIT_STARTED.set(None), stall_guard.enter(engine)  # (a server that stopped answering)
    try:
        yield
    except _PASS_THROUGH as exc:
        if not refused_rights(exc):
            raise
        raise store_error(exc, engine.url, action, _BUSY_TIMEOUTS.get(engine)) from exc
    except (sa_exc.OperationalError, sa_exc.DatabaseError, sqlite3.Error) as exc:
        started = _LOCK_WAIT_STARTED.get()  # when the failed BEGIN IMMEDIATE began to wait for the lock
        waited = time.monotonic() - started if started is not None else None
        raise store_error(exc, engine.url, action, _BUSY_TIMEOUTS.get(engine), waited) from exc
    finally:
        _LOCK_WAIT_STARTED.reset(token)
        done()


# ------------------------------------------------------------------------------------------ engine
def _install_sqlite_listeners(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin): sqlite3's legacy mode would skip it for
        # SELECT/DDL/SAVEPOINT, which breaks savepoints and transactional migrations.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            # On read-only media the file keeps its journal mode; reads still work.
            with suppress(sqlite3.OperationalError):
                cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes the write lock at BEGIN (IMMEDIATE). A deferred one that reads first
        # fails at its first write, without waiting, when another connection committed meanwhile (WAL:
        # its snapshot is stale), e.g. a judgment whose read overlapped a chunk of saved predictions.
        options = connection.get_execution_options()
        # A durable transaction (the default: judgments, notes, batches) is on disk when its commit returns,
        # power loss included. Recomputable data (predictions) skips that fsync: still atomic and safe from a
        # crash of the app, and it no longer holds the write lock while the disk syncs (a judgment waits for it).
        connection.exec_driver_sql(f"PRAGMA synchronous={'FULL' if options.get(_DURABLE, True) else 'NORMAL'}")
        _LOCK_WAIT_STARTED.set(time.monotonic())  # a "locked" message says how long this BEGIN waited
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_BEGIN_IMMEDIATE, False) else "BEGIN")


def make_engine(
    url: str | URL | None = None, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, echo: bool = False,
    read_only: bool = False,
) -> Engine:
    """Create the engine for the store.

    For SQLite, every connection gets ``foreign_keys=ON``, ``journal_mode=WAL`` and a busy timeout, and
    transactions are real (SQLAlchemy emits BEGIN), so savepoints and migrations are atomic.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://...``) or a SQLite file's path, as
            :func:`resolve_db_url` takes them (a relative one: from the current folder); None = :func:`default_db_url`.
        busy_timeout_s: how long a SQLite write waits for another writer before failing as "locked".
        echo: log SQL statements.
        read_only: open a SQLite file read-only (``mode=ro``; ``immutable`` when its folder is read-only
            too and no ``-shm`` file is there, the only way SQLite reads such a WAL file).

    Raises:
        StoreError: the URL is malformed, or the SQLite file's folder does not exist.
    """
    try:
        parsed = make_url(resolve_db_url(url if url is not None else default_db_url()))
    except sa_exc.ArgumentError as exc:
        raise StoreError.refused("use", f"URL {url!r}", str(exc)) from None
    if parsed.drivername in ("postgres", "postgresql"):  # as libpq and most tools write it: the driver we ship
        parsed = parsed.set(drivername="postgresql+psycopg")  # (SQLAlchemy's default, psycopg2, is not; and it
        # refused postgres:// as a database other than SQLite or PostgreSQL)
    path = sqlite_path(parsed)
    if path is not None and not path.parent.is_dir():
        raise StoreError.refused("open", describe_url(parsed), no_folder(path.parent))
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):  # (a mysql:// URL said "No module named MySQLdb")
        raise StoreError.refused("use", describe_url(parsed), Reason(
            "fma-judge keeps its judgments in SQLite (sqlite:///PATH) or PostgreSQL (postgresql+psycopg://USER@HOST/DB) "
            "only", "unsupported"))
    kwargs: dict[str, Any] = {"echo": echo}
    if read_only and path is not None:
        uri = _read_only_uri(path)  # percent-encoded: a '#' or '%' in a folder name opens the right file
        kwargs["creator"] = lambda: sqlite3.connect(uri, uri=True, timeout=busy_timeout_s, check_same_thread=False)
    elif parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": busy_timeout_s}
    else:
        kwargs["pool_pre_ping"] = True
        if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2"):
            # a server that never answers (a dropped packet, a wrong port behind a firewall) fails in 10 s, not
            # never; a connection whose server went away (a network cut, a server rebooted under it) fails within
            # about 20 s, not after the system's TCP retries (15 minutes on Linux): the window waiting on it is
            # frozen that long. A parameter in the URL (?connect_timeout=N ...) sets another. (libpq's parameters:
            # other drivers, pg8000 or asyncpg, take others.)
            kwargs["connect_args"] = {k: v for k, v in PG_CONNECT_ARGS.items() if k not in parsed.query}
    try:
        engine = create_engine(parsed, **kwargs)
    except (sa_exc.ArgumentError, ImportError) as exc:
        raise StoreError.refused("use", describe_url(parsed), str(exc)) from None
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
        stall_guard.guard(engine)  # a server that stops answering with its connections open
    _BUSY_TIMEOUTS[engine] = busy_timeout_s
    _WRITE_LOCKS[engine] = threading.RLock()  # re-entrant: a nested write in one thread meets SQLite as before
    if read_only:
        _READ_ONLY[engine] = Reason("it was opened read-only", "opened_read_only")
    if parsed.get_backend_name() == "sqlite":
        _install_sqlite_listeners(engine, busy_timeout_s)
    return engine


@contextmanager
def session_scope(engine: Engine, *, action: str = "write to", durable: bool = True) -> Iterator[Session]:
    """One transaction for one user action: commits on success, rolls back on error.

    Objects stay readable after the commit (``expire_on_commit=False``); driver errors become
    :class:`StoreError` (a write on a read-only store: :class:`ReadOnlyError`, before anything runs). On
    SQLite a transaction for any ``action`` but ``"read"`` begins IMMEDIATE: it
    waits (up to the busy timeout) for the write lock at its start, so a read inside it never goes stale
    before its writes. ``durable=False`` is for data that can be computed again (predictions): on SQLite its
    commit does not wait for the disk (``synchronous=NORMAL``; a power cut may lose the last such commits, a
    crash of the app does not).
    """
    if action != "read" and (why := _READ_ONLY.get(engine)) is not None:
        raise ReadOnlyError.refused(action, describe_url(engine.url), why, unchanged=True)
    bind = engine
    if engine.dialect.name == "sqlite" and (action != "read" or not durable):
        bind = engine.execution_options(**{_BEGIN_IMMEDIATE: action != "read", _DURABLE: durable})
    with (
        _turn_to_write(engine, action),
        translate_errors(engine, action),
        Session(bind, expire_on_commit=False) as session,
        session.begin(),
    ):
        yield session


@contextmanager
def _turn_to_write(engine: Engine, action: str) -> Iterator[None]:
    """A SQLite write waits for this process's other writing threads on :data:`_WRITE_LOCKS`, at most the busy
    timeout (then SQLite's own wait and its "locked" error take over)."""
    lock = _WRITE_LOCKS.get(engine) if action != "read" and engine.dialect.name == "sqlite" else None
    held = lock is not None and lock.acquire(timeout=_BUSY_TIMEOUTS.get(engine, DEFAULT_BUSY_TIMEOUT_S))
    try:
        yield
    finally:
        if held:
            lock.release()


# ------------------------------------------------------------------------------------------ migrations
HEAD_REVISION = "0012_team_model"
"""The newest migration in ``migrations/versions`` (``tests/test_store.py`` checks it against Alembic's head). A
database already there opens without importing Alembic (~0.4 s of every start-up); any other goes through it."""


def _recorded_revision(engine: Engine) -> str | None:
    """The ``alembic_version`` row read with plain SQL, or None (no such table, or not one row)."""
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()
    except Exception:  # no table yet, or a database that cannot be read: the Alembic path says which
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def alembic_config(engine: Engine | None = None, *, url: str | URL | None = None) -> Config:
    """An Alembic Config for the packaged migrations (no alembic.ini needed).

    With ``engine`` the migrations run through it; with only ``url`` (e.g. for ``--sql`` output or
    ``command.revision(cfg, autogenerate=True)`` during development) env.py builds an engine itself.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    target = engine.url if engine is not None else (make_url(url) if url is not None else None)
    if target is not None:
        cfg.set_main_option("sqlalchemy.url", target.render_as_string(hide_password=False).replace("%", "%%"))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest schema revision this version of the code knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError(f"no schema migrations found in {MIGRATIONS_DIR} (broken installation)")
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database (None for a database without one)."""
    from alembic.runtime.migration import MigrationContext

    with translate_errors(engine, "open"), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _check_upgradable(engine: Engine) -> str | None:
    """The current revision, after refusing databases this code must not touch."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    with engine.connect() as conn:
        # Tables first, then the revision: on PostgreSQL (READ COMMITTED) another process's migration may commit
        # between the two reads, and tables-without-revision would look like a foreign database.
        tables = set(inspect(conn).get_table_names())
        current = MigrationContext.configure(conn).get_current_revision()
    where = describe_url(engine.url)
    if current is not None:
        try:
            script.get_revision(current)
        except Exception:  # alembic raises several types for an unknown revision id
            raise SchemaVersionError(
                f"The database {where} has schema revision {current!r}, which this version of fma-judge does "
                f"not know (newest known: {script.get_current_head()!r}). It was written by a newer fma-judge: "
                "update fma-judge, or open another database with --db."
            ) from None
        return current
    ours = set(Base.metadata.tables)
    if tables - {"alembic_version"}:
        found = ", ".join(sorted(tables)[:8])
        kind = (
            "an fma-judge database without a schema version" if tables & ours else "not an fma-judge database"
        )
        raise SchemaVersionError(
            f"The database {where} is {kind} (it has tables {found}); refusing to change it. "
            "Use an empty or new database file."
        )
    return None


_ALEMBIC_VERSION_DDL = ("CREATE TABLE alembic_version (\n\tversion_num VARCHAR(32) NOT NULL, \n\t"
                        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n)")  # as Alembic makes it


def _create_in_empty_sqlite(engine: Engine) -> bool:
    """A new (empty) SQLite database gets the newest schema from the ORM's metadata and its revision recorded, in
    one BEGIN IMMEDIATE transaction, without importing Alembic: a workstation's very first start was ~0.3 s
    longer through the migrations. The DDL is the migrations' own (``tests/test_store.py`` compares them).
    False, with nothing changed, when the database holds anything (another process made it meanwhile, or it is
    not ours): the Alembic path decides then."""
    with translate_errors(engine, "create"), engine.execution_options(**{_BEGIN_IMMEDIATE: True}).begin() as conn:
        if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
            return False
        Base.metadata.create_all(conn)
        conn.exec_driver_sql(_ALEMBIC_VERSION_DDL)
        conn.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES (?)", (HEAD_REVISION,))
    return True


def init_db(engine: Engine) -> str:
    """Create or upgrade the schema to the newest revision; a no-op when it is already there.

    Returns:
        The revision the database is at afterwards.

    Raises:
        SchemaVersionError: the database comes from a newer fma-judge, or holds tables that are not ours.
        StoreError: the database cannot be opened or written.
    """
    if _recorded_revision(engine) == HEAD_REVISION:  # the usual start: nothing to create or upgrade
        return HEAD_REVISION
    if engine.dialect.name == "sqlite" and _create_in_empty_sqlite(engine):
        return HEAD_REVISION
    from alembic import command

    head = head_revision()
    with translate_errors(engine, "open"):
        current = _check_upgradable(engine)
        if current == head:
            return head
    # Another process may be creating or upgrading it right now: the migrations take a lock first (SQLite:
    # BEGIN IMMEDIATE, waiting up to the busy timeout; PostgreSQL: an advisory lock, see migrations/env.py),
    # then read the revision again, so the second process finds the schema made and changes nothing.
    migrating = engine.execution_options(**{_BEGIN_IMMEDIATE: True}) if engine.dialect.name == "sqlite" else engine
    path = sqlite_path(engine.url) if current is not None else None  # (a server database: the server's to back up)
    copy = backup_before_upgrade(path, current, head) if path is not None and path.is_file() else None
    with translate_errors(engine, "upgrade"):
        command.upgrade(alembic_config(migrating), "head")
    if current is not None and (copy is not None or path is None):  # (new: nothing to say; no copy of a file:
        say_upgraded(describe_url(engine.url), current, head, copy)  # another process upgraded it and says so)
    return head


# ------------------------------------------------------------------------------------------ opening
def _read_only_uri(path: Path) -> str:
    """The SQLite URI that reads ``path`` without writing anything.

    ``mode=ro`` reads a WAL file's newest commits but needs a ``-shm`` file it can create or use. Where none can be
    (a read-only folder), ``immutable=1`` is the only way in, and it ignores the WAL: it is used only when there is
    no WAL content it would miss.

    Raises:
        StoreError: the newest changes are in a WAL that cannot be read from here.
    """
    uri = path.resolve().as_uri()
    shm, wal = (path.with_name(path.name + suffix) for suffix in ("-shm", "-wal"))
    if shm.exists() or os.access(path.parent, os.W_OK):
        return f"{uri}?mode=ro"
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError.refused("open", describe_url(f"sqlite:///{path}"), Reason(
            f"its newest changes are in {wal.name}, which cannot be read without write access to {path.parent}",
            "wal_unreadable", wal=wal.name, folder=str(path.parent)), read_only=True)
    return f"{uri}?mode=ro&immutable=1"


def read_only_reason(url: str | URL) -> Reason | None:
    """Why this account can only read the SQLite database at ``url`` (None: it can write, or not SQLite).

    SQLite itself is asked (a write lock taken and given back at once): permission bits say too little on
    Windows (access lists), on network shares and when another account owns the ``-wal`` file. The probe writes
    the header's ``user_version`` back unchanged and rolls back: SQLite opens a write-protected file read-only
    without a word, and only a write tells.
    """
    path = sqlite_path(url)
    if path is None or not path.exists() or path.stat().st_size == 0:
        return None
    if not os.access(path, os.W_OK):
        return _file_read_only(path)
    try:
        with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=rw", uri=True, timeout=0.5,
                                     isolation_level=None)) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(f"PRAGMA user_version = {version}")
            finally:
                conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return None  # another program is writing: so can we, in turn
        if "readonly" in text or "read-only" in text or "unable to open" in text or "disk i/o" in text:
            if not os.access(path, os.W_OK):
                return _file_read_only(path)
            return Reason(f"{path} (or its folder) is read-only for you", "path_read_only", path=str(path))
        return None  # anything else (a damaged file ...) is for open_store's check to report
    except sqlite3.DatabaseError:
        return None
    return None


def read_only(engine: Engine) -> Reason | None:
    """Why nothing can be written through ``engine`` (None: it can write)."""
    return _READ_ONLY.get(engine)


def check_integrity(engine: Engine) -> str | None:
    """The first problems SQLite's ``PRAGMA quick_check`` finds (None: sound, or not SQLite).

    A few seconds for a database of a million judgments; pages that are damaged would otherwise open fine
    and then fail every judgment.
    """
    if engine.dialect.name != "sqlite":
        return None
    try:
        with translate_errors(engine, "check"), engine.connect() as conn:
            return quick_check_problems(conn.exec_driver_sql("PRAGMA quick_check").fetchall())
    except StoreError as exc:
        text = str(exc)
        if "malformed" in text or "not a database" in text:  # so damaged that the check itself stops
            return "database disk image is malformed" if "malformed" in text else "its header is not SQLite's"
        raise


@dataclass(frozen=True)
class OpenedStore:
    """An open, checked store. ``read_only`` says why nothing can be written (None: judging works)."""

    engine: Engine
    read_only: Reason | None = None


def open_store(url: str | URL | None = None, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
               writable: bool = False, check: bool = True, upgrade: bool = True) -> OpenedStore:
    """Open the store the way every entry point does: engine, schema, integrity check, read-only fallback.

    ``url`` is ``--db`` as given (:func:`resolve_db_url`: a URL or a SQLite file's path); a relative path opens an
    existing file of the current folder and never makes a new one (:func:`refuse_new_relative`). A SQLite file
    this account cannot write opens read-only (browse and export) unless ``writable`` is asked;
    then its schema must already be the newest. ``check`` runs ``PRAGMA quick_check`` (SQLite). ``upgrade=False``
    leaves an older schema as it is (the self-test looks, it does not upgrade a team's database); a new database
    is made all the same.

    Raises:
        DamagedDatabaseError: the integrity check failed (``.path`` names the file, for a restore).
        SchemaVersionError: as :func:`init_db`; also a read-only database at an older revision.
        StoreError: the database cannot be opened, or cannot be written when ``writable``; a relative path names
            no file.
    """
    url = url if url is not None else default_db_url()  # (FMA_JUDGE_DB is taken as --db is)
    refuse_new_relative(url)  # an existing file of the current folder opens; a new one needs a full path
    url = resolve_db_url(url)  # a file's path, a relative one: absolute
    path = sqlite_path(url)
    if (problem := not_a_store_file(path)) is not None:
        raise StoreError.refused("open", describe_url(url), problem)
    if path is not None and path.is_file() and path.stat().st_size == 0 and was_backed_up(path):
        # A database that has been backed up was never empty: something truncated it (a sync tool, a full disk).
        raise DamagedDatabaseError(
            f"The database {describe_url(url)} is damaged: the file is empty, though it has backups. Restore one "
            f"(fma-judge restore --list --db {describe_url(url)}) or open another database with --db.", path=path)
    reason = read_only_reason(url)
    if reason is not None and writable:
        raise StoreError.refused("write to", describe_url(url), reason)
    engine = make_engine(url, busy_timeout_s=busy_timeout_s, read_only=reason is not None)
    if reason is not None:
        _READ_ONLY[engine] = reason
    try:
        if check and (problem := check_integrity(engine)) is not None:
            path = sqlite_path(url)
            raise DamagedDatabaseError(
                f"The database {describe_url(url)} is damaged: {problem}. Restore a backup "
                f"(fma-judge restore --list --db {describe_url(url)}) or open another database with --db.", path=path)
        if reason is None and not upgrade:
            with translate_errors(engine, "open"):
                if _check_upgradable(engine) is None:
                    init_db(engine)  # a new one: made, as the app would
        elif reason is None:
            init_db(engine)
        else:
            with translate_errors(engine, "open"):
                current = _check_upgradable(engine)
            if current != head_revision():
                raise SchemaVersionError(
                    f"The database {describe_url(url)} cannot be opened read-only: its schema ({current}) is "
                    f"older than this fma-judge's ({head_revision()}) and {reason}, so it cannot be upgraded.")
    except BaseException:
        engine.dispose()
        raise
    return OpenedStore(engine, reason)
