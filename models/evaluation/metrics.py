"""Evaluation metrics for the hierarchical leaf classifier.

Everything here works on plain numpy arrays: the caller runs the model and passes the
path-consistent leaf distribution, the true leaf indices and the taxonomy. No torch.

Conventions used throughout:

* "known" samples are those whose true label is a leaf of the taxonomy
  (``~unknown_mask``); all classification metrics use only them.
* The confidence of a prediction is its maximum leaf probability and the prediction
  is the arg-max leaf (ties go to the lowest leaf index).
* A metric that is undefined for the given data (for example accuracy over zero known
  samples, or an AUROC without both classes) is ``float("nan")``; the report writer
  turns it into JSON ``null``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from models.taxonomy import Taxonomy

__all__ = [
    "auroc",
    "bootstrap_ci",
    "compute_metrics",
    "confusion_matrix",
    "expected_calibration_error",
    "hierarchical_prf",
    "paired_bootstrap_ci",
    "reliability_bins",
    "risk_coverage_curve",
    "topk_accuracy",
]

_SUM_TOLERANCE = 1e-3


def _as_1d(name: str, values: Any, dtype: Any) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _check_same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        details = ", ".join(f"{name}={length}" for name, length in lengths.items())
        raise ValueError(f"arrays must have the same length: {details}")
    return next(iter(lengths.values()))


def _ranked(probs: np.ndarray) -> np.ndarray:
    """Class indices per row, most probable first; ties keep the lower index first."""
    return np.argsort(-probs, axis=1, kind="stable")


def topk_accuracy(probs: np.ndarray, targets: np.ndarray, k: int) -> float:
    """Share of samples whose target is among the ``k`` most probable classes.

    Args:
        probs: ``(N, C)`` scores; only their order within a row matters.
        targets: ``(N,)`` class indices in ``[0, C)``.
        k: how many top classes count as a hit; values above ``C`` are clipped to ``C``.

    Returns:
        The accuracy in ``[0, 1]``, or ``nan`` when ``N == 0``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    targets = _as_1d("targets", targets, np.int64)
    if probs.ndim != 2:
        raise ValueError(f"probs must be (N, C), got shape {probs.shape}")
    _check_same_length(probs=probs, targets=targets)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if len(targets) == 0:
        return float("nan")
    _check_class_range("targets", targets, probs.shape[1])
    top = _ranked(probs)[:, : min(k, probs.shape[1])]
    return float(np.mean(np.any(top == targets[:, None], axis=1)))


def _check_class_range(name: str, values: np.ndarray, num_classes: int) -> None:
    if len(values) and (values.min() < 0 or values.max() >= num_classes):
        bad = values[(values < 0) | (values >= num_classes)][0]
        raise ValueError(f"{name} holds class index {bad}, outside [0, {num_classes})")


def confusion_matrix(pred: np.ndarray, targets: np.ndarray, num_classes: int) -> np.ndarray:
    """Count matrix with true classes as rows and predicted classes as columns.

    Args:
        pred: ``(N,)`` predicted class indices.
        targets: ``(N,)`` true class indices.
        num_classes: the matrix size ``C``; every index must lie in ``[0, C)``.

    Returns:
        ``(C, C)`` int64 array; ``m[t, p]`` is the number of samples of class ``t``
        predicted as ``p``.
    """
    pred = _as_1d("pred", pred, np.int64)
    targets = _as_1d("targets", targets, np.int64)
    _check_same_length(pred=pred, targets=targets)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    _check_class_range("pred", pred, num_classes)
    _check_class_range("targets", targets, num_classes)
    flat = np.bincount(targets * num_classes + pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def risk_coverage_curve(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Selective-classification risk at every coverage.

    Samples are sorted by confidence, highest first (a stable sort, so tied samples keep
    their input order). Keeping the top ``k`` samples gives coverage ``k / n`` and risk
    ``errors among the top k / k``.

    Args:
        confidence: ``(n,)`` confidence per sample (higher = more sure).
        correct: ``(n,)`` booleans, True where the prediction is right.

    Returns:
        ``(coverage, risk)``, both ``(n,)`` float arrays for ``k = 1 .. n``. The AURC is
        ``risk.mean()``.
    """
    confidence = _as_1d("confidence", confidence, np.float64)
    correct = _as_1d("correct", correct, bool)
    n = _check_same_length(confidence=confidence, correct=correct)
    order = np.argsort(-confidence, kind="stable")
    errors = np.cumsum(~correct[order])
    kept = np.arange(1, n + 1, dtype=np.float64)
    return kept / max(n, 1), errors / kept


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> dict[str, np.ndarray]:
    """Equal-width confidence bins for a reliability diagram and the ECE.

    Bin ``b`` holds confidences in ``(edges[b], edges[b + 1]]``; a confidence of exactly 0
    goes to the first bin.

    Args:
        confidence: ``(n,)`` confidences in ``[0, 1]``.
        correct: ``(n,)`` booleans.
        n_bins: number of bins over ``[0, 1]``.

    Returns:
        ``{"edges": (n_bins + 1,), "accuracy": (n_bins,), "confidence": (n_bins,),
        "count": (n_bins,)}``; accuracy and mean confidence are ``nan`` in empty bins.
    """
    confidence = _as_1d("confidence", confidence, np.float64)
    correct = _as_1d("correct", correct, bool)
    _check_same_length(confidence=confidence, correct=correct)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if len(confidence) and (np.nanmin(confidence) < 0.0 or np.nanmax(confidence) > 1.0 + 1e-9):
        raise ValueError("confidence values must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges[1:-1], confidence, side="left"), 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    hits = np.bincount(index, weights=correct.astype(np.float64), minlength=n_bins)
    conf_sum = np.bincount(index, weights=confidence, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(count > 0, hits / count, np.nan)
        mean_conf = np.where(count > 0, conf_sum / count, np.nan)
    return {"edges": edges, "accuracy": accuracy, "confidence": mean_conf, "count": count}


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> float:
    """ECE: ``sum_b count_b / n * |accuracy_b - mean confidence_b|`` over equal-width bins.

    Returns ``nan`` for no samples.
    """
    bins = reliability_bins(confidence, correct, n_bins)
    total = int(bins["count"].sum())
    if total == 0:
        return float("nan")
    filled = bins["count"] > 0
    gaps = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    return float(np.sum(bins["count"][filled] / total * gaps))


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive outscores a random negative.

    Ties count one half (Mann-Whitney U with average ranks).

    Args:
        scores: ``(n,)`` scores, higher = more likely positive.
        positive: ``(n,)`` booleans.

    Returns:
        The AUROC in ``[0, 1]``, or ``nan`` without at least one positive and one negative.
    """
    scores = _as_1d("scores", scores, np.float64)
    positive = _as_1d("positive", positive, bool)
    _check_same_length(scores=scores, positive=positive)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)  # 1-based rank of the last member of each tie group
    average_rank = upper - (counts - 1) / 2.0
    rank_sum = float(np.sum(average_rank[inverse][positive]))
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def _bootstrap_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot`` bootstrap replicates of the mean of ``values`` (resampled with replacement).

    A resample is only a count per distinct value, drawn from a multinomial: for 0/1 values (right or
    wrong) one replicate costs O(1) whatever the number of images, and the result is the same
    distribution as resampling the images themselves.
    """
    distinct, counts = np.unique(values, return_counts=True)
    n = len(values)
    draws = np.random.default_rng(seed).multinomial(n, counts / n, size=n_boot)
    return draws @ distinct / n


def bootstrap_ci(
    per_image: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a mean, e.g. top-1 from per-image correctness.

    Args:
        per_image: ``(n,)`` per-image values (booleans for an accuracy).
        n_boot: bootstrap replicates.
        seed: random seed; the same inputs give the same interval.
        level: coverage of the interval (0.95: the 2.5 % and 97.5 % quantiles).

    Returns:
        ``(low, high)``; ``(nan, nan)`` without images.
    """
    values = _as_1d("per_image", per_image, np.float64)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    if len(values) == 0:
        return float("nan"), float("nan")
    if not np.all(np.isfinite(values)):
        raise ValueError("per_image must be finite")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(_bootstrap_means(values, n_boot, seed), [tail, 1.0 - tail])
    return float(low), float(high)


def paired_bootstrap_ci(
    per_image_a: np.ndarray, per_image_b: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Bootstrap confidence interval of ``mean(b) - mean(a)`` for two models scored on the same images.

    The images are resampled as pairs (image i keeps both its results), so what the two models share
    (easy and hard images) cancels; the interval is narrower than two separate intervals suggest. When
    it contains 0 the difference is a tie at this ``level``.

    Args:
        per_image_a: ``(n,)`` per-image values of model A (e.g. correct top-1).
        per_image_b: ``(n,)`` values of model B on the same images in the same order.
        n_boot, seed, level: as :func:`bootstrap_ci`.

    Returns:
        ``(low, high)`` of B - A; ``(nan, nan)`` without images.
    """
    a = _as_1d("per_image_a", per_image_a, np.float64)
    b = _as_1d("per_image_b", per_image_b, np.float64)
    _check_same_length(per_image_a=a, per_image_b=b)
    return bootstrap_ci(b - a, n_boot=n_boot, seed=seed, level=level)


def _path_lengths(taxonomy: Taxonomy) -> np.ndarray:
    """Number of non-root ancestors of each leaf, the leaf included (``len(path)``)."""
    return np.array([len(taxonomy.path(leaf)) for leaf in taxonomy.leaves], dtype=np.int64)


def hierarchical_prf(pred: np.ndarray, targets: np.ndarray, taxonomy: Taxonomy) -> tuple[float, float, float]:
    """Micro-averaged hierarchical precision, recall and F1 (Kiritchenko et al.).

    Each leaf stands for the set of its ancestors and itself, the root excluded
    (``taxonomy.path(leaf)``). With ``P`` the set of the predicted leaf and ``T`` that of the
    true leaf: ``hP = sum |P ∩ T| / sum |P|``, ``hR = sum |P ∩ T| / sum |T|`` and
    ``hF = 2 hP hR / (hP + hR)``, sums over samples.

    Args:
        pred: ``(N,)`` predicted leaf indices.
        targets: ``(N,)`` true leaf indices.
        taxonomy: the tree the indices refer to (``taxonomy.leaves`` order).

    Returns:
        ``(precision, recall, f1)``, each ``nan`` for no samples.
    """
    pred = _as_1d("pred", pred, np.int64)
    targets = _as_1d("targets", targets, np.int64)
    n = _check_same_length(pred=pred, targets=targets)
    num_leaves = len(taxonomy.leaves)
    _check_class_range("pred", pred, num_leaves)
    _check_class_range("targets", targets, num_leaves)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    lengths = _path_lengths(taxonomy)
    padded = np.asarray(taxonomy.leaf_level_index)
    # Two paths share a node at level k exactly when their (padded) level indices agree on
    # levels 0..k; padding repeats a leaf past its depth, so cap at the shorter real path.
    same = padded[pred] == padded[targets]
    shared_prefix = np.cumprod(same, axis=1).sum(axis=1)
    overlap = np.minimum(shared_prefix, np.minimum(lengths[pred], lengths[targets]))
    precision = float(overlap.sum() / lengths[pred].sum())
    recall = float(overlap.sum() / lengths[targets].sum())
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, float(f1)


def marginalize_to_levels(leaf_probs: np.ndarray, taxonomy: Taxonomy) -> list[np.ndarray]:
    """Sum leaf probabilities into each tree level's nodes.

    Returns one ``(N, level_sizes[k])`` array per level; the last one equals ``leaf_probs``
    (up to the padded-leaf order, which is the same as ``taxonomy.leaves``).
    """
    index = np.asarray(taxonomy.leaf_level_index)
    out = []
    for level, size in enumerate(taxonomy.level_sizes):
        membership = np.zeros((len(taxonomy.leaves), size), dtype=np.float64)
        membership[np.arange(len(taxonomy.leaves)), index[:, level]] = 1.0
        out.append(leaf_probs @ membership)
    return out


def _per_class(pred: np.ndarray, targets: np.ndarray, taxonomy: Taxonomy) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per leaf; an undefined ratio (0 / 0) is 0.0."""
    matrix = confusion_matrix(pred, targets, len(taxonomy.leaves))
    true_pos = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    result: dict[str, dict[str, float]] = {}
    for i, leaf in enumerate(taxonomy.leaves):
        precision = true_pos[i] / predicted[i] if predicted[i] else 0.0
        recall = true_pos[i] / support[i] if support[i] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        result[leaf] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(support[i]),
        }
    return result


def _rare_class_summary(pred: np.ndarray, targets: np.ndarray, taxonomy: Taxonomy) -> dict[str, Any]:
    """Macro recall, the worst leaf and the never-predicted leaves, over leaves present in ``targets``."""
    leaves = taxonomy.leaves
    support = np.bincount(targets, minlength=len(leaves))
    predicted = np.bincount(pred, minlength=len(leaves))
    hits = np.bincount(targets[pred == targets], minlength=len(leaves))
    present = np.flatnonzero(support > 0)
    if len(present) == 0:
        nan = float("nan")
        return {"macro_recall": nan, "worst_leaf_recall": nan, "worst_leaf": None, "never_predicted": []}
    recall = hits[present] / support[present]
    worst = int(np.argmin(recall))  # ties: the first in taxonomy order
    return {
        "macro_recall": float(recall.mean()),
        "worst_leaf_recall": float(recall[worst]),
        "worst_leaf": leaves[int(present[worst])],
        "never_predicted": [leaves[int(i)] for i in present if predicted[i] == 0],
    }


def _mistake_severity(pred: np.ndarray, targets: np.ndarray, taxonomy: Taxonomy) -> float:
    wrong = pred != targets
    if not np.any(wrong):
        return 0.0
    leaves = taxonomy.leaves
    cache: dict[tuple[int, int], int] = {}
    total = 0
    for p, t in zip(pred[wrong].tolist(), targets[wrong].tolist(), strict=True):
        if (p, t) not in cache:
            cache[(p, t)] = int(taxonomy.tree_distance(leaves[p], leaves[t]))
        total += cache[(p, t)]
    return total / int(wrong.sum())


def _check_leaf_probs(leaf_probs: np.ndarray, num_leaves: int) -> np.ndarray:
    probs = np.asarray(leaf_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != num_leaves:
        raise ValueError(f"leaf_probs must have shape (N, {num_leaves}) for this taxonomy, got {probs.shape}")
    if not np.all(np.isfinite(probs)):
        raise ValueError("leaf_probs contains NaN or infinite values")
    if probs.size and (probs.min() < 0.0 or np.max(np.abs(probs.sum(axis=1) - 1.0)) > _SUM_TOLERANCE):
        raise ValueError("leaf_probs rows must be probability distributions (non-negative, summing to 1)")
    return probs


def _check_level_probs(level_probs: list[np.ndarray], taxonomy: Taxonomy, n: int) -> list[np.ndarray]:
    if len(level_probs) != taxonomy.num_levels:
        raise ValueError(
            f"level_probs must hold {taxonomy.num_levels} arrays (one per level), got {len(level_probs)}"
        )
    checked = []
    for level, (probs, size) in enumerate(zip(level_probs, taxonomy.level_sizes, strict=True)):
        array = np.asarray(probs, dtype=np.float64)
        if array.shape != (n, size):
            raise ValueError(f"level_probs[{level}] must have shape ({n}, {size}), got {array.shape}")
        checked.append(array)
    return checked


def _optional_mask(name: str, mask: np.ndarray | None, n: int) -> np.ndarray | None:
    if mask is None:
        return None
    array = np.asarray(mask)
    if array.shape != (n,) or array.dtype.kind not in "bui":
        raise ValueError(f"{name} must be a boolean array of shape ({n},), got {array.dtype} {array.shape}")
    return array.astype(bool)


def compute_metrics(
    leaf_probs: np.ndarray,
    targets: np.ndarray,
    taxonomy: Taxonomy,
    *,
    level_probs: list[np.ndarray] | None = None,
    unknown_mask: np.ndarray | None = None,
    unknown_scores: np.ndarray | None = None,
    auto_mask: np.ndarray | None = None,
    n_bins: int = 15,
) -> dict[str, Any]:
    """All evaluation metrics for one data split, as a JSON-ready dict.

    Known-class metrics (everything except ``n``, ``n_unknown`` and the unknown/auto keys)
    use only the samples with ``unknown_mask`` False. The prediction is the arg-max leaf and
    its confidence the max leaf probability.

    Keys always present:

    * ``n``: all samples; ``n_known``, ``n_unknown``.
    * ``top1`` .. ``top5``: leaf top-k accuracy; ``top1_ci``: ``[low, high]``, the 95 % bootstrap
      interval of top-1 (:func:`bootstrap_ci`, 1000 replicates, seed 0).
    * ``macro_recall``: the mean of the per-leaf recall over the leaves with test support (every leaf
      counts the same, so a rare leaf the model misses pulls it down where ``top1`` barely moves);
      ``worst_leaf_recall`` and ``worst_leaf``: the lowest of them and its leaf id (the first in
      taxonomy order on a tie; ``None`` without known samples).
    * ``never_predicted``: leaf ids with test support that no image was predicted as (taxonomy order).
    * ``level_top1``: top-1 accuracy per tree level, level 0 = top-level groups, last =
      leaves. By default each level's distribution is the leaf distribution marginalised
      onto that level (leaf probabilities summed per ancestor through
      ``taxonomy.leaf_level_index``); when ``level_probs`` is given its arrays are used
      instead. ``level_top1_source`` says which (``"leaf_marginal"`` or ``"level_probs"``).
    * ``hier_precision``, ``hier_recall``, ``hier_f1``: see :func:`hierarchical_prf`.
    * ``mistake_severity``: mean ``taxonomy.tree_distance`` between predicted and true leaf
      over the wrong top-1 predictions; 0.0 when there are none (no mistakes, nothing
      severe), so the value stays a number and lower is always better. ``n_mistakes``
      gives the count it averages over.
    * ``ece``: expected calibration error over ``n_bins`` equal-width bins of the max leaf
      probability (:func:`expected_calibration_error`).
    * ``aurc``: area under the risk-coverage curve of the max leaf probability, the mean
      risk over coverages ``k / n`` (:func:`risk_coverage_curve`).
    * ``per_class``: ``{leaf_id: {precision, recall, f1, support}}`` for every leaf;
      precision/recall/F1 that would divide by zero are 0.0.

    Keys present only with the matching optional inputs:

    * ``unknown_auroc`` (needs ``unknown_scores`` and ``unknown_mask``): AUROC of
      ``unknown_scores`` (higher = more likely unknown) at separating unknown samples from
      known ones, over all samples; ``nan`` unless both kinds are present.
    * ``auto_coverage`` (needs ``auto_mask``): auto-judged samples / all samples, known
      and unknown.
    * ``auto_purity`` (needs ``auto_mask``): auto-judged known samples with a correct top-1
      leaf / all auto-judged samples; an auto-judged unknown counts as wrong. ``nan`` when
      nothing was auto-judged.
    * ``unknown_auto_rate`` (needs ``auto_mask`` and ``unknown_mask``): auto-judged unknown
      samples / unknown samples; ``nan`` without unknowns.

    Args:
        leaf_probs: ``(N, num_leaves)`` path-consistent leaf distribution, rows summing to 1,
            columns in ``taxonomy.leaves`` order.
        targets: ``(N,)`` true leaf indices; ignored (for example -1) where ``unknown_mask``.
        taxonomy: the tree of the model.
        level_probs: optional per-level distributions ``(N, level_sizes[k])`` for
            ``level_top1``.
        unknown_mask: ``(N,)`` True where the true label is outside the taxonomy.
        unknown_scores: ``(N,)`` unknown-ness score per sample.
        auto_mask: ``(N,)`` True where the routing would auto-judge the sample.
        n_bins: number of bins for the ECE.

    Returns:
        The metrics dict; undefined values are ``nan`` (written as ``null`` by the report).

    Raises:
        ValueError: for inconsistent shapes, invalid probabilities or target indices.
    """
    num_leaves = len(taxonomy.leaves)
    probs = _check_leaf_probs(leaf_probs, num_leaves)
    targets = _as_1d("targets", targets, np.int64)
    n = _check_same_length(leaf_probs=probs, targets=targets)
    unknown = _optional_mask("unknown_mask", unknown_mask, n)
    auto = _optional_mask("auto_mask", auto_mask, n)
    if unknown_scores is not None and unknown is None:
        raise ValueError("unknown_scores needs unknown_mask to tell which samples are unknown")
    known = ~unknown if unknown is not None else np.ones(n, dtype=bool)
    known_targets = targets[known]
    _check_class_range("targets (known samples)", known_targets, num_leaves)
    known_probs = probs[known]
    pred = _ranked(probs)[:, 0]
    known_pred = pred[known]
    correct = known_pred == known_targets
    confidence = known_probs.max(axis=1) if len(known_probs) else np.zeros(0)

    metrics: dict[str, Any] = {"n": n, "n_known": int(known.sum()), "n_unknown": int(n - known.sum())}
    for k in range(1, 6):
        metrics[f"top{k}"] = topk_accuracy(known_probs, known_targets, k)
    metrics["top1_ci"] = list(bootstrap_ci(correct))
    metrics.update(_rare_class_summary(known_pred, known_targets, taxonomy))

    if level_probs is not None:
        per_level = [array[known] for array in _check_level_probs(level_probs, taxonomy, n)]
        metrics["level_top1_source"] = "level_probs"
    else:
        per_level = marginalize_to_levels(known_probs, taxonomy)
        metrics["level_top1_source"] = "leaf_marginal"
    level_targets = np.asarray(taxonomy.leaf_level_index)[known_targets]
    metrics["level_top1"] = [
        float(np.mean(_ranked(array)[:, 0] == level_targets[:, level])) if len(array) else float("nan")
        for level, array in enumerate(per_level)
    ]

    hp, hr, hf = hierarchical_prf(known_pred, known_targets, taxonomy)
    metrics.update(hier_precision=hp, hier_recall=hr, hier_f1=hf)
    metrics["mistake_severity"] = _mistake_severity(known_pred, known_targets, taxonomy)
    metrics["n_mistakes"] = int((~correct).sum())
    metrics["ece"] = expected_calibration_error(confidence, correct, n_bins)
    metrics["n_bins"] = n_bins
    metrics["aurc"] = (
        float(risk_coverage_curve(confidence, correct)[1].mean()) if len(correct) else float("nan")
    )
    metrics["per_class"] = _per_class(known_pred, known_targets, taxonomy)

    if unknown_scores is not None:
        scores = _as_1d("unknown_scores", unknown_scores, np.float64)
        _check_same_length(leaf_probs=probs, unknown_scores=scores)
        metrics["unknown_auroc"] = auroc(scores, unknown)
    if auto is not None:
        metrics["auto_coverage"] = float(auto.mean()) if n else float("nan")
        auto_correct = np.zeros(n, dtype=bool)
        auto_correct[np.flatnonzero(known)[correct]] = True
        auto_correct &= auto
        metrics["auto_purity"] = float(auto_correct.sum() / auto.sum()) if auto.any() else float("nan")
        if unknown is not None:
            metrics["unknown_auto_rate"] = (
                float((auto & unknown).sum() / unknown.sum()) if unknown.any() else float("nan")
            )
    return metrics
