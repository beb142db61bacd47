"""The torch-free half of a predictor: decoding ahead, batching, probabilities, routing and the records.

:class:`PredictorCore` is shared by the torch :class:`models.inference.predictor.Predictor` and the workstation's
:class:`models.inference.runtime.RuntimePredictor` (ONNX Runtime); each adds how a batch is stacked and run
(:meth:`PredictorCore.forward_batch`), how one image is preprocessed, and its heatmaps. No torch here.

A bundle with a spectrum head (issue #20, :mod:`models.bundle.spectrum`) fuses each image's FTIR spectra, when the
caller hands them over (``spectra=`` of :meth:`PredictorCore.iter_predict`), into its leaf distribution
(:func:`models.spectra.head.fuse_rows`) and routes the fused prediction by the fused calibration (the manifest's
``spectrum.thresholds``); an image without a spectrum is predicted and routed exactly as by the image model alone.
A calibrated bundle whose head was never calibrated does not fuse: its routing promise was measured on images alone.
"""

from __future__ import annotations

import abc
import dataclasses
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from models.bundle.manifest import BundleManifest
from models.imageio import decode_or_reason
from models.inference.outputs import (
    BatchOutput,
    combine_levels,
    marginals,
    predicted_set,
    presence,
    presence_thresholds,
    set_auto,
)
from models.inference.records import Prediction, RankedLeaf
from models.routing.policy import AUTO, REJUDGE, Calibration, image_key, route_batch
from models.spectra.head import SpectrumHead, fuse_rows

ImageSource = str | Path | Image.Image
SpectraOf = Callable[[int, str], Sequence[Any]]
"""``spectra(index, name)``: the FTIR spectra of the ``index``-th input image (objects with ``wavenumbers`` and
``absorbance``), asked for only by a predictor that fuses them."""


@dataclass(frozen=True)
class Decoded:
    """One image decoded for the model: its tensor, or why it could not be read.

    Attributes:
        index: position in the input sequence.
        name: the file path (or a label for an in-memory image).
        tensor: (3, H, W) preprocessed, or None when ``error`` is set.
        error: why the image could not be read.
        key: the content key of the spot-check draw, when asked for.
    """

    index: int
    name: str
    tensor: Any
    error: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Batch:
    """One batch as the model ran it: its images, their stacked tensors and the outputs.

    An unreadable image is a batch of its own with ``x`` and ``out`` None (its reason in ``items[0].error``).
    """

    items: tuple[Decoded, ...]
    x: Any
    out: BatchOutput | None


@dataclass(frozen=True)
class RouteDecision:
    """Routing of one image of a batch (all None/empty for an uncalibrated bundle)."""

    route: str | None = None
    reasons: tuple[str, ...] = ()
    unknown_score: float | None = None


class PredictorCore(abc.ABC):
    """What every predictor does the same way, from a bundle's manifest (see the module doc).

    Subclasses call :meth:`_setup` and implement :meth:`preprocess`, :meth:`forward_batch`, :meth:`_stack` and
    :meth:`_default_maps`.
    """

    manifest: BundleManifest
    model_version: str

    def _setup(self, manifest: BundleManifest, model_version: str, *, batch_size: int, decode_workers: int) -> None:
        self.manifest = manifest
        self.model_version = model_version
        self.input_size: tuple[int, int] = manifest.hw
        self.taxonomy = manifest.taxonomy
        self.batch_size = max(1, int(batch_size))
        self.decode_workers = max(1, int(decode_workers))
        self.temperature = manifest.effective_temperature
        self.is_flat = manifest.is_flat
        self.is_multilabel = manifest.is_multilabel
        self.presence_thresholds = presence_thresholds(manifest)
        self.calibration: Calibration | None = manifest.calibration
        self.flips: tuple[str, ...] = () if manifest.calibration is None else manifest.calibration.flips
        self._leaf_level_index = self.taxonomy.leaf_level_index
        self._paths = [tuple(self.taxonomy.path(leaf)) for leaf in self.taxonomy.leaves]
        self.spectrum_head: SpectrumHead | None = None
        self.fused_calibration: Calibration | None = None

    def _use_spectrum_head(self, bundle_path: str | Path) -> None:
        """Load the bundle's spectrum head when it has one it may fuse with (see the module doc).

        Raises:
            BundleError: the head cannot be read (:func:`models.bundle.spectrum.load_spectrum_head`).
        """
        from models.bundle.spectrum import load_spectrum_head

        record = self.manifest.spectrum
        if record is None or not self.manifest.fuses_spectra:
            return
        self.spectrum_head = load_spectrum_head(bundle_path, self.manifest)
        self.fused_calibration = self.manifest.fused_calibration

    @property
    def fuses_spectra(self) -> bool:
        """Whether images' spectra change this predictor's predictions (a head it may use)."""
        return self.spectrum_head is not None

    def fuse(self, leaf_probs: np.ndarray, rows: Sequence[Sequence[Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Leaf distributions (N, L) fused with each row's spectra, and the spectra used per row (all 0, and the
        distributions unchanged, without a head)."""
        if self.spectrum_head is None:
            return leaf_probs, np.zeros(len(rows), dtype=np.int64)
        return fuse_rows(self.spectrum_head, leaf_probs, rows, self._leaf_level_index)

    # -- what a subclass adds ------------------------------------------------------------------
    @abc.abstractmethod
    def preprocess(self, image: ImageSource) -> Any:
        """Decode (if needed) and preprocess one image to a (3, H, W) array or tensor."""

    @abc.abstractmethod
    def forward_batch(self, batch: Any) -> BatchOutput:
        """Run preprocessed images (N, 3, H, W) through the network."""

    @abc.abstractmethod
    def _stack(self, arrays: list[Any]) -> Any:
        """Preprocessed images -> one (N, 3, H, W) batch."""

    def _view_logits(self, batch: Any) -> list[np.ndarray]:
        """The raw level logits of a batch (a flipped view: nothing else of its outputs is used)."""
        return self.forward_batch(batch).level_logits

    @abc.abstractmethod
    def _flip(self, batch: Any, view: str) -> Any:
        """A batch (N, 3, H, W) flipped as ``view`` says (:data:`models.routing.views.FLIPS`)."""

    @abc.abstractmethod
    def _default_maps(self, batch: Batch) -> tuple[np.ndarray, str]:
        """The default heatmaps (N, H, W) of a batch's images, and their kind."""

    # -- shared ------------------------------------------------------------------------------
    def forward_views(self, batch: Any) -> BatchOutput:
        """:meth:`forward_batch`, with the test-time flips of the calibration (:attr:`flips`): the level logits
        and the distributions made of them are the mean over the image and its flipped views; the embedding, the
        stage statistics and the CBAM attention are the image's own (the unknown detector and the heatmap read
        them as they were fitted and shown)."""
        out = self.forward_batch(batch)
        if not self.flips:
            return out
        views = [out.level_logits, *(self._view_logits(self._flip(batch, f)) for f in self.flips)]
        logits = [np.mean([v[k] for v in views], axis=0, dtype=np.float32) for k in range(len(out.level_logits))]
        level_probs, leaf = self.probabilities(logits)
        return dataclasses.replace(out, level_probs=level_probs, leaf_probs=leaf, level_logits=logits)

    def probabilities(self, raw_levels: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        """Per-level and leaf distributions of raw level logits (N, n_k): the temperature, a softmax per level and
        their path-consistent combination (the flat head: the leaf softmax and its marginals; a multi-label bundle:
        a sigmoid per node, and the leaves' presence scores normalised to a distribution, which ranks them as
        their presence does)."""
        levels = [np.asarray(lv, dtype=np.float32) / np.float32(self.temperature) for lv in raw_levels]
        if self.is_multilabel:  # each node's own sigmoid; the leaf "distribution" is the presence normalised
            level_probs = [(1.0 / (1.0 + np.exp(-lv))).astype(np.float32) for lv in levels]
            scores = presence(level_probs, self._leaf_level_index)
            return level_probs, scores / np.maximum(scores.sum(axis=1, keepdims=True), 1e-12)
        if self.is_flat:
            leaf = _softmax(levels[-1])
            return marginals(leaf, self._leaf_level_index, self.taxonomy.level_sizes), leaf
        level_probs = [_softmax(lv) for lv in levels]
        return level_probs, combine_levels(level_probs, self._leaf_level_index)

    def presence_scores(self, raw_levels: Sequence[np.ndarray]) -> np.ndarray:
        """A multi-label bundle's leaf presence scores (N, num_leaves) of raw level logits (:func:`presence` of the
        per-level sigmoids of :meth:`probabilities`)."""
        return presence(self.probabilities(raw_levels)[0], self._leaf_level_index)

    def decode_ahead(self, images: Iterable[ImageSource], *, keys: bool = False) -> Iterator[Decoded]:
        """Decode and preprocess images on :attr:`decode_workers` threads, yielded in input order.

        At most about two batches are decoded ahead of the consumer, so memory stays flat however many
        images there are; closing the iterator early cancels the decoding not started yet. An unreadable
        image is yielded with its reason (:func:`models.imageio.decode_or_reason`), never raised.

        Args:
            images: paths or PIL images (consumed lazily).
            keys: also compute each readable image's content key (:func:`models.routing.policy.image_key`).
        """
        def decode(item: tuple[int, ImageSource]) -> Decoded:
            n, src = item
            tensor, error = decode_or_reason(self.preprocess, src)
            key = None
            if tensor is not None and keys:
                key, error = decode_or_reason(image_key, src)
                tensor = tensor if error is None else None
            return Decoded(n, _name_of(src, n), tensor, error, key)

        source = iter(enumerate(images))
        ahead = 2 * self.batch_size + self.decode_workers
        queued: deque[Future[Decoded]] = deque()
        with ThreadPoolExecutor(max_workers=self.decode_workers) as pool:
            def refill() -> None:
                while len(queued) < ahead and (nxt := next(source, None)) is not None:
                    queued.append(pool.submit(decode, nxt))

            try:
                refill()
                while queued:
                    item = queued.popleft().result()
                    refill()
                    yield item
            finally:
                for future in queued:  # closed early: drop the decoding not started yet
                    future.cancel()

    # -- public ------------------------------------------------------------------------------
    def predict(self, images: Iterable[ImageSource], *, heatmaps: bool = False,
                spectra: SpectraOf | None = None) -> list[Prediction]:
        """Predict every image; unreadable images give a Prediction with ``error`` set."""
        return list(self.iter_predict(images, heatmaps=heatmaps, spectra=spectra))

    def iter_predict(self, images: Iterable[ImageSource], *, heatmaps: bool = False,
                     first_batch: int | None = None, spectra: SpectraOf | None = None) -> Iterator[Prediction]:
        """Like :meth:`predict`, yielding results batch by batch, in input order.

        Args:
            images: paths or PIL images (consumed lazily; decoded ahead, see :meth:`decode_ahead`).
            heatmaps: attach a heatmap to every prediction.
            first_batch: size of the first batch (smaller: the first results come sooner); the rest use
                ``batch_size``.
            spectra: each image's FTIR spectra (:data:`SpectraOf`), fused when the bundle has a usable spectrum
                head (:attr:`fuses_spectra`); None: images alone.
        """
        wants_key = self.calibration is not None and self.calibration.draws_spot_checks
        stream = self.run_batches(images, keys=wants_key, first_batch=first_batch)
        try:
            for batch in stream:
                if batch.out is None:
                    (item,) = batch.items
                    yield Prediction(file=item.name, error=item.error, model_version=self.model_version)
                else:
                    yield from self._predictions(batch, heatmaps, spectra)
        finally:
            stream.close()

    def run_batches(self, images: Iterable[ImageSource], *, keys: bool = False,
                    first_batch: int | None = None) -> Iterator[Batch]:
        """Images decoded ahead (:meth:`decode_ahead`), batched and run through :meth:`forward_batch`, in input order.

        The one batching loop: predictions (:meth:`iter_predict`) and the raw outputs of calibration, evaluation
        and training validation (:func:`models.inference.collect.collect_outputs`) are both made of these
        batches. An unreadable image comes as a batch of its own without outputs, so the order is kept.

        Args:
            images: paths or PIL images.
            keys: compute each image's spot-check content key.
            first_batch: size of the first batch; the rest use ``batch_size``.
        """
        stream = self.decode_ahead(images, keys=keys)
        pending: list[Decoded] = []
        limit = max(1, int(first_batch or self.batch_size))
        try:
            for item in stream:
                if item.tensor is None:  # keep the input order: run what came before the bad image
                    if pending:
                        yield self._run(pending)
                    pending = []
                    yield Batch((item,), None, None)
                    continue
                pending.append(item)
                if len(pending) >= limit:
                    yield self._run(pending)
                    pending, limit = [], self.batch_size
            if pending:
                yield self._run(pending)
        finally:
            stream.close()

    def _run(self, items: list[Decoded]) -> Batch:
        x = self._stack([d.tensor for d in items])
        return Batch(tuple(items), x, self.forward_views(x))

    def _predictions(self, batch: Batch, heatmaps: bool, spectra: SpectraOf | None) -> Iterator[Prediction]:
        out = batch.out
        assert out is not None
        fused = None
        if spectra is not None and self.spectrum_head is not None:
            fused = self.fuse(out.leaf_probs, [spectra(d.index, d.name) for d in batch.items])
        decisions = self.route(out, [d.key for d in batch.items], fused)
        maps: np.ndarray | None = None
        kind: str | None = None
        if heatmaps:  # a gradient map explains the leaf predicted: the fused one where a spectrum changed it
            view = batch if fused is None else Batch(batch.items, batch.x, dataclasses.replace(out, leaf_probs=fused[0]))
            maps, kind = (out.cbam_maps, "cbam") if out.cbam_maps is not None else self._default_maps(view)
        for i, d in enumerate(batch.items):
            used = 0 if fused is None else int(fused[1][i])
            probs, levels, calibration = out.leaf_probs[i], [lp[i] for lp in out.level_probs], self.calibration
            if used:
                probs = fused[0][i]
                levels = [m[0] for m in marginals(probs[None], self._leaf_level_index, self.taxonomy.level_sizes)]
                calibration = self.fused_calibration
            yield self._make_prediction(d.name, probs, levels, out.embedding[i], None if maps is None else maps[i],
                                        kind, decisions[i], calibration, used)

    def _make_prediction(self, file: str, leaf_probs: np.ndarray, level_probs: Sequence[np.ndarray],
                         embedding: np.ndarray, heatmap: np.ndarray | None, heatmap_kind: str | None,
                         decision: RouteDecision, calibration: Calibration | None, spectra: int) -> Prediction:
        order = np.argsort(-leaf_probs, kind="stable")
        best = int(order[0])
        path = self._paths[best]
        margs = marginals(leaf_probs[None], self._leaf_level_index, self.taxonomy.level_sizes)
        idx = self._leaf_level_index[best]
        # scores of the unpadded path: a padded leaf repeats at deeper levels
        path_scores = tuple(float(margs[k][0, idx[k]]) for k in range(len(path)))
        node, level = (None, None) if calibration is None else calibration.determined(
            path, path_scores, decision.reasons)
        if self.is_multilabel:
            labels, scores = predicted_set(presence([lp[None] for lp in level_probs], self._leaf_level_index)[0],
                                           self.taxonomy.leaves, self.presence_thresholds)
        else:
            labels, scores = (self.taxonomy.leaves[best],), (float(leaf_probs[best]),)
        return Prediction(
            file=file,
            leaf=self.taxonomy.leaves[best],
            path=path,
            path_scores=path_scores,
            confidence=float(leaf_probs[best]),
            level_probs=tuple(tuple(float(v) for v in lp) for lp in level_probs),
            top5=tuple(RankedLeaf(self.taxonomy.leaves[j], self._paths[j], float(leaf_probs[j])) for j in order[:5]),
            leaf_probs=leaf_probs.copy(),
            embedding=embedding.copy(),
            heatmap=heatmap,
            heatmap_kind=heatmap_kind,
            model_version=self.model_version,
            route=decision.route,
            reasons=decision.reasons,
            unknown_score=decision.unknown_score,
            determined_node=node,
            determined_level=level,
            spectra=spectra,
            labels=labels,
            label_scores=scores,
        )

    def route(self, out: BatchOutput, keys: Sequence[str | None],
              fused: tuple[np.ndarray, np.ndarray] | None = None) -> list[RouteDecision]:
        """Per image of a batch: its :class:`RouteDecision` (empty ones when the bundle is uncalibrated).

        Args:
            out: the batch's outputs from :meth:`forward_batch`.
            keys: each image's content key (:func:`models.routing.policy.image_key`) for the spot-check draw.
            fused: :meth:`fuse`'s distributions and spectra counts: a row with a spectrum is routed on its fused
                confidence by :attr:`fused_calibration`; its unknown score stays the image's (the detector was
                fitted on images).
        """
        if self.is_multilabel:
            return self._route_sets(out, len(keys))
        if self.calibration is None:
            return [RouteDecision() for _ in keys]
        routes, reasons, scores = route_batch(self.calibration, self.taxonomy.leaves, leaf_probs=out.leaf_probs,
                                              level_logits=out.level_logits, embeddings=out.embedding, keys=keys,
                                              stage_stats=out.stage_stats)
        if fused is not None and self.fused_calibration is not None and fused[1].any():
            rows = np.nonzero(fused[1])[0]
            f_routes, f_reasons, _ = route_batch(
                self.fused_calibration, self.taxonomy.leaves, leaf_probs=fused[0][rows], keys=[keys[i] for i in rows],
                unknown_scores=None if scores is None else scores[rows])
            for j, i in enumerate(rows):
                routes[i], reasons[i] = f_routes[j], f_reasons[j]
        return [RouteDecision(r, tuple(why), None if scores is None else round(float(scores[i]), 6))
                for i, (r, why) in enumerate(zip(routes, reasons, strict=True))]


    def _route_sets(self, out: BatchOutput, n: int) -> list[RouteDecision]:
        """A multi-label bundle's routing: auto-judged where the set confidence reaches the calibrated threshold
        (:class:`models.bundle.records.MultiLabelRecord`), else to a person (``low_confidence``; every image when no
        threshold reached the target: no set is sure enough); not routed before ``calibrate``."""
        record = self.manifest.multilabel
        if record is None or not record.is_calibrated:
            return [RouteDecision() for _ in range(n)]
        auto = set_auto(presence(out.level_probs, self._leaf_level_index), self.presence_thresholds,
                        record.set_threshold)
        return [RouteDecision(AUTO, ()) if a else RouteDecision(REJUDGE, ("low_confidence",)) for a in auto]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _name_of(img: ImageSource, n: int) -> str:
    if isinstance(img, Image.Image):
        return str(getattr(img, "filename", "") or f"<image {n}>")
    return str(img)
