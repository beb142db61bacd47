"""Writing a synthetic data set: every leaf (and chosen unknown types) rendered at every magnification.

One sample (label, index) is one physical scene; it is rendered at every requested magnification, and
all its views go to the same split (:func:`models.data.splits.split_rendered`).

Determinism: every sample gets its own generator from ``SeedSequence([seed, crc32(label), index])``
(and one per view with the magnification added), so the output does not depend on ordering or on the
number of worker processes; PNGs are written without metadata. The same arguments give the same bytes.

Regimes: ``pattern`` picks the panel's sub-pixel layout (:data:`~models.data.synth.canvas.PATTERNS`),
``grayscale`` writes single-channel ('L') PNGs, and ``long_tail`` gives the leaves geometrically falling
sample counts (:func:`long_tail_counts`) instead of ``per_class`` each.

Output::

    OUT/images/<leaf or unknown_<name>>/<leaf or unknown_<name>>_<index>_<mag>x.png
    OUT/images/<leaf>/<leaf>_<index>_<mag>x.jdx   (with ``spectra``: the sample's FTIR spectrum)
    OUT/manifest.csv   path,label,magnification,defect_bbox,defect_size_px,split[,spectrum]
"""

from __future__ import annotations

import io
import math
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image

from models.data.manifest import (
    COLUMNS,
    UNKNOWN_PREFIX,
    ManifestRow,
    is_unknown_label,
    unknown_label,
    write_manifest,
)
from models.data.samples import format_bbox
from models.data.splits import split_rendered
from models.data.synth.canvas import PATTERNS, stable_hash
from models.data.synth.defect import Defect, Pair
from models.data.synth.optics import sample_optics
from models.data.synth.registry import looks_of, make_defect
from models.data.synth.scene import DIFFICULTY, SynthError, check_view, make_scene, render_view
from models.data.synth.unknown import UNKNOWN_TYPES
from models.data.synth.variants import Look
from models.taxonomy import DEMO_TAXONOMY_PATH, Taxonomy, load_taxonomy


def mag_text(magnification: float) -> str:
    """``20`` for 20.0, ``7.5`` for 7.5 (used in file names and the manifest)."""
    return f"{magnification:g}"


def label_dir(label: str) -> str:
    """Folder (and file-name stem) for a label: the leaf id, or ``unknown_<name>``."""
    if is_unknown_label(label):
        return "unknown_" + label.removeprefix(UNKNOWN_PREFIX)
    return label


_View = tuple[str, float, tuple[int, int, int, int], float]
"""A rendered view: (path relative to the output folder, magnification, defect bbox, defect size in px)."""


@dataclass(frozen=True)
class _Job:
    """One sample to render (at every magnification) and write under ``out_dir``."""

    label: str
    look: Look | None
    index: int
    seed: int
    magnifications: tuple[float, ...]
    size: int
    difficulty: float
    out_dir: str
    pattern: str = "stripes"
    grayscale: bool = False
    second: str | None = None  # a second defect beside the first (a multi-label image)
    second_look: Look | None = None


def _sample_seed(seed: int, label: str, index: int, *extra: int) -> np.random.SeedSequence:
    """The seed of one sample (``extra``: of one of its views), independent of any other sample."""
    return np.random.SeedSequence([seed, stable_hash(label), index, *extra])


def _render_job(job: _Job) -> list[_View]:
    """Render and write every view of one sample; returns (relative path, mag, bbox, size px) rows."""
    rng = np.random.default_rng(_sample_seed(job.seed, job.label, job.index))
    scene = make_scene(
        job.label, rng, difficulty=job.difficulty, look=job.look,
        pattern=job.pattern,
    )  # fmt: skip
    if job.second is not None:  # its own stream: the first defect is drawn as in a single-label data set
        second_rng = np.random.default_rng(_sample_seed(job.seed, job.label, job.index, 104_729))
        second = make_defect(job.second, second_rng, difficulty=job.difficulty, look=job.second_look)
        scene.defect = Pair(scene.defect, second, _second_offset(scene.defect, second, second_rng))
    folder = label_dir(job.label)
    rows = []
    for mag in job.magnifications:
        view_rng = np.random.default_rng(_sample_seed(job.seed, job.label, job.index, round(mag * 1000)))
        optics = sample_optics(view_rng, job.size)
        arr, bbox, size_px = render_view(scene, optics, magnification=mag, size=job.size)
        rel = f"images/{folder}/{folder}_{job.index:05d}_{mag_text(mag)}x.png"
        _write_png(Path(job.out_dir) / rel, arr, grayscale=job.grayscale)
        rows.append((rel, mag, bbox, size_px))
    return rows


def _write_png(path: Path, arr: np.ndarray, *, grayscale: bool = False) -> None:
    """Write an RGB array as a PNG without metadata chunks (the same pixels give the same bytes); with
    ``grayscale`` as one 'L' channel (ITU-R 601 luma), as a monochrome microscope camera records it."""
    buffer = io.BytesIO()
    image = Image.fromarray(arr, "RGB")
    if grayscale:
        image = image.convert("L")
    image.save(buffer, format="PNG", compress_level=6)  # no metadata chunks
    path.write_bytes(buffer.getvalue())


def _prepare_out(out_dir: Path, overwrite: bool) -> None:
    """Create ``out_dir``; refuse (or with ``overwrite`` clear) a data set already there.

    Raises:
        SynthError: ``out_dir`` holds ``manifest.csv`` or ``images/`` and ``overwrite`` is False.
    """
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


MIN_LONG_TAIL = 3
"""The fewest samples a leaf gets under ``long_tail``: one each for train, val and test."""


def long_tail_counts(n_leaves: int, per_class: int, ratio: float, seed: int) -> list[int]:
    """Sample counts per leaf (in leaf order) falling off geometrically, for a long-tailed data set.

    The commonest leaf gets ``per_class``, the rarest ``per_class * ratio`` (at least
    :data:`MIN_LONG_TAIL`), the ones between ``per_class * ratio ** (rank / (n_leaves - 1))`` rounded.
    Which leaf gets which rank is a permutation drawn from ``seed``: the same seed, the same profile.

    Raises:
        SynthError: ``ratio`` outside (0, 1].
    """
    if not (isinstance(ratio, int | float) and math.isfinite(ratio) and 0.0 < ratio <= 1.0):
        raise SynthError(f"--long-tail must be a ratio in (0, 1], e.g. 0.1, got {ratio!r}")
    ranks = np.random.default_rng(np.random.SeedSequence([seed, 0x7A11])).permutation(n_leaves)
    steps = max(n_leaves - 1, 1)
    return [max(MIN_LONG_TAIL, round(per_class * ratio ** (int(r) / steps))) for r in ranks]


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
    pattern: str = "stripes",
    grayscale: bool = False,
    long_tail: float | None = None,
    spectra: float = 0.0,
    multi: float = 0.0,
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
        pattern: the panel's sub-pixel layout, one of :data:`~models.data.synth.canvas.PATTERNS`.
        grayscale: write single-channel ('L' mode) PNGs.
        long_tail: when given, leaf counts fall from ``per_class`` down to ``per_class * long_tail``
            (:func:`long_tail_counts`); unknown types keep ``unknown_per_class``.
        spectra: the share (0..1) of each leaf's samples that get an FTIR spectrum of the leaf's material
            (:mod:`models.spectra.synth`), one per sample: every view's image gets it beside it as a JCAMP-DX file
            of the same name, and the manifest's ``spectrum`` column names it. Unknown types get none.
        multi: the share (0..1) of each leaf's samples that show a second defect beside or partly over the first, of
            a leaf of another top-level group (a particle on a scratch): their ``label`` is ``first;second``. Unknown types
            get none.

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
    if pattern not in PATTERNS:
        raise SynthError(f"--pattern must be one of {', '.join(PATTERNS)}, got {pattern!r}")
    if not 0.0 <= spectra <= 1.0:
        raise SynthError(f"--spectra must be a share between 0 and 1, got {spectra}")
    if not 0.0 <= multi <= 1.0:
        raise SynthError(f"--multi must be a share between 0 and 1, got {multi}")
    counts = (
        [per_class] * len(tax.leaves)
        if long_tail is None
        else long_tail_counts(len(tax.leaves), per_class, long_tail, seed)
    )
    out = Path(out_dir)
    _prepare_out(out, overwrite)

    looks = looks_of(tax)
    plan: list[tuple[str, Look | None, int]] = []
    for leaf, count in zip(tax.leaves, counts, strict=True):
        plan.append((leaf, looks.get(leaf), count))
    for name in chosen_unknown:
        plan.append((unknown_label(name), None, n_unknown_each))
    for label, _, _ in plan:
        (out / "images" / label_dir(label)).mkdir(parents=True, exist_ok=True)
    root = str(out.resolve())
    jobs = []
    for label, anc, n in plan:
        for i in range(n):
            second = _second_leaf(tax, label, seed, i, multi) if multi > 0 else None
            jobs.append(_Job(label, anc, i, seed, mags, size, difficulty, root, pattern, grayscale, second,
                             None if second is None else looks.get(second)))
    results = _run_jobs(jobs, workers, progress)

    manifest = out / "manifest.csv"
    rows = _manifest_rows(plan, results, seed, fractions, root, [job.second for job in jobs])
    if spectra > 0:
        rows = _with_spectra(rows, plan, results, seed, spectra)
    write_manifest(rows, manifest, columns=[c for c in COLUMNS[2:] if c != "spectrum" or spectra > 0])
    return manifest


def _with_spectra(rows: list[ManifestRow], plan: list[tuple[str, Look | None, int]], results: list[list[_View]],
                  seed: int, share: float) -> list[ManifestRow]:
    """The rows, a ``share`` of each leaf's samples with a synthetic spectrum written beside each of its views."""
    from models.spectra.synth import synth_spectrum, write_jcamp

    out: list[ManifestRow] = []
    at = 0
    per_sample = iter(results)
    for label, _, n in plan:
        for i in range(n):
            views = next(per_sample)
            rng = np.random.default_rng(_sample_seed(seed, label, i, 7_919))  # its own stream: the images' unchanged
            spectrum = None
            if not is_unknown_label(label) and rng.random() < share:
                spectrum = synth_spectrum(label, rng)
            for _view in views:
                row = rows[at]
                at += 1
                if spectrum is not None:
                    path = Path(row.path).with_suffix(".jdx")
                    write_jcamp(path, *spectrum, title=f"{label} sample {i}")
                    row = ManifestRow(row.path, row.label, {**row.cells, "spectrum": str(path)})
                out.append(row)
    return out


def _manifest_rows(
    plan: list[tuple[str, tuple[str, ...] | None, int]],
    results: list[list[_View]],
    seed: int,
    fractions: tuple[float, ...],
    root: str,
    seconds: Sequence[str | None] = (),
) -> list[ManifestRow]:
    """One manifest row per rendered view, in plan order; all views of a sample get the sample's split (and its
    second defect's leaf after a ``;``, from ``seconds``: one per sample)."""
    rows: list[ManifestRow] = []
    per_sample = iter(results)
    second_of = iter(seconds)
    for label, _, n in plan:
        splits = split_rendered(stable_hash(label), n, seed, fractions)
        for i in range(n):
            second = next(second_of, None)
            written = label if second is None else f"{label};{second}"
            for rel, mag, bbox, size_px in next(per_sample):
                cells = {
                    "magnification": mag_text(mag),
                    "defect_bbox": format_bbox(bbox),
                    "defect_size_px": f"{size_px:.1f}",
                    "split": splits[i],
                }
                rows.append(ManifestRow(Path(root) / rel, written, cells))
    return rows


def _second_offset(first: Defect, second: Defect, rng: np.random.Generator) -> tuple[float, float]:
    """Where a second defect lies from the first (micrometres): in a random direction, 0.3 to 0.9 of the sum of
    their half extents away, so that both show (partly overlapping or side by side; one drawn right over the other
    could hide it: a particle over a line short)."""
    angle = float(rng.uniform(0.0, 2.0 * math.pi))
    distance = float(rng.uniform(0.3, 0.9)) * (first.extent_um + second.extent_um) / 2.0
    return distance * math.cos(angle), distance * math.sin(angle)


def _second_leaf(tax: Taxonomy, label: str, seed: int, index: int, share: float) -> str | None:
    """The leaf of a sample's second defect (one of another top-level group), or None: drawn with a ``share``."""
    if is_unknown_label(label):
        return None
    rng = np.random.default_rng(_sample_seed(seed, label, index, 6_271))
    if rng.random() >= share:
        return None
    others = [leaf for leaf in tax.leaves if tax.path(leaf)[0] != tax.path(label)[0]]
    return others[int(rng.integers(len(others)))] if others else None


def _run_jobs(
    jobs: list[_Job], workers: int, progress: Callable[[int, int], None] | None
) -> list[list[_View]]:
    """Every job's views, in job order (in this process, or in ``workers`` spawned processes)."""
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
    """Refuse arguments out of range.

    Raises:
        SynthError: the message names the command-line option.
    """
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
        check_view(mag, size)
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
    names = [t.strip().removeprefix(UNKNOWN_PREFIX) for t in unknown_types]
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
