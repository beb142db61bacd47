"""The app's crash log: what a window that vanished leaves behind. No Qt.

A judging window once disappeared during a day's walk-through with nothing on the terminal, no core file and no
way to tell why. From now on every start appends one line to ``crash.log`` (in the user data folder, or beside an
INI settings file); Python's :mod:`faulthandler` writes the stack of every thread there when the process dies of
a fatal signal (a segmentation fault in a C library, an abort), and an exception no code caught (in a Qt slot,
say) is written there with its traceback as well as to stderr. A file grown past :data:`MAX_BYTES` starts again.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import faulthandler
import os
import re
import sys
import time
import traceback
from pathlib import Path
from typing import IO

__all__ = ["MAX_BYTES", "NOT_CLOSED", "enable", "last_crash", "mark_reported", "not_closed", "unclosed_count"]

MAX_BYTES = 1_000_000
"""Past this size the log starts again at the next start (a line per start: years of them)."""

_handle: IO[str] | None = None  # open for as long as the process lives: faulthandler writes to its descriptor
previous_crash: tuple[str, str] | None = None
_unclosed: list[tuple[str, int]] = []  # the runs not closed found at this start, until said (mark_reported)
"""How the run before this one ended, when it died (:func:`last_crash` of the log before this start's line)."""
TAIL_BYTES = 200_000


def _without_passwords(text: str) -> str:
    """The command line as it may be sent with a report: a database URL's password (``--db
    postgresql://ana:secret@host/db``) written as ``***``."""
    return re.sub(r"(://[^\s:/@]*:)[^\s@]*@", r"\1***@", text)


def _tail(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - TAIL_BYTES))
            return handle.read().decode("utf-8", "replace").replace("\r\n", "\n")  # (Windows writes CRLF)
    except OSError:
        return None


def last_crash(path: Path) -> tuple[str, str] | None:
    """(when it started, what killed it) of the last run in the log at ``path`` when it died of a fatal error
    (faulthandler's "Fatal Python error: Segmentation fault", on Windows "Windows fatal exception: access
    violation"), else of the newest run that was not closed (:func:`not_closed`: :data:`NOT_CLOSED`); None when
    there is none, or no log. faulthandler also logs Windows exceptions that a library then handles ("Windows
    fatal exception: code 0xe06d7363", a C++ exception): those are not taken for a crash."""
    return _crash_in(_tail(path) or "")


def _crash_in(text: str) -> tuple[str, str] | None:
    """:func:`last_crash` of a log's ``text``."""
    starts = list(re.finditer(r"^(\S+) start pid (\d+)", text, flags=re.MULTILINE))
    if not starts:
        return None
    last = text[starts[-1].end():]
    fatal = re.search(r"^(?:Fatal Python error|Windows fatal exception): ((?!code 0x)[^\n]+)", last, flags=re.MULTILINE)
    if fatal:
        return starts[-1].group(1), fatal.group(1).strip()
    unclosed = not_closed(text)
    return (unclosed[-1][0], NOT_CLOSED) if unclosed else None


def not_closed(text: str) -> list[tuple[str, int]]:
    """``(when, pid)`` of the runs in a log's ``text`` that ended without closing and were not said yet, oldest first:
    a start line with no end line of its pid after it, whose process is gone (or started before the last boot: its
    pid may be another's now), and no "reported" line (:func:`mark_reported`). Every start this version wrote counts
    (its line says ``ends-logged``: a window killed while another, started after it, still runs), and the last start
    in any case (an older version's lines have no end lines to look for)."""
    starts = list(re.finditer(r"^(\S+) start pid (\d+)( ends-logged)?", text, flags=re.MULTILINE))
    ended = {int(m.group(1)): m.start() for m in re.finditer(r"^\S+ (?:end|reported) pid (\d+)$", text,
                                                              flags=re.MULTILINE)}
    found = []
    for k, m in enumerate(starts):
        when, pid = m.group(1), int(m.group(2))
        if not (m.group(3) or k == len(starts) - 1) or ended.get(pid, -1) > m.start():
            continue  # an older version's, or closed, or said already
        if not _before_boot(when) and (pid == os.getpid() or _alive(pid)):
            continue  # still running (another window of this computer)
        found.append((when, pid))
    return found


def unclosed_count() -> int:
    """How many runs not closed this start found (the banner names the newest, and says how many)."""
    return len(_unclosed)


def mark_reported() -> None:
    """The runs found not closed at this start were said (the window's banner): a "reported" line each, so the next
    start does not say them again. Written when said, not at the start: a start that failed before its window showed
    them (a database server still booting after the power came back) left them unsaid for good (review)."""
    global _unclosed
    if _handle is None or not _unclosed:
        return
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    with contextlib.suppress(OSError, ValueError):
        _handle.write("".join(f"{now} reported pid {pid}\n" for _when, pid in _unclosed))
    _unclosed = []


NOT_CLOSED = "not closed"
"""What :func:`last_crash` says of a run that ended without closing and without a fatal error: killed (``kill -9``,
the task manager), its session ended, or the power went. Its window's judgments are in the database; the next start
said nothing of it (whole-day walk-through)."""


def _before_boot(when: str) -> bool:
    """Whether a start line's time is before this computer's last boot (its pid may belong to another process now:
    a run the power ended must not pass for one still running)."""
    try:
        started = dt.datetime.fromisoformat(when).timestamp()
    except ValueError:
        return False
    boot = boot_time()
    return boot is not None and started < boot


def boot_time() -> float | None:
    """When this computer booted (POSIX seconds), where the system says it (Linux, Windows); None elsewhere."""
    try:
        if os.name == "nt":
            import ctypes

            ticks = ctypes.windll.kernel32.GetTickCount64
            ticks.restype = ctypes.c_ulonglong
            return time.time() - ticks() / 1000.0
        with open("/proc/stat", encoding="ascii") as stat:
            return next((float(line.split()[1]) for line in stat if line.startswith("btime ")), None)
    except (OSError, ValueError, AttributeError):
        return None


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs now (the start of another window, still open, has no end line yet)."""
    if os.name == "nt":  # (os.kill(pid, 0) would send CTRL_C_EVENT there)
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        try:
            return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another account's process: it runs
        return True
    return True


def _ended(handle: IO[str]) -> None:
    """The process ends as programs end (not killed, no fatal error): its end line, for :func:`last_crash`."""
    with contextlib.suppress(OSError, ValueError):  # a full disk, or the file closed by a later enable()
        handle.write(f"{dt.datetime.now().astimezone().isoformat(timespec='seconds')} end pid {os.getpid()}\n")
        handle.flush()


def mark_ended() -> None:
    """This process's end line now: it leaves with ``os._exit``, which runs no ``atexit`` handler
    (:func:`app.ui.app.end_model_thread`)."""
    if _handle is not None:
        _ended(_handle)


def enable(folder: Path) -> Path | None:
    """Start logging this process's crashes to ``folder``/crash.log; returns the file, or None when it cannot be
    written (a read-only profile: the app runs all the same, without a crash log)."""
    global _handle, previous_crash, _unclosed
    path = Path(folder) / "crash.log"
    text = _tail(path) or ""  # (read once)
    previous_crash, _unclosed = _crash_in(text), not_closed(text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "w" if path.exists() and path.stat().st_size > MAX_BYTES else "a"
        handle = open(path, mode, encoding="utf-8", buffering=1)  # noqa: SIM115 (kept open for faulthandler)
        now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        handle.write(f"{now} start pid {os.getpid()} ends-logged "
                     f"python {sys.version.split()[0]} {_without_passwords(' '.join(sys.argv[1:]))[:200]}\n")
    except OSError:
        return None
    if _handle is not None:
        _handle.close()
    _handle = handle
    atexit.register(_ended, handle)
    faulthandler.enable(file=handle, all_threads=True)
    previous = sys.excepthook

    def uncaught(kind, value, tb) -> None:
        try:
            handle.write(f"{dt.datetime.now().astimezone().isoformat(timespec='seconds')} uncaught exception\n")
            handle.write("".join(traceback.format_exception(kind, value, tb)))
        except (OSError, ValueError):  # a full disk, or the file closed by a later enable()
            pass
        previous(kind, value, tb)

    sys.excepthook = uncaught
    return path
