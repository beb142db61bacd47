"""Predictor: images in, typed :class:`models.inference.records.Prediction` records out.

One path for a prediction: images are decoded and preprocessed ahead of the model on a few threads
(:meth:`Predictor.decode_ahead`, bounded, errors become reasons), batched, run along the bundle's
inference engine (:mod:`models.inference.engine`), turned into level and leaf distributions
(:mod:`models.inference.outputs`), routed when the bundle is calibrated (:mod:`models.routing.policy`)
and returned as frozen records. Heatmaps are computed only on request (:mod:`models.inference.heatmaps`):
the CBAM spatial attention map when the network has CBAM (it falls out of the same forward pass),
otherwise flip-averaged LayerCAM at the stride-4 stage. ``heatmap_kind`` stays ``"gradcam"`` for the
Grad-CAM family (the app labels it so).
"""

from __future__ import annotations

import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from models.bundle.io import BundleError, LoadedBundle, load_bundle
from models.data.transforms import build_eval_transform
from models.imageio import decode_or_reason, load_image
from models.inference.engine import HOOKED_PATHS, RawOutput, TorchEngine, engine_from_manifest
from models.inference.heatmaps import HEATMAP_FLIPS, LevelLogits, cam_maps, normalise_maps
from models.inference.outputs import BatchOutput, combine_levels, marginals
from models.inference.records import Prediction, RankedLeaf
from models.nn.network import stage_statistics
from models.routing.policy import Calibration, image_key, route_batch

ImageSource = str | Path | Image.Image


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
    tensor: torch.Tensor | None
    error: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Batch:
    """One batch as the model ran it: its images, their stacked tensors and the outputs.

    An unreadable image is a batch of its own with ``x`` and ``out`` None (its reason in ``items[0].error``).
    """

    items: tuple[Decoded, ...]
    x: torch.Tensor | None
    out: BatchOutput | None


@dataclass(frozen=True)
class RouteDecision:
    """Routing of one image of a batch (all None/empty for an uncalibrated bundle)."""

    route: str | None = None
    reasons: tuple[str, ...] = ()
    unknown_score: float | None = None


class Predictor:
    """Runs a loaded bundle on images.

    The network runs along the bundle's measured inference path (``inference`` in the manifest, written
    by ``fma-model optimize``; see :mod:`models.inference.engine`) when it is usable on this machine; otherwise
    along the next accepted one, with the reason in :attr:`engine_note` (and a warning). Heatmaps
    (Grad-CAM) always use the eager fp32 network: they need autograd.

    Args:
        bundle: a :class:`LoadedBundle` or a path to one.
        device: "cpu", "cuda" ...
        batch_size: images per forward pass (None: the measured one, else 16).
        channels_last: without a measured choice, use the channels-last memory format (faster on CPUs and
            GPUs for CNNs); False = plain eager NCHW.
        decode_workers: threads that decode and preprocess images ahead of the model.
        inference: use the manifest's measured inference path (False = ignore it).
        max_threads: at most this many compute threads (torch, process-wide, and ONNX Runtime); None = the
            measured best, or one per core.

    Attributes:
        engine: the :class:`models.inference.engine.Engine` in use; ``engine.path`` names it.
        engine_note: why the stored inference choice is not the one in use, or None.
    """

    def __init__(
        self,
        bundle: LoadedBundle | str | Path,
        *,
        device: str | torch.device = "cpu",
        batch_size: int | None = None,
        channels_last: bool = True,
        decode_workers: int = 2,
        inference: bool = True,
        max_threads: int | None = None,
    ) -> None:
        if not isinstance(bundle, LoadedBundle):
            bundle = load_bundle(bundle, device=device)
        self.bundle = bundle
        self.device = torch.device(device)
        self.model = bundle.model.to(self.device).eval()
        m = self.manifest = bundle.manifest
        self.input_size: tuple[int, int] = m.hw
        default = "channels_last" if channels_last else "eager"
        selected = engine_from_manifest(self.model, m.inference if inference else None, bundle_path=bundle.path,
                                        weights_sha256=m.weights.sha256 if m.weights else None,
                                        temperature=m.effective_temperature, input_size=self.input_size,
                                        device=self.device, default=default, max_threads=max_threads)
        self.engine = selected.engine
        self.engine_note = selected.note
        if selected.note:
            warnings.warn(f"{bundle.path}: {selected.note}", RuntimeWarning, stacklevel=2)
        threads = selected.threads
        if max_threads and not threads:
            threads = min(torch.get_num_threads(), max_threads)
        if threads and threads != torch.get_num_threads():
            torch.set_num_threads(threads)  # process-wide (heatmaps too): the measured best here, or the cap
        self.channels_last = self.engine.channels_last
        self.taxonomy = bundle.taxonomy
        self.batch_size = max(1, int(batch_size or selected.batch_size or 16))
        self.decode_workers = max(1, int(decode_workers))
        self.transform = build_eval_transform(self.input_size, m.mean, m.std, m.interpolation)
        self.temperature = m.effective_temperature
        self.is_flat = m.is_flat
        self.calibration: Calibration | None = m.calibration
        self.model_version = bundle.model_version
        self._leaf_level_index = self.taxonomy.leaf_level_index
        self._paths = [tuple(self.taxonomy.path(leaf)) for leaf in self.taxonomy.leaves]
        self._stages: dict[int, Any] = {}  # stride -> hook handle
        self._stage_out: dict[int, np.ndarray] = {}
        self._stages_armed = False
        if self.calibration is not None and self.calibration.unknown is not None:
            self.watch_stages(self.calibration.unknown.needs_stage_stats)

    # -- stage statistics (the "stages" unknown score) ----------------------------------------
    def watch_stages(self, strides: Sequence[int]) -> None:
        """Also return the channel statistics of these backbone stages from :meth:`forward_batch`.

        Forward hooks read them, so only the eager torch paths can: a stored compiled, quantised or
        ONNX path falls back to the torch path (with a note in :attr:`engine_note`).

        Raises:
            BundleError: the backbone has no stage of one of these strides.
        """
        new = [int(s) for s in strides if int(s) not in self._stages]
        if not new:
            return
        modules = {}
        for stride in new:  # every stride is checked before any hook goes on the model
            module = self.model.stage_at_stride(stride) if self.model.feature_format == "nchw" else None
            if module is None:
                raise BundleError(f"{self.bundle.path}: the backbone has no stage of stride {stride} "
                                  "for the 'stages' unknown score")
            modules[stride] = module
        me = weakref.ref(self)  # the hook must not keep the Predictor alive

        def hook(stride: int) -> Callable[..., None]:
            def on_output(_module: Any, _inputs: Any, output: torch.Tensor) -> None:
                predictor = me()
                if predictor is not None:
                    predictor._on_stage(stride, output)
            return on_output

        for stride, module in modules.items():
            self._stages[stride] = module.register_forward_hook(hook(stride))
        if self.engine.path not in HOOKED_PATHS:
            fallback = "channels_last" if self.engine.channels_last else "eager"
            self.engine_note = (f"the 'stages' unknown score reads the backbone's stages, which the "
                                f"{self.engine.path} path hides; using {fallback}")
            self.engine = TorchEngine(self.model, fallback)
            self.channels_last = self.engine.channels_last

    def unwatch_stages(self) -> None:
        """Remove the stage hooks from the (shared) network; :meth:`forward_batch` stops returning statistics."""
        for handle in self._stages.values():
            handle.remove()
        self._stages.clear()

    def _on_stage(self, stride: int, output: torch.Tensor) -> None:
        if self._stages_armed:
            self._stage_out[stride] = stage_statistics(output)

    # -- low level ---------------------------------------------------------------------------
    def preprocess(self, image: ImageSource) -> torch.Tensor:
        """Decode (if needed) and preprocess one image to a (3, H, W) tensor."""
        return self.transform(load_image(image))

    @torch.inference_mode()
    def forward_batch(self, batch: torch.Tensor) -> BatchOutput:
        """Run preprocessed images (N, 3, H, W) through the network (along :attr:`engine`)."""
        if not self._stages:
            return self.postprocess(self.engine(batch.to(self.device)))
        self._stage_out, self._stages_armed = {}, True
        try:
            raw = self.engine(batch.to(self.device))
        finally:
            self._stages_armed = False
        out = self.postprocess(raw)
        out.stage_stats = dict(self._stage_out)
        return out

    def postprocess(self, raw: RawOutput) -> BatchOutput:
        """Temperature, softmax per level and the combined leaf distribution of raw network outputs."""
        raw_levels = [lv.float() for lv in raw.levels]
        levels = [lv / self.temperature for lv in raw_levels]
        if self.is_flat:
            leaf = torch.softmax(levels[-1], dim=1).cpu().numpy()
            level_probs = marginals(leaf, self._leaf_level_index, self.taxonomy.level_sizes)
        else:
            level_probs = [torch.softmax(lv, dim=1).cpu().numpy() for lv in levels]
            leaf = combine_levels(level_probs, self._leaf_level_index)
        cbam_np = None
        if raw.cbam_map is not None:
            cbam = F.interpolate(raw.cbam_map.float(), size=self.input_size, mode="bilinear", align_corners=False)
            cbam_np = normalise_maps(cbam[:, 0].cpu().numpy())
        return BatchOutput(level_probs, leaf, raw.embedding.float().cpu().numpy(), cbam_np,
                           level_logits=[lv.cpu().numpy() for lv in raw_levels])

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
    def predict(self, images: Iterable[ImageSource], *, heatmaps: bool = False) -> list[Prediction]:
        """Predict every image; unreadable images give a Prediction with ``error`` set."""
        return list(self.iter_predict(images, heatmaps=heatmaps))

    def iter_predict(self, images: Iterable[ImageSource], *, heatmaps: bool = False,
                     first_batch: int | None = None) -> Iterator[Prediction]:
        """Like :meth:`predict`, yielding results batch by batch, in input order.

        Args:
            images: paths or PIL images (consumed lazily; decoded ahead, see :meth:`decode_ahead`).
            heatmaps: attach a heatmap to every prediction.
            first_batch: size of the first batch (smaller: the first results come sooner); the rest use
                ``batch_size``.
        """
        wants_key = self.calibration is not None and self.calibration.spot_check > 0
        stream = self.run_batches(images, keys=wants_key, first_batch=first_batch)
        try:
            for batch in stream:
                if batch.out is None:
                    (item,) = batch.items
                    yield Prediction(file=item.name, error=item.error, model_version=self.model_version)
                else:
                    yield from self._predictions(batch, heatmaps)
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
        x = torch.stack([d.tensor for d in items])
        return Batch(tuple(items), x, self.forward_batch(x))

    def _predictions(self, batch: Batch, heatmaps: bool) -> Iterator[Prediction]:
        out = batch.out
        decisions = self.route(out, [d.key for d in batch.items])
        maps: np.ndarray | None = None
        kind: str | None = None
        if heatmaps:
            if out.cbam_maps is not None:
                maps, kind = out.cbam_maps, "cbam"
            else:
                targets = [int(np.argmax(out.leaf_probs[i])) for i in range(len(batch.items))]
                maps, kind = self._gradcam(batch.x, targets), "gradcam"
        for i, d in enumerate(batch.items):
            yield self._make_prediction(d.name, out, i, None if maps is None else maps[i], kind, decisions[i])

    def _make_prediction(self, file: str, out: BatchOutput, i: int, heatmap: np.ndarray | None,
                         heatmap_kind: str | None, decision: RouteDecision) -> Prediction:
        leaf_probs = out.leaf_probs[i]
        order = np.argsort(-leaf_probs, kind="stable")
        best = int(order[0])
        path = self._paths[best]
        margs = marginals(leaf_probs[None], self._leaf_level_index, self.taxonomy.level_sizes)
        idx = self._leaf_level_index[best]
        return Prediction(
            file=file,
            leaf=self.taxonomy.leaves[best],
            path=path,
            # scores of the unpadded path: a padded leaf repeats at deeper levels
            path_scores=tuple(float(margs[k][0, idx[k]]) for k in range(len(path))),
            confidence=float(leaf_probs[best]),
            level_probs=tuple(tuple(float(v) for v in lp[i]) for lp in out.level_probs),
            top5=tuple(RankedLeaf(self.taxonomy.leaves[j], self._paths[j], float(leaf_probs[j])) for j in order[:5]),
            leaf_probs=leaf_probs.copy(),
            embedding=out.embedding[i].copy(),
            heatmap=heatmap,
            heatmap_kind=heatmap_kind,
            model_version=self.model_version,
            route=decision.route,
            reasons=decision.reasons,
            unknown_score=decision.unknown_score,
        )

    def route(self, out: BatchOutput, keys: Sequence[str | None]) -> list[RouteDecision]:
        """Per image of a batch: its :class:`RouteDecision` (empty ones when the bundle is uncalibrated).

        Args:
            out: the batch's outputs from :meth:`forward_batch`.
            keys: each image's content key (:func:`models.routing.policy.image_key`) for the spot-check draw.
        """
        if self.calibration is None:
            return [RouteDecision() for _ in keys]
        routes, reasons, scores = route_batch(self.calibration, self.taxonomy.leaves, leaf_probs=out.leaf_probs,
                                              level_logits=out.level_logits, embeddings=out.embedding, keys=keys,
                                              stage_stats=out.stage_stats)
        return [RouteDecision(r, tuple(why), None if scores is None else round(float(scores[i]), 6))
                for i, (r, why) in enumerate(zip(routes, reasons, strict=True))]

    def heatmap(self, image: ImageSource, *, leaf: str | None = None) -> tuple[np.ndarray, str]:
        """Heatmap for one image (H, W in 0..1 at the input resolution), and its kind.

        Args:
            image: the image.
            leaf: explain this leaf instead of the predicted one (Grad-CAM only; CBAM attention
                does not depend on the class).
        """
        x = self.preprocess(image)[None]
        out = self.forward_batch(x)
        if out.cbam_maps is not None:
            return out.cbam_maps[0], "cbam"
        target = self.taxonomy.leaves.index(leaf) if leaf else int(np.argmax(out.leaf_probs[0]))
        return self._gradcam(x, [target])[0], "gradcam"

    def explain(self, image: ImageSource, leaf: str) -> np.ndarray:
        """"Why this type?": flip-averaged LayerCAM of ``leaf``'s score for one image (H, W in 0..1), whatever
        heatmap the network gives by default. Unlike CBAM attention it depends on the leaf, so two leaves of the
        Top-5 can be compared. Costs backward passes (seconds on a loaded CPU): made on request only.

        Raises:
            KeyError: ``leaf`` is not a leaf of the bundle's taxonomy.
        """
        if leaf not in self.taxonomy.leaves:
            raise KeyError(f"{leaf!r} is not a leaf of the model's taxonomy")
        x = self.preprocess(image)[None]
        return self._gradcam(x, [self.taxonomy.leaves.index(leaf)])[0]

    def heatmaps(self, images: Sequence[ImageSource]) -> list[tuple[np.ndarray, str] | str]:
        """Heatmaps of several images at once (one batched pass; cheaper per image than :meth:`heatmap`), each
        explaining its predicted leaf; an image that cannot be read gives its reason instead."""
        decoded = [decode_or_reason(self.preprocess, image) for image in images]
        readable = [i for i, (tensor, _) in enumerate(decoded) if tensor is not None]
        results: list[tuple[np.ndarray, str] | str] = [reason or "" for _, reason in decoded]
        if not readable:
            return results
        x = torch.stack([decoded[i][0] for i in readable])
        out = self.forward_batch(x)
        if out.cbam_maps is not None:
            maps, kind = out.cbam_maps, "cbam"
        else:
            maps, kind = self._gradcam(x, [int(np.argmax(p)) for p in out.leaf_probs]), "gradcam"
        for k, i in enumerate(readable):
            results[i] = (maps[k], kind)
        return results

    def _gradcam(self, batch: torch.Tensor, leaf_targets: Sequence[int]) -> np.ndarray:
        from pytorch_grad_cam import LayerCAM

        x = batch.to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        layer, reshape, stride = self.model.heatmap_layer()
        maps = cam_maps(LayerCAM, LevelLogits(self.model, level=-1), layer, x, leaf_targets,
                        reshape=reshape, smooth_px=stride, flips=HEATMAP_FLIPS)
        self.model.zero_grad(set_to_none=True)
        return maps


def _name_of(img: ImageSource, n: int) -> str:
    if isinstance(img, Image.Image):
        return str(getattr(img, "filename", "") or f"<image {n}>")
    return str(img)
