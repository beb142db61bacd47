"""Mechanical defects: scratch, crack, edge chipping, dent and rubbing scratch.

Line and edge structures on the glass (:class:`MechanicalDefect`); :data:`MECHANICAL` holds each leaf's
ranges.
"""

from __future__ import annotations

import math

import numpy as np

from models.data.synth.canvas import F32, TAU, Ctx, ValueNoise, gauss_blur, lerp
from models.data.synth.defect import Defect, GlassEdge, Params, ParamTable
from models.data.synth.shapes import RadialShape, Stroke, max_extent, random_walk, stroke_bounds, stroke_mask

MECHANICAL: ParamTable = {
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
            heading = self._add_chips(rng, self.edge)
        if has_dent:
            self.dent_r = p["length"] / 2 if kind == "dent" else rng.uniform(6, 25)
            self.dent_depth = float(rng.uniform(0.5, 1.0))
        self.noise = ValueNoise(rng, max(2.0, p["length"] / 12))
        long_len = p["length"] if n_lines > 0 and kind not in ("dent", "edge_chipping") else p["length"] * 0.6
        offsets = (np.arange(n_lines) - (n_lines - 1) / 2.0) * p["spacing"]
        for i in range(n_lines):
            self._add_line(rng, long_len * rng.uniform(0.55, 1.0), float(offsets[i]), heading)
        self.extent_um = self._extent()

    def _add_chips(self, rng: np.random.Generator, edge: GlassEdge) -> float:
        """Shell chips along the glass edge; returns the heading of lines that start at a chip."""
        p = self.p
        along = edge.angle + math.pi / 2
        n_chips = int(rng.integers(1, 4))
        for i in range(n_chips):
            t = 0.0 if i == 0 else rng.normal(0.0, 0.35 * p["length"])
            r = p["length"] / 2 * (1.0 if i == 0 else rng.uniform(0.3, 0.7)) * rng.uniform(0.6, 1.0)
            if self.kind != "edge_chipping":
                r = min(r, rng.uniform(6.0, 18.0))  # a borrowed chip stays small
            cx = t * math.cos(along) + edge.offset * math.cos(edge.angle)
            cy = t * math.sin(along) + edge.offset * math.sin(edge.angle)
            self.chips.append(
                RadialShape(rng, cx=cx, cy=cy, radius=r, elong=rng.uniform(1.0, 1.8),
                            irregular=0.1 + 0.25 * p["jagged"], angular=0.3 * p["jagged"],
                            rot=along + rng.normal(0, 0.2))
            )  # fmt: skip
        self.ring_wl = float(rng.uniform(0.12, 0.3)) * p["length"] / 2
        self.chip_lum = float(rng.uniform(0.3, 0.6))
        return edge.angle + math.pi + rng.normal(0.0, 0.6)  # cracks run into the glass

    def _add_line(self, rng: np.random.Generator, ln: float, offset: float, heading: float) -> None:
        """One line of length ``ln`` (micrometres) ``offset`` across ``heading``, plus its branches."""
        p = self.p
        if self.kind == "dent" and self.dent_r > 0:  # radial cracks from the dent's centre
            h = rng.uniform(0, TAU)
            pts = random_walk(rng, start=(0.0, 0.0), heading=h, length=self.dent_r * rng.uniform(0.8, 1.8),
                              curv=p["curve"], jagged=p["jagged"], n=24)  # fmt: skip
        else:
            shift = offset + rng.normal(0, p["spacing"] * 0.15)
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

    def _extent(self) -> float:
        """Largest extent (micrometres) of the strokes, the chips and the dent."""
        extents = [0.0]
        if self.strokes:
            extents.append(max_extent(np.concatenate([s[0] for s in self.strokes])))
        if self.chips:
            boxes = np.array([c.bounds() for c in self.chips])
            extents.append(
                float(max(boxes[:, 2].max() - boxes[:, 0].min(), boxes[:, 3].max() - boxes[:, 1].min()))
            )
        extents.append(2 * self.dent_r)
        return max(extents)

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
                ctx.mark(win, m)

    def _draw_chips(self, ctx: Ctx, img: np.ndarray) -> None:
        boxes = np.array([c.bounds(4 * ctx.s) for c in self.chips])
        win = ctx.window(boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max())
        if win is None or self.edge is None:
            return
        x, y = ctx.xy(win)
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
        ctx.mark(win, np.maximum(m, rim))

    def _draw_dent(self, ctx: Ctx, img: np.ndarray) -> None:
        r = self.dent_r
        win = ctx.window(-1.3 * r, -1.3 * r, 1.3 * r, 1.3 * r)
        if win is None:
            return
        x, y = ctx.xy(win)
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
        ctx.mark(win, np.clip(1.2 - q, 0.0, 1.0).astype(F32))
