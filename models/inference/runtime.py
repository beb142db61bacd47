"""The workstation runtime: a bundle's exported graphs on ONNX Runtime and numpy, without torch.

:class:`RuntimePredictor` is the :class:`models.inference.predictor.Predictor` of an analyst's workstation: the same
records (:class:`models.inference.records.Prediction`), routing, unknown scores, embeddings and heatmaps, from the
graphs ``fma-model export-runtime`` wrote into the bundle (:mod:`models.inference.runtime_export`,
:class:`models.bundle.manifest.RuntimeRecord`). Nothing here imports torch, timm or grad-cam; the app's prediction
path is tested with torch made unimportable (``tests/test_runtime.py``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.bundle.files import read_bundle_manifest
from models.bundle.manifest import BundleError, BundleManifest, RuntimeGraph
from models.hashing import sha256_hex
from models.imageio import decode_or_reason, load_image
from models.inference.arrays import (
    FLIP_DIMS,
    HEATMAP_FLIPS,
    layercam_maps,
    normalise_maps,
    preprocess,
    resize_bilinear,
)
from models.inference.core import Batch, ImageSource, PredictorCore
from models.inference.outputs import BatchOutput
from models.inference.records import RUNTIME_ENGINE as ENGINE_PATH


def runtime_reason(manifest: BundleManifest, path: Path) -> str | None:
    """Why the bundle at ``path`` cannot run on the workstation runtime, or None when it can."""
    record = manifest.runtime
    if record is None:
        return "it has no workstation runtime graphs (run `fma-model export-runtime` on it)"
    if manifest.weights is None or record.weights_sha256 != manifest.weights.sha256:
        return "its runtime graphs were exported from other weights (run `fma-model export-runtime` again)"
    if not (path / record.predict.file).is_file():
        return f"its runtime graph {record.predict.file} is missing"
    return None


def _threads(max_threads: int | None) -> int:
    return max(1, min(os.cpu_count() or 1, int(max_threads))) if max_threads else (os.cpu_count() or 1)


class RuntimePredictor(PredictorCore):
    """Runs a bundle's runtime graphs (see the module doc).

    Args:
        bundle: the bundle folder.
        manifest: its manifest, when the caller has read it already (or, in the export, not written it yet).
        batch_size: images per forward pass.
        decode_workers: threads that decode and preprocess images ahead of the model.
        max_threads: ONNX Runtime compute threads at most (None = one per core).

    Raises:
        BundleError: the bundle has no usable runtime graphs, one fails its sha256, or ONNX Runtime cannot load it.
    """

    def __init__(self, bundle: str | Path, *, manifest: BundleManifest | None = None, batch_size: int = 16,
                 decode_workers: int = 2, max_threads: int | None = None) -> None:
        path = Path(bundle)
        manifest = manifest if manifest is not None else read_bundle_manifest(path)  # a caller that read it passes it
        reason = runtime_reason(manifest, path)
        if reason:
            raise BundleError(f"{path}: {reason}")
        record = manifest.runtime
        assert record is not None  # runtime_reason said so
        self.path = path
        self.record = record
        self._setup(manifest, manifest.model_version, batch_size=batch_size, decode_workers=decode_workers)
        self.threads = _threads(max_threads)
        self._predict = self._session(record.predict)
        self._heatmap_session: Any = None  # made by the first heatmap: not on the way to the first prediction
        self.engine_path = ENGINE_PATH
        self.engine_note: str | None = None if record.heatmap is not None else (
            "this bundle's runtime has no heatmap graph: " + str(record.parity.get("heatmap_error", "not exported")))
        self._names = [o.name for o in self._predict.get_outputs()]
        self._levels = len(self.taxonomy.level_sizes)
        self._use_spectrum_head(path)

    def _session(self, graph: RuntimeGraph) -> Any:
        import onnxruntime as ort

        file = self.path / graph.file
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise BundleError(f"{self.path}: cannot read {graph.file}: {exc.strerror or exc}") from exc
        if sha256_hex(data) != graph.sha256:
            raise BundleError(f"{self.path}: {graph.file} does not match the sha256 in manifest.json "
                              "(damaged or replaced; export the runtime again)")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BundleError(f"{self.path}: ONNX Runtime cannot load {graph.file}: {exc}") from exc

    # -- PredictorCore -------------------------------------------------------------------------
    def preprocess(self, image: ImageSource) -> np.ndarray:
        m = self.manifest
        return preprocess(load_image(image), self.input_size, m.mean, m.std, m.interpolation)

    def _stack(self, arrays: list[Any]) -> np.ndarray:
        return np.stack(arrays).astype(np.float32, copy=False)

    def _run_graph(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """The predict graph's outputs by name for preprocessed images (N, 3, H, W)."""
        return dict(zip(self._names, self._predict.run(None, {"input": np.ascontiguousarray(batch, np.float32)}),
                        strict=True))

    def _view_logits(self, batch: np.ndarray) -> list[np.ndarray]:
        outs = self._run_graph(batch)
        return [outs[f"level{k}"] for k in range(self._levels)]

    def _flip(self, batch: np.ndarray, view: str) -> np.ndarray:
        return np.ascontiguousarray(np.flip(batch, axis=FLIP_DIMS[view]))

    def forward_batch(self, batch: np.ndarray) -> BatchOutput:
        """Run preprocessed images (N, 3, H, W) float32 through the predict graph."""
        outs = self._run_graph(batch)
        raw_levels = [outs[f"level{k}"] for k in range(self._levels)]
        level_probs, leaf = self.probabilities(raw_levels)
        cbam = outs.get("cbam_map")
        cbam_maps = None if cbam is None else normalise_maps(resize_bilinear(cbam[:, 0], self.input_size))
        stats = {s: outs[f"stage{s}"] for s in self.record.stage_strides} or None
        return BatchOutput(level_probs, leaf, outs["embedding"], cbam_maps, level_logits=raw_levels, stage_stats=stats)

    def _default_maps(self, batch: Batch) -> tuple[np.ndarray, str]:
        targets = [int(np.argmax(p)) for p in batch.out.leaf_probs]
        return np.stack([self.layercam(x, t) for x, t in zip(batch.x, targets, strict=True)]), "gradcam"

    # -- heatmaps ------------------------------------------------------------------------------
    def layercam(self, x: np.ndarray, leaf_index: int) -> np.ndarray:
        """Flip-averaged LayerCAM (H, W in 0..1) of one preprocessed image (3, H, W) for one leaf, from the
        heatmap graph; the same map as the torch path's (``tests/test_runtime.py``).

        Raises:
            BundleError: the bundle's runtime has no heatmap graph.
        """
        if self.record.heatmap is None:
            raise BundleError(f"{self.path}: {self.engine_note}")
        if self._heatmap_session is None:
            self._heatmap_session = self._session(self.record.heatmap)
        views = np.stack([np.flip(x, axis=tuple(d - 1 for d in dims)) if dims else x for dims in HEATMAP_FLIPS])
        feeds = {"x": np.ascontiguousarray(views, np.float32),
                 "target": np.full(len(HEATMAP_FLIPS), int(leaf_index), dtype=np.int64)}
        inputs = [i.name for i in self._heatmap_session.get_inputs()]
        (raw,) = self._heatmap_session.run(None, dict(zip(inputs, feeds.values(), strict=True)))
        return layercam_maps(raw[:, 0], self.input_size, HEATMAP_FLIPS, self.record.heatmap_stride)

    def heatmap(self, image: ImageSource, *, leaf: str | None = None) -> tuple[np.ndarray, str]:
        """Heatmap for one image (H, W in 0..1 at the input resolution), and its kind (as ``Predictor.heatmap``:
        CBAM attention does not depend on the leaf, so a network with CBAM gives it whatever ``leaf`` is named; the
        app names the fused leaf of an image with a spectrum)."""
        x = self.preprocess(image)
        out = self.forward_batch(x[None])
        if out.cbam_maps is not None:
            return out.cbam_maps[0], "cbam"
        target = self.taxonomy.leaves.index(leaf) if leaf else int(np.argmax(out.leaf_probs[0]))
        return self.layercam(x, target), "gradcam"

    def explain(self, image: ImageSource, leaf: str) -> np.ndarray:
        """"Why this type?": the LayerCAM of ``leaf`` for one image (as ``Predictor.explain``).

        Raises:
            KeyError: ``leaf`` is not a leaf of the bundle's taxonomy.
        """
        if leaf not in self.taxonomy.leaves:
            raise KeyError(f"{leaf!r} is not a leaf of the model's taxonomy")
        return self.layercam(self.preprocess(image), self.taxonomy.leaves.index(leaf))

    def heatmaps(self, images: Sequence[ImageSource]) -> list[tuple[np.ndarray, str] | str]:
        """Heatmaps of several images, each explaining its predicted leaf; an unreadable image gives its reason."""
        results: list[tuple[np.ndarray, str] | str] = []
        for image in images:
            result, reason = decode_or_reason(self.heatmap, image)
            results.append(result if result is not None else reason or "")
        return results
