"""Search a spectrum among reference spectra by hit quality (HQI), and find its peaks. numpy only.

Every spectrum is put on one grid (:data:`GRID`: 400–4000 cm⁻¹ every 4 cm⁻¹) by linear interpolation inside its own
range (outside it: no value), lightly smoothed, and compared by its first derivative (:func:`shape`), which is blind
to a baseline's offset and turns its slope into a constant. The hit quality index of a query against a reference is
the square of the Pearson correlation of their derivatives over the wavenumbers both cover (0 when the correlation is
negative, or when they share less than :data:`MIN_OVERLAP_CM1`): the correlation HQI of spectral search software on
derivative spectra, blind to an offset, a scale and a baseline's slope, so a thicker film or a drifting baseline still
matches. :class:`Library` scores one query against all references at once
(five matrix-vector products, whatever their ranges), which keeps a search of thousands of references in
milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

GRID = np.arange(400.0, 4000.0 + 1e-9, 4.0)
MIN_OVERLAP_CM1 = 400.0


def on_grid(wavenumbers: np.ndarray, absorbance: np.ndarray) -> np.ndarray:
    """The spectrum on :data:`GRID` (float32; NaN where the spectrum has no value)."""
    x = np.asarray(wavenumbers, dtype=np.float64)
    y = np.asarray(absorbance, dtype=np.float64)
    out = np.interp(GRID, x, y).astype(np.float32)
    out[(x[0] > GRID) | (x[-1] < GRID)] = np.nan
    return out


SMOOTH = 9
"""Points (of 4 cm⁻¹) a spectrum is smoothed over before it is differentiated. Measured on the synthetic spectra
(``python -m bench spectra``, "separation": draws of each material against one reference each): 5 points left the
same-material HQI at p5 0.53 (noise, amplified by the derivative), 9 points at p5 0.76 with every other material at
most 0.22; wider windows blur the narrow bands of real spectra (a nitrile band is ~10 cm⁻¹ wide)."""


def shape(values: np.ndarray) -> np.ndarray:
    """What the HQI compares: a spectrum on the grid smoothed over :data:`SMOOTH` points and differentiated (NaN
    where it has no value, and next to its ends)."""
    v = np.asarray(values, dtype=np.float64)
    smooth = np.convolve(v, np.ones(SMOOTH) / SMOOTH, mode="same")  # NaN spreads in: the ends are not trusted
    edge = SMOOTH // 2 + 1
    smooth[:edge] = smooth[-edge:] = np.nan
    return np.gradient(smooth)


@dataclass(frozen=True)
class Hit:
    """A reference found for a query: its position in the library, and the hit quality (0–1)."""

    index: int
    hqi: float


class Library:
    """Reference spectra on :data:`GRID`, searched by HQI.

    Args:
        spectra: the references, each on the grid (:func:`on_grid`).
        shaped: they are already :func:`shape` d (a caller that keeps the shapes of the spectra it has seen).

    The references are kept as float32 (three arrays of 901 values each: 11 kB a reference).
    """

    def __init__(self, spectra: Sequence[np.ndarray], *, shaped: bool = False) -> None:
        rows = [np.asarray(v) if shaped else shape(v) for v in spectra]
        grid = np.stack(rows).astype(np.float32) if rows else np.zeros((0, len(GRID)), np.float32)
        self._mask = ~np.isnan(grid)
        values = np.where(self._mask, grid, np.float32(0.0))
        self._values = values
        self._squares = values * values
        self._masks = self._mask.astype(np.float32)

    def __len__(self) -> int:
        return len(self._values)

    def hqi(self, query: np.ndarray) -> np.ndarray:
        """The HQI of ``query`` (on the grid) against every reference (0–1, one per reference)."""
        if not len(self):
            return np.zeros(0)
        query = shape(query)
        seen = ~np.isnan(query)
        q = np.where(seen, query, 0.0).astype(np.float32)
        m = seen.astype(np.float32)
        n = self._masks @ m  # points both cover
        sq, sr = self._masks @ q, self._values @ m
        sqq, srr, sqr = self._masks @ (q * q), self._squares @ m, self._values @ q
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = sqr - sq * sr / n
            var_q, var_r = sqq - sq * sq / n, srr - sr * sr / n
            r = cov / np.sqrt(var_q * var_r)
        # a flat shape (a band-free spectrum on a straight baseline) has no variance to correlate: float32 rounding
        # leaves a sliver of one, which must not read as a perfect match
        varies = (var_q > 1e-5 * sqq) & (var_r > 1e-5 * srr)
        r = np.where((n * (GRID[1] - GRID[0]) >= MIN_OVERLAP_CM1) & varies & np.isfinite(r), r, 0.0)
        return np.clip(r.astype(np.float64), 0.0, 1.0) ** 2

    def search(self, query: np.ndarray, k: int = 5, min_hqi: float = 0.0) -> list[Hit]:
        """The ``k`` best references (highest HQI first; those under ``min_hqi`` left out)."""
        scores = self.hqi(query)
        order = np.argsort(-scores, kind="stable")[:k]
        return [Hit(int(i), float(scores[i])) for i in order if scores[i] >= min_hqi and scores[i] > 0]


def peaks(wavenumbers: np.ndarray, absorbance: np.ndarray, n: int = 6, min_prominence: float = 0.05,
          ) -> list[tuple[float, float]]:
    """The ``n`` most prominent absorption bands, as ``(wavenumber, absorbance)`` sorted by wavenumber.

    A band is a local maximum (of the spectrum smoothed over 5 points) whose prominence, its height above the higher
    of the lowest points between it and a higher band on either side, is at least ``min_prominence`` of the
    spectrum's range.
    """
    y = np.asarray(absorbance, dtype=np.float64)
    x = np.asarray(wavenumbers, dtype=np.float64)
    if len(y) < 5:
        return []
    smooth = np.convolve(np.pad(y, 2, mode="edge"), np.ones(5) / 5, mode="valid")  # no false band at the ends
    span = float(smooth.max() - smooth.min())
    if span <= 0:
        return []
    inner = np.arange(1, len(y) - 1)
    maxima = inner[(smooth[inner] > smooth[inner - 1]) & (smooth[inner] >= smooth[inner + 1])]
    found = []
    for i in maxima:
        height = smooth[i]
        left = i
        while left > 0 and smooth[left - 1] <= height:
            left -= 1
        right = i
        while right < len(y) - 1 and smooth[right + 1] <= height:
            right += 1
        base = max(smooth[left:i + 1].min(), smooth[i:right + 1].min())
        prominence = height - base
        if prominence >= min_prominence * span:
            found.append((prominence, float(x[i]), float(y[i])))
    best = sorted(found, reverse=True)[:n]
    return sorted((wn, a) for _p, wn, a in best)
