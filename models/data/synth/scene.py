"""Scenes and views: one physical sample (a panel pattern and a defect) rendered at a magnification.

The field of view is ``FOV_1X_UM / magnification``, so the pattern pitch and the defect size in pixels
scale with the magnification (5x: a dense pattern and tiny defects, 50x: one or two sub-pixels across
and defects that may overflow the frame). :func:`render_view` runs the defect hooks (see
:mod:`models.data.synth.defect`) over the pattern and applies the view's optics;
:func:`render_sample` draws a scene and a view from one generator and renders it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from models.data.manifest import UNKNOWN_PREFIX, DataError
from models.data.synth.canvas import (
    F32,
    PATTERNS,
    Ctx,
    Pattern,
    compose_pattern,
    pattern_layers,
    sample_pattern,
)
from models.data.synth.defect import Defect
from models.data.synth.optics import Optics, apply_optics, sample_optics
from models.data.synth.registry import KNOWN_LEAVES, looks_of, make_defect
from models.data.synth.unknown import UNKNOWN_TYPES
from models.data.synth.variants import Look
from models.taxonomy import Taxonomy

FOV_1X_UM = 5600.0
"""Field of view (micrometres across the frame) at 1x; 280 um at 20x, 112 um at 50x, 1120 um at 5x."""

DIFFICULTY = 0.5
"""Default sibling overlap, 0..1: how far a sample's parameters may be blended towards a sibling's."""

_FOOTPRINT_THRESHOLD = 0.15


class SynthError(DataError):
    """Bad generator arguments (the message names the option)."""


@dataclass
class Scene:
    """One physical sample: a panel pattern and a defect (both in micrometres)."""

    kind: str
    pattern: Pattern
    defect: Defect


def make_scene(
    kind: str,
    rng: np.random.Generator,
    *,
    difficulty: float = DIFFICULTY,
    look: Look | None = None,
    pattern: str = "stripes",
) -> Scene:
    """Draw a scene for a leaf id or an unknown type name (``unknown:`` prefix allowed).

    Args:
        kind: a built-in leaf id, an unknown type name, or any leaf id when ``look`` is given.
        rng: the sample's random source (the pattern is drawn first, then the defect).
        difficulty: sibling overlap 0..1.
        look: how a leaf without a built-in renderer is drawn (:func:`~models.data.synth.registry.looks_of`).
        pattern: the panel's sub-pixel layout, one of :data:`~models.data.synth.canvas.PATTERNS`.

    Raises:
        SynthError: the kind has no renderer (and no taxonomy path was given for a generic one).
    """
    name = kind.removeprefix(UNKNOWN_PREFIX)
    if pattern not in PATTERNS:
        raise SynthError(f"--pattern must be one of {', '.join(PATTERNS)}, got {pattern!r}")
    panel = sample_pattern(rng, pattern)
    try:
        defect = make_defect(name, rng, difficulty=difficulty, look=look)
    except KeyError:
        raise SynthError(
            f"no renderer for defect type {kind!r}: use a leaf of the taxonomy, one of "
            f"{', '.join(KNOWN_LEAVES)}, or an unknown type ({', '.join(UNKNOWN_TYPES)})"
        ) from None
    return Scene(kind=kind, pattern=panel, defect=defect)


def field_of_view(magnification: float) -> float:
    """Field of view across the frame in micrometres."""
    return FOV_1X_UM / magnification


def render_view(
    scene: Scene,
    optics: Optics,
    *,
    magnification: float,
    size: int,
    with_defect: bool = True,
) -> tuple[np.ndarray, tuple[int, int, int, int], float]:
    """Render one view of a scene.

    Args:
        scene: the sample.
        optics: framing and imaging conditions of this view.
        magnification: objective magnification (sets the pixel size).
        size: output width and height in pixels.
        with_defect: False renders the identical view without the defect (context such as a glass
            edge is kept), for checks that the defect changes the pixels inside its box.

    Returns:
        (uint8 RGB array (size, size, 3), bbox (x0, y0, x1, y1) with x1/y1 exclusive, defect size in px).
    """
    fov = field_of_view(magnification)
    s = fov / size
    cx, cy = optics.offset[0] * fov, optics.offset[1] * fov
    grid = (np.arange(size, dtype=np.float64) + 0.5 - size / 2.0) * s
    X = np.broadcast_to((cx + grid)[None, :], (size, size)).astype(F32)
    Y = np.broadcast_to((cy + grid)[:, None], (size, size)).astype(F32)
    ctx = Ctx(
        X=X, Y=Y, s=s, size=size, cx=cx, cy=cy, pat=scene.pattern, footprint=np.zeros((size, size), F32)
    )
    defect = scene.defect
    u, v = ctx.to_pattern(X.astype(np.float64), Y.astype(np.float64))
    if with_defect:
        u, v = defect.warp(ctx, u, v)
    layers = pattern_layers(ctx, u, v)
    if with_defect:
        defect.edit_layers(ctx, layers)
    img = compose_pattern(ctx, layers)
    defect.context(ctx, img)  # context (a glass edge) is drawn with and without the defect; not in the box
    if with_defect:
        defect.overlay(ctx, img)
    out = apply_optics(img, optics)
    bbox = _bbox(ctx)
    return out, bbox, defect.extent_um / s


def _bbox(ctx: Ctx) -> tuple[int, int, int, int]:
    rows = np.flatnonzero((ctx.footprint > _FOOTPRINT_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ctx.footprint > _FOOTPRINT_THRESHOLD).any(axis=0))
    if rows.size and cols.size:
        return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
    # too faint or too small to register: a 1-pixel box at the defect centre (clipped to the frame)
    px, py = ctx.to_px(np.array(0.0), np.array(0.0))
    x = int(np.clip(round(float(px)), 0, ctx.size - 1))
    y = int(np.clip(round(float(py)), 0, ctx.size - 1))
    return x, y, x + 1, y + 1


def render_sample(
    leaf_or_unknown: str,
    rng: np.random.Generator,
    *,
    magnification: float,
    size: int,
    difficulty: float | None = None,
    taxonomy: Taxonomy | None = None,
) -> tuple[Image.Image, tuple[int, int, int, int], float]:
    """Render one synthetic micrograph.

    Args:
        leaf_or_unknown: a leaf id (built in, or any leaf of ``taxonomy``), or an unknown type name
            (``"corrosion"`` or ``"unknown:corrosion"``).
        rng: the sample's random source.
        magnification: objective magnification, e.g. 20.
        size: image width and height in pixels.
        difficulty: sibling overlap 0..1 (default :data:`DIFFICULTY`).
        taxonomy: needed only for leaves without a built-in renderer.

    Returns:
        (RGB image, defect bbox (x0, y0, x1, y1), defect's largest extent in pixels).
    """
    check_view(magnification, size)
    look = None if taxonomy is None else looks_of(taxonomy).get(leaf_or_unknown)
    scene = make_scene(
        leaf_or_unknown, rng, difficulty=DIFFICULTY if difficulty is None else difficulty, look=look
    )
    optics = sample_optics(np.random.default_rng(int(rng.integers(0, 2**63))), size)
    arr, bbox, size_px = render_view(scene, optics, magnification=magnification, size=size)
    return Image.fromarray(arr, "RGB"), bbox, size_px


def check_view(magnification: float, size: int) -> None:
    """Refuse a magnification that is not a positive number, or an image size outside 16..4096 pixels.

    Raises:
        SynthError: the message names the option.
    """
    if not (isinstance(magnification, int | float) and math.isfinite(magnification) and magnification > 0):
        raise SynthError(f"magnification must be a positive number, got {magnification!r}")
    if not isinstance(size, int) or size < 16 or size > 4096:
        raise SynthError(f"--size must be an integer between 16 and 4096 pixels, got {size!r}")
