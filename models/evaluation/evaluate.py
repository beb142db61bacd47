"""Evaluating a bundle on labelled images: the metrics of ``metrics.json`` (``fma-model evaluate``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from models.data.manifest import Sample
from models.data.samples import DataError

if TYPE_CHECKING:
    from models.bundle.io import LoadedBundle


def evaluate_bundle(bundle: LoadedBundle, samples: list[Sample], *, batch_size: int = 32,
                    device: str = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the bundle on samples and compute the metrics.

    With ``unknown:*`` samples the metrics get ``unknown_auroc`` (of the calibrated unknown score, or of
    ``1 - max leaf probability`` for an uncalibrated bundle; ``unknown_method`` says which). A calibrated
    bundle routes every image exactly as the Predictor does (thresholds, unknown filter, spot checks)
    and adds ``auto_coverage``, ``auto_purity``, ``unknown_auto_rate`` and ``route_reasons`` (counts); with
    group and subgroup thresholds (issue #17) also the known images' ``determined_level_share``,
    ``determined_at_least``, ``hierarchical_coverage``, ``hierarchical_purity`` and ``hierarchical_purity_by_level``
    (:func:`models.evaluation.selective.hierarchical_selective`), and with unknown:* samples
    ``unknown_determined``, how many of them got a determined node (each one wrong there). Images with more than
    one label, or a multi-label bundle, add ``multilabel`` (:mod:`models.evaluation.multilabel`); the single-label
    metrics score the first label.

    Returns:
        (metrics, raw) where raw holds leaf_probs, targets, unknown mask, read errors, and
        auto/reasons/unknown_scores (None when not computed).
    """
    from models.evaluation.metrics import compute_metrics
    from models.evaluation.selective import hierarchical_selective
    from models.inference.collect import collect_outputs, route_outputs
    from models.inference.predictor import Predictor
    from models.routing.policy import REASONS, determined_batch

    tax = bundle.taxonomy
    predictor = Predictor(bundle, device=device, batch_size=batch_size)
    cal = predictor.calibration
    out = collect_outputs(predictor, [s.path for s in samples], keys=cal is not None and cal.draws_spot_checks)
    kept = [samples[i] for i in out.index]
    if not kept:  # (a share not mounted, a manifest of the wrong folder): say so, not what routing misses then
        raise DataError(f"none of the {len(samples)} images to evaluate could be read" if samples else
                        "no images to evaluate: the split is empty, or none of its files could be read")
    unknown = np.array([s.is_unknown for s in kept], dtype=bool)
    leaf_pos = {leaf: i for i, leaf in enumerate(tax.leaves)}
    targets = np.array([leaf_pos.get(s.label, -1) for s in kept], dtype=np.int64)
    leaf_probs = out.leaf_probs
    kwargs: dict[str, Any] = {}
    auto = reasons = scores = None
    method = None
    if cal is not None:
        auto, reasons, scores = route_outputs(cal, tax, out)
        kwargs["auto_mask"] = auto
        method = cal.unknown.method if cal.unknown is not None else None
    if unknown.any():
        kwargs["unknown_mask"] = unknown
        if scores is None:
            scores, method = 1.0 - leaf_probs.max(axis=1).astype(np.float64), "max_softmax"
        kwargs["unknown_scores"] = scores
    metrics = compute_metrics(leaf_probs, targets, tax, **kwargs)
    if method is not None and unknown.any():
        metrics["unknown_method"] = method
    if reasons is not None:
        metrics["route_reasons"] = {r: sum(r in why for why in reasons) for r in REASONS}
    if cal is not None and cal.node_thresholds and (~unknown).any():
        nodes, levels = determined_batch(cal, tax, leaf_probs, reasons)
        known = np.flatnonzero(~unknown)
        metrics.update(hierarchical_selective([nodes[i] for i in known], levels[known], targets[known], tax))
        if unknown.any():  # an image outside the tree with a determined node: wrong at that node, whatever it is
            metrics["unknown_determined"] = int((levels[unknown] >= 0).sum())
    if predictor.is_multilabel or any(s.extra_labels for s in kept):
        metrics["multilabel"] = _multilabel(predictor, out.level_logits, leaf_probs, kept, unknown)
    metrics["unreadable"] = len(out.errors)
    raw = {"leaf_probs": leaf_probs, "targets": targets, "unknown": unknown,
           "errors": {str(samples[i].path): e for i, e in out.errors.items()},
           "auto": auto, "reasons": reasons, "unknown_scores": scores}
    return metrics, raw


def _multilabel(predictor: Any, level_logits: list[np.ndarray], leaf_probs: np.ndarray, kept: list[Sample],
                unknown: np.ndarray) -> dict[str, Any]:
    """:func:`models.evaluation.multilabel.multilabel_metrics` of the known images: a multi-label bundle's
    presence scores and predicted sets, a single-label bundle's leaf distribution and Top-1."""
    from models.evaluation.multilabel import multilabel_metrics, predicted_matrix, truth_matrix

    tax = predictor.taxonomy
    known = ~unknown
    scores = leaf_probs
    if predictor.is_multilabel:
        scores = predictor.presence_scores(level_logits)
    truth = truth_matrix([s.labels for s, k in zip(kept, known, strict=True) if k], tax.leaves)
    predicted = predicted_matrix(scores[known], multilabel=predictor.is_multilabel,
                                 thresholds=predictor.presence_thresholds)
    metrics = multilabel_metrics(scores[known], predicted, truth, tax)
    record = predictor.manifest.multilabel
    if predictor.is_multilabel and record is not None and record.is_calibrated:
        metrics["set_routing"] = _set_routing(scores, predictor.presence_thresholds, record.set_threshold,
                                              (predicted == truth).all(axis=1), known)
    return metrics


def _set_routing(scores: np.ndarray, thresholds: np.ndarray | None, set_threshold: float | None,
                 exact: np.ndarray, known: np.ndarray) -> dict[str, Any]:
    """How a set-calibrated multi-label bundle routes the images (``calibrate``'s promise, checked on these ones):
    the share auto-judged, the share of the auto-judged known images whose whole set is right, and the share of the
    unknown images auto-judged."""
    from models.inference.outputs import set_auto

    auto = set_auto(scores, thresholds, set_threshold)
    auto_known = auto[known]
    return {"set_threshold": set_threshold, "auto_coverage": round(float(auto.mean()), 5) if len(auto) else None,
            "auto_known": int(auto_known.sum()),
            "auto_set_purity": round(float(exact[auto_known].mean()), 5) if auto_known.any() else None,
            "unknown_auto_rate": round(float(auto[~known].mean()), 5) if (~known).any() else None}


def select_unknown(samples: list[Sample], chosen: list[Sample], mode: str) -> list[Sample]:
    """Apply ``--unknown``: ``split`` keeps the split's unknown:* samples, ``all`` adds every unknown:*
    sample of the data whatever its split, ``none`` drops them."""
    if mode == "none":
        return [s for s in chosen if not s.is_unknown]
    if mode == "all":
        return [s for s in chosen if not s.is_unknown] + [s for s in samples if s.is_unknown]
    return chosen


def outlier_overlap_warning(n_outliers: int, samples: list[Sample]) -> str | None:
    """A warning when train-split unknown:* images are scored by a bundle trained with ``n_outliers``
    outlier-exposure images (its manifest's ``train.n_outliers``)."""
    overlap = sum(1 for s in samples if s.is_unknown and s.split == "train")
    if n_outliers and overlap:
        return (f"warning: {overlap} unknown:* image(s) of the train split are scored, and this bundle was trained "
                f"with {n_outliers} outlier-exposure images of a train split; if they are the same images, the "
                "unknown metrics are optimistic (use --unknown split or a separate test set)")
    return None


def never_predicted_warning(metrics: dict[str, Any]) -> str | None:
    """A warning naming the leaves with test images that the model predicted for no image (``never_predicted``
    of ``metrics.json``): a model that never says a rare leaf can still post a high top-1."""
    never = metrics.get("never_predicted") or []
    if not never:
        return None
    support = {leaf: (metrics.get("per_class") or {}).get(leaf, {}).get("support") for leaf in never}
    named = ", ".join(f"{leaf} ({n} image(s))" if n else leaf for leaf, n in support.items())
    return (f"WARNING: {len(never)} leaf/leaves never predicted on this split although it holds images of them: "
            f"{named}")
