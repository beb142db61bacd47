"""The one record a prediction leaves the model as: :class:`Prediction` (numpy only, no torch).

Everything downstream (``predict --json``, evaluation, the app's predicting service, which turns it into
the store's ``PredictionRecord`` exactly once) reads these typed fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from models.taxonomy import Taxonomy

__all__ = ["RUNTIME_ENGINE", "Prediction", "RankedLeaf"]

RUNTIME_ENGINE = "onnx-runtime"
"""The engine path of the torch-free workstation runtime (:mod:`models.inference.runtime`)."""


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
        route: with a calibrated bundle, "auto" or "rejudge"; None otherwise.
        reasons: why it was routed so (codes of :data:`models.routing.policy.REASONS`).
        unknown_score: the calibration's unknown-defect score, when it has one.
        determined_node: with a calibrated bundle, the deepest node of ``path`` whose confidence meets its
            purity threshold (:meth:`models.routing.policy.Calibration.determined`); None when none does.
        determined_level: its index in ``path`` (0 = group), or None.
        spectra: the FTIR spectra fused into this prediction (0: the image alone).
        labels: every leaf the image shows, best first: a multi-label bundle's predicted set (the leaves whose
            presence score reaches :data:`models.inference.outputs.PRESENT`, at least ``leaf``); ``(leaf,)`` for a
            single-label bundle. ``label_scores``: their scores (presence, or the confidence).
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
    route: str | None = None
    reasons: tuple[str, ...] = ()
    unknown_score: float | None = None
    determined_node: str | None = None
    determined_level: int | None = None
    spectra: int = 0
    labels: tuple[str, ...] = ()
    label_scores: tuple[float, ...] = ()

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
            "route": self.route,
            "reasons": list(self.reasons),
            "unknown_score": self.unknown_score,
            "determined_node": self.determined_node,
            "determined_level": self.determined_level,
            "spectra": self.spectra,
            "labels": list(self.labels),
            "label_scores": [round(float(s), 6) for s in self.label_scores],
            "model_version": self.model_version,
            "error": self.error,
        }
