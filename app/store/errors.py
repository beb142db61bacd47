"""Errors raised by the store. None of them needs SQLAlchemy to be caught."""

from __future__ import annotations

from pathlib import Path


class StoreError(RuntimeError):
    """The database cannot be opened, read or written; the message names the database and the reason."""


class SchemaVersionError(StoreError):
    """The database schema is not one this version of fma-judge can use (newer, or not ours)."""


class DamagedDatabaseError(StoreError):
    """The database file fails its integrity check; ``path`` is the SQLite file (None for a server)."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class ReadOnlyError(StoreError):
    """A write was asked of a store opened read-only (the message says why it is); nothing was changed."""


class JudgmentConflictError(StoreError):
    """A judgment was made on a state that is no longer the image's: someone judged it meanwhile (an undo/redo that
    no longer applies, or a judgment of an image another analyst decided since the screen showed it).

    Attributes:
        current: the image's judgment now (a JudgmentRecord; None when unknown or several images conflict).
        note: it was the note that changed meanwhile (a note written over a colleague's unseen).
    """

    def __init__(self, message: str, current: object | None = None, *, note: bool = False) -> None:
        super().__init__(message)
        self.current = current
        self.note = note


class ExportError(ValueError):
    """An export cannot be written as asked (bad output path, format or filter)."""
