"""Pointing game: peak location mapping and counting, on hand-made heatmaps."""

from __future__ import annotations

import numpy as np

from models.pointing import peak_in_box


def test_peak_maps_from_input_resolution_to_image_pixels():
    hm = np.zeros((10, 10), dtype=np.float32)
    hm[2, 7] = 1.0  # cell centre (7.5, 2.5) of 10 -> (600, 100) in a 800x400 image
    assert peak_in_box(hm, (800, 400), (560, 60, 640, 140))
    assert not peak_in_box(hm, (800, 400), (0, 0, 500, 400))
    assert not peak_in_box(hm, (800, 400), (610, 60, 700, 140))
    assert peak_in_box(hm, (800, 400), (610, 60, 700, 140), tolerance_px=15)
