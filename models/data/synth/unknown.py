"""Defect kinds outside the demo taxonomy, rendered for ``unknown:<name>`` samples.

Each kind is its own class with its own (fixed) distribution; :data:`UNKNOWN_BUILDERS` maps the names to
them and :data:`UNKNOWN_TYPES` lists the names in the order ``--unknown-classes K`` takes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from models.data.synth.canvas import F32, TAU, Ctx, ValueNoise, gauss_blur, hsv, lerp, rotate, smoothstep
from models.data.synth.defect import Defect
from models.data.synth.particles import PARTICLE, ParticleDefect
from models.data.synth.shapes import (
    RadialShape,
    Stroke,
    centred,
    max_extent,
    random_walk,
    stroke_bounds,
    stroke_mask,
)


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
        x, y = ctx.xy(win)
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
        ctx.mark(win, m)


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
        x, y = ctx.xy(win)
        m = smoothstep(self.shape.sdf(x, y) / self.shape.radius + 0.5)
        img[win] *= 1.0 + (F32(self.amp) * m)[..., None] * self.tint
        ctx.mark(win, m)


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
            x, y = ctx.xy(win)
            d = np.abs(np.hypot(x, y) - self.ring_r)
            m = np.exp(-((d / self.ring_w) ** 2)).astype(F32)
            img[win] = lerp(img[win], self.col, (0.55 * m)[..., None])
            ctx.mark(win, (m > 0.2).astype(F32))
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
        pts = centred(np.concatenate([pts, tail[1:]]))
        self.width = float(rng.uniform(5, 14))
        self.strokes: list[Stroke] = [(pts, self.width, 1.0)]
        self.lum = float(rng.uniform(0.04, 0.2))
        self.extent_um = max_extent(pts)

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        win = ctx.window(*stroke_bounds(self.strokes, 3 * ctx.s))
        if win is None:
            return
        m = gauss_blur(stroke_mask(ctx, self.strokes, win), 0.1 * self.width / ctx.s)
        img[win] = lerp(
            img[win], np.array([self.lum * 1.1, self.lum, self.lum * 0.9], F32), (0.92 * m)[..., None]
        )
        ctx.mark(win, m)


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
        x, y = ctx.xy(win)
        sd = self.shape.sdf(x, y) / r0  # 1 at the centre, 0 on the outline, negative outside
        n = self.noise(x, y)
        heat = np.clip(sd + 0.6, 0, 1.6) / 1.6
        col = np.stack([0.9 - 0.85 * heat, 0.55 - 0.52 * heat, 0.25 - 0.24 * heat], -1).astype(F32)
        a = np.clip(heat * 1.6, 0, 1) * (0.75 + 0.25 * n)
        crackle = (np.abs(n - 0.5) < 0.04) * (sd > 0)
        img[win] = lerp(img[win], col, a[..., None])
        img[win] *= 1.0 - 0.5 * crackle[..., None]
        ctx.mark(win, a)


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
        a, b = rotate(x, y, self.rot)
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
        x, y = ctx.xy(win)
        q = self._q(x, y)
        m = np.clip((1.0 - np.sqrt(q)) * self.r / (0.7 * ctx.s) + 0.5, 0, 1)
        h = np.clip(1.0 - q, 0, 1)  # film gap ~ height of the blister
        rings = np.cos(TAU * self.rings * h[..., None] + np.array([0, 0.9, 1.8], F32))
        img[win] += (0.13 * rings * m[..., None]).astype(F32)
        rim = np.exp(-(((np.sqrt(q) - 1.0) * self.r / (2.0 + ctx.s)) ** 2))
        img[win] += (0.35 * rim)[..., None]
        ctx.mark(win, np.maximum(m, rim))


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
        self.extent_um = max_extent(self.pts) + 2 * float(self.radii.max())

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
        x, y = ctx.xy(win)
        m = np.zeros(x.shape, F32)
        for (px, py), r in zip(pts, self.radii, strict=True):
            d = np.hypot(x - px, y - py)
            np.maximum(m, np.clip((r - d) / ctx.s + 0.5, 0, 1), out=m)
        m *= layers["bm"][win]
        layers["bm"][win] *= 1.0 - m
        layers["ap"][win] = lerp(layers["ap"][win], self.col, m[..., None])
        ctx.mark(win, m)


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
        ctx.mark(win, np.maximum(m, edge))


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
"""Unknown type name -> its defect class (built from a generator alone)."""

UNKNOWN_TYPES: list[str] = list(UNKNOWN_BUILDERS)
"""Defect types outside the demo taxonomy, used for ``unknown:<name>`` samples (in this order)."""
