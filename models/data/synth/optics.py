"""The microscope capture: framing offset, illumination, white balance, gamma, focus blur, sensor noise.

:func:`sample_optics` draws the conditions of one view; :func:`apply_optics` turns a linear-RGB render
into the uint8 image a camera would record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from models.data.synth.canvas import F32


@dataclass(frozen=True)
class Optics:
    """One capture's framing and imaging conditions."""

    offset: tuple[float, float]  # image centre relative to the defect, in fields of view
    exposure: float
    white_balance: tuple[float, float, float]
    gradient: float
    gradient_angle: float
    vignette: float
    gamma: float
    blur_px: float
    noise: float
    shot: float
    noise_seed: int


def sample_optics(rng: np.random.Generator, size: int) -> Optics:
    """Draw framing, illumination, focus and noise for one view."""
    offset = np.clip(rng.normal(0.0, 0.12, 2), -0.3, 0.3)
    wb = np.clip(1.0 + rng.normal(0.0, 0.05, 3), 0.85, 1.15)
    blur = rng.uniform(0.3, 1.1) + (rng.uniform(0.4, 1.2) if rng.random() < 0.1 else 0.0)
    return Optics(
        offset=(float(offset[0]), float(offset[1])),
        exposure=float(rng.uniform(0.82, 1.18)),
        white_balance=(float(wb[0]), float(wb[1]), float(wb[2])),
        gradient=float(rng.uniform(0.0, 0.3)),
        gradient_angle=float(rng.uniform(0, 2 * math.pi)),
        vignette=float(rng.uniform(0.0, 0.45)),
        gamma=float(rng.uniform(0.85, 1.18)),
        blur_px=float(blur * size / 256.0),
        noise=float(rng.uniform(0.004, 0.028)),
        shot=float(rng.uniform(0.0, 0.025)),
        noise_seed=int(rng.integers(0, 2**63)),
    )


def apply_optics(img: np.ndarray, optics: Optics) -> np.ndarray:
    """Illumination, white balance, gamma, focus blur and sensor noise; returns uint8 RGB."""
    size = img.shape[0]
    t = (np.arange(size, dtype=F32) + 0.5) / size - 0.5
    gx, gy = t[None, :], t[:, None]
    ramp = gx * math.cos(optics.gradient_angle) + gy * math.sin(optics.gradient_angle)
    illum = (
        optics.exposure * (1.0 + optics.gradient * ramp) * (1.0 - optics.vignette * (gx * gx + gy * gy) * 2.0)
    )
    img = img * illum[..., None] * np.asarray(optics.white_balance, F32)
    img = np.clip(img, 0.0, 1.0) ** F32(optics.gamma)
    u8 = (img * 255.0 + 0.5).astype(np.uint8)
    if optics.blur_px >= 0.3:
        u8 = np.asarray(Image.fromarray(u8).filter(ImageFilter.GaussianBlur(optics.blur_px)))
    rng = np.random.default_rng(optics.noise_seed)
    f = u8.astype(F32) * F32(1.0 / 255.0)
    f += np.sqrt(f) * F32(optics.shot) * rng.standard_normal(f.shape, dtype=F32)
    f += F32(optics.noise) * rng.standard_normal(f.shape, dtype=F32)
    return np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)
