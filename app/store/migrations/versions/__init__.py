"""Alembic revision scripts (``NNNN_<slug>.py``); Alembic skips this file."""
