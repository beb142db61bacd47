"""Synthetic FMA micrographs: an LCD pixel array under a microscope, with one defect per image.

This data set stands in for confidential real FMA images (tests, demo, benchmarks, the demo model).

The background is the periodic structure of a TFT-LCD panel: RGB colour-filter sub-pixels framed by
a black matrix (BM), metal data and gate lines, TFT islands, a storage-capacitor line and, on some
panels, fine IPS electrode slits. Everything is defined in physical units (micrometres) and seen
through a microscope view: the field of view is ``FOV_1X_UM / magnification``, so the pattern pitch
and the defect size in pixels scale with the magnification (5x: a dense pattern and tiny defects,
50x: one or two sub-pixels across and defects that may overflow the frame). Each view adds a random
framing offset, illumination gradient, vignetting, white balance, gamma, focus blur and sensor noise.

Defects are drawn by :mod:`models.data.synth_defects`. One sample (label, index) is one physical
scene; it is rendered at every requested magnification, and all its views go to the same split.

Determinism: every sample gets its own generator from ``SeedSequence([seed, crc32(label), index])``
(and one per view with the magnification added), so the output does not depend on ordering or on the
number of worker processes; PNGs are written without metadata. The same arguments give the same bytes.

Output::

    OUT/images/<leaf or unknown_<name>>/<leaf or unknown_<name>>_<index>_<mag>x.png
    OUT/manifest.csv   path,label,magnification,defect_bbox,defect_size_px,split
"""

from __future__ import annotations

import csv
import io
import math
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from models.data.manifest import UNKNOWN_PREFIX, DataError
from models.data.splits import split_rendered
from models.data.synth_defects import (
    F32,
    KNOWN_LEAVES,
    UNKNOWN_BUILDERS,
    Defect,
    Window,
    _hash2,
    hsv,
    lerp,
    make_defect,
    stable_hash,
)
from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy, load_taxonomy

FOV_1X_UM = 5600.0
"""Field of view (micrometres across the frame) at 1x; 280 um at 20x, 112 um at 50x, 1120 um at 5x."""

DIFFICULTY = 0.5
"""Default sibling overlap, 0..1: how far a sample's parameters may be blended towards a sibling's."""

UNKNOWN_TYPES: list[str] = list(UNKNOWN_BUILDERS)
"""Defect types outside the demo taxonomy, used for ``unknown:<name>`` samples (in this order)."""

MANIFEST_COLUMNS: tuple[str, ...] = (
    "path",
    "label",
    "magnification",
    "defect_bbox",
    "defect_size_px",
    "split",
)

_FOOTPRINT_THRESHOLD = 0.15


class SynthError(DataError):
    """Bad generator arguments (the message names the option)."""


# ============================================================================ pattern
@dataclass(frozen=True)
class Pattern:
    """Geometry (micrometres) and colours of the panel's pixel array, plus its placement.

    ``pitch`` is the (square) pixel pitch, ``ps`` the sub-pixel width (pitch / 3). Pattern coordinates
    (u, v) are the defect frame rotated by ``angle`` and shifted by ``off_u``, ``off_v``.
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

    @property
    def ps(self) -> float:
        return self.pitch / 3.0


def sample_pattern(rng: np.random.Generator) -> Pattern:
    """Draw a panel design and its illumination mode (transmitted .. reflected)."""
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


def _band(d: np.ndarray, width: float, s: float) -> np.ndarray:
    """Anti-aliased coverage of a line of ``width`` centred where ``d`` is 0 (box-filtered by pixel s)."""
    return np.clip((width / 2.0 - np.abs(d)) / s + 0.5, 0.0, 1.0)


def pattern_layers(ctx: Ctx, u: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluate the pixel array at pattern coordinates: coverage layers that defects may edit.

    Keys: ``ap`` (H, W, 3) aperture colour, ``slit``, ``cs``, ``bm``, ``data``, ``gate``, ``tft`` and
    an empty ``bridge`` (extra metal), each (H, W) in [0, 1].
    """
    pat, s = ctx.pat, ctx.s
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


# ============================================================================ optics
@dataclass(frozen=True)
class Optics:
    """One capture's framing and imaging conditions."""

    offset: tuple[float, float]  # image centre relative to the defect, in fields of view
    exposure: float
    white_balance: tuple[float, float, float]
    gradient: float
    gradient_angle: float
    vignette: float
    gamma: float
    blur_px: float
    noise: float
    shot: float
    noise_seed: int


def sample_optics(rng: np.random.Generator, size: int) -> Optics:
    """Draw framing, illumination, focus and noise for one view."""
    offset = np.clip(rng.normal(0.0, 0.12, 2), -0.3, 0.3)
    wb = np.clip(1.0 + rng.normal(0.0, 0.05, 3), 0.85, 1.15)
    blur = rng.uniform(0.3, 1.1) + (rng.uniform(0.4, 1.2) if rng.random() < 0.1 else 0.0)
    return Optics(
        offset=(float(offset[0]), float(offset[1])),
        exposure=float(rng.uniform(0.82, 1.18)),
        white_balance=(float(wb[0]), float(wb[1]), float(wb[2])),
        gradient=float(rng.uniform(0.0, 0.3)),
        gradient_angle=float(rng.uniform(0, 2 * math.pi)),
        vignette=float(rng.uniform(0.0, 0.45)),
        gamma=float(rng.uniform(0.85, 1.18)),
        blur_px=float(blur * size / 256.0),
        noise=float(rng.uniform(0.004, 0.028)),
        shot=float(rng.uniform(0.0, 0.025)),
        noise_seed=int(rng.integers(0, 2**63)),
    )


def apply_optics(img: np.ndarray, optics: Optics) -> np.ndarray:
    """Illumination, white balance, gamma, focus blur and sensor noise; returns uint8 RGB."""
    size = img.shape[0]
    t = (np.arange(size, dtype=F32) + 0.5) / size - 0.5
    gx, gy = t[None, :], t[:, None]
    ramp = gx * math.cos(optics.gradient_angle) + gy * math.sin(optics.gradient_angle)
    illum = (
        optics.exposure * (1.0 + optics.gradient * ramp) * (1.0 - optics.vignette * (gx * gx + gy * gy) * 2.0)
    )
    img = img * illum[..., None] * np.asarray(optics.white_balance, F32)
    img = np.clip(img, 0.0, 1.0) ** F32(optics.gamma)
    u8 = (img * 255.0 + 0.5).astype(np.uint8)
    if optics.blur_px >= 0.3:
        u8 = np.asarray(Image.fromarray(u8).filter(ImageFilter.GaussianBlur(optics.blur_px)))
    rng = np.random.default_rng(optics.noise_seed)
    f = u8.astype(F32) * F32(1.0 / 255.0)
    f += np.sqrt(f) * F32(optics.shot) * rng.standard_normal(f.shape, dtype=F32)
    f += F32(optics.noise) * rng.standard_normal(f.shape, dtype=F32)
    return np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)


# ============================================================================ scenes and views
@dataclass
class Scene:
    """One physical sample: a panel pattern and a defect (both in micrometres)."""

    kind: str
    pattern: Pattern
    defect: Defect


def make_scene(
    kind: str, rng: np.random.Generator, *, difficulty: float = DIFFICULTY, ancestors: list[str] | None = None
) -> Scene:
    """Draw a scene for a leaf id or an unknown type name (``unknown:`` prefix allowed).

    Raises:
        SynthError: the kind has no renderer (and no taxonomy path was given for a generic one).
    """
    name = kind.removeprefix(UNKNOWN_PREFIX)
    pattern = sample_pattern(rng)
    try:
        defect = make_defect(name, rng, difficulty=difficulty, ancestors=ancestors)
    except KeyError:
        raise SynthError(
            f"no renderer for defect type {kind!r}: use a leaf of the taxonomy, one of "
            f"{', '.join(KNOWN_LEAVES)}, or an unknown type ({', '.join(UNKNOWN_TYPES)})"
        ) from None
    return Scene(kind=kind, pattern=pattern, defect=defect)


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
    _check_view(magnification, size)
    ancestors = _ancestors(taxonomy, leaf_or_unknown)
    scene = make_scene(
        leaf_or_unknown, rng, difficulty=DIFFICULTY if difficulty is None else difficulty, ancestors=ancestors
    )
    optics = sample_optics(np.random.default_rng(int(rng.integers(0, 2**63))), size)
    arr, bbox, size_px = render_view(scene, optics, magnification=magnification, size=size)
    return Image.fromarray(arr, "RGB"), bbox, size_px


def _ancestors(taxonomy: Taxonomy | None, label: str) -> list[str] | None:
    if taxonomy is None or label.startswith(UNKNOWN_PREFIX) or label not in taxonomy:
        return None
    return taxonomy.path(label)


def _check_view(magnification: float, size: int) -> None:
    if not (isinstance(magnification, int | float) and math.isfinite(magnification) and magnification > 0):
        raise SynthError(f"magnification must be a positive number, got {magnification!r}")
    if not isinstance(size, int) or size < 16 or size > 4096:
        raise SynthError(f"--size must be an integer between 16 and 4096 pixels, got {size!r}")


# ============================================================================ data set generation
def mag_text(magnification: float) -> str:
    """``20`` for 20.0, ``7.5`` for 7.5 (used in file names and the manifest)."""
    return f"{magnification:g}"


def label_dir(label: str) -> str:
    """Folder (and file-name stem) for a label: the leaf id, or ``unknown_<name>``."""
    if label.startswith(UNKNOWN_PREFIX):
        return "unknown_" + label[len(UNKNOWN_PREFIX) :]
    return label


@dataclass(frozen=True)
class _Job:
    label: str
    ancestors: tuple[str, ...] | None
    index: int
    seed: int
    magnifications: tuple[float, ...]
    size: int
    difficulty: float
    out_dir: str


def _sample_seed(seed: int, label: str, index: int, *extra: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, stable_hash(label), index, *extra])


def _render_job(job: _Job) -> list[tuple[str, float, tuple[int, int, int, int], float]]:
    """Render and write every view of one sample; returns (relative path, mag, bbox, size px) rows."""
    rng = np.random.default_rng(_sample_seed(job.seed, job.label, job.index))
    scene = make_scene(
        job.label, rng, difficulty=job.difficulty, ancestors=list(job.ancestors) if job.ancestors else None
    )
    folder = label_dir(job.label)
    rows = []
    for mag in job.magnifications:
        view_rng = np.random.default_rng(_sample_seed(job.seed, job.label, job.index, round(mag * 1000)))
        optics = sample_optics(view_rng, job.size)
        arr, bbox, size_px = render_view(scene, optics, magnification=mag, size=job.size)
        rel = f"images/{folder}/{folder}_{job.index:05d}_{mag_text(mag)}x.png"
        _write_png(Path(job.out_dir) / rel, arr)
        rows.append((rel, mag, bbox, size_px))
    return rows


def _write_png(path: Path, arr: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buffer, format="PNG", compress_level=6)  # no metadata chunks
    path.write_bytes(buffer.getvalue())


def _prepare_out(out_dir: Path, overwrite: bool) -> None:
    manifest, images = out_dir / "manifest.csv", out_dir / "images"
    if manifest.exists() or images.exists():
        if not overwrite:
            raise SynthError(
                f"{out_dir} already holds a data set (manifest.csv or images/); "
                "choose another folder or pass --overwrite"
            )
        if images.is_dir():
            shutil.rmtree(images)
        manifest.unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def generate(
    out_dir: str | Path,
    taxonomy: Taxonomy | str | Path = DEMO_TAXONOMY_PATH,
    *,
    per_class: int,
    seed: int,
    unknown_classes: int = 0,
    magnifications: Sequence[float] = (20,),
    size: int = 256,
    split: Sequence[float] = (0.7, 0.15, 0.15),
    unknown_per_class: int | None = None,
    unknown_types: Sequence[str] | None = None,
    difficulty: float | None = None,
    workers: int = 1,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render a synthetic data set and its manifest.

    Args:
        out_dir: output folder (created); refuses one that already holds a data set unless ``overwrite``.
        taxonomy: a Taxonomy or a YAML path; every leaf gets ``per_class`` samples.
        per_class: samples per leaf (each rendered at every magnification).
        seed: non-negative master seed.
        unknown_classes: how many of :data:`UNKNOWN_TYPES` to add as ``unknown:<name>`` labels.
        magnifications: objective magnifications to render each sample at.
        size: image width and height in pixels.
        split: train/val/test fractions (stratified per label; all views of a sample share a split).
        unknown_per_class: samples per unknown type (default ``per_class``).
        unknown_types: names from :data:`UNKNOWN_TYPES` to add instead of the first ``unknown_classes``
            (so that, e.g., a calibration set and a test set hold disjoint unknown types).
        difficulty: sibling overlap 0..1 (default :data:`DIFFICULTY`).
        workers: worker processes (1 = in this process); the output does not depend on it.
        overwrite: replace an existing ``images/`` folder and ``manifest.csv`` in ``out_dir``.
        progress: called as ``progress(samples_done, samples_total)``.

    Returns:
        The manifest path.

    Raises:
        SynthError: an argument is out of range.
    """
    tax = load_taxonomy(taxonomy)
    mags = tuple(float(m) for m in magnifications)
    fractions = tuple(float(f) for f in split)
    difficulty = DIFFICULTY if difficulty is None else float(difficulty)
    n_unknown_each = per_class if unknown_per_class is None else unknown_per_class
    _check_args(per_class, seed, unknown_classes, n_unknown_each, mags, size, fractions, difficulty, workers)
    chosen_unknown = _unknown_selection(unknown_classes, unknown_types)
    out = Path(out_dir)
    _prepare_out(out, overwrite)

    plan: list[tuple[str, tuple[str, ...] | None, int]] = []
    for leaf in tax.leaves:
        plan.append((leaf, None if leaf in KNOWN_LEAVES else tuple(tax.path(leaf)), per_class))
    for name in chosen_unknown:
        plan.append((UNKNOWN_PREFIX + name, None, n_unknown_each))
    for label, _, _ in plan:
        (out / "images" / label_dir(label)).mkdir(parents=True, exist_ok=True)
    jobs = [
        _Job(label, anc, i, seed, mags, size, difficulty, str(out.resolve()))
        for label, anc, n in plan
        for i in range(n)
    ]
    results = _run_jobs(jobs, workers, progress)

    rows: list[list[str]] = []
    pos = 0
    for label, _, n in plan:
        splits = split_rendered(stable_hash(label), n, seed, fractions)
        for i in range(n):
            for rel, mag, bbox, size_px in results[pos + i]:
                rows.append(
                    [rel, label, mag_text(mag), " ".join(map(str, bbox)), f"{size_px:.1f}", splits[i]]
                )
        pos += n
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    writer.writerows(rows)
    manifest = out / "manifest.csv"
    manifest.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return manifest


def _run_jobs(jobs: list[_Job], workers: int, progress: Callable[[int, int], None] | None) -> list:
    total = len(jobs)
    results = []
    if workers <= 1 or total < 4:
        for i, job in enumerate(jobs):
            results.append(_render_job(job))
            if progress is not None:
                progress(i + 1, total)
        return results
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        chunk = max(1, min(16, total // (workers * 8)))
        for i, rows in enumerate(pool.map(_render_job, jobs, chunksize=chunk)):
            results.append(rows)
            if progress is not None:
                progress(i + 1, total)
    return results


def _check_args(
    per_class: int,
    seed: int,
    unknown_classes: int,
    unknown_per_class: int,
    mags: tuple[float, ...],
    size: int,
    fractions: tuple[float, ...],
    difficulty: float,
    workers: int,
) -> None:
    if not isinstance(per_class, int) or per_class < 1:
        raise SynthError(f"--per-class must be a positive integer, got {per_class!r}")
    if not isinstance(seed, int) or seed < 0:
        raise SynthError(f"--seed must be a non-negative integer, got {seed!r}")
    if not isinstance(unknown_classes, int) or not 0 <= unknown_classes <= len(UNKNOWN_TYPES):
        raise SynthError(
            f"--unknown-classes must be between 0 and {len(UNKNOWN_TYPES)} "
            f"({', '.join(UNKNOWN_TYPES)}), got {unknown_classes!r}"
        )
    if not isinstance(unknown_per_class, int) or unknown_per_class < 1:
        raise SynthError(f"--unknown-per-class must be a positive integer, got {unknown_per_class!r}")
    if not mags:
        raise SynthError("--magnifications needs at least one value, e.g. 5,20,50")
    if len(set(mags)) != len(mags):
        raise SynthError(f"--magnifications has duplicates: {', '.join(map(mag_text, mags))}")
    for mag in mags:
        _check_view(mag, size)
    if len(fractions) != 3 or any(not math.isfinite(f) or f < 0 for f in fractions) or sum(fractions) <= 0:
        raise SynthError(f"--split must be three non-negative fractions train,val,test, got {fractions!r}")
    if not 0.0 <= difficulty <= 1.0:
        raise SynthError(f"--difficulty must be between 0 and 1, got {difficulty!r}")
    if not isinstance(workers, int) or workers < 0:
        raise SynthError(f"--workers must be a non-negative integer, got {workers!r}")


def _unknown_selection(unknown_classes: int, unknown_types: Sequence[str] | None) -> list[str]:
    """The unknown type names to render: ``unknown_types`` when given, else the first ``unknown_classes``."""
    if unknown_types is None:
        return list(UNKNOWN_TYPES[:unknown_classes])
    names = [n[len(UNKNOWN_PREFIX):] if n.startswith(UNKNOWN_PREFIX) else n for n in (t.strip() for t in unknown_types)]
    bad = [n for n in names if n not in UNKNOWN_TYPES]
    if bad or not names:
        raise SynthError(
            f"--unknown-types: {', '.join(map(repr, bad)) or 'no names given'}; choose from {', '.join(UNKNOWN_TYPES)}"
        )
    if len(set(names)) != len(names):
        raise SynthError(f"--unknown-types has duplicates: {', '.join(names)}")
    if unknown_classes not in (0, len(names)):
        raise SynthError(
            f"--unknown-classes {unknown_classes} disagrees with --unknown-types ({len(names)} names); give one of them"
        )
    return names
