"""Learn-then-Test thresholds of ``fma-model calibrate --method ltt`` (the default since issue #17). Numpy.

One promise over all auto-judged images instead of one bound per leaf (``--method per-leaf``): with
probability ``--confidence`` (0.95) over the calibration draw, the purity of all auto-judged images is at least
``--target-purity``. It is Learn-then-Test (Angelopoulos et al. 2021) over one confidence threshold shared by
every leaf: candidate thresholds are tested from the strictest down, each null hypothesis "the purity of the
images at or above it is below target" rejected by the exact binomial p-value at ``1 - confidence``, and the
first one not rejected ends the search (fixed-sequence testing, :func:`models.calibration.risk_control.ltt_threshold`).
Measured on the demo model (``python -m bench.coverage_methods``), it auto-judged 3.4x more test images than the
per-leaf bounds at held-out purity 0.993: small samples per leaf are what the per-leaf bounds pay for.

* The calibration images it sees are those routing would auto-judge: not flagged by the unknown detector, and
  predicted as a leaf with at least ``--min-support`` calibration predictions (a leaf with fewer is always
  re-judged: the rare types go to people, as the research's policy says). An image outside the tree that gets
  through counts as wrong.
* The sequence starts at the strictest candidate with ``min(1000, max(z, n / 2))`` images (``z``: images needed
  for the target with no error at all, 299 for 0.99 at 95 %; ``n``: images it sees); the start depends only on
  counts, never on labels, so the test stays valid. A start at a few hundred images stops at the first error.
  ``--ltt-starts K`` splits the error budget over K starting points (that one, 2x, 4x... as many images), so a
  model whose most confident images hold a few mistakes is not left with no threshold at all
  (:func:`models.calibration.risk_control.ltt_threshold`). ``calibrate``'s default is 3 (since 2026-12-04;
  one start, the plain sequence, before); with too few images for the later starts the budget is split over
  those that fit.
* Groups and subgroups (the climbing rule, :func:`node_thresholds`): per tree level, one Learn-then-Test
  threshold on the node's marginal confidence, fitted on the images that climb to that level (their leaf and
  every deeper level missed; by default, ``--flagged-climb``, also the images the unknown detector flags, whose leaf
  is never determined and which count as wrong when outside the tree). So each level's determined images keep the
  target purity, each with probability
  ``1 - delta``; all levels and the leaves together (and so their union) with probability at least
  ``1 - (levels + 1) * delta`` (a union bound: the tests are not corrected for each other). Their candidates
  depend on the leaf threshold fitted on the same images: a mild selection effect the test does not correct for
  (as the per-leaf method's scan).

The price is the kind of promise: purity over all auto-judged images, not per leaf (on the demo test set the
worst leaf is about 0.97 under either method). The purity monitor still watches each leaf: it pauses one whose
production purity is shown below the target, or, for a leaf its calibration images showed weaker than the target,
below that leaf's floor (:func:`leaf_floors`, ``routing.leaf_floor``; :mod:`app.services.monitor`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from models.calibration.risk_control import LttFit, ltt_threshold
from models.calibration.thresholds import LeafThreshold, cut_array, images_needed, purity_lower_bound
from models.routing.policy import path_confidences

if TYPE_CHECKING:
    from models.taxonomy import Taxonomy

START_CAP = 1000
"""The sequence starts at the strictest candidate with at most this many images (module doc)."""


def start_size(n: int, target: float, confidence: float, cap: int = START_CAP) -> int:
    """Images the first tested candidate must auto-judge, out of ``n`` seen (module doc)."""
    return min(cap, max(images_needed(target, confidence=confidence), n // 2))


def _described(fit: LttFit, target: float, confidence: float, n_seen: int) -> str:
    if fit.threshold is None and fit.tested == 0:
        return (f"support: {n_seen} calibration image(s), too few to show purity >= {target:g} at {confidence:g} "
                f"(at least {images_needed(target, confidence=confidence)} all right are needed)")
    if fit.threshold is not None:
        return (f"Learn-then-Test: {fit.n_auto} of {n_seen} calibration images at or above, {fit.errors} wrong "
                f"(p = {fit.pvalue:.3g} < {(1 - confidence) / fit.starts:.3g})")
    first = start_size(n_seen, target, confidence)
    hint = ("" if fit.starts > 1 else f"; a second start needs {2 * first} images" if n_seen < 2 * first
            else "; --ltt-starts 3 (the default) also starts at 2x and 4x as many")
    return (f"purity: Learn-then-Test rejected no threshold ({n_seen} calibration image(s); the strictest candidate "
            f"with {first} of them did not show purity >= {target:g} at "
            f"{confidence:g}{hint})")


def leaf_thresholds(probs: np.ndarray, targets: np.ndarray, flagged: np.ndarray, leaves: Sequence[str], *,
                    target: float, confidence: float, min_support: int,
                    starts: int = 1) -> tuple[dict[str, LeafThreshold], LttFit]:
    """One threshold for every leaf with ``min_support`` calibration predictions (module doc).

    Args:
        probs: (N, leaves) temperature-scaled leaf distribution.
        targets: (N,) true leaf index, -1 for an image outside the tree.
        flagged: (N,) whether the unknown detector flags the image.
        starts: starting points of the fixed sequence (module doc).

    Returns:
        each leaf's :class:`LeafThreshold` (its share of the shared threshold, for the report) and the fit.
    """
    pred, conf = probs.argmax(axis=1), probs.max(axis=1).astype(np.float64)
    known = targets >= 0
    right = pred == targets
    support = np.bincount(pred[known], minlength=len(leaves))
    # which leaves take part is decided by counts alone (every prediction not flagged), never by labels
    eligible = np.bincount(pred[~flagged], minlength=len(leaves)) >= max(1, min_support)
    seen = ~flagged & eligible[pred]
    fit = ltt_threshold(conf[seen], right[seen], target=target, delta=1.0 - confidence,
                        min_set=start_size(int(seen.sum()), target, confidence), starts=starts)
    out: dict[str, LeafThreshold] = {}
    for j, leaf in enumerate(leaves):
        n = int(support[j])
        if not eligible[j]:
            out[leaf] = LeafThreshold(None, n, reason=f"support: {n} calibration image(s) of known types predicted "
                                                      f"as this leaf (fewer than min_support {min_support} not "
                                                      f"flagged as unknown)")
            continue
        if fit.threshold is None:
            out[leaf] = LeafThreshold(None, n, reason=_described(fit, target, confidence, int(seen.sum())))
            continue
        auto = seen & (pred == j) & (conf >= fit.threshold)  # an image outside the tree among them counts as wrong
        out[leaf] = _share(fit.threshold, n, auto, right, int((auto & known).sum()), confidence)
    return out, fit


def _share(threshold: float, support: int, auto: np.ndarray, right: np.ndarray, covered: int,
           confidence: float) -> LeafThreshold:
    """One leaf's or node's part of a shared threshold, for the report: ``auto`` its images at or above it,
    ``covered`` how many of its ``support`` images that is."""
    m, hits = int(auto.sum()), int((auto & right).sum())
    return LeafThreshold(threshold, support, n_auto=m, coverage=covered / support if support else 0.0,
                         purity=hits / m if m else float("nan"),
                         purity_lower=purity_lower_bound(hits, m, confidence=confidence) if m else float("nan"))


def leaf_floors(leaves: Mapping[str, LeafThreshold], target: float) -> dict[str, float]:
    """``routing.leaf_floor``: for each auto-judged leaf whose calibration images at or above the threshold were
    less pure than ``target`` (the plain share right), the exact lower bound of that purity (rounded down to 4
    decimals). The purity monitor pauses such a leaf when production shows it worse than this, not than the target
    it was shown to miss. A leaf that was right often enough but on few images (7 of 7) gets no floor: a small
    sample is not a weak leaf, and it is held to the target."""
    return {leaf: math.floor(lt.purity_lower * 1e4) / 1e4 for leaf, lt in leaves.items()
            if lt.threshold is not None and math.isfinite(lt.purity) and lt.purity < target
            and lt.purity_lower < target}


def leaf_determined(best: np.ndarray, leaf_scores: np.ndarray, flagged: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """The images whose leaf is determined (the climbing rule's first step): not flagged as a possible unknown, and
    the predicted leaf ``best`` scoring at least its threshold (``cut``, :func:`cut_array`). The others climb."""
    return ~flagged & (leaf_scores >= cut[best])


def node_thresholds(probs: np.ndarray, targets: np.ndarray, flagged: np.ndarray, taxonomy: Taxonomy,
                    leaf_cuts: Mapping[str, float | None], *, target: float, confidence: float,
                    starts: int = 1, flagged_climb: bool = False,
                    level_scores: Sequence[np.ndarray] | None = None) -> tuple[dict[str, LeafThreshold], dict[int, LttFit]]:
    """Per level (deepest first), one threshold for its groups or subgroups, fitted on the images that climb to
    it (module doc); returns each node's :class:`LeafThreshold` (for the report) and each level's fit.

    ``flagged_climb``: the images the unknown detector flags climb too (their leaf is never determined, their group
    and subgroup may be; an image outside the tree among them counts as wrong at every level), instead of being
    left out of every level. ``level_scores``: per level, another confidence of the path's node to threshold than
    its marginal (``bench.node_scores`` compares some); the leaf's own decides which images climb either way."""
    best, marginal = path_confidences(taxonomy, probs)
    scores = marginal if level_scores is None else level_scores
    known = targets >= 0
    truth = np.where(known, targets, 0)
    leaf = leaf_determined(best, marginal[-1], flagged, cut_array(leaf_cuts, taxonomy.leaves))
    open_ = ~leaf if flagged_climb else ~flagged & ~leaf
    nodes: dict[str, LeafThreshold] = {}
    fits: dict[int, LttFit] = {}
    for k in range(len(taxonomy.level_sizes) - 2, -1, -1):
        predicted = taxonomy.leaf_level_index[best, k]
        right = known & (predicted == taxonomy.leaf_level_index[truth, k])
        inner = np.array([not taxonomy.node(n).is_leaf for n in taxonomy.levels[k]])
        seen = open_ & inner[predicted]  # a ragged tree's leaf repeated at this level has its own threshold
        n_seen = int(seen.sum())
        fit = fits[k] = ltt_threshold(scores[k][seen], right[seen], target=target, delta=1.0 - confidence,
                                      min_set=start_size(n_seen, target, confidence), starts=starts)
        determined = seen & (scores[k] >= (np.inf if fit.threshold is None else fit.threshold))
        for j, node in enumerate(taxonomy.levels[k]):
            if not inner[j]:
                continue
            mine = seen & (predicted == j)
            n = int(mine.sum())
            if fit.threshold is None:
                nodes[node] = LeafThreshold(None, n, reason=_described(fit, target, confidence, n_seen))
                continue
            nodes[node] = _share(fit.threshold, n, mine & determined, right, int((mine & determined).sum()),
                                 confidence)
        open_ &= ~determined
    return {node: nodes[node] for level in taxonomy.levels for node in level if node in nodes}, fits
