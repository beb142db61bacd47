"""Which spectrum files belong to which image: by name, in the image's folder.

A spectrum belongs to the image of the same folder whose name, without its suffix, it starts with: ``P001.jdx``
and ``P001.csv`` belong to ``P001.png``; ``P001.spot2.jdx`` (a second spectrum, a tag after a dot) too. When
several images could claim a file (``lot.P001.png`` and ``lot.png``), the longest name wins. Names are compared
as the OS compares them (case-insensitive on Windows). A manifest names its spectra in a ``spectrum`` column instead
(:mod:`models.data.manifest`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from models.spectra.reading import JCAMP_SUFFIXES, SPECTRUM_SUFFIXES


def is_spectrum_candidate(name: str) -> bool:
    """A file name that may hold a spectrum (its suffix), to be matched to an image before it counts as one."""
    return os.path.splitext(name)[1].lower() in SPECTRUM_SUFFIXES


def is_jcamp(name: str) -> bool:
    """A JCAMP-DX file: a spectrum whatever its name (a table only when its name matches an image's)."""
    return os.path.splitext(name)[1].lower() in JCAMP_SUFFIXES


def match_spectra(images: Iterable[Path], candidates: Iterable[Path]) -> tuple[dict[Path, list[Path]], list[Path]]:
    """Pair spectrum files with images by name (see the module).

    Returns:
        ``{image: [its spectrum files, sorted]}`` for the images that have any, and the candidates no image
        claims.
    """
    stems: dict[tuple[str, str], Path] = {}
    for image in images:
        stems[(os.path.normcase(str(image.parent)), os.path.normcase(image.stem))] = image
    pairs: dict[Path, list[Path]] = {}
    unmatched: list[Path] = []
    for path in sorted(candidates):
        folder = os.path.normcase(str(path.parent))
        base = os.path.normcase(path.stem)
        owner = None
        while True:  # the whole base, then shorter at each dot: "a.b.c" tries "a.b.c", "a.b", "a"
            owner = stems.get((folder, base))
            if owner is not None or "." not in base:
                break
            base = base.rsplit(".", 1)[0]
        if owner is None:
            unmatched.append(path)
        else:
            pairs.setdefault(owner, []).append(path)
    return pairs, unmatched
