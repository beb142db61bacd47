"""Read ImageFolder-style trees: one sub-folder per class, ``root/<leaf id>/*.png`` or the nested full
path ``root/<group>/<subgroup>/<leaf>/*.png``.

A folder named ``unknown_<name>`` (or ``unknown:<name>``, or ``unknown/<name>``) holds ``unknown:<name>``
samples. Labels are resolved and files checked as for manifests (:mod:`models.data.samples`). An FTIR spectrum
file named after an image of its folder (``P001.jdx`` or ``P001.csv`` beside ``P001.png``,
:func:`models.spectra.match_spectra`) becomes one of that sample's ``spectra``.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from models.data.samples import (
    Candidate,
    DataError,
    LabelChecker,
    LoadResult,
    Sample,
    finish_loading,
    is_unknown_label,
    unknown_label,
)
from models.imageio import IMAGE_SUFFIXES
from models.spectra import is_spectrum_candidate, match_spectra
from models.taxonomy import Taxonomy

_UNKNOWN_DIR_RE = re.compile(r"^unknown[_:](.+)$", re.IGNORECASE)
_IGNORED_FILES = frozenset({"thumbs.db", "desktop.ini"})
_EXPORT_FILES = {  # beside the class folders of fma-judge's image-folder export ("not an image file type" puzzled)
    "manifest.csv": "the image-folder export's list of its images, not read with the folder: give it as --data "
                    "instead of the folder to check each image against the sha256 it was judged with",
    "notes.csv": "the image-folder export's notes: not training data",
}


def folder_label(parts: tuple[str, ...]) -> str:
    """Label text for an image whose parent folders (below the root) are ``parts``."""
    last = parts[-1]
    match = _UNKNOWN_DIR_RE.match(last)
    if match:
        return unknown_label(match.group(1))
    if len(parts) >= 2 and parts[-2].lower() == "unknown":
        return unknown_label(last)
    if last.lower() == "unknown":
        return unknown_label("unknown")
    return "/".join(parts)


def parse_folder(
    root: Path, checker: LabelChecker, allow_unknown: bool
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Candidates for every image under ``root`` (files not yet checked), and the entries skipped so far.

    Bad class folders are recorded in ``checker``; the caller raises them once all sources are parsed.

    Raises:
        DataError: ``root`` is not a folder.
    """
    if not root.is_dir():
        raise DataError(f"{root}: image folder not found")
    candidates: list[Candidate] = []
    skipped: list[tuple[str, str]] = []
    source = str(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root)
        parts = rel_dir.parts
        here, spectra = len(candidates), []
        for name in sorted(filenames):
            if name.startswith(".") or name.lower() in _IGNORED_FILES:
                continue
            written = (rel_dir / name).as_posix()
            if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                if parts and is_spectrum_candidate(name):  # an FTIR spectrum, if an image has its name
                    spectra.append((Path(dirpath) / name).resolve())
                else:
                    export_file = None if parts else _EXPORT_FILES.get(name.lower())
                    skipped.append((written, export_file or _not_an_image(name)))
                continue
            if not parts:
                skipped.append((written, "not in a class folder: images must be in root/<leaf id>/"))
                continue
            label = checker.resolve(folder_label(parts), f"folder {rel_dir.as_posix()}/")
            if label is None:
                continue
            if is_unknown_label(label) and not allow_unknown:
                skipped.append((written, f"unknown-type label not allowed here: {label}"))
                continue
            sample = Sample(path=(Path(dirpath) / name).resolve(), label=label, source=source)
            candidates.append(Candidate(written, sample, f"folder {rel_dir.as_posix()}/"))
        if spectra:
            _pair_spectra(candidates, here, spectra, rel_dir, skipped)
    return candidates, skipped


def _not_an_image(name: str) -> str:
    return f"not an image file type: suffix {Path(name).suffix or '(none)'!r}"


def _pair_spectra(candidates: list[Candidate], start: int, spectra: list[Path], rel_dir: Path,
                  skipped: list[tuple[str, str]]) -> None:
    """Give the folder's images (``candidates[start:]``) the spectrum files named after them
    (:func:`models.spectra.match_spectra`); the others are skipped as files that are not images."""
    pairs, unmatched = match_spectra([c.sample.path for c in candidates[start:]], spectra)
    for i in range(start, len(candidates)):
        if found := pairs.get(candidates[i].sample.path):
            candidates[i] = replace(candidates[i], sample=replace(candidates[i].sample, spectra=tuple(found)))
    skipped.extend(((rel_dir / p.name).as_posix(), _not_an_image(p.name)) for p in unmatched)


def read_image_folder(
    root: str | Path, taxonomy: Taxonomy, *, allow_unknown: bool = True, verify_images: bool = True
) -> LoadResult:
    """Read an ImageFolder-style tree: ``root/<leaf id>/*.png`` or ``root/<group>/<sub>/<leaf>/*.png``.

    Supported suffixes: .png .jpg .jpeg .bmp .tif .tiff (any case). Folders ``unknown_<name>``,
    ``unknown:<name>`` and ``unknown/<name>`` give ``unknown:<name>`` samples. Spectrum files named after an
    image are its sample's ``spectra``; other files are listed as skipped; hidden files are ignored.

    Args:
        root: the top folder.
        taxonomy: folder names are resolved to its leaf ids.
        allow_unknown: when False, unknown-type images are skipped (and listed).
        verify_images: open and verify each image with PIL; when False only existence is checked.

    Raises:
        DataError: the folder does not exist.
        UnknownLabelsError: some class folders are not leaves of the taxonomy (all are listed).
    """
    root = Path(root).resolve()
    checker = LabelChecker(taxonomy)
    candidates, skipped = parse_folder(root, checker, allow_unknown)
    checker.raise_if_bad()
    return finish_loading(candidates, skipped, verify_images, [str(root)])
