"""Fitting the unknown-defect detectors from model outputs (see :mod:`models.calibration.calibrate`, step 3)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from models.calibration.errors import CalibrationError
from models.routing.unknown import (
    UNKNOWN_METHODS,
    UnknownDetector,
    energy_score,
    nearest_mahalanobis,
    reference_quantiles,
)

if TYPE_CHECKING:
    from models.inference.predictor import Predictor

DEFAULT_UNKNOWN_METHOD = "cosine"
Log = Callable[[str], None]


def fit_embedding_detectors(embeddings: np.ndarray, targets: np.ndarray, leaves: Sequence[str], *,
                            temperature: float = 1.0, flat: bool = False) -> dict[str, UnknownDetector]:
    """Cosine and (diagonal, shared-covariance) Mahalanobis detectors from labelled embeddings."""
    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(targets, dtype=np.int64)
    classes, means, variance = class_means_and_variance(x, y)
    center = x.mean(axis=0)
    unit = x - center
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    directions = np.stack([unit[y == c].mean(axis=0) for c in classes])
    directions = directions / np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
    names = tuple(leaves[c] for c in classes)
    common = {"temperature": temperature, "flat": flat, "classes": names}
    return {
        "cosine": UnknownDetector("cosine", centroids=directions, center=center, **common),
        "mahalanobis": UnknownDetector("mahalanobis", centroids=means, variance=variance, **common),
    }


def class_means_and_variance(x: np.ndarray, y: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Classes present, their means (C, D), and the pooled within-class diagonal variance (D,)."""
    if len(x) < 2:
        raise CalibrationError("too few readable training images to fit class centroids for the unknown score")
    classes = sorted(set(y.tolist()))
    means = np.stack([x[y == c].mean(axis=0) for c in classes])
    resid = x - means[np.searchsorted(classes, y)]
    dof = max(1, len(x) - len(classes))
    variance = (resid**2).sum(axis=0) / dof
    return classes, means, np.maximum(variance, 1e-6 * float(variance.mean()) + 1e-12)


def fit_stage_detector(train_stats: dict[int, np.ndarray], targets: np.ndarray, leaves: Sequence[str], *,
                       known_logits: Sequence[np.ndarray], known_stats: dict[int, np.ndarray],
                       temperature: float = 1.0, flat: bool = False) -> UnknownDetector:
    """The ``stages`` ensemble (see :mod:`models.routing.policy`): class means of every stage's statistics from
    labelled training images, and each member's reference quantiles from the known calibration images."""
    y = np.asarray(targets, dtype=np.int64)
    strides = tuple(sorted(train_stats))
    fitted = [class_means_and_variance(np.asarray(train_stats[s], dtype=np.float64), y) for s in strides]
    members = [energy_score(known_logits, temperature, flat=flat)]
    members += [nearest_mahalanobis(known_stats[s], means, var) for s, (_, means, var) in zip(strides, fitted, strict=True)]
    return UnknownDetector(
        "stages", temperature=temperature, flat=flat, classes=tuple(leaves[c] for c in fitted[0][0]),
        stage_strides=strides, stage_means=tuple(f[1] for f in fitted), stage_variances=tuple(f[2] for f in fitted),
        references=tuple(reference_quantiles(m) for m in members),
    )


def stage_candidate_strides(predictor: Predictor, unknown_method: str, log: Log) -> tuple[int, ...]:
    """The strides for the ``stages`` candidate, or () when it is not tried.

    Raises:
        CalibrationError: ``stages`` was asked for and the backbone has no stages (token models).
    """
    strides = predictor.model.stage_strides()
    if unknown_method == "stages" and not strides:
        raise CalibrationError("unknown method 'stages' needs a CNN backbone with stages of stride 4-32; "
                               f"{predictor.manifest.network.backbone!r} has none")
    if unknown_method not in ("auto", "stages"):
        return ()
    if unknown_method == "auto" and strides and not predictor.can_watch(strides):
        log(f"'stages' candidate skipped: the bundle's stored {predictor.engine.path} inference path does not give "
            "the backbone's stages (run `fma-model optimize` again, or pass --unknown-method stages to use it; the "
            "bundle then runs on the torch path)")
        return ()
    return strides


def unknown_threshold(known_scores: np.ndarray, fpr: float) -> float:
    """The smallest threshold that flags (score > threshold) at most ``fpr`` of the known images."""
    s = np.sort(np.asarray(known_scores, dtype=np.float64))
    if len(s) == 0:
        raise CalibrationError("no known images to calibrate the unknown threshold on")
    allowed = math.floor(fpr * len(s) + 1e-9)
    return float(s[len(s) - 1 - min(allowed, len(s) - 1)])


def choose_unknown_method(scores: dict[str, np.ndarray], unknown_mask: np.ndarray) -> tuple[str, dict[str, float]]:
    """The method with the best AUROC (ties: earlier in :data:`UNKNOWN_METHODS`), and every AUROC."""
    from models.evaluation.metrics import auroc

    aurocs = {m: auroc(s, unknown_mask) for m, s in scores.items()}
    best = None
    for m in UNKNOWN_METHODS:
        if m in aurocs and math.isfinite(aurocs[m]) and (best is None or aurocs[m] > aurocs[best]):
            best = m
    if best is None:
        raise CalibrationError("the AUROC needs both known and unknown images")
    return best, aurocs
