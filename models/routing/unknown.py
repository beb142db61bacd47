"""The unknown-defect scores and their detector (numpy only).

Unknown-defect scores (higher = more likely outside the taxonomy):

* ``max_softmax``: ``1 - max_leaf p`` of the temperature-scaled, combined leaf distribution.
* ``energy``: ``-T * logsumexp(z / T)`` (Liu et al. 2020). For the independent/shared heads the
  energies of all levels are summed: each level is its own softmax classifier, and a new defect
  type tends to be unfamiliar at every level, so the sum pools the evidence. The flat head only has
  real logits at the leaf level (its ancestor levels are log-probabilities, whose logsumexp is 0).
* ``cosine``: ``1 - max_c cos(x - m, c_c)`` between the embedding, centred on the training mean
  ``m``, and the per-class mean directions ``c_c`` of the centred, normalised training embeddings.
* ``mahalanobis``: ``min_c mean_d (x_d - mu_cd)^2 / var_d``, class means with one shared
  *diagonal* covariance (a full D x D covariance would not fit in a JSON manifest).
* ``stages``: an ensemble of the energy and, for each backbone stage of stride 4, 8, 16 and 32, the
  ``mahalanobis`` distance of that stage's channel means and standard deviations (the image's
  "texture statistics"; :func:`models.nn.network.stage_statistics`). Each member's score becomes its
  percentile among the known calibration images (``references``: 1001 quantiles per member; above the
  largest it grows past 1, :func:`percentile_of`), and the ensemble score is the largest percentile. Early stages see colour, thickness and texture, which the
  classifier's last features may have learnt to ignore: a dark, thick hair loop passes as a fibre on
  every last-layer score but not on the stride-16 statistics (``python -m bench.unknown_detectors``).

The detector is fitted by :mod:`models.calibration.fitting` and stored in the manifest's ``unknown`` key.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class RoutingError(ValueError):
    """The calibration data of a bundle is malformed; the message says which key."""


UNKNOWN_METHODS: tuple[str, ...] = ("max_softmax", "energy", "cosine", "mahalanobis", "stages")
EMBEDDING_METHODS: frozenset[str] = frozenset({"cosine", "mahalanobis"})
_FLOAT_MAX = sys.float_info.max


def _logsumexp(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(axis=1, keepdims=True)))[:, 0]


def energy_score(level_logits: Sequence[np.ndarray], temperature: float, *, flat: bool) -> np.ndarray:
    """``-T logsumexp(z/T)``, summed over levels (leaf level only for the flat head); (N,)."""
    levels = [np.asarray(level_logits[-1], dtype=np.float64)] if flat else [
        np.asarray(z, dtype=np.float64) for z in level_logits
    ]
    t = float(temperature)
    return np.sum([-t * _logsumexp(z / t) for z in levels], axis=0)


def nearest_mahalanobis(x: np.ndarray, means: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """``min_c mean_d (x_d - mu_cd)^2 / var_d`` per row, without building an (N, C, D) array."""
    x = np.asarray(x, dtype=np.float64)
    inv_var = 1.0 / variance
    d2 = (x**2 @ inv_var)[:, None] - 2.0 * (x * inv_var) @ means.T + (means**2 @ inv_var)[None]
    return np.maximum(d2.min(axis=1), 0.0) / x.shape[1]


REFERENCE_QUANTILES = 1001


def reference_quantiles(scores: np.ndarray) -> np.ndarray:
    """The :data:`REFERENCE_QUANTILES` quantiles of reference scores (what :func:`percentile_of` reads)."""
    return np.quantile(np.asarray(scores, dtype=np.float64), np.linspace(0.0, 1.0, REFERENCE_QUANTILES))


def percentile_of(reference: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Where scores fall among the reference quantiles: 0..1 inside them (linear between quantiles), 0 below.

    Above the largest reference the value keeps growing past 1, at the slope of the top tenth of the
    references (``1 + 0.1 * (x - max) / (max - q90)``): an image stranger than every known one must
    outscore the known images that hold a member's maximum, or a threshold of exactly 1 could never flag.
    """
    reference = np.asarray(reference, dtype=np.float64)
    x = np.asarray(scores, dtype=np.float64)
    inside = np.interp(x, reference, np.linspace(0.0, 1.0, len(reference)))
    top = reference[-1]
    span = top - reference[int(0.9 * (len(reference) - 1))]
    if not span > 0:
        span = max(abs(top), 1.0) * 1e-6
    return np.where(x > top, 1.0 + 0.1 * (x - top) / span, inside)


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


@dataclass(frozen=True)
class UnknownDetector:
    """One unknown-defect score with its threshold (see the module docstring).

    Attributes:
        method: one of :data:`UNKNOWN_METHODS`.
        threshold: scores strictly above it are "possible_unknown"; None = never flag.
        temperature: the bundle's temperature (max_softmax/energy).
        flat: the bundle has a flat head (energy uses only the leaf logits).
        classes: leaf ids that have a centroid (embedding methods).
        centroids: (C, D) unit class directions (cosine) or class means (mahalanobis).
        center: (D,) training mean the cosine method centres on.
        variance: (D,) shared diagonal variance (mahalanobis).
        stage_strides: backbone strides of the ``stages`` members (after the energy).
        stage_means: per stride, (C, D_s) class means of the stage statistics.
        stage_variances: per stride, (D_s,) shared diagonal variance.
        references: per member (energy first, then each stride), the 1001 quantiles of its scores on known
            calibration images, which map a score to its percentile.
    """

    method: str
    threshold: float | None = None
    temperature: float = 1.0
    flat: bool = False
    classes: tuple[str, ...] = ()
    centroids: np.ndarray | None = None
    center: np.ndarray | None = None
    variance: np.ndarray | None = None
    stage_strides: tuple[int, ...] = ()
    stage_means: tuple[np.ndarray, ...] = ()
    stage_variances: tuple[np.ndarray, ...] = ()
    references: tuple[np.ndarray, ...] = ()

    def __post_init__(self) -> None:
        if self.method not in UNKNOWN_METHODS:
            raise RoutingError(f"unknown-score method {self.method!r:.60}; expected one of "
                               f"{', '.join(UNKNOWN_METHODS)}")
        arrays = [a for a in (self.centroids, self.center, self.variance, *self.stage_means, *self.stage_variances,
                              *self.references) if a is not None]
        if not all(np.isfinite(a).all() for a in arrays):
            raise RoutingError("the unknown score's statistics hold a NaN or an infinite number")
        if not all((v > 0).all() for v in (self.variance, *self.stage_variances) if v is not None):
            raise RoutingError("the unknown score's variances must be positive")
        if self.method in EMBEDDING_METHODS:
            if self.centroids is None or self.centroids.ndim != 2 or len(self.centroids) == 0:
                raise RoutingError(f"unknown-score method {self.method!r} needs class centroids")
            if len(self.classes) != len(self.centroids):
                raise RoutingError("unknown.classes and unknown.centroids have different lengths")
            need = self.center if self.method == "cosine" else self.variance
            if need is None or need.shape != (self.centroids.shape[1],):
                what = "center" if self.method == "cosine" else "variance"
                raise RoutingError(f"unknown.{what} must hold {self.centroids.shape[1]} numbers")
        if self.method == "stages":
            n = len(self.stage_strides)
            if n == 0 or len(self.stage_means) != n or len(self.stage_variances) != n:
                raise RoutingError("the 'stages' unknown score needs means and a variance for every stage")
            if len(self.references) != n + 1 or any(r.ndim != 1 or len(r) < 2 for r in self.references):
                raise RoutingError(f"the 'stages' unknown score needs {n + 1} reference quantile lists")
            for stride, means, var in zip(self.stage_strides, self.stage_means, self.stage_variances, strict=True):
                if means.ndim != 2 or len(means) != len(self.classes) or var.shape != (means.shape[1],):
                    raise RoutingError(f"unknown.stages: the stride-{stride} means or variance have the wrong shape")

    @property
    def needs_stage_stats(self) -> tuple[int, ...]:
        """The strides whose stage statistics :meth:`score` needs (empty for the other methods)."""
        return self.stage_strides if self.method == "stages" else ()
    def score(
        self,
        *,
        leaf_probs: np.ndarray | None = None,
        level_logits: Sequence[np.ndarray] | None = None,
        embeddings: np.ndarray | None = None,
        stage_stats: Mapping[int, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Unknown scores (N,), higher = more likely a defect type outside the taxonomy.

        Args:
            leaf_probs: (N, num_leaves) temperature-scaled leaf distribution (max_softmax).
            level_logits: raw (unscaled) logits per level (energy, stages).
            embeddings: (N, D) pooled embeddings (cosine, mahalanobis).
            stage_stats: stride -> (N, D_s) stage statistics (stages).
        """
        if self.method == "stages":
            return np.max(self.member_percentiles(level_logits=level_logits, stage_stats=stage_stats), axis=0)
        if self.method == "max_softmax":
            return 1.0 - np.asarray(_need(leaf_probs, "leaf_probs", self.method), dtype=np.float64).max(axis=1)
        if self.method == "energy":
            return energy_score(_need(level_logits, "level_logits", self.method), self.temperature, flat=self.flat)
        x = np.asarray(_need(embeddings, "embeddings", self.method), dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.centroids.shape[1]:
            raise RoutingError(
                f"embeddings of width {x.shape[-1]} do not match the calibration's {self.centroids.shape[1]}"
            )
        if self.method == "cosine":
            return 1.0 - (_normalise_rows(x - self.center) @ self.centroids.T).max(axis=1)
        return nearest_mahalanobis(x, self.centroids, self.variance)

    def member_scores(
        self, *, level_logits: Sequence[np.ndarray] | None, stage_stats: Mapping[int, np.ndarray] | None
    ) -> list[np.ndarray]:
        """The raw scores of the ``stages`` members: energy, then each stride's Mahalanobis distance."""
        stats = _need(stage_stats, "stage_stats", self.method)
        scores = [energy_score(_need(level_logits, "level_logits", self.method), self.temperature, flat=self.flat)]
        for stride, means, var in zip(self.stage_strides, self.stage_means, self.stage_variances, strict=True):
            if stride not in stats:
                raise RoutingError(f"the 'stages' unknown score needs the statistics of the stride-{stride} stage")
            x = np.asarray(stats[stride], dtype=np.float64)
            if x.ndim != 2 or x.shape[1] != means.shape[1]:
                raise RoutingError(f"stride-{stride} statistics of width {x.shape[-1]} do not match the "
                                   f"calibration's {means.shape[1]}")
            scores.append(nearest_mahalanobis(x, means, var))
        return scores

    def member_percentiles(
        self, *, level_logits: Sequence[np.ndarray] | None, stage_stats: Mapping[int, np.ndarray] | None
    ) -> np.ndarray:
        """(members, N): each member's score as its percentile (0..1) among the known calibration images."""
        members = self.member_scores(level_logits=level_logits, stage_stats=stage_stats)
        return np.stack([percentile_of(ref, m) for ref, m in zip(self.references, members, strict=True)])

    def flags(self, scores: np.ndarray) -> np.ndarray:
        """True where a score is above the threshold."""
        scores = np.asarray(scores, dtype=np.float64)
        if self.threshold is None:
            return np.zeros(scores.shape, dtype=bool)
        return scores > self.threshold

    def to_manifest(self) -> dict[str, Any]:
        """JSON form for ``manifest["unknown"]`` (7 significant digits per number)."""
        out: dict[str, Any] = {"method": self.method, "threshold": self.threshold}
        if self.method in EMBEDDING_METHODS:
            out["classes"] = list(self.classes)
            out["centroids"] = [_floats(row) for row in self.centroids]
            if self.method == "cosine":
                out["center"] = _floats(self.center)
            else:
                out["variance"] = _floats(self.variance)
        if self.method == "stages":
            out["classes"] = list(self.classes)
            out["members"] = ["energy", *(f"stride {s}" for s in self.stage_strides)]
            out["stages"] = [{"stride": int(s), "means": [_floats(row) for row in m], "variance": _floats(v)}
                             for s, m, v in zip(self.stage_strides, self.stage_means, self.stage_variances, strict=True)]
            out["references"] = [_floats(r) for r in self.references]
        return out

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any], *, temperature: float, flat: bool) -> UnknownDetector:
        """Rebuild from ``manifest["unknown"]``; :class:`RoutingError` when malformed."""
        if not isinstance(data, Mapping) or "method" not in data:
            raise RoutingError("manifest 'unknown' must be an object with a 'method'")
        threshold = data.get("threshold")
        try:
            kwargs: dict[str, Any] = {}
            if data["method"] in EMBEDDING_METHODS:
                kwargs["classes"] = tuple(str(c) for c in data.get("classes") or ())
                kwargs["centroids"] = np.asarray(data.get("centroids") or [], dtype=np.float64)
                for key in ("center", "variance"):
                    if data.get(key) is not None:
                        kwargs[key] = np.asarray(data[key], dtype=np.float64)
            if data["method"] == "stages":
                stages = data.get("stages") or []
                if not isinstance(stages, list) or not all(isinstance(st, Mapping) for st in stages):
                    raise RoutingError("manifest 'unknown.stages' must be a list of objects")
                kwargs["classes"] = tuple(str(c) for c in data.get("classes") or ())
                kwargs["stage_strides"] = tuple(int(st["stride"]) for st in stages)
                kwargs["stage_means"] = tuple(np.asarray(st["means"], dtype=np.float64) for st in stages)
                kwargs["stage_variances"] = tuple(np.asarray(st["variance"], dtype=np.float64) for st in stages)
                kwargs["references"] = tuple(np.asarray(r, dtype=np.float64) for r in data.get("references") or [])
            return cls(
                method=str(data["method"]),
                threshold=None if threshold is None else _finite_threshold(threshold),
                temperature=float(temperature),
                flat=bool(flat),
                **kwargs,
            )
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            if isinstance(exc, RoutingError):
                raise
            raise RoutingError(f"manifest 'unknown' holds malformed numbers ({exc})") from exc


def is_finite_number(value: Any) -> bool:
    """Whether a JSON value is a finite number (not a bool, NaN, an infinity, or an int too big for a float)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and -_FLOAT_MAX <= value <= _FLOAT_MAX


def _finite_threshold(value: Any) -> float:
    if not is_finite_number(value):
        raise RoutingError(f"manifest 'unknown.threshold' must be a finite number or null, got {value!r:.60}")
    return float(value)


def _need(value: Any, name: str, method: str) -> Any:
    if value is None:
        raise RoutingError(f"the {method!r} unknown score needs {name}")
    return value


def _floats(values: np.ndarray) -> list[float]:
    return [float(f"{float(v):.7g}") for v in np.asarray(values).ravel()]


# ------------------------------------------------------------------------------------- routing
