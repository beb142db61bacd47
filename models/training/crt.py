"""Classifier re-training (``imbalance: crt``): the features of the plain recipe, a leaf classifier that sees
every leaf equally often.

Kang et al. 2020 ("Decoupling representation and classifier for long-tailed recognition", ICLR) found that a
network trained on long-tailed data as it is learns good features for every class, and that its frequent classes
win because of the *classifier*: learned mostly from them, it draws their regions too wide. Their cRT step keeps
the trained network frozen and learns the last linear layer again with class-balanced sampling. Here, after
training (the best epoch's weights):

* the inputs of the leaf classifier (:func:`models.training.posthoc.leaf_classifier`: the flat head's ``fc``, or
  the last level's classifier of the per-level heads, after its branch) are collected once for every training
  image, through the predictor (no augmentation, eval mode);
* a new leaf classifier of the same shape is learned on them for :data:`EPOCHS` passes, every batch drawn with a
  leaf of ``n`` training images weighted ``1 / n`` (every leaf equally often), SGD with momentum and a cosine
  learning rate, seeded by the run's seed;
* its weights replace the leaf classifier's; every other layer, the group and subgroup classifiers included,
  keeps what training learned;
* with validation images, part of the prior is given back, ``z_leaf + tau * log(prior)``, ``tau`` chosen on them
  (:func:`models.training.posthoc.choose_prior_back`: the best validation Top-1 that predicts no fewer leaves
  and keeps macro recall within a point). Balanced to the last, the classifier drew the frequent leaves' regions
  too narrow; Kang et al.'s tau-normalisation makes the same correction by another route.

A leaf without training images (a fine-tuning run whose data lack it) gets only pushed down, so it is never
predicted afterwards: ``posthoc`` (or, without validation images, ``balanced_sampling``) suits such runs.

Like :mod:`models.training.posthoc`, the change lives in the leaf classifier's own weights, so the bundle, its
ONNX export, the heatmaps and the calibration that follows all see the re-trained model. The log line gives the
validation figures before and after. What it buys and costs (README, "Rare leaves over three training seeds"): on
the grayscale long-tail regime of ``python -m bench.regimes``, over three training seeds, it left one leaf at
recall 0 on a test set with 30 images of each over three runs per head (the post-hoc adjustment 5 with the flat
head, 9 with the hierarchical one), and cost the six most frequent leaves 4.5 (flat) and 7 (hierarchical) points
of recall against it. ``auto`` picks it for the flat head, where its Top-1 was also higher, and whatever the head
when there are no validation images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from models.training.posthoc import (
    PriorBack,
    apply_adjustment,
    choose_prior_back,
    leaf_classifier,
    leaf_probs,
    measure,
)

__all__ = ["BATCH", "EPOCHS", "LR", "CrtResult", "leaf_inputs", "retrain", "retrain_leaf_classifier"]

EPOCHS = 10
"""Passes over the training images' features (Kang et al. re-train for 10 epochs)."""
LR = 0.03
"""SGD's starting learning rate (momentum 0.9, cosine to 0). On the long-tail regime (both heads, three seeds of the
re-training each) 0.01-0.02 left a rare leaf unpredicted more often and 0.05-0.1 cost the flat head more Top-1."""
WEIGHT_DECAY = 5e-4
BATCH = 32


@dataclass
class CrtResult:
    """What the re-training did, for the log and the bundle's ``train.data_choices["imbalance_crt"]``."""

    images: int
    steps: int
    before: dict[str, float] | None = None  # validation top1, macro_recall, never_predicted (None: no validation)
    after: dict[str, float] | None = None  # ... at the end (with the prior given back)
    prior_back: PriorBack | None = None  # the share of the prior given back, and each share's validation figures

    def line(self) -> str:
        head = (f"imbalance crt: leaf classifier re-trained on the features of {self.images} training images, "
                f"every leaf equally often ({EPOCHS} passes, {self.steps} steps)")
        if self.before is None or self.after is None:
            return head + "; no validation images to measure it on"
        b, a = self.before, self.after
        back = "" if self.prior_back is None else f", then {self.prior_back.tau:g} of the log prior given back"
        return (f"{head}{back}; validation top1 {b['top1']:.3f} -> {a['top1']:.3f}, macro recall "
                f"{b['macro_recall']:.3f} -> {a['macro_recall']:.3f}, leaves never predicted {b['never_predicted']} "
                f"-> {a['never_predicted']}")

    def to_json(self) -> dict[str, Any]:
        return {"value": "crt", "source": "training images", "reason": self.line(), "epochs": EPOCHS, "lr": LR,
                "batch": BATCH, "weight_decay": WEIGHT_DECAY, "images": self.images, "steps": self.steps,
                "validation": None if self.before is None else {"before": self.before, "after": self.after},
                "prior_back": None if self.prior_back is None else {"tau": self.prior_back.tau,
                                                                    "validation": self.prior_back.rows}}


def leaf_inputs(predictor: Any, sources: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The leaf classifier's inputs for images, through ``predictor`` (a
    :class:`models.inference.predictor.Predictor` running the torch model).

    Returns:
        ``(index, features, level_logits)``: the input position of each readable image, its leaf-classifier input
        (n, D), and the per-level logits of the same forward pass.
    """
    from models.inference.collect import collect_outputs

    layer = leaf_classifier(predictor.model)
    parts: list[np.ndarray] = []
    handle = layer.register_forward_pre_hook(lambda _m, args: parts.append(args[0].detach().float().cpu().numpy()))
    try:
        out = collect_outputs(predictor, sources)
    finally:
        handle.remove()
    features = np.concatenate(parts) if parts else np.zeros((0, layer.in_features), np.float32)
    if features.shape[0] != out.index.shape[0]:  # an engine that does not run this module (ONNX, compiled)
        raise RuntimeError(f"{features.shape[0]} leaf-classifier inputs for {out.index.shape[0]} images: the "
                           f"predictor does not run the torch model")
    return out.index, features, out.level_logits


def retrain_leaf_classifier(features: np.ndarray, targets: np.ndarray, num_leaves: int, *, seed: int,
                            epochs: int = EPOCHS, lr: float = LR, outliers: np.ndarray | None = None,
                            outlier_weight: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, int]:
    """A linear leaf classifier learned on ``features`` with every leaf drawn equally often.

    With ``outliers`` (the features of the training run's ``unknown:*`` images) and ``outlier_weight > 0``, every
    step also pushes a batch of them towards a flat output, with that weight: the outlier exposure the network was
    trained with (``loss.outlier_weight``) is kept at the leaf level, where routing reads its unknown score.

    Returns:
        ``(weight, bias, steps)``: (num_leaves, D) and (num_leaves,) float32, and the optimiser steps taken.
    """
    targets = np.asarray(targets, dtype=np.int64)
    if targets.size == 0:
        raise ValueError("classifier re-training needs training images")
    counts = np.bincount(targets, minlength=num_leaves).astype(np.float64)
    lin = nn.utils.skip_init(nn.Linear, features.shape[1], num_leaves)  # takes nothing from the global generator
    init = torch.Generator().manual_seed(seed)
    bound = 1.0 / max(1, features.shape[1]) ** 0.5  # nn.Linear's own initialisation, drawn from the run's seed
    with torch.no_grad():
        lin.weight.uniform_(-bound, bound, generator=init)
        lin.bias.uniform_(-bound, bound, generator=init)
    gen = torch.Generator().manual_seed(seed)  # the batches
    away = torch.as_tensor(outliers, dtype=torch.float32) \
        if outliers is not None and len(outliers) and outlier_weight > 0 else None
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(targets)
    weights = torch.as_tensor(1.0 / counts[targets])
    steps = max(1, epochs * -(-len(targets) // BATCH))
    opt = torch.optim.SGD(lin.parameters(), lr=lr, momentum=0.9, weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    with torch.enable_grad():
        for _ in range(steps):
            pick = torch.multinomial(weights, BATCH, replacement=True, generator=gen)
            loss = nn.functional.cross_entropy(lin(x[pick]), y[pick])
            if away is not None:  # cross-entropy against the uniform distribution
                some = torch.randint(len(away), (BATCH,), generator=gen)
                loss = loss - outlier_weight * nn.functional.log_softmax(lin(away[some]), dim=1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
    return lin.weight.detach().clone(), lin.bias.detach().clone(), steps


def _validation(layer: nn.Linear, features: np.ndarray, level_logits: list[np.ndarray], targets: np.ndarray,
                leaf_level_index: np.ndarray, is_flat: bool) -> dict[str, float]:
    levels = [*level_logits[:-1], _leaf_logits(layer, features)]
    return measure(leaf_probs(levels, leaf_level_index, is_flat).argmax(axis=1), targets, layer.out_features)


def _leaf_logits(layer: nn.Linear, features: np.ndarray) -> np.ndarray:
    """``layer``'s outputs for leaf-classifier inputs, in float64."""
    w = layer.weight.detach().double().cpu().numpy()
    return features.astype(np.float64) @ w.T + layer.bias.detach().double().cpu().numpy()


def retrain(predictor: Any, train: tuple[Sequence[Any], Sequence[int]], val: tuple[Sequence[Any], Sequence[int]],
            *, leaf_level_index: np.ndarray, is_flat: bool, seed: int, outliers: Sequence[Any] = (),
            outlier_weight: float = 0.0) -> CrtResult:
    """Re-train ``predictor.model``'s leaf classifier in place (module docstring).

    Args:
        predictor: the predictor over the trained model.
        train: the training images and their leaf indices.
        val: the validation images and their leaf indices (may be empty): measured before and after.
        leaf_level_index: ``taxonomy.leaf_level_index``.
        is_flat: the network has the flat head.
        seed: the run's seed.
        outliers: the training run's ``unknown:*`` images, kept at a flat output with ``outlier_weight``.
        outlier_weight: ``loss.outlier_weight`` of the run (0: the outliers are not used).
    """
    layer = leaf_classifier(predictor.model)
    index, features, _ = leaf_inputs(predictor, train[0])
    targets = np.asarray(train[1], dtype=np.int64)[index]
    measured = None
    if len(val[0]):
        v_index, v_features, v_logits = leaf_inputs(predictor, val[0])
        v_targets = np.asarray(val[1], dtype=np.int64)[v_index]
        measured = (v_features, v_logits, v_targets) if len(v_index) else None  # none readable: nothing to measure
    before = _validation(layer, *measured, leaf_level_index, is_flat) if measured else None
    away = leaf_inputs(predictor, outliers)[1] if outliers and outlier_weight > 0 else None
    weight, bias, steps = retrain_leaf_classifier(features, targets, layer.out_features, seed=seed, outliers=away,
                                                  outlier_weight=outlier_weight)
    with torch.no_grad():
        layer.weight.copy_(weight.to(layer.weight))
        layer.bias.copy_(bias.to(layer.bias))
    back = None
    if measured:
        counts = np.bincount(targets, minlength=layer.out_features)
        v_features, v_logits, v_targets = measured
        back = choose_prior_back([*v_logits[:-1], _leaf_logits(layer, v_features)], v_targets, counts,
                                 leaf_level_index, is_flat=is_flat)
        apply_adjustment(predictor.model, counts, -back.tau)
    after = _validation(layer, *measured, leaf_level_index, is_flat) if measured else None
    return CrtResult(images=len(targets), steps=steps, before=before, after=after, prior_back=back)
