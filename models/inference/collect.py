"""Raw model outputs over a list of images (level logits, embeddings, stage statistics), for calibration and evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.routing.policy import Calibration, route_batch

if TYPE_CHECKING:
    from models.inference.outputs import BatchOutput
    from models.inference.predictor import Predictor
    from models.taxonomy import Taxonomy


@dataclass
class Outputs:
    """Raw model outputs for the readable images of a list.

    Attributes:
        index: position in the input list of each row.
        level_logits: raw logits per level, (n, level_sizes[k]), before any temperature.
        leaf_probs: (n, num_leaves) at the predictor's temperature.
        embeddings: (n, D).
        keys: content keys for the spot-check draw (None when not requested).
        errors: input position -> why the image could not be read.
        stage_stats: stride -> (n, D_s) stage statistics, for the strides the predictor watches.
    """

    index: np.ndarray
    level_logits: list[np.ndarray]
    leaf_probs: np.ndarray
    embeddings: np.ndarray
    keys: list[str | None]
    errors: dict[int, str] = field(default_factory=dict)
    stage_stats: dict[int, np.ndarray] = field(default_factory=dict)


def collect_outputs(predictor: Predictor, sources: Sequence[str | Path], *, keys: bool = False) -> Outputs:
    """Run the predictor's network over images and keep the raw outputs (logits, embeddings).

    The images go through the predictor's own batches (:meth:`Predictor.run_batches`), so the outputs are
    exactly those its predictions are made of.

    Args:
        predictor: a :class:`models.inference.predictor.Predictor`.
        sources: image paths.
        keys: also compute each image's content key (:func:`models.routing.policy.image_key`).
    """
    parts: list[BatchOutput] = []
    index: list[int] = []
    key_list: list[str | None] = []
    errors: dict[int, str] = {}
    for batch in predictor.run_batches(sources, keys=keys):
        if batch.out is None:
            (item,) = batch.items
            errors[item.index] = item.error or "cannot read image"
            continue
        parts.append(batch.out)
        index.extend(d.index for d in batch.items)
        key_list.extend(d.key for d in batch.items)
    sizes = predictor.taxonomy.level_sizes
    return Outputs(
        index=np.asarray(index, dtype=np.int64),
        level_logits=[np.concatenate([o.level_logits[k] for o in parts]) if parts else np.zeros((0, n), np.float32)
                      for k, n in enumerate(sizes)],
        leaf_probs=(np.concatenate([o.leaf_probs for o in parts]) if parts
                    else np.zeros((0, len(predictor.taxonomy.leaves)), np.float32)),
        embeddings=np.concatenate([o.embedding for o in parts]) if parts else np.zeros((0, 0), np.float32),
        keys=key_list,
        errors=errors,
        stage_stats={stride: np.concatenate([o.stage_stats[stride] for o in parts])
                     for stride in (parts[0].stage_stats or {} if parts else {})},
    )


def route_outputs(
    calibration: Calibration, taxonomy: Taxonomy, out: Outputs
) -> tuple[np.ndarray, list[list[str]], np.ndarray | None]:
    """Routes of collected outputs, as the Predictor would give them: (auto mask, reasons, unknown scores)."""
    routes, reasons, scores = route_batch(calibration, taxonomy.leaves, leaf_probs=out.leaf_probs,
                                          level_logits=out.level_logits, embeddings=out.embeddings, keys=out.keys,
                                          stage_stats=out.stage_stats or None)
    return np.array([r == "auto" for r in routes], dtype=bool), reasons, scores
