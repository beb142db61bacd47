"""The pointing game: does the heatmap's peak fall inside the true defect box?

For each correctly classified image with a known ``defect_bbox``, the heatmap (CBAM attention or
Grad-CAM of the predicted leaf) is computed at the network's input resolution, its maximum is mapped
back to the original image's pixel coordinates, and a hit is counted when it lies inside the box
(optionally grown by ``tolerance_px`` on every side, as in Zhang et al. 2018, who use 15 px).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.data.manifest import Sample
from models.imageio import decode_or_reason, load_image
from models.inference.predictor import Predictor


@dataclass(frozen=True)
class PointingResult:
    hits: int
    total: int
    skipped_no_box: int
    per_class: dict[str, tuple[int, int]]

    @property
    def accuracy(self) -> float:
        return self.hits / self.total if self.total else float("nan")


def peak_in_box(heatmap: np.ndarray, image_size: tuple[int, int], box: tuple[int, int, int, int],
                tolerance_px: float = 0.0) -> bool:
    """True when the heatmap's maximum, mapped to the image's (width, height), lies in the box."""
    h, w = heatmap.shape
    iy, ix = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    width, height = image_size
    x = (ix + 0.5) * width / w
    y = (iy + 0.5) * height / h
    x0, y0, x1, y1 = box
    return (x0 - tolerance_px) <= x <= (x1 + tolerance_px) and (y0 - tolerance_px) <= y <= (y1 + tolerance_px)


def pointing_game(predictor: Predictor, samples: Sequence[Sample], predicted: Sequence[str | None], *,
                  tolerance_px: float = 0.0, limit: int | None = None) -> PointingResult:
    """Play the pointing game on the correctly classified samples that have a defect box.

    Args:
        predictor: the model.
        samples: the evaluated samples (with ``defect_bbox`` where known).
        predicted: the predicted leaf of each sample (None when unreadable).
        tolerance_px: grow each box by this many pixels of the original image.
        limit: play at most this many images, spread evenly over ``samples`` (heatmaps cost backward
            passes on CPU).
    """
    eligible: list[Sample] = []
    no_box = 0
    for sample, pred in zip(samples, predicted, strict=True):
        if pred is None or pred != sample.label:
            continue
        if sample.defect_bbox is None:
            no_box += 1
            continue
        eligible.append(sample)
    if limit is not None and len(eligible) > limit:
        # evenly spread over the data (a manifest is usually sorted by class: the first N would be a few classes)
        picks = np.unique(np.linspace(0, len(eligible) - 1, max(0, limit)).round().astype(int)) if limit > 0 else []
        eligible = [eligible[i] for i in picks]
    hits = total = 0
    per_class: dict[str, list[int]] = {}
    for sample in eligible:
        image, _reason = decode_or_reason(load_image, sample.path)
        if image is None:
            continue
        heatmap, _kind = predictor.heatmap(image, leaf=sample.label)
        hit = peak_in_box(heatmap, image.size, sample.defect_bbox, tolerance_px)
        hits += int(hit)
        total += 1
        c = per_class.setdefault(sample.label, [0, 0])
        c[0] += int(hit)
        c[1] += 1
    return PointingResult(hits, total, no_box, {k: (v[0], v[1]) for k, v in per_class.items()})
