"""Predicting batches into the store: load a bundle, then decode -> predict -> route -> save, chunk by chunk. No Qt.

The one loop that turns images into stored predictions. The app's model thread
(:class:`app.ui.workers.ModelWorker`) is a thin Qt wrapper around it; ``fma-judge classify`` runs it headless
to fill a batch before an analyst opens it; ``python -m bench pipeline`` measures it.

Each model :class:`models.inference.records.Prediction` becomes a store
:class:`app.store.records.PredictionRecord` exactly once (:meth:`PredictionRecord.from_prediction`), each chunk
is saved in one transaction, and the records *as stored* (with their ids) are what callers get. torch is
imported only when a model is loaded, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.services.ranks import Ranks
from app.store.errors import StoreError
from app.store.records import SPECTRUM_ADDED, BatchItem, OpenedBatch, PredictionRecord, unpredicted
from models.inference.records import RUNTIME_ENGINE as TORCH_FREE_ENGINE  # no numpy, no torch
from models.sysinfo import device_arg  # the --device check, for the app's command line

if TYPE_CHECKING:
    import numpy as np
    from sqlalchemy.engine import Engine

    from app.services.batches import Progress
    from models.bundle.manifest import BundleManifest
    from models.taxonomy import Taxonomy

__all__ = ["ClassifyResult", "ModelInfo", "ModelLoadError", "PredictedChunk", "PredictingService", "device_arg"]


class ModelLoadError(ValueError):
    """A model bundle could not be loaded; the message says why."""


@dataclass(frozen=True)
class ModelInfo:
    """What callers need to know about the loaded model.

    Attributes:
        path: where the bundle was loaded from.
        version: its ``model_version``.
        manifest: the typed bundle manifest (torch-free).
        device: the device it runs on.
        engine: the inference path in use (see :mod:`models.inference.engine`; ``onnx-runtime``: the torch-free
            workstation runtime, :mod:`models.inference.runtime`).
        engine_note: why the bundle's measured path is not the one in use, or None.
    """

    path: str
    version: str
    manifest: BundleManifest
    device: str
    engine: str = ""
    engine_note: str | None = None

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def fuses_spectra(self) -> bool:
        """The model fuses an image's FTIR spectra into its prediction (issue #20)."""
        return self.manifest.fuses_spectra

    @property
    def torch_free(self) -> bool:
        """The model runs on the workstation runtime (ONNX Runtime and numpy)."""
        return self.engine == TORCH_FREE_ENGINE

    @property
    def taxonomy(self) -> Taxonomy:
        return self.manifest.taxonomy


@dataclass(frozen=True)
class PredictedChunk:
    """One saved chunk of a prediction run.

    Attributes:
        items: ``(image_id, record)`` pairs, the records as stored (ids set, no embeddings).
        done: images predicted so far in this run (this chunk included).
        total: images in the run.
    """

    items: tuple[tuple[int, PredictionRecord], ...]
    done: int
    total: int


@dataclass(frozen=True)
class ClassifyResult:
    """What :meth:`PredictingService.classify_folder` did.

    Attributes:
        batch_id, name: the batch the folder is (it is found again when the app opens the folder).
        images: images in the batch.
        predicted: images predicted now (an image the model could not read is one of ``errors``, never predicted).
        already: images that already had a prediction of this model (not predicted again; an earlier run's error
            row is one of ``errors``).
        routes: route -> count among the predictions made now (``none`` for an uncalibrated model).
        errors: images the model could not read (stored as predictions with an error), now or in an earlier run
            of this model (those are not given to the model again).
        unreadable: images whose header could not be read (not given to the model).
        cancelled: the run stopped early; what was predicted until then is saved.
        problems: ``(path, why)`` of the unreadable images and of those the model could not read (this process's:
            under torchrun, rank 0's share of the second kind), so a scheduled run says which files to look at.
        left_out: ``(path, why)`` of the folder's files that are not images of the batch (not images, unreadable at
            all, the same picture as another file), as the app's "files not in the batch" lists them.
    """

    batch_id: int
    name: str
    images: int
    predicted: int
    already: int
    routes: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    unreadable: int = 0
    cancelled: bool = False
    problems: tuple[tuple[str, str], ...] = ()
    left_out: tuple[tuple[str, str], ...] = ()


RUNTIME_ENV = "FMA_JUDGE_RUNTIME"
"""Set to ``torch`` to run a bundle on torch even when it has workstation runtime graphs."""


def interactive_threads(cores: int | None = None) -> int:
    """Compute threads for a model that shares the machine with an analyst's window: one core is left to the UI
    thread and the image decoders. On the 2-core machine one thread predicted 2.5-4x more images during a judging
    session than two (busy or quiet) while keys were answered as fast or faster (``python -m bench judging``)."""
    return max(1, (cores if cores is not None else os.cpu_count() or 1) - 1)


class PredictingService:
    """Loads one model and predicts batches of stored images into the store.

    Args:
        engine: the store's SQLAlchemy engine; None until the store is open (the app's window makes its service
            before it opens the database): set :attr:`engine` before :meth:`load` or a prediction.
        device: torch device for the model ("cpu", "cuda" ...).
        chunk_size: predictions per saved chunk (and per forward pass).
        first_chunk: size of a run's first chunk (smaller: the first prediction appears sooner).
        decode_workers: threads decoding images ahead of the model.
        max_threads: compute threads of the model at most (None: the bundle's measured best, or one per core).
    """

    def __init__(self, engine: Engine | None, *, device: str = "cpu", chunk_size: int = 8, first_chunk: int = 2,
                 decode_workers: int = 2, max_threads: int | None = None) -> None:
        self.engine = engine
        self.max_threads = max_threads
        self.device = device
        self.chunk_size = max(1, int(chunk_size))
        self.first_chunk = max(1, min(int(first_chunk), self.chunk_size))
        self.decode_workers = decode_workers
        self.predictor: Any = None  # models.inference.predictor.Predictor, once loaded
        self.info: ModelInfo | None = None
        self._warm: tuple[str, Future] | None = None  # (bundle path, what warm() is making)

    # -- the model ---------------------------------------------------------------------------------
    def load(self, bundle_path: str | Path, *,
             on_manifest: Callable[[BundleManifest], None] | None = None) -> ModelInfo:
        """Load a bundle (replacing the current model) and register its version in the store.

        ``on_manifest`` is called with the bundle's manifest as soon as it is read, before the weights load (the
        app shows the model's names and routing with it: the manifest is read once).

        A bundle with workstation runtime graphs (``fma-model export-runtime``) runs on ONNX Runtime without torch
        (:class:`models.inference.runtime.RuntimePredictor`), unless ``FMA_JUDGE_RUNTIME=torch`` or the service runs
        on a GPU; any other bundle needs torch (the ``train`` extra).

        Raises:
            ModelLoadError: the bundle cannot be loaded (the message names the problem).
            StoreError: the store cannot be written.
        """
        from models.bundle.manifest import BundleError

        path = str(bundle_path)
        warm, self._warm = self._warm, None
        try:
            if warm is not None and warm[0] == path:  # made beside the start-up (warm()): take it, or its error
                manifest, predictor, why_not = warm[1].result()
                if on_manifest is not None:
                    on_manifest(manifest)
            else:
                manifest, predictor, why_not = self._prepare(path, on_manifest)
            if predictor is None:
                predictor = self._torch_predictor(path, why_not)
                manifest = predictor.manifest
        except Exception as exc:  # no model (never the one before), and the reason by name
            self.predictor, self.info = None, None
            if isinstance(exc, BundleError | OSError | ValueError | RuntimeError):
                raise ModelLoadError(str(exc)) from exc
            if isinstance(exc, ImportError):  # a part of the install is missing (a frozen app built without it)
                raise ModelLoadError(f"{path}: this install lacks a module the model needs ({exc}); reinstall the "
                                     "app, or install the missing package") from exc
            raise ModelLoadError(f"{path}: {type(exc).__name__}: {exc}") from exc
        # The store (SQLAlchemy) is imported here, not with this module: the app's window imports this module and is
        # on screen before SQLAlchemy is imported.
        from app.store import repo
        from app.store.db import session_scope

        with session_scope(self.engine) as s:
            repo.register_model_version(s, version=manifest.model_version, manifest=manifest.to_json(),
                                        bundle_path=path)
        self.predictor = predictor
        note = predictor.engine_note
        if why_not and manifest.runtime is not None and self.device == "cpu" \
                and os.environ.get(RUNTIME_ENV, "").lower() != "torch":  # exported for the runtime, yet not on it
            note = "; ".join(filter(None, [f"not the workstation runtime: {why_not}", note]))
        self.info = ModelInfo(path=path, version=manifest.model_version, manifest=manifest, device=self.device,
                              engine=predictor.engine_path, engine_note=note)
        return self.info

    def warm(self, bundle_path: str | Path) -> None:
        """Start reading a bundle and making its workstation-runtime predictor on a background thread, before
        :meth:`load` is asked for it: ``load`` of the same path then takes the result (or its error) instead of
        starting over. The app does this while it opens the database: ONNX Runtime builds its session without
        holding the GIL, so that part runs beside the store's imports. No store is touched here."""
        path = str(bundle_path)
        done: Future = Future()

        def run() -> None:
            try:
                done.set_result(self._prepare(path, None))
            except BaseException as exc:  # handed to load(), which says what went wrong
                done.set_exception(exc)

        self._warm = (path, done)
        threading.Thread(target=run, name="fma-judge model warm-up", daemon=True).start()

    def forget_warm(self, wait_s: float = 0) -> None:
        """Drop what :meth:`warm` is making (a read-only store runs no model; the app is closing), after waiting up
        to ``wait_s`` for its thread to finish."""
        warm, self._warm = self._warm, None
        if warm is not None and wait_s > 0:
            with contextlib.suppress(Exception):  # its error would be load()'s to report; nobody loads it now
                warm[1].exception(timeout=wait_s)

    def _prepare(self, path: str, on_manifest: Callable[[BundleManifest], None] | None
                 ) -> tuple[BundleManifest, Any, str | None]:
        """The manifest and, when the bundle can run on the workstation runtime here, its predictor (else None and
        why not: :meth:`load` then makes the torch one). No store, no torch."""
        from models.bundle.files import read_bundle_manifest
        from models.inference.runtime import RuntimePredictor, runtime_reason

        manifest = read_bundle_manifest(path)
        if on_manifest is not None:
            on_manifest(manifest)
        why_not = runtime_reason(manifest, Path(path)) if Path(path).is_dir() else (
            "the workstation runtime runs a bundle folder, not an archive: unzip it and give the folder")
        if why_not is None and self.device != "cpu":
            why_not = f"--device {self.device} runs the model with torch (use --device cpu)"
        if why_not is None and os.environ.get(RUNTIME_ENV, "").lower() == "torch":
            why_not = f"{RUNTIME_ENV}=torch asks for the torch path (unset it)"
        if why_not is None:
            return manifest, RuntimePredictor(path, manifest=manifest, batch_size=self.chunk_size,
                                              decode_workers=self.decode_workers, max_threads=self.max_threads), None
        return manifest, None, why_not

    def _torch_predictor(self, path: str, why_not: str | None) -> Any:
        """The torch Predictor of a bundle; without torch installed, a ModelLoadError saying what to do."""
        try:
            from models.bundle.io import load_bundle
            from models.inference.predictor import Predictor
        except ImportError as exc:  # the workstation install: no torch
            raise ModelLoadError(f"{path}: this workstation install has no torch ({exc.name or exc}), and here the "
                                 f"model would need it: {why_not}; or install the training part (pip install "
                                 "\"fma-judge[train]\").") from exc
        return Predictor(load_bundle(path, device=self.device), device=self.device, batch_size=self.chunk_size,
                         decode_workers=self.decode_workers, max_threads=self.max_threads)

    @staticmethod
    def read_manifest(bundle_path: str | Path) -> BundleManifest:
        """Only the bundle's manifest (milliseconds, no torch): its taxonomy and calibration before the weights load.

        Raises:
            ModelLoadError: the manifest cannot be read.
        """
        from models.bundle.files import read_bundle_manifest
        from models.bundle.manifest import BundleError

        try:
            return read_bundle_manifest(bundle_path)
        except (BundleError, OSError) as exc:
            raise ModelLoadError(str(exc)) from exc

    @staticmethod
    def bundle_stamp(bundle_path: str | Path) -> tuple:
        """The bundle folder's files' modification times and sizes (:func:`models.bundle.files.bundle_stamp`): two
        stamps differ when a calibration or a training rewrote the loaded model's files."""
        from models.bundle.files import bundle_stamp

        return bundle_stamp(bundle_path)

    def _require_model(self) -> Any:
        if self.predictor is None or self.info is None:
            raise ModelLoadError("no model is loaded")
        return self.predictor

    # -- predictions -------------------------------------------------------------------------------
    def todo(self, items: Sequence[BatchItem], unreadable: Sequence[int] = ()) -> list[tuple[int, str]]:
        """``(image_id, path)`` of the items without a prediction of the loaded model (unreadable ones left out)."""
        return unpredicted(items, self.info.version if self.info else None, set(unreadable), self.calibration_stamp)

    @property
    def calibration_stamp(self) -> str | None:
        """The loaded bundle's routing stamp (``BundleManifest.routing_stamp``; None: no model, or an unrouted one)."""
        return None if self.info is None else self.info.manifest.routing_stamp

    def predict(self, items: Sequence[tuple[int, str]], *, cancel: threading.Event | None = None,
                skip: Callable[[int], bool] | None = None) -> Iterator[PredictedChunk]:
        """Predict ``(image_id, path)`` pairs and save them, yielding each chunk once it is committed.

        Images are decoded ahead while the model runs (and while a chunk is saved); the first chunk is
        small so the first result shows quickly. A model with a spectrum head fuses each image's stored FTIR spectra
        (issue #20). Setting ``cancel`` (or closing the iterator) stops after
        the current chunk; everything yielded so far is in the store.

        Args:
            items: the images, in the order to predict them.
            cancel: set to stop after the current chunk.
            skip: asked for each image just before it is decoded; True leaves it out (it was predicted
                meanwhile, e.g. ahead of the run because the analyst reached it). It counts as done.

        Raises:
            ModelLoadError: no model is loaded.
            StoreError: a chunk could not be written (nothing of that chunk is stored).
        """
        predictor = self._require_model()
        total = len(items)
        skipped = 0
        handed: list[int] = []  # the image id at each input position of the predictor (its output comes in order)

        def paths() -> Iterator[str]:
            nonlocal skipped
            for image_id, path in items:
                if skip is not None and skip(image_id):
                    skipped += 1
                    continue
                handed.append(image_id)
                yield path

        stamp = self.calibration_stamp
        stream = predictor.iter_predict(paths(), first_batch=self.first_chunk,
                                        spectra=self._spectra_of([i for i, _ in items], handed)
                                        if getattr(predictor, "fuses_spectra", False) else None)
        pending: list[tuple[int, PredictionRecord]] = []
        done, target = 0, self.first_chunk
        try:
            for made, prediction in enumerate(stream):
                pending.append((handed[made], PredictionRecord.from_prediction(prediction, stamp)))
                if len(pending) < target:
                    continue
                stored = self._save(pending)
                done += len(stored)
                yield PredictedChunk(tuple(stored), done + skipped, total)
                pending, target = [], self.chunk_size
                if cancel is not None and cancel.is_set():
                    return
            if pending:
                stored = self._save(pending)
                yield PredictedChunk(tuple(stored), done + len(stored) + skipped, total)
        finally:
            stream.close()  # cancels the decoding not started yet

    def _spectra_of(self, image_ids: Sequence[int], handed: list[int]) -> Callable[[int, str], list]:
        """``spectra(index, name)`` for the predictor: the stored spectra of the image at each input position
        (``handed``). Which of ``image_ids`` have any is asked once; only those are read, one at a time, as the
        model reaches them."""
        from app.store import repo
        from app.store.db import session_scope

        with session_scope(self.engine, action="read") as s:
            having = repo.images_with_spectra(s, image_ids)

        def spectra(index: int, _name: str) -> list:
            image_id = handed[index]
            if image_id not in having:
                return []
            with session_scope(self.engine, action="read") as s:
                return repo.spectra_of(s, image_id)

        return spectra

    def _save(self, pairs: list[tuple[int, PredictionRecord]]) -> list[tuple[int, PredictionRecord]]:
        """One transaction per chunk, so the model never waits on the database per image. Predictions can be
        made again, so their commit does not wait for the disk (judgments' commits do)."""
        from app.services.monitor import apply_pauses
        from app.store import repo
        from app.store.db import session_scope

        calibration = None if self.info is None else self.info.manifest.calibration
        with session_scope(self.engine, durable=False) as s:  # the purity monitor's pauses hold back new ones too
            stored = repo.save_predictions(s, apply_pauses(s, pairs[0][1].model_version, calibration, pairs))
            if self.info is not None and self.info.fuses_spectra:  # a spectrum attached while it was predicted
                late = repo.mark_made_without(s, [(i, r.id) for i, r in stored if not r.error and not r.spectra
                                                  and r.id is not None])
                stored = [(i, replace(r, calibration=SPECTRUM_ADDED) if i in late else r) for i, r in stored]
            return stored

    def warm_up(self, path: str) -> None:
        """Run one image through the model without storing anything (the first pass of a path is the slowest)."""
        predictor = self._require_model()
        predictor.forward_batch(predictor.preprocess(path)[None])

    def heatmap(self, path: str, *, leaf: str | None = None) -> tuple[np.ndarray, str]:
        """Where the model looked on one image: (H, W) in 0..1 at the input resolution, and its kind. A gradient
        heatmap explains ``leaf`` when given (a prediction that fused a spectrum: its leaf may not be the image
        model's Top-1), else the image model's Top-1."""
        import numpy as np

        heatmap, kind = self._require_model().heatmap(path, leaf=leaf)
        return np.asarray(heatmap, dtype=np.float32), kind

    def explain(self, path: str, leaf: str) -> np.ndarray:
        """"Why this type?": where the model finds evidence for ``leaf`` on one image (LayerCAM), (H, W) in 0..1."""
        import numpy as np

        return np.asarray(self._require_model().explain(path, leaf), dtype=np.float32)

    def heatmaps(self, paths: Sequence[str]) -> list[tuple[np.ndarray, str] | str]:
        """Heatmaps of several images in one batched pass (cheaper per image); an unreadable one gives its reason."""
        return self._require_model().heatmaps(list(paths))

    # -- headless pre-classification ---------------------------------------------------------------
    def classify_folder(self, folder: Path, *, recursive: bool = False, progress: Progress | None = None,
                        on_chunk: Callable[[PredictedChunk], None] | None = None,
                        cancel: threading.Event | None = None, ranks: Ranks | None = None) -> ClassifyResult:
        """Open a folder as the app does and predict every image the loaded model has not predicted yet.

        The app then opens the same folder (same ``recursive`` flag) with the predictions already there.

        Args:
            folder: the folder of images.
            recursive: include sub-folders (the app's "also open images in sub-folders").
            progress: called while the folder is read (files done, total; (entries listed, 0) while it is listed).
            on_chunk: called with every saved chunk (of this rank's share).
            cancel: set to stop after the current chunk.
            ranks: the processes of a ``torchrun`` launch (:mod:`app.services.ranks`): rank 0 opens the folder,
                every rank predicts every ``world``-th image still to predict, in the batch's order, and the ranks
                agree at the end; the result's counts are every rank's. None: this process alone.
        """
        self._require_model()
        from app.services import batches

        ranks = ranks or Ranks()
        handed: dict[str, Any] = {}
        failed: Exception | None = None
        if ranks.rank == 0:
            try:
                opened: OpenedBatch = batches.open_folder(self.engine, folder, recursive=recursive, progress=progress,
                                             model_version=self.info.version)
                paths = {it.image.image_id: it.image.path for it in opened.items}
                todo = self.todo(opened.items, list(opened.unreadable))
                queued = {i for i, _ in todo}
                # an earlier run's error row of this model: not predicted again, still an image it cannot read
                earlier = [(it.image.path, it.prediction.error) for it in opened.items
                           if it.prediction is not None and it.prediction.error
                           and it.image.image_id not in queued and it.image.image_id not in opened.unreadable]
                handed = {"batch_id": opened.batch_id, "name": opened.name, "images": len(opened.items),
                          "unreadable": sorted(opened.unreadable), "failed": len(earlier),
                          "named": [(paths.get(i, str(i)), why) for i, why in sorted(opened.unreadable.items())]
                          + earlier,
                          "left_out": [(str(p), why) for p, why in opened.skipped],
                          "todo": todo}
            except Exception as exc:  # raised here once the other ranks know (else they would wait for ever)
                failed, handed = exc, {"error": f"{type(exc).__name__}: {exc}"}
        handed = ranks.share(handed)  # the other ranks wait for the folder to be registered
        if failed is not None:
            raise failed
        if "error" in handed:
            raise StoreError(f"rank 0 could not open the folder: {handed['error']}")
        todo = handed["todo"]  # rank 0's list, on every rank: each takes every world-th of the same list (a rank
        # reading the batch itself would see rank 0's first predictions saved, and shard another list)
        counts: Counter[str] = Counter()
        mine = todo[ranks.rank::ranks.world]
        where, problems = dict(mine), list(handed.get("named", []))
        for chunk in self.predict(mine, cancel=cancel):
            for image_id, record in chunk.items:
                counts["done"] += 1
                if record.error:  # the model could not read it: an error row, not a prediction
                    counts["errors"] += 1
                    problems.append((where.get(image_id, str(image_id)), record.error))
                else:
                    counts["predicted"] += 1
                    counts[f"route:{record.route or 'none'}"] += 1
            if on_chunk is not None:
                on_chunk(chunk)
        counts = ranks.add_up(counts)  # also the ranks' agreement that the batch is done
        routes = {k.split(":", 1)[1]: n for k, n in counts.items() if k.startswith("route:")}
        unreadable, images, failed_before = len(handed["unreadable"]), handed["images"], handed["failed"]
        return ClassifyResult(batch_id=handed["batch_id"], name=handed["name"], images=images,
                              predicted=counts["predicted"], already=images - unreadable - failed_before - len(todo),
                              routes=routes, errors=counts["errors"] + failed_before, unreadable=unreadable,
                              cancelled=counts["done"] < len(todo), problems=tuple(problems),
                              left_out=tuple(map(tuple, handed.get("left_out", ()))))
