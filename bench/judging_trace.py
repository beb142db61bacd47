"""Where a slow key press of the ``judging`` benchmark spent its time (``BENCH_TRACE=1``).

With ``BENCH_TRACE=1`` :mod:`bench.judging_driver` keeps, for every press until its image and panel are painted:

* the UI thread's CPU time (``ui_cpu_ms``): far below the press's wall time, the thread was waiting (for the
  cores, the GIL or a lock), not working;
* ``events``: ``(ms after the key, ms it took, what)`` for each Qt event the UI thread took more than 3 ms to
  handle, the judgment's store call (wall and CPU time), and its SQL statements over 2 ms and its commit.

``BENCH_PROFILE=FILE`` profiles the UI thread (cProfile) over the presses after the run into ``FILE``.
Tracing slows what it measures (every event goes through Python): its figures explain, they are not the
benchmark's. This is how the judging-order pipeline's during-the-run key latency was taken apart (session 11:
a row-by-row prediction save holding the GIL and the write lock; the list laid out again on every changed row).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

SLOW_EVENT_S = 0.003
SLOW_SQL_S = 0.002


def note(drv: Any, started: float, took_s: float, what: str) -> None:
    """Add an event to the press being timed (if any)."""
    press = drv._pending
    if press is not None and press.cpu_ms is None:
        press.events.append((round((started - press.t_key) * 1000, 1), round(took_s * 1000, 1), what))


def app_class(drv: Any) -> type:
    """A QApplication that notes the events the UI thread was slow to handle."""
    from PySide6.QtWidgets import QApplication

    class TimedApp(QApplication):
        def notify(self, obj: Any, event: Any) -> bool:
            t = time.perf_counter()
            handled = super().notify(obj, event)
            took = time.perf_counter() - t
            if took > SLOW_EVENT_S:
                note(drv, t, took, f"{event.type().name}:{type(obj).__name__}")
            return handled

    return TimedApp


def timed(drv: Any, what: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` and note its wall and CPU time."""
    t, cpu = time.perf_counter(), time.thread_time()
    result = fn()
    note(drv, t, time.perf_counter() - t, f"{what} (cpu {(time.thread_time() - cpu) * 1000:.1f} ms)")
    return result


def trace_sql(drv: Any, engine: Any) -> None:
    """Note the UI thread's slow SQL statements, and when its commits start."""
    from sqlalchemy import event

    ui = threading.get_ident()
    started: dict[int, float] = {}

    def before(_conn: Any, cursor: Any, *_args: Any) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        t = started.pop(id(cursor), None)
        if t is not None and threading.get_ident() == ui and (took := time.perf_counter() - t) > SLOW_SQL_S:
            note(drv, t, took, "sql " + " ".join(statement.split())[:48])

    def commit(_conn: Any) -> None:
        if threading.get_ident() == ui:
            note(drv, time.perf_counter(), 0.0, "commit starts")

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "commit", commit)
