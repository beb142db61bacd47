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
        count: how many of the images asked for were decided meanwhile (a bulk action; 0 when not counted).
        deciders: who decided them, sorted (a bulk action), so a window can say it in its own language.
    """

    def __init__(self, message: str, current: object | None = None, *, note: bool = False, count: int = 0,
                 deciders: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.current = current
        self.note = note
        self.count = count
        self.deciders = deciders


class ExportError(ValueError):
    """An export cannot be written as asked (bad output path, format or filter).

    The message is the CLI's English sentence. ``reason`` names the refusal for a window that says it in its own
    language (None: no sentence of its own, show the message), and ``fields`` hold what the sentence names:

    * ``"is_folder"``: ``out`` is a folder; ``example`` a file name to give instead;
    * ``"not_folder"``: ``out`` is a file, and an image-folder export needs a folder;
    * ``"is_store"``: ``out`` is the database the judgments are kept in;
    * ``"inside_batch"``: ``out`` is inside the folder ``folder`` of the batch named ``name``.
    """

    def __init__(self, message: str, reason: str | None = None, **fields: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.fields = fields
