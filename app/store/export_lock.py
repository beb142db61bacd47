"""One image-folder export into a folder at a time. No database here.

Two exports into one folder at once (two analysts exporting to the team's share, a second click while the first
still copies) each read the earlier exports' ledger, copy, and remove the copies their images left under an old
type; racing on an image relabelled since, whose source is gone, they could remove each other's only copy (review).
So an export holds ``.fma-export.lock`` in the folder while it writes: a file created exclusively (every OS and
network share keeps that to one creator, unlike advisory locks), holding who exports and since when, and touched as
the export goes (:meth:`ExportLock.beat`). A second export is refused with those words.

A lock left by an export that died is taken over: at once when it names a process of this computer that is gone,
else once it has not been touched for :data:`STALE_S` *and* is seen unchanged for :data:`WATCH_S` (a share's clock
may differ from this computer's: by the times alone, a workstation whose clock ran fast took a live export's lock).
Taking over goes through a second lock file (``.fma-export.lock.takeover``), so two exports that find one dead lock
never both take it (review: each removed the other's fresh lock and both wrote).
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
from typing import Any

from app.store.errors import ExportError
from models.atomic import make_folder

EXPORT_LOCK = ".fma-export.lock"
STALE_S = 120.0
"""A lock not touched for this long, by this computer's clock, may be a dead export's (one that runs touches it
every :data:`BEAT_S`); it is taken over once seen unchanged for :data:`WATCH_S` too."""
BEAT_S = 2.0
WATCH_S = 2 * BEAT_S + 1.0
TAKEOVER_STALE_S = 60.0
"""A takeover lock this old was left by an export that died while taking a lock over (it takes milliseconds)."""
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


class ExportLock:
    """The held lock of one export (:func:`export_lock`); :meth:`beat` keeps it fresh and checks it is still ours."""

    def __init__(self, path: Path, token: str, held: bool = True) -> None:
        self.path, self.token, self.held, self._last = path, token, held, time.monotonic()

    def beat(self) -> None:
        """Touch the lock file (at most every :data:`BEAT_S`), so that it is never taken for a dead export's.

        Raises:
            ExportError: ``"busy"``: another export took the lock over (this one was taken for dead): this export
                stops rather than write beside it.
        """
        now = time.monotonic()
        if not self.held or now - self._last < BEAT_S:
            return
        self._last = now
        if not self.ours():
            held = _holder(self.path)
            raise _busy(self.path.parent, held[0] if held else "", held[1] if held else "?", taken=True)
        with contextlib.suppress(OSError):
            os.utime(self.path)

    def ours(self) -> bool:
        try:
            return json.loads(self.path.read_text(encoding="utf-8")).get("token") == self.token
        except (OSError, ValueError, AttributeError):
            return False


def _holder(path: Path) -> tuple[str, str, tuple[int, int], dict[str, Any]] | None:
    """``(who, since (local HH:MM), (inode, modification time ns), what it says)`` of the lock at ``path``; None when
    there is none. One that cannot be read (a share letting only its creator read it, a Windows file being deleted)
    is a lock all the same, said without names."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError:
        return "", "?", (0, 0), {}
    try:
        held = json.loads(path.read_text(encoding="utf-8"))
        who = f"{held['user']} on {held['host']}"
        if held.get("by"):
            who = f"{held['by']} ({who})"
        since = datetime.fromisoformat(held["since"]).astimezone().strftime("%H:%M")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # being written, not readable, not ours
        held, who, since = {}, "", datetime.fromtimestamp(st.st_mtime).strftime("%H:%M")
    return who, since, (st.st_ino, st.st_mtime_ns), held


def _busy(folder: Path, who: str, since: str, *, taken: bool = False) -> ExportError:
    named = f"{who + ', ' if who else ''}since {since}"
    if taken:
        return ExportError(f"{folder}: another export took this folder over ({named}), taking this one for dead; "
                           "this export stopped: export again when it has finished", "busy", out=str(folder), who=who,
                           since=since)
    return ExportError(f"{folder}: another export is writing into this folder now ({named}); export again when it "
                       "has finished", "busy", out=str(folder), who=who, since=since)


def _process_gone(held: dict[str, Any]) -> bool:
    """Whether the lock names a process of this computer that is gone (POSIX: on Windows a "signal 0" would end a
    process, so there the times decide)."""
    pid = held.get("pid")
    if os.name != "posix" or held.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # (another account's process: it is there)
        return False
    return False


def _dead(path: Path, seen: tuple[int, int], held: dict[str, Any], stale_s: float, watch_s: float) -> bool:
    """Whether the lock ``seen`` so was left by an export that died (module doc)."""
    if _process_gone(held):
        return True
    if time.time() - seen[1] / 1e9 < stale_s:
        return False
    time.sleep(watch_s)  # old by the clocks: touched meanwhile, it is alive (a share's clock behind this one's)
    now = _holder(path)
    return now is not None and now[2] == seen


def _take_over(path: Path, seen: tuple[int, int]) -> None:
    """Remove the dead lock ``seen`` so, under the takeover lock: another export that found it dead too, and took it
    over first, has made a new lock in its place by then, which is left alone."""
    guard = path.with_name(path.name + ".takeover")
    try:
        fd = os.open(guard, _FLAGS, 0o644)
    except FileExistsError:  # another export is taking it over now, or one died doing it
        with contextlib.suppress(OSError):
            if time.time() - guard.stat().st_mtime > TAKEOVER_STALE_S:
                guard.unlink()
        return
    except OSError:
        return
    os.close(fd)
    try:
        now = _holder(path)
        if now is not None and now[2] == seen:
            with contextlib.suppress(OSError):
                path.unlink()
    finally:
        with contextlib.suppress(OSError):
            guard.unlink()


@contextlib.contextmanager
def export_lock(folder: Path, by: str | None = None) -> Iterator[ExportLock]:
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
    make_folder(folder)  # (a new folder: locked from the start; one that cannot be made is said so, by name)
    fd, held = None, None
    for _ in range(5):  # (a dead lock removed, then taken by another export in between: looked at again)
        try:
            fd = os.open(path, _FLAGS, 0o644)
            break
        except (FileExistsError, PermissionError):  # held (on Windows also: a lock still being deleted)
            if (held := _holder(path)) is None:
                time.sleep(0.05)
                continue
            who, since, seen, said = held
            if not _dead(path, seen, said, STALE_S, WATCH_S):
                raise _busy(folder, who, since) from None
            _take_over(path, seen)
        except OSError:  # a folder that cannot be written: the export's own writes say why, unlocked
            break
    else:  # looked at again and again, never made: someone holds it
        held = _holder(path)
        if held is not None:
            raise _busy(folder, held[0], held[1])
    lock = ExportLock(path, token, held=fd is not None)
    if fd is not None:
        try:
            os.write(fd, body)
        finally:
            os.close(fd)
    try:
        yield lock
    finally:
        if lock.held and lock.ours():
            with contextlib.suppress(OSError):
                path.unlink()
