"""Alembic migrations of the store, shipped inside the package and run from code (see ``app.store.db``)."""
