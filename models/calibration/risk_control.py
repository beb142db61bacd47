"""Threshold procedures for auto-judging, compared by ``python -m bench.coverage_methods`` (issue #17 part 2). Numpy.

Each procedure turns calibration images (temperature-scaled leaf probabilities, true leaf or -1 for an image
outside the tree, and whether the unknown detector flags it) into one confidence threshold per leaf (None: the
leaf is never auto-judged). An image is auto-judged when it is not flagged and its top confidence reaches its
predicted leaf's threshold; an auto-judged image outside the tree counts as wrong.

* ``per_leaf`` (``calibrate --method per-leaf``): each leaf's lowest threshold whose own auto-judged set has a one-sided
  Clopper-Pearson lower bound >= target; a promise per leaf.
* ``pooled_siblings``: the same, but one threshold per subgroup, fitted on the pooled images predicted as any of its
  leaves; a promise per subgroup, with more images behind each bound.
* ``ltt_global``: Learn-then-Test (Angelopoulos et al. 2021) over one confidence threshold shared by all leaves:
  the candidate thresholds are tested from the strictest with at least ``min_set`` auto-judged images down, each
  null hypothesis "purity of the auto-judged set < target" rejected by the exact binomial p-value at ``delta``
  (fixed-sequence testing: the first one not rejected stops the search); the loosest rejected threshold is kept.
  One promise over all auto-judged images, with probability ``1 - delta`` over the calibration draw.
* ``ltt_per_leaf``: the same test over a family of per-leaf thresholds indexed by one number ``lam``: each leaf's
  threshold is the lowest whose plug-in precision (no bound) on a *fitting* half of the calibration images is at
  least ``lam``; the fixed-sequence test runs on the other half (the family must not see the images that test it).
  Still one promise over all auto-judged images, but leaves that are easy auto-judge deeper than hard ones.

The starting point of the fixed sequence depends only on how many images a threshold auto-judges, never on their
labels, so the test stays valid. It is the first candidate with ``min_set`` (1000) images: a set that must show
purity >= 0.99 at 95 % can afford 4 errors in 1000, but none in 300, where one unlucky error at the start would
stop the whole sequence (measured: ``ltt_global`` auto-judged nothing with a start at 300).

A model whose few most confident images hold a handful of mistakes still stops at the first test (a CBAM demo
candidate: 5 mistakes among its 990 most confident calibration images, p = 0.066, so no threshold at all, though
0.995 pure at 60 % coverage). ``starts`` > 1 runs the sequence from ``starts`` starting points instead, at
``min_set``, 2x, 4x... as many images (those the images seen allow), each at an equal share of the error budget
``delta`` (Bonferroni), and keeps the loosest threshold any of them rejects: the starting points depend on counts
alone, so the promise still holds with probability ``1 - delta``; each sequence is stricter, so a model that
passes at the first start gets a slightly stricter threshold than with one start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from models.calibration.thresholds import _log_factorials, binomial_tail, purity_threshold

METHODS: tuple[str, ...] = ("per_leaf", "pooled_siblings", "ltt_global", "ltt_per_leaf")


@dataclass(frozen=True)
class CalibrationData:
    """What every procedure sees: ``probs`` (N, L), ``targets`` (N,) leaf index or -1 (outside the tree), and
    ``flagged`` (N,) the unknown detector's flag."""

    probs: np.ndarray
    targets: np.ndarray
    flagged: np.ndarray

    @property
    def pred(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @property
    def conf(self) -> np.ndarray:
        return self.probs.max(axis=1)

    def subset(self, rows: np.ndarray) -> CalibrationData:
        return CalibrationData(self.probs[rows], self.targets[rows], self.flagged[rows])


def auto_mask(data: CalibrationData, thresholds: Sequence[float | None]) -> np.ndarray:
    """Which images are auto-judged under per-leaf ``thresholds`` (leaf index order)."""
    cut = np.array([np.inf if t is None else t for t in thresholds], dtype=np.float64)
    return ~data.flagged & (data.conf >= cut[data.pred])


def routing_figures(data: CalibrationData, thresholds: Sequence[float | None]) -> dict[str, float | int]:
    """Coverage (share of known images auto-judged), purity (right among auto-judged, an unknown counts as wrong),
    and the worst leaf's purity among leaves with at least 20 auto-judged images."""
    auto = auto_mask(data, thresholds)
    known = data.targets >= 0
    right = auto & (data.pred == data.targets)
    n_auto = int(auto.sum())
    worst = 1.0
    for leaf in np.unique(data.pred[auto]):
        sel = auto & (data.pred == leaf)
        if sel.sum() >= 20:
            worst = min(worst, float(right[sel].sum() / sel.sum()))
    return {"coverage": float((auto & known).sum() / max(1, known.sum())),
            "purity": float(right.sum() / n_auto) if n_auto else float("nan"), "auto": n_auto,
            "unknown_auto": int((auto & ~known).sum()), "worst_leaf_purity": worst}


def ltt_pvalue(errors: int, n: int, alpha: float, lf: np.ndarray | None = None) -> float:
    """Exact p-value of "the error rate is at least ``alpha``" after ``errors`` errors in ``n`` images."""
    if n <= 0:
        return 1.0
    return max(0.0, 1.0 - binomial_tail(errors + 1, n, alpha, lf))  # P(X <= errors)


def per_leaf(data: CalibrationData, *, target: float, min_support: int = 20,
             confidence: float = 0.95) -> list[float | None]:
    ok = ~data.flagged
    pred, conf, correct = data.pred, data.conf, data.pred == data.targets
    out: list[float | None] = []
    for leaf in range(data.probs.shape[1]):
        sel = ok & (pred == leaf)
        out.append(purity_threshold(conf[sel], correct[sel], target=target, min_support=min_support,
                                    confidence_level=confidence).threshold)
    return out


def pooled_siblings(data: CalibrationData, groups: Mapping[str, Sequence[int]], *, target: float,
                    min_support: int = 20, confidence: float = 0.95) -> list[float | None]:
    """One threshold per sibling group (``groups``: subgroup -> its leaf indices), fitted on their pooled images."""
    ok = ~data.flagged
    pred, conf, correct = data.pred, data.conf, data.pred == data.targets
    out: list[float | None] = [None] * data.probs.shape[1]
    for leaves in groups.values():
        sel = ok & np.isin(pred, list(leaves))
        cut = purity_threshold(conf[sel], correct[sel], target=target, min_support=min_support,
                               confidence_level=confidence).threshold
        for leaf in leaves:
            out[leaf] = cut
    return out


def _fixed_sequence(counts: Iterable[tuple[int, int]], target: float, delta: float, min_set: int,
                    lf: np.ndarray) -> tuple[int | None, tuple[int, int, float] | None, int]:
    """Fixed-sequence testing over candidates ordered strict -> loose, given each one's ``(images, errors)``:
    starting at the first with ``min_set`` images, "purity < target" is tested with the exact binomial p-value until
    one is not rejected at ``delta``. Returns the loosest rejected candidate's index and ``(images, errors,
    p-value)`` (None, None: none was), and how many were tested."""
    alpha = 1.0 - target
    chosen, at, tested, started = None, None, 0, False
    for i, (n, errors) in enumerate(counts):
        if not started and n < min_set:
            continue
        started = True
        p = ltt_pvalue(errors, n, alpha, lf)
        tested += 1
        if p > delta:
            break
        chosen, at = i, (n, errors, p)
    return chosen, at, tested


@dataclass(frozen=True)
class LttFit:
    """One Learn-then-Test threshold and the figures behind it.

    Attributes:
        threshold: the loosest candidate rejected by the fixed sequence, or None (none was).
        n_auto, errors: images at or above it and the wrong ones among them.
        pvalue: the exact p-value of "purity < target" on them (None without a threshold).
        tested: candidates tested; candidates: images the threshold was fitted on.
        starts: the starting points the error budget was split over (module doc; 1: the plain sequence).
    """

    threshold: float | None
    n_auto: int = 0
    errors: int = 0
    pvalue: float | None = None
    tested: int = 0
    candidates: int = 0
    starts: int = 1

    @property
    def purity(self) -> float:
        return (self.n_auto - self.errors) / self.n_auto if self.n_auto else float("nan")


def start_sets(min_set: int, starts: int, n: int) -> list[int]:
    """The image counts the fixed sequences start at: ``min_set``, then 2x, 4x... as many while ``n`` images allow,
    ``starts`` at most (module doc). Counts only, never labels."""
    if starts < 1:
        raise ValueError(f"starts must be at least 1, got {starts}")
    return [min_set] + [min_set * 2 ** i for i in range(1, starts) if min_set * 2 ** i <= n]


def ltt_threshold(scores: np.ndarray, right: np.ndarray, *, target: float, delta: float = 0.05,
                  min_set: int = 1000, grid: int = 400, starts: int = 1) -> LttFit:
    """One threshold on ``scores`` for images judged at ``score >= threshold`` (``right``: whether each would be
    judged right), by fixed-sequence testing from the strictest candidate with at least ``min_set`` images down
    (module doc): purity >= ``target`` over the images at or above it, with probability ``1 - delta``. With
    ``starts`` > 1 the budget ``delta`` is split over that many starting points (module doc)."""
    scores = np.asarray(scores, dtype=np.float64)
    right = np.asarray(right, dtype=bool)
    if not len(scores):
        return LttFit(None)
    ordered = np.sort(scores)[::-1]
    levels = np.unique(ordered[np.linspace(0, len(ordered) - 1, min(grid, len(ordered))).astype(int)])[::-1]
    counts = [(int(auto.sum()), int((auto & ~right).sum())) for auto in (scores >= t for t in levels)]
    lf = _log_factorials(len(scores))
    firsts = start_sets(min_set, starts, len(scores))
    best: tuple[int, tuple[int, int, float]] | None = None
    tested = 0
    for first in firsts:  # candidates run strict -> loose: the larger index is the looser threshold
        chosen, at, n_tested = _fixed_sequence(counts, target, delta / len(firsts), first, lf)
        tested += n_tested
        if chosen is not None and at is not None and (best is None or chosen > best[0]):
            best = (chosen, at)
    if best is None:
        return LttFit(None, tested=tested, candidates=len(scores), starts=len(firsts))
    return LttFit(float(levels[best[0]]), *best[1], tested=tested, candidates=len(scores), starts=len(firsts))


def ltt_global(data: CalibrationData, *, target: float, delta: float = 0.05, min_set: int = 1000,
               grid: int = 400, starts: int = 1) -> list[float | None]:
    ok = ~data.flagged
    fit = ltt_threshold(data.conf[ok], (data.pred == data.targets)[ok], target=target, delta=delta, min_set=min_set,
                        grid=grid, starts=starts)
    return [fit.threshold] * data.probs.shape[1]


def plug_in_frontier(scores: np.ndarray, right: np.ndarray, target: float) -> np.ndarray:
    """The most images one threshold on ``scores`` can take at plain precision >= ``target`` on these very images
    (no bound, no hold-out: what no finite-sample procedure can beat); a mask of them."""
    scores, right = np.asarray(scores, dtype=np.float64), np.asarray(right, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    precision = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    good = np.flatnonzero(precision >= target)
    taken = np.zeros(len(scores), dtype=bool)
    taken[order[: good[-1] + 1 if len(good) else 0]] = True
    return taken


def _plug_in(data: CalibrationData, lam: float) -> list[float | None]:
    """Per leaf, the lowest threshold whose auto-judged set on ``data`` has plain precision >= ``lam``."""
    ok = ~data.flagged
    pred, conf, correct = data.pred, data.conf, data.pred == data.targets
    out: list[float | None] = []
    for leaf in range(data.probs.shape[1]):
        sel = ok & (pred == leaf)
        c, r = conf[sel], correct[sel]
        order = np.argsort(-c, kind="stable")
        c, r = c[order], r[order]
        prec = np.cumsum(r) / np.arange(1, len(r) + 1)
        good = np.flatnonzero(prec >= lam)
        out.append(float(c[good[-1]]) if len(good) else None)
    return out


def ltt_per_leaf(data: CalibrationData, *, target: float, delta: float = 0.05, min_set: int = 1000,
                 seed: int = 0) -> list[float | None]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.targets))
    fit, test = data.subset(order[: len(order) // 2]), data.subset(order[len(order) // 2:])
    lams = np.round(np.arange(1.0, target - 0.0501, -0.0025), 6)
    candidates = [_plug_in(fit, float(lam)) for lam in lams]
    right = test.pred == test.targets
    counts = ((int(auto.sum()), int((auto & ~right).sum())) for auto in (auto_mask(test, t) for t in candidates))
    chosen, _, _ = _fixed_sequence(counts, target, delta, min_set, _log_factorials(len(test.targets)))
    return [None] * data.probs.shape[1] if chosen is None else candidates[chosen]
