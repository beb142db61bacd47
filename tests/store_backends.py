"""Store tests on every backend: SQLite always, PostgreSQL when ``FMA_TEST_PG_URL`` names a scratch server.

Use :data:`BACKENDS` as the ``params`` of an engine fixture and :func:`fresh_engine` inside it. Each
PostgreSQL test gets its own freshly created schema (dropped afterwards, whatever the test did), so tests
never see each other's rows and a failed test leaves nothing behind. ``.ci/start_postgres.sh`` starts such
a server in CI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text

from app.store.db import init_db, make_engine

PG_URL = os.environ.get("FMA_TEST_PG_URL", "")

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not PG_URL, reason="set FMA_TEST_PG_URL to a scratch PostgreSQL"),
    ),
]
"""Fixture params: ``sqlite`` and ``postgresql`` (skipped without ``FMA_TEST_PG_URL``)."""


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """A URL of the scratch server whose connections use a new, empty schema; dropped on exit."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def fresh_engine(backend: str, tmp_path: Path, name: str = "store.sqlite3", *, init: bool = True) -> Iterator[Engine]:
    """An engine on an empty store of ``backend`` (schema created unless ``init`` is False)."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / name}")
        try:
            if init:
                init_db(engine)
            yield engine
        finally:
            engine.dispose()
        return
    with pg_schema_url() as url:
        engine = make_engine(url)
        try:
            if init:
                init_db(engine)
            yield engine
        finally:
            engine.dispose()
