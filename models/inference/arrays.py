"""The image arithmetic of the workstation runtime in numpy and Pillow (no torch): preprocessing, resizing a map,
Gaussian smoothing and the LayerCAM post-processing of :func:`models.inference.heatmaps.cam_maps`.

Each function reproduces its torch counterpart (tested side by side in ``tests/test_runtime.py``):
:func:`preprocess` the eval transform of :mod:`models.data.transforms` (both resize with Pillow),
:func:`resize_bilinear` ``F.interpolate(mode="bilinear", align_corners=False)`` and OpenCV's ``INTER_LINEAR``
when enlarging, :func:`gaussian_blur` torchvision's ``gaussian_blur`` (reflect padding).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

HEATMAP_FLIPS: tuple[tuple[int, ...], ...] = ((), (3,), (2,), (2, 3))
"""Views a heatmap is averaged over (tensor dims flipped), on both runtimes. On the demo model the pointing game rose
from 82 % (one view) to 94 % (these four) on 220 correctly classified test images (``python -m bench.heatmap_layers``)."""

FLIP_DIMS: dict[str, tuple[int, ...]] = {"h": (3,), "v": (2,), "hv": (2, 3)}
"""A test-time flip of a calibration (:data:`models.routing.views.FLIPS`) -> the (N, 3, H, W) dims it flips."""

PIL_FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}
"""A manifest's ``interpolation`` -> the Pillow filter (unknown names resize bicubic, as the torch path does)."""


def preprocess(image: Image.Image, size: tuple[int, int], mean: Sequence[float], std: Sequence[float],
               interpolation: str = "bicubic") -> np.ndarray:
    """An RGB PIL image -> the normalised (3, H, W) float32 array the network takes."""
    h, w = size
    resized = image.convert("RGB").resize((w, h), PIL_FILTERS.get(interpolation, Image.BICUBIC))
    arr = np.asarray(resized, dtype=np.float32) / np.float32(255.0)
    arr = (arr - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def _axis_weights(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour indices and weights of linear interpolation with half-pixel centres along one axis."""
    pos = np.clip((np.arange(dst, dtype=np.float64) + 0.5) * (src / dst) - 0.5, 0.0, None)
    lo = np.minimum(np.floor(pos).astype(np.int64), src - 1)
    hi = np.minimum(lo + 1, src - 1)
    return lo, hi, (pos - lo).astype(np.float32)


def resize_bilinear(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a (B, h, w) stack of maps to (B, H, W), bilinear with half-pixel centres (no antialiasing)."""
    maps = np.asarray(maps, dtype=np.float32)
    y0, y1, wy = _axis_weights(maps.shape[1], size[0])
    x0, x1, wx = _axis_weights(maps.shape[2], size[1])
    rows = maps[:, y0, :] * (1 - wy)[None, :, None] + maps[:, y1, :] * wy[None, :, None]
    return (rows[:, :, x0] * (1 - wx)[None, None, :] + rows[:, :, x1] * wx[None, None, :]).astype(np.float32)


def gaussian_blur(maps: np.ndarray, sigma: float) -> np.ndarray:
    """Blur a (B, H, W) stack with a Gaussian of ``sigma`` pixels over a ``6 sigma + 1`` kernel, reflect-padded."""
    size = int(6 * sigma + 1)
    half = (size - 1) * 0.5
    x = np.linspace(-half, half, size, dtype=np.float32)
    kernel = np.exp(-0.5 * (x / np.float32(sigma)) ** 2)
    kernel = (kernel / kernel.sum()).astype(np.float32)
    pad = size // 2
    out = np.pad(np.asarray(maps, dtype=np.float32), ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
    out = sum(kernel[k] * out[:, k:k + out.shape[1] - 2 * pad, :] for k in range(size))
    out = sum(kernel[k] * out[:, :, k:k + out.shape[2] - 2 * pad] for k in range(size))
    return np.asarray(out, dtype=np.float32)


def normalise_maps(maps: np.ndarray) -> np.ndarray:
    """Each (H, W) map of a (B, H, W) stack rescaled to 0..1 (a constant map becomes 0)."""
    maps = maps.astype(np.float32)
    lo = maps.reshape(maps.shape[0], -1).min(axis=1)[:, None, None]
    hi = maps.reshape(maps.shape[0], -1).max(axis=1)[:, None, None]
    return np.where(hi - lo > 1e-8, (maps - lo) / np.maximum(hi - lo, 1e-8), 0.0).astype(np.float32)


def layercam_maps(raw: np.ndarray, size: tuple[int, int], flips: Sequence[tuple[int, ...]],
                  smooth_px: int | None) -> np.ndarray:
    """One image's heatmap (H, W) in 0..1 from the raw LayerCAM of its views (V, h, w), one view per entry of
    ``flips`` (the tensor dims flipped), as :func:`models.inference.heatmaps.cam_maps` makes it: each view's map
    clipped at 0, scaled to 0..1, enlarged, smoothed, rescaled, flipped back; their mean rescaled to 0..1."""
    cams = np.maximum(np.asarray(raw, dtype=np.float32), 0.0)
    cams = cams - cams.reshape(len(cams), -1).min(axis=1)[:, None, None]
    cams = cams / (1e-7 + cams.reshape(len(cams), -1).max(axis=1)[:, None, None])
    cams = resize_bilinear(cams, size)
    cams = normalise_maps(np.maximum(cams, 0.0))  # what grad-cam's aggregation does with one target layer
    if smooth_px:
        cams = gaussian_blur(cams, float(smooth_px))
    total = np.zeros(size, dtype=np.float32)
    for view, dims in zip(normalise_maps(cams), flips, strict=True):
        total += np.flip(view, axis=tuple(d - 2 for d in dims)) if dims else view
    return normalise_maps(total[None])[0]
