"""Images with more than one defect (issue #20): per-level sigmoid heads trained with binary cross-entropy.

``loss.kind: multilabel`` keeps the network as it is (one classifier per tree level) and changes what its outputs
mean: each node's logit says whether *some* defect of the image lies under that node, independently of the others
(a particle on a scratch: ``foreign_matter`` and ``structural``, ``particle`` and ``mechanical``, ``particle_metal``
and ``scratch``). The targets of an image are the multi-hot rows of its leaves' ancestors at each level
(:func:`level_multi_hot`); an ``unknown:*`` image (outlier exposure) has no known node at all, all zeros.

The tree stays consistent at inference (:func:`models.inference.outputs.presence`): a leaf's presence score is the
smallest of its ancestors' sigmoids (its own included), never above any of them, so a leaf is in the predicted set
only where its group and subgroup are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.nn.config import LossConfig
from models.nn.losses import base_level_weights
from models.taxonomy import Taxonomy


def level_multi_hot(taxonomy: Taxonomy, labels: Sequence[Sequence[str]]) -> np.ndarray:
    """(N, sum of level sizes) float32: for each image (its leaves; none for an unknown image), 1 at every node of
    every level that is an ancestor (or the leaf itself) of one of its leaves."""
    sizes = taxonomy.level_sizes
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    leaf_pos = {leaf: i for i, leaf in enumerate(taxonomy.leaves)}
    out = np.zeros((len(labels), int(sum(sizes))), dtype=np.float32)
    for row, leaves in enumerate(labels):
        for leaf in leaves:
            if leaf in leaf_pos:
                out[row, starts + taxonomy.leaf_level_index[leaf_pos[leaf]]] = 1.0
    return out


class MultiLabelLoss(nn.Module):
    """Binary cross-entropy of every node of every level, levels weighted as :class:`LossConfig.level_weights`
    says (``1/L`` each by default, :func:`models.nn.losses.base_level_weights`).

    Args:
        config: the loss configuration (``kind`` ``multilabel``; ``level_weights`` and ``label_smoothing`` apply:
            smoothing moves a target ``t`` to ``t (1 - e) + e / 2``).
        level_sizes: the nodes of each level.
    """

    def __init__(self, config: LossConfig, level_sizes: Sequence[int]) -> None:
        super().__init__()
        self.config = config
        self.sizes = [int(n) for n in level_sizes]
        self.weights = base_level_weights(config, len(self.sizes))

    def forward(self, levels: list[Tensor], targets: Tensor, *, epoch: int = 0, total_epochs: int = 1,
                sample_weight: Tensor | None = None) -> tuple[Tensor, dict[str, float]]:
        """The loss of per-level logits (B, n_k) against multi-hot targets (B, sum n_k); parts as floats
        (``total``, ``level_k``)."""
        if targets.ndim != 2 or targets.shape[1] != sum(self.sizes) or len(levels) != len(self.sizes):
            raise ValueError(f"multi-label targets must have shape (batch, {sum(self.sizes)}) for {len(self.sizes)} "
                             f"levels, got {tuple(targets.shape)} and {len(levels)} levels")
        eps = self.config.label_smoothing
        soft = targets.float() * (1.0 - eps) + eps / 2.0
        sw = None if sample_weight is None else sample_weight.float()
        total = torch.zeros((), dtype=torch.float32, device=levels[0].device)
        parts: dict[str, float] = {}
        start = 0
        for k, (out, n) in enumerate(zip(levels, self.sizes, strict=True)):
            per = F.binary_cross_entropy_with_logits(out.float(), soft[:, start:start + n], reduction="none").mean(1)
            level = per.mean() if sw is None else (per * sw).sum() / sw.sum().clamp_min(1e-12)
            total = total + self.weights[k] * level
            parts[f"level_{k}"] = float(level.detach())
            start += n
        parts["total"] = float(total.detach())
        return total, parts
