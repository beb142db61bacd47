"""The routing of a multi-label bundle (issue #20): one threshold on the set confidence, with a promise.

A multi-label bundle predicts a *set* of leaves per image (:func:`models.inference.outputs.present`), and an image is
judged right only when its whole set is: every defect named, none too many. Its routing is one threshold on the set
confidence (:func:`models.inference.outputs.set_confidence`): images at or above it are auto-judged. The threshold is
chosen on calibration images by the same Learn-then-Test fixed sequence as the single-label routing
(:func:`models.calibration.risk_control.ltt_threshold`): with probability ``confidence`` over the calibration draw,
the exactly-right share of the images at or above it is at least ``target_purity``. Images of unknown defect types
are left out (a multi-label bundle has no unknown-defect detector), and so are spot checks and determined nodes.

``fma-model calibrate`` calls :func:`calibrate_sets` for a multi-label bundle; the result is the manifest's
``multilabel`` section (:class:`models.bundle.records.MultiLabelRecord`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.calibration.dated import created_after
from models.calibration.errors import CalibrationError
from models.calibration.ltt import start_size
from models.calibration.risk_control import LttFit, ltt_threshold
from models.data.manifest import Sample, data_hash

Log = Callable[[str], None]


def fit_set_threshold(scores: np.ndarray, truth: np.ndarray, thresholds: np.ndarray | None, *, target: float,
                      confidence: float, starts: int = 1) -> tuple[LttFit, np.ndarray, np.ndarray]:
    """The set-confidence threshold of presence ``scores`` (N, L) against the true sets ``truth`` (N, L) bool, at
    the bundle's presence ``thresholds`` (``starts``: the fixed sequence's starting points, as ``--ltt-starts``);
    returns the fit, each image's set confidence and whether its set is exactly right."""
    from models.inference.outputs import present, set_confidence

    exact = (present(scores, thresholds) == np.asarray(truth, dtype=bool)).all(axis=1)
    sure = set_confidence(scores, thresholds)
    fit = ltt_threshold(sure, exact, target=target, delta=1.0 - confidence,
                        min_set=start_size(len(sure), target, confidence), starts=starts)
    return fit, sure, exact


def calibrate_sets(bundle_path: str | Path, samples: Sequence[Sample], *, target_purity: float = 0.99,
                   confidence: float = 0.95, split: str = "val", sources: Sequence[str] = (), batch_size: int = 32,
                   device: str = "cpu", write: bool = True, log: Log = print, ltt_starts: int = 3) -> dict[str, Any]:
    """Fit a multi-label bundle's set routing on ``samples`` (their known-label images) and write it into the bundle's
    manifest; returns the figures (``calibration.json``).

    Raises:
        CalibrationError: a target purity or confidence out of range, not a multi-label bundle, or no readable image
            of a known type.
        BundleError: the bundle cannot be read, or is an archive and ``write`` is set.
    """
    from models.bundle.files import (
        ARCHIVE_SUFFIXES,
        keep_previous_manifest,
        read_bundle_manifest,
        write_bundle_manifest,
    )
    from models.bundle.io import load_bundle
    from models.bundle.manifest import BundleError
    from models.bundle.records import MultiLabelRecord
    from models.evaluation.multilabel import truth_matrix
    from models.inference.collect import collect_outputs
    from models.inference.predictor import Predictor

    if not 0.0 < target_purity < 1.0:
        raise CalibrationError(f"--target-purity must lie strictly between 0 and 1, got {target_purity:g}")
    if not 0.5 <= confidence < 1.0:
        raise CalibrationError(f"--confidence must lie in [0.5, 1), got {confidence:g}")
    bundle_path = Path(bundle_path)
    if write and bundle_path.suffix.lower() in ARCHIVE_SUFFIXES:
        raise BundleError(f"{bundle_path}: archives are read-only; extract the bundle to a folder to calibrate it")
    bundle = load_bundle(bundle_path, device=device)
    if not bundle.manifest.is_multilabel:
        raise CalibrationError(f"{bundle_path} is not a multi-label bundle: use models.calibration.calibrate")
    known = [s for s in samples if not s.is_unknown]
    if len(known) < len(samples):
        log(f"left out {len(samples) - len(known)} image(s) of unknown types: a multi-label bundle has no "
            "unknown-defect detector")
    predictor = Predictor(bundle, device=device, batch_size=batch_size, spectra=False)
    out = collect_outputs(predictor, [s.path for s in known])
    for i, err in out.errors.items():
        log(f"skipped unreadable {known[i].path}: {err}")
    kept = [known[i] for i in out.index]
    if not kept:
        raise CalibrationError(f"split {split!r} has no readable images with a known label to calibrate on")
    taxonomy = bundle.manifest.taxonomy
    scores = predictor.presence_scores(out.level_logits)
    truth = truth_matrix([s.labels for s in kept], taxonomy.leaves)
    fit, sure, exact = fit_set_threshold(scores, truth, predictor.presence_thresholds, target=target_purity,
                                         confidence=confidence, starts=ltt_starts)
    n, multi = len(kept), truth.sum(axis=1) > 1
    auto = sure >= fit.threshold if fit.threshold is not None else np.zeros(n, dtype=bool)
    routing = {
        "method": "ltt", "confidence": confidence, "ltt_starts": ltt_starts, "starts": fit.starts, "split": split, "n": n, "n_multi": int(multi.sum()),
        "data_hash": data_hash(kept), "sources": [str(s) for s in sources],
        "subset_accuracy": round(float(exact.mean()), 5), "n_auto": int(auto.sum()),
        "coverage": round(float(auto.mean()), 5), "coverage_multi": round(float(auto[multi].mean()), 5) if multi.any()
        else None, "purity": round(fit.purity, 5) if fit.n_auto else None, "errors": fit.errors,
        "pvalue": fit.pvalue, "tested": fit.tested,
        "created": created_after((bundle.manifest.multilabel.routing or {}).get("created")  # (a stamp: later
                                 if bundle.manifest.multilabel is not None else None),  # than the one it replaces)
    }
    log(f"multi-label set routing on {n} calibration image(s) ({routing['n_multi']} with several defects): "
        f"sets exactly right {routing['subset_accuracy']:.3f}; " + (
            f"auto-judged from set confidence {fit.threshold:.4g}: {routing['n_auto']} images ({routing['coverage']:.3f}),"
            f" {fit.errors} wrong (purity {fit.purity:.4f}, p = {fit.pvalue:.3g} < {(1 - confidence) / fit.starts:.3g})"
            if fit.threshold is not None else
            f"no threshold shows purity >= {target_purity:g} at {confidence:g}: every image goes to a person"))
    record = dataclasses.replace(bundle.manifest.multilabel or MultiLabelRecord(), set_threshold=fit.threshold,
                                 target_purity=target_purity, routing=routing)
    if write:
        current = read_bundle_manifest(bundle_path)
        if current.multilabel != bundle.manifest.multilabel:
            raise CalibrationError(f"{bundle_path}: its presence thresholds changed while it was calibrated; nothing "
                                   "was written: calibrate it again")
        copy = keep_previous_manifest(bundle_path, "calibrate")
        write_bundle_manifest(bundle_path, current.replace(multilabel=record))
        log(f"wrote the set routing into {bundle_path / 'manifest.json'}"
            + (f" (the previous one kept as {copy})" if copy else ""))
        old = bundle.manifest.multilabel.set_threshold if bundle.manifest.multilabel else None
        before = int((sure >= old).sum()) if old is not None else 0
        fewer = routing["n_auto"] < before
        log(f"{'warning: ' if fewer else ''}images auto-judged on these {n}: {routing['n_auto']} (with the previous "
            f"set threshold: {before})" + (f"; copy {copy} over manifest.json to undo" if fewer and copy else ""))
    return {"multilabel": True, "target_purity": target_purity, "set_threshold": fit.threshold, **routing}
