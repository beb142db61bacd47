"""The optimiser and its learning-rate schedule (AdamW, linear warmup then cosine decay)."""

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


def make_optimizer(model: HierarchicalNet, cfg: TrainConfig) -> torch.optim.AdamW:
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_backbone = name.startswith("backbone.")
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
