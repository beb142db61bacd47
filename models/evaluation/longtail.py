"""Head and tail of a long-tailed tree: Top-1 and recall on the leaves with the most and the fewest training images.

A factory's tree is long-tailed (``fma-model synth --long-tail``; real lines have leaves with a few dozen images
beside leaves with hundreds). The overall Top-1 hides the rare leaves: it is dominated by the common ones. With
the training counts per leaf (``fma-model evaluate`` reads them from the data's ``train`` rows), the leaves are
ranked by count and cut into thirds: the **head** (most images), the middle and the **tail** (fewest).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from models.taxonomy import Taxonomy


def head_tail_metrics(
    leaf_probs: np.ndarray, targets: np.ndarray, taxonomy: Taxonomy, train_counts: Mapping[str, int]
) -> dict[str, Any]:
    """Top-1 and macro recall on the head and tail thirds of the leaves, by training images.

    Args:
        leaf_probs: (N, n_leaves) probabilities of the evaluated images.
        targets: (N,) true leaf index, -1 for unknown images (left out).
        taxonomy: the model's taxonomy (leaf order of ``leaf_probs``).
        train_counts: training images per leaf id (a leaf missing from it had none).

    Returns:
        ``tail_top1``, ``head_top1`` (Top-1 over the images whose true leaf is in that third),
        ``tail_macro_recall``, ``head_macro_recall`` (mean recall over that third's leaves with images),
        ``tail_never_predicted`` (tail leaves with images that no image was predicted as), ``tail_leaves``,
        ``tail_train_max`` and ``head_train_min`` (the cut-offs in training images), ``tail_n``, ``head_n``
        (images). Empty when fewer than three leaves had training images, or when the counts do not tell a head
        from a tail (balanced data: the largest tail count reaches the smallest head count). Leaves without
        training images are left out: they have no place in the ranking.
    """
    leaves = list(taxonomy.leaves)
    counts = np.array([int(train_counts.get(leaf, 0)) for leaf in leaves])
    trained = [i for i in range(len(leaves)) if counts[i] > 0]
    if len(trained) < 3:
        return {}
    ranked = sorted(trained, key=lambda i: (counts[i], leaves[i]))  # fewest first; ties by id
    third = len(ranked) // 3
    tail, head = ranked[:third], ranked[-third:]
    if counts[tail].max() >= counts[head].min():
        return {}
    targets = np.asarray(targets)
    known = targets >= 0
    pred = np.asarray(leaf_probs)[known].argmax(axis=1)
    true = targets[known]
    out: dict[str, Any] = {"tail_leaves": len(tail), "tail_train_max": int(counts[tail].max()),
                           "head_train_min": int(counts[head].min())}  # fmt: skip
    for name, part in (("tail", tail), ("head", head)):
        inside = np.isin(true, part)
        out[f"{name}_n"] = int(inside.sum())
        out[f"{name}_top1"] = float((pred[inside] == true[inside]).mean()) if inside.any() else float("nan")
        recalls = [float((pred[true == i] == i).mean()) for i in part if (true == i).any()]
        out[f"{name}_macro_recall"] = float(np.mean(recalls)) if recalls else float("nan")
    predicted = set(pred.tolist())
    out["tail_never_predicted"] = sum(1 for i in tail if (true == i).any() and i not in predicted)
    return out
