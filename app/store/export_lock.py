"""One image-folder export into a folder at a time. No database here.

Two exports into one folder at once (two analysts exporting to the team's share, a second click while the first
still copies) each read the earlier exports' ledger, copy, and remove the copies their images left under an old
type; racing on an image relabelled since, whose source is gone, they could remove each other's only copy (review).
So an export holds ``.fma-export.lock`` in the folder while it writes: a file created exclusively (every OS and
network share keeps that to one creator, unlike advisory locks), holding who exports and since when, touched by a
thread while it is held. A second export is refused with those words.

A lock left by an export that died is taken over: at once when it names a process of this very system (the same
boot and process namespace, not merely the same host name: cloned workstations, containers) that is gone or was
started after the lock (its pid reused); else once it has not been touched for :data:`STALE_S` *and* is seen
unchanged for :data:`WATCH_S` (a share's clock may differ from this computer's: by the times alone, a workstation
whose clock ran fast took a live export's lock). Taking over goes through a second lock file
(``.fma-export.lock.takeover``), so two exports that find one dead lock never both take it (review: each removed
the other's fresh lock and both wrote).
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import json
import os
import secrets
import socket
import threading
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
CHECK_S = 0.5
"""How often :meth:`ExportLock.beat`, called at each row, reads the lock to see it is still this export's."""
TRY_S = 10.0
"""How long an export tries to make the lock while others come and go (a dead lock taken over by another export in
between, a lock Windows is still deleting) before it says the folder is busy."""
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
_LIVE: set[str] = set()
"""The tokens of the locks this process holds now: one of its own pid with another token was left behind."""


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return ""


@functools.cache
def _system() -> str:
    """This system's identity for the pid rule (Linux: the boot and the pid namespace); "" when not known (then
    only the times decide)."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        space = os.readlink("/proc/self/ns/pid")
    except OSError:
        space = ""
    return f"{boot}/{space}" if boot and space else ""


def _started(pid: int) -> str:
    """When process ``pid`` started, in clock ticks since boot (Linux); "" when not known."""
    stat = _read(f"/proc/{pid}/stat")
    fields = stat.rsplit(")", 1)[-1].split() if stat else []
    return fields[19] if len(fields) > 19 else ""


def _unlink(path: Path) -> None:
    """Remove ``path``; on Windows a file another process has open (a second export reading it, a scanner) cannot
    be removed for a moment: tried again for a second.

    Raises:
        OSError: it still cannot be removed (FileNotFoundError is not raised: gone is removed).
    """
    for attempt in range(10):
        try:
            path.unlink()
            return
        except FileNotFoundError:
            return
        except PermissionError:
            if attempt == 9:
                raise
            time.sleep(0.1)


class ExportLock:
    """The held lock of one export (:func:`export_lock`). A thread touches it every :data:`BEAT_S` while it is held,
    whatever the export is doing (a copy or a hash of a large file on a slow share took longer than the watch of a
    second export, which took it for dead: review); :meth:`beat` stops the export once another has taken it over."""

    def __init__(self, path: Path, token: str, held: bool = True) -> None:
        self.path, self.token, self.held, self.lost = path, token, held, False
        self._checked = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beating, name="fma-export-lock", daemon=True) if held else None
        if self._thread is not None:
            self._thread.start()

    def _beating(self) -> None:
        while not self._stop.wait(BEAT_S):
            if self.ours() is False:  # (None: not readable this once, a share's blip: looked at again next time)
                self.lost = True
                return
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def beat(self, *, now: bool = False) -> None:
        """Called as the export goes (at each row; ``now`` before it commits or removes a file): looks whether the
        lock is still this export's, at most every :data:`CHECK_S` unless ``now``.

        Raises:
            ExportError: ``"busy"``: another export took the lock over (this one was taken for dead): this export
                stops rather than write beside it.
        """
        if now or time.monotonic() - self._checked >= CHECK_S:
            self.kept()
        if self.lost:
            held = _holder(self.path)
            raise _busy(self.path.parent, held[0] if held else "", held[1] if held else "?", taken=True)

    def kept(self) -> bool:
        """Whether this export still holds the lock (read now; False once another export took it over). Never
        raises: asked in a ``finally`` too, before the ledger is written."""
        if self.held and not self.lost:
            self._checked = time.monotonic()
            self.lost = self.ours() is False
        return self.held and not self.lost

    def ours(self) -> bool | None:
        """Whether the lock file is this export's; None when it cannot be read now (it is there)."""
        try:
            return json.loads(self.path.read_text(encoding="utf-8")).get("token") == self.token
        except FileNotFoundError:
            return False
        except OSError:
            return None
        except (ValueError, AttributeError):
            return False

    def release(self) -> None:
        """Stop touching it, and remove it unless another export holds it now (one not readable this once is
        looked at again, then removed: it was this export's when last read)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        _LIVE.discard(self.token)
        if not self.held or self.lost:
            return
        mine = self.ours()
        if mine is None:
            time.sleep(0.2)
            mine = self.ours() is not False
        if mine:
            with contextlib.suppress(OSError):
                _unlink(self.path)


def _holder(path: Path) -> tuple[str, str, tuple[int, int] | None, dict[str, Any]] | None:
    """``(who, since (local HH:MM), (inode, modification time ns), what it says)`` of the lock at ``path``; None when
    there is none. One that cannot be read (a share letting only its creator read it, a Windows file being deleted)
    is a lock all the same, said without names; one that cannot even be looked at has no identity (None): it is
    never judged dead."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError:
        return "", "?", None, {}
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
    """Whether the lock names a process of this very system (:func:`_system`) that is gone, or whose pid another
    process took since, or this process itself with a token it no longer holds (a lock left behind). POSIX only: on
    Windows a "signal 0" would end a process, so there the times decide."""
    pid, system = held.get("pid"), _system()
    if os.name != "posix" or not system or held.get("system") != system or not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return held.get("token") not in _LIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # (another account's process: it is there)
        pass
    started = _started(pid)
    return bool(started and held.get("started") and started != held.get("started"))


def _unchanged(path: Path, seen: tuple[int, int]) -> bool | None:
    """Whether ``path`` stays as ``seen`` for :data:`WATCH_S` (by this computer's clock, whatever the share's);
    None when it went meanwhile."""
    time.sleep(WATCH_S)
    now = _holder(path)
    return None if now is None else now[2] == seen


def _dead(path: Path, seen: tuple[int, int], held: dict[str, Any]) -> bool | None:
    """Whether the lock ``seen`` so was left by an export that died (module doc); None: it went meanwhile."""
    if _process_gone(held):
        return True
    if time.time() - seen[1] / 1e9 < STALE_S:
        return False
    return _unchanged(path, seen)  # old by the clocks: touched meanwhile, it is alive (a share's clock behind)


def _take_over(path: Path, seen: tuple[int, int], who: str, since: str) -> None:
    """Remove the dead lock ``seen`` so, under the takeover lock: another export that found it dead too, and took it
    over first, has made a new lock in its place by then, which is left alone. A takeover lock that stays unchanged
    for :data:`WATCH_S` was left by an export that died taking over (it takes milliseconds), and is removed.

    Raises:
        ExportError: ``"stale_lock"``: this account may not remove it (a share where only a file's creator may).
    """
    guard = path.with_name(path.name + ".takeover")
    try:
        fd = os.open(guard, _FLAGS, 0o644)
    except FileExistsError:  # another export is taking it over now, or one died doing it
        other = _holder(guard)
        if other is not None and other[2] is not None and _unchanged(guard, other[2]):
            with contextlib.suppress(OSError):
                _unlink(guard)
        return
    except OSError:
        return
    os.close(fd)
    try:
        now = _holder(path)
        if now is not None and now[2] == seen:
            try:
                _unlink(path)
            except OSError as exc:  # (every export would wait, then name a colleague as writing: review)
                raise ExportError(
                    f"{path}: left by an export that died ({who + ', ' if who else ''}since {since}), and this account "
                    f"cannot remove it ({exc.strerror or exc}); remove it, then export again", "stale_lock",
                    path=str(path), who=who, since=since) from None
    finally:
        with contextlib.suppress(OSError):
            _unlink(guard)


@contextlib.contextmanager
def export_lock(folder: Path, by: str | None = None) -> Iterator[ExportLock]:
    """Hold ``folder``'s export lock for the block; ``by``: the analyst exporting (a shared workstation account
    named no one), named to a second export with this computer's account.

    Raises:
        ExportError: ``"busy"``: another export is writing into ``folder`` now (``who``, ``since``); the message
            names them; ``"stale_lock"``: a dead export's lock this account cannot remove. A folder that cannot be
            written is not refused here: the export's own writes say why.
    """
    path = folder / EXPORT_LOCK
    token = secrets.token_hex(8)
    try:
        user = getpass.getuser()
    except (OSError, KeyError, ImportError):  # no name for this account (a service, a container)
        user = "?"
    body = json.dumps({"by": by, "user": user, "host": socket.gethostname(), "system": _system(), "pid": os.getpid(),
                       "started": _started(os.getpid()), "token": token,
                       "since": datetime.now(UTC).isoformat(timespec="seconds")}).encode()
    make_folder(folder)  # (a new folder: locked from the start; one that cannot be made is said so, by name)
    fd, refused, deadline = None, 0, time.monotonic() + TRY_S
    while fd is None:
        try:
            fd = os.open(path, _FLAGS, 0o644)
        except (FileExistsError, PermissionError) as exc:  # held (on Windows also: a lock still being deleted)
            held = _holder(path)
            if held is None and isinstance(exc, PermissionError):
                refused += 1  # no lock there: this account may not write the folder (os.access may not know: ACLs)
                if refused >= 3:
                    break  # (the export's own writes say why, unlocked)
            elif held is not None and held[2] is not None:  # (no identity: never judged dead, looked at again)
                who, since, seen, said = held
                if (dead := _dead(path, seen, said)) is False:
                    raise _busy(folder, who, since) from None
                if dead:
                    _take_over(path, seen, who, since)
            if time.monotonic() > deadline:  # (never on without the lock: both would write: review)
                raise _busy(folder, *(held[:2] if held else ("", "?"))) from None
            time.sleep(0.05)
        except OSError:  # a folder that cannot be written: the export's own writes say why, unlocked
            break
    lock = None
    try:
        if fd is not None:
            _LIVE.add(token)
            try:
                os.write(fd, body)
            finally:
                os.close(fd)
        lock = ExportLock(path, token, held=fd is not None)
    except BaseException:  # (a full disk, Ctrl+C: an empty lock left stopped the next export: review)
        _LIVE.discard(token)
        if fd is not None:
            with contextlib.suppress(OSError):
                _unlink(path)
        raise
    try:
        yield lock
    finally:
        lock.release()
