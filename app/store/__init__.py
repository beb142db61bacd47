"""The judging store: SQLAlchemy ORM, Alembic migrations, repository functions and label export. No Qt.

Import its modules, not this package's names: importing :mod:`app.store.records` or :mod:`app.store.errors` does not
import SQLAlchemy (the app's window is on screen before it is).

- :mod:`app.store.db`: engine, migrations (``init_db``), ``session_scope``, :class:`StoreError`.
- :mod:`app.store.repo`: repository functions; each takes a Session.
- :mod:`app.store.records`: the frozen records handed to services and the UI.
- :mod:`app.store.export`: ``export_labels`` (the ``fma-judge export`` command is in :mod:`app.commands`).
"""
