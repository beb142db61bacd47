"""A PostgreSQL server that stops answering while its connections stay open (a paused virtual machine, a frozen
server process): a store call waited for it without end, and the window that made the call with it.

libpq's keepalives and ``tcp_user_timeout`` (:data:`app.store.db.PG_CONNECT_ARGS`) cut a connection whose peer is
gone, not one whose peer's kernel still acknowledges every packet. So a watcher thread looks at the store calls of
each PostgreSQL engine (:func:`enter`, from ``translate_errors``): when one has run :data:`STALL_S` seconds, a new
connection is tried (:data:`PROBE_S` seconds a try; libpq tries twice, with and without SSL). A server that answers
it, even with an error (too many clients, a refused password, in any language), is slow, not gone: nothing is done.
Only a try that runs out of time, while the stalled call still waits, has every connection of the engine shut at the
socket, so each waiting call fails at once with the driver's "server closed the connection", said as a store error (a
judgment NOT saved, its box; the pool opens new connections when the server is back).

A judgment whose COMMIT had reached the server before it stopped may be saved when it wakes, though the window said
NOT saved: the next poll of the window shows it as judged.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

STALL_S = 10.0
"""How long a store call runs before the server is asked whether it still answers."""
PROBE_S = 3
"""How long a try of the new connection that asks may take (libpq's ``connect_timeout``; it tries twice, with and
without SSL, so a server that does not answer takes 6 s)."""
IDLE_S = 60.0
"""How long the watcher waits without a store call before its thread ends (the next call starts another)."""


_GUARDS: weakref.WeakKeyDictionary[Engine, StallGuard] = weakref.WeakKeyDictionary()


class StallGuard:
    """The watcher of one engine's store calls (see the module docstring)."""

    def __init__(self, engine: Engine, *, stall_s: float = STALL_S, probe: Callable[[], bool] | None = None) -> None:
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._stall_s = stall_s
        self._probe = probe or self._connects
        self._calls: dict[int, float] = {}  # call -> when it began
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()  # the engine's DBAPI connections
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.cut = 0  # how many times the connections were shut (tests, logs)
        event.listen(engine, "connect", self._connected)

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        with self._lock:
            self._connections.add(dbapi_connection)

    def enter(self) -> Callable[[], None]:
        """Mark a store call as running; the function returned marks it done."""
        call = next(self._ids)
        with self._lock:
            self._calls[call] = time.monotonic()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._watch, name="fma-store-stall-guard", daemon=True)
                self._thread.start()
        self._wake.set()

        def done() -> None:
            with self._lock:
                self._calls.pop(call, None)

        return done

    def _watch(self) -> None:
        while True:
            try:
                if not self._round():
                    return
            except Exception:  # (a watcher that died watched nothing more: said, and it goes on)
                logging.getLogger(__name__).exception("store stall guard")
                time.sleep(1.0)

    def _round(self) -> bool:
        """One look at the calls running; False when the thread is to end: no call for :data:`IDLE_S` (its engine
        may be disposed of: a thread per engine waited for ever; :meth:`enter` starts another)."""
        woke = self._wake.wait(IDLE_S)
        with self._lock:
            if not self._calls:
                self._wake.clear()
                if not woke:
                    self._thread = None  # (under the lock: a call entering now starts a new thread)
                    return False
                return True
            stalled = min(self._calls, key=self._calls.__getitem__)
            waited = time.monotonic() - self._calls[stalled]
        if waited < self._stall_s:
            time.sleep(min(1.0, self._stall_s - waited))
            return True
        answered = self._probe()
        with self._lock:
            cut = not answered and stalled in self._calls  # (a call that ended meanwhile: the server is back)
            now = time.monotonic()
            self._calls = {k: now for k in self._calls}  # (judged this round: the next look is a stall later)
            connections = list(self._connections) if cut else []
        if cut:
            self.cut += 1
            for connection in connections:
                _shut(connection)
        return True

    def _connects(self) -> bool:
        """Whether the server answers a new connection: an error that comes before the time runs out is an answer
        too (too many clients, a refused password, in whatever language the server speaks)."""
        import psycopg

        started = time.monotonic()
        try:
            psycopg.connect(self._url, connect_timeout=PROBE_S).close()
        except psycopg.Error:
            return time.monotonic() - started < PROBE_S - 0.5
        return True


def _shut(connection: Any) -> None:
    """Shut a DBAPI connection's socket (its number read now: one closed meanwhile may have passed it on)."""
    with contextlib.suppress(Exception):  # (closed meanwhile, or a driver without pgconn)
        if connection.closed:
            return
        duplicate = socket.fromfd(int(connection.pgconn.socket), socket.AF_INET, socket.SOCK_STREAM)
        try:
            duplicate.shutdown(socket.SHUT_RDWR)  # the connection itself: the waiting call's read ends
        finally:
            duplicate.close()


def guard(engine: Engine, **kwargs: Any) -> StallGuard:
    """Watch ``engine``'s store calls (a PostgreSQL engine with psycopg)."""
    _GUARDS[engine] = watcher = StallGuard(engine, **kwargs)
    return watcher


def enter(engine: Engine) -> Callable[[], None]:
    """Mark a store call of ``engine`` as running (nothing for an engine not guarded); call the result when done."""
    watcher = _GUARDS.get(engine)
    return watcher.enter() if watcher is not None else _nothing


def _nothing() -> None:
    return None
