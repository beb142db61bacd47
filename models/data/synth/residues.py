"""Residue and stain defects: PI residue, photoresist residue, LC stain and water mark.

Thin films over the pattern (:class:`FilmPatch`: tinted absorption, interference fringes, a dried edge
ring, mottling), one main patch plus satellite droplets; :data:`RESIDUE` holds each leaf's ranges.
"""

from __future__ import annotations

import math

import numpy as np

from models.data.synth.canvas import F32, TAU, Ctx, ValueNoise, hsv, lerp, smoothstep
from models.data.synth.defect import Defect, Params, ParamTable
from models.data.synth.shapes import RadialShape

RESIDUE: ParamTable = {
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
        x, y = ctx.xy(win)
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
        ctx.mark(win, m)


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
