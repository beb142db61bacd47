"""Alembic environment for the store.

Run from code (``app.store.db.init_db`` / ``alembic_config``), not from an ``alembic.ini``. The caller
puts an Engine (or an open Connection) in ``config.attributes``; offline (``--sql``) mode reads the
``sqlalchemy.url`` main option.

On SQLite, foreign keys are switched off while the migrations run (batch mode re-creates tables) and
``PRAGMA foreign_key_check`` must come back empty before the transaction commits.

Two processes may start on a fresh database at once (two windows, the app and ``fma-judge classify``): the
migrations run in one transaction that first takes a lock (SQLite: ``init_db`` hands over an engine whose
transactions begin IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), and only then reads the current
revision, so the second process waits and finds the schema already there.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine, text

from app.store.schema import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata
MIGRATION_LOCK_KEY = 0x464D414A  # "FMAJ": the PostgreSQL advisory lock held while migrating


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write :class:`UTCDateTime` as the plain portable type, so revisions never import app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_kwargs() -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "render_as_batch": True,
        "compare_type": True,
        "render_item": _render_item,
    }


def run_migrations_offline() -> None:
    """Emit the SQL to stdout (``alembic upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_configure_kwargs(),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    toggle_fk = sqlite and not connection.in_transaction()
    driver = connection.connection.driver_connection if toggle_fk else None
    if driver is not None:
        driver.execute("PRAGMA foreign_keys=OFF")  # cannot change inside a transaction
    try:
        context.configure(
            connection=connection, transactional_ddl=True if sqlite else None, **_configure_kwargs()
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":  # released at commit or rollback
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            context.run_migrations()  # reads the current revision only now, under the lock
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"migration left {len(broken)} broken foreign key(s), e.g. {broken[:3]}"
                    )
    finally:
        if driver is not None:
            driver.execute("PRAGMA foreign_keys=ON")


def run_migrations_online() -> None:
    """Migrate through the Connection or Engine handed over in ``config.attributes``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine: Engine | None = config.attributes.get("engine")
    if engine is None:
        from app.store.db import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
