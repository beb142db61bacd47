"""Losses for the hierarchical classifier: flat, layer, and hierarchical (layer + dependence).

Every level ``k`` has a cross-entropy ``CE_k`` against the target class of that level (targets are rows
of ``taxonomy.leaf_level_index``). Three kinds (``LossConfig.kind``):

* ``"flat"``: ``CE`` of the leaf level only; the ancestor levels do not enter the loss.
* ``"layer"``: ``sum_k w_k * CE_k`` with the level weights of :func:`level_weights_at`.
* ``"hierarchical"``: the layer loss plus the dependence loss of Gao et al. 2020 (DHC, "Deep
  Hierarchical Classification for Category Prediction in E-commerce System").

Dependence loss. For each level ``l >= 1`` and each sample, from the argmax predictions:
``D_l = 1`` when the predicted class at ``l`` is not a child of the predicted class at ``l-1``;
``e_prev``/``e_curr`` = 1 when the prediction at ``l-1``/``l`` is wrong; and
``pen_l = p ** (D_l * e_prev) * p ** (D_l * e_curr) - 1`` (``p`` = ``dependence_penalty``), so
``pen_l`` is 0 for a consistent prediction, ``p - 1`` for an inconsistent one with one wrong level and
``p**2 - 1`` with both wrong. The public reference implementation adds ``beta * pen`` to the loss;
being built from argmax it has no gradient and changes nothing in training. Here it does:

* ``"reweight"`` (default): each sample's level-``l`` cross-entropy is multiplied by the detached
  weight ``1 + beta * pen_l`` (``beta`` = ``dependence_weight``), so samples whose prediction is
  inconsistent and wrong get proportionally larger gradients. Reported ``dependence`` part:
  ``sum_l w_l * mean(beta * pen_l * CE_l)``, i.e. the total minus the layer loss.
* ``"soft"``: adds ``beta * sum_{l>=1} mean(pen_l * -log m_l)``, where ``m_l`` is the level-``l``
  probability mass inside the children of the predicted (argmax) level-``l-1`` class. The term is
  differentiable: it pulls level ``l`` towards classes consistent with level ``l-1``. It is weighted
  by the detached ``pen_l`` so that, as in the paper, consistent predictions cost nothing (without the
  weight every sample would pay ``-log m_l > 0`` even when consistent and correct).

In both modes a batch whose predictions are all consistent and correct gets exactly the layer loss
and its gradient.

Level-weight schedules (``LossConfig.schedule``):

* ``"none"``: the base weights at every epoch.
* ``"bcnn"``: a B-CNN style (Zhu & Bain 2017) step schedule moving the weight from coarse to fine
  levels. Training is cut into ``L`` equal phases; phase ``j = min(L-1, epoch * L // total_epochs)``
  focuses on level ``j``. Phase factors ``f_k = BCNN_FOCUS`` (0.8) for ``k == j`` and
  ``(1 - BCNN_FOCUS) / (L - 1)`` otherwise; weights ``w_k = S * b_k * f_k / sum_i b_i * f_i`` with base
  weights ``b`` and ``S = sum(b)``, so the total weight stays ``S`` at every epoch. With equal base
  weights and 3 levels: epochs in the first third ``[0.8, 0.1, 0.1]``, second third ``[0.1, 0.8, 0.1]``,
  last third ``[0.1, 0.1, 0.8]`` (all times ``S = 1``).

Outlier exposure (Hendrycks et al. 2019, "Deep Anomaly Detection with Outlier Exposure"). A target row
of ``-1`` marks an image of a defect outside the taxonomy (an ``unknown:*`` training image). It has no
class to learn; instead it pays ``outlier_weight * mean_k KL(uniform || softmax(z_k))``, i.e. each
level's cross-entropy to the uniform distribution minus its minimum ``log n_k``, so that the network
learns to be unsure, and to give a high energy, on things that are not in the tree. The known images
of the batch pay the loss above, averaged over the known images only:
``total = known loss + outlier_weight * mean over the outlier images``. ``outlier_weight = 0`` (the
default) refuses outlier rows.

Class imbalance (``TrainConfig.imbalance``; the training loop passes the training set's class counts of
every level, ``level_counts``; a class without images counts as one). Each method acts on every level
with that level's own counts, for every loss kind, and only in training: the network and its bundle
never see a prior, so predictions use the plain logits.

* ``"logit_adjust"`` (Menon et al. 2021, "Long-tail learning via logit adjustment"): the cross-entropy
  of level ``k`` is taken on ``z_k + tau * log(prior_k)`` (``prior_k`` = the level's class frequencies,
  ``tau`` = ``TrainConfig.imbalance_tau``). A frequent class must win by a larger margin, so the plain
  logits the model predicts with are pushed towards the rare classes.
* ``"balanced_softmax"`` (Ren et al. 2020, "Balanced Meta-Softmax"): ``softmax`` with every class's
  ``exp(z_c)`` multiplied by its count ``n_c``; that is the cross-entropy of ``z + log(prior)``, the same
  loss as ``logit_adjust`` with ``tau = 1`` whatever ``imbalance_tau`` says.
* ``"drw"`` (Cao et al. 2019, deferred re-weighting of LDAM-DRW): from epoch ``(2 * total_epochs) // 3``
  (0-based) on, each known image's level-``k`` terms are weighted by its class's class-balanced weight
  (Cui et al. 2019, effective number, ``(1 - beta) / (1 - beta ** n_c)``, ``beta`` = :data:`DRW_BETA`,
  normalised to mean 1 over the level's classes), and level ``k``'s mean becomes the weighted mean
  ``sum_i s_i w_i l_i / sum_i s_i w_i`` (as ``F.cross_entropy(weight=...)``), so the loss keeps its scale.
  Before that epoch it is the plain loss.

The dependence penalties and the soft term are read from the plain logits (the predictions the model
really makes); the outlier term is never adjusted.

Base weights (:func:`base_level_weights`): ``LossConfig.level_weights`` as given; ``"leaf"`` (the default): 1 for
the leaf level and :data:`UPPER_LEVEL_WEIGHT` for each level above it; ``"equal"``: ``1/L`` per level (the default
before 2026-12-06: on the grayscale long-tailed regime at 224 px it trained the leaf 4.8 points under a plain flat
recipe, the leaf weighting without the dependence term 1.9 points over it, over three seeds; README). ``sample_weight`` gives a weighted mean over the batch,
``sum_i s_i * loss_i / sum_i s_i``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.nn.config import IMBALANCE_LOSSES, IMBALANCE_METHODS, LossConfig

__all__ = ["BCNN_FOCUS", "DRW_BETA", "UPPER_LEVEL_WEIGHT", "HierarchicalLoss", "base_level_weights",
           "class_balanced_weights", "drw_start_epoch", "level_weights_at"]

BCNN_FOCUS = 0.8
DRW_BETA = 0.999
"""``beta`` of the effective number of samples, ``(1 - beta ** n) / (1 - beta)`` (Cui et al. 2019)."""


def class_balanced_weights(counts: Sequence[float] | np.ndarray, beta: float = DRW_BETA) -> np.ndarray:
    """Class-balanced weights ``(1 - beta) / (1 - beta ** n_c)``, normalised to mean 1 (counts below 1 count as 1)."""
    n = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    w = (1.0 - beta) / (1.0 - np.power(beta, n))
    return w * (len(w) / w.sum())


def drw_start_epoch(total_epochs: int) -> int:
    """The first epoch (0-based) of deferred re-weighting: after two thirds of the run."""
    return (2 * total_epochs) // 3


def _loss_dtype(t: Tensor) -> torch.dtype:
    """float32 for half-precision outputs (AMP), the outputs' own dtype otherwise."""
    return torch.promote_types(t.dtype, torch.float32)


UPPER_LEVEL_WEIGHT = 0.25
"""The base weight of every level above the leaf under ``level_weights: leaf`` (the leaf's is 1)."""


def base_level_weights(config: LossConfig, num_levels: int) -> list[float]:
    """The base weight of each of ``num_levels`` levels (see the module docstring); ``None`` is ``"leaf"``, and
    ``"equal"`` for ``multilabel``.

    Raises:
        ValueError: a list whose length is not ``num_levels``.
    """
    weights = config.named_level_weights()
    if weights == "equal":
        return [1.0 / num_levels] * num_levels
    if weights == "leaf":
        return [UPPER_LEVEL_WEIGHT] * (num_levels - 1) + [1.0]
    if len(weights) != num_levels:
        raise ValueError(f"LossConfig.level_weights has {len(weights)} entries for {num_levels} levels")
    return [float(w) for w in weights]


def level_weights_at(config: LossConfig, num_levels: int, epoch: int, total_epochs: int) -> list[float]:
    """Level weights for ``epoch`` (0-based) of ``total_epochs`` (see the module docstring).

    Raises:
        ValueError: On a level-weight count that does not match ``num_levels`` or bad epoch numbers.
    """
    if num_levels < 1:
        raise ValueError(f"num_levels must be >= 1, got {num_levels}")
    if total_epochs < 1 or epoch < 0:
        raise ValueError(
            f"need epoch >= 0 and total_epochs >= 1, got epoch={epoch}, total_epochs={total_epochs}"
        )
    base = base_level_weights(config, num_levels)
    if config.schedule == "none" or num_levels == 1:
        return base
    phase = min(num_levels - 1, epoch * num_levels // total_epochs)
    other = (1.0 - BCNN_FOCUS) / (num_levels - 1)
    raw = [b * (BCNN_FOCUS if k == phase else other) for k, b in enumerate(base)]
    if sum(raw) <= 0:  # the focused level has base weight 0 and all others too: keep the base weights
        return base
    scale = sum(base) / sum(raw)
    return [r * scale for r in raw]


class HierarchicalLoss(nn.Module):
    """Flat / layer / hierarchical loss over per-level outputs.

    Args:
        config: Loss configuration.
        masks: Parent->child bool masks between consecutive levels (``taxonomy.masks``).
    """

    def __init__(self, config: LossConfig, masks: list[np.ndarray], *, imbalance: str = "none",
                 level_counts: Sequence[Sequence[float] | np.ndarray] | None = None, tau: float = 1.0) -> None:
        super().__init__()
        self.config = config
        self.num_levels = len(masks) + 1
        if imbalance not in IMBALANCE_METHODS or imbalance == "auto":
            raise ValueError(f"imbalance must be one of {', '.join(IMBALANCE_METHODS[1:])}; got {imbalance!r}")
        self.imbalance = imbalance
        for k, mask in enumerate(masks):
            arr = np.asarray(mask, dtype=bool)
            if arr.ndim != 2 or (k > 0 and arr.shape[0] != np.asarray(masks[k - 1]).shape[1]):
                raise ValueError(
                    f"masks[{k}] has shape {arr.shape}, which does not chain with masks[{k - 1}]"
                )
            if not arr.any(axis=1).all():
                raise ValueError(f"masks[{k}]: every node of level {k} needs at least one child")
            self.register_buffer(f"mask_{k}", torch.from_numpy(arr.copy()), persistent=False)
        base_level_weights(config, self.num_levels)  # (a list of another length: refused here)
        if imbalance in IMBALANCE_LOSSES:
            self._register_imbalance(masks, level_counts, 1.0 if imbalance == "balanced_softmax" else tau)

    def _register_imbalance(self, masks: list[np.ndarray], level_counts: Sequence[Sequence[float] | np.ndarray] | None,
                            tau: float) -> None:
        """The per-level buffers of the imbalance method: logit offsets, or class-balanced weights."""
        if level_counts is None or len(level_counts) != self.num_levels:
            raise ValueError(f"imbalance {self.imbalance!r} needs the class counts of each of the "
                             f"{self.num_levels} levels")
        if not (isinstance(tau, int | float) and math.isfinite(tau) and tau >= 0):
            raise ValueError(f"tau must be a finite number >= 0, got {tau!r}")
        sizes = [np.asarray(m).shape[0] for m in masks] + ([np.asarray(masks[-1]).shape[1]] if masks else [])
        for k, counts in enumerate(level_counts):
            n = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
            if n.ndim != 1 or (sizes and n.shape[0] != sizes[k]) or not np.isfinite(n).all():
                raise ValueError(f"level_counts[{k}] must hold one finite count per class of level {k}")
            table = class_balanced_weights(n) if self.imbalance == "drw" else tau * np.log(n / n.sum())
            self.register_buffer(f"imbalance_{k}", torch.tensor(table, dtype=torch.float32), persistent=False)

    def _imbalance_table(self, k: int, classes: int) -> Tensor:
        table = getattr(self, f"imbalance_{k}")
        if table.shape[0] != classes:
            raise ValueError(f"level {k} has {classes} classes but {table.shape[0]} class counts")
        return table

    def adjusted(self, levels: list[Tensor]) -> list[Tensor]:
        """The outputs the cross-entropies are taken on: ``z_k + tau * log(prior_k)`` under logit adjustment
        and balanced softmax, the outputs themselves otherwise."""
        if self.imbalance not in ("logit_adjust", "balanced_softmax"):
            return levels
        return [out + self._imbalance_table(k, out.shape[1]).to(out.dtype) for k, out in enumerate(levels)]

    def class_weights(self, epoch: int, total_epochs: int) -> list[Tensor] | None:
        """Deferred re-weighting's per-level class weights at ``epoch`` (None before it starts, or without drw)."""
        if self.imbalance != "drw" or epoch < drw_start_epoch(total_epochs):
            return None
        return [getattr(self, f"imbalance_{k}") for k in range(self.num_levels)]

    def _mask(self, k: int) -> Tensor:
        return getattr(self, f"mask_{k}")

    def _check(self, levels: list[Tensor], targets: Tensor, sample_weight: Tensor | None) -> None:
        if len(levels) != self.num_levels:
            raise ValueError(f"expected {self.num_levels} levels of outputs, got {len(levels)}")
        batch = levels[0].shape[0]
        if targets.ndim != 2 or targets.shape != (batch, self.num_levels):
            raise ValueError(
                f"targets must have shape ({batch}, {self.num_levels}), got {tuple(targets.shape)}"
            )
        sizes: list[int | None] = [None] if self.num_levels == 1 else [self._mask(0).shape[0]]
        sizes += [self._mask(k).shape[1] for k in range(self.num_levels - 1)]
        for k, (out, size) in enumerate(zip(levels, sizes, strict=True)):
            if out.ndim != 2 or out.shape[0] != batch or (size is not None and out.shape[1] != size):
                raise ValueError(f"level {k} output has shape {tuple(out.shape)}, expected ({batch}, {size})")
        if sample_weight is not None and sample_weight.shape != (batch,):
            raise ValueError(f"sample_weight must have shape ({batch},), got {tuple(sample_weight.shape)}")

    def penalties(self, levels: list[Tensor], targets: Tensor) -> list[Tensor]:
        """Gao et al.'s per-sample ``pen_l`` (detached) for levels ``1 .. L-1``; ``pen_0`` is zeros."""
        p = self.config.dependence_penalty
        with torch.no_grad():
            preds = [out.argmax(dim=-1) for out in levels]
            dtype = _loss_dtype(levels[0])
            pens = [torch.zeros(levels[0].shape[0], dtype=dtype, device=levels[0].device)]
            for lvl in range(1, self.num_levels):
                inconsistent = ~self._mask(lvl - 1)[preds[lvl - 1], preds[lvl]]
                wrong_prev = preds[lvl - 1] != targets[:, lvl - 1]
                wrong_curr = preds[lvl] != targets[:, lvl]
                exponent = (inconsistent & wrong_prev).to(dtype) + (inconsistent & wrong_curr).to(dtype)
                pens.append(torch.pow(torch.full_like(exponent, p), exponent) - 1.0)
        return pens

    def _soft_terms(self, levels: list[Tensor]) -> list[Tensor]:
        """Per-sample ``-log`` mass of level ``l`` inside the children of the argmax at ``l-1``."""
        terms = []
        for lvl in range(1, self.num_levels):
            parent = levels[lvl - 1].detach().argmax(dim=-1)
            allowed = self._mask(lvl - 1)[parent]
            log_p = F.log_softmax(levels[lvl], dim=-1)
            terms.append(-torch.logsumexp(log_p.masked_fill(~allowed, float("-inf")), dim=-1))
        return terms

    def forward(
        self,
        levels: list[Tensor],
        targets: Tensor,
        *,
        epoch: int = 0,
        total_epochs: int = 1,
        sample_weight: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, float]]:
        """Compute the loss.

        Args:
            levels: Per-level outputs (B, n_k): logits, or log-probabilities (flat head ancestors).
            targets: (B, num_levels) class index per level; a row of ``-1`` is an outlier image
                (outlier exposure, needs ``outlier_weight > 0``).
            epoch: Current epoch (0-based), for the level-weight schedule.
            total_epochs: Number of epochs of the run.
            sample_weight: Optional (B,) non-negative weights; the batch mean becomes a weighted mean.

        Returns:
            The scalar loss and its parts as floats: ``total``, ``layer``, ``dependence``,
            ``dependence_raw`` (Gao's mean penalty summed over levels, without ``beta``) and
            ``level_k`` (unweighted mean CE of level ``k``, on the adjusted outputs under logit
            adjustment), and ``outlier`` (the mean outlier term, 0
            without outlier rows).
        """
        self._check(levels, targets, sample_weight)
        cfg = self.config
        targets = targets.long()
        outlier = targets[:, 0] < 0
        if bool(outlier.any()):
            return self._with_outliers(levels, targets, outlier, epoch, total_epochs, sample_weight)
        dtype = _loss_dtype(levels[0])
        if sample_weight is None:
            sw = torch.ones(levels[0].shape[0], dtype=dtype, device=levels[0].device)
        else:
            if bool((sample_weight < 0).any()):
                raise ValueError("sample_weight must be non-negative")
            sw = sample_weight.to(device=levels[0].device, dtype=dtype)
        tiny = torch.finfo(sw.dtype).tiny
        denom = sw.sum().clamp_min(tiny)

        def mean(per_sample: Tensor) -> Tensor:
            return (per_sample * sw).sum() / denom

        def weighted_mean(w: Tensor) -> Callable[[Tensor], Tensor]:
            d = w.sum().clamp_min(tiny)
            return lambda per_sample: (per_sample * w).sum() / d

        class_weights = self.class_weights(epoch, total_epochs)
        if class_weights is None:
            means = [mean] * self.num_levels
        else:  # deferred re-weighting: level k's mean is weighted by the class-balanced weight of its target
            means = [weighted_mean(sw * cw.to(sw.dtype)[targets[:, k]]) for k, cw in enumerate(class_weights)]

        ce = [
            F.cross_entropy(out, targets[:, k], reduction="none", label_smoothing=cfg.label_smoothing)
            for k, out in enumerate(self.adjusted(levels))
        ]
        parts: dict[str, float] = {f"level_{k}": float(mean(c.detach())) for k, c in enumerate(ce)}

        if cfg.kind == "flat":
            layer = means[-1](ce[-1])
            total = layer
            dependence = torch.zeros((), dtype=layer.dtype, device=layer.device)
        else:
            weights = level_weights_at(cfg, self.num_levels, epoch, total_epochs)
            layer = sum(w * m(c) for w, m, c in zip(weights, means, ce, strict=True))
            if cfg.kind == "layer" or self.num_levels == 1:
                dependence = torch.zeros_like(layer)
            else:
                pens = self.penalties(levels, targets)
                parts["dependence_raw"] = float(sum(mean(pen) for pen in pens[1:]))
                beta = cfg.dependence_weight
                if cfg.dependence_mode == "reweight":
                    dependence = sum(
                        w * m(beta * pen * c) for w, m, pen, c in zip(weights, means, pens, ce, strict=True)
                    )
                else:
                    soft = self._soft_terms(levels)
                    dependence = beta * sum(
                        m(pen * t) for m, pen, t in zip(means[1:], pens[1:], soft, strict=True)
                    )
            total = layer + dependence
        parts.setdefault("dependence_raw", 0.0)
        parts.update(
            total=float(total.detach()), layer=float(layer.detach()), dependence=float(dependence.detach()),
            outlier=0.0,
        )
        return total, parts

    def _with_outliers(
        self, levels: list[Tensor], targets: Tensor, outlier: Tensor, epoch: int, total_epochs: int,
        sample_weight: Tensor | None,
    ) -> tuple[Tensor, dict[str, float]]:
        """The known images' loss plus ``outlier_weight`` times the mean outlier-exposure term."""
        if self.config.outlier_weight <= 0:
            raise ValueError("targets of -1 mark outlier images; they need LossConfig.outlier_weight > 0")
        if bool((targets[outlier] >= 0).any()):
            raise ValueError("an outlier row of targets must be -1 at every level")
        known = ~outlier
        sw = None if sample_weight is None else sample_weight[outlier]
        term = self.outlier_term([out[outlier] for out in levels], sw)
        if bool(known.any()):
            total, parts = self.forward(
                [out[known] for out in levels], targets[known], epoch=epoch, total_epochs=total_epochs,
                sample_weight=None if sample_weight is None else sample_weight[known],
            )
        else:
            total = torch.zeros((), dtype=term.dtype, device=term.device)
            parts = {f"level_{k}": 0.0 for k in range(self.num_levels)}
            parts.update(dependence_raw=0.0, layer=0.0, dependence=0.0)
        total = total + self.config.outlier_weight * term
        parts.update(total=float(total.detach()), outlier=float(term.detach()))
        return total, parts

    def outlier_term(self, levels: list[Tensor], sample_weight: Tensor | None = None) -> Tensor:
        """Mean over images and levels of ``KL(uniform || softmax(z_k))`` (0 for a uniform output)."""
        dtype = _loss_dtype(levels[0])
        per_sample = torch.zeros(levels[0].shape[0], dtype=dtype, device=levels[0].device)
        for out in levels:
            z = out.to(dtype)
            per_sample = per_sample + torch.logsumexp(z, dim=-1) - z.mean(dim=-1) - math.log(z.shape[-1])
        per_sample = per_sample / len(levels)
        if sample_weight is None:
            return per_sample.mean()
        sw = sample_weight.to(device=per_sample.device, dtype=dtype)
        return (per_sample * sw).sum() / sw.sum().clamp_min(torch.finfo(dtype).tiny)
