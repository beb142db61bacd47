"""Defect renderers for the synthetic FMA micrograph generator (:mod:`models.data.synth`).

Every defect is drawn in *physical* coordinates (micrometres, origin at the defect's centre), so the
same sampled defect can be viewed at several magnifications. A defect is built once from a
``np.random.Generator`` (all its random choices are made in the constructor) and then rendered into
any number of views without drawing more random numbers. It can act on a view in four ways, called in
this order by the generator:

1. ``context``: scene context that is *not* the defect (a glass edge); drawn in the background too.
2. ``warp``: distort the pattern coordinates (a bubble magnifies the pattern like a lens).
3. ``edit_layers``: change the pattern itself (cut or bridge a metal line, lift the ITO colour).
4. ``overlay``: paint over the composed image (particles, films, lines).

Each hook marks the pixels it changed in ``ctx.footprint`` (the defect's bounding box comes from it).

Leaves of one subgroup share one renderer family and one parameter vector; each leaf is a different
*distribution* over that vector. With ``difficulty`` > 0 a sample's parameters are blended part of the
way towards a random sibling's, so siblings overlap more than cousins do (the hierarchy matters).
"""

from __future__ import annotations

import colorsys
import copy
import math
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw

if TYPE_CHECKING:  # pragma: no cover - typing only
    from models.data.synth import Ctx

F32 = np.float32
TAU = 2.0 * math.pi
MIX_MAX = 0.85
"""Largest blend fraction towards a sibling's parameters (reached at ``difficulty`` 1)."""

Params = dict[str, float]
Window = tuple[slice, slice]


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


def _shift(a: np.ndarray, dx: int, dy: int) -> np.ndarray:
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


def _local(ctx: Ctx, win: Window) -> tuple[np.ndarray, np.ndarray]:
    return ctx.X[win], ctx.Y[win]


def _rotate(x: np.ndarray, y: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(angle), math.sin(angle)
    return x * c + y * s, -x * s + y * c


# ============================================================================ shapes
class RadialShape:
    """A star-shaped blob: smooth harmonics blended with a random polygon, elongated and rotated.

    Args:
        rng: random source (all draws happen here).
        cx, cy: centre in micrometres (defect frame).
        radius: minor radius in micrometres (the major radius is ``radius * elong``).
        elong: elongation (>= 1) along the rotated x axis.
        irregular: amplitude of the smooth radial wobble (0 = ellipse).
        angular: 0 = smooth outline, 1 = polygon with sharp corners.
        rot: rotation in radians; random if None.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        cx: float,
        cy: float,
        radius: float,
        elong: float = 1.0,
        irregular: float = 0.2,
        angular: float = 0.0,
        rot: float | None = None,
    ):
        self.cx, self.cy = float(cx), float(cy)
        self.radius = max(float(radius), 0.05)
        self.elong = max(float(elong), 1.0)
        self.rot = float(rng.uniform(0, TAU) if rot is None else rot)
        k = np.arange(2, 8, dtype=F32)
        amps = rng.normal(0.0, 1.0, k.size).astype(F32) / k**1.3
        self.amps = amps * F32(max(irregular, 0.0) / (np.abs(amps).sum() + 1e-6) * 1.4)
        self.phases = rng.uniform(0, TAU, k.size).astype(F32)
        self.k = k
        n_vert = int(rng.integers(4, 9))
        jitter = rng.uniform(-0.32, 0.32, n_vert)
        theta = (np.arange(n_vert) + jitter) * (TAU / n_vert) + rng.uniform(0, TAU)
        self.poly_theta = np.mod(theta, TAU).astype(F32)
        order = np.argsort(self.poly_theta)
        self.poly_theta = self.poly_theta[order]
        self.poly_r = rng.uniform(0.72, 1.18, n_vert).astype(F32)[order]
        self.angular = float(np.clip(angular, 0.0, 1.0))
        probe = np.linspace(0, TAU, 90, endpoint=False, dtype=F32)
        self._rmax = float(self._rel(probe).max())

    def _rel(self, phi_in: np.ndarray) -> np.ndarray:
        shape = np.shape(phi_in)
        phi = np.ravel(phi_in).astype(F32)
        smooth = 1.0 + (self.amps[:, None] * np.cos(self.k[:, None] * phi[None] + self.phases[:, None])).sum(
            0
        )
        if self.angular <= 0.0:
            return smooth.astype(F32).reshape(shape)
        th, rr = self.poly_theta, self.poly_r
        idx = np.searchsorted(th, np.mod(phi, TAU)) - 1  # -1 wraps to the last vertex
        i0 = np.mod(idx, th.size)
        i1 = np.mod(idx + 1, th.size)
        p0x, p0y = rr[i0] * np.cos(th[i0]), rr[i0] * np.sin(th[i0])
        p1x, p1y = rr[i1] * np.cos(th[i1]), rr[i1] * np.sin(th[i1])
        dx, dy = np.cos(phi), np.sin(phi)
        ex, ey = p1x - p0x, p1y - p0y
        denom = dx * ey - dy * ex
        denom = np.where(np.abs(denom) < 1e-6, 1e-6, denom)
        poly = (p0x * p1y - p0y * p1x) / denom
        return lerp(smooth, np.clip(poly, 0.2, 2.0), self.angular).astype(F32).reshape(shape)

    def moved(self, dx: float, dy: float) -> RadialShape:
        """The same outline shifted by (dx, dy) micrometres."""
        out = copy.copy(self)
        out.cx, out.cy = self.cx + dx, self.cy + dy
        return out

    @property
    def extent(self) -> float:
        """Largest extent (micrometres)."""
        return 2.0 * self.radius * self.elong * self._rmax

    def bounds(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        """Physical bounding box (x0, y0, x1, y1) with a margin."""
        r = self.radius * self.elong * self._rmax + margin
        return self.cx - r, self.cy - r, self.cx + r, self.cy + r

    def sdf(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Approximate signed distance to the outline in micrometres (positive inside)."""
        a, b = _rotate(x - self.cx, y - self.cy, self.rot)
        a = a / self.elong
        rho = np.sqrt(a * a + b * b) + 1e-6
        phi = np.arctan2(b, a)
        stretch = np.sqrt((a * self.elong) ** 2 + b * b) / rho
        return ((self.radius * self._rel(phi) - rho) * stretch).astype(F32)

    def mask(self, x: np.ndarray, y: np.ndarray, soft: float) -> np.ndarray:
        """Anti-aliased coverage with an edge ramp ``soft`` micrometres wide."""
        return np.clip(self.sdf(x, y) / max(soft, 1e-3) + 0.5, 0.0, 1.0).astype(F32)


Stroke = tuple[np.ndarray, float, float]
"""A polyline: (points (N, 2) in micrometres, width in micrometres, weight 0..1)."""


def stroke_bounds(strokes: list[Stroke], margin: float = 0.0) -> tuple[float, float, float, float]:
    """Physical bounding box of strokes, widened by their width and a margin."""
    pts = np.concatenate([p for p, _, _ in strokes])
    w = max(wd for _, wd, _ in strokes) + margin
    return (
        float(pts[:, 0].min() - w),
        float(pts[:, 1].min() - w),
        float(pts[:, 0].max() + w),
        float(pts[:, 1].max() + w),
    )


def stroke_mask(ctx: Ctx, strokes: list[Stroke], win: Window) -> np.ndarray:
    """Coverage of polylines inside a pixel window, drawn supersampled then box-filtered."""
    ys, xs = win
    h, w = ys.stop - ys.start, xs.stop - xs.start
    ss = 4 if max(h, w) <= 384 else 2
    canvas = Image.new("L", (w * ss, h * ss), 0)
    draw = ImageDraw.Draw(canvas)
    for pts, width, weight in strokes:
        px, py = ctx.to_px(pts[:, 0], pts[:, 1])
        cx = (px - xs.start) * ss + (ss - 1) / 2.0
        cy = (py - ys.start) * ss + (ss - 1) / 2.0
        wpx = width / ctx.s * ss
        lw = max(1, round(wpx))
        fill = round(255 * min(1.0, weight) * min(1.0, wpx))
        if fill <= 0:
            continue
        coords = [(float(a), float(b)) for a, b in zip(cx, cy, strict=True)]
        draw.line(coords, fill=fill, width=lw, joint="curve" if lw > 2 else None)
    small = canvas.resize((w, h), Image.Resampling.BOX)
    return np.asarray(small, dtype=F32) * F32(1.0 / 255.0)


def random_walk(
    rng: np.random.Generator,
    *,
    start: tuple[float, float],
    heading: float,
    length: float,
    curv: float,
    jagged: float,
    n: int = 48,
) -> np.ndarray:
    """A polyline of ``n`` segments: smooth curvature plus jagged kinks. Returns (n+1, 2) points."""
    step = length / n
    turn = rng.normal(0.0, 1.0) * curv * 2.0 / n  # constant bend (an arc)
    drift = np.cumsum(rng.normal(0.0, curv * 0.6 / math.sqrt(n), n))  # slow wander
    kinks = rng.normal(0.0, jagged * 0.55, n) * (rng.random(n) < 0.55)
    angles = heading + turn * np.arange(n) + drift + kinks
    pts = np.zeros((n + 1, 2))
    pts[0] = start
    pts[1:, 0] = start[0] + np.cumsum(step * np.cos(angles))
    pts[1:, 1] = start[1] + np.cumsum(step * np.sin(angles))
    return pts


def _centred(pts: np.ndarray) -> np.ndarray:
    lo, hi = pts.min(0), pts.max(0)
    return pts - (lo + hi) / 2.0


def _max_extent(pts: np.ndarray) -> float:
    if len(pts) > 200:
        pts = pts[:: len(pts) // 200 + 1]
    d = pts[:, None, :] - pts[None, :, :]
    return float(np.sqrt((d**2).sum(-1)).max())


# ============================================================================ defect base
class Defect:
    """Base class: a defect sampled once, rendered into any view. Subclasses override the hooks."""

    extent_um: float = 10.0
    kind: str = ""

    def __init__(self) -> None:
        self.edge: GlassEdge | None = None

    def context(self, ctx: Ctx, img: np.ndarray) -> None:
        """Scene context around the defect (drawn with and without the defect)."""
        if self.edge is not None:
            self.edge.draw(ctx, img)

    def warp(self, ctx: Ctx, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distort pattern coordinates (default: unchanged)."""
        return u, v

    def edit_layers(self, ctx: Ctx, layers: dict[str, np.ndarray]) -> None:
        """Change the pattern layers before they are composed (default: nothing)."""

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        """Paint over the composed image (default: nothing)."""


def _mark(ctx: Ctx, win: Window, m: np.ndarray) -> None:
    np.maximum(ctx.footprint[win], m, out=ctx.footprint[win])


# ============================================================================ scene context
class GlassEdge:
    """The panel's glass edge: beyond it the stage (dark void); a bright bevel line along it.

    Args:
        rng: random source.
        offset: signed distance (micrometres) from the defect centre to the edge line.
        angle: direction of the outward normal, radians; random if None.
    """

    def __init__(self, rng: np.random.Generator, *, offset: float, angle: float | None = None):
        base = rng.integers(0, 4) * (math.pi / 2) + rng.normal(0.0, 0.12)
        self.angle = float(base if angle is None else angle)
        self.offset = float(offset)
        self.bevel = float(rng.uniform(2.5, 8.0))
        self.bevel_lum = float(rng.uniform(0.45, 0.9))
        self.void = hsv(rng.uniform(0.55, 0.65), rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.16))
        self.noise = ValueNoise(rng, rng.uniform(15, 40))
        self.wave = ValueNoise(rng, 30.0, octaves=2)

    def signed(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Signed distance (micrometres), positive outside the glass."""
        return (x * math.cos(self.angle) + y * math.sin(self.angle) - self.offset).astype(F32)

    def draw(self, ctx: Ctx, img: np.ndarray) -> None:
        d = self.signed(ctx.X, ctx.Y) + (self.wave(ctx.X, ctx.Y) - 0.5) * 1.5
        outside = np.clip(d / ctx.s + 0.5, 0.0, 1.0)[..., None]
        void = self.void * (0.75 + 0.5 * self.noise(ctx.X, ctx.Y)[..., None])
        bevel = np.clip(1.0 - np.abs(d + self.bevel / 2) / (self.bevel / 2 + ctx.s), 0.0, 1.0)[..., None]
        img[:] = lerp(img, void, outside)
        img[:] = lerp(img, F32(self.bevel_lum) * np.array([0.95, 0.97, 1.0], F32), bevel * 0.8)


# ============================================================================ parameter tables
STRUCTURAL: dict[str, float] = {
    "n": 0.4, "elong": 0.6, "lines": 0.5, "edge": 0.35, "chips": 0.25, "dent": 0.3, "lift": 0.5,
}  # fmt: skip
"""Blend weights (< 1) for parameters that switch structure or add components: blending them fully would
turn a sample into its sibling (label noise) rather than make it a hard example."""


def _sample_table(
    table: dict[str, dict[str, tuple[float, float]]],
    leaf: str,
    rng: np.random.Generator,
    difficulty: float,
) -> Params:
    """Draw a leaf's parameters, blended part of the way towards a random sibling's draw.

    The blend fraction is ``difficulty * MIX_MAX * u**1.3`` (u uniform), times :data:`STRUCTURAL`'s
    weight for structural parameters.
    """
    own = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in table[leaf].items()}
    siblings = [name for name in table if name != leaf]
    sib = siblings[int(rng.integers(len(siblings)))]
    other = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in table[sib].items()}
    t = float(np.clip(difficulty, 0.0, 1.0)) * MIX_MAX * float(rng.random()) ** 1.3
    out = {}
    for k, value in own.items():
        delta = other[k] - value
        if k == "hue":  # hue is circular: blend the short way round
            delta = (delta + 0.5) % 1.0 - 0.5
        out[k] = value + t * STRUCTURAL.get(k, 1.0) * delta
    return out


# ---------------------------------------------------------------------------- particles
PARTICLE: dict[str, dict[str, tuple[float, float]]] = {
    "particle_metal": {
        "size": (10, 45), "n": (1, 1.4), "elong": (1, 1.8), "curv": (0, 0.3), "angular": (0.25, 0.6),
        "irregular": (0.05, 0.25), "soft": (0, 0.05), "lum": (0.5, 0.95), "opacity": (0.85, 1),
        "hue": (0.06, 0.14), "sat": (0, 0.15), "highlight": (0.5, 1), "rim": (0.05, 0.3),
        "shadow": (0.25, 0.6), "texture": (0.05, 0.25), "translucent": (0, 0.12),
    },
    "particle_organic": {
        "size": (12, 60), "n": (1, 1.4), "elong": (1, 2.2), "curv": (0, 0.3), "angular": (0, 0.25),
        "irregular": (0.15, 0.4), "soft": (0.08, 0.3), "lum": (0.06, 0.4), "opacity": (0.6, 0.95),
        "hue": (0.04, 0.11), "sat": (0.3, 0.75), "highlight": (0, 0.25), "rim": (0, 0.15),
        "shadow": (0, 0.3), "texture": (0.3, 0.75), "translucent": (0.1, 0.4),
    },
    "particle_glass": {
        "size": (12, 50), "n": (1, 1.4), "elong": (1, 2.2), "curv": (0, 0.2), "angular": (0.65, 1),
        "irregular": (0.1, 0.35), "soft": (0, 0.05), "lum": (0.5, 0.85), "opacity": (0.35, 0.7),
        "hue": (0.42, 0.58), "sat": (0, 0.15), "highlight": (0.15, 0.5), "rim": (0.5, 1),
        "shadow": (0, 0.25), "texture": (0, 0.12), "translucent": (0.6, 0.9),
    },
    "particle_cluster": {
        "size": (25, 100), "n": (5, 20), "elong": (1, 1.8), "curv": (0, 0.3), "angular": (0.05, 0.7),
        "irregular": (0.1, 0.35), "soft": (0, 0.2), "lum": (0.1, 0.8), "opacity": (0.7, 1),
        "hue": (0.03, 0.15), "sat": (0, 0.5), "highlight": (0.1, 0.6), "rim": (0, 0.4),
        "shadow": (0.1, 0.5), "texture": (0, 0.4), "translucent": (0, 0.4),
    },
    "fiber": {
        "size": (70, 300), "n": (1, 1.4), "elong": (10, 35), "curv": (0.4, 1.4), "angular": (0, 0.3),
        "irregular": (0.05, 0.3), "soft": (0.02, 0.2), "lum": (0.05, 0.55), "opacity": (0.65, 0.95),
        "hue": (0, 1), "sat": (0, 0.45), "highlight": (0, 0.35), "rim": (0, 0.3),
        "shadow": (0, 0.3), "texture": (0.1, 0.4), "translucent": (0.05, 0.35),
    },
}  # fmt: skip


class Appearance:
    """How a particle-like body is painted over the image: colour, texture, shadow, bevel and rim."""

    def __init__(self, rng: np.random.Generator, p: Params):
        self.p = p
        self.color = hsv(p["hue"], p["sat"], p["lum"])
        self.tint = lerp(np.ones(3, F32), hsv(p["hue"], p["sat"] * 1.5 + 0.05, 1.0), 0.6)
        self.light = float(rng.uniform(0, TAU))
        self.noise = ValueNoise(rng, max(1.0, p["size"] / 10.0))

    def paint(self, ctx: Ctx, img: np.ndarray, win: Window, m: np.ndarray, scale_um: float) -> None:
        """Paint coverage ``m`` (window ``win``); ``scale_um`` is the body's typical width."""
        p = self.p
        x, y = _local(ctx, win)
        crop = img[win]
        sc = max(scale_um / ctx.s, 1.0)  # body width in pixels
        lx, ly = math.cos(self.light), math.sin(self.light)
        # drop shadow, opposite the light
        d = max(1, round(0.18 * sc))
        ms = gauss_blur(_shift(m, round(-lx * d), round(-ly * d)), 0.15 * sc + 0.5)
        crop *= 1.0 - (F32(p["shadow"] * 0.55) * ms * (1.0 - m))[..., None]
        tex = 1.0 + F32(p["texture"] * 1.6) * (self.noise(x, y) - 0.5)
        body = self.color * tex[..., None]
        body = lerp(body, crop * self.tint * F32(1.05), F32(p["translucent"]))
        a = (F32(p["opacity"]) * m)[..., None]
        crop[:] = lerp(crop, body, a)
        # bevel: lit edge brighter, far edge darker
        mb = gauss_blur(m, 0.12 * sc + 0.4)
        e = max(1, round(0.15 * sc))
        grad = _shift(mb, round(lx * e), round(ly * e)) - _shift(mb, round(-lx * e), round(-ly * e))
        crop += (F32(p["highlight"] * 0.7) * np.clip(-grad, 0.0, 1.0) * m)[..., None]
        crop -= (F32(p["highlight"] * 0.25 + 0.05) * np.clip(grad, 0.0, 1.0) * m)[..., None] * crop
        # refraction rim: bright inner edge, dark outer line
        mr = gauss_blur(m, 0.08 * sc + 0.6)
        inner = np.clip(m - mr, 0.0, 1.0) * 2.0
        outer = np.clip(mr - m, 0.0, 1.0) * 2.0
        crop += (F32(p["rim"]) * (0.55 * inner - 0.5 * outer * crop.mean(-1)))[..., None]
        _mark(ctx, win, np.maximum(m, F32(p["shadow"]) * ms))


class ParticleDefect(Defect):
    """Compact blobs (metal, organic, glass), a cluster of blobs, or a fibre strand."""

    def __init__(self, kind: str, rng: np.random.Generator, p: Params):
        super().__init__()
        self.kind = self.style = kind
        self.p = p
        self.look = Appearance(rng, p)
        n = max(1, math.floor(p["n"]))
        self.strands: list[Stroke] = []
        self.shapes: list[RadialShape] = []
        if p["elong"] >= 4.0:  # a strand
            width = max(1.0, p["size"] / p["elong"])
            pts = random_walk(
                rng,
                start=(0.0, 0.0),
                heading=rng.uniform(0, TAU),
                length=p["size"],
                curv=p["curv"],
                jagged=p["irregular"] * 0.3,
                n=40,
            )
            pts = _centred(pts)
            self.strands.append((pts, width, 1.0))
            for _ in range(int(rng.integers(0, 3))):  # loose fibrils
                i = int(rng.integers(5, len(pts) - 5))
                seg = pts[i + 1] - pts[i - 1]
                side = math.atan2(seg[1], seg[0]) + rng.choice([-1, 1]) * rng.uniform(0.4, 1.2)
                fib = random_walk(
                    rng,
                    start=tuple(pts[i]),
                    heading=side,
                    length=rng.uniform(0.05, 0.2) * p["size"],
                    curv=p["curv"],
                    jagged=0.1,
                    n=8,
                )
                self.strands.append((fib, width * 0.35, 0.8))
            self.width = width
            self.extent_um = _max_extent(np.concatenate([s[0] for s in self.strands]))
        elif n == 1:
            r = p["size"] / 2.0 / p["elong"]
            self.shapes.append(
                RadialShape(rng, cx=0, cy=0, radius=r, elong=p["elong"], irregular=p["irregular"],
                            angular=p["angular"])
            )  # fmt: skip
            self.width = 2 * r
            self.extent_um = self.shapes[0].extent
        else:
            # few parts: a main particle with satellites; many parts: a cluster of similar grains
            few = n < 5
            spread = p["size"] / (2.5 if few else 4.5)
            for i in range(n):
                cx, cy = (0.0, 0.0) if i == 0 else rng.normal(0.0, spread, 2)
                if i == 0 and few:
                    r, elong = p["size"] / 2.0 / p["elong"], p["elong"]
                else:
                    r, elong = (
                        p["size"] * rng.uniform(0.04, 0.12) * (1.5 if i == 0 else 1.0),
                        rng.uniform(1, p["elong"]),
                    )
                self.shapes.append(
                    RadialShape(rng, cx=cx, cy=cy, radius=r, elong=elong, irregular=p["irregular"],
                                angular=p["angular"])
                )  # fmt: skip
            self.width = 2 * float(np.median([s.radius for s in self.shapes]))
            boxes = np.array([s.bounds() for s in self.shapes])
            self.extent_um = float(
                math.hypot(boxes[:, 2].max() - boxes[:, 0].min(), boxes[:, 3].max() - boxes[:, 1].min())
                / 1.25
            )

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        margin = 0.5 * self.width + 3 * ctx.s
        if self.strands:
            win = ctx.window(*stroke_bounds(self.strands, margin))
            if win is None:
                return
            m = stroke_mask(ctx, self.strands, win)
            m = gauss_blur(m, self.p["soft"] * self.width / ctx.s)
        else:
            boxes = np.array([s.bounds(margin) for s in self.shapes])
            win = ctx.window(boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max())
            if win is None:
                return
            x, y = _local(ctx, win)
            m = np.zeros(x.shape, F32)
            for s in self.shapes:
                soft = max(0.6 * ctx.s, self.p["soft"] * 2 * s.radius)
                np.maximum(m, s.mask(x, y, soft), out=m)
        self.look.paint(ctx, img, win, m, self.width)


# ---------------------------------------------------------------------------- residues
RESIDUE: dict[str, dict[str, tuple[float, float]]] = {
    "pi_residue": {
        "size": (30, 160), "irregular": (0.2, 0.5), "edge": (0.3, 0.65), "opacity": (0.15, 0.4),
        "hue": (0.1, 0.17), "sat": (0.25, 0.55), "lum": (0.55, 0.85), "fringes": (0.25, 0.6),
        "freq": (2, 5), "rainbow": (0.15, 0.45), "ring": (0, 0.25), "mottle": (0.1, 0.35),
        "elong": (1, 2.2), "satellites": (0, 0.3),
    },
    "photoresist_residue": {
        "size": (30, 160), "irregular": (0.1, 0.4), "edge": (0.7, 1), "opacity": (0.35, 0.65),
        "hue": (0.0, 0.08), "sat": (0.45, 0.85), "lum": (0.4, 0.75), "fringes": (0, 0.25),
        "freq": (1, 3), "rainbow": (0, 0.15), "ring": (0.1, 0.35), "mottle": (0.05, 0.3),
        "elong": (1, 2.5), "satellites": (0, 0.3),
    },
    "lc_stain": {
        "size": (40, 220), "irregular": (0.3, 0.6), "edge": (0, 0.3), "opacity": (0.1, 0.3),
        "hue": (0, 1), "sat": (0.2, 0.5), "lum": (0.5, 0.9), "fringes": (0.2, 0.5),
        "freq": (1.5, 4), "rainbow": (0.65, 1), "ring": (0, 0.2), "mottle": (0.35, 0.75),
        "elong": (1, 2.5), "satellites": (0.2, 0.6),
    },
    "water_mark": {
        "size": (30, 180), "irregular": (0.03, 0.2), "edge": (0.55, 0.9), "opacity": (0.04, 0.2),
        "hue": (0.5, 0.65), "sat": (0, 0.2), "lum": (0.3, 0.7), "fringes": (0, 0.2),
        "freq": (2, 5), "rainbow": (0, 0.2), "ring": (0.7, 1), "mottle": (0, 0.25),
        "elong": (1, 1.4), "satellites": (0, 0.4),
    },
}  # fmt: skip


class FilmPatch:
    """One thin-film patch: tinted absorption, interference fringes, an edge ring, mottling."""

    def __init__(self, rng: np.random.Generator, p: Params, *, cx: float, cy: float, size: float):
        self.p = p
        r = size / 2.0 / math.sqrt(p["elong"])
        self.shape = RadialShape(
            rng, cx=cx, cy=cy, radius=r, elong=p["elong"], irregular=p["irregular"], angular=0.0
        )
        self.r = r
        self.tint = hsv(p["hue"], p["sat"], p["lum"])
        self.noise = ValueNoise(rng, max(2.0, size / 5.0))
        self.phase0 = float(rng.uniform(0, TAU))
        self.ring_w = float(rng.uniform(0.05, 0.13) + 0.04 * p["ring"]) * r
        self.hue_phase = np.array([0.0, TAU / 3, 2 * TAU / 3], F32) * F32(p["rainbow"])

    def paint(self, ctx: Ctx, img: np.ndarray) -> None:
        p = self.p
        win = ctx.window(*self.shape.bounds(3 * ctx.s + self.ring_w))
        if win is None:
            return
        x, y = _local(ctx, win)
        crop = img[win]
        sd = self.shape.sdf(x, y)
        soft = lerp(0.45 * self.r, 0.02 * self.r, p["edge"]) + 0.7 * ctx.s
        m = np.clip(sd / soft + 0.5, 0.0, 1.0) if p["edge"] > 0.5 else smoothstep(sd / soft + 0.5)
        noise = self.noise(x, y)
        thick = np.clip(sd / self.r, 0.0, 1.0) ** 0.7 * (1.0 + F32(p["mottle"]) * (noise - 0.5) * 1.6)
        # absorption by the tinted film
        a = (F32(p["opacity"]) * m * (0.7 + 0.6 * noise * p["mottle"]))[..., None]
        crop[:] = crop * lerp(np.ones(3, F32), self.tint * F32(1.25), a)
        # interference fringes (rainbow = phase-shifted channels)
        phase = TAU * F32(p["freq"]) * thick + F32(self.phase0)
        fringe = np.cos(phase[..., None] + self.hue_phase)
        crop += F32(p["fringes"] * 0.2) * fringe * m[..., None]
        # the dried edge: a darker band just inside the outline plus a faint bright line outside
        band = m * np.clip(1.0 - sd / self.ring_w, 0.0, 1.0)
        out = np.clip(1.0 + sd / (self.ring_w * 0.6 + ctx.s), 0.0, 1.0) * (1.0 - m)
        crop *= 1.0 - (F32(p["ring"] * 0.7) * band)[..., None]
        crop += (F32(p["ring"] * 0.2) * out)[..., None]
        _mark(ctx, win, m)


class ResidueDefect(Defect):
    """Film-like patches: PI residue, photoresist, LC stain, water mark (plus satellite droplets)."""

    def __init__(self, kind: str, rng: np.random.Generator, p: Params):
        super().__init__()
        self.kind = self.style = kind
        self.p = p
        self.patches = [FilmPatch(rng, p, cx=0.0, cy=0.0, size=p["size"])]
        for _ in range(round(p["satellites"] * 5 * rng.random())):
            ang, dist = rng.uniform(0, TAU), p["size"] * rng.uniform(0.45, 0.85)
            self.patches.append(
                FilmPatch(rng, p, cx=dist * math.cos(ang), cy=dist * math.sin(ang),
                          size=p["size"] * rng.uniform(0.08, 0.25))
            )  # fmt: skip
        boxes = np.array([fp.shape.bounds() for fp in self.patches])
        self.extent_um = float(
            max(boxes[:, 2].max() - boxes[:, 0].min(), boxes[:, 3].max() - boxes[:, 1].min())
        )

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        for patch in self.patches:
            patch.paint(ctx, img)


# ---------------------------------------------------------------------------- mechanical
MECHANICAL: dict[str, dict[str, tuple[float, float]]] = {
    "scratch": {
        "length": (90, 450), "lines": (1, 2.4), "width": (1.5, 5), "jagged": (0, 0.12),
        "branching": (0, 0.1), "curve": (0, 0.3), "spacing": (3, 15), "contrast": (0.35, 0.75),
        "bright": (0.2, 0.8), "halo": (0, 0.4), "edge": (0, 0.08), "chips": (0, 0.1), "dent": (0, 0.05),
    },
    "crack": {
        "length": (50, 260), "lines": (1, 1.45), "width": (1.2, 3.5), "jagged": (0.5, 1),
        "branching": (0.4, 1), "curve": (0, 0.4), "spacing": (3, 15), "contrast": (0.45, 0.85),
        "bright": (0, 0.2), "halo": (0.3, 0.8), "edge": (0, 0.35), "chips": (0, 0.15), "dent": (0, 0.1),
    },
    "edge_chipping": {
        "length": (25, 140), "lines": (0, 0.9), "width": (1, 3), "jagged": (0.3, 0.9),
        "branching": (0, 0.5), "curve": (0, 0.3), "spacing": (3, 15), "contrast": (0.3, 0.7),
        "bright": (0, 0.4), "halo": (0.1, 0.6), "edge": (1, 1), "chips": (0.8, 1), "dent": (0, 0.05),
    },
    "dent": {
        "length": (14, 70), "lines": (0, 0.9), "width": (1, 3), "jagged": (0, 0.3),
        "branching": (0, 0.3), "curve": (0, 0.3), "spacing": (3, 15), "contrast": (0.35, 0.75),
        "bright": (0.3, 0.7), "halo": (0, 0.3), "edge": (0, 0.06), "chips": (0, 0.05), "dent": (0.8, 1),
    },
    "rubbing_scratch": {
        "length": (100, 500), "lines": (4, 14), "width": (0.5, 1.8), "jagged": (0, 0.06),
        "branching": (0, 0.05), "curve": (0, 0.1), "spacing": (2.5, 10), "contrast": (0.15, 0.45),
        "bright": (0.3, 0.9), "halo": (0, 0.2), "edge": (0, 0.03), "chips": (0, 0.03), "dent": (0, 0.03),
    },
}  # fmt: skip


class MechanicalDefect(Defect):
    """Line and edge structures: scratches, cracks, rubbing lines, edge chips, dents.

    All five leaves share strokes (count, width, jaggedness, branching, spacing, contrast) and optional
    components (glass edge, shell chips, a dent); each leaf is a distribution over these.
    """

    def __init__(self, kind: str, rng: np.random.Generator, p: Params):
        super().__init__()
        self.kind = self.style = kind
        self.p = p
        self.bright = bool(rng.random() < p["bright"])
        self.light = float(rng.uniform(0, TAU))
        heading = float(rng.uniform(0, TAU))
        self.strokes: list[Stroke] = []
        n_lines = math.floor(p["lines"] + rng.random() * 0.5)
        if kind in ("scratch", "crack", "rubbing_scratch"):
            n_lines = max(1, n_lines)  # a leaf's own component is always there
        has_chips = kind == "edge_chipping" or rng.random() < p["chips"]
        has_dent = kind == "dent" or rng.random() < p["dent"]
        self.chips: list[RadialShape] = []
        self.dent_r = 0.0
        if has_chips or rng.random() < p["edge"]:
            offset = (
                0.0 if has_chips else rng.uniform(0.2, 0.8) * p["length"] + 10.0
            )  # the defect is on the glass
            self.edge = GlassEdge(rng, offset=float(offset))
        if has_chips and self.edge is not None:
            along = self.edge.angle + math.pi / 2
            n_chips = int(rng.integers(1, 4))
            for i in range(n_chips):
                t = 0.0 if i == 0 else rng.normal(0.0, 0.35 * p["length"])
                r = p["length"] / 2 * (1.0 if i == 0 else rng.uniform(0.3, 0.7)) * rng.uniform(0.6, 1.0)
                if kind != "edge_chipping":
                    r = min(r, rng.uniform(6.0, 18.0))  # a borrowed chip stays small
                cx = t * math.cos(along) + self.edge.offset * math.cos(self.edge.angle)
                cy = t * math.sin(along) + self.edge.offset * math.sin(self.edge.angle)
                self.chips.append(
                    RadialShape(rng, cx=cx, cy=cy, radius=r, elong=rng.uniform(1.0, 1.8),
                                irregular=0.1 + 0.25 * p["jagged"], angular=0.3 * p["jagged"],
                                rot=along + rng.normal(0, 0.2))
                )  # fmt: skip
            self.ring_wl = float(rng.uniform(0.12, 0.3)) * p["length"] / 2
            self.chip_lum = float(rng.uniform(0.3, 0.6))
            heading = self.edge.angle + math.pi + rng.normal(0.0, 0.6)  # cracks run into the glass
        if has_dent:
            self.dent_r = p["length"] / 2 if kind == "dent" else rng.uniform(6, 25)
            self.dent_depth = float(rng.uniform(0.5, 1.0))
        self.noise = ValueNoise(rng, max(2.0, p["length"] / 12))
        long_len = p["length"] if n_lines > 0 and kind not in ("dent", "edge_chipping") else p["length"] * 0.6
        offsets = (np.arange(n_lines) - (n_lines - 1) / 2.0) * p["spacing"]
        for i in range(n_lines):
            ln = long_len * rng.uniform(0.55, 1.0)
            if kind == "dent" and self.dent_r > 0:  # radial cracks from the dent's centre
                h = rng.uniform(0, TAU)
                pts = random_walk(rng, start=(0.0, 0.0), heading=h, length=self.dent_r * rng.uniform(0.8, 1.8),
                                  curv=p["curve"], jagged=p["jagged"], n=24)  # fmt: skip
            else:
                shift = offsets[i] + rng.normal(0, p["spacing"] * 0.15)
                along = rng.normal(0, 0.15 * ln)
                sx = -math.sin(heading) * shift + math.cos(heading) * (along - ln / 2)
                sy = math.cos(heading) * shift + math.sin(heading) * (along - ln / 2)
                if self.chips:
                    sx, sy = self.chips[0].cx, self.chips[0].cy
                pts = random_walk(rng, start=(sx, sy), heading=heading + rng.normal(0, 0.015), length=ln,
                                  curv=p["curve"], jagged=p["jagged"], n=48)  # fmt: skip
            w = p["width"] * rng.uniform(0.6, 1.1)
            self.strokes.append((pts, w, rng.uniform(0.75, 1.0)))
            for _ in range(int(rng.poisson(p["branching"] * 3))):
                j = int(rng.integers(1, len(pts) - 1))
                seg = pts[j + 1] - pts[j - 1]
                br = math.atan2(seg[1], seg[0]) + rng.choice([-1, 1]) * rng.uniform(0.4, 1.2)
                bpts = random_walk(rng, start=tuple(pts[j]), heading=br, length=ln * rng.uniform(0.15, 0.45),
                                   curv=p["curve"], jagged=p["jagged"], n=16)  # fmt: skip
                self.strokes.append((bpts, w * 0.6, 0.85))
        extents = [0.0]
        if self.strokes:
            extents.append(_max_extent(np.concatenate([s[0] for s in self.strokes])))
        if self.chips:
            boxes = np.array([c.bounds() for c in self.chips])
            extents.append(
                float(max(boxes[:, 2].max() - boxes[:, 0].min(), boxes[:, 3].max() - boxes[:, 1].min()))
            )
        extents.append(2 * self.dent_r)
        self.extent_um = max(extents)

    def warp(self, ctx: Ctx, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.dent_r <= 0:
            return u, v
        uc, vc = ctx.to_pattern(0.0, 0.0)
        du, dv = u - uc, v - vc
        q = np.clip(1.0 - (du * du + dv * dv) / self.dent_r**2, 0.0, 1.0)
        f = 1.0 - F32(0.2 * self.dent_depth) * q
        return uc + du * f, vc + dv * f

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        p = self.p
        if self.chips:
            self._draw_chips(ctx, img)
        if self.dent_r > 0:
            self._draw_dent(ctx, img)
        if self.strokes:
            win = ctx.window(*stroke_bounds(self.strokes, 3 * ctx.s + 2 * p["width"]))
            if win is not None:
                m = stroke_mask(ctx, self.strokes, win)
                crop = img[win]
                halo = gauss_blur(m, max(0.8, 1.5 * p["width"] / ctx.s))
                c = F32(p["contrast"])
                if self.bright:
                    crop[:] = lerp(crop, F32(0.92), (c * m)[..., None])
                    crop *= 1.0 - (F32(p["halo"] * 0.4) * np.clip(halo - m, 0, 1))[..., None]
                else:
                    crop *= 1.0 - (c * m)[..., None]
                    crop += (F32(p["halo"] * 0.35) * np.clip(halo - m, 0, 1))[..., None]
                _mark(ctx, win, m)

    def _draw_chips(self, ctx: Ctx, img: np.ndarray) -> None:
        boxes = np.array([c.bounds(4 * ctx.s) for c in self.chips])
        win = ctx.window(boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max())
        if win is None or self.edge is None:
            return
        x, y = _local(ctx, win)
        inside_glass = np.clip(-self.edge.signed(x, y) / ctx.s + 0.5, 0.0, 1.0)
        sd = np.max(np.stack([c.sdf(x, y) for c in self.chips]), axis=0)
        m = np.clip(sd / (0.7 * ctx.s) + 0.5, 0.0, 1.0) * inside_glass
        c0 = self.chips[0]
        rho = np.hypot(x - c0.cx, y - c0.cy)
        noise = self.noise(x, y)
        shell = 0.5 + 0.5 * np.cos(TAU * rho / self.ring_wl + 7.0 * noise)
        surface = F32(self.chip_lum) * (0.8 + 0.3 * shell) * (0.8 + 0.4 * noise)
        crop = img[win]
        crop[:] = lerp(crop, (surface[..., None] * np.array([0.92, 0.95, 1.0], F32)), (0.85 * m)[..., None])
        rim = np.clip(1.0 - np.abs(sd) / (1.2 * ctx.s + 1.0), 0.0, 1.0) * inside_glass
        crop *= 1.0 - (F32(0.5 * self.p["contrast"] + 0.2) * rim)[..., None]
        _mark(ctx, win, np.maximum(m, rim))

    def _draw_dent(self, ctx: Ctx, img: np.ndarray) -> None:
        r = self.dent_r
        win = ctx.window(-1.3 * r, -1.3 * r, 1.3 * r, 1.3 * r)
        if win is None:
            return
        x, y = _local(ctx, win)
        q = (x * x + y * y) / (r * r)
        # height: bowl inside, a low raised lip around the rim
        height = -self.dent_depth * np.clip(1.0 - q, 0.0, 1.0) ** 1.5 + 0.25 * np.exp(
            -((q - 1.0) ** 2) / 0.03
        )
        lx, ly = math.cos(self.light), math.sin(self.light)
        gx = (-3.0 * self.dent_depth * x / (r * r) * np.sqrt(np.clip(1.0 - q, 0.0, 1.0)) * (q < 1)) * r
        gy = (-3.0 * self.dent_depth * y / (r * r) * np.sqrt(np.clip(1.0 - q, 0.0, 1.0)) * (q < 1)) * r
        lip = 0.25 * np.exp(-((q - 1.0) ** 2) / 0.03) * (-(q - 1.0) / 0.015) / r
        gx = gx + lip * x
        gy = gy + lip * y
        shade = np.clip(-(gx * lx + gy * ly), -1.5, 1.5) * F32(self.p["contrast"] * 0.45)
        crop = img[win]
        crop *= (1.0 + shade + 0.15 * np.minimum(height, 0.0))[..., None]
        _mark(ctx, win, np.clip(1.2 - q, 0.0, 1.0).astype(F32))


# ---------------------------------------------------------------------------- process
PROCESS: dict[str, dict[str, tuple[float, float]]] = {
    "bubble": {
        "size": (12, 80), "irregular": (0, 0.08), "rim": (0.5, 1), "glow": (0.3, 0.8), "lens": (0.2, 0.55),
        "debris": (0, 0.2), "halo": (0, 0.25), "lift": (0, 0.15), "hue": (0.5, 0.7),
    },
    "line_open": {
        "size": (6, 28), "irregular": (0.1, 0.4), "rim": (0, 0.3), "glow": (0, 0.2), "lens": (0, 0.02),
        "debris": (0.1, 0.7), "halo": (0, 0.45), "lift": (0, 0.15), "hue": (0.02, 0.12),
    },
    "line_short": {
        "size": (5, 30), "irregular": (0.1, 0.45), "rim": (0, 0.3), "glow": (0, 0.2), "lens": (0, 0.02),
        "debris": (0.2, 0.7), "halo": (0, 0.4), "lift": (0, 0.15), "hue": (0.02, 0.12),
    },
    "ito_peeling": {
        "size": (20, 110), "irregular": (0.2, 0.55), "rim": (0.2, 0.6), "glow": (0, 0.3), "lens": (0, 0.08),
        "debris": (0, 0.3), "halo": (0, 0.4), "lift": (0.55, 1), "hue": (0.1, 0.6),
    },
}  # fmt: skip


class ProcessDefect(Defect):
    """Pattern-interacting defects: bubble (lens + rim), line open/short (metal edits), ITO peeling."""

    def __init__(self, kind: str, rng: np.random.Generator, p: Params):
        super().__init__()
        self.kind = self.style = kind
        self.p = p
        self.horizontal = bool(rng.random() < 0.5)  # gate line instead of a data line
        self.light = float(rng.uniform(0, TAU))
        irregular = p["irregular"]
        size = p["size"]
        self.region = RadialShape(
            rng,
            cx=0,
            cy=0,
            radius=size / 2,
            elong=rng.uniform(1.0, 1.0 + 2 * irregular),
            irregular=irregular,
            angular=0.2 * irregular,
        )
        self.lift_tint = hsv(p["hue"], rng.uniform(0.05, 0.5), rng.uniform(0.6, 1.0))
        self.noise = ValueNoise(rng, max(1.5, size / 6))
        self.halo_r = size * rng.uniform(0.8, 1.6)
        self.halo_col = hsv(p["hue"], 0.6, 0.25)
        self.bridge_len_frac = float(rng.uniform(0.0, 1.0))
        self.debris: list[RadialShape] = []
        for _ in range(int(rng.poisson(p["debris"] * 4))):
            cx, cy = rng.normal(0, size * 0.4, 2)
            self.debris.append(RadialShape(rng, cx=cx, cy=cy, radius=rng.uniform(0.6, 2.5), irregular=0.25))
        self.substrate_hue = float(rng.uniform(0.1, 0.6))
        self.substrate_sat = float(rng.uniform(0.0, 0.15))
        self.substrate_shift = float(rng.uniform(-0.1, 0.1))
        self.debris_lum = float(rng.uniform(0.55, 0.95))  # metal residue, brighter than the BM
        # melted beads at the cut ends of a line open: (side, radius)
        self.beads = [
            (side, float(rng.uniform(1.0, 2.8))) for side in (-1, 1) if rng.random() < 0.3 + p["debris"]
        ]
        self.extent_um = self.region.extent
        self.site: tuple[float, float] | None = None

    # the defect site in pattern coordinates, snapped to a line for open/short
    def _site(self, ctx: Ctx) -> tuple[float, float]:
        uc, vc = ctx.to_pattern(0.0, 0.0)
        pat = ctx.pat
        if self.style in ("line_open", "line_short"):
            if self.horizontal:
                vc = round(vc / pat.pitch) * pat.pitch
            else:
                uc = round(uc / pat.ps) * pat.ps
        return uc, vc

    def warp(self, ctx: Ctx, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lens = self.p["lens"]
        if lens <= 0.01:
            return u, v
        uc, vc = self._site(ctx)
        r = self.region.radius
        du, dv = u - uc, v - vc
        q = np.clip(1.0 - (du * du + dv * dv) / (r * r), 0.0, 1.0)
        f = 1.0 - F32(lens) * q
        return uc + du * f, vc + dv * f

    def _pattern_local(self, ctx: Ctx, win: Window) -> tuple[np.ndarray, np.ndarray]:
        """Site-relative coordinates along (a) and across (b) the snapped line, in micrometres."""
        uc, vc = self._site(ctx)
        u, v = ctx.to_pattern(*_local(ctx, win))
        if self.horizontal:
            return u - uc, v - vc
        return v - vc, u - uc

    def edit_layers(self, ctx: Ctx, layers: dict[str, np.ndarray]) -> None:
        p = self.p
        pat = ctx.pat
        r = self.region.radius * self.region.elong * 1.3 + pat.ps
        win = ctx.window(-r, -r, r, r)
        if win is None:
            return
        a, b = self._pattern_local(ctx, win)
        x, y = _local(ctx, win)
        wob = (self.noise(x, y) - 0.5) * 2.0 * p["irregular"]
        foot = np.zeros(a.shape, F32)
        if self.style == "line_open":
            line = "gate" if self.horizontal else "data"
            half = p["size"] / 2 * (1.0 + 0.5 * wob)
            width = (pat.gate_w if self.horizontal else pat.data_w) * 1.6 + 1.0
            gap = np.clip((half - np.abs(a)) / ctx.s + 0.5, 0, 1) * np.clip(
                (width / 2 - np.abs(b)) / ctx.s + 0.5, 0, 1
            )
            layers[line][win] *= 1.0 - gap
            # the cut goes through to the substrate, which contrasts with the line: a dark void in a bright
            # (reflective) line, light leaking through a dim one
            value = float(np.clip(1.0 - float(pat.metal_col.mean()) + self.substrate_shift, 0.06, 0.92))
            substrate = hsv(self.substrate_hue, self.substrate_sat, value)
            layers["bm"][win] *= 1.0 - gap
            layers["ap"][win] = lerp(layers["ap"][win], substrate, gap[..., None])
            foot = gap * np.clip((2.5 * pat.data_w - np.abs(b)) / ctx.s, 0, 1)
        elif self.style == "line_short":
            pitch = pat.pitch if self.horizontal else pat.ps
            width = p["size"] * (0.3 + 0.4 * self.bridge_len_frac) * (1.0 + 0.6 * wob)
            across = np.clip((width / 2 - np.abs(a)) / ctx.s + 0.5, 0, 1)
            span = np.clip((np.minimum(b, pitch - b) + 1.0) / ctx.s + 0.5, 0, 1)
            bridge = across * span
            layers["bridge"][win] = np.maximum(layers["bridge"][win], bridge)
            foot = bridge
        else:
            x0, y0 = x, y
            lift = self.region.mask(x0, y0, max(0.7 * ctx.s, 0.05 * self.region.radius))
            lift = lift * np.clip(F32(p["lift"]) * (0.8 + 0.4 * (self.noise(x, y) - 0.5)), 0, 1)
            ap = layers["ap"][win]
            target = 0.45 * ap + 0.55 * self.lift_tint
            ap[:] = lerp(ap, target, lift[..., None])
            layers["slit"][win] *= 1.0 - lift
            foot = lift
        _mark(ctx, win, foot)

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        p = self.p
        uc, vc = self._site(ctx)
        sx, sy = ctx.from_pattern(uc, vc)
        r = self.region.radius * self.region.elong
        reach = max(r, self.halo_r) + 4 * ctx.s + 5
        win = ctx.window(sx - reach, sy - reach, sx + reach, sy + reach)
        if win is None:
            return
        x, y = _local(ctx, win)
        crop = img[win]
        xr, yr = x - sx, y - sy
        foot = np.zeros(x.shape, F32)
        if p["halo"] > 0.02:  # discolouration (laser / heat) around the site
            q = (xr * xr + yr * yr) / self.halo_r**2
            halo = F32(p["halo"] * 0.5) * np.exp(-q * 2.5) * (0.7 + 0.6 * self.noise(x, y))
            crop[:] = lerp(crop, self.halo_col, halo[..., None])
        if self.style in ("bubble", "ito_peeling"):
            sd = self.region.moved(sx, sy).sdf(x, y)
            m = np.clip(sd / (0.7 * ctx.s) + 0.5, 0.0, 1.0)
            rim_w = 0.16 * self.region.radius + ctx.s
            band = np.clip(1.0 - np.abs(sd - rim_w / 2) / (rim_w / 2 + 0.5 * ctx.s), 0, 1)
            if self.style == "bubble":
                crop *= 1.0 - (F32(p["rim"] * 0.8) * band)[..., None]
                inner = np.clip(sd / (self.region.radius + 1e-3), 0, 1)
                crop[:] = lerp(crop, F32(0.97), (F32(p["glow"] * 0.75) * inner**1.6)[..., None])
                crop += (F32(0.1) * m * (1 - inner))[..., None]
            else:  # a curled, slightly bright edge
                crop += (F32(p["rim"] * 0.3) * band)[..., None]
            foot = np.maximum(foot, np.maximum(m, band))
        beads = self.beads if self.style == "line_open" else []
        if self.debris or beads:
            m = np.zeros(x.shape, F32)
            for d in self.debris:
                np.maximum(m, d.moved(sx, sy).mask(x, y, 0.7 * ctx.s), out=m)
            angle = ctx.pat.angle
            along = (
                (math.cos(angle), -math.sin(angle)) if self.horizontal else (math.sin(angle), math.cos(angle))
            )
            for side, radius in beads:
                bx = sx + side * (p["size"] / 2 + 0.5 * radius) * along[0]
                by = sy + side * (p["size"] / 2 + 0.5 * radius) * along[1]
                d = np.hypot(x - bx, y - by)
                np.maximum(m, np.clip((radius - d) / (0.7 * ctx.s) + 0.5, 0.0, 1.0), out=m)
            crop[:] = lerp(
                crop, F32(self.debris_lum) * np.array([1.0, 0.95, 0.85], F32), (0.9 * m)[..., None]
            )
            foot = np.maximum(foot, m)
        _mark(ctx, win, foot)


# ============================================================================ unknown types
class CorrosionDefect(Defect):
    """Dark brown mottled, dendritic growth that follows a metal line."""

    def __init__(self, rng: np.random.Generator):
        super().__init__()
        self.size = float(rng.uniform(30, 150))
        self.noise = ValueNoise(rng, rng.uniform(3, 8), octaves=4, gain=0.6)
        self.coarse = ValueNoise(rng, self.size / 3, octaves=2)
        self.col = hsv(rng.uniform(0.04, 0.12), rng.uniform(0.5, 0.9), rng.uniform(0.12, 0.3))
        self.horizontal = bool(rng.random() < 0.5)
        self.extent_um = self.size

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        r = self.size / 2 + 8
        win = ctx.window(-r, -r, r, r)
        if win is None:
            return
        x, y = _local(ctx, win)
        u, v = ctx.to_pattern(x, y)
        uc, vc = ctx.to_pattern(0.0, 0.0)
        pat = ctx.pat
        across = (
            (v - round(vc / pat.pitch) * pat.pitch) if self.horizontal else (u - round(uc / pat.ps) * pat.ps)
        )
        along = (u - uc) if self.horizontal else (v - vc)
        env = np.clip(1.0 - (along / (self.size / 2)) ** 2, 0, 1) * np.exp(
            -((across / (0.12 * self.size + 3)) ** 2)
        )
        n = self.noise(x, y) * 0.6 + self.coarse(x, y) * 0.4
        m = np.clip((env * (0.6 + n) - 0.55) * 4.0, 0.0, 1.0)
        img[win] = lerp(img[win], self.col * (0.7 + 0.6 * n[..., None]), (0.92 * m)[..., None])
        _mark(ctx, win, m)


class MuraSpotDefect(Defect):
    """A large, very low-contrast, edgeless brightness blob."""

    def __init__(self, rng: np.random.Generator):
        super().__init__()
        self.shape = RadialShape(rng, cx=0, cy=0, radius=rng.uniform(40, 160), elong=rng.uniform(1, 1.6),
                                 irregular=0.25)  # fmt: skip
        self.amp = float(rng.uniform(0.1, 0.22) * rng.choice([-1, 1]))
        self.tint = hsv(rng.uniform(0, 1), rng.uniform(0, 0.25), 1.0)
        self.extent_um = self.shape.extent

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        win = ctx.window(*self.shape.bounds(0.5 * self.shape.radius))
        if win is None:
            return
        x, y = _local(ctx, win)
        m = smoothstep(self.shape.sdf(x, y) / self.shape.radius + 0.5)
        img[win] *= 1.0 + (F32(self.amp) * m)[..., None] * self.tint
        _mark(ctx, win, m)


class RingParticleDefect(Defect):
    """A compact particle surrounded by a concentric halo ring (a stain around a particle)."""

    def __init__(self, rng: np.random.Generator):
        super().__init__()
        p = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in PARTICLE["particle_metal"].items()}
        p["lum"] = float(rng.uniform(0.1, 0.9))
        self.core = ParticleDefect("ring_particle", rng, p)
        self.ring_r = self.core.extent_um / 2 * rng.uniform(1.8, 3.5)
        self.ring_w = self.ring_r * rng.uniform(0.08, 0.2)
        self.col = hsv(rng.uniform(0, 1), rng.uniform(0.1, 0.5), rng.uniform(0.3, 0.8))
        self.extent_um = 2 * (self.ring_r + self.ring_w)

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        r = self.ring_r + 2 * self.ring_w
        win = ctx.window(-r, -r, r, r)
        if win is not None:
            x, y = _local(ctx, win)
            d = np.abs(np.hypot(x, y) - self.ring_r)
            m = np.exp(-((d / self.ring_w) ** 2)).astype(F32)
            img[win] = lerp(img[win], self.col, (0.55 * m)[..., None])
            _mark(ctx, win, (m > 0.2).astype(F32))
        self.core.overlay(ctx, img)


class HairLoopDefect(Defect):
    """A thick dark hair curled into a loop."""

    def __init__(self, rng: np.random.Generator):
        super().__init__()
        r = rng.uniform(25, 90)
        n = 60
        turns = rng.uniform(1.0, 1.6)
        t = np.linspace(0, TAU * turns, n)
        rad = r * (1 + 0.15 * np.sin(t * rng.uniform(1, 3)) + np.linspace(0, rng.uniform(-0.4, 0.4), n))
        pts = np.stack([rad * np.cos(t), rad * np.sin(t) * rng.uniform(0.6, 1.0)], 1)
        tail = random_walk(rng, start=tuple(pts[-1]), heading=rng.uniform(0, TAU), length=r * rng.uniform(1, 3),
                           curv=0.5, jagged=0.05, n=20)  # fmt: skip
        pts = _centred(np.concatenate([pts, tail[1:]]))
        self.width = float(rng.uniform(5, 14))
        self.strokes: list[Stroke] = [(pts, self.width, 1.0)]
        self.lum = float(rng.uniform(0.04, 0.2))
        self.extent_um = _max_extent(pts)

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        win = ctx.window(*stroke_bounds(self.strokes, 3 * ctx.s))
        if win is None:
            return
        m = gauss_blur(stroke_mask(ctx, self.strokes, win), 0.1 * self.width / ctx.s)
        img[win] = lerp(
            img[win], np.array([self.lum * 1.1, self.lum, self.lum * 0.9], F32), (0.92 * m)[..., None]
        )
        _mark(ctx, win, m)


class BurnMarkDefect(Defect):
    """A charred spot: black crackled core, orange-brown radial gradient, pattern darkened."""

    def __init__(self, rng: np.random.Generator):
        super().__init__()
        self.shape = RadialShape(rng, cx=0, cy=0, radius=rng.uniform(12, 60), irregular=rng.uniform(0.1, 0.3))
        self.noise = ValueNoise(rng, rng.uniform(2, 6), octaves=4, gain=0.65)
        self.extent_um = self.shape.extent * 1.6

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        r0 = self.shape.radius
        win = ctx.window(*self.shape.bounds(0.8 * r0))
        if win is None:
            return
        x, y = _local(ctx, win)
        sd = self.shape.sdf(x, y) / r0  # 1 at the centre, 0 on the outline, negative outside
        n = self.noise(x, y)
        heat = np.clip(sd + 0.6, 0, 1.6) / 1.6
        col = np.stack([0.9 - 0.85 * heat, 0.55 - 0.52 * heat, 0.25 - 0.24 * heat], -1).astype(F32)
        a = np.clip(heat * 1.6, 0, 1) * (0.75 + 0.25 * n)
        crackle = (np.abs(n - 0.5) < 0.04) * (sd > 0)
        img[win] = lerp(img[win], col, a[..., None])
        img[win] *= 1.0 - 0.5 * crackle[..., None]
        _mark(ctx, win, a)


class BlisterDefect(Defect):
    """A large delamination blister: Newton's rings, a bright rim, the pattern slightly magnified."""

    def __init__(self, rng: np.random.Generator):
        super().__init__()
        self.r = float(rng.uniform(40, 160))
        self.elong = float(rng.uniform(1.0, 1.5))
        self.rot = float(rng.uniform(0, TAU))
        self.rings = float(rng.uniform(4, 10))
        self.extent_um = 2 * self.r * self.elong

    def _q(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        a, b = _rotate(x, y, self.rot)
        return (a / self.elong) ** 2 / self.r**2 + b * b / self.r**2

    def warp(self, ctx: Ctx, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        uc, vc = ctx.to_pattern(0.0, 0.0)
        q = np.clip(1.0 - self._q(ctx.X, ctx.Y), 0, 1)
        return uc + (u - uc) * (1 - 0.1 * q), vc + (v - vc) * (1 - 0.1 * q)

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        r = self.r * self.elong * 1.1
        win = ctx.window(-r, -r, r, r)
        if win is None:
            return
        x, y = _local(ctx, win)
        q = self._q(x, y)
        m = np.clip((1.0 - np.sqrt(q)) * self.r / (0.7 * ctx.s) + 0.5, 0, 1)
        h = np.clip(1.0 - q, 0, 1)  # film gap ~ height of the blister
        rings = np.cos(TAU * self.rings * h[..., None] + np.array([0, 0.9, 1.8], F32))
        img[win] += (0.13 * rings * m[..., None]).astype(F32)
        rim = np.exp(-(((np.sqrt(q) - 1.0) * self.r / (2.0 + ctx.s)) ** 2))
        img[win] += (0.35 * rim)[..., None]
        _mark(ctx, win, np.maximum(m, rim))


class PinholeDefect(Defect):
    """Light leaking through pinholes in the black matrix: a few tiny bright points on the BM only."""

    def __init__(self, rng: np.random.Generator):
        super().__init__()
        n = int(rng.integers(3, 12))
        spread = rng.uniform(15, 70)
        self.pts = rng.normal(0, spread, (n, 2))
        self.pts[0] = 0
        self.radii = rng.uniform(1.5, 4.5, n)
        self.on_band = rng.random(n) < 0.5  # on the horizontal BM band, else on a vertical BM line
        self.band_pos = rng.uniform(-0.35, 0.35, n)  # position across the band, as a fraction of its width
        self.col = hsv(rng.uniform(0, 1), rng.uniform(0, 0.3), 1.0)
        self.extent_um = _max_extent(self.pts) + 2 * float(self.radii.max())

    def _snapped(self, ctx: Ctx) -> np.ndarray:
        """The pinholes moved onto the nearest black-matrix line (physical coordinates)."""
        pat = ctx.pat
        out = np.empty_like(self.pts)
        for i, (px, py) in enumerate(self.pts):
            u, v = ctx.to_pattern(float(px), float(py))
            if self.on_band[i]:
                v = round(v / pat.pitch) * pat.pitch + self.band_pos[i] * pat.bm_h
            else:
                u = round(u / pat.ps) * pat.ps + self.band_pos[i] * pat.bm_v
            out[i] = ctx.from_pattern(u, v)
        return out

    def edit_layers(self, ctx: Ctx, layers: dict[str, np.ndarray]) -> None:
        pts = self._snapped(ctx)
        lo, hi = pts.min(0) - 5, pts.max(0) + 5
        win = ctx.window(lo[0], lo[1], hi[0], hi[1])
        if win is None:
            return
        x, y = _local(ctx, win)
        m = np.zeros(x.shape, F32)
        for (px, py), r in zip(pts, self.radii, strict=True):
            d = np.hypot(x - px, y - py)
            np.maximum(m, np.clip((r - d) / ctx.s + 0.5, 0, 1), out=m)
        m *= layers["bm"][win]
        layers["bm"][win] *= 1.0 - m
        layers["ap"][win] = lerp(layers["ap"][win], self.col, m[..., None])
        _mark(ctx, win, m)


class SealantDefect(Defect):
    """A wavy-edged band of beige sealant intruding from one side over the pattern."""

    def __init__(self, rng: np.random.Generator):
        super().__init__()
        self.angle = float(rng.uniform(0, TAU))
        self.depth = float(rng.uniform(30, 120))
        self.wave = ValueNoise(rng, rng.uniform(15, 40), octaves=3)
        self.tex = ValueNoise(rng, rng.uniform(2, 5), octaves=3)
        self.col = hsv(rng.uniform(0.08, 0.14), rng.uniform(0.15, 0.4), rng.uniform(0.55, 0.85))
        self.extent_um = 2 * self.depth

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        d = ctx.X * math.cos(self.angle) + ctx.Y * math.sin(self.angle)
        d = d + (self.wave(ctx.X, ctx.Y) - 0.5) * 0.8 * self.depth
        m = np.clip(d / (ctx.s + 1.5) + 0.5, 0, 1)
        col = self.col * (0.85 + 0.3 * self.tex(ctx.X, ctx.Y))[..., None]
        img[:] = lerp(img, col, (0.9 * m)[..., None])
        win = (slice(0, ctx.size), slice(0, ctx.size))
        edge = np.clip(1.0 - np.abs(d) / (2.0 + ctx.s), 0, 1)
        img[:] *= 1.0 - (0.35 * edge)[..., None]
        _mark(ctx, win, np.maximum(m, edge))


UNKNOWN_BUILDERS: dict[str, Callable[[np.random.Generator], Defect]] = {
    "corrosion": CorrosionDefect,
    "mura_spot": MuraSpotDefect,
    "ring_particle": RingParticleDefect,
    "hair_loop": HairLoopDefect,
    "burn_mark": BurnMarkDefect,
    "delamination_blister": BlisterDefect,
    "bm_pinhole": PinholeDefect,
    "sealant_intrusion": SealantDefect,
}

# ============================================================================ registry
FAMILIES: dict[str, tuple[dict[str, dict[str, tuple[float, float]]], type[Defect]]] = {
    "particle": (PARTICLE, ParticleDefect),
    "residue": (RESIDUE, ResidueDefect),
    "mechanical": (MECHANICAL, MechanicalDefect),
    "process": (PROCESS, ProcessDefect),
}
KNOWN_LEAVES: dict[str, str] = {leaf: fam for fam, (table, _) in FAMILIES.items() for leaf in table}
"""Built-in leaf id -> family name."""


def family_of(leaf: str) -> str:
    """The family of a built-in leaf id; KeyError if it is not built in."""
    return KNOWN_LEAVES[leaf]


def generic_prototype(leaf: str, ancestors: list[str]) -> tuple[str, str]:
    """Map a leaf that has no built-in renderer onto (family, prototype leaf), stably.

    The family follows the leaf's parent (so siblings share a family); the prototype leaf within the
    family follows the leaf id.
    """
    fams = list(FAMILIES)
    parent = ancestors[-2] if len(ancestors) >= 2 else leaf
    family = fams[stable_hash(parent) % len(fams)]
    leaves = list(FAMILIES[family][0])
    return family, leaves[stable_hash(leaf) % len(leaves)]


def _perturbed_table(
    table: dict[str, dict[str, tuple[float, float]]], proto: str, leaf: str
) -> dict[str, dict[str, tuple[float, float]]]:
    """A copy of a family table where ``leaf`` gets the prototype's ranges shifted by a leaf-seeded amount."""
    prng = np.random.default_rng(stable_hash("generic:" + leaf))
    ranges = {}
    for k, (lo, hi) in table[proto].items():
        shift = (hi - lo) * float(prng.uniform(-0.3, 0.3))
        ranges[k] = (max(0.0, lo + shift), max(0.0, hi + shift))  # every parameter is non-negative
    return {**table, leaf: ranges}


def make_defect(
    kind: str,
    rng: np.random.Generator,
    *,
    difficulty: float,
    ancestors: list[str] | None = None,
) -> Defect:
    """Sample a defect of a leaf id (built-in or generic) or an unknown type name.

    Args:
        kind: a built-in leaf id, a name in :data:`UNKNOWN_BUILDERS`, or any leaf id when ``ancestors``
            (its taxonomy path) is given.
        rng: random source; every draw happens here.
        difficulty: 0..1, how far parameters may be blended towards a sibling's.
        ancestors: the leaf's taxonomy path, used for leaves without a built-in renderer.

    Returns:
        The sampled defect.
    """
    if kind in UNKNOWN_BUILDERS:
        defect = UNKNOWN_BUILDERS[kind](rng)
        defect.kind = kind
    else:
        if kind in KNOWN_LEAVES:
            family = KNOWN_LEAVES[kind]
            table, cls = FAMILIES[family]
            proto = kind
        elif ancestors is not None:
            family, proto = generic_prototype(kind, ancestors)
            table, cls = FAMILIES[family]
            table = _perturbed_table(table, proto, kind)
        else:
            raise KeyError(kind)
        params = _sample_table(table, kind, rng, difficulty)
        defect = cls(proto, rng, params)
        defect.kind = kind
        if family != "mechanical" and rng.random() < 0.06 * difficulty:
            defect.edge = GlassEdge(
                rng, offset=float(rng.uniform(0.6, 1.5) * defect.extent_um / 2 + rng.uniform(40, 120))
            )
    return defect
