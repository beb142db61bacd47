"""Child process of the ``judging`` benchmark: a real ``fma-judge`` process, judged by scripted key presses.

Started cold by :mod:`bench.judging` with the parent's launch time in ``BENCH_T0``; runs
:func:`app.ui.app.run_app` with the given arguments (a batch folder, a model, a database) and, from inside the
event loop, presses keys on the main window as an analyst would (accept, Top-k digits, arrows, undo) at a steady
pace, in two phases: while the rest of the batch is still being classified, and after. It times, from the key
press, the first paint of the viewer showing the new image and of the panel showing its file, the first paint
of its heatmap, and (an image with an FTIR spectrum) the first paint of the spectrum panel with its spectrum. At the end it prints one JSON line and exits.

Options come as JSON in ``BENCH_DRIVE``: ``pace_s``, ``during`` and ``after`` (key presses per phase),
``timeout_s``. ``BENCH_TRACE=1`` and ``BENCH_PROFILE=FILE`` say where slow presses spent their time
(:mod:`bench.judging_trace`).
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

# one cycle of keys: mostly Enter, as an analyst who agrees with the model, with Top-k picks, a move and an undo
CYCLE: tuple[str, ...] = ("accept", "accept", "top2", "accept", "right", "accept", "undo", "accept", "accept", "top3")
JUDGING_ORDER = frozenset({"accept", "top2", "top3"})  # keys after which "next" walks in judging order


@dataclass
class Press:
    kind: str
    phase: str
    t_key: float
    target: int | None
    file_name: str = ""
    image_t: float | None = None
    panel_t: float | None = None
    heat_t: float | None = None
    spectrum_t: float | None = None  # the spectrum panel painted with the new image's spectrum (images that have one)
    judged: bool = False
    cpu0: float | None = None  # the UI thread's CPU time at the key, when tracing (bench.judging_trace)
    cpu_ms: float | None = None
    events: list[tuple[float, float, str]] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        painted = None if self.image_t is None or self.panel_t is None else max(self.image_t, self.panel_t)
        out = {"kind": self.kind, "phase": self.phase, "judged": self.judged,
               "image_ms": None if painted is None else round((painted - self.t_key) * 1000, 2),
               "heatmap_ms": None if self.heat_t is None else round((self.heat_t - self.t_key) * 1000, 2),
               "spectrum_ms": None if self.spectrum_t is None else round((self.spectrum_t - self.t_key) * 1000, 2)}
        if self.cpu_ms is not None:
            out.update(ui_cpu_ms=round(self.cpu_ms, 1), events=sorted(self.events))
        return out


@dataclass
class Driver:
    t0: float
    pace_s: float = 0.8
    during: int = 200
    after: int = 100
    timeout_s: float = 1200.0
    presses: list[Press] = field(default_factory=list)
    window: Any = None
    first_prediction_s: float | None = None
    window_shown_s: float | None = None
    run_over_at: float | None = None
    acknowledged: int = 0
    t_perf0: float = 0.0  # time.perf_counter() at launch
    _pending: Press | None = None
    profile: Any = None  # cProfile.Profile of the UI thread after the run, with BENCH_PROFILE
    _step: int = 0


def main(argv: list[str]) -> int:
    t0 = float(os.environ.get("BENCH_T0") or time.time())
    options = json.loads(os.environ.get("BENCH_DRIVE") or "{}")
    # a hang must not be silent: past its time budget the driver prints every thread's stack and exits
    faulthandler.dump_traceback_later(float(options.get("timeout_s", 1200.0)) + 60.0, exit=True)
    from PySide6.QtCore import QEvent, QObject, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from bench import judging_trace as trace

    tracing = os.environ.get("BENCH_TRACE") == "1"
    drv = Driver(t0=t0, **options)
    app = (trace.app_class(drv) if tracing else QApplication)([sys.argv[0]])
    keys = {"accept": (Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier),
            "top2": (Qt.Key.Key_2, Qt.KeyboardModifier.NoModifier),
            "top3": (Qt.Key.Key_3, Qt.KeyboardModifier.NoModifier),
            "right": (Qt.Key.Key_Right, Qt.KeyboardModifier.NoModifier),
            "undo": (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)}

    class Painted(QObject):
        """Notes the first paint that shows the pressed key's result."""

        def eventFilter(self, obj: Any, event: Any) -> bool:
            if event.type() == QEvent.Type.Paint:
                on_paint(obj)
            return False

    def on_paint(obj: Any) -> None:
        win, now = drv.window, time.perf_counter()
        if win is None:
            return
        item = win.presenter.current_item
        in_panel = obj is not win.viewer.viewport()
        if drv.first_prediction_s is None and in_panel and item is not None and win.presenter.shows_prediction(item):
            drv.first_prediction_s = time.time() - drv.t0
        press = drv._pending
        if press is None or win.current_image_id != press.target:
            return
        if obj is win.viewer.viewport():
            if press.image_t is None and win.viewer.has_image:
                press.image_t = now
            if press.heat_t is None and win.viewer.has_heatmap:
                press.heat_t = now
        elif obj is win.spectrum_panel.plot:
            lookup = win.spectrum_panel.lookup
            if press.spectrum_t is None and lookup is not None and lookup.image_id == press.target:
                press.spectrum_t = now
        elif press.panel_t is None and win.panel.title.text() == press.file_name:
            press.panel_t = now
        if press.cpu0 is not None and press.cpu_ms is None and press.image_t is not None and press.panel_t is not None:
            press.cpu_ms = (time.thread_time() - press.cpu0) * 1000

    painted = Painted()

    def attach() -> None:
        found = [w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow" and w.isVisible()]
        if not found:
            QTimer.singleShot(2, attach)
            return
        win = drv.window = found[0]
        drv.window_shown_s = time.time() - drv.t0
        win.viewer.viewport().installEventFilter(painted)
        # The panel is opaque and its children are not: a change anywhere in it paints the panel, and the title
        # names the file. Only these widgets are watched: a Python filter on every widget of the panel took the
        # GIL for each of their events, and slowed down what it measures while the model thread ran.
        win.panel.installEventFilter(painted)
        win.panel.title.installEventFilter(painted)
        win.spectrum_panel.plot.installEventFilter(painted)  # (paints only while an image with a spectrum is shown)
        win.worker.runFinished.connect(
            lambda _run, cancelled: cancelled or setattr(drv, "run_over_at", time.perf_counter()))
        real_judge = win._judge

        def counted(action, *args, **kwargs):  # a judgment the window shows as done is counted here
            before = win.service.can_undo, len(win.service._undo), len(win.service._redo)
            if tracing:
                real_judge(lambda: trace.timed(drv, "store call", action), *args, **kwargs)
            else:
                real_judge(action, *args, **kwargs)
            after = win.service.can_undo, len(win.service._undo), len(win.service._redo)
            if after != before:
                drv.acknowledged += 1

        win._judge = counted

        def store_failed(exc: Exception) -> None:  # the app would show a modal box, which nobody here closes
            print(f"store error: {exc}", file=sys.stderr, flush=True)
            finish(f"store error: {exc}")

        win._store_failed = store_failed
        QTimer.singleShot(50, wait_for_batch)

    def wait_for_batch() -> None:
        if drv.first_prediction_s is None or drv.window.presenter.current_item is None:
            if time.time() - drv.t0 > drv.timeout_s:
                finish("timeout before the first prediction")
                return
            QTimer.singleShot(20, wait_for_batch)
            return
        if tracing:
            trace.trace_sql(drv, drv.window.service.engine)
        # the first key comes one pace after the first prediction is on screen, as every later one does: an
        # analyst reads a prediction before judging it
        QTimer.singleShot(int(drv.pace_s * 1000), press_next)

    def press_next() -> None:
        win = drv.window
        if drv._pending is not None:
            drv.presses.append(drv._pending)
            drv._pending = None
        phase = "during" if drv.run_over_at is None else "after"
        done = {p: sum(1 for x in drv.presses if x.phase == p) for p in ("during", "after")}
        if time.time() - drv.t0 > drv.timeout_s:
            finish(None if done["after"] >= drv.after else f"timeout in phase {phase!r}")
            return
        if phase == "during" and done["during"] >= drv.during and drv.run_over_at is None:
            QTimer.singleShot(100, press_next)  # enough presses while classifying: wait for the run's end
            return
        if done["after"] >= drv.after:
            finish(None)
            return
        if phase == "after" and drv.profile is None and os.environ.get("BENCH_PROFILE"):
            import cProfile

            drv.profile = cProfile.Profile()
            drv.profile.enable()
        kind = CYCLE[drv._step % len(CYCLE)]
        drv._step += 1
        if drv._step % 25 == 0:  # progress on stderr: when a crash happens, its output says how far the run got
            print(f"[driver] press {drv._step} ({phase}) at {time.time() - drv.t0:.1f} s", file=sys.stderr, flush=True)
        key, modifier = keys[kind]
        acknowledged = drv.acknowledged
        press = drv._pending = Press(kind, phase, time.perf_counter(), None,
                                     cpu0=time.thread_time() if tracing else None)
        QTest.keyClick(win, key, modifier)
        press.target = win.current_image_id
        item = win.presenter.current_item
        press.file_name = item.image.path.rsplit("/", 1)[-1] if item is not None else ""
        press.judged = drv.acknowledged > acknowledged
        win.viewer.viewport().update()  # a paint of the new state, whether or not it changed pixels
        QTimer.singleShot(int(drv.pace_s * 1000), press_next)

    def finish(error: str | None) -> None:
        win = drv.window
        if drv.profile is not None:
            drv.profile.disable()
            drv.profile.dump_stats(os.environ["BENCH_PROFILE"])
        out = {"window_shown_s": drv.window_shown_s, "first_prediction_s": drv.first_prediction_s,
               "presses": [p.result() for p in drv.presses], "acknowledged": drv.acknowledged,
               "analyst": win.service.analyst if win is not None else None, "error": error,
               "run_over_s": None if drv.run_over_at is None else round(drv.run_over_at - drv.t_perf0, 2)}
        print("BENCH " + json.dumps(out), flush=True)
        os._exit(0)

    drv.t_perf0 = time.perf_counter() - (time.time() - t0)  # perf_counter at launch
    QTimer.singleShot(0, attach)
    from app.ui.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
