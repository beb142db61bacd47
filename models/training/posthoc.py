"""Post-hoc logit adjustment (``imbalance: posthoc``): rare leaves learned without training on a skewed loss.

Menon et al. 2021 ("Long-tail learning via logit adjustment") show that a network trained with the plain
cross-entropy on long-tailed data learns ``p(leaf | x)``, whose arg-max favours frequent leaves; dividing it by
``prior(leaf) ** tau`` before the arg-max trades a little overall accuracy for the rare leaves' recall. Here the
trade is chosen by measurement, on the validation images, after training:

* the leaf logits of the best epoch's weights are collected once on the validation split;
* for every ``tau`` of :data:`TAUS`, the leaf scores become ``z_leaf - tau * log(prior_leaf)`` (``prior`` = the
  training set's leaf frequencies, a leaf without images counted once) and validation Top-1 and macro recall
  are measured;
* the ``tau`` with the highest macro recall whose Top-1 stays within :data:`TOLERANCE` of the unadjusted
  model's is kept (the smallest such ``tau`` on a tie; ``tau = 0`` when none gains).

The adjustment is folded into the bias of the leaf classifier, so the bundle, its ONNX export, the heatmaps and
the calibration that follows all see the adjusted model and nothing downstream knows about it. For the
hierarchical heads the leaf distribution is the renormalised product of the per-level softmaxes
(:func:`models.inference.outputs.combine_levels`); shifting the leaf level's logits alone divides that product
by ``prior ** tau`` exactly (each image's normaliser is common to all its leaves), as for the flat head.

Compared with training on a re-balanced loss or sampler (``balanced_sampling``, ``logit_adjust``...), the
network itself is the one the plain recipe trains, so the frequent leaves keep the accuracy of that recipe; on
the grayscale long-tail regime of ``python -m bench.regimes`` that is what the measurement favoured as ``auto``'s
choice (README, "Rare leaves over three training seeds"; classifier re-training, :mod:`models.training.crt`, learns
the rare leaves better at the frequent leaves' cost).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from models.inference.outputs import combine_levels

__all__ = ["PRIOR_BACK", "TAUS", "TOLERANCE", "PosthocChoice", "PriorBack", "adjust_on_validation", "apply_adjustment", "choose_prior_back", "choose_tau",
           "leaf_classifier", "leaf_probs", "measure"]

TAUS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
"""The ``tau`` values tried (Menon et al.'s optimum for balanced error is ``tau = 1``)."""
TOLERANCE = 0.01
"""How much validation Top-1 the adjustment may cost (a fraction: 0.01 = one point)."""
PRIOR_BACK = (0.0, 0.25, 0.5, 0.75, 1.0)
"""The shares of the prior given back to a class-balanced leaf classifier (``crt``, :func:`choose_prior_back`)."""


@dataclass
class PriorBack:
    """A chosen ``tau`` and what each candidate measured on the validation images; as such, the share of the log
    prior given back to a class-balanced leaf classifier (``crt``, :func:`choose_prior_back`)."""

    tau: float
    rows: list[dict[str, float]] = field(default_factory=list)  # tau, top1, macro_recall, never_predicted

    def row(self, tau: float) -> dict[str, float]:
        return next(r for r in self.rows if r["tau"] == tau)


@dataclass
class PosthocChoice(PriorBack):
    """The ``tau`` of the post-hoc adjustment (``z_leaf - tau * log(prior)``), with its log line and record."""

    def line(self) -> str:
        """One log line: the chosen tau and the validation figures before and after."""
        base, best = self.row(0.0), self.row(self.tau)
        return (f"imbalance posthoc: leaf logits - {self.tau:g} * log(prior) (validation top1 "
                f"{base['top1']:.3f} -> {best['top1']:.3f}, macro recall {base['macro_recall']:.3f} -> "
                f"{best['macro_recall']:.3f}, leaves never predicted {base['never_predicted']} -> "
                f"{best['never_predicted']}; tau tried {', '.join(f'{t:g}' for t in TAUS)})")

    def to_json(self) -> dict[str, Any]:
        """The bundle's ``train.data_choices["imbalance_posthoc"]`` (the shape of the data-aware choices)."""
        return {"value": self.tau, "source": "validation", "reason": self.line(), "tolerance": TOLERANCE,
                "validation": self.rows}


def adjust_on_validation(method: str, predictor: Any, val: Sequence[Any], taxonomy: Any, leaf_counts: Sequence[int],
                         *, is_flat: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """Fold the adjustment of ``method`` into ``predictor.model``'s leaf classifier, chosen on the validation
    samples ``val``; returns the bundle's ``train.data_choices`` record of it.

    * ``posthoc``: ``- tau * log(prior)``, ``tau`` by :func:`choose_tau`;
    * ``balanced_softmax``: the network learned balanced logits (the prior was added in its loss), so, as for
      ``crt``, a share of the prior is given back (:func:`choose_prior_back`): on the grayscale long-tail regime
      the balanced leaf classifier cost the most frequent leaves 8 points of recall (README, "Two more methods for
      the hierarchical head").

    Without validation images nothing changes (``tau`` 0).
    """
    from models.inference.collect import collect_outputs

    if not val:
        log(f"imbalance {method}: no validation images, so no adjustment (tau 0)")
        return {"value": 0.0, "source": "validation", "reason": "no validation images"}
    out = collect_outputs(predictor, [s.path for s in val])
    leaf_pos = {leaf: i for i, leaf in enumerate(taxonomy.leaves)}
    targets = np.array([leaf_pos[val[i].label] for i in out.index], dtype=np.int64)
    if method == "balanced_softmax":
        back = choose_prior_back(out.level_logits, targets, leaf_counts, taxonomy.leaf_level_index, is_flat=is_flat)
        apply_adjustment(predictor.model, leaf_counts, -back.tau)
        base, best = back.row(0.0), back.row(back.tau)
        line = (f"imbalance balanced_softmax: {back.tau:g} of the leaf log prior given back (validation top1 "
                f"{base['top1']:.3f} -> {best['top1']:.3f}, macro recall {base['macro_recall']:.3f} -> "
                f"{best['macro_recall']:.3f}, leaves never predicted {base['never_predicted']} -> "
                f"{best['never_predicted']}; shares tried {', '.join(f'{t:g}' for t in PRIOR_BACK)})")
        log(line)
        return {"value": back.tau, "source": "validation", "reason": line, "tolerance": TOLERANCE,
                "validation": back.rows}
    choice = choose_tau(out.level_logits, targets, leaf_counts, taxonomy.leaf_level_index, is_flat=is_flat)
    apply_adjustment(predictor.model, leaf_counts, choice.tau)
    log(choice.line())
    return choice.to_json()


def log_prior(leaf_counts: Sequence[int]) -> np.ndarray:
    """``log`` of the training leaf frequencies (a leaf without images counts once)."""
    n = np.maximum(np.asarray(leaf_counts, dtype=np.float64), 1.0)
    return np.log(n / n.sum())


def leaf_probs(level_logits: Sequence[np.ndarray], leaf_level_index: np.ndarray, is_flat: bool) -> np.ndarray:
    """The leaf distribution of raw per-level logits, as the predictor makes it (flat: the last level's softmax;
    per-level heads: the renormalised product of the levels' softmaxes)."""

    def softmax(z: np.ndarray) -> np.ndarray:
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    if is_flat:
        return softmax(np.asarray(level_logits[-1], dtype=np.float64))
    return combine_levels([softmax(np.asarray(z, dtype=np.float64)) for z in level_logits], leaf_level_index)


def measure(pred: np.ndarray, targets: np.ndarray, num_leaves: int) -> dict[str, float]:
    """Top-1, macro recall over the leaves present and the number of present leaves never predicted."""
    support = np.bincount(targets, minlength=num_leaves)
    hits = np.bincount(targets[pred == targets], minlength=num_leaves)
    predicted = np.bincount(pred, minlength=num_leaves)
    present = support > 0
    return {"top1": float((pred == targets).mean()),
            "macro_recall": float((hits[present] / support[present]).mean()),
            "never_predicted": int((present & (predicted == 0)).sum())}


def choose_tau(level_logits: Sequence[np.ndarray], targets: np.ndarray, leaf_counts: Sequence[int],
               leaf_level_index: np.ndarray, *, is_flat: bool) -> PosthocChoice:
    """Measure every ``tau`` of :data:`TAUS` on validation logits and pick one (see the module docstring).

    Args:
        level_logits: the raw per-level logits of the validation images, (n, n_k) each.
        targets: each image's leaf index, (n,).
        leaf_counts: training images per leaf, in taxonomy order.
        leaf_level_index: ``taxonomy.leaf_level_index``.
        is_flat: the network has the flat head (its leaf distribution is the last level's softmax).
    """
    rows = _measure_taus(level_logits, targets, leaf_counts, leaf_level_index, is_flat, TAUS)
    floor = rows[0]["top1"] - TOLERANCE - 1e-9
    best = max((r for r in rows if r["top1"] >= floor), key=lambda r: (r["macro_recall"], -r["tau"]))
    return PosthocChoice(tau=best["tau"], rows=rows)


def choose_prior_back(level_logits: Sequence[np.ndarray], targets: np.ndarray, leaf_counts: Sequence[int],
                      leaf_level_index: np.ndarray, *, is_flat: bool) -> PriorBack:
    """The mirror of :func:`choose_tau` for a leaf classifier learned class-balanced (``crt``): how much of the
    prior to give back, ``z_leaf + tau * log(prior_leaf)`` for ``tau`` in :data:`PRIOR_BACK`, measured on the
    validation logits. Kept: the highest validation Top-1 among the ``tau`` that leave no more leaves never
    predicted than ``tau = 0`` and keep its macro recall within :data:`TOLERANCE` (the smallest ``tau`` on a
    tie). The returned ``tau`` is the amount given back (``apply_adjustment(model, counts, -tau)`` folds it in).
    """
    rows = _measure_taus(level_logits, targets, leaf_counts, leaf_level_index, is_flat, PRIOR_BACK, sign=1.0)
    base = rows[0]
    fair = [r for r in rows if r["never_predicted"] <= base["never_predicted"]
            and r["macro_recall"] >= base["macro_recall"] - TOLERANCE - 1e-9]
    best = max(fair, key=lambda r: (r["top1"], -r["tau"]))
    return PriorBack(tau=best["tau"], rows=rows)


def _measure_taus(level_logits: Sequence[np.ndarray], targets: np.ndarray, leaf_counts: Sequence[int],
                  leaf_level_index: np.ndarray, is_flat: bool, taus: Sequence[float],
                  sign: float = -1.0) -> list[dict[str, float]]:
    """Validation Top-1, macro recall and leaves never predicted with ``z_leaf + sign * tau * log(prior)``, per
    ``tau`` (``sign`` -1: the post-hoc adjustment; +1: the prior given back)."""
    targets = np.asarray(targets, dtype=np.int64)
    if targets.size == 0:
        raise ValueError("post-hoc adjustment needs validation images")
    shift = log_prior(leaf_counts)
    leaf = np.asarray(level_logits[-1], dtype=np.float64)
    if leaf.shape[1] != shift.shape[0]:
        raise ValueError(f"{leaf.shape[1]} leaf logits but {shift.shape[0]} leaf counts")
    rows = []
    for tau in taus:
        levels = [*level_logits[:-1], leaf + sign * tau * shift]
        pred = leaf_probs(levels, leaf_level_index, is_flat).argmax(axis=1)
        rows.append({"tau": tau, **measure(pred, targets, shift.shape[0])})
    return rows


def leaf_classifier(model: nn.Module) -> nn.Linear:
    """The linear layer whose outputs are the leaf logits (the flat head's ``fc``, the level head's last)."""
    head = getattr(model, "head", None)
    layer = getattr(head, "fc", None)
    if layer is None and hasattr(head, "classifiers"):
        layer = head.classifiers[-1]
    if not isinstance(layer, nn.Linear) or layer.bias is None:
        raise TypeError(f"no leaf classifier with a bias in {type(head).__name__}")
    return layer


def apply_adjustment(model: nn.Module, leaf_counts: Sequence[int], tau: float) -> None:
    """Fold ``- tau * log(prior)`` into the leaf classifier's bias, in place."""
    if tau == 0:
        return
    layer = leaf_classifier(model)
    shift = torch.as_tensor(-tau * log_prior(leaf_counts), dtype=layer.bias.dtype, device=layer.bias.device)
    if shift.shape != layer.bias.shape:
        raise ValueError(f"{shift.shape[0]} leaf counts for a classifier of {layer.bias.shape[0]} leaves")
    with torch.no_grad():
        layer.bias.add_(shift)
