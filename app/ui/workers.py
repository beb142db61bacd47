"""Background work for the UI: one model thread, and short jobs on a thread pool.

The model thread is a thin Qt wrapper around :class:`app.services.predicting.PredictingService` (torch is
imported there, lazily, so the window appears before the model has loaded). It takes jobs from a priority
queue: a heatmap for the image on screen always goes before the next chunk of batch predictions, so the
analyst never waits for the batch. Results cross to the UI thread as plain records through Qt signals
(queued connections).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from app.services.predicting import ModelLoadError, PredictingService
from app.store.errors import StoreError


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    kind: str = field(compare=False)
    payload: Any = field(compare=False, default=None)


PRIO_LOAD, PRIO_HEATMAP, PRIO_PREDICT = 0, 1, 5


class ModelWorker(QThread):
    """Runs a :class:`PredictingService` off the UI thread: loading, batch predictions, heatmaps.

    Signals:
        modelLoaded(ModelInfo), modelFailed(str): the outcome of :meth:`load`.
        predicted(int run_id, list): a chunk of (image_id, PredictionRecord) pairs, already in the store.
        progress(int run_id, int done, int total)
        runFinished(int run_id, bool cancelled)
        heatmapReady(int image_id, object heatmap, str kind), heatmapFailed(int image_id, str)
        failed(str): an unexpected error, with its reason.
    """

    modelLoaded = Signal(object)
    modelFailed = Signal(str)
    predicted = Signal(int, list)
    progress = Signal(int, int, int)
    runFinished = Signal(int, bool)
    heatmapReady = Signal(int, object, str)
    heatmapFailed = Signal(int, str)
    failed = Signal(str)

    def __init__(self, service: PredictingService, parent=None) -> None:
        super().__init__(parent)
        self.service = service
        self._queue: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._cancel_run = threading.Event()
        self._stop = False
        self._run_ids = itertools.count(1)
        self.current_run = 0

    @property
    def first_chunk(self) -> int:
        return self.service.first_chunk

    # -- requests (called from the UI thread) --------------------------------------------------
    def load(self, bundle_path: str | Path) -> None:
        self._put(PRIO_LOAD, "load", str(bundle_path))

    def predict(self, items: list[tuple[int, str]]) -> int:
        """Queue predictions for (image_id, path) pairs; returns the run id. Cancels the previous run."""
        self.cancel()
        self._cancel_run = threading.Event()
        run_id = next(self._run_ids)
        self.current_run = run_id
        self._put(PRIO_PREDICT, "predict", (run_id, list(items), self._cancel_run, time.perf_counter()))
        return run_id

    def heatmap(self, image_id: int, path: str) -> None:
        self._put(PRIO_HEATMAP, "heatmap", (image_id, path))

    def cancel(self) -> None:
        self._cancel_run.set()

    def stop(self) -> None:
        self._stop = True
        self._cancel_run.set()
        self._put(-1, "stop", None)
        self.wait(10_000)

    def _put(self, prio: int, kind: str, payload: Any) -> None:
        self._queue.put(_Job(prio, next(self._seq), kind, payload))

    # -- the thread --------------------------------------------------------------------------
    def run(self) -> None:
        while not self._stop:
            job = self._queue.get()
            if job.kind == "stop":
                break
            try:
                getattr(self, f"_do_{job.kind}")(job.payload)
            except Exception as exc:  # keep the thread alive; report with the reason
                self.failed.emit(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")

    def _do_load(self, path: str) -> None:
        with _collector_paused():
            try:
                info = self.service.load(path)
            except (ModelLoadError, StoreError) as exc:  # StoreError: its version could not be registered
                self.modelFailed.emit(str(exc))
                return
            with contextlib.suppress(ImportError):
                import pytorch_grad_cam  # noqa: F401  (else its ~1 s import lands on the first heatmap)
        self.modelLoaded.emit(info)

    def _do_predict(self, payload) -> None:
        run_id, items, cancel, _t0 = payload
        if self.service.predictor is None:
            self.runFinished.emit(run_id, True)
            return
        self.progress.emit(run_id, 0, len(items))
        self._drain_heatmaps()
        if cancel.is_set() or self._stop:
            self.runFinished.emit(run_id, True)
            return
        try:
            for chunk in self.service.predict(items, cancel=cancel):
                self.predicted.emit(run_id, list(chunk.items))
                self.progress.emit(run_id, chunk.done, chunk.total)
                self._drain_heatmaps()  # a heatmap request for the image on screen goes first
                if self._stop:
                    cancel.set()
        except StoreError as exc:  # a chunk could not be saved: say so, and end the run (its chunks so far are kept)
            self.failed.emit(f"Predictions not saved: {exc}")
            cancel.set()
        self.runFinished.emit(run_id, cancel.is_set())

    def _drain_heatmaps(self) -> None:
        pending: list[_Job] = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job.kind == "heatmap":
                self._do_heatmap(job.payload)
            else:
                pending.append(job)
        for job in pending:
            self._queue.put(job)

    def _do_heatmap(self, payload: tuple[int, str]) -> None:
        image_id, path = payload
        if self.service.predictor is None:
            self.heatmapFailed.emit(image_id, "no model loaded")
            return
        try:
            heatmap, kind = self.service.heatmap(path)
        except Exception as exc:  # an unreadable image or a model without a usable layer
            self.heatmapFailed.emit(image_id, str(exc))
            return
        self.heatmapReady.emit(image_id, heatmap, kind)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Around a model load: no garbage-collector passes, then freeze what the load left.

    torch, timm and grad-cam (which pulls in OpenCV, SciPy, scikit-learn) leave ~500 000 long-lived
    objects. Every full collection walks them all while holding the GIL, which froze the UI thread for
    80-320 ms at a time during loads and batches (measured with ``python -m bench ui``). Frozen objects
    are skipped by later collections.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


class TaskSignals(QObject):
    result = Signal(object)
    error = Signal(str)
    progress = Signal(int, int)


class Task(QRunnable):
    """Run ``fn(*args, progress=callback)`` on a thread pool; deliver the result or the error by signal."""

    def __init__(self, fn: Callable[..., Any], *args: Any, with_progress: bool = False, **kwargs: Any) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.with_progress = with_progress
        self.signals = TaskSignals()

    @Slot()
    def run(self) -> None:
        try:
            if self.with_progress:
                self.kwargs["progress"] = lambda done, total: self.signals.progress.emit(done, total)
            result = self.fn(*self.args, **self.kwargs)
        except Exception as exc:
            self._deliver(self.signals.error, str(exc) or type(exc).__name__)
            return
        self._deliver(self.signals.result, result)

    @staticmethod
    def _deliver(signal: Any, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the signals object is gone: the app is closing, nobody waits
            signal.emit(value)


class TaskRunner:
    """Starts :class:`Task` objects on a pool and keeps each one alive until it reports.

    A QRunnable's signals object dies with it, so the widget that started it must hold a reference
    until the result (or error) has been delivered.
    """

    def __init__(self, pool: QThreadPool) -> None:
        self.pool = pool
        self._tasks: set[Task] = set()

    def start(self, task: Task) -> None:
        self._tasks.add(task)
        task.signals.result.connect(lambda _r, t=task: self._tasks.discard(t))
        task.signals.error.connect(lambda _m, t=task: self._tasks.discard(t))
        self.pool.start(task)
