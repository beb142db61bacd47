"""Outlines the defect renderers build on: star-shaped blobs, polylines (strokes) and random walks.

All coordinates are physical (micrometres, defect frame); :func:`stroke_mask` rasterises strokes into a
view's pixel window.
"""

from __future__ import annotations

import copy
import math

import numpy as np
from PIL import Image, ImageDraw

from models.data.synth.canvas import F32, TAU, Ctx, Window, lerp, rotate


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
        a, b = rotate(x - self.cx, y - self.cy, self.rot)
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


def centred(pts: np.ndarray) -> np.ndarray:
    """Points shifted so that their bounding box is centred on the origin."""
    lo, hi = pts.min(0), pts.max(0)
    return pts - (lo + hi) / 2.0


def max_extent(pts: np.ndarray) -> float:
    """Largest distance between two points (on at most about 200 of them)."""
    if len(pts) > 200:
        pts = pts[:: len(pts) // 200 + 1]
    d = pts[:, None, :] - pts[None, :, :]
    return float(np.sqrt((d**2).sum(-1)).max())
