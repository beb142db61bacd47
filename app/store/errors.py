"""Errors raised by the store. None of them needs SQLAlchemy to be caught."""

from __future__ import annotations

from pathlib import Path


class Reason(str):
    """Why the store refused: the English words (the ``str`` itself), with ``kind`` and ``fields`` for a window that
    says it in its own language (``app.ui.style.store_reason_text``; None: no words of its own, show the text).

    * ``"read_only"``, ``"disk_full"``, ``"no_permission"``, ``"damaged"``: the driver said so, in ``detail``;
    * ``"locked"``: another program holds the write lock; ``waited`` and ``most`` the seconds ("" when unknown),
      ``detail`` the driver's words;
    * ``"no_folder"``: the ``folder`` of a SQLite file does not exist; ``"cannot_create"``: the file is not there
      and its ``folder`` is read-only for this account;
    * ``"file_read_only"``: the file at ``path`` is read-only for this account; ``"path_read_only"``: the file or
      its folder (``path`` the file);
    * ``"is_folder"``: ``path`` is a folder (``example``: a file name to give); ``"not_database"``: ``path`` is a file
      of another ``kind`` (``app.store.store_file.FILE_KINDS``);
    * ``"opened_read_only"``: the store was opened read-only as asked;
    * ``"wal_unreadable"``: the newest changes are in the ``wal`` file, unreadable without write access to ``folder``;
    * ``"unsupported"``: a database other than SQLite or PostgreSQL;
    * ``"password"``: a server refused the password, or needed one (``detail``: its words);
    * ``"no_rights"``: a server refused the login the rights on the tables (``detail``: its words).
    """

    kind: str | None
    fields: dict[str, str]

    def __new__(cls, text: str, kind: str | None = None, /, **fields: str) -> Reason:
        reason = super().__new__(cls, text)
        reason.kind, reason.fields = kind, fields
        return reason


class StoreError(RuntimeError):
    """The database cannot be opened, read or written; the message names the database and the reason.

    An error made by :meth:`refused` (every "Cannot <action> the database <db>: <reason>") also keeps its parts, so a
    window can say it in its own language: ``action`` ("open", "check", "use", "read", "write to", "create",
    "upgrade"; None for an error without them), ``database`` as said, ``reason`` (a :class:`Reason`, or plain
    words), ``read_only`` (opening read-only was asked) and ``unchanged`` (nothing was changed).
    """

    def __init__(self, message: str, *, action: str | None = None, database: str = "", reason: str = "",
                 read_only: bool = False, unchanged: bool = False) -> None:
        super().__init__(message)
        self.action, self.database, self.reason = action, database, reason
        self.read_only, self.unchanged = read_only, unchanged

    @classmethod
    def refused(cls, action: str, database: str, reason: str, *, read_only: bool = False, unchanged: bool = False
                ) -> StoreError:
        """``Cannot <action> the database <database>[ read-only]: <reason>[; nothing was changed]``."""
        return cls(f"Cannot {action} the database {database}{' read-only' if read_only else ''}: {reason}"
                   f"{'; nothing was changed' if unchanged else ''}", action=action, database=database, reason=reason,
                   read_only=read_only, unchanged=unchanged)


class SchemaVersionError(StoreError):
    """The database schema is not one this version of fma-judge can use (newer, or not ours)."""


class DamagedDatabaseError(StoreError):
    """The database file fails its integrity check; ``path`` is the SQLite file (None for a server)."""

    def __init__(self, message: str, *, path: Path | None = None, **parts: object) -> None:
        super().__init__(message, **parts)
        self.path = path


class ReadOnlyError(StoreError):
    """A write was asked of a store opened read-only (the message says why it is); nothing was changed."""


class NeverOpenedError(ReadOnlyError):
    """A folder never opened with a store that is read-only: there is nothing of it to show. ``folder`` and ``why``
    (the store's read-only reason, a :class:`Reason` or words) for a window that says it in its own language."""

    def __init__(self, folder: str | Path, why: str) -> None:
        super().__init__(f"The folder {folder} was never opened with this database, and {why}: there is nothing of "
                         "it to show")
        self.folder, self.why = str(folder), why

    def __reduce__(self):  # (its arguments are not its message)
        return type(self), (self.folder, self.why)


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
    * ``"inside_batch"``: ``out`` is inside the folder ``folder`` of the batch named ``name``;
    * ``"no_batch"``: no batch has the id or name ``batch`` (a bad ``--batch``: exit 2, as other bad options);
    * ``"busy"``: another export is writing into the folder ``out`` now (``who``, ``since``: local HH:MM);
    * ``"exists"``: asked not to write over one, the image folder ``out`` holds a ``manifest.csv`` (written since
      the caller looked: another export);
    * ``"stale_lock"``: the export lock ``path``, left by an export that died, cannot be removed by this account.
    """

    def __init__(self, message: str, reason: str | None = None, **fields: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.fields = fields
