"""Process defects that interact with the pixel array: bubble, line open, line short and ITO peeling.

:class:`ProcessDefect` cuts or bridges the metal data/gate lines (electrodes), lifts the ITO colour, or
magnifies the pattern like a lens; :data:`PROCESS` holds each leaf's ranges.
"""

from __future__ import annotations

import math

import numpy as np

from models.data.synth.canvas import F32, TAU, Ctx, ValueNoise, Window, hsv, lerp
from models.data.synth.defect import Defect, Params, ParamTable
from models.data.synth.shapes import RadialShape

PROCESS: ParamTable = {
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
        u, v = ctx.to_pattern(*ctx.xy(win))
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
        x, y = ctx.xy(win)
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
        ctx.mark(win, foot)

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        p = self.p
        uc, vc = self._site(ctx)
        sx, sy = ctx.from_pattern(uc, vc)
        r = self.region.radius * self.region.elong
        reach = max(r, self.halo_r) + 4 * ctx.s + 5
        win = ctx.window(sx - reach, sy - reach, sx + reach, sy + reach)
        if win is None:
            return
        x, y = ctx.xy(win)
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
        ctx.mark(win, foot)
