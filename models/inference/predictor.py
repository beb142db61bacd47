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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from models.bundle.io import BundleError, LoadedBundle, load_bundle
from models.data.transforms import build_eval_transform
from models.imageio import decode_or_reason, load_image
from models.inference.arrays import FLIP_DIMS
from models.inference.core import Batch, Decoded, ImageSource, PredictorCore, RouteDecision
from models.inference.engine import HOOKED_PATHS, RawOutput, TorchEngine, engine_from_manifest
from models.inference.heatmaps import HEATMAP_FLIPS, LevelLogits, layercam, normalise_maps
from models.inference.outputs import BatchOutput

__all__ = ["Batch", "Decoded", "ImageSource", "Predictor", "RouteDecision"]


class Predictor(PredictorCore):
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
        spectra: use the bundle's spectrum head (False: images alone, the head not even read: what training a new
            head and calibrating need).

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
        spectra: bool = True,
    ) -> None:
        if not isinstance(bundle, LoadedBundle):
            bundle = load_bundle(bundle, device=device)
        self.bundle = bundle
        self.device = torch.device(device)
        self.model = bundle.model.to(self.device).eval()
        m = self.manifest = bundle.manifest
        self._setup(m, bundle.model_version, batch_size=16, decode_workers=decode_workers)
        default = "channels_last" if channels_last else "eager"
        watched = tuple(self.calibration.unknown.needs_stage_stats) \
            if self.calibration is not None and self.calibration.unknown is not None else ()
        selected = engine_from_manifest(self.model, m.inference if inference else None, bundle_path=bundle.path,
                                        weights_sha256=m.weights.sha256 if m.weights else None,
                                        temperature=m.effective_temperature, input_size=self.input_size,
                                        device=self.device, default=default, max_threads=max_threads,
                                        stage_strides=watched)
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
        self.batch_size = max(1, int(batch_size or selected.batch_size or 16))
        self.transform = build_eval_transform(self.input_size, m.mean, m.std, m.interpolation)
        self._watched: tuple[int, ...] = ()
        self.watch_stages(watched)
        if spectra:
            self._use_spectrum_head(bundle.path)

    @property
    def engine_path(self) -> str:
        """The inference path in use (:attr:`engine`'s)."""
        return self.engine.path

    # -- stage statistics (the "stages" unknown score) ----------------------------------------
    def watch_stages(self, strides: Sequence[int]) -> None:
        """Also return the channel statistics of these backbone stages from :meth:`forward_batch`.

        The engine gives them as outputs of the same forward pass (:class:`models.inference.flat.FlatOutputs`).
        An engine built without them is rebuilt with them: at once for the eager torch paths
        (:data:`~models.inference.engine.HOOKED_PATHS`); a stored compiled, quantised or ONNX path that cannot give
        them (an ONNX graph stored before stage outputs were exported) falls back to the torch path, with a note in
        :attr:`engine_note`.

        Raises:
            BundleError: the backbone has no stage of one of these strides.
        """
        wanted = tuple(dict.fromkeys([*self._watched, *(int(s) for s in strides)]))
        for stride in wanted:  # every stride is checked before the engine changes
            if self.model.feature_format != "nchw" or self.model.stage_at_stride(stride) is None:
                raise BundleError(f"{self.bundle.path}: the backbone has no stage of stride {stride} "
                                  "for the 'stages' unknown score")
        if set(wanted) <= set(self.engine.stage_strides):
            self._watched = wanted
            return
        path = self.engine.path if self.engine.path in HOOKED_PATHS else \
            ("channels_last" if self.engine.channels_last else "eager")
        if path != self.engine.path:
            self.engine_note = (f"the 'stages' unknown score reads the backbone's stages, which the stored "
                                f"{self.engine.path} path does not give; using {path}")
        self._replace_engine(TorchEngine(self.model, path, stage_strides=wanted))
        self._watched = wanted

    def unwatch_stages(self) -> None:
        """Stop returning stage statistics; an eager torch engine is rebuilt without the stages' hooks on the
        (shared) network."""
        self._watched = ()
        if isinstance(self.engine, TorchEngine) and self.engine.stage_strides and self.engine.path in HOOKED_PATHS:
            self._replace_engine(TorchEngine(self.model, self.engine.path))

    def can_watch(self, strides: Sequence[int]) -> bool:
        """Whether watching these stages keeps the engine in use (it gives them, or is an eager torch path)."""
        return set(strides) <= set(self.engine.stage_strides) or self.engine.path in HOOKED_PATHS

    def _replace_engine(self, engine: TorchEngine) -> None:
        self.engine.close()
        self.engine = engine
        self.channels_last = engine.channels_last

    # -- low level ---------------------------------------------------------------------------
    def preprocess(self, image: ImageSource) -> torch.Tensor:
        """Decode (if needed) and preprocess one image to a (3, H, W) tensor."""
        return self.transform(load_image(image))

    @torch.inference_mode()
    def forward_batch(self, batch: torch.Tensor) -> BatchOutput:
        """Run preprocessed images (N, 3, H, W) through the network (along :attr:`engine`)."""
        out = self.postprocess(self.engine(batch.to(self.device)))
        out.stage_stats = {s: out.stage_stats[s] for s in self._watched} if self._watched else None
        return out

    def postprocess(self, raw: RawOutput) -> BatchOutput:
        """Temperature, softmax per level and the combined leaf distribution of raw network outputs (with the stage
        statistics the engine gave)."""
        raw_levels = [lv.float().cpu().numpy() for lv in raw.levels]
        level_probs, leaf = self.probabilities(raw_levels)
        cbam_np = None
        if raw.cbam_map is not None:
            cbam = F.interpolate(raw.cbam_map.float(), size=self.input_size, mode="bilinear", align_corners=False)
            cbam_np = normalise_maps(cbam[:, 0].cpu().numpy())
        stats = {s: v.detach().float().cpu().numpy() for s, v in raw.stages.items()} or None
        return BatchOutput(level_probs, leaf, raw.embedding.float().cpu().numpy(), cbam_np, level_logits=raw_levels,
                           stage_stats=stats)

    def _stack(self, arrays: list[Any]) -> torch.Tensor:
        return torch.stack(arrays)

    @torch.inference_mode()
    def _view_logits(self, batch: torch.Tensor) -> list[np.ndarray]:
        return [lv.float().cpu().numpy() for lv in self.engine(batch.to(self.device)).levels]

    def _flip(self, batch: torch.Tensor, view: str) -> torch.Tensor:
        return batch.flip(FLIP_DIMS[view])

    def _default_maps(self, batch: Batch) -> tuple[np.ndarray, str]:
        targets = [int(np.argmax(p)) for p in batch.out.leaf_probs]
        return self._gradcam(batch.x, targets), "gradcam"

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
        x = batch.to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        layer, reshape, stride = self.model.heatmap_layer()
        maps = layercam(LevelLogits(self.model, level=-1), layer, x, leaf_targets,
                        reshape=reshape, smooth_px=stride, flips=HEATMAP_FLIPS)
        self.model.zero_grad(set_to_none=True)
        return maps


