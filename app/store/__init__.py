"""The judging store: SQLAlchemy ORM, Alembic migrations, repository functions and label export. No Qt.

- :mod:`app.store.db`: engine, migrations (``init_db``), ``session_scope``, :class:`StoreError`.
- :mod:`app.store.repo`: repository functions; each takes a Session.
- :mod:`app.store.records`: the frozen records handed to services and the UI.
- :mod:`app.store.export`: ``export_labels`` (the ``fma-judge export`` command is in :mod:`app.commands`).
"""

from app.store.db import default_db_url, init_db, make_engine, session_scope
from app.store.errors import ExportError, JudgmentConflictError, SchemaVersionError, StoreError

__all__ = [
    "ExportError",
    "JudgmentConflictError",
    "SchemaVersionError",
    "StoreError",
    "default_db_url",
    "init_db",
    "make_engine",
    "session_scope",
]
