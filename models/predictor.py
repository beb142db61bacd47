"""Predictor: images in, plain :class:`Prediction` dataclasses out.

The hierarchical heads give one distribution per tree level. They are combined
into one distribution over leaves, consistent by construction:

    p(leaf) ∝ Π_k p_k(ancestor_k(leaf))     (renormalised over the leaves)

so the reported path is always a real path of the tree, and each node's
confidence on that path is the marginal of the combined distribution (the sum
of its leaves' scores), which never increases from the root down. A flat model
already gives leaf probabilities and uses them directly.

Heatmaps are computed only on request: the CBAM spatial attention map when the
network has CBAM (it falls out of the same forward pass), otherwise Grad-CAM
from the ``grad-cam`` package in its LayerCAM form (positive gradient × activation
per position, which stays sharp at shallow layers) on the layer chosen by
:meth:`HierarchicalNet.heatmap_layer` (a stride-4 stage of a CNN, whose fine
grid can point at a small defect, then smoothed over about one cell; the token
map of a ViT), with the ViT reshape transform where needed, averaged over the
image and its flips (:data:`HEATMAP_FLIPS`). ``heatmap_kind`` stays
``"gradcam"`` (the Grad-CAM family; the app labels it so).
"""

from __future__ import annotations

import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from PIL import Image

from models.bundle import BundleError, LoadedBundle, load_bundle
from models.colormap import jet
from models.data.transforms import build_eval_transform
from models.engine import HOOKED_PATHS, RawOutput, TorchEngine, engine_from_manifest
from models.imageio import ImageLoadError, load_image
from models.network import stage_statistics
from models.routing import Calibration, RoutingError, image_key, route_batch
from models.taxonomy import Taxonomy

ImageSource = str | Path | Image.Image

HEATMAP_FLIPS: tuple[tuple[int, ...], ...] = ((), (3,), (2,), (2, 3))
"""Views a heatmap is averaged over (tensor dims flipped). On the demo model the pointing game rose from
82 % (one view) to 94 % (these four) on 220 correctly classified test images (``python -m bench.heatmap_layers``)."""


@dataclass(frozen=True)
class RankedLeaf:
    """One entry of a Top-k list."""

    leaf: str
    path: tuple[str, ...]
    score: float


@dataclass(frozen=True, eq=False)
class Prediction:
    """The model's answer for one image. Plain data: safe to hand to any layer.

    Attributes:
        file: the source path (or a label for in-memory images).
        leaf: predicted leaf id, or None when ``error`` is set.
        path: node ids from the top-level group down to ``leaf``.
        path_scores: the combined-distribution confidence of each node on ``path``.
        confidence: the predicted leaf's score (== ``path_scores[-1]``).
        level_probs: per tree level, the head's probability of every node at that level (``taxonomy.levels`` order).
        top5: the five best leaves with their paths and scores.
        leaf_probs: the combined distribution over all leaves (``taxonomy.leaves`` order).
        embedding: pooled backbone features (for similar-case search).
        heatmap: (H, W) float32 in 0..1 at the network's input resolution, when requested.
        heatmap_kind: "cbam" or "gradcam" when a heatmap is present.
        model_version: the bundle's version id.
        error: why the image could not be judged (unreadable file ...), else None.
        extra: with a calibrated bundle, ``route`` ("auto" or "rejudge"), ``reasons`` (codes, see
            :mod:`models.routing`) and ``unknown_score``; empty otherwise.
    """

    file: str
    leaf: str | None = None
    path: tuple[str, ...] = ()
    path_scores: tuple[float, ...] = ()
    confidence: float = 0.0
    level_probs: tuple[tuple[float, ...], ...] = ()
    top5: tuple[RankedLeaf, ...] = ()
    leaf_probs: np.ndarray | None = None
    embedding: np.ndarray | None = None
    heatmap: np.ndarray | None = None
    heatmap_kind: str | None = None
    model_version: str = ""
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self, taxonomy: Taxonomy) -> dict[str, Any]:
        """The ``predict --json`` object (see ARCHITECTURE.md)."""
        level_probs = [
            {node: round(float(p), 6) for node, p in zip(taxonomy.levels[k], probs, strict=True)}
            for k, probs in enumerate(self.level_probs)
        ]
        return {
            "file": self.file,
            "leaf": self.leaf,
            "path": list(self.path),
            "confidence": round(float(self.confidence), 6) if self.error is None else None,
            "path_scores": [round(float(s), 6) for s in self.path_scores],
            "level_probs": level_probs,
            "top5": [{"leaf": r.leaf, "path": list(r.path), "score": round(float(r.score), 6)} for r in self.top5],
            "route": self.extra.get("route"),
            "reasons": list(self.extra.get("reasons", [])),
            "unknown_score": self.extra.get("unknown_score"),
            "model_version": self.model_version,
            "error": self.error,
        }


def combine_levels(level_probs: Sequence[np.ndarray], leaf_level_index: np.ndarray) -> np.ndarray:
    """Combine per-level distributions into a path-consistent leaf distribution.

    Args:
        level_probs: per level, an (N, n_k) array of probabilities.
        leaf_level_index: (num_leaves, num_levels) index of each leaf's ancestor at each level.

    Returns:
        (N, num_leaves) array; each row sums to 1.
    """
    log_scores = np.zeros((level_probs[0].shape[0], leaf_level_index.shape[0]), dtype=np.float64)
    for k, probs in enumerate(level_probs):
        log_scores += np.log(np.clip(probs[:, leaf_level_index[:, k]].astype(np.float64), 1e-12, None))
    log_scores -= log_scores.max(axis=1, keepdims=True)
    scores = np.exp(log_scores)
    return (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)


def marginals(leaf_probs: np.ndarray, leaf_level_index: np.ndarray, level_sizes: Sequence[int]) -> list[np.ndarray]:
    """Sum a leaf distribution up to each level: list of (N, n_k)."""
    out = []
    for k, size in enumerate(level_sizes):
        m = np.zeros((leaf_probs.shape[0], size), dtype=np.float32)
        np.add.at(m.T, leaf_level_index[:, k], leaf_probs.T)
        out.append(m)
    return out


class _LevelLogits(torch.nn.Module):
    """Wraps the network so Grad-CAM sees one tensor: the logits of one level."""

    def __init__(self, net: torch.nn.Module, level: int) -> None:
        super().__init__()
        self.net = net
        self.level = level

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).levels[self.level]


@dataclass
class BatchOutput:
    """Raw model outputs for a batch of preprocessed images (numpy, float32)."""

    level_probs: list[np.ndarray]
    leaf_probs: np.ndarray
    embedding: np.ndarray
    cbam_maps: np.ndarray | None = None
    level_logits: list[np.ndarray] | None = None  # raw network outputs, before the temperature
    stage_stats: dict[int, np.ndarray] | None = None  # stride -> (N, 2C), when stages are watched


class Predictor:
    """Runs a loaded bundle on images.

    The network runs along the bundle's measured inference path (``inference`` in the manifest, written
    by ``fma-model optimize``; see :mod:`models.engine`) when it is usable on this machine; otherwise
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

    Attributes:
        engine: the :class:`models.engine.Engine` in use; ``engine.path`` names it.
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
    ) -> None:
        if not isinstance(bundle, LoadedBundle):
            bundle = load_bundle(bundle, device=device)
        self.bundle = bundle
        self.device = torch.device(device)
        self.model = bundle.model.to(self.device).eval()
        m = bundle.manifest
        self.input_size: tuple[int, int] = bundle.input_size
        default = "channels_last" if channels_last else "eager"
        selected = engine_from_manifest(self.model, m if inference else {}, bundle_path=bundle.path,
                                        input_size=self.input_size, device=self.device, default=default)
        self.engine = selected.engine
        self.engine_note = selected.note
        if selected.note:
            warnings.warn(f"{bundle.path}: {selected.note}", RuntimeWarning, stacklevel=2)
        if selected.threads and selected.threads != torch.get_num_threads():
            torch.set_num_threads(selected.threads)  # process-wide (heatmaps too): the measured best here
        self.channels_last = self.engine.channels_last
        self.taxonomy = bundle.taxonomy
        self.batch_size = max(1, int(batch_size or selected.batch_size or 16))
        self.decode_workers = max(1, int(decode_workers))
        self.transform = build_eval_transform(self.input_size, m["mean"], m["std"], m.get("interpolation", "bicubic"))
        self.temperature = float(m.get("temperature") or 1.0)
        self.is_flat = m["network"].get("head") == "flat"
        try:
            self.calibration: Calibration | None = Calibration.from_manifest(m)
        except RoutingError as exc:
            raise BundleError(f"{bundle.path}: invalid calibration in the manifest: {exc}") from exc
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
            cbam_np = _normalise_maps(cbam[:, 0].cpu().numpy())
        return BatchOutput(level_probs, leaf, raw.embedding.float().cpu().numpy(), cbam_np,
                           level_logits=[lv.cpu().numpy() for lv in raw_levels])

    def _make_prediction(self, file: str, out: BatchOutput, i: int, heatmap: np.ndarray | None,
                         heatmap_kind: str | None, extra: dict[str, Any] | None = None) -> Prediction:
        leaf_probs = out.leaf_probs[i]
        order = np.argsort(-leaf_probs, kind="stable")
        best = int(order[0])
        leaf = self.taxonomy.leaves[best]
        path = self._paths[best]
        margs = marginals(leaf_probs[None], self._leaf_level_index, self.taxonomy.level_sizes)
        idx = self._leaf_level_index[best]
        # Scores of the unpadded path: a padded leaf repeats at deeper levels.
        path_scores = tuple(float(margs[k][0, idx[k]]) for k in range(len(path)))
        top5 = tuple(
            RankedLeaf(self.taxonomy.leaves[j], self._paths[j], float(leaf_probs[j])) for j in order[:5]
        )
        return Prediction(
            file=file,
            leaf=leaf,
            path=path,
            path_scores=path_scores,
            confidence=float(leaf_probs[best]),
            level_probs=tuple(tuple(float(v) for v in lp[i]) for lp in out.level_probs),
            top5=top5,
            leaf_probs=leaf_probs.copy(),
            embedding=out.embedding[i].copy(),
            heatmap=heatmap,
            heatmap_kind=heatmap_kind,
            model_version=self.model_version,
            extra=extra or {},
        )

    # -- public ------------------------------------------------------------------------------
    def predict(self, images: Iterable[ImageSource], *, heatmaps: bool = False) -> list[Prediction]:
        """Predict every image; unreadable images give a Prediction with ``error`` set."""
        return list(self.iter_predict(images, heatmaps=heatmaps))

    def iter_predict(self, images: Iterable[ImageSource], *, heatmaps: bool = False,
                     first_batch: int | None = None) -> Iterator[Prediction]:
        """Like :meth:`predict`, yielding results batch by batch, in input order.

        Images are decoded and preprocessed on ``decode_workers`` threads while the model runs, at most
        about two batches ahead of it (so memory stays flat however many images there are). Closing the
        iterator early cancels the decoding not yet started.

        Args:
            images: paths or PIL images (consumed lazily).
            heatmaps: attach a heatmap to every prediction.
            first_batch: size of the first batch (smaller: the first results come sooner); the rest use
                ``batch_size``.
        """
        wants_key = self.calibration is not None and self.calibration.spot_check > 0

        def decode(item: tuple[str, ImageSource]) -> tuple[str, torch.Tensor | None, str | None, str | None]:
            name, src = item
            try:
                tensor = self.preprocess(src)
                return name, tensor, None, image_key(src) if wants_key else None
            except ImageLoadError as exc:
                return name, None, exc.reason, None
            except Exception as exc:  # a decoder bug must not stop the batch
                return name, None, f"cannot read image ({type(exc).__name__}: {exc})", None

        source = iter(enumerate(images))
        ahead = 2 * self.batch_size + self.decode_workers
        queued: deque[Future] = deque()
        with ThreadPoolExecutor(max_workers=self.decode_workers) as pool:

            def refill() -> None:
                while len(queued) < ahead:
                    nxt = next(source, None)
                    if nxt is None:
                        return
                    n, img = nxt
                    queued.append(pool.submit(decode, (_name_of(img, n), img)))

            try:
                refill()
                pending: list[tuple[str, torch.Tensor, str | None]] = []
                limit = max(1, int(first_batch or self.batch_size))
                while queued:
                    name, tensor, error, key = queued.popleft().result()
                    refill()
                    if error is not None:
                        yield from self._flush(pending, heatmaps)
                        pending = []
                        yield Prediction(file=name, error=error, model_version=self.model_version)
                        continue
                    pending.append((name, tensor, key))
                    if len(pending) >= limit:
                        yield from self._flush(pending, heatmaps)
                        pending = []
                        limit = self.batch_size
                yield from self._flush(pending, heatmaps)
            finally:
                for future in queued:  # closed early: drop the decoding not started yet
                    future.cancel()

    def _flush(self, pending: list[tuple[str, torch.Tensor, str | None]], heatmaps: bool) -> Iterator[Prediction]:
        if not pending:
            return
        batch = torch.stack([t for _, t, _ in pending])
        out = self.forward_batch(batch)
        extras = self.routing_fields(out, [key for _, _, key in pending])
        maps: np.ndarray | None = None
        kind: str | None = None
        if heatmaps:
            if out.cbam_maps is not None:
                maps, kind = out.cbam_maps, "cbam"
            else:
                targets = [int(np.argmax(out.leaf_probs[i])) for i in range(len(pending))]
                maps, kind = self._gradcam(batch, targets), "gradcam"
        for i, (name, _, _) in enumerate(pending):
            yield self._make_prediction(name, out, i, None if maps is None else maps[i], kind, extras[i])

    def routing_fields(self, out: BatchOutput, keys: Sequence[str | None]) -> list[dict[str, Any]]:
        """Per image of a batch: ``{route, reasons, unknown_score}`` (empty dicts when uncalibrated).

        Args:
            out: the batch's outputs from :meth:`forward_batch`.
            keys: each image's content key (:func:`models.routing.image_key`) for the spot-check draw.
        """
        if self.calibration is None:
            return [{} for _ in keys]
        routes, reasons, scores = route_batch(self.calibration, self.taxonomy.leaves, leaf_probs=out.leaf_probs,
                                              level_logits=out.level_logits, embeddings=out.embedding, keys=keys,
                                              stage_stats=out.stage_stats)
        return [
            {"route": r, "reasons": why, "unknown_score": None if scores is None else round(float(scores[i]), 6)}
            for i, (r, why) in enumerate(zip(routes, reasons, strict=True))
        ]

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

    def _gradcam(self, batch: torch.Tensor, leaf_targets: Sequence[int]) -> np.ndarray:
        from pytorch_grad_cam import LayerCAM

        x = batch.to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        layer, reshape, stride = self.model.heatmap_layer()
        maps = cam_maps(LayerCAM, _LevelLogits(self.model, level=-1), layer, x, leaf_targets,
                        reshape=reshape, smooth_px=stride, flips=HEATMAP_FLIPS)
        self.model.zero_grad(set_to_none=True)
        return maps


def cam_maps(method: type, model: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor, targets: Sequence[int],
             *, reshape: Any = None, smooth_px: int | None = None,
             flips: Sequence[tuple[int, ...]] = ((),)) -> np.ndarray:
    """Class-activation maps (B, H, W) in 0..1 from a ``grad-cam`` method, averaged over flipped views.

    Args:
        method: a ``pytorch_grad_cam`` class (LayerCAM, GradCAM, HiResCAM ...).
        model: returns the logits the ``targets`` index.
        layer: the target layer; ``reshape`` its reshape transform (token models).
        x: the input batch (B, C, H, W).
        targets: one class index per image.
        smooth_px: Gaussian sigma in input pixels applied to each view's map (None = none).
        flips: tensor dims flipped per view; ``((),)`` is the image alone.
    """
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    outputs = [ClassifierOutputTarget(int(t)) for t in targets]
    total = np.zeros((x.shape[0], x.shape[-2], x.shape[-1]), dtype=np.float32)
    with method(model=model, target_layers=[layer], reshape_transform=reshape) as cam:
        for dims in flips:  # average over flipped views: the noise differs, the defect does not
            view = torch.flip(x, dims) if dims else x
            maps = torch.from_numpy(np.asarray(cam(input_tensor=view, targets=outputs), dtype=np.float32))
            if dims:
                maps = torch.flip(maps, [d - 1 for d in dims])  # (B, C, H, W) flips -> (B, H, W) flips
            if smooth_px:  # a fine map is speckled: smooth it over about one feature cell
                size = 6 * smooth_px + 1
                maps = TF.gaussian_blur(maps[:, None], [size, size], [float(smooth_px)] * 2)[:, 0]
            total += _normalise_maps(maps.numpy())
    return _normalise_maps(total)


def _normalise_maps(maps: np.ndarray) -> np.ndarray:
    maps = maps.astype(np.float32)
    lo = maps.reshape(maps.shape[0], -1).min(axis=1)[:, None, None]
    hi = maps.reshape(maps.shape[0], -1).max(axis=1)[:, None, None]
    return np.where(hi - lo > 1e-8, (maps - lo) / np.maximum(hi - lo, 1e-8), 0.0).astype(np.float32)


def _name_of(img: ImageSource, n: int) -> str:
    if isinstance(img, Image.Image):
        return str(getattr(img, "filename", "") or f"<image {n}>")
    return str(img)


def overlay_heatmap(image: Image.Image, heatmap: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """Blend a 0..1 heatmap (any size) over an RGB image with a blue→red colour ramp."""
    rgb = image.convert("RGB")
    hm = Image.fromarray((np.clip(heatmap, 0, 1) * 255).astype(np.uint8), mode="L").resize(rgb.size, Image.BILINEAR)
    h = np.asarray(hm, dtype=np.float32) / 255.0
    colour = jet(h)
    base = np.asarray(rgb, dtype=np.float32) / 255.0
    out = (1 - alpha) * base + alpha * colour
    return Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8), mode="RGB")
