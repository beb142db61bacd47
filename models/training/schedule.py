"""The optimiser and its learning-rate schedules (AdamW; warmup + cosine, or one-cycle).

``schedule: cosine`` (the project's default) warms up linearly over ``warmup_epochs`` and decays along a
cosine to ``min_lr``. ``schedule: onecycle`` is the standard timm/fast.ai recipe, as
``torch.optim.lr_scheduler.OneCycleLR`` with its defaults: a cosine rise from ``lr / 25`` to ``lr`` over the
first 30 % of the steps, then a cosine fall to ``lr / 25e4`` (the learning rate only; the momentum is not
cycled). It ignores ``warmup_epochs`` and ``min_lr``.
"""

from __future__ import annotations

import math

import torch

from models.nn.network import HierarchicalNet
from models.training.config import TrainConfig


def lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Linear warmup to 1, then cosine decay to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


ONECYCLE_PCT_START = 0.3
ONECYCLE_DIV = 25.0
ONECYCLE_FINAL_DIV = 1e4


def onecycle_factor(step: int, total: int) -> float:
    """The one-cycle learning rate at ``step`` of ``total``, relative to the peak (see the module docstring)."""
    rise = max(1, round(ONECYCLE_PCT_START * total))
    start, end = 1 / ONECYCLE_DIV, 1 / (ONECYCLE_DIV * ONECYCLE_FINAL_DIV)
    if step < rise:
        return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * step / rise))
    progress = min(1.0, (step - rise) / max(1, total - 1 - rise))
    return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * progress))


def schedule_factor(schedule: str, step: int, total: int, warmup: int, min_ratio: float) -> float:
    """The learning rate at ``step`` relative to the peak, for the config's ``schedule``."""
    if schedule == "onecycle":
        return onecycle_factor(step, total)
    return lr_factor(step, total, warmup, min_ratio)


def make_optimizer(model: HierarchicalNet, cfg: TrainConfig) -> torch.optim.AdamW:
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        # Stage CBAMs are new modules beside the pretrained features (``--init-from`` adds them to a trained
        # bundle): they learn at the heads' rate, not the backbone's lowered one.
        is_backbone = name.startswith("backbone.") and not name.startswith("backbone.cbam_stages.")
        no_decay = p.ndim <= 1 or name.endswith(".bias")
        groups.setdefault((is_backbone, no_decay), []).append(p)
    param_groups = [
        {
            "params": params,
            "weight_decay": 0.0 if no_decay else cfg.weight_decay,
            "lr_scale": cfg.backbone_lr_scale if is_backbone else 1.0,
        }
        for (is_backbone, no_decay), params in sorted(groups.items())
    ]
    return torch.optim.AdamW(param_groups, lr=cfg.lr, betas=(0.9, 0.999))
