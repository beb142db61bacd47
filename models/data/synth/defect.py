"""What a defect is: the :class:`Defect` hooks, the glass-edge scene context, and parameter sampling.

Every defect is drawn in *physical* coordinates (micrometres, origin at the defect's centre), so the
same sampled defect can be viewed at several magnifications. A defect is built once from a
``np.random.Generator`` (all its random choices are made in the constructor) and then rendered into
any number of views without drawing more random numbers. It can act on a view in four ways, called in
this order by :func:`models.data.synth.scene.render_view`:

1. ``context``: scene context that is *not* the defect (a glass edge); drawn in the background too.
2. ``warp``: distort the pattern coordinates (a bubble magnifies the pattern like a lens).
3. ``edit_layers``: change the pattern itself (cut or bridge a metal line, lift the ITO colour).
4. ``overlay``: paint over the composed image (particles, films, lines).

Each hook marks the pixels it changed with :meth:`Ctx.mark` (the defect's bounding box comes from it).

Leaves of one subgroup share one renderer family and one parameter vector (a table of ranges per leaf,
in the family's module); each leaf is a different *distribution* over that vector. With ``difficulty``
> 0, :func:`sample_params` blends a sample's parameters part of the way towards a random sibling's, so
siblings overlap more than cousins do (the hierarchy matters).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from models.data.synth.canvas import F32, Ctx, ValueNoise, hsv, lerp

MIX_MAX = 0.85
"""Largest blend fraction towards a sibling's parameters (reached at ``difficulty`` 1)."""

Params = dict[str, float]
"""A sampled parameter vector: parameter name -> value."""

ParamTable = dict[str, dict[str, tuple[float, float]]]
"""A family's parameter ranges: leaf id -> parameter name -> (low, high)."""


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


class Pair(Defect):
    """Two defects in one image (a particle beside or on a scratch, a residue over a crack): the images with more
    than one defect of a multi-label data set (issue #20). The first is drawn first, at the origin; the second is
    centred ``offset`` micrometres from it (kept inside the frame by :meth:`placed`). Both mark the defect box.

    Args:
        first: the first defect (drawn as in a one-defect image).
        second: the second defect.
        offset: the second defect's centre relative to the first's, micrometres; (0, 0) draws one over the other.
    """

    def __init__(self, first: Defect, second: Defect, offset: tuple[float, float] = (0.0, 0.0)) -> None:
        super().__init__()
        self.parts = (first, second)
        self.offset = (float(offset[0]), float(offset[1]))
        self.extent_um = max(first.extent_um, second.extent_um,
                             math.hypot(*self.offset) + (first.extent_um + second.extent_um) / 2)
        self.kind = f"{first.kind};{second.kind}"

    def placed(self, ctx: Ctx) -> tuple[float, float]:
        """Where the second defect is in this view: ``offset``, or its opposite, shortened as little as needed for
        its centre to lie inside the frame with a margin of half its extent (at most a quarter of the frame); (0, 0)
        when neither fits. A view's framing may so move it (views of different magnification of one sample can show
        it on different sides)."""
        half = ctx.size * ctx.s / 2.0
        room = half - min(half / 2.0, self.parts[1].extent_um / 2.0)
        best = (0.0, 0.0, 0.0)
        for sign in (1.0, -1.0):
            low, high = 0.0, 1.0  # the scales t with |t * sign * offset - centre| <= room on both axes
            for d, c in ((sign * self.offset[0], ctx.cx), (sign * self.offset[1], ctx.cy)):
                if d == 0.0:
                    if abs(c) > room:
                        low, high = 1.0, 0.0
                    continue
                ends = sorted(((c - room) / d, (c + room) / d))
                low, high = max(low, ends[0]), min(high, ends[1])
            if low <= high and high > best[0]:
                best = (high, sign * high * self.offset[0], sign * high * self.offset[1])
            if best[0] >= 1.0:
                break
        return best[1], best[2]

    def _views(self, ctx: Ctx) -> tuple[Ctx, Ctx]:
        """The view as each part sees it: the second part's is moved so that its origin is at :meth:`placed` (same
        pixels, same pattern, same footprint)."""
        dx, dy = self.placed(ctx)
        if dx == 0.0 and dy == 0.0:
            return ctx, ctx
        c, s = math.cos(ctx.pat.angle), math.sin(ctx.pat.angle)
        pat = replace(ctx.pat, off_u=ctx.pat.off_u + c * dx - s * dy, off_v=ctx.pat.off_v + s * dx + c * dy)
        return ctx, replace(ctx, X=ctx.X - F32(dx), Y=ctx.Y - F32(dy), cx=ctx.cx - dx, cy=ctx.cy - dy, pat=pat)

    def context(self, ctx: Ctx, img: np.ndarray) -> None:
        for part, view in zip(self.parts, self._views(ctx), strict=True):
            part.context(view, img)

    def warp(self, ctx: Ctx, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        for part, view in zip(self.parts, self._views(ctx), strict=True):
            u, v = part.warp(view, u, v)
        return u, v

    def edit_layers(self, ctx: Ctx, layers: dict[str, np.ndarray]) -> None:
        for part, view in zip(self.parts, self._views(ctx), strict=True):
            part.edit_layers(view, layers)

    def overlay(self, ctx: Ctx, img: np.ndarray) -> None:
        for part, view in zip(self.parts, self._views(ctx), strict=True):
            part.overlay(view, img)


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
        """Paint the void beyond the edge and the bevel line along it into ``img``."""
        d = self.signed(ctx.X, ctx.Y) + (self.wave(ctx.X, ctx.Y) - 0.5) * 1.5
        outside = np.clip(d / ctx.s + 0.5, 0.0, 1.0)[..., None]
        void = self.void * (0.75 + 0.5 * self.noise(ctx.X, ctx.Y)[..., None])
        bevel = np.clip(1.0 - np.abs(d + self.bevel / 2) / (self.bevel / 2 + ctx.s), 0.0, 1.0)[..., None]
        img[:] = lerp(img, void, outside)
        img[:] = lerp(img, F32(self.bevel_lum) * np.array([0.95, 0.97, 1.0], F32), bevel * 0.8)


# ============================================================================ parameter sampling
STRUCTURAL: dict[str, float] = {
    "n": 0.4, "elong": 0.6, "lines": 0.5, "edge": 0.35, "chips": 0.25, "dent": 0.3, "lift": 0.5,
}  # fmt: skip
"""Blend weights (< 1) for parameters that switch structure or add components: blending them fully would
turn a sample into its sibling (label noise) rather than make it a hard example."""


def sample_params(
    table: ParamTable,
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
