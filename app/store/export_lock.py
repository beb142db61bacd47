"""One image-folder export into a folder at a time. No database here.

Two exports into one folder at once (two analysts exporting to the team's share, a second click while the first
still copies) each read the earlier exports' ledger, copy, and remove the copies their images left under an old
type; racing on an image relabelled since, whose source is gone, they could remove each other's only copy (review).
So an export holds ``.fma-export.lock`` in the folder while it writes: a file created exclusively (every OS and
network share keeps that to one creator, unlike advisory locks), holding who exports and since when, and touched as
the export goes (:meth:`ExportLock.beat`). A second export is refused with those words; a lock left by an export
that died (not touched for :data:`STALE_S`) is taken over.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from app.store.errors import ExportError
from models.atomic import make_folder

EXPORT_LOCK = ".fma-export.lock"
STALE_S = 120.0
"""A lock not touched for this long was left by an export that died (one that runs touches it every
:data:`BEAT_S`; a single copy of a large file over a slow share takes seconds, not minutes)."""
BEAT_S = 2.0


class ExportLock:
    """The held lock of one export (:func:`export_lock`); :meth:`beat` keeps it fresh."""

    def __init__(self, path: Path, token: str) -> None:
        self.path, self.token, self._last = path, token, time.monotonic()

    def beat(self) -> None:
        """Touch the lock file (at most every :data:`BEAT_S`), so that it is never taken for a dead export's."""
        now = time.monotonic()
        if now - self._last >= BEAT_S:
            self._last = now
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def _ours(self) -> bool:
        try:
            return json.loads(self.path.read_text(encoding="utf-8")).get("token") == self.token
        except (OSError, ValueError, AttributeError):
            return False


def _holder(path: Path) -> tuple[str, str, float] | None:
    """``(who, since (local HH:MM), seconds since last touched)`` of the lock at ``path``; None when it is gone."""
    try:
        st = path.stat()
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        held = json.loads(text)
        who = f"{held['user']} on {held['host']}"
        if held.get("by"):
            who = f"{held['by']} ({who})"
        since = datetime.fromisoformat(held["since"]).astimezone().strftime("%H:%M")
    except (ValueError, KeyError, TypeError):  # being written, or not ours: said without names
        who, since = "", datetime.fromtimestamp(st.st_mtime).strftime("%H:%M")
    return who, since, time.time() - st.st_mtime


@contextlib.contextmanager
def export_lock(folder: Path, stale_s: float = STALE_S, by: str | None = None) -> Iterator[ExportLock]:
    """Hold ``folder``'s export lock for the block; ``by``: the analyst exporting (a shared workstation account
    named no one), named to a second export with this computer's account.

    Raises:
        ExportError: ``"busy"``: another export is writing into ``folder`` now (``who``, ``since``); the message
            names them. A folder that cannot be written is not refused here: the export's own writes say why.
    """
    path = folder / EXPORT_LOCK
    token = secrets.token_hex(8)
    try:
        user = getpass.getuser()
    except (OSError, KeyError, ImportError):  # no name for this account (a service, a container)
        user = "?"
    body = json.dumps({"by": by, "user": user, "host": socket.gethostname(), "pid": os.getpid(), "token": token,
                       "since": datetime.now(UTC).isoformat(timespec="seconds")}).encode()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    lock, fd = ExportLock(path, token), None
    make_folder(folder)  # (a new folder: locked from the start; one that cannot be made is said so, by name)
    for _ in range(3):  # (a stale lock removed, then taken by another export in between: looked at again)
        try:
            fd = os.open(path, flags, 0o644)
            break
        except (FileExistsError, PermissionError):  # held (on Windows also: a lock still being deleted)
            held = _holder(path)
            if held is None:
                continue
            who, since, idle = held
            if idle < stale_s:
                raise ExportError(
                    f"{folder}: another export is writing into this folder now ({who + ', ' if who else ''}since "
                    f"{since}); export again when it has finished", "busy", out=str(folder), who=who,
                    since=since) from None
            with contextlib.suppress(OSError):
                path.unlink()  # left by an export that died
        except OSError:  # a folder that cannot be written: the export's own writes say why, unlocked
            break
    if fd is not None:
        try:
            os.write(fd, body)
        finally:
            os.close(fd)
    try:
        yield lock
    finally:
        if fd is not None and lock._ours():
            with contextlib.suppress(OSError):
                path.unlink()
