"""The routing of fused predictions (issue #20): a bundle's spectrum head calibrated beside its image model.

``fma-model calibrate`` on a bundle with a spectrum head fits, besides the image calibration, the thresholds of the
fused predictions (:mod:`models.spectra.head`) of the calibration images that have a spectrum, by the same method
and promise (:func:`fit_fused_routing`). They go into the manifest's ``spectrum`` section; the predictor routes an
image with a spectrum by them, and an image without one by the image calibration, unchanged. The unknown detector
stays the image's: it scores images, and a spectrum does not make an unknown defect known.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.bundle.manifest import BundleManifest, SpectrumRecord
from models.bundle.spectrum import load_spectrum_head
from models.calibration import ltt
from models.calibration.dated import created_after
from models.calibration.thresholds import LeafThreshold, cut_array
from models.data.manifest import Sample, data_hash
from models.spectra import read_spectra
from models.spectra.head import fuse_rows

Log = Callable[[str], None]
FitThresholds = Callable[[np.ndarray, np.ndarray], tuple[dict[str, LeafThreshold], dict[str, LeafThreshold], dict]]
"""``fit(probs, keep)``: the leaf and node thresholds fitted on the calibration images ``keep`` (a boolean mask) with
leaf distributions ``probs`` (of those images), by the calibration's method and options."""


def fit_fused_routing(bundle_path: str | Path, manifest: BundleManifest, samples: Sequence[Sample],
                      probs: np.ndarray, targets: np.ndarray, flagged: np.ndarray,
                      image_thresholds: Mapping[str, float | None], fit: FitThresholds, *, split: str,
                      target: float, per_leaf: bool, log: Log) -> tuple[SpectrumRecord, dict[str, Any]]:
    """The bundle's spectrum record with the fused routing fitted on the calibration images with a spectrum.

    Args:
        samples: the calibration images (rows of ``probs``, ``targets`` and ``flagged``).
        probs: their image-only leaf distributions at the new temperature.
        targets: their leaf index (-1: an ``unknown:*`` image).
        flagged: the images the unknown detector flags.
        image_thresholds: the new image calibration's leaf thresholds (for the side-by-side summary).
        fit: fits thresholds on a subset (see :data:`FitThresholds`).
        split, target, per_leaf: the calibration's split, target purity, and whether its method is ``per-leaf``
            (which has no leaf floors).

    Returns:
        ``(record, summary)``: the record to write (its thresholds empty when no calibration image has a spectrum:
        the bundle then judges every image on the image alone), and the image-only and fused auto-judging of the
        images with a spectrum, side by side.
    """
    record = manifest.spectrum
    assert record is not None
    head = load_spectrum_head(bundle_path, manifest)
    assert head is not None
    rows = [read_spectra(s.spectra, log) for s in samples]
    fused, counts = fuse_rows(head, probs, rows, manifest.taxonomy.leaf_level_index)
    keep = counts > 0
    if not keep.any():
        log("spectrum head: no calibration image has a readable spectrum, so the fused routing is not fitted and "
            "the bundle judges every image on the image alone")
        return dataclasses.replace(record, thresholds={}, node_thresholds={}, leaf_floor={}, calibrated_on={},
                                   created=""), {"images": 0}
    leaves, nodes, _ = fit(fused[keep], keep)
    thresholds = {leaf: lt.threshold for leaf, lt in leaves.items()}
    record = dataclasses.replace(
        record, thresholds=thresholds, node_thresholds={node: lt.threshold for node, lt in nodes.items()},
        leaf_floor={} if per_leaf else ltt.leaf_floors(leaves, target),
        calibrated_on={"split": split, "n": int(keep.sum()), "data_hash": data_hash([s for s, k in zip(samples, keep,
                                                                                                    strict=True) if k])},
        created=created_after(record.created))  # (later than the one it replaces: a key, to the second)
    leaf_names = manifest.taxonomy.leaves
    summary = {"images": int(keep.sum()), "spectra": int(counts.sum()),
               "image": _auto(probs[keep], targets[keep], flagged[keep], image_thresholds, leaf_names),
               "fused": _auto(fused[keep], targets[keep], flagged[keep], thresholds, leaf_names)}
    log(summary_line(summary))
    return record, summary


def summary_line(summary: Mapping[str, Any]) -> str:
    """The fit's log line: the share auto-judged and its purity on the image alone and fused ("- (none
    auto-judged)" where no image was: it read "at purity None")."""
    a, b = summary["image"], summary["fused"]

    def purity(p: float | None) -> str:
        return "- (none auto-judged)" if p is None else f"{p:.3f}"

    return (f"spectrum head: on the {summary['images']} calibration images with a spectrum, auto-judged "
            f"{a['coverage']:.3f} at purity {purity(a['purity'])} on the image alone, {b['coverage']:.3f} at purity "
            f"{purity(b['purity'])} fused")


def _auto(probs: np.ndarray, targets: np.ndarray, flagged: np.ndarray, thresholds: Mapping[str, float | None],
          leaves: Sequence[str]) -> dict[str, Any]:
    """The share of images a leaf-threshold routing auto-judges, and the purity of those with a known label."""
    best = probs.argmax(axis=1)
    cut = cut_array(thresholds, leaves)
    auto = (probs.max(axis=1) >= cut[best]) & ~flagged
    known = auto & (targets >= 0)
    purity = None if not known.any() else round(float((best[known] == targets[known]).mean()), 4)
    return {"coverage": round(float(auto.mean()), 4), "purity": purity}
