"""The heatmap colour ramp shared by the CLI's overlays and the app's viewer (numpy only, no torch)."""

from __future__ import annotations

import numpy as np


def jet(heatmap: np.ndarray) -> np.ndarray:
    """A 0..1 map to (H, W, 3) float RGB in 0..1: blue → green → yellow → red."""
    h = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    return np.stack([np.clip(1.5 - np.abs(4 * h - k), 0, 1) for k in (3, 2, 1)], axis=-1)
