"""Particle defects: metal, organic and glass particles, particle clusters, and fibres.

One renderer (:class:`ParticleDefect`) for the whole family; :data:`PARTICLE` holds each leaf's
parameter ranges. :class:`Appearance` paints a body (colour, texture, shadow, bevel, refraction rim) and
is reused by the unknown ``ring_particle`` kind.
"""

from __future__ import annotations

import math

import numpy as np

from models.data.synth.canvas import F32, TAU, Ctx, ValueNoise, Window, gauss_blur, hsv, lerp, shift_px
from models.data.synth.defect import Defect, Params, ParamTable
from models.data.synth.shapes import (
    RadialShape,
    Stroke,
    centred,
    max_extent,
    random_walk,
    stroke_bounds,
    stroke_mask,
)

PARTICLE: ParamTable = {
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
        x, y = ctx.xy(win)
        crop = img[win]
        sc = max(scale_um / ctx.s, 1.0)  # body width in pixels
        lx, ly = math.cos(self.light), math.sin(self.light)
        # drop shadow, opposite the light
        d = max(1, round(0.18 * sc))
        ms = gauss_blur(shift_px(m, round(-lx * d), round(-ly * d)), 0.15 * sc + 0.5)
        crop *= 1.0 - (F32(p["shadow"] * 0.55) * ms * (1.0 - m))[..., None]
        tex = 1.0 + F32(p["texture"] * 1.6) * (self.noise(x, y) - 0.5)
        body = self.color * tex[..., None]
        body = lerp(body, crop * self.tint * F32(1.05), F32(p["translucent"]))
        a = (F32(p["opacity"]) * m)[..., None]
        crop[:] = lerp(crop, body, a)
        # bevel: lit edge brighter, far edge darker
        mb = gauss_blur(m, 0.12 * sc + 0.4)
        e = max(1, round(0.15 * sc))
        grad = shift_px(mb, round(lx * e), round(ly * e)) - shift_px(mb, round(-lx * e), round(-ly * e))
        crop += (F32(p["highlight"] * 0.7) * np.clip(-grad, 0.0, 1.0) * m)[..., None]
        crop -= (F32(p["highlight"] * 0.25 + 0.05) * np.clip(grad, 0.0, 1.0) * m)[..., None] * crop
        # refraction rim: bright inner edge, dark outer line
        mr = gauss_blur(m, 0.08 * sc + 0.6)
        inner = np.clip(m - mr, 0.0, 1.0) * 2.0
        outer = np.clip(mr - m, 0.0, 1.0) * 2.0
        crop += (F32(p["rim"]) * (0.55 * inner - 0.5 * outer * crop.mean(-1)))[..., None]
        ctx.mark(win, np.maximum(m, F32(p["shadow"]) * ms))


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
            pts = centred(pts)
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
            self.extent_um = max_extent(np.concatenate([s[0] for s in self.strands]))
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
            x, y = ctx.xy(win)
            m = np.zeros(x.shape, F32)
            for s in self.shapes:
                soft = max(0.6 * ctx.s, self.p["soft"] * 2 * s.radius)
                np.maximum(m, s.mask(x, y, soft), out=m)
        self.look.paint(ctx, img, win, m, self.width)
