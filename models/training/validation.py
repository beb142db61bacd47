"""The metrics of a network being trained, on its validation images, as ``evaluate`` computes them (split from
:mod:`models.training.loop`, which runs it after each epoch and before the bundle is written)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.bundle.io import LoadedBundle
from models.bundle.manifest import BundleManifest
from models.data.manifest import Sample
from models.nn.network import HierarchicalNet
from models.training.config import ConfigError

ExtraMetrics = Callable[[np.ndarray, np.ndarray], dict[str, float]]
"""More validation metrics: ``(leaf_probs (N, leaves), targets (N,)) -> {name: value}``."""


def validate(model: HierarchicalNet, manifest: BundleManifest, samples: Sequence[Sample], *, batch_size: int,
             device: torch.device | str, extra: ExtraMetrics | None = None) -> dict[str, Any]:
    """Metrics of ``model`` on known-label samples, through the Predictor exactly as ``evaluate`` runs it (the
    ``metrics.json`` keys without ``per_class``, ``macro_recall`` among them; with ``extra`` its metrics under
    ``extra``)."""
    from models.evaluation.metrics import compute_metrics
    from models.inference.collect import collect_outputs
    from models.inference.predictor import Predictor

    was_training = model.training
    predictor = Predictor(LoadedBundle(model=model, manifest=manifest, path=Path(".")), device=device,
                          batch_size=batch_size)
    out = collect_outputs(predictor, [s.path for s in samples])
    model.train(was_training)
    if not np.isfinite(out.leaf_probs).all():  # (it ended in a traceback from the metrics: "leaf_probs contains NaN")
        raise ConfigError("training diverged: the network's outputs became NaN or infinite (the learning rate is "
                          "too high for this data: a lower lr, or more warmup_epochs)")
    leaf_pos = {leaf: i for i, leaf in enumerate(manifest.taxonomy.leaves)}
    targets = np.array([leaf_pos[samples[i].label] for i in out.index], dtype=np.int64)
    m = compute_metrics(out.leaf_probs, targets, manifest.taxonomy)
    if extra is not None:
        m["extra"] = {k: round(float(v), 5) for k, v in extra(out.leaf_probs, targets).items()}
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in m.items() if k != "per_class"}
