"""Pointing game: peak location mapping and counting, on hand-made heatmaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.data.manifest import Sample
from models.evaluation.pointing import peak_in_box, pointing_game


def test_peak_maps_from_input_resolution_to_image_pixels():
    hm = np.zeros((10, 10), dtype=np.float32)
    hm[2, 7] = 1.0  # cell centre (7.5, 2.5) of 10 -> (600, 100) in a 800x400 image
    assert peak_in_box(hm, (800, 400), (560, 60, 640, 140))
    assert not peak_in_box(hm, (800, 400), (0, 0, 500, 400))
    assert not peak_in_box(hm, (800, 400), (610, 60, 700, 140))
    assert peak_in_box(hm, (800, 400), (610, 60, 700, 140), tolerance_px=15)


class _PeakAt:
    """A stand-in predictor whose heatmap peaks at a fixed (x, y) of a 10x10 map."""

    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y
        self.explained: list[str | None] = []

    def heatmap(self, image, *, leaf=None):
        self.explained.append(leaf)
        hm = np.zeros((10, 10), dtype=np.float32)
        hm[self.y, self.x] = 1.0
        return hm, "gradcam"


def _samples(tmp_path: Path) -> list[Sample]:
    from PIL import Image

    path = tmp_path / "img.png"
    Image.new("RGB", (100, 100)).save(path)
    hit_box, miss_box = (10, 10, 30, 30), (60, 60, 90, 90)  # the stand-in's peak is at (25, 25)
    out = []
    for label in ("a", "b", "c"):
        out += [Sample(path, label, defect_bbox=hit_box), Sample(path, label, defect_bbox=miss_box)]
    return out + [Sample(path, "a"), Sample(tmp_path / "missing.png", "b", defect_bbox=hit_box)]


def test_pointing_game_counts_correct_boxed_images_and_spreads_a_limit(tmp_path: Path) -> None:
    samples = _samples(tmp_path)
    predicted = [s.label for s in samples]
    predicted[1] = "b"  # a wrong prediction is not played
    result = pointing_game(_PeakAt(2, 2), samples, predicted)
    # played: a-hit, b-hit, b-miss, c-hit, c-miss (a's miss was mispredicted, the box-less one skipped,
    # the missing file not loadable)
    assert (result.hits, result.total, result.skipped_no_box) == (3, 5, 1)
    assert result.per_class == {"a": (1, 1), "b": (1, 2), "c": (1, 2)}
    assert result.accuracy == pytest.approx(0.6)
    limited = pointing_game(_PeakAt(2, 2), samples[:-1], predicted[:-1], limit=3)
    assert limited.total == 3 and set(limited.per_class) == {"a", "b", "c"}  # not the first three rows
    explainer = _PeakAt(8, 8)
    assert pointing_game(explainer, samples, predicted).hits == 2  # the peak now hits the far boxes
    assert explainer.explained[:2] == ["a", "b"]  # the true (= predicted) leaf is explained
