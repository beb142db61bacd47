"""Temperature scaling of the combined leaf distribution (see :mod:`models.calibration.calibrate`, step 1).

The network's raw level logits are computed once; the NLL of the true leaf under the combined leaf distribution
``combine_levels(softmax(z_k / T))`` (the Predictor's exact path) is minimised over ``log T`` in [log 0.05, log 20]
by golden-section search. The combined log-score of a leaf is ``sum_k z_k[ancestor_k] / T`` up to a per-image
constant, so the NLL is a one-temperature softmax NLL, convex in 1/T: the search finds the global minimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from models.calibration.errors import CalibrationError
from models.inference.outputs import combine_levels

if TYPE_CHECKING:
    from models.taxonomy import Taxonomy

T_RANGE: tuple[float, float] = (0.05, 20.0)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def leaf_probs_at(level_logits: Sequence[np.ndarray], temperature: float, taxonomy: Taxonomy, *,
                  flat: bool = False) -> np.ndarray:
    """The Predictor's leaf distribution at a temperature, from raw level logits (N, num_leaves)."""
    t = float(temperature)
    if flat:
        return _softmax(np.asarray(level_logits[-1], dtype=np.float64) / t).astype(np.float32)
    probs = [_softmax(np.asarray(z, dtype=np.float64) / t) for z in level_logits]
    return combine_levels(probs, taxonomy.leaf_level_index)


def nll(level_logits: Sequence[np.ndarray], targets: np.ndarray, temperature: float, taxonomy: Taxonomy, *,
        flat: bool = False) -> float:
    """Mean negative log-likelihood of the true leaves at a temperature."""
    probs = leaf_probs_at(level_logits, temperature, taxonomy, flat=flat)
    picked = probs[np.arange(len(targets)), np.asarray(targets, dtype=np.int64)].astype(np.float64)
    return float(-np.mean(np.log(np.clip(picked, 1e-12, None))))


def fit_temperature(level_logits: Sequence[np.ndarray], targets: np.ndarray, taxonomy: Taxonomy, *,
                    flat: bool = False, t_range: tuple[float, float] = T_RANGE, tol: float = 1e-4) -> float:
    """The temperature minimising :func:`nll`: golden-section search on log T within ``t_range``."""
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) == 0:
        raise CalibrationError("no labelled images to fit the temperature on")

    def f(log_t: float) -> float:
        return nll(level_logits, targets, math.exp(log_t), taxonomy, flat=flat)

    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = math.log(t_range[0]), math.log(t_range[1])
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return math.exp((a + b) / 2.0)
