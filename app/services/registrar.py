"""Registering the rest of a large folder in a child process, so that the window's process keeps its interpreter lock.

Opening a 100,000-image folder in the app, the opening thread's Python work (the store's bulk inserts, the records)
took 19 CPU-seconds under the same interpreter lock as the window's event loop and the model thread: the UI thread
waited for it (event-loop stalls) and the three threads queued for one lock while a core stood idle. Past
:data:`app.services.batches.OUT_OF_PROCESS` files, :func:`app.services.batches.open_folder` registers the first part
itself (the first rows are on screen before a process could start) and a child process registers the rest, through
the same :func:`app.services.batches.register_chunks`, writing to the same store; the opening thread hands over each
chunk it reports (its records, a few small tuples a file). The child is started before the first part is written
(its imports overlap it) and waits for a word to begin, so that its files come after the first part's.

Nothing here needs the child: where no process can be started, where the store is in memory, or where the child
stops before it is done, the opening thread registers what the child did not report (files it wrote meanwhile are
found known and take their places again). No Qt.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from app.store.records import ImageRecord

log = logging.getLogger(__name__)

NICE = 2
"""The child's niceness (POSIX): a little behind the window's threads; the file readers it starts take 5 more."""
Register = Callable[[Engine, int, Sequence[Path], list[tuple[str, str]], dict[int, str]],
                    Iterator[tuple[int, list[ImageRecord], set[int], bool]]]
"""How files are registered: :func:`app.services.batches.register_chunks`."""
_live: set[BaseProcess] = set()  # children registering now: stopped when the app exits
_hooked = False


class Child:
    """A child process registering files at the end of a batch; use as a context manager (it is stopped on exit if
    it has not ended). :attr:`left` is None once the child reported every file, else how many files it reported
    before it stopped (the caller registers the others)."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process, self.conn = process, conn
        self.left: int | None = 0
        self.given = False  # the files were handed over

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.conn.close()
        if self.given:
            self.process.join(timeout=5)
        if self.process.is_alive():  # never given files (too few after all), or the caller stopped early (an error)
            self.process.terminate()
            self.process.join(timeout=5)
        _live.discard(self.process)

    def chunks(self, files: Sequence[Path | str], skipped: list[tuple[str, str]],
               unreadable: dict[int, str]) -> Iterator[tuple[int, list[ImageRecord], set[int], bool]]:
        """Hand the child ``files`` to register, then yield each chunk it wrote as
        :func:`~app.services.batches.register_chunks` does; its skipped and undecodable files join ``skipped`` and
        ``unreadable``. An error the child met is raised here.

        The files go as one text (paths joined by NUL, which no path holds): pickling a list of 100,000 texts is one
        call of about 20 ms that keeps the interpreter lock from the window's thread, a text a copy. Given as text
        (``str`` items), the paths are not formatted again (``str()`` of 100,000 ``Path`` objects: 0.15 s)."""
        reported, self.given = 0, True
        try:
            self.conn.send(("go", "\0".join(map(str, files))))
            while True:
                message = self.conn.recv()
                if message[0] == "error":
                    raise message[1]
                if message[0] == "end":
                    self.left = None
                    return
                _kind, size, rows, fresh, new_skipped, new_unreadable, more = message
                skipped.extend(new_skipped)
                unreadable.update(new_unreadable)
                reported += size
                records = [ImageRecord(image_id=i, sha256=sha, path=path, width=w, height=h, position=pos)
                           for i, sha, path, w, h, pos in rows]
                yield size, records, fresh, more
        except (EOFError, OSError) as exc:  # the child is gone (killed, out of memory): the caller goes on
            log.warning("the registering process stopped (%s) after %d files; going on in this process",
                        exc or type(exc).__name__, reported)
            self.left = reported


def start(engine: Engine, batch_id: int, register: Register) -> Child | None:
    """Start a child that will register files at the end of batch ``batch_id`` with ``register``
    (:func:`app.services.batches.register_chunks`, passed by reference: this module does not import its caller) once
    handed them (:meth:`Child.chunks`); None when it cannot (a store in memory, or no process can be started: the
    caller registers them itself)."""
    url = _shared_url(engine)
    if url is None:
        return None
    try:
        ctx = multiprocessing.get_context("spawn")  # the same on every platform; a fork would copy Qt's threads
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_main, args=(url, batch_id, child, register), name="fma-judge-registrar")
        process.start()
    except (OSError, RuntimeError, ValueError) as exc:  # a locked-down workstation, a frozen app without support
        log.warning("cannot start a registering process (%s); registering in this process", exc)
        return None
    child.close()
    global _hooked
    if not _hooked:  # registered after multiprocessing's own exit handler, so it runs first (before its join)
        atexit.register(stop_all)
        _hooked = True
    _live.add(process)
    return Child(process, parent)


def _shared_url(engine: Engine) -> str | None:
    """The store's URL as another process can open it; None for a SQLite database in memory."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"
                                               or url.query.get("mode") == "memory"):
        return None
    return url.render_as_string(hide_password=False)


def stop_all() -> None:
    """End the registering processes still running (at exit, and before ``os._exit``, which runs no ``atexit``)."""
    for process in list(_live):
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)


def _main(url: str, batch_id: int, conn: Connection, register_chunks: Register) -> None:
    """The child: make ready (its imports overlap the folder's scan), wait for the files, register them, report each
    chunk, then end (or report the error)."""
    from app.store.db import make_engine

    if hasattr(os, "nice"):  # background work, as the file readers': the window's threads come first
        os.nice(NICE)
    engine: Any = None
    try:
        engine = make_engine(url)
        word, joined = conn.recv()
        if word != "go":
            return
        files = joined.split("\0") if joined else []
        skipped: list[tuple[str, str]] = []
        unreadable: dict[int, str] = {}
        for size, records, fresh, more in register_chunks(engine, batch_id, [Path(f) for f in files], skipped,
                                                          unreadable):
            rows = [(r.image_id, r.sha256, r.path, r.width, r.height, r.position) for r in records]
            conn.send(("chunk", size, rows, fresh, list(skipped), dict(unreadable), more))
            skipped.clear()
            unreadable.clear()
        conn.send(("end",))
    except (EOFError, BrokenPipeError):  # the opening thread is gone
        return
    except Exception as exc:  # every error goes back to the opening thread, which raises it
        try:
            conn.send(("error", exc))
        except Exception:  # an exception that cannot be pickled: its text
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        if engine is not None:
            engine.dispose()
        conn.close()
