"""Synthetic FTIR spectra tied to the defect types (issue #20): characteristic bands, shifted, on a drifting baseline,
with noise, so that the spectrum panel, the library search and a spectrum model can be exercised without a lab.

Each defect type has a material (:data:`LEAF_MATERIAL`; a leaf of another tree falls back by its name, else to the
substrate), and each material its bands (:data:`MATERIALS`: centre cm⁻¹, half width, height), from the textbook
assignments: C–H stretches at 2920/2850 cm⁻¹ for organics, the imide C=O pair at 1780/1720 cm⁻¹ with C–N at 1370
cm⁻¹ for polyimide, the novolac's broad phenolic O–H and aromatic ring bands for photoresist, the nitrile C≡N at
2225 cm⁻¹ of cyanobiphenyl liquid crystals, O–H stretch and H–O–H bend for water marks, Si–O for glass, and none
for metal (a metal particle reflects; it has no absorption bands, only a sloping baseline). Structural defects
(scratches, cracks …) show the glass substrate under them. :func:`write_jcamp` writes a spectrum as instruments
do (JCAMP-DX, ``(X++(Y..Y))``), :func:`write_table` as a two-column CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

X = np.arange(4000.0, 399.0, -4.0)  # as instruments write: high to low, 4 cm⁻¹ resolution (901 points)

MATERIALS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "organic": ((2955, 18, 0.35), (2920, 22, 0.9), (2850, 18, 0.6), (1735, 15, 0.25), (1460, 18, 0.35),
                (1375, 12, 0.2), (720, 10, 0.12)),
    "metal": (),
    "glass": ((1080, 55, 1.0), (800, 30, 0.25), (460, 30, 0.6)),
    "cluster": ((2920, 22, 0.45), (2850, 18, 0.3), (1080, 55, 0.6), (460, 30, 0.35)),
    "cellulose": ((3340, 160, 0.55), (2900, 35, 0.3), (1430, 20, 0.15), (1160, 25, 0.35), (1060, 30, 0.9),
                  (1030, 25, 0.8)),
    "polyimide": ((1778, 12, 0.45), (1722, 18, 1.0), (1500, 14, 0.65), (1375, 20, 0.85), (1245, 25, 0.55),
                  (1115, 18, 0.3), (820, 12, 0.25), (725, 12, 0.3)),
    "photoresist": ((3350, 170, 0.45), (2960, 30, 0.25), (1610, 14, 0.35), (1510, 14, 0.6), (1470, 16, 0.4),
                    (1235, 30, 0.45), (1105, 25, 0.3), (815, 15, 0.3)),
    "liquid_crystal": ((2925, 22, 0.45), (2855, 18, 0.3), (2226, 9, 0.75), (1606, 12, 0.7), (1494, 12, 0.55),
                       (1180, 14, 0.2), (825, 12, 0.45)),
    "water": ((3400, 190, 0.9), (1640, 35, 0.35), (1110, 40, 0.2)),
    "ito": (),
}
"""Bands (centre cm⁻¹, half width cm⁻¹, relative height) of each material."""

LEAF_MATERIAL: dict[str, str] = {
    "particle_metal": "metal", "particle_organic": "organic", "particle_glass": "glass",
    "particle_cluster": "cluster", "fiber": "cellulose", "pi_residue": "polyimide",
    "photoresist_residue": "photoresist", "lc_stain": "liquid_crystal", "water_mark": "water",
    "ito_peeling": "ito", "line_open": "ito", "line_short": "metal",
}  # fmt: skip
"""The material a spectrum of each demo leaf shows; structural defects not listed show the glass substrate."""

_BY_NAME = (("metal", "metal"), ("organic", "organic"), ("glass", "glass"), ("fiber", "cellulose"),
            ("pi", "polyimide"), ("resist", "photoresist"), ("lc", "liquid_crystal"), ("water", "water"),
            ("ito", "ito"))


def material_of(leaf: str) -> str:
    """The material of a leaf: :data:`LEAF_MATERIAL`, else by a word of its id (a leaf of a larger tree), else the
    glass substrate."""
    if leaf in LEAF_MATERIAL:
        return LEAF_MATERIAL[leaf]
    words = leaf.lower().replace("-", "_").split("_")
    return next((material for word, material in _BY_NAME if word in words), "glass")


def synth_spectrum(leaf: str, rng: np.random.Generator, *, noise: float = 0.01, drift: float = 0.08,
                   shift_cm1: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """A spectrum (x descending as :data:`X`, absorbance) of the leaf's material: its bands shifted by up to
    ``shift_cm1`` and scaled ±20 % each, an overall film thickness, a baseline drifting by up to ``drift``, and
    Gaussian noise of ``noise``."""
    material = material_of(leaf)
    t = (X - 400.0) / 3600.0  # 0 at 400, 1 at 4000 cm⁻¹
    y = np.zeros_like(X)
    for centre, width, height in MATERIALS[material]:
        centre += rng.uniform(-shift_cm1, shift_cm1)
        y += height * rng.uniform(0.8, 1.2) * np.exp(-0.5 * ((X - centre) / width) ** 2)
    y *= rng.uniform(0.4, 1.2)  # film thickness
    if material == "metal":  # reflection losses: a gentle slope, no bands
        y += 0.15 + 0.1 * t
    elif material == "ito":  # free carriers: absorption rising towards low wavenumbers
        y += 0.6 * (1 - t) ** 2
    y += rng.uniform(-drift, drift) * t + rng.uniform(-drift, drift) * t * t + rng.uniform(0.0, drift)
    y += rng.normal(0.0, noise, len(X))
    return X.copy(), y


def write_jcamp(path: Path, x: np.ndarray, y: np.ndarray, title: str, *, factor: float = 1e-5) -> Path:
    """Write a spectrum as JCAMP-DX 4.24, ``(X++(Y..Y))`` with integer ordinates and a Y factor (as instruments do);
    ``x`` evenly spaced."""
    ints = np.round(np.asarray(y) / factor).astype(np.int64)
    lines = [f"##TITLE={title}", "##JCAMP-DX=4.24", "##DATA TYPE=INFRARED SPECTRUM", "##ORIGIN=fma-model synth",
             "##XUNITS=1/CM", "##YUNITS=ABSORBANCE", "##XFACTOR=1.0", f"##YFACTOR={factor:g}",
             f"##FIRSTX={x[0]:g}", f"##LASTX={x[-1]:g}", f"##NPOINTS={len(x)}", f"##FIRSTY={y[0] * 1.0:.6g}",
             "##XYDATA=(X++(Y..Y))"]
    for start in range(0, len(ints), 10):
        lines.append(f"{x[start]:g} " + " ".join(str(v) for v in ints[start:start + 10]))
    lines.append("##END=")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def write_table(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    """Write a spectrum as a two-column CSV with a header naming the units."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "\n".join(f"{a:g},{b:.6f}" for a, b in zip(x, y, strict=True))
    path.write_text("wavenumber (cm-1),absorbance\n" + rows + "\n", encoding="utf-8")
    return path


def write_beside(manifest: str | Path, leaves: Sequence[str], *, seed: int) -> list[Path]:
    """Write a synthetic spectrum (JCAMP-DX, named after the image) beside every image of a manifest (a CSV with
    ``path`` and ``label`` columns, paths relative to its folder) whose label is one of ``leaves``: how the demo
    batch got its spectra. Deterministic for a given manifest and seed.

    Returns:
        The files written.
    """
    import csv

    manifest = Path(manifest)
    rng = np.random.default_rng(seed)
    written = []
    with manifest.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["label"] not in leaves:
                continue
            image = manifest.parent / row["path"]
            written.append(write_jcamp(image.with_suffix(".jdx"), *synth_spectrum(row["label"], rng),
                                       title=f"{image.stem} FTIR"))
    return written
