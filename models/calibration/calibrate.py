"""``fma-model calibrate``: temperature, the purity thresholds (one promise over all leaves by default, or per leaf)
and the unknown-defect score.

Everything is fitted on one split of labelled data (``--split val`` by default), never on the
training split, and written into the bundle's manifest (see :mod:`models.routing.policy` for how the
Predictor uses it).

1. Temperature. The network's raw level logits are computed once; the NLL of the true leaf under
   the combined leaf distribution ``combine_levels(softmax(z_k / T))`` (the Predictor's exact path)
   is minimised over ``log T`` in [log 0.05, log 20] by golden-section search. The combined
   log-score of a leaf is ``sum_k z_k[ancestor_k] / T`` up to a per-image constant, so the NLL is a
   one-temperature softmax NLL, convex in 1/T: the search finds the global minimum. The arg-max leaf
   does not depend on T.

2. Leaf thresholds. ``--method ltt`` (the default): one threshold shared by every leaf, by Learn-then-Test, and
   one per tree level for the groups and subgroups (:mod:`models.calibration.ltt`). ``--method per-leaf``: for each leaf, take the calibration images *predicted* as that leaf (known
   labels only). Candidate thresholds are their confidences, ties kept together. The threshold is
   the lowest ``t`` such that the images with confidence ``>= t`` reach the target purity according
   to a one-sided lower confidence bound (``--bound``, default an exact Clopper-Pearson bound at
   ``--confidence 0.95``): the bound is used because the thresholds must hold on *other* data, and
   the empirical precision of a small set overstates it. A leaf with fewer than ``--min-support``
   predictions, or whose bound never reaches the target, gets ``null``: always re-judge. Note the
   price of honesty: with no mistakes at all, reaching purity ``p`` at confidence ``c`` needs
   ``ln(1 - c) / ln(p)`` images (299 for 0.99 at 95 %). Scanning thresholds and keeping the lowest
   that passes is a mild selection effect the bound does not correct for.

3. Unknown-defect score. Four candidates (``max_softmax``, ``energy``, ``cosine``,
   ``mahalanobis``; see :mod:`models.routing.policy`); the embedding ones use class centroids of the
   *training* split's embeddings. When the calibration split holds ``unknown:*`` images, the
   candidate with the best AUROC there is kept; otherwise ``cosine``: distances in the embedding
   space do not depend on the softmax, which is known to stay over-confident far from the training
   data, and cosine needs no variance estimate (a few images per class suffice). The threshold
   flags at most ``--unknown-fpr`` (5 %) of the known calibration images.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.calibration import ltt
from models.calibration.dated import created_after
from models.calibration.errors import CalibrationError
from models.calibration.fitting import (
    DEFAULT_UNKNOWN_METHOD,
    choose_unknown_method,
    fit_embedding_detectors,
    fit_stage_detector,
    stage_candidate_strides,
    unknown_threshold,
)
from models.calibration.fused import fit_fused_routing
from models.calibration.risk_control import LttFit
from models.calibration.temperature import T_RANGE, fit_temperature, leaf_probs_at, nll
from models.calibration.thresholds import BOUNDS, LeafThreshold, cut_array, purity_threshold
from models.data.manifest import Sample, data_hash
from models.inference.collect import Outputs, collect_outputs
from models.routing.policy import (
    REASONS,
    CalibratedOn,
    Calibration,
    UnknownFit,
    determined_batch,
    flips_problem,
    path_confidences,
    route_batch,
)
from models.routing.unknown import UNKNOWN_METHODS, UnknownDetector

if TYPE_CHECKING:
    from models.inference.predictor import Predictor
    from models.taxonomy import Taxonomy

Log = Callable[[str], None]
METHODS: tuple[str, ...] = ("ltt", "per-leaf")
"""``--method``: one Learn-then-Test promise over all auto-judged images (:mod:`models.calibration.ltt`), or one
Clopper-Pearson bound per leaf."""


@dataclass(frozen=True)
class CalibrateOptions:
    """The options of one calibration (the ``fma-model calibrate`` flags).

    Args:
        target_purity: required purity of the auto-judged images (all of them with ``ltt``, each leaf's with
            ``per-leaf``).
        method: ``ltt`` or ``per-leaf`` (:data:`METHODS`).
        min_support: leaves with fewer calibration predictions are always re-judged.
        spot_check: share of would-be-auto images routed to QA anyway.
        spot_check_by_leaf: leaf id -> its own share (``--spot-check-leaf LEAF=SHARE``).
        seed: spot-check seed.
        bound: lower confidence bound of the purity rule (:data:`BOUNDS`).
        confidence: its confidence level.
        ltt_starts: starting points of ``ltt``'s fixed sequence, the error budget split over them
            (:mod:`models.calibration.ltt`; 1: the plain sequence; 3 by default since 2026-12-04).
        flagged_climb: ``ltt``: the images the unknown detector flags climb to their group and subgroup too
            (:func:`models.calibration.ltt.node_thresholds`; an image outside the tree counts as wrong there), so a
            known image it flags may still have its subgroup determined, never its leaf (the default since
            2026-12-04: on the demo model, group and subgroup determined for 0.889 of the seed-11 images instead of
            0.832, ``python -m bench.coverage_methods``).
        flips: test-time flips (:attr:`Calibration.flips`): the calibration images go through the network so, and
            the bundle predicts so from then on; () = the image alone.
        unknown_fpr: share of known calibration images the unknown threshold may flag.
        unknown_method: ``auto`` (by AUROC when there are unknowns) or one of :data:`UNKNOWN_METHODS`.
        centroid_max_per_class: cap of training images per class for the centroids (0 = all).
        centroid_split: the split ``train_samples`` come from (provenance).
        split: name of the calibration split (provenance).
        sources: the data sources (provenance).
        batch_size: images per forward pass.
        device: torch device.
    """

    target_purity: float = 0.99
    method: str = "ltt"
    min_support: int = 20
    spot_check: float = 0.02
    spot_check_by_leaf: Mapping[str, float] = field(default_factory=dict)
    seed: int = 0
    bound: str = "clopper-pearson"
    confidence: float = 0.95
    ltt_starts: int = 3
    flagged_climb: bool = True
    flips: tuple[str, ...] = ()
    unknown_fpr: float = 0.05
    unknown_method: str = "auto"
    centroid_max_per_class: int = 200
    centroid_split: str = "train"
    split: str = "val"
    sources: tuple[str, ...] = ()
    batch_size: int = 32
    device: str = "cpu"

    def validate(self) -> None:
        """Raises :class:`CalibrationError` naming every option out of range."""
        problems = []
        if not 0.0 < self.target_purity < 1.0:
            problems.append(f"--target-purity must lie strictly between 0 and 1, got {self.target_purity}")
        if self.method not in METHODS:
            problems.append(f"--method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.min_support < 1:
            problems.append(f"--min-support must be at least 1, got {self.min_support}")
        if not 0.0 <= self.spot_check < 1.0:
            problems.append(f"--spot-check must lie in [0, 1), got {self.spot_check}")
        for leaf, share in self.spot_check_by_leaf.items():
            if not 0.0 <= share <= 1.0:
                problems.append(f"--spot-check-leaf {leaf}={share}: the share must lie in [0, 1]")
        if self.bound not in BOUNDS:
            problems.append(f"--bound must be one of {', '.join(BOUNDS)}, got {self.bound!r}")
        if not 0.5 <= self.confidence < 1.0:
            problems.append(f"--confidence must lie in [0.5, 1), got {self.confidence}")
        if not 1 <= self.ltt_starts <= 8:
            problems.append(f"--ltt-starts must lie in 1..8, got {self.ltt_starts}")
        if problem := flips_problem(self.flips):
            problems.append(f"--flips {problem}")
        if not 0.0 < self.unknown_fpr < 1.0:
            problems.append(f"--unknown-fpr must lie strictly between 0 and 1, got {self.unknown_fpr}")
        if self.unknown_method != "auto" and self.unknown_method not in UNKNOWN_METHODS:
            problems.append(f"--unknown-method must be auto or one of {', '.join(UNKNOWN_METHODS)}, "
                            f"got {self.unknown_method!r}")
        if problems:
            raise CalibrationError("; ".join(problems))


@dataclass
class CalibrationResult:
    """What ``calibrate`` fitted and measured; ``calibration`` and ``temperature`` went into the manifest."""

    temperature: float
    leaves: dict[str, LeafThreshold]
    calibration: Calibration
    summary: dict[str, Any]
    curve: dict[str, list[float]]
    options: CalibrateOptions
    nodes: dict[str, LeafThreshold] = field(default_factory=dict)  # the groups' and subgroups' thresholds

    @property
    def unknown(self) -> UnknownDetector | None:
        return self.calibration.unknown

    def manifest_updates(self) -> dict[str, Any]:
        """The manifest keys written, without the detector's large arrays (for the report)."""
        updates = {"temperature": self.temperature, **self.calibration.to_manifest()}
        if "unknown" in updates:
            updates["unknown"] = {k: v for k, v in updates["unknown"].items()
                                  if k not in ("centroids", "center", "variance", "stages", "references")}
        return updates


@dataclass
class _Labelled:
    """The readable calibration images with their outputs and labels."""

    out: Outputs
    samples: list[Sample]
    targets: np.ndarray  # leaf index, -1 for unknown:* images
    unknown: np.ndarray  # bool

    @property
    def known(self) -> np.ndarray:
        return ~self.unknown


def _targets(samples: Sequence[Sample], leaves: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    pos = {leaf: i for i, leaf in enumerate(leaves)}
    unknown = np.array([s.is_unknown for s in samples], dtype=bool)
    targets = np.array([pos.get(s.label, -1) for s in samples], dtype=np.int64)
    return targets, unknown


def _cap_per_class(samples: Sequence[Sample], cap: int, seed: int = 0) -> list[Sample]:
    by_label: dict[str, list[Sample]] = {}
    for s in sorted(samples, key=lambda s: str(s.path)):
        by_label.setdefault(s.label, []).append(s)
    rng = np.random.default_rng(seed)
    out: list[Sample] = []
    for label in sorted(by_label):
        group = by_label[label]
        if cap > 0 and len(group) > cap:
            group = [group[i] for i in sorted(rng.choice(len(group), cap, replace=False))]
        out.extend(group)
    return out


# ----------------------------------------------------------------------------------- driver
def calibrate(
    bundle_path: str | Path,
    samples: Sequence[Sample],
    train_samples: Sequence[Sample],
    options: CalibrateOptions | None = None,
    *,
    write: bool = True,
    log: Log = print,
) -> CalibrationResult:
    """Fit the calibration of a bundle folder on ``samples`` and write it into its manifest.

    Args:
        bundle_path: the bundle folder (archives are read-only).
        samples: the calibration split (known leaves and optionally ``unknown:*`` images).
        train_samples: known-label images for the class centroids of the embedding scores.
        options: see :class:`CalibrateOptions`.
        write: update the manifest (False: only compute).
        log: progress messages.
    """
    from models.bundle.files import (
        ARCHIVE_SUFFIXES,
        keep_previous_manifest,
        read_bundle_manifest,
        write_bundle_manifest,
    )
    from models.bundle.io import load_bundle
    from models.bundle.manifest import BundleError
    from models.evaluation.metrics import risk_coverage_curve
    from models.inference.predictor import Predictor

    options = options or CalibrateOptions()
    bundle_path = Path(bundle_path)
    if write and bundle_path.suffix.lower() in ARCHIVE_SUFFIXES:
        raise BundleError(f"{bundle_path}: archives are read-only; extract the bundle to a folder to calibrate it")
    options.validate()
    bundle = load_bundle(bundle_path, device=options.device)
    if bundle.manifest.is_multilabel:
        raise CalibrationError(f"{bundle_path} is a multi-label bundle (loss.kind multilabel): its routing is one "
                               "set-confidence threshold (models.calibration.sets.calibrate_sets)")
    strangers = sorted(set(options.spot_check_by_leaf) - set(bundle.manifest.taxonomy.leaves))
    if strangers:
        raise CalibrationError(f"--spot-check-leaf names {', '.join(strangers)}, not a leaf of the bundle's taxonomy")
    predictor = Predictor(bundle, device=options.device, batch_size=options.batch_size, spectra=False)
    predictor.flips = tuple(options.flips)  # the views this calibration is fitted on, not the bundle's last ones
    if options.flips:
        log(f"test-time flips: each image and its {', '.join(options.flips)} flip(s), level logits averaged")
    strides = stage_candidate_strides(predictor, options.unknown_method, log)
    if strides:
        predictor.watch_stages(strides)  # for the "stages" candidate

    previous = bundle.manifest.calibration.created if bundle.manifest.calibration else None
    created = created_after(previous)
    if _dt.datetime.fromisoformat(created) > _dt.datetime.now(_dt.UTC) + _dt.timedelta(minutes=1):
        log(f"WARNING: the calibration this replaces is dated {previous}, after this machine's clock: this one is "
            f"dated {created}, a second after it (the purity monitor orders calibrations by their dates); check the "
            "clock of the machine that made it")
    data = _collect_labelled(predictor, samples, options, log)
    temperature = _fit_temperature(data, bundle.manifest.taxonomy, bundle.manifest.is_flat, log)
    probs = leaf_probs_at(data.out.level_logits, temperature, bundle.manifest.taxonomy, flat=bundle.manifest.is_flat)
    detector, fit, flagged = _fit_unknown(predictor, data, probs, temperature, train_samples, strides, options, log)
    leaves, nodes, fits = _thresholds(probs, data, flagged, bundle.manifest.taxonomy, options)
    calibration = Calibration(
        thresholds={leaf: lt.threshold for leaf, lt in leaves.items()}, unknown=detector,
        spot_check=options.spot_check, spot_check_by_leaf=dict(options.spot_check_by_leaf), seed=options.seed,
        temperature=temperature,
        target_purity=options.target_purity, notes={leaf: lt.reason for leaf, lt in leaves.items() if lt.reason},
        min_support=options.min_support, bound=options.bound, confidence=options.confidence,
        unknown_fpr=options.unknown_fpr,
        calibrated_on=CalibratedOn(data_hash=data_hash(data.samples), split=options.split, n=len(data.samples),
                                   n_unknown=int(data.unknown.sum()), sources=tuple(map(str, options.sources))),
        created=created,
        temperature_before=bundle.manifest.effective_temperature, unknown_fit=fit,
        node_thresholds={node: lt.threshold for node, lt in nodes.items()}, method=options.method,
        leaf_floor={} if options.method == "per-leaf" else ltt.leaf_floors(leaves, options.target_purity),
        ltt_starts=options.ltt_starts if options.method == "ltt" else None,
        flagged_climb=options.flagged_climb and options.method == "ltt", flips=tuple(options.flips),
    )
    summary = _summary(calibration, data, probs, temperature, bundle.manifest)
    summary["method"] = options.method
    spectrum = bundle.manifest.spectrum
    if spectrum is not None:  # the same method on the fused confidences of the images with a spectrum
        spectrum, summary["spectrum"] = fit_fused_routing(
            bundle_path, bundle.manifest, data.samples, probs, data.targets, flagged, calibration.thresholds,
            lambda fused, keep: _thresholds(fused, _Labelled(data.out, [], data.targets[keep], data.unknown[keep]),
                                            flagged[keep], bundle.manifest.taxonomy, options),
            split=options.split, target=options.target_purity, per_leaf=options.method == "per-leaf", log=log)
    if fits:
        summary["ltt"] = {name: dataclasses.asdict(f) for name, f in fits.items()}
    known = data.known
    correct = probs.argmax(axis=1) == data.targets
    coverage, risk = risk_coverage_curve(probs.max(axis=1).astype(np.float64)[known], correct[known])
    step = max(1, len(coverage) // 400)
    curve = {"coverage": [float(v) for v in coverage[::step]], "risk": [float(v) for v in risk[::step]]}
    if write:  # the manifest as it is now (an `optimize` may have finished meanwhile), with this calibration
        current = read_bundle_manifest(bundle_path)
        if spectrum is not None and (current.spectrum is None or current.spectrum.sha256 != spectrum.sha256):
            raise CalibrationError(f"{bundle_path}: its spectrum head changed while it was calibrated (fma-model "
                                   "spectrum ran meanwhile?); nothing was written: calibrate it again")
        kept = keep_previous_manifest(bundle_path, "calibrate")
        write_bundle_manifest(bundle_path, current.replace(temperature=temperature, calibration=calibration,
                                                           spectrum=spectrum if spectrum else current.spectrum))
        log(f"wrote calibration into {bundle_path / 'manifest.json'}")
        for line in _compared(current, calibration, kept):
            log(line)
        _refresh_reference(bundle_path, options.device, log)
    return CalibrationResult(temperature, leaves, calibration, summary, curve, options, nodes)


def _compared(before, calibration, kept: Path | None) -> list[str]:
    """How many leaves can be auto-judged now against before, and where the previous manifest was kept; a
    warning when fewer can (a small or unlike calibration set: copy the kept manifest back to undo)."""
    if kept is None:
        return []
    now = sum(t is not None for t in calibration.thresholds.values())
    if before.calibration is None:
        return [f"kept the uncalibrated manifest as {kept}"]
    then = sum(t is not None for t in before.calibration.thresholds.values())
    line = f"leaves that can be auto-judged: {now} of {len(calibration.thresholds)} (before: {then})"
    if now < then:
        return [f"warning: {line}; the previous manifest is kept as {kept}: copy it over manifest.json to undo"]
    return [line, f"kept the previous manifest as {kept}"]


def _refresh_reference(bundle_path: Path, device: str, log: Log) -> None:
    """A bundle with a workstation runtime keeps a reference image and what the torch path predicted for it
    (``runtime.reference``, checked by ``fma-judge --self-test``). A new temperature or new test-time flips change
    that prediction, so it is predicted again with the calibration just written."""
    from models.bundle.files import read_bundle_manifest, write_bundle_manifest
    from models.inference.predictor import Predictor

    manifest = read_bundle_manifest(bundle_path)
    reference = manifest.runtime.reference if manifest.runtime is not None else None
    if reference is None or not (bundle_path / reference.file).is_file():
        return
    (now,) = Predictor(bundle_path, device=device, inference=False, channels_last=False,
                       spectra=False).predict([bundle_path / reference.file])
    if now.error:
        log(f"the runtime's reference image {reference.file} could not be predicted again ({now.error}); "
            "the self-test will say so")
        return
    fresh = dataclasses.replace(reference, leaf=now.leaf or "", confidence=round(now.confidence, 6))
    if fresh != reference:
        write_bundle_manifest(bundle_path, manifest.replace(runtime=dataclasses.replace(manifest.runtime,
                                                                                        reference=fresh)))
        log(f"the runtime's reference image now predicts {fresh.leaf} {fresh.confidence:.4f} (was "
            f"{reference.leaf} {reference.confidence:.4f}): what fma-judge --self-test checks")


def _collect_labelled(predictor: Predictor, samples: Sequence[Sample], options: CalibrateOptions,
                      log: Log) -> _Labelled:
    log(f"calibration data: {len(samples)} image(s) of split {options.split!r}")
    out = collect_outputs(predictor, [s.path for s in samples], keys=options.spot_check > 0 or any(options.spot_check_by_leaf.values()))
    for i, err in out.errors.items():
        log(f"skipped unreadable {samples[i].path}: {err}")
    kept = [samples[i] for i in out.index]
    targets, unknown = _targets(kept, predictor.taxonomy.leaves)
    if unknown.all():
        raise CalibrationError(f"split {options.split!r} has no readable images with a known label to calibrate on")
    return _Labelled(out, kept, targets, unknown)


def _fit_temperature(data: _Labelled, taxonomy: Taxonomy, flat: bool, log: Log) -> float:
    logits = [z[data.known] for z in data.out.level_logits]
    targets = data.targets[data.known]
    at_1 = nll(logits, targets, 1.0, taxonomy, flat=flat)
    temperature = fit_temperature(logits, targets, taxonomy, flat=flat)
    at_t = nll(logits, targets, temperature, taxonomy, flat=flat)
    at_edge = min(abs(math.log(temperature / T_RANGE[0])), abs(math.log(temperature / T_RANGE[1]))) < 1e-3
    log(f"temperature {temperature:.4f} (NLL {at_1:.4f} at T=1 -> {at_t:.4f})"
        + (" -- at the search bound" if at_edge else ""))
    return temperature


def _thresholds(probs: np.ndarray, data: _Labelled, flagged: np.ndarray, taxonomy: Taxonomy,
                options: CalibrateOptions) -> tuple[dict[str, LeafThreshold], dict[str, LeafThreshold],
                                                    dict[str, LttFit]]:
    """The leaves' and the nodes' thresholds by ``options.method``, and the Learn-then-Test fits (by name: ``leaf``,
    ``level 0``...; empty for ``per-leaf``). ``flagged``: the calibration images the unknown detector flags."""
    if options.method == "per-leaf":
        leaves = _leaf_thresholds(probs, data, taxonomy.leaves, options)
        return leaves, _node_thresholds(probs, data, taxonomy, options,
                                        {leaf: lt.threshold for leaf, lt in leaves.items()}), {}
    target, confidence = options.target_purity, options.confidence
    leaves, leaf_fit = ltt.leaf_thresholds(probs, data.targets, flagged, taxonomy.leaves, target=target,
                                           confidence=confidence, min_support=options.min_support,
                                           starts=options.ltt_starts)
    nodes, level_fits = ltt.node_thresholds(probs, data.targets, flagged, taxonomy,
                                            {leaf: lt.threshold for leaf, lt in leaves.items()}, target=target,
                                            confidence=confidence, starts=options.ltt_starts,
                                            flagged_climb=options.flagged_climb)
    return leaves, nodes, {"leaf": leaf_fit, **{f"level {k}": f for k, f in sorted(level_fits.items())}}


def _leaf_thresholds(probs: np.ndarray, data: _Labelled, leaves: Sequence[str],
                     options: CalibrateOptions) -> dict[str, LeafThreshold]:
    pred = probs.argmax(axis=1)
    conf = probs.max(axis=1).astype(np.float64)
    correct = data.known & (pred == data.targets)
    out: dict[str, LeafThreshold] = {}
    for j, leaf in enumerate(leaves):
        sel = data.known & (pred == j)
        out[leaf] = purity_threshold(conf[sel], correct[sel], target=options.target_purity,
                                     min_support=options.min_support, bound=options.bound,
                                     confidence_level=options.confidence)
    return out


def _node_thresholds(probs: np.ndarray, data: _Labelled, taxonomy: Taxonomy, options: CalibrateOptions,
                     leaf_cuts: Mapping[str, float | None]) -> dict[str, LeafThreshold]:
    """Every group's and subgroup's threshold, fitted bottom-up on the images the climbing rule brings to it.

    A node's candidates are the known images whose predicted path passes through it and that no deeper level
    determined (their leaf missed its threshold, and so did every subgroup below); on them the node's marginal
    confidence is thresholded by the leaves' rule (right when the true leaf lies under the node). So the images
    each level determines meet the target purity with the stated bound, and so does their union. Fitting a node
    on all its images instead would let the easy ones, whose leaf is determined anyway, carry the hard ones
    that climb (measured on the demo model: 0.989 for the union against 0.992+ per node).
    """
    best, scores = path_confidences(taxonomy, probs)
    truth = np.where(data.known, data.targets, 0)
    cut = cut_array(leaf_cuts, taxonomy.leaves)
    open_ = data.known & ~(scores[-1] >= cut[best])  # the deepest (padded) level's score is the leaf's own
    out: dict[str, LeafThreshold] = {}
    for k in range(len(taxonomy.level_sizes) - 1, -1, -1):
        predicted = taxonomy.leaf_level_index[best, k]
        right = predicted == taxonomy.leaf_level_index[truth, k]
        determined = np.zeros(len(best), dtype=bool)
        for j, node in enumerate(taxonomy.levels[k]):
            if taxonomy.node(node).is_leaf:  # a leaf (a ragged tree repeats it at deeper levels) has its own
                continue
            sel = open_ & (predicted == j)
            fit = purity_threshold(scores[k][sel], right[sel], target=options.target_purity,
                                   min_support=options.min_support, bound=options.bound,
                                   confidence_level=options.confidence)
            out[node] = fit
            if fit.threshold is not None:
                determined |= sel & (scores[k] >= fit.threshold)
        open_ &= ~determined
    return {node: out[node] for level in taxonomy.levels for node in level if node in out}


def _candidates(predictor: Predictor, data: _Labelled, temperature: float, train_samples: Sequence[Sample],
                strides: tuple[int, ...], options: CalibrateOptions, log: Log) -> tuple[dict[str, UnknownDetector], dict]:
    """Every unknown-score candidate, and where its class centroids came from."""
    flat = predictor.manifest.is_flat
    leaves = predictor.taxonomy.leaves
    candidates: dict[str, UnknownDetector] = {
        "max_softmax": UnknownDetector("max_softmax", temperature=temperature, flat=flat),
        "energy": UnknownDetector("energy", temperature=temperature, flat=flat),
    }
    split, fit_on = options.centroid_split, [s for s in train_samples if not s.is_unknown]
    if not fit_on:
        log("warning: no training images for the class centroids; using the calibration split "
            "(its unknown-score AUROCs are then optimistic)")
        split, fit_on = options.split, [s for s in data.samples if not s.is_unknown]
    fit_on = _cap_per_class(fit_on, options.centroid_max_per_class)
    train_out = collect_outputs(predictor, [s.path for s in fit_on])
    train_targets, _ = _targets([fit_on[i] for i in train_out.index], leaves)
    if len(train_out.index) >= 2:
        candidates.update(fit_embedding_detectors(train_out.embeddings, train_targets, leaves,
                                                  temperature=temperature, flat=flat))
        if strides:
            known = data.known
            candidates["stages"] = fit_stage_detector(
                train_out.stage_stats, train_targets, leaves, known_logits=[z[known] for z in data.out.level_logits],
                known_stats={s: v[known] for s, v in data.out.stage_stats.items()}, temperature=temperature,
                flat=flat)
    return candidates, {"split": split, "n": len(train_out.index)}


def _fit_unknown(predictor: Predictor, data: _Labelled, probs: np.ndarray, temperature: float,
                 train_samples: Sequence[Sample], strides: tuple[int, ...], options: CalibrateOptions,
                 log: Log) -> tuple[UnknownDetector, UnknownFit, np.ndarray]:
    """The unknown score (by AUROC, by option or the default) with its threshold, how it was chosen, and which
    calibration images it flags (as routing will: score above the threshold)."""
    from models.evaluation.metrics import auroc
    from models.evaluation.report import to_json_ready

    candidates, centroids_on = _candidates(predictor, data, temperature, train_samples, strides, options, log)
    out = data.out
    scores = {m: d.score(leaf_probs=probs, level_logits=out.level_logits, embeddings=out.embeddings,
                         stage_stats=out.stage_stats) for m, d in candidates.items()}
    unknown, known = data.unknown, data.known
    aurocs: dict[str, float] = {}
    if options.unknown_method != "auto":
        if options.unknown_method not in candidates:
            raise CalibrationError(f"unknown method {options.unknown_method!r} needs readable training images")
        method, selected_by = options.unknown_method, "option"
        if unknown.any():
            aurocs = {m: auroc(s, unknown) for m, s in scores.items()}
    elif unknown.any():
        method, aurocs = choose_unknown_method(scores, unknown)
        selected_by = "auroc"
    else:
        method = DEFAULT_UNKNOWN_METHOD if DEFAULT_UNKNOWN_METHOD in candidates else "max_softmax"
        selected_by = "default"
    chosen = scores[method]
    threshold = unknown_threshold(chosen[known], options.unknown_fpr)
    flagged = float(np.mean(chosen[known] > threshold))
    caught = float(np.mean(chosen[unknown] > threshold)) if unknown.any() else float("nan")
    log(f"unknown score: {method} ({selected_by}"
        + (", AUROC " + ", ".join(f"{m} {a:.3f}" for m, a in aurocs.items()) if aurocs else "")
        + f"); threshold {threshold:.4g} flags {flagged:.1%} of known images"
        + (f", catches {caught:.1%} of {int(unknown.sum())} unknown image(s)" if unknown.any() else ""))
    fit = UnknownFit(selected_by=selected_by, auroc=to_json_ready(aurocs), fpr_target=options.unknown_fpr,
                     known_flag_rate=to_json_ready(flagged), unknown_catch_rate=to_json_ready(caught),
                     centroids_fitted_on=centroids_on)
    return dataclasses.replace(candidates[method], threshold=threshold), fit, chosen > threshold


def _summary(calibration: Calibration, data: _Labelled, probs: np.ndarray, temperature: float,
             manifest: Any) -> dict[str, Any]:
    """Routing on the calibration split itself, exactly as the Predictor will do it."""
    from models.evaluation.selective import hierarchical_selective

    out, known, unknown = data.out, data.known, data.unknown
    routes, reasons, _ = route_batch(calibration, manifest.taxonomy.leaves, leaf_probs=probs,
                                     level_logits=out.level_logits, embeddings=out.embeddings, keys=out.keys,
                                     stage_stats=out.stage_stats)
    pred = probs.argmax(axis=1)
    conf = probs.max(axis=1).astype(np.float64)
    correct = known & (pred == data.targets)
    auto = np.array([r == "auto" for r in routes], dtype=bool)
    cuts = calibration.thresholds
    by_threshold = np.array([cuts[manifest.taxonomy.leaves[p]] is not None and c >= cuts[manifest.taxonomy.leaves[p]]
                             for p, c in zip(pred, conf, strict=True)], dtype=bool)
    logits = [z[known] for z in out.level_logits]
    nodes, levels = determined_batch(calibration, manifest.taxonomy, probs, reasons)
    hier = hierarchical_selective([nodes[i] for i in np.flatnonzero(known)], levels[known], data.targets[known],
                                  manifest.taxonomy)
    return {
        "n": len(data.samples), "n_known": int(known.sum()), "n_unknown": int(unknown.sum()),
        "temperature": temperature,
        "nll_t1": nll(logits, data.targets[known], 1.0, manifest.taxonomy, flat=manifest.is_flat),
        "nll": nll(logits, data.targets[known], temperature, manifest.taxonomy, flat=manifest.is_flat),
        "threshold_coverage": float(by_threshold[known].mean()),
        "threshold_purity": (float(correct[known & by_threshold].mean()) if (known & by_threshold).any()
                             else float("nan")),
        "auto_coverage": float(auto.mean()),
        "auto_purity": float(correct[auto].mean()) if auto.any() else float("nan"),
        "unknown_auto_rate": float(auto[unknown].mean()) if unknown.any() else float("nan"),
        "reasons": {r: int(sum(r in why for why in reasons)) for r in REASONS},
        "leaves_with_threshold": sum(t is not None for t in cuts.values()),
        "nodes_with_threshold": sum(t is not None for t in calibration.node_thresholds.values()),
        "unknown_determined": int((levels[unknown] >= 0).sum()),
        **hier,
    }
