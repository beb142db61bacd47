"""Replacing a file atomically: write a new file next to it, then rename it over the old one.

Readers see the old file or the new one, never half of one, and a failed write leaves the old file as it was.
The new file is created like any new file (mode 0666 less the umask), not private like ``tempfile.mkstemp``'s,
so a manifest or export written into a shared folder stays readable to colleagues and service accounts.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def replacing(path: str | os.PathLike[str], *, newline: str | None = "", bom: bool = False) -> Iterator[IO[str]]:
    """A UTF-8 text handle on a new file next to ``path`` that replaces ``path`` when the block completes.

    Args:
        path: the file to replace (its folder must exist).
        newline: as for :func:`open` (``""``: write line ends exactly as given).
        bom: start the file with a byte-order mark (a CSV for people: Excel on a Traditional-Chinese Windows
            reads a CSV without one as Big5, and the notes' Chinese comes out garbled).
    """
    path = Path(path)
    try:
        fd, tmp = create_new(path.parent, f".{path.name}.", ".tmp")
    except FileExistsError:  # pragma: no cover - 100 collisions of 32 random bits
        raise
    except OSError as exc:  # about the folder: name the file meant, not this hidden temporary one
        raise named(exc, path) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig" if bom else "utf-8", newline=newline) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        # a full disk at write, close or rename (the usual moment): the file meant, not the temporary
        if isinstance(exc, OSError) and exc.filename in (str(tmp), tmp, None) and not hasattr(exc, "named_path"):
            raise named(exc, path) from None
        raise


def create_new(folder: str | os.PathLike[str], prefix: str, suffix: str) -> tuple[int, Path]:
    """A new file of a name of its own in ``folder`` (``prefix``, 8 random hex digits, ``suffix``; never an existing
    file's), open for writing, with the mode any new file gets (0666 less the umask): ``(descriptor, path)``.

    Raises:
        OSError: the folder cannot be written; FileExistsError after 100 names taken (never, in practice).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = Path(folder) / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free name for a new file in {folder}")  # pragma: no cover


def make_folder(folder: str | os.PathLike[str]) -> None:
    """``folder`` and its parents made where missing; a refusal says which folder could not be made, and why, as
    :func:`replacing` says it of a file (an image-folder export onto a read-only share gave "[Errno 30] Read-only
    file system: ..." where a CSV export said "cannot write ...: its folder ... is read-only for you")."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # (exc.filename: the folder that refused, an ancestor when parents were missing)
        raise named(exc, Path(exc.filename or folder)) from None


def named(exc: OSError, path: Path) -> OSError:
    """``exc`` said about ``path`` (the file meant), its class kept: a read-only folder or file system, a full disk."""
    why = exc.strerror or str(exc)
    if isinstance(exc, PermissionError):
        said: OSError = PermissionError(f"cannot write {path}: its folder {path.parent} is read-only for you ({why})")
    elif exc.errno == errno.EROFS:
        said = PermissionError(f"cannot write {path}: its folder {path.parent} is on a read-only file system")
    else:
        said = type(exc)(f"cannot write {path} ({why})")
    said.named_path = str(path)  # (said once: an enclosing replacing() does not name it again after its own file)
    return said


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8), atomically."""
    with replacing(path) as handle:
        handle.write(text)
