"""The canvas every synthetic defect is drawn on: the panel's pixel array seen through one view.

* numeric helpers shared by all renderers: colours (:func:`hsv`), blending (:func:`lerp`), blur,
  smooth value noise and a process-independent string hash (:func:`stable_hash`);
* :class:`Pattern`: the geometry and colours of a TFT-LCD pixel array (RGB colour-filter sub-pixels in a
  black matrix, metal data and gate lines, TFT islands, a storage-capacitor line, optional IPS slits),
  in micrometres, in one of the :data:`PATTERNS` layouts (``stripes``: three vertical R, G, B
  rectangles per pixel; ``pentile``: diamond sub-pixels on a checkerboard, rows R G B G / B G R G);
* :class:`Ctx`: one view (a pixel grid in physical coordinates) handed to the defect hooks, and the
  ``footprint`` they mark;
* :func:`pattern_layers` and :func:`compose_pattern`: the pattern as editable coverage layers, and the
  composed linear-RGB image.
"""

from __future__ import annotations

import colorsys
import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

F32 = np.float32
TAU = 2.0 * math.pi

Window = tuple[slice, slice]
"""Pixel slices (rows, columns) of a region of a view."""


# ============================================================================ small numeric helpers
def gauss_blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a 2-D (H, W) or 3-D (H, W, C) float array, edges extended; float32 out."""
    if sigma < 0.3:
        return a.astype(F32, copy=False)
    pad = math.ceil(3.0 * sigma) + 1
    widths = ((pad, pad), (pad, pad)) + ((0, 0),) * (a.ndim - 2)
    padded = np.pad(a.astype(F32, copy=False), widths, mode="edge")
    h, w = padded.shape[:2]
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    tf = np.exp(-2.0 * (math.pi * sigma) ** 2 * (fx * fx + fy * fy))
    if a.ndim == 3:
        tf = tf[..., None]
    out = np.fft.irfft2(np.fft.rfft2(padded, axes=(0, 1)) * tf, s=(h, w), axes=(0, 1))
    return out[pad:-pad, pad:-pad].astype(F32)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Cubic smoothstep of ``x`` clipped to [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def hsv(h: float, s: float, v: float) -> np.ndarray:
    """An RGB colour (float32, shape (3,)) from hue (wraps), saturation and value (clipped)."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)), F32)


def lerp(a: Any, b: Any, t: Any) -> Any:
    """Linear interpolation ``a + t (b - a)`` (broadcasts)."""
    return a + (b - a) * t


def stable_hash(text: str) -> int:
    """A process-independent 32-bit hash of a string (Python's ``hash`` is salted per process)."""
    return zlib.crc32(text.encode("utf-8")) & 0xFFFFFFFF


def _hash2(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """A hash of integer lattice points to [0, 1) (float32), the same in every process."""
    h = (ix.astype(np.int64) * 0x27D4EB2D + iy.astype(np.int64) * 0x165667B1 + seed) & 0xFFFFFFFF
    h = h.astype(np.uint32)
    h ^= h >> np.uint32(15)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h.astype(F32) * F32(1.0 / 4294967296.0)


class ValueNoise:
    """Smooth fractal value noise in [0, 1], a pure function of physical coordinates.

    Being a function of position (a hashed lattice, not an array), it is identical in every view.

    Args:
        rng: the generator its seed is drawn from.
        cell_um: lattice spacing of the coarsest octave, in micrometres.
        octaves: number of octaves, each half the spacing and ``gain`` times the amplitude.
        gain: amplitude ratio between octaves.
    """

    def __init__(self, rng: np.random.Generator, cell_um: float, *, octaves: int = 3, gain: float = 0.5):
        self.seed = int(rng.integers(0, 2**31))
        self.cell = max(float(cell_um), 1e-3)
        self.octaves = octaves
        self.gain = gain

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        total = np.zeros(np.shape(x), F32)
        amp, norm, cell = 1.0, 0.0, self.cell
        for octave in range(self.octaves):
            gx, gy = x / cell, y / cell
            x0, y0 = np.floor(gx), np.floor(gy)
            fx, fy = smoothstep(gx - x0), smoothstep(gy - y0)
            seed = self.seed + 7919 * octave
            v00 = _hash2(x0, y0, seed)
            v10 = _hash2(x0 + 1, y0, seed)
            v01 = _hash2(x0, y0 + 1, seed)
            v11 = _hash2(x0 + 1, y0 + 1, seed)
            total += amp * lerp(lerp(v00, v10, fx), lerp(v01, v11, fx), fy)
            norm += amp
            amp *= self.gain
            cell *= 0.5
        return total / F32(norm)


def shift_px(a: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Shift a 2-D array by whole pixels, filling with edge values (no wrap-around)."""
    out = np.roll(a, (dy, dx), axis=(0, 1))
    if dy > 0:
        out[:dy] = out[dy : dy + 1]
    elif dy < 0:
        out[dy:] = out[dy - 1 : dy]
    if dx > 0:
        out[:, :dx] = out[:, dx : dx + 1]
    elif dx < 0:
        out[:, dx:] = out[:, dx - 1 : dx]
    return out


def rotate(x: np.ndarray, y: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in a frame rotated by ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return x * c + y * s, -x * s + y * c


# ============================================================================ pattern
PATTERNS = ("stripes", "pentile")
"""Sub-pixel layouts: RGB stripes (the default), or PenTile-like diamonds (R and B alternating on one
checkerboard colour, a smaller G on the other; two sub-pixel columns and rows per pixel)."""


@dataclass(frozen=True)
class Pattern:
    """Geometry (micrometres) and colours of the panel's pixel array, plus its placement.

    ``pitch`` is the (square) pixel pitch, ``ps`` the sub-pixel width and the spacing of the data lines
    (pitch / 3 for ``stripes``, pitch / 2 for ``pentile``). Pattern coordinates (u, v) are the defect frame
    rotated by ``angle`` and shifted by ``off_u``, ``off_v``.
    """

    pitch: float
    angle: float
    off_u: float
    off_v: float
    bm_v: float
    bm_h: float
    data_w: float
    gate_w: float
    tft_w: float
    tft_h: float
    cs_w: float
    slit_pitch: float
    slit_angle: float
    slit_contrast: float
    colors: np.ndarray  # (3, 3) aperture colour per sub-pixel
    bm_col: np.ndarray
    metal_col: np.ndarray
    tft_col: np.ndarray
    cell_var: float
    seed: int
    layout: str = "stripes"

    @property
    def ps(self) -> float:
        return self.pitch / (2.0 if self.layout == "pentile" else 3.0)


def sample_pattern(rng: np.random.Generator, layout: str = "stripes") -> Pattern:
    """Draw a panel design and its illumination mode (transmitted .. reflected).

    ``layout`` (one of :data:`PATTERNS`) takes nothing from ``rng``: the same generator gives the same
    design in either layout.
    """
    if layout not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, got {layout!r}")
    pitch = float(rng.uniform(70.0, 115.0))
    ps = pitch / 3.0
    refl = float(rng.uniform(0.25, 1.0))
    cf = np.array([[0.86, 0.18, 0.16], [0.24, 0.78, 0.32], [0.18, 0.30, 0.88]], F32)
    cf = np.clip(cf + rng.normal(0.0, 0.04, (3, 3)).astype(F32), 0.03, 1.0)
    muted = 0.28 + 0.38 * cf
    colors = lerp(cf, muted, F32(refl * 0.8))
    bm_v = float(rng.uniform(0.15, 0.26)) * ps
    bm_h = float(rng.uniform(0.14, 0.26)) * pitch
    has_slits = rng.random() < 0.5
    return Pattern(
        pitch=pitch,
        angle=float(np.clip(rng.normal(0.0, math.radians(1.2)), -math.radians(3), math.radians(3))),
        off_u=float(rng.uniform(0, pitch)),
        off_v=float(rng.uniform(0, pitch)),
        bm_v=bm_v,
        bm_h=bm_h,
        data_w=bm_v * float(rng.uniform(0.5, 0.75)),
        gate_w=bm_h * float(rng.uniform(0.22, 0.4)),
        tft_w=ps * float(rng.uniform(0.25, 0.4)),
        tft_h=bm_h * float(rng.uniform(0.55, 0.85)),
        cs_w=pitch * float(rng.uniform(0.03, 0.07)) if rng.random() < 0.7 else 0.0,
        slit_pitch=float(rng.uniform(4.0, 8.0)) if has_slits else 0.0,
        slit_angle=float(rng.uniform(math.radians(5), math.radians(14))),
        slit_contrast=float(rng.uniform(0.05, 0.16)),
        colors=colors.astype(F32),
        bm_col=hsv(rng.uniform(0.55, 0.7), 0.15, 0.03 + 0.12 * refl),
        metal_col=np.array([1.0, 0.97, 0.9], F32) * F32(0.16 + 0.7 * refl),
        tft_col=np.array([0.9, 0.9, 0.95], F32) * F32(0.1 + 0.35 * refl),
        cell_var=float(rng.uniform(0.0, 0.06)),
        seed=int(rng.integers(0, 2**31)),
        layout=layout,
    )


@dataclass
class Ctx:
    """One view of a scene: physical pixel coordinates and helpers passed to the defect renderers.

    ``X``/``Y`` are the physical coordinates (micrometres, defect frame) of pixel centres, ``s`` the
    pixel size in micrometres, ``(cx, cy)`` the physical position of the image centre.
    """

    X: np.ndarray
    Y: np.ndarray
    s: float
    size: int
    cx: float
    cy: float
    pat: Pattern
    footprint: np.ndarray = field(repr=False)

    def to_px(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Physical -> continuous pixel coordinates (pixel centres at integers)."""
        half = self.size / 2.0 - 0.5
        return (np.asarray(x) - self.cx) / self.s + half, (np.asarray(y) - self.cy) / self.s + half

    def window(self, x0: float, y0: float, x1: float, y1: float) -> Window | None:
        """Pixel slices covering a physical box, clipped to the image; None when outside."""
        (px0, px1), (py0, py1) = self.to_px(np.array([x0, x1]), np.array([y0, y1]))
        c0, c1 = max(0, math.floor(px0)), min(self.size, math.ceil(px1) + 1)
        r0, r1 = max(0, math.floor(py0)), min(self.size, math.ceil(py1) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def to_pattern(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Physical (defect frame) -> pattern coordinates (u across data lines, v across gate lines)."""
        c, s = math.cos(self.pat.angle), math.sin(self.pat.angle)
        return c * x - s * y + self.pat.off_u, s * x + c * y + self.pat.off_v

    def from_pattern(self, u: float, v: float) -> tuple[float, float]:
        """Pattern -> physical coordinates (inverse of :meth:`to_pattern`)."""
        c, s = math.cos(self.pat.angle), math.sin(self.pat.angle)
        du, dv = u - self.pat.off_u, v - self.pat.off_v
        return c * du + s * dv, -s * du + c * dv

    def xy(self, win: Window) -> tuple[np.ndarray, np.ndarray]:
        """Physical coordinates (X, Y) of the pixels in a window."""
        return self.X[win], self.Y[win]

    def mark(self, win: Window, m: np.ndarray) -> None:
        """Add coverage ``m`` (the window's shape) to the defect's footprint."""
        np.maximum(self.footprint[win], m, out=self.footprint[win])


def _band(d: np.ndarray, width: float, s: float) -> np.ndarray:
    """Anti-aliased coverage of a line of ``width`` centred where ``d`` is 0 (box-filtered by pixel s)."""
    return np.clip((width / 2.0 - np.abs(d)) / s + 0.5, 0.0, 1.0)


def pattern_layers(ctx: Ctx, u: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluate the pixel array at pattern coordinates: coverage layers that defects may edit.

    Keys: ``ap`` (H, W, 3) aperture colour, ``slit``, ``cs``, ``bm``, ``data``, ``gate``, ``tft`` and
    an empty ``bridge`` (extra metal), each (H, W) in [0, 1].
    """
    pat, s = ctx.pat, ctx.s
    if pat.layout == "pentile":
        return _pentile_layers(ctx, u, v)
    ps, pitch = pat.ps, pat.pitch
    pu = np.mod(u, pitch)
    sub = np.minimum((pu / ps).astype(np.int64), 2)
    lu = pu - sub * ps
    du = np.mod(u + ps / 2.0, ps) - ps / 2.0
    dv = np.mod(v + pitch / 2.0, pitch) - pitch / 2.0
    layers: dict[str, np.ndarray] = {}
    ap = pat.colors[sub]
    if pat.cell_var > 0:  # colour-filter non-uniformity from cell to cell
        var = _hash2(np.floor(u / ps), np.floor(v / pitch), pat.seed) - 0.5
        ap = ap * (1.0 + F32(2 * pat.cell_var) * var)[..., None]
    layers["ap"] = ap.astype(F32)
    if pat.slit_pitch > 0:
        fade = math.exp(-((2.2 * s / pat.slit_pitch) ** 2))  # slits below the resolution wash out
        phase = (lu + np.abs(dv) * math.tan(pat.slit_angle)) / pat.slit_pitch
        layers["slit"] = (F32(pat.slit_contrast * fade) * (0.5 + 0.5 * np.cos(2 * math.pi * phase))).astype(
            F32
        )
    else:
        layers["slit"] = np.zeros(u.shape, F32)
    if pat.cs_w > 0:
        layers["cs"] = _band(np.mod(v, pitch) - pitch / 2.0, pat.cs_w, s).astype(F32)
    else:
        layers["cs"] = np.zeros(u.shape, F32)
    layers["bm"] = np.maximum(_band(du, pat.bm_v, s), _band(dv, pat.bm_h, s)).astype(F32)
    layers["data"] = _band(du, pat.data_w, s).astype(F32)
    layers["gate"] = _band(dv, pat.gate_w, s).astype(F32)
    tx = pat.bm_v / 2.0 + pat.tft_w / 2.0 + 1.0
    ty = pat.bm_h / 2.0 - 0.3 * pat.tft_h
    layers["tft"] = (_band(lu - tx, pat.tft_w, s) * _band(dv - ty, pat.tft_h, s)).astype(F32)
    layers["bridge"] = np.zeros(u.shape, F32)
    return layers


def _pentile_layers(ctx: Ctx, u: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`pattern_layers` for the ``pentile`` layout: square cells of ``ps`` (half a pixel), each holding
    one diamond aperture, R and B alternating on one checkerboard colour, a smaller G on the other (rows
    R G B G, then G R G B, then B G R G, as a diamond PenTile panel); data
    lines run along every cell column edge, gate lines every pixel row, as in the stripe layout."""
    pat, s = ctx.pat, ctx.s
    q, pitch = pat.ps, pat.pitch
    ci, cj = np.floor(u / q), np.floor(v / q)
    green = np.mod(ci + cj, 2) == 1
    red = np.mod(ci - cj, 4) == 0  # rows R G B G, then G R G B, then B G R G
    sub = np.where(green, 1, np.where(red, 0, 2)).astype(np.int64)
    ap = pat.colors[sub]
    if pat.cell_var > 0:
        var = _hash2(ci, cj, pat.seed) - 0.5
        ap = ap * (1.0 + F32(2 * pat.cell_var) * var)[..., None]
    lu, lv = u - ci * q, v - cj * q  # position inside the cell, 0..q
    radius = q / 2.0 - 0.6 * pat.bm_v
    radius = np.where(green, 0.78 * radius, radius)
    diamond = np.abs(lu - q / 2.0) + np.abs(lv - q / 2.0)
    du = np.mod(u + q / 2.0, q) - q / 2.0
    dv = np.mod(v + pitch / 2.0, pitch) - pitch / 2.0
    zeros = np.zeros(u.shape, F32)
    layers: dict[str, np.ndarray] = {"ap": ap.astype(F32)}
    if pat.slit_pitch > 0:
        fade = math.exp(-((2.2 * s / pat.slit_pitch) ** 2))
        phase = (lu + np.abs(lv - q / 2.0) * math.tan(pat.slit_angle)) / pat.slit_pitch
        wave = 0.5 + 0.5 * np.cos(2 * math.pi * phase)
        layers["slit"] = (F32(pat.slit_contrast * fade) * wave).astype(F32)
    else:
        layers["slit"] = zeros.copy()
    cs = _band(np.mod(v, pitch) - pitch / 2.0, pat.cs_w, s) if pat.cs_w > 0 else zeros
    layers["cs"] = cs.astype(F32)
    layers["bm"] = np.clip((diamond - radius) / s + 0.5, 0.0, 1.0).astype(F32)
    layers["data"] = _band(du, pat.data_w, s).astype(F32)
    layers["gate"] = _band(dv, pat.gate_w, s).astype(F32)
    tx = pat.bm_v / 2.0 + pat.tft_w / 2.0 + 1.0
    ty = pat.bm_h / 2.0 - 0.3 * pat.tft_h
    layers["tft"] = (_band(lu - tx, pat.tft_w, s) * _band(dv - ty, pat.tft_h, s)).astype(F32)
    layers["bridge"] = zeros.copy()
    return layers


def compose_pattern(ctx: Ctx, layers: dict[str, np.ndarray]) -> np.ndarray:
    """Composite the layers into a linear RGB float image (H, W, 3)."""
    pat = ctx.pat
    img = layers["ap"] * (1.0 - layers["slit"])[..., None]
    img = lerp(img, pat.metal_col * F32(0.8), (0.85 * layers["cs"])[..., None])
    img = lerp(img, pat.bm_col, layers["bm"][..., None])
    metal = np.maximum(np.maximum(layers["data"], layers["gate"]), layers["bridge"])
    img = lerp(img, pat.metal_col, metal[..., None])
    tft = layers["tft"]
    channel = np.clip(tft * 2.0 - 1.0, 0.0, 1.0)  # a darker channel in the island's middle
    img = lerp(img, pat.tft_col, tft[..., None])
    img = img * (1.0 - 0.3 * channel)[..., None]
    return img.astype(F32)
