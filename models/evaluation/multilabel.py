"""Metrics of images with more than one defect (issue #20): per-leaf average precision, subset accuracy and
hierarchical F1 over sets.

Every image has a set of true leaves (:attr:`models.data.samples.Sample.labels`) and the model a score per leaf
(a multi-label bundle's presence scores, :func:`models.inference.outputs.presence`; a single-label bundle's leaf
distribution) and a predicted set (the leaves at or above their presence threshold, the bundle's ``multilabel``
thresholds or :data:`models.inference.outputs.PRESENT`, at least the best one; a single-label bundle's Top-1
alone):

* ``per_leaf_ap``: each leaf's average precision over the images ranked by its score (the mean of the precision
  at every image that shows the leaf), None for a leaf no image shows; ``mean_ap`` their mean;
* ``subset_accuracy``: the share of images whose predicted set is exactly their true set;
* ``hier_precision``, ``hier_recall``, ``hier_f1``: both sets closed under ancestors (a particle on a scratch is
  foreign_matter, particle, particle_metal, structural, mechanical, scratch), precision and recall of the predicted
  nodes per image, averaged over the images, and F1 of the two means (as the single-label ``hier_f1``);
* ``label_cardinality`` (true leaves per image) and ``predicted_cardinality``; ``n`` and ``n_multi`` (images with
  more than one true leaf), and ``subset_accuracy_multi`` over those.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from models.inference.outputs import PRESENT, present
from models.taxonomy import Taxonomy


def truth_matrix(labels: Sequence[Sequence[str]], leaves: Sequence[str]) -> np.ndarray:
    """(N, L) bool: which leaves each image shows."""
    pos = {leaf: j for j, leaf in enumerate(leaves)}
    out = np.zeros((len(labels), len(leaves)), dtype=bool)
    for i, row in enumerate(labels):
        out[i, [pos[leaf] for leaf in row if leaf in pos]] = True
    return out


def predicted_matrix(scores: np.ndarray, *, multilabel: bool, thresholds: np.ndarray | None = None) -> np.ndarray:
    """(N, L) bool: the predicted sets (see the module doc): :func:`models.inference.outputs.present` (at the
    bundle's presence ``thresholds``), or the Top-1 alone."""
    scores = np.asarray(scores)
    if multilabel:
        return present(scores, thresholds)
    chosen = np.zeros(scores.shape, dtype=bool)
    if len(scores):
        chosen[np.arange(len(scores)), scores.argmax(axis=1)] = True
    return chosen


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Average precision of one leaf: images ranked by score, the precision at each positive, averaged (ties
    broken against the positives); None without a positive."""
    positive = np.asarray(positive, dtype=bool)
    if not positive.any():
        return None
    order = np.lexsort((positive, -np.asarray(scores, dtype=np.float64)))  # ties: negatives first
    hits = positive[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def multilabel_metrics(scores: np.ndarray, predicted: np.ndarray, truth: np.ndarray,
                       taxonomy: Taxonomy) -> dict[str, Any]:
    """The module's metrics for ``scores`` (N, L), ``predicted`` and ``truth`` (N, L) bool, leaves in the
    taxonomy's order."""
    truth = np.asarray(truth, dtype=bool)
    predicted = np.asarray(predicted, dtype=bool)
    aps = {leaf: average_precision(scores[:, j], truth[:, j]) for j, leaf in enumerate(taxonomy.leaves)}
    present = [v for v in aps.values() if v is not None]
    exact = (predicted == truth).all(axis=1)
    multi = truth.sum(axis=1) > 1
    closure = _ancestor_closure(taxonomy)  # (L, nodes) bool
    true_nodes = (truth.astype(np.int32) @ closure) > 0
    pred_nodes = (predicted.astype(np.int32) @ closure) > 0
    both = (true_nodes & pred_nodes).sum(axis=1)
    precision = float(np.mean(both / np.maximum(pred_nodes.sum(axis=1), 1))) if len(truth) else 0.0
    recall = float(np.mean(both / np.maximum(true_nodes.sum(axis=1), 1))) if len(truth) else 0.0
    return {
        "n": len(truth), "n_multi": int(multi.sum()),
        "mean_ap": round(float(np.mean(present)), 5) if present else None,
        "per_leaf_ap": {leaf: None if v is None else round(v, 5) for leaf, v in aps.items()},
        "subset_accuracy": round(float(exact.mean()), 5) if len(truth) else None,
        "subset_accuracy_multi": round(float(exact[multi].mean()), 5) if multi.any() else None,
        "hier_precision": round(precision, 5), "hier_recall": round(recall, 5),
        "hier_f1": round(2 * precision * recall / (precision + recall), 5) if precision + recall else 0.0,
        "label_cardinality": round(float(truth.sum(axis=1).mean()), 4) if len(truth) else None,
        "predicted_cardinality": round(float(predicted.sum(axis=1).mean()), 4) if len(truth) else None,
    }


THRESHOLD_GRID: tuple[float, ...] = tuple(round(0.1 + 0.05 * i, 2) for i in range(17))
"""The presence thresholds :func:`choose_thresholds` tries (0.10, 0.15 ... 0.90)."""

MIN_POSITIVES = 5
"""A leaf shown by fewer validation images keeps :data:`models.inference.outputs.PRESENT` (too few to choose by)."""


def _f1(chosen: np.ndarray, positive: np.ndarray) -> float:
    hits = int((chosen & positive).sum())
    return 2.0 * hits / max(1, int(chosen.sum()) + int(positive.sum()))


def choose_thresholds(scores: np.ndarray, truth: np.ndarray, leaves: Sequence[str], *,
                      min_positives: int = MIN_POSITIVES) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Per leaf, the presence threshold of :data:`THRESHOLD_GRID` with the best F1 of that leaf on these images
    (validation images: ``scores`` (N, L) presence, ``truth`` (N, L) bool), counting the leaf as predicted where it
    is an image's best one too, as :func:`~models.inference.outputs.present` does; ties go to the threshold nearest
    :data:`~models.inference.outputs.PRESENT`. A leaf with fewer than ``min_positives`` images showing it is left
    out (it keeps the default).

    Returns:
        ``(thresholds, f1)``: leaf -> threshold, and leaf -> [F1 at the default, F1 at its threshold].
    """
    scores = np.asarray(scores, dtype=np.float32)
    truth = np.asarray(truth, dtype=bool)
    best = np.zeros(truth.shape, dtype=bool)
    if len(scores):
        best[np.arange(len(scores)), scores.argmax(axis=1)] = True
    thresholds: dict[str, float] = {}
    f1: dict[str, list[float]] = {}
    by_distance = sorted(THRESHOLD_GRID, key=lambda t: (abs(t - PRESENT), t))
    for j, leaf in enumerate(leaves):
        if int(truth[:, j].sum()) < min_positives:
            continue
        scored = {t: _f1((scores[:, j] >= t) | best[:, j], truth[:, j]) for t in by_distance}
        chosen = max(by_distance, key=lambda t: scored[t])  # max keeps the first of equals: the nearest to 0.5
        thresholds[leaf] = float(chosen)
        f1[leaf] = [round(_f1((scores[:, j] >= PRESENT) | best[:, j], truth[:, j]), 4), round(scored[chosen], 4)]
    return thresholds, f1


def _ancestor_closure(taxonomy: Taxonomy) -> np.ndarray:
    """(leaves, nodes) 0/1: the nodes on each leaf's path (the leaf itself included), nodes of every level
    side by side (a ragged tree's leaf repeated at deeper levels counts once per level, for true and predicted
    sets alike)."""
    sizes = taxonomy.level_sizes
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.zeros((len(taxonomy.leaves), int(sum(sizes))), dtype=np.int32)
    for j in range(len(taxonomy.leaves)):
        out[j, starts + taxonomy.leaf_level_index[j]] = 1
    return out
