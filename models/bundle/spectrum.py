"""The spectrum head of a bundle (issue #20): ``spectrum_head.safetensors`` beside the weights, described by the
manifest's ``spectrum`` section (:class:`models.bundle.records.SpectrumRecord`). numpy and safetensors only: the
workstation's torch-free runtime fuses spectra too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from models.bundle.files import ARCHIVE_SUFFIXES, SPECTRUM_HEAD_NAME, read_member, write_bundle_manifest
from models.bundle.manifest import BundleError, BundleManifest, SpectrumRecord
from models.hashing import sha256_hex
from models.spectra.head import FEATURES, SpectrumHead
from models.spectra.library import GRID


def write_spectrum_head(path: str | Path, manifest: BundleManifest, head: SpectrumHead,
                        **provenance: Any) -> BundleManifest:
    """Write ``head`` into the bundle folder ``path`` and its record into the manifest (the fused routing of an
    earlier head is dropped: it was fitted for other weights).

    Args:
        provenance: the other :class:`SpectrumRecord` fields (``epoch``, ``n_train``, ``val_top1_alone`` ...).

    Returns:
        The manifest written.

    Raises:
        BundleError: an archive (read-only), or a file cannot be written.
    """
    path = Path(path)
    if path.suffix.lower() in ARCHIVE_SUFFIXES:
        raise BundleError(f"{path}: archives are read-only; extract the bundle to a folder to add a spectrum head")
    data = st_save({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in head.tensors().items()})
    record = SpectrumRecord(file=SPECTRUM_HEAD_NAME, sha256=sha256_hex(data), features=FEATURES,
                            weight=float(head.weight), bytes=len(data), **provenance)
    _check(head, manifest, path)
    tmp = path / f".{SPECTRUM_HEAD_NAME}.tmp"
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path / SPECTRUM_HEAD_NAME)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BundleError(f"cannot write {path / SPECTRUM_HEAD_NAME}: {exc}") from exc
    return write_bundle_manifest(path, manifest.replace(spectrum=record))


def load_spectrum_head(path: str | Path, manifest: BundleManifest) -> SpectrumHead | None:
    """The bundle's spectrum head, or None when it has none.

    Raises:
        BundleError: the head file is missing, modified (sha256), not safetensors, made with another feature recipe,
            or of shapes that do not fit the spectrum grid and the taxonomy.
    """
    record = manifest.spectrum
    if record is None:
        return None
    path = Path(path)
    if record.features != FEATURES:
        raise BundleError(f"{path}: the spectrum head reads features {record.features!r}; this fma-judge makes "
                          f"{FEATURES!r} (train the head again with `fma-model spectrum`)")
    data = read_member(path, record.file)
    if sha256_hex(data) != record.sha256:
        raise BundleError(f"{path}: {record.file} is corrupted or was modified (sha256 differs from the manifest's)")
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError) as exc:
        raise BundleError(f"{path}: {record.file} is not a valid safetensors file ({exc})") from exc
    try:
        head = SpectrumHead.from_tensors(tensors, record.weight)
    except KeyError as exc:
        raise BundleError(f"{path}: {record.file} lacks the tensor {exc}") from exc
    _check(head, manifest, path)
    return head


def _check(head: SpectrumHead, manifest: BundleManifest, path: Path) -> None:
    """The head reads :data:`GRID` points and has one output per node of each tree level, in a chain of layers."""
    sizes = list(manifest.taxonomy.level_sizes)
    widths = [len(GRID)]
    problems = []
    for i, (w, b) in enumerate(head.hidden):
        if w.ndim != 2 or w.shape[0] != widths[-1] or b.shape != (w.shape[1],):
            problems.append(f"hidden.{i} is {w.shape}/{b.shape}, expected ({widths[-1]}, n)")
            break
        widths.append(w.shape[1])
    if len(head.levels) != len(sizes):
        problems.append(f"{len(head.levels)} level outputs for a tree of {len(sizes)} levels")
    for k, ((w, b), n) in enumerate(zip(head.levels, sizes, strict=False)):
        if w.shape != (widths[-1], n) or b.shape != (n,):
            problems.append(f"level.{k} is {w.shape}, expected ({widths[-1]}, {n})")
    if problems:
        raise BundleError(f"{path}: the spectrum head does not fit the spectrum grid and the taxonomy "
                          f"({'; '.join(problems)})")
