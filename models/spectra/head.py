"""A spectrum classifier per tree level, and its late fusion with the image model (issue #20). numpy only.

:class:`SpectrumHead` is a small multilayer perceptron over a spectrum's shape (:func:`features`: the spectrum on the
search grid, smoothed and differentiated as the hit quality index compares it, scaled to unit spread), with one
output per tree level. It runs in numpy, so the workstation's torch-free runtime runs it too; it is trained with
torch (:mod:`models.training.spectrum`).

Fusion is late and per level (:func:`fuse`): the image model's leaf distribution times each level's spectrum
distribution of the leaf's ancestor, raised to a weight chosen on validation images::

    p(leaf | image, spectrum) ∝ p(leaf | image) · Π_k p_k(ancestor_k(leaf) | spectrum) ^ w

An image without a spectrum keeps the image model's distribution unchanged (the image-only path).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.spectra.library import GRID, SMOOTH, on_grid, shape

FEATURES = f"derivative-{GRID[0]:.0f}-{GRID[-1]:.0f}-{GRID[1] - GRID[0]:g}-smooth{SMOOTH}"
"""The name of the recipe :func:`features` follows; a bundle's spectrum head records it, and one made with another
recipe is refused."""


def features(wavenumbers: np.ndarray, absorbance: np.ndarray) -> np.ndarray:
    """A spectrum as the head reads it: its derivative shape on the grid (0 where it has none), over its spread."""
    x = shape(on_grid(wavenumbers, absorbance))
    x = np.where(np.isnan(x), 0.0, x)
    spread = float(np.std(x))
    return (x / spread if spread > 0 else x).astype(np.float32)


@dataclass
class SpectrumHead:
    """Weights of the perceptron: ``hidden`` pairs (W, b) with ReLU, then one (W, b) per tree level."""

    hidden: list[tuple[np.ndarray, np.ndarray]]
    levels: list[tuple[np.ndarray, np.ndarray]]
    weight: float = 1.0  # the fusion weight w

    def level_logits(self, x: np.ndarray) -> list[np.ndarray]:
        """(N, G) features -> per level (N, n_k) logits."""
        h = np.asarray(x, dtype=np.float32)
        for w, b in self.hidden:
            h = np.maximum(h @ w + b, 0.0)
        return [h @ w + b for w, b in self.levels]

    def level_probs(self, x: np.ndarray) -> list[np.ndarray]:
        return [_softmax(z) for z in self.level_logits(x)]

    def tensors(self) -> dict[str, np.ndarray]:
        """The weights by name (``hidden.0.weight`` …, ``level.1.bias``), as safetensors stores them."""
        out: dict[str, np.ndarray] = {}
        for group, pairs in (("hidden", self.hidden), ("level", self.levels)):
            for i, (w, b) in enumerate(pairs):
                out[f"{group}.{i}.weight"], out[f"{group}.{i}.bias"] = w, b
        return out

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, np.ndarray], weight: float) -> SpectrumHead:
        def pairs(group: str) -> list[tuple[np.ndarray, np.ndarray]]:
            n = sum(1 for name in tensors if name.startswith(f"{group}.") and name.endswith(".weight"))
            return [(np.asarray(tensors[f"{group}.{i}.weight"], np.float32),
                     np.asarray(tensors[f"{group}.{i}.bias"], np.float32)) for i in range(n)]

        return cls(pairs("hidden"), pairs("level"), float(weight))


def fuse(leaf_probs: np.ndarray, spectrum_level_probs: Sequence[np.ndarray], leaf_level_index: np.ndarray,
         weight: float, has_spectrum: np.ndarray | None = None) -> np.ndarray:
    """The image model's leaf distribution (N, L) fused with the spectrum head's level distributions; rows without
    a spectrum (``has_spectrum`` False) are returned unchanged."""
    log = np.log(np.clip(leaf_probs.astype(np.float64), 1e-12, None))
    for k, probs in enumerate(spectrum_level_probs):
        log += weight * np.log(np.clip(probs[:, leaf_level_index[:, k]].astype(np.float64), 1e-12, None))
    log -= log.max(axis=1, keepdims=True)
    fused = np.exp(log)
    fused /= fused.sum(axis=1, keepdims=True)
    if has_spectrum is not None:
        fused = np.where(np.asarray(has_spectrum, bool)[:, None], fused, leaf_probs)
    return fused.astype(np.float32)


def fuse_rows(head: SpectrumHead, leaf_probs: np.ndarray, rows: Sequence[Sequence[Any]],
              leaf_level_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A batch's leaf distributions fused with the spectra of each image (objects with ``wavenumbers`` and
    ``absorbance``: :class:`models.spectra.Spectrum`, the store's records). An image with several spectra takes
    the mean of their level distributions (several measurements of one defect are one piece of evidence, not
    several); a spectrum with no shape on the grid (outside 400–4000 cm⁻¹, or flat) is left out.

    Returns:
        ``(probs, counts)``: (N, L) float32, rows without a usable spectrum unchanged, and (N,) the spectra used.
    """
    level, counts = row_level_probs(head, [usable_features(spectra) for spectra in rows])
    if level is None:
        return np.asarray(leaf_probs, dtype=np.float32), counts
    return fuse(leaf_probs, level, leaf_level_index, head.weight, has_spectrum=counts > 0), counts


def usable_features(spectra: Sequence[Any]) -> list[np.ndarray]:
    """The :func:`features` of an image's spectra that have a shape on the grid (the others are no evidence)."""
    return [x for x in (features(s.wavenumbers, s.absorbance) for s in spectra) if np.any(x)]


def row_level_probs(head: SpectrumHead, rows: Sequence[Sequence[np.ndarray]]
                    ) -> tuple[list[np.ndarray] | None, np.ndarray]:
    """Each image's spectrum distribution per level (the mean over its spectra' features ``rows``; zeros for an
    image without any), and how many spectra each has; None for the distributions when no image has one."""
    owner = np.asarray([i for i, row in enumerate(rows) for _ in row], dtype=np.int64)
    counts = np.bincount(owner, minlength=len(rows))
    if not len(owner):
        return None, counts
    level = []
    for probs in head.level_probs(np.stack([x for row in rows for x in row])):
        summed = np.zeros((len(rows), probs.shape[1]), dtype=np.float64)
        np.add.at(summed, owner, probs)
        level.append(summed / np.maximum(counts, 1)[:, None])
    return level, counts


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
