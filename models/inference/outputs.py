"""Turning per-level distributions into one path-consistent leaf distribution, and a batch's raw outputs (numpy only).

The hierarchical heads give one distribution per tree level. They are combined into one distribution over
leaves, consistent by construction::

    p(leaf) ∝ Π_k p_k(ancestor_k(leaf))     (renormalised over the leaves)

so the reported path is always a real path of the tree, and each node's confidence on that path is the
marginal of the combined distribution (the sum of its leaves' scores), which never increases from the root
down. A flat model already gives leaf probabilities; its level distributions are their marginals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from models.bundle.manifest import BundleManifest


def combine_levels(level_probs: Sequence[np.ndarray], leaf_level_index: np.ndarray) -> np.ndarray:
    """Combine per-level distributions into a path-consistent leaf distribution.

    Args:
        level_probs: per level, an (N, n_k) array of probabilities.
        leaf_level_index: (num_leaves, num_levels) index of each leaf's ancestor at each level.

    Returns:
        (N, num_leaves) array; each row sums to 1.
    """
    log_scores = np.zeros((level_probs[0].shape[0], leaf_level_index.shape[0]), dtype=np.float64)
    for k, probs in enumerate(level_probs):
        log_scores += np.log(np.clip(probs[:, leaf_level_index[:, k]].astype(np.float64), 1e-12, None))
    log_scores -= log_scores.max(axis=1, keepdims=True)
    scores = np.exp(log_scores)
    return (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)


def marginals(leaf_probs: np.ndarray, leaf_level_index: np.ndarray, level_sizes: Sequence[int]) -> list[np.ndarray]:
    """Sum a leaf distribution up to each level: list of (N, n_k)."""
    out = []
    for k, size in enumerate(level_sizes):
        m = np.zeros((leaf_probs.shape[0], size), dtype=np.float32)
        np.add.at(m.T, leaf_level_index[:, k], leaf_probs.T)
        out.append(m)
    return out


PRESENT = 0.5
"""A multi-label bundle's presence score from which a leaf is in an image's predicted set (issue #20)."""


def presence(level_probs: Sequence[np.ndarray], leaf_level_index: np.ndarray) -> np.ndarray:
    """A multi-label bundle's leaf presence scores (N, num_leaves): the smallest of the per-level sigmoids of each
    leaf's ancestors (:mod:`models.nn.multilabel`), so never above any ancestor's. The product, which takes the
    levels for independent (they are not: a leaf's subgroup is present whenever the leaf is), ranked worse: mean
    per-leaf AP 0.716 against 0.789 for the minimum on ``python -m bench.multilabel``'s two-defect test images, 0.825
    against 0.878 on its validation images."""
    out = np.ones((level_probs[0].shape[0], leaf_level_index.shape[0]), dtype=np.float32)
    for k, probs in enumerate(level_probs):
        out = np.minimum(out, np.asarray(probs, dtype=np.float32)[:, leaf_level_index[:, k]])
    return out


def presence_thresholds(manifest: BundleManifest) -> np.ndarray | None:
    """A multi-label bundle's presence threshold of every leaf, in its taxonomy's leaf order (the manifest's
    ``multilabel`` section; :data:`PRESENT` where it names none); None for a single-label bundle."""
    if not manifest.is_multilabel:
        return None
    chosen = {} if manifest.multilabel is None else manifest.multilabel.thresholds
    return np.array([float(chosen.get(leaf, PRESENT)) for leaf in manifest.taxonomy.leaves], dtype=np.float32)


def present(scores: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
    """(N, L) bool: the predicted sets of presence scores (N, L), the leaves reaching their threshold (``thresholds``
    (L,), a bundle's :func:`presence_thresholds`; default :data:`PRESENT`
    for every leaf), and at least each row's best."""
    scores = np.asarray(scores)
    chosen = scores >= (PRESENT if thresholds is None else np.asarray(thresholds)[None, :])
    if len(scores):
        chosen[np.arange(len(scores)), scores.argmax(axis=1)] = True
    return chosen


def set_confidence(scores: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
    """(N,) how sure a multi-label bundle is of each image's whole predicted set (:func:`present`): the product, over
    every leaf, of its presence where the leaf is in the set and of one minus it where it is not (the chance that
    every leaf's call is right, were they independent: a ranking the set routing calibrates, not a probability)."""
    scores = np.asarray(scores, dtype=np.float64)
    chosen = present(scores, thresholds)
    p = np.clip(scores, 1e-9, 1.0 - 1e-9)
    return np.exp(np.where(chosen, np.log(p), np.log1p(-p)).sum(axis=1))


def set_auto(scores: np.ndarray, thresholds: np.ndarray | None, set_threshold: float | None) -> np.ndarray:
    """(N,) bool: the images a set-calibrated multi-label bundle auto-judges, whose set confidence
    (:func:`set_confidence`) reaches ``set_threshold``; none when no threshold reached the target (None)."""
    if set_threshold is None:
        return np.zeros(len(scores), dtype=bool)
    return set_confidence(scores, thresholds) >= set_threshold


def predicted_set(scores: np.ndarray, leaves: Sequence[str],
                  thresholds: np.ndarray | None = None) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """One image's predicted set (:func:`present`), best first, and the leaves' scores."""
    mask = present(scores[None], thresholds)[0]
    chosen = [int(j) for j in np.argsort(-scores, kind="stable") if mask[j]]
    return tuple(leaves[j] for j in chosen), tuple(float(scores[j]) for j in chosen)


@dataclass
class BatchOutput:
    """Raw model outputs for a batch of preprocessed images (numpy, float32)."""

    level_probs: list[np.ndarray]
    leaf_probs: np.ndarray
    embedding: np.ndarray
    cbam_maps: np.ndarray | None = None
    level_logits: list[np.ndarray] | None = None  # raw network outputs, before the temperature
    stage_stats: dict[int, np.ndarray] | None = None  # stride -> (N, 2C), when stages are watched
