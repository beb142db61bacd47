"""Background work for the UI: one model thread, and short jobs on a thread pool.

The model thread is a thin Qt wrapper around :class:`app.services.predicting.PredictingService` (the model's
runtime, torch or ONNX Runtime, is imported there, lazily, so the window appears before the model has loaded). Its
work, most urgent first:

0. what the analyst asked for: a "Why this type?" heatmap (:meth:`ModelWorker.explain`), then the re-judge queue
   pane's heatmap of the image it shows (:meth:`ModelWorker.attention`);
1. the image on screen: its prediction if it has none yet;
2. the predictions of the next images in judging order (the *focus*, :meth:`ModelWorker.focus`), in one pass,
   so a judging key never finds its image unpredicted;
3. the heatmap of the image on screen, then those of the next images, one image at a time, so that a new
   focus (the analyst moved on) takes over within one image;
4. the background run over the rest of the batch (:meth:`ModelWorker.predict`), chunk by chunk; the focus is
   served between chunks, and images it predicted are skipped by the run.

Results cross to the UI thread as plain records through Qt signals (queued connections).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import queue
import threading
import time
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from app.services.predicting import ModelLoadError, PredictingService
from app.store.errors import StoreError
from app.store.records import PredictionRecord
from app.ui.style import store_text

UI_GRACE_S = 0.12
"""After a key press the model thread starts no new step of work for this long (unless the image on screen has
no prediction yet): the UI thread has the cores to itself while it paints the next image, even on a 2-core
machine that other work keeps busy."""
STOP_WAIT_MS = 10_000
"""How long a closing window waits for the model thread's current step (:meth:`ModelWorker.stop`); the app waits
longer before it exits (:func:`app.ui.app.end_model_thread`)."""


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    kind: str = field(compare=False)
    payload: Any = field(compare=False, default=None)


PRIO_LOAD, PRIO_FOCUS, PRIO_PREDICT = 0, 1, 5


@dataclass(frozen=True)
class Focus:
    """What the analyst looks at now and will reach next, and what of it the UI still lacks.

    Attributes:
        generation: increases with every new focus; older ones are dropped.
        images: ``(image_id, path)``, the image on screen first, then the next ones in judging order.
        predict: ids among them that have no prediction of the loaded model.
        heatmap: ids among them whose heatmap the UI does not have.
        leaves: the leaf a heatmap explains where the stored prediction fused a spectrum.
    """

    generation: int
    images: tuple[tuple[int, str], ...]
    predict: frozenset[int]
    heatmap: frozenset[int]
    leaves: Mapping[int, str] = field(default_factory=dict)


class ModelWorker(QThread):
    """Runs a :class:`PredictingService` off the UI thread: loading, batch predictions, heatmaps.

    Signals:
        manifestRead(BundleManifest): the bundle's manifest, read by :meth:`load` before its weights.
        modelLoaded(ModelInfo), modelFailed(str): the outcome of :meth:`load`.
        predicted(int run_id, list): a chunk of (image_id, PredictionRecord) pairs, already in the store.
        progress(int run_id, int done, int total)
        runFinished(int run_id, bool cancelled)
        heatmapReady(int image_id, object heatmap, str kind, object leaf): ``leaf`` is the leaf it explains (None:
            the image model's Top-1); heatmapFailed(int image_id, str)
        explained(int image_id, str leaf, object heatmap), explainFailed(int image_id, str leaf, str reason):
            the outcome of :meth:`explain`.
        attended(int image_id, str leaf, object heatmap, str kind): the outcome of :meth:`attention` (a failure
            says nothing: the pane shows the image alone).
        failed(str): an unexpected error, with its reason.
    """

    manifestRead = Signal(object)
    modelLoaded = Signal(object)
    modelFailed = Signal(str)
    predicted = Signal(int, list)
    progress = Signal(int, int, int)
    runFinished = Signal(int, bool)
    heatmapReady = Signal(int, object, str, object)
    heatmapFailed = Signal(int, str)
    explained = Signal(int, str, object)
    explainFailed = Signal(int, str, str)
    attended = Signal(int, str, object, str)
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
        self._focus: Focus | None = None
        self._focus_lock = threading.Lock()
        self._focus_at = 0.0  # time.perf_counter() of the last focus (a key press)
        self._generations = itertools.count(1)
        self._predicted_now: set[int] = set()  # predicted for the focus during this model's runs
        self._again: set[int] = set()  # to predict again when in focus (:meth:`predict_again`), under the lock
        # heatmaps computed for this model (sent to the UI), by image id and the leaf explained: a spectrum that
        # comes later may change the leaf, and then the heatmap is made again
        self._heatmapped: set[tuple[int, str | None]] = set()
        # image id -> the leaf of the prediction this thread made with a spectrum, and the focus it was made under
        self._fused_leaf: dict[int, tuple[str, int]] = {}
        self._explain: tuple[int, str, str] | None = None  # the pending "Why this type?" request
        self._attention: tuple[int, str, str] | None = None  # the pending request of the re-judge queue's pane

    @property
    def first_chunk(self) -> int:
        return self.service.first_chunk

    # -- requests (called from the UI thread) --------------------------------------------------
    def load(self, bundle_path: str | Path) -> None:
        self._put(PRIO_LOAD, "load", str(bundle_path))

    def predict(self, items: list[tuple[int, str]], again: Collection[int] = ()) -> int:
        """Queue predictions for (image_id, path) pairs; returns the run id. Cancels the previous run. An image this
        model predicted already is not predicted twice (a chunk of the previous run may be in flight), unless its id
        is in ``again``: its stored prediction went stale since (a spectrum came, a recalibration)."""
        self.cancel()
        self._cancel_run = threading.Event()
        run_id = next(self._run_ids)
        self.current_run = run_id
        self._put(PRIO_PREDICT, "predict", (run_id, list(items), frozenset(again), self._cancel_run,
                                            time.perf_counter()))
        return run_id

    def focus(self, images: list[tuple[int, str]], *, predict: set[int], heatmap: set[int],
              leaves: Mapping[int, str] | None = None) -> None:
        """The image on screen (first) and the next ones in judging order; replaces the previous focus."""
        with self._focus_lock:
            self._focus = Focus(next(self._generations), tuple(images), frozenset(predict), frozenset(heatmap),
                                dict(leaves or {}))
            self._focus_at = time.perf_counter()
        self._put(PRIO_FOCUS, "focus", None)

    def explain(self, image_id: int, path: str, leaf: str) -> None:
        """"Why this type?" for one leaf of one image; answered by ``explained`` (or ``explainFailed``). Served
        before the focus's work, also between the chunks of a prediction run; a newer request replaces one not
        yet started (the analyst moved on)."""
        with self._focus_lock:
            self._explain = (image_id, path, leaf)
        self._put(PRIO_FOCUS, "focus", None)

    def attention(self, image_id: int, path: str, leaf: str) -> None:
        """The model's own heatmap of one image for the re-judge queue's pane: a CBAM network's attention (one
        forward pass), else the LayerCAM of ``leaf``; answered by ``attended``. Served like :meth:`explain`."""
        with self._focus_lock:
            self._attention = (image_id, path, leaf)
        self._put(PRIO_FOCUS, "focus", None)

    def predict_again(self, image_ids: set[int]) -> None:
        """Predict these images (and make their heatmaps) again when they are in focus, although this model did in
        this session: its prediction or heatmap failed on a file it did not reach (a share away), read since."""
        with self._focus_lock:
            self._again |= set(image_ids)

    def cancel(self) -> None:
        self._cancel_run.set()

    def stop(self) -> bool:
        """Ask the thread to end after its current step, and wait for it up to :data:`STOP_WAIT_MS`; whether it
        ended (a step can outlast the wait: a model loading on a busy machine, a file on a slow share)."""
        self._stop = True
        self._cancel_run.set()
        self._put(-1, "stop", None)
        return self.wait(STOP_WAIT_MS)

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
        self._predicted_now.clear()
        self._heatmapped.clear()
        self._fused_leaf.clear()
        with _collector_paused():
            try:
                info = self.service.load(path, on_manifest=self.manifestRead.emit)
            except (ModelLoadError, StoreError) as exc:  # StoreError: its version could not be registered
                self.modelFailed.emit(str(exc))
                return
            except Exception as exc:  # anything else: the window must still leave "loading the model"
                self.modelFailed.emit(f"{path}: {type(exc).__name__}: {exc}")
                return
        self.modelLoaded.emit(info)

    def _do_predict(self, payload) -> None:
        run_id, items, again, cancel, _t0 = payload
        self._predicted_now.difference_update(again)
        if self.service.predictor is None:
            self.runFinished.emit(run_id, True)
            return
        self.progress.emit(run_id, 0, len(items))
        self._serve_focus()
        if cancel.is_set() or self._stop:
            self.runFinished.emit(run_id, True)
            return
        try:
            for chunk in self.service.predict(items, cancel=cancel, skip=self._predicted_now.__contains__):
                self._predicted_now.update(image_id for image_id, _ in chunk.items)
                self._note_fused(chunk.items)
                self.predicted.emit(run_id, list(chunk.items))
                self.progress.emit(run_id, chunk.done, chunk.total)
                self._serve_focus()  # what the analyst looks at goes before the rest of the batch
                self._leave_cores_to_ui()
                if self._stop:
                    cancel.set()
        except StoreError as exc:  # a chunk could not be saved: say so, and end the run (its chunks so far are kept)
            self.failed.emit(QCoreApplication.translate("Main", "Predictions not saved: {msg}").format(
                msg=store_text(exc)))  # (translate is thread-safe)
            cancel.set()
        self.runFinished.emit(run_id, cancel.is_set())

    def _take(self, name: str) -> tuple[int, str, str] | None:
        """The pending request in attribute ``name`` (``_explain`` or ``_attention``), cleared."""
        with self._focus_lock:
            request = getattr(self, name)
            setattr(self, name, None)
        return request

    def _serve_explain(self) -> None:
        if (request := self._take("_explain")) is None:
            return
        image_id, path, leaf = request
        try:
            heatmap = self.service.explain(path, leaf)
        except Exception as exc:  # an unreadable image, a leaf the model lacks, a network without a usable layer
            self.explainFailed.emit(image_id, leaf, str(exc))
            return
        self.explained.emit(image_id, leaf, heatmap)

    def _serve_attention(self) -> None:
        if (request := self._take("_attention")) is None:
            return
        image_id, path, leaf = request
        try:
            heatmap, kind = self.service.heatmap(path, leaf=leaf)
        except Exception:  # an unreadable image: the pane says why when it reads the image itself
            return
        self.attended.emit(image_id, leaf, heatmap, kind)

    def _do_focus(self, _payload: Any) -> None:
        self._serve_focus()

    def _serve_focus(self) -> None:
        """Do the focus's work step by step, re-reading the focus after each (the analyst may move on); a "Why
        this type?" request, which the analyst asked for, goes first."""
        while not self._stop and self.service.predictor is not None:
            self._serve_explain()
            self._serve_attention()
            with self._focus_lock:
                focus = self._focus
                again, self._again = self._again, set()
                if again:  # (and their heatmaps: one that failed while the file was away was never tried again)
                    self._heatmapped = {done for done in self._heatmapped if done[0] not in again}
            self._predicted_now.difference_update(again)
            step = self._next_step(focus)
            if step is None:
                return
            kind, images = step
            if images[0] != focus.images[0]:  # only the screen's own prediction is more urgent than painting it
                self._leave_cores_to_ui()
            if kind == "predict":
                self._focus_predict(images)
            else:
                self._focus_heatmap(*images[0], self._leaf_of(images[0][0], focus))

    def _leave_cores_to_ui(self) -> None:
        """Right after a key press, wait until :data:`UI_GRACE_S` has passed before the next step of work."""
        wait = self._focus_at + UI_GRACE_S - time.perf_counter()
        if wait > 0:
            time.sleep(wait)

    def _next_step(self, focus: Focus | None) -> tuple[str, list[tuple[int, str]]] | None:
        """The most urgent thing the focus still needs: the screen's image's prediction, the predictions of the
        next images (cheap, in one pass: a judging key is never held up by a missing prediction), the screen's
        image's heatmap, then the next images' heatmaps, nearest first."""
        if focus is None or not focus.images:
            return None

        def needs_prediction(image_id: int) -> bool:
            return image_id in focus.predict and image_id not in self._predicted_now

        def needs_heatmap(image_id: int) -> bool:
            return image_id in focus.heatmap and (image_id, self._leaf_of(image_id, focus)) not in self._heatmapped \
                and (image_id not in focus.predict or image_id in self._predicted_now)

        current, ahead = focus.images[0], focus.images[1:]
        if needs_prediction(current[0]):
            return "predict", [current]
        if todo := [image for image in ahead if needs_prediction(image[0])]:
            return "predict", todo
        return next((("heatmap", [image]) for image in focus.images if needs_heatmap(image[0])), None)

    def _focus_predict(self, images: list[tuple[int, str]]) -> None:
        self._predicted_now.update(image_id for image_id, _ in images)  # also when it fails: the run would too
        try:
            for chunk in self.service.predict(images):
                self._note_fused(chunk.items)
                self.predicted.emit(self.current_run, list(chunk.items))
        except StoreError as exc:
            self.failed.emit(QCoreApplication.translate("Main", "Prediction not saved: {msg}").format(
                msg=store_text(exc)))

    def _note_fused(self, items: Sequence[tuple[int, PredictionRecord]]) -> None:
        """Remember the leaf of each prediction that fused a spectrum: its heatmap explains that leaf."""
        for image_id, record in items:
            if record.spectra and record.leaf:
                self._fused_leaf[image_id] = (record.leaf, self._focus.generation if self._focus else 0)

    def _leaf_of(self, image_id: int, focus: Focus | None) -> str | None:
        """The leaf the image's heatmap explains: its fused prediction's, else None (the image model's Top-1)."""
        fused = self._fused_leaf.get(image_id)
        if fused is not None and (focus is None or fused[1] >= focus.generation):
            return fused[0]  # predicted with a spectrum after the window made this focus: it does not know yet
        return focus.leaves.get(image_id) if focus else None  # else the window's stored prediction decides

    def forget_heatmaps(self, image_ids: Collection[int]) -> None:
        """The window dropped these images' heatmaps (its cache is bounded): make them again when asked."""
        with self._focus_lock:
            self._heatmapped = {key for key in self._heatmapped if key[0] not in image_ids}

    def _focus_heatmap(self, image_id: int, path: str, leaf: str | None) -> None:
        """The heatmap of one image, explaining ``leaf`` (None: the image model's Top-1)."""
        with self._focus_lock:
            self._heatmapped.add((image_id, leaf))
        try:
            heatmap, kind = self.service.heatmap(path, leaf=leaf)
        except Exception as exc:  # an unreadable image or a model without a usable layer
            self.heatmapFailed.emit(image_id, str(exc))
            return
        self.heatmapReady.emit(image_id, heatmap, kind, leaf)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Around a model load: no garbage-collector passes, then freeze what the load left.

    torch and timm leave hundreds of thousands of long-lived objects. Every full collection walks them all while
    holding the GIL, which froze the UI thread for 80-320 ms at a time during loads and batches (measured with
    ``python -m bench ui``). Frozen objects are skipped by later collections.
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
    failed = Signal(object)  # the exception itself, for a message built from its fields (after ``error``)
    progress = Signal(int, int)
    part = Signal(object)  # a first part of the result, before the whole
    done = Signal(object)  # last, whatever happened (a cancelled task delivers nothing else)


class Cancelled(Exception):
    """Raised in a :class:`Task`'s callbacks once it was cancelled: its function stops at its next report."""


class Task(QRunnable):
    """Run ``fn(*args, progress=callback, first_part=callback)`` on a thread pool; deliver the result or the error
    by signal (and the progress, and a first part of the result, when asked for).

    :meth:`cancel` stops a task with callbacks at its next report (the app is closing: a 100,000-image folder's
    registering must not keep the process alive for a minute after the window is gone; what was registered stays
    and the next opening resumes it). A cancelled task delivers nothing, and one cancelled before a thread took it
    does not run (:attr:`begun` says whether one did)."""

    def __init__(self, fn: Callable[..., Any], *args: Any, with_progress: bool = False, with_part: bool = False,
                 **kwargs: Any) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.with_progress, self.with_part = with_progress, with_part
        self.signals = TaskSignals()
        self.cancelled = threading.Event()
        self.begun = False  # a thread has taken it
        self._shown: tuple[int, int] | None = None

    def cancel(self) -> None:
        self.cancelled.set()

    def _progress(self, done: int, total: int) -> None:
        if self.cancelled.is_set():
            raise Cancelled
        if (done, total) != self._shown:  # a report that changes nothing only checks for a cancel
            self._shown = (done, total)
            self.signals.progress.emit(done, total)

    def _part(self, part: Any) -> None:
        if self.cancelled.is_set():
            raise Cancelled
        self._deliver(self.signals.part, part)

    @Slot()
    def run(self) -> None:
        self.begun = True
        try:
            if self.cancelled.is_set():
                return
            if self.with_progress:
                self.kwargs["progress"] = self._progress
            if self.with_part:
                self.kwargs["first_part"] = self._part
            result = self.fn(*self.args, **self.kwargs)
        except Exception as exc:
            if not self.cancelled.is_set():  # after a cancel nobody waits, not even for an error
                self._deliver(self.signals.error, str(exc) or type(exc).__name__)
                self._deliver(self.signals.failed, exc)
        else:
            if not self.cancelled.is_set():
                self._deliver(self.signals.result, result)
        finally:
            self._deliver(self.signals.done, None)

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

    def start(self, task: Task, priority: int = 0) -> None:
        """Start ``task``; a higher ``priority`` runs before the tasks waiting for a thread (the image on screen
        before the ones decoded ahead of it)."""
        self._tasks.add(task)
        task.signals.done.connect(lambda _r, t=task: self._tasks.discard(t))
        self.pool.start(task, priority)
