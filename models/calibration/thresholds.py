"""Per-leaf purity thresholds with a one-sided lower confidence bound (see :mod:`models.calibration.calibrate`, step 2)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from models.calibration.errors import CalibrationError

BOUNDS: tuple[str, ...] = ("clopper-pearson", "wilson", "none")


def cut_array(thresholds: Mapping[str, float | None], leaves: Sequence[str]) -> np.ndarray:
    """Per leaf (``leaves`` order), its threshold, ``inf`` for one that is never auto-judged (None or missing)."""
    return np.array([np.inf if thresholds.get(leaf) is None else thresholds[leaf] for leaf in leaves], dtype=np.float64)


def _log_factorials(n: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))])


def binomial_tail(hits: int, n: int, p: float, log_fact: np.ndarray | None = None) -> float:
    """P(X >= hits) for X ~ Binomial(n, p)."""
    if hits <= 0:
        return 1.0
    if hits > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    lf = _log_factorials(n) if log_fact is None else log_fact
    i = np.arange(hits, n + 1)
    log_pmf = lf[n] - lf[i] - lf[n - i] + i * math.log(p) + (n - i) * math.log1p(-p)
    top = log_pmf.max()
    return float(min(1.0, math.exp(top) * np.exp(log_pmf - top).sum()))


def purity_lower_bound(hits: int, n: int, *, bound: str = "clopper-pearson", confidence: float = 0.95) -> float:
    """One-sided lower confidence bound on a precision of ``hits`` / ``n``.

    ``clopper-pearson`` is exact (the p whose upper binomial tail at ``hits`` is ``1 - confidence``),
    ``wilson`` the Wilson score bound, ``none`` the plain ratio.
    """
    if n <= 0:
        return float("nan")
    if bound == "none":
        return hits / n
    alpha = 1.0 - confidence
    if bound == "wilson":
        from statistics import NormalDist

        z = NormalDist().inv_cdf(confidence)
        phat = hits / n
        centre = phat + z * z / (2 * n)
        spread = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
        return max(0.0, (centre - spread) / (1 + z * z / n))
    if bound != "clopper-pearson":
        raise CalibrationError(f"unknown bound {bound!r}; expected one of {', '.join(BOUNDS)}")
    if hits == 0:
        return 0.0
    lf = _log_factorials(n)
    lo, hi = 0.0, 1.0
    for _ in range(60):  # the tail grows with p: bisect for tail == alpha
        mid = (lo + hi) / 2
        if binomial_tail(hits, n, mid, lf) < alpha:
            lo = mid
        else:
            hi = mid
    return lo


def _passes(hits: int, n: int, target: float, bound: str, confidence: float, lf: np.ndarray) -> bool:
    """lower bound >= target, decided without solving for the bound where possible."""
    if bound == "clopper-pearson":
        # the exact lower bound is >= target iff the upper tail at p = target is <= alpha
        return binomial_tail(hits, n, target, lf) <= 1.0 - confidence + 1e-12
    return purity_lower_bound(hits, n, bound=bound, confidence=confidence) >= target


def images_needed(target: float, *, bound: str = "clopper-pearson", confidence: float = 0.95) -> int:
    """Fewest all-correct predictions whose lower bound reaches ``target``."""
    if bound == "none":
        return 1
    if bound == "clopper-pearson":  # all correct: the tail is target**n <= 1 - confidence
        return max(1, math.ceil(math.log(1.0 - confidence) / math.log(target) - 1e-9))
    n = 1
    while purity_lower_bound(n, n, bound=bound, confidence=confidence) < target and n < 10_000_000:
        n *= 2
    lo, hi = n // 2, n  # bisect for the first n that passes (the bound grows with n)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if purity_lower_bound(mid, mid, bound=bound, confidence=confidence) >= target:
            hi = mid
        else:
            lo = mid
    return hi


@dataclass(frozen=True)
class LeafThreshold:
    """The threshold of one leaf and the numbers behind it.

    Attributes:
        threshold: the lowest auto-judged confidence, or None (always re-judge).
        support: calibration images predicted as the leaf (known labels).
        n_auto: how many of them reach the threshold.
        coverage: ``n_auto / support`` (0 without a threshold).
        purity: precision among the ``n_auto`` (NaN without a threshold).
        purity_lower: its lower confidence bound.
        reason: why there is no threshold ("support" or "purity" with details), else None.
    """

    threshold: float | None
    support: int
    n_auto: int = 0
    coverage: float = 0.0
    purity: float = float("nan")
    purity_lower: float = float("nan")
    reason: str | None = None


def purity_threshold(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    target: float,
    min_support: int = 20,
    bound: str = "clopper-pearson",
    confidence_level: float = 0.95,
) -> LeafThreshold:
    """The lowest confidence threshold whose auto-judged set reaches ``target`` purity (see module doc).

    Args:
        confidence: confidences of the images predicted as one leaf.
        correct: whether each of those predictions is right.
        target: required purity (precision), in (0, 1).
        min_support: fewer predictions than this -> no threshold.
        bound: ``clopper-pearson``, ``wilson`` or ``none``.
        confidence_level: level of the one-sided lower bound.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    n = len(conf)
    if n < max(1, min_support):
        return LeafThreshold(None, n, reason=f"support: {n} calibration image(s) predicted as this leaf "
                                             f"(< min_support {min_support})")
    order = np.argsort(-conf, kind="stable")
    conf, ok = conf[order], ok[order]
    hits = np.cumsum(ok)
    # ends of tie groups: a threshold keeps all images with the same confidence together
    ends = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))
    lf = _log_factorials(n)
    best: int | None = None
    for end in ends:
        # every bound is at most the plain precision: skip what cannot pass without computing it
        if hits[end] >= target * (end + 1) and _passes(int(hits[end]), int(end + 1), target, bound,
                                                       confidence_level, lf):
            best = int(end)  # keep scanning: the lowest passing threshold wins
    if best is None:
        need = images_needed(target, bound=bound, confidence=confidence_level)
        purity = float(hits[-1] / n)
        return LeafThreshold(
            None, n, purity=purity,
            purity_lower=purity_lower_bound(int(hits[-1]), n, bound=bound, confidence=confidence_level),
            reason=(f"purity: no confidence threshold reaches {target:g} ({bound} bound at {confidence_level:g}; "
                    f"precision over all {n} is {purity:.3f}; at least {need} correct images are needed)"),
        )
    m, h = best + 1, int(hits[best])
    return LeafThreshold(
        threshold=float(conf[best]), support=n, n_auto=m, coverage=m / n, purity=h / m,
        purity_lower=purity_lower_bound(h, m, bound=bound, confidence=confidence_level),
    )


def auto_coverage(leaf_probs: np.ndarray, targets: np.ndarray, *, target: float, min_support: int = 20,
                  bound: str = "clopper-pearson", confidence_level: float = 0.95) -> float:
    """The share of images routed automatically when each leaf gets its :func:`purity_threshold` from these same
    images (the optimistic in-sample figure, as ``calibrate``'s summary of its own split; no temperature).

    Args:
        leaf_probs: (N, leaves) leaf probabilities.
        targets: (N,) the true leaf indices.
        target: required purity per leaf, in (0, 1).
    """
    probs = np.asarray(leaf_probs, dtype=np.float64)
    truth = np.asarray(targets)
    if len(probs) == 0:
        return 0.0
    pred = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    correct = pred == truth
    n_auto = 0
    for leaf in np.unique(pred):
        sel = pred == leaf
        n_auto += purity_threshold(conf[sel], correct[sel], target=target, min_support=min_support, bound=bound,
                                   confidence_level=confidence_level).n_auto
    return n_auto / len(probs)
