"""``fma-model calibrate``: temperature, per-leaf purity thresholds and the unknown-defect score.

Everything is fitted on one split of labelled data (``--split val`` by default), never on the
training split, and written into the bundle's manifest (see :mod:`models.routing` for how the
Predictor uses it).

1. Temperature. The network's raw level logits are computed once; the NLL of the true leaf under
   the combined leaf distribution ``combine_levels(softmax(z_k / T))`` (the Predictor's exact path)
   is minimised over ``log T`` in [log 0.05, log 20] by golden-section search. The combined
   log-score of a leaf is ``sum_k z_k[ancestor_k] / T`` up to a per-image constant, so the NLL is a
   one-temperature softmax NLL, convex in 1/T: the search finds the global minimum. The arg-max leaf
   does not depend on T.

2. Per-leaf thresholds. For each leaf, take the calibration images *predicted* as that leaf (known
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
   ``mahalanobis``; see :mod:`models.routing`); the embedding ones use class centroids of the
   *training* split's embeddings. When the calibration split holds ``unknown:*`` images, the
   candidate with the best AUROC there is kept; otherwise ``cosine``: distances in the embedding
   space do not depend on the softmax, which is known to stay over-confident far from the training
   data, and cosine needs no variance estimate (a few images per class suffice). The threshold
   flags at most ``--unknown-fpr`` (5 %) of the known calibration images.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import math
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.bundle import ARCHIVE_SUFFIXES, BundleError
from models.data.manifest import DataError, Sample
from models.predictor import combine_levels
from models.routing import (
    UNKNOWN_METHODS,
    Calibration,
    UnknownDetector,
    energy_score,
    nearest_mahalanobis,
    reference_quantiles,
    route_batch,
)

if TYPE_CHECKING:
    from models.predictor import Predictor
    from models.taxonomy import Taxonomy

BOUNDS: tuple[str, ...] = ("clopper-pearson", "wilson", "none")
T_RANGE: tuple[float, float] = (0.05, 20.0)
DEFAULT_UNKNOWN_METHOD = "cosine"
Log = Callable[[str], None]


class CalibrationError(DataError):
    """The data or options cannot produce a calibration; the message says why."""


# ------------------------------------------------------------------------------ model outputs
@dataclass
class Outputs:
    """Raw model outputs for the readable images of a list.

    Attributes:
        index: position in the input list of each row.
        level_logits: raw logits per level, (n, level_sizes[k]), before any temperature.
        leaf_probs: (n, num_leaves) at the predictor's temperature.
        embeddings: (n, D).
        keys: content keys for the spot-check draw (None when not requested).
        errors: input position -> why the image could not be read.
        stage_stats: stride -> (n, D_s) stage statistics, for the strides the predictor watches.
    """

    index: np.ndarray
    level_logits: list[np.ndarray]
    leaf_probs: np.ndarray
    embeddings: np.ndarray
    keys: list[str | None]
    errors: dict[int, str] = field(default_factory=dict)
    stage_stats: dict[int, np.ndarray] = field(default_factory=dict)


def collect_outputs(predictor: Predictor, sources: Sequence[str | Path], *, keys: bool = False) -> Outputs:
    """Run the predictor's network over images and keep the raw outputs (logits, embeddings).

    Args:
        predictor: a :class:`models.predictor.Predictor`.
        sources: image paths.
        keys: also compute each image's content key (:func:`models.routing.image_key`).
    """
    from models.imageio import ImageLoadError
    from models.routing import image_key

    def decode(item: tuple[int, str | Path]):
        i, src = item
        try:
            return i, predictor.preprocess(src), image_key(src) if keys else None, None
        except ImageLoadError as exc:
            return i, None, None, exc.reason
        except Exception as exc:  # a decoder bug must not stop the run
            return i, None, None, f"cannot read image ({type(exc).__name__}: {exc})"

    import torch

    index: list[int] = []
    key_list: list[str | None] = []
    logits: list[list[np.ndarray]] = [[] for _ in predictor.taxonomy.levels]
    leaf, emb = [], []
    stages: dict[int, list[np.ndarray]] = {}
    errors: dict[int, str] = {}
    pending: list[tuple[int, Any, str | None]] = []

    def flush() -> None:
        if not pending:
            return
        out = predictor.forward_batch(torch.stack([t for _, t, _ in pending]))
        for k, z in enumerate(out.level_logits):
            logits[k].append(z)
        leaf.append(out.leaf_probs)
        emb.append(out.embedding)
        for stride, stats in (out.stage_stats or {}).items():
            stages.setdefault(stride, []).append(stats)
        index.extend(i for i, _, _ in pending)
        key_list.extend(k for _, _, k in pending)
        pending.clear()

    with ThreadPoolExecutor(max_workers=predictor.decode_workers) as pool:
        for i, tensor, key, error in pool.map(decode, enumerate(sources)):
            if error is not None:
                errors[i] = error
                continue
            pending.append((i, tensor, key))
            if len(pending) >= predictor.batch_size:
                flush()
        flush()
    sizes = predictor.taxonomy.level_sizes
    return Outputs(
        index=np.asarray(index, dtype=np.int64),
        level_logits=[np.concatenate(z) if z else np.zeros((0, n), np.float32)
                      for z, n in zip(logits, sizes, strict=True)],
        leaf_probs=np.concatenate(leaf) if leaf else np.zeros((0, len(predictor.taxonomy.leaves)), np.float32),
        embeddings=np.concatenate(emb) if emb else np.zeros((0, 0), np.float32),
        keys=key_list,
        errors=errors,
        stage_stats={stride: np.concatenate(parts) for stride, parts in stages.items()},
    )


def route_outputs(
    calibration: Calibration, taxonomy: Taxonomy, out: Outputs
) -> tuple[np.ndarray, list[list[str]], np.ndarray | None]:
    """Routes of collected outputs, as the Predictor would give them: (auto mask, reasons, unknown scores)."""
    routes, reasons, scores = route_batch(calibration, taxonomy.leaves, leaf_probs=out.leaf_probs,
                                          level_logits=out.level_logits, embeddings=out.embeddings, keys=out.keys,
                                          stage_stats=out.stage_stats or None)
    return np.array([r == "auto" for r in routes], dtype=bool), reasons, scores


# ------------------------------------------------------------------------------- temperature
def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def leaf_probs_at(level_logits: Sequence[np.ndarray], temperature: float, taxonomy: Taxonomy, *,
                  flat: bool = False) -> np.ndarray:
    """The Predictor's leaf distribution at a temperature, from raw level logits (N, num_leaves)."""
    t = float(temperature)
    if flat:
        return _softmax(np.asarray(level_logits[-1], dtype=np.float64) / t).astype(np.float32)
    probs = [_softmax(np.asarray(z, dtype=np.float64) / t) for z in level_logits]
    return combine_levels(probs, taxonomy.leaf_level_index)


def nll(level_logits: Sequence[np.ndarray], targets: np.ndarray, temperature: float, taxonomy: Taxonomy, *,
        flat: bool = False) -> float:
    """Mean negative log-likelihood of the true leaves at a temperature."""
    probs = leaf_probs_at(level_logits, temperature, taxonomy, flat=flat)
    picked = probs[np.arange(len(targets)), np.asarray(targets, dtype=np.int64)].astype(np.float64)
    return float(-np.mean(np.log(np.clip(picked, 1e-12, None))))


def fit_temperature(level_logits: Sequence[np.ndarray], targets: np.ndarray, taxonomy: Taxonomy, *,
                    flat: bool = False, t_range: tuple[float, float] = T_RANGE, tol: float = 1e-4) -> float:
    """The temperature minimising :func:`nll`: golden-section search on log T within ``t_range``."""
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) == 0:
        raise CalibrationError("no labelled images to fit the temperature on")

    def f(log_t: float) -> float:
        return nll(level_logits, targets, math.exp(log_t), taxonomy, flat=flat)

    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = math.log(t_range[0]), math.log(t_range[1])
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return math.exp((a + b) / 2.0)


# ------------------------------------------------------------------------ purity thresholds
def _log_factorials(n: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))])


def binomial_tail(hits: int, n: int, p: float, log_fact: np.ndarray | None = None) -> float:
    """P(X >= hits) for X ~ Binomial(n, p)."""
    if hits <= 0:
        return 1.0
    if hits > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    lf = _log_factorials(n) if log_fact is None else log_fact
    i = np.arange(hits, n + 1)
    log_pmf = lf[n] - lf[i] - lf[n - i] + i * math.log(p) + (n - i) * math.log1p(-p)
    top = log_pmf.max()
    return float(min(1.0, math.exp(top) * np.exp(log_pmf - top).sum()))


def purity_lower_bound(hits: int, n: int, *, bound: str = "clopper-pearson", confidence: float = 0.95) -> float:
    """One-sided lower confidence bound on a precision of ``hits`` / ``n``.

    ``clopper-pearson`` is exact (the p whose upper binomial tail at ``hits`` is ``1 - confidence``),
    ``wilson`` the Wilson score bound, ``none`` the plain ratio.
    """
    if n <= 0:
        return float("nan")
    if bound == "none":
        return hits / n
    alpha = 1.0 - confidence
    if bound == "wilson":
        from statistics import NormalDist

        z = NormalDist().inv_cdf(confidence)
        phat = hits / n
        centre = phat + z * z / (2 * n)
        spread = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
        return max(0.0, (centre - spread) / (1 + z * z / n))
    if bound != "clopper-pearson":
        raise CalibrationError(f"unknown bound {bound!r}; expected one of {', '.join(BOUNDS)}")
    if hits == 0:
        return 0.0
    lf = _log_factorials(n)
    lo, hi = 0.0, 1.0
    for _ in range(60):  # the tail grows with p: bisect for tail == alpha
        mid = (lo + hi) / 2
        if binomial_tail(hits, n, mid, lf) < alpha:
            lo = mid
        else:
            hi = mid
    return lo


def _passes(hits: int, n: int, target: float, bound: str, confidence: float, lf: np.ndarray) -> bool:
    """lower bound >= target, decided without solving for the bound where possible."""
    if bound == "clopper-pearson":
        # the exact lower bound is >= target iff the upper tail at p = target is <= alpha
        return binomial_tail(hits, n, target, lf) <= 1.0 - confidence + 1e-12
    return purity_lower_bound(hits, n, bound=bound, confidence=confidence) >= target


def images_needed(target: float, *, bound: str = "clopper-pearson", confidence: float = 0.95) -> int:
    """Fewest all-correct predictions whose lower bound reaches ``target``."""
    if bound == "none":
        return 1
    if bound == "clopper-pearson":  # all correct: the tail is target**n <= 1 - confidence
        return max(1, math.ceil(math.log(1.0 - confidence) / math.log(target) - 1e-9))
    n = 1
    while purity_lower_bound(n, n, bound=bound, confidence=confidence) < target and n < 10_000_000:
        n *= 2
    lo, hi = n // 2, n  # bisect for the first n that passes (the bound grows with n)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if purity_lower_bound(mid, mid, bound=bound, confidence=confidence) >= target:
            hi = mid
        else:
            lo = mid
    return hi


@dataclass(frozen=True)
class LeafThreshold:
    """The threshold of one leaf and the numbers behind it.

    Attributes:
        threshold: the lowest auto-judged confidence, or None (always re-judge).
        support: calibration images predicted as the leaf (known labels).
        n_auto: how many of them reach the threshold.
        coverage: ``n_auto / support`` (0 without a threshold).
        purity: precision among the ``n_auto`` (NaN without a threshold).
        purity_lower: its lower confidence bound.
        reason: why there is no threshold ("support" or "purity" with details), else None.
    """

    threshold: float | None
    support: int
    n_auto: int = 0
    coverage: float = 0.0
    purity: float = float("nan")
    purity_lower: float = float("nan")
    reason: str | None = None


def purity_threshold(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    target: float,
    min_support: int = 20,
    bound: str = "clopper-pearson",
    confidence_level: float = 0.95,
) -> LeafThreshold:
    """The lowest confidence threshold whose auto-judged set reaches ``target`` purity (see module doc).

    Args:
        confidence: confidences of the images predicted as one leaf.
        correct: whether each of those predictions is right.
        target: required purity (precision), in (0, 1).
        min_support: fewer predictions than this -> no threshold.
        bound: ``clopper-pearson``, ``wilson`` or ``none``.
        confidence_level: level of the one-sided lower bound.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    n = len(conf)
    if n < max(1, min_support):
        return LeafThreshold(None, n, reason=f"support: {n} calibration image(s) predicted as this leaf "
                                             f"(< min_support {min_support})")
    order = np.argsort(-conf, kind="stable")
    conf, ok = conf[order], ok[order]
    hits = np.cumsum(ok)
    # ends of tie groups: a threshold keeps all images with the same confidence together
    ends = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))
    lf = _log_factorials(n)
    best: int | None = None
    for end in ends:
        # every bound is at most the plain precision: skip what cannot pass without computing it
        if hits[end] >= target * (end + 1) and _passes(int(hits[end]), int(end + 1), target, bound,
                                                       confidence_level, lf):
            best = int(end)  # keep scanning: the lowest passing threshold wins
    if best is None:
        need = images_needed(target, bound=bound, confidence=confidence_level)
        purity = float(hits[-1] / n)
        return LeafThreshold(
            None, n, purity=purity,
            purity_lower=purity_lower_bound(int(hits[-1]), n, bound=bound, confidence=confidence_level),
            reason=(f"purity: no confidence threshold reaches {target:g} ({bound} bound at {confidence_level:g}; "
                    f"precision over all {n} is {purity:.3f}; at least {need} correct images are needed)"),
        )
    m, h = best + 1, int(hits[best])
    return LeafThreshold(
        threshold=float(conf[best]), support=n, n_auto=m, coverage=m / n, purity=h / m,
        purity_lower=purity_lower_bound(h, m, bound=bound, confidence=confidence_level),
    )


# ---------------------------------------------------------------------------- unknown scores
def fit_embedding_detectors(embeddings: np.ndarray, targets: np.ndarray, leaves: Sequence[str], *,
                            temperature: float = 1.0, flat: bool = False) -> dict[str, UnknownDetector]:
    """Cosine and (diagonal, shared-covariance) Mahalanobis detectors from labelled embeddings."""
    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(targets, dtype=np.int64)
    classes, means, variance = class_means_and_variance(x, y)
    center = x.mean(axis=0)
    unit = x - center
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    directions = np.stack([unit[y == c].mean(axis=0) for c in classes])
    directions = directions / np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
    names = tuple(leaves[c] for c in classes)
    common = {"temperature": temperature, "flat": flat, "classes": names}
    return {
        "cosine": UnknownDetector("cosine", centroids=directions, center=center, **common),
        "mahalanobis": UnknownDetector("mahalanobis", centroids=means, variance=variance, **common),
    }


def class_means_and_variance(x: np.ndarray, y: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Classes present, their means (C, D), and the pooled within-class diagonal variance (D,)."""
    if len(x) < 2:
        raise CalibrationError("too few readable training images to fit class centroids for the unknown score")
    classes = sorted(set(y.tolist()))
    means = np.stack([x[y == c].mean(axis=0) for c in classes])
    resid = x - means[np.searchsorted(classes, y)]
    dof = max(1, len(x) - len(classes))
    variance = (resid**2).sum(axis=0) / dof
    return classes, means, np.maximum(variance, 1e-6 * float(variance.mean()) + 1e-12)


def fit_stage_detector(train_stats: dict[int, np.ndarray], targets: np.ndarray, leaves: Sequence[str], *,
                       known_logits: Sequence[np.ndarray], known_stats: dict[int, np.ndarray],
                       temperature: float = 1.0, flat: bool = False) -> UnknownDetector:
    """The ``stages`` ensemble (see :mod:`models.routing`): class means of every stage's statistics from
    labelled training images, and each member's reference quantiles from the known calibration images."""
    y = np.asarray(targets, dtype=np.int64)
    strides = tuple(sorted(train_stats))
    fitted = [class_means_and_variance(np.asarray(train_stats[s], dtype=np.float64), y) for s in strides]
    members = [energy_score(known_logits, temperature, flat=flat)]
    members += [nearest_mahalanobis(known_stats[s], means, var) for s, (_, means, var) in zip(strides, fitted, strict=True)]
    return UnknownDetector(
        "stages", temperature=temperature, flat=flat, classes=tuple(leaves[c] for c in fitted[0][0]),
        stage_strides=strides, stage_means=tuple(f[1] for f in fitted), stage_variances=tuple(f[2] for f in fitted),
        references=tuple(reference_quantiles(m) for m in members),
    )


def stage_candidate_strides(predictor: Predictor, unknown_method: str, log: Log) -> tuple[int, ...]:
    """The strides for the ``stages`` candidate, or () when it is not tried.

    Raises:
        CalibrationError: ``stages`` was asked for and the backbone has no stages (token models).
    """
    from models.engine import HOOKED_PATHS

    strides = predictor.model.stage_strides()
    if unknown_method == "stages" and not strides:
        raise CalibrationError("unknown method 'stages' needs a CNN backbone with stages of stride 4-32; "
                               f"{predictor.bundle.manifest['network'].get('backbone')!r} has none")
    if unknown_method not in ("auto", "stages"):
        return ()
    if unknown_method == "auto" and strides and predictor.engine.path not in HOOKED_PATHS:
        log(f"'stages' candidate skipped: the bundle's {predictor.engine.path} inference path hides the backbone's "
            "stages (pass --unknown-method stages to use it; the bundle then runs on the torch path)")
        return ()
    return strides


def unknown_threshold(known_scores: np.ndarray, fpr: float) -> float:
    """The smallest threshold that flags (score > threshold) at most ``fpr`` of the known images."""
    s = np.sort(np.asarray(known_scores, dtype=np.float64))
    if len(s) == 0:
        raise CalibrationError("no known images to calibrate the unknown threshold on")
    allowed = math.floor(fpr * len(s) + 1e-9)
    return float(s[len(s) - 1 - min(allowed, len(s) - 1)])


def choose_unknown_method(scores: dict[str, np.ndarray], unknown_mask: np.ndarray) -> tuple[str, dict[str, float]]:
    """The method with the best AUROC (ties: earlier in :data:`UNKNOWN_METHODS`), and every AUROC."""
    from models.metrics import auroc

    aurocs = {m: auroc(s, unknown_mask) for m, s in scores.items()}
    best = None
    for m in UNKNOWN_METHODS:
        if m in aurocs and math.isfinite(aurocs[m]) and (best is None or aurocs[m] > aurocs[best]):
            best = m
    if best is None:
        raise CalibrationError("the AUROC needs both known and unknown images")
    return best, aurocs


# ----------------------------------------------------------------------------------- driver
@dataclass
class CalibrationResult:
    """What ``calibrate`` fitted and measured; ``updates`` is what went into the manifest."""

    temperature: float
    leaves: dict[str, LeafThreshold]
    unknown: UnknownDetector
    summary: dict[str, Any]
    updates: dict[str, Any]
    curve: dict[str, list[float]]


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


def calibrate(
    bundle_path: str | Path,
    samples: Sequence[Sample],
    train_samples: Sequence[Sample],
    *,
    target_purity: float = 0.99,
    min_support: int = 20,
    spot_check: float = 0.02,
    seed: int = 0,
    bound: str = "clopper-pearson",
    confidence: float = 0.95,
    unknown_fpr: float = 0.05,
    unknown_method: str = "auto",
    centroid_max_per_class: int = 200,
    split: str = "val",
    sources: Sequence[str] = (),
    batch_size: int = 32,
    device: str = "cpu",
    write: bool = True,
    log: Log = print,
) -> CalibrationResult:
    """Fit the calibration of a bundle folder on ``samples`` and write it into its manifest.

    Args:
        bundle_path: the bundle folder (archives are read-only).
        samples: the calibration split (known leaves and optionally ``unknown:*`` images).
        train_samples: known-label images for the class centroids of the embedding scores.
        target_purity: required purity of every auto-judged leaf.
        min_support: leaves with fewer calibration predictions are always re-judged.
        spot_check: share of would-be-auto images routed to QA anyway.
        seed: spot-check seed.
        bound: lower confidence bound of the purity rule (:data:`BOUNDS`).
        confidence: its confidence level.
        unknown_fpr: share of known calibration images the unknown threshold may flag.
        unknown_method: ``auto`` (by AUROC when there are unknowns) or one of :data:`UNKNOWN_METHODS`.
        centroid_max_per_class: cap of training images per class for the centroids (0 = all).
        split: name of the calibration split (provenance).
        sources: the data sources (provenance).
        batch_size: images per forward pass.
        device: torch device.
        write: update the manifest (False: only compute).
        log: progress messages.
    """
    from models.bundle import load_bundle, update_manifest
    from models.metrics import risk_coverage_curve
    from models.predictor import Predictor
    from models.train import data_hash

    bundle_path = Path(bundle_path)
    if write and bundle_path.suffix.lower() in ARCHIVE_SUFFIXES:
        raise BundleError(f"{bundle_path}: archives are read-only; extract the bundle to a folder to calibrate it")
    _check_options(target_purity, min_support, spot_check, bound, confidence, unknown_fpr, unknown_method)
    bundle = load_bundle(bundle_path, device=device)
    tax = bundle.taxonomy
    flat = bundle.manifest["network"].get("head") == "flat"
    predictor = Predictor(bundle, device=device, batch_size=batch_size)
    strides = stage_candidate_strides(predictor, unknown_method, log)
    if strides:
        predictor.watch_stages(strides)  # for the "stages" candidate

    log(f"calibration data: {len(samples)} image(s) of split {split!r}")
    out = collect_outputs(predictor, [s.path for s in samples], keys=spot_check > 0)
    for i, err in out.errors.items():
        log(f"skipped unreadable {samples[i].path}: {err}")
    cal_samples = [samples[i] for i in out.index]
    targets, unknown = _targets(cal_samples, tax.leaves)
    known = ~unknown
    if not known.any():
        raise CalibrationError(f"split {split!r} has no readable images with a known label to calibrate on")
    known_logits = [z[known] for z in out.level_logits]

    t_before = float(bundle.manifest.get("temperature") or 1.0)
    nll_at_1 = nll(known_logits, targets[known], 1.0, tax, flat=flat)
    temperature = fit_temperature(known_logits, targets[known], tax, flat=flat)
    nll_at_t = nll(known_logits, targets[known], temperature, tax, flat=flat)
    at_edge = min(abs(math.log(temperature / T_RANGE[0])), abs(math.log(temperature / T_RANGE[1]))) < 1e-3
    log(f"temperature {temperature:.4f} (NLL {nll_at_1:.4f} at T=1 -> {nll_at_t:.4f})"
        + (" -- at the search bound" if at_edge else ""))

    probs = leaf_probs_at(out.level_logits, temperature, tax, flat=flat)
    pred = probs.argmax(axis=1)
    conf = probs.max(axis=1).astype(np.float64)
    correct = known & (pred == targets)

    leaves: dict[str, LeafThreshold] = {}
    for j, leaf in enumerate(tax.leaves):
        sel = known & (pred == j)
        leaves[leaf] = purity_threshold(conf[sel], correct[sel], target=target_purity, min_support=min_support,
                                        bound=bound, confidence_level=confidence)
    thresholds = {leaf: lt.threshold for leaf, lt in leaves.items()}

    # unknown score candidates
    candidates: dict[str, UnknownDetector] = {
        "max_softmax": UnknownDetector("max_softmax", temperature=temperature, flat=flat),
        "energy": UnknownDetector("energy", temperature=temperature, flat=flat),
    }
    centroid_split = "train"
    fit_on = [s for s in train_samples if not s.is_unknown]
    if not fit_on:
        log("warning: no training images for the class centroids; using the calibration split "
            "(its unknown-score AUROCs are then optimistic)")
        fit_on, centroid_split = [s for s in cal_samples if not s.is_unknown], split
    fit_on = _cap_per_class(fit_on, centroid_max_per_class)
    train_out = collect_outputs(predictor, [s.path for s in fit_on])
    train_targets, _ = _targets([fit_on[i] for i in train_out.index], tax.leaves)
    if len(train_out.index) >= 2:
        candidates.update(fit_embedding_detectors(train_out.embeddings, train_targets, tax.leaves,
                                                  temperature=temperature, flat=flat))
        if strides:
            candidates["stages"] = fit_stage_detector(
                train_out.stage_stats, train_targets, tax.leaves, known_logits=known_logits,
                known_stats={s: v[known] for s, v in out.stage_stats.items()}, temperature=temperature, flat=flat)
    scores = {m: d.score(leaf_probs=probs, level_logits=out.level_logits, embeddings=out.embeddings,
                         stage_stats=out.stage_stats) for m, d in candidates.items()}
    aurocs: dict[str, float] = {}
    if unknown_method != "auto":
        if unknown_method not in candidates:
            raise CalibrationError(f"unknown method {unknown_method!r} needs readable training images")
        method, selected_by = unknown_method, "option"
        if unknown.any():
            from models.metrics import auroc

            aurocs = {m: auroc(s, unknown) for m, s in scores.items()}
    elif unknown.any():
        method, aurocs = choose_unknown_method(scores, unknown)
        selected_by = "auroc"
    else:
        method = DEFAULT_UNKNOWN_METHOD if DEFAULT_UNKNOWN_METHOD in candidates else "max_softmax"
        selected_by = "default"
    chosen_scores = scores[method]
    u_threshold = unknown_threshold(chosen_scores[known], unknown_fpr)
    detector = dataclasses.replace(candidates[method], threshold=u_threshold)
    flagged_known = float(np.mean(chosen_scores[known] > u_threshold))
    caught = float(np.mean(chosen_scores[unknown] > u_threshold)) if unknown.any() else float("nan")
    log(f"unknown score: {method} ({selected_by}"
        + (", AUROC " + ", ".join(f"{m} {a:.3f}" for m, a in aurocs.items()) if aurocs else "")
        + f"); threshold {u_threshold:.4g} flags {flagged_known:.1%} of known images"
        + (f", catches {caught:.1%} of {int(unknown.sum())} unknown image(s)" if unknown.any() else ""))

    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    notes = {leaf: lt.reason for leaf, lt in leaves.items() if lt.reason}
    routing = {
        "target_purity": target_purity, "min_support": min_support, "spot_check": spot_check,
        "spot_check_seed": seed, "bound": bound, "confidence": confidence, "unknown_fpr": unknown_fpr,
        "calibrated_on": {"data_hash": data_hash(cal_samples), "split": split, "n": len(cal_samples),
                          "n_unknown": int(unknown.sum()), "sources": [str(s) for s in sources]},
        "created": created, "temperature_before": t_before, "notes": notes,
    }
    unknown_json = {
        **detector.to_manifest(),
        "selected_by": selected_by, "auroc": _clean(aurocs), "fpr_target": unknown_fpr,
        "known_flag_rate": _clean(flagged_known), "unknown_catch_rate": _clean(caught),
        "centroids_fitted_on": {"split": centroid_split, "n": len(train_out.index)},
    }
    updates = {"temperature": temperature, "thresholds": thresholds, "unknown": unknown_json, "routing": routing}

    # routing on the calibration split itself, exactly as the Predictor will do it
    calibration = Calibration(thresholds=thresholds, unknown=detector, spot_check=spot_check, seed=seed,
                              temperature=temperature, target_purity=target_purity)
    routes, reasons, _ = route_batch(calibration, tax.leaves, leaf_probs=probs, level_logits=out.level_logits,
                                     embeddings=out.embeddings, keys=out.keys, stage_stats=out.stage_stats)
    auto = np.array([r == "auto" for r in routes], dtype=bool)
    by_threshold = np.array([thresholds[tax.leaves[p]] is not None and c >= thresholds[tax.leaves[p]]
                             for p, c in zip(pred, conf, strict=True)], dtype=bool)
    summary = {
        "n": len(cal_samples), "n_known": int(known.sum()), "n_unknown": int(unknown.sum()),
        "temperature": temperature, "nll_t1": nll_at_1, "nll": nll_at_t,
        "threshold_coverage": float(by_threshold[known].mean()),
        "threshold_purity": (float(correct[known & by_threshold].mean()) if (known & by_threshold).any()
                             else float("nan")),
        "auto_coverage": float(auto.mean()),
        "auto_purity": float(correct[auto].mean()) if auto.any() else float("nan"),
        "unknown_auto_rate": float(auto[unknown].mean()) if unknown.any() else float("nan"),
        "reasons": {r: int(sum(r in why for why in reasons)) for r in ("low_confidence", "leaf_below_target",
                                                                         "possible_unknown", "spot_check")},
        "leaves_with_threshold": sum(t is not None for t in thresholds.values()),
    }
    coverage, risk = risk_coverage_curve(conf[known], correct[known])
    step = max(1, len(coverage) // 400)
    curve = {"coverage": [float(v) for v in coverage[::step]], "risk": [float(v) for v in risk[::step]]}
    if write:
        update_manifest(bundle_path, updates)
        log(f"wrote calibration into {bundle_path / 'manifest.json'}")
    return CalibrationResult(temperature, leaves, detector, summary, updates, curve)


def _clean(value: Any) -> Any:
    from models.report import to_json_ready

    return to_json_ready(value)


def _check_options(target: float, min_support: int, spot_check: float, bound: str, confidence: float,
                   fpr: float, method: str) -> None:
    problems = []
    if not 0.0 < target < 1.0:
        problems.append(f"--target-purity must lie strictly between 0 and 1, got {target}")
    if min_support < 1:
        problems.append(f"--min-support must be at least 1, got {min_support}")
    if not 0.0 <= spot_check < 1.0:
        problems.append(f"--spot-check must lie in [0, 1), got {spot_check}")
    if bound not in BOUNDS:
        problems.append(f"--bound must be one of {', '.join(BOUNDS)}, got {bound!r}")
    if not 0.5 <= confidence < 1.0:
        problems.append(f"--confidence must lie in [0.5, 1), got {confidence}")
    if not 0.0 < fpr < 1.0:
        problems.append(f"--unknown-fpr must lie strictly between 0 and 1, got {fpr}")
    if method != "auto" and method not in UNKNOWN_METHODS:
        problems.append(f"--unknown-method must be auto or one of {', '.join(UNKNOWN_METHODS)}, got {method!r}")
    if problems:
        raise CalibrationError("; ".join(problems))


# ---------------------------------------------------------------------------------- reports
def format_table(result: CalibrationResult) -> str:
    """The per-leaf table and the overall lines, as printed by the command."""
    head = f"{'leaf':<22} {'support':>7} {'threshold':>9} {'coverage':>8} {'purity':>7} {'lower':>6}  note"
    lines = [head, "-" * len(head)]
    for leaf, lt in result.leaves.items():
        if lt.threshold is None:
            note = "always re-judge: " + (lt.reason or "").split(":", 1)[0]
            lines.append(f"{leaf:<22} {lt.support:>7} {'-':>9} {'-':>8} {'-':>7} {'-':>6}  {note}")
        else:
            lines.append(f"{leaf:<22} {lt.support:>7} {lt.threshold:>9.4f} {lt.coverage:>8.3f} "
                         f"{lt.purity:>7.3f} {lt.purity_lower:>6.3f}")
    s = result.summary

    def pct(v: float) -> str:
        return "n/a" if not math.isfinite(v) else f"{v:.3f}"

    lines += [
        "",
        f"known images auto-judged by the thresholds: coverage {pct(s['threshold_coverage'])}, "
        f"purity {pct(s['threshold_purity'])} "
        f"({s['leaves_with_threshold']}/{len(result.leaves)} leaves have a threshold)",
        f"with unknown filter and spot checks (all {s['n']} images): auto coverage {pct(s['auto_coverage'])}, "
        f"purity {pct(s['auto_purity'])}"
        + (f", unknowns auto-judged {pct(s['unknown_auto_rate'])}" if s["n_unknown"] else ""),
        "re-judge reasons: " + ", ".join(f"{k} {v}" for k, v in s["reasons"].items()),
    ]
    return "\n".join(lines)


def write_reports(out_dir: str | Path, result: CalibrationResult, *, title: str = "") -> dict[str, Path]:
    """Write ``calibration.json`` and ``risk_coverage.png`` into ``out_dir``."""
    from models.report import to_json_ready

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "title": title,
        "summary": result.summary,
        "per_leaf": {leaf: lt.__dict__ for leaf, lt in result.leaves.items()},
        "manifest_updates": {k: v for k, v in result.updates.items() if k != "unknown"}
        | {"unknown": {k: v for k, v in result.updates["unknown"].items()
                       if k not in ("centroids", "center", "variance")}},
        "risk_coverage": result.curve,
    }
    paths = {"calibration.json": out / "calibration.json", "risk_coverage.png": out / "risk_coverage.png"}
    paths["calibration.json"].write_text(
        json.dumps(to_json_ready(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    _plot(paths["risk_coverage.png"], result, title)
    return paths


def _plot(path: Path, result: CalibrationResult, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.8), dpi=120)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    cov, risk = result.curve["coverage"], result.curve["risk"]
    target = result.updates["routing"]["target_purity"]
    if cov:
        ax.plot(cov, risk, color="tab:blue", linewidth=1.8, label="one global confidence threshold")
    ax.axhline(1 - target, color="tab:red", linestyle="--", linewidth=1, label=f"target risk {1 - target:.3g}")
    s = result.summary
    if math.isfinite(s["threshold_purity"]):
        ax.plot([s["threshold_coverage"]], [1 - s["threshold_purity"]], "o", color="tab:green",
                label=f"per-leaf thresholds (coverage {s['threshold_coverage']:.2f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, min(1.02, max(max(risk, default=0.0) * 1.1, (1 - target) * 2, 0.02)))
    ax.set_xlabel("coverage (share auto-judged)")
    ax.set_ylabel("risk (1 - purity)")
    ax.set_title(title or "Risk-coverage on the calibration split", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


# -------------------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="model bundle folder (its manifest.json is updated)")
    p.add_argument("--data", action="append", required=True, metavar="MANIFEST", help="manifest CSV or image folder")
    p.add_argument("--split", default="val", help="calibration split (default val; never the training split)")
    p.add_argument("--target-purity", type=float, default=0.99, help="required purity of auto-judged images")
    p.add_argument("--min-support", type=int, default=20,
                   help="fewer calibration predictions of a leaf: always re-judge (default 20)")
    p.add_argument("--spot-check", type=float, default=0.02,
                   help="share of would-be-auto images sent to QA (default 0.02)")
    p.add_argument("--seed", type=int, default=0, help="seed of the spot-check draw")
    p.add_argument("--bound", choices=BOUNDS, default="clopper-pearson",
                   help="lower confidence bound the purity rule uses (default clopper-pearson)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level of that bound (default 0.95)")
    p.add_argument("--unknown-fpr", type=float, default=0.05,
                   help="share of known calibration images the unknown threshold may flag (default 0.05)")
    p.add_argument("--unknown-method", default="auto", choices=("auto", *UNKNOWN_METHODS),
                   help="unknown score; auto = best AUROC on the calibration unknowns, else cosine")
    p.add_argument("--centroid-split", default="train", help="split whose embeddings give the class centroids")
    p.add_argument("--centroid-max-per-class", type=int, default=200, help="cap per class for the centroids (0 = all)")
    p.add_argument("--out", help="report folder (default BUNDLE/calibration)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu")


def run(args: argparse.Namespace) -> int:
    from models.bundle import read_manifest
    from models.data.manifest import load_data
    from models.evaluate import select_split
    from models.taxonomy import Taxonomy

    manifest = read_manifest(args.bundle)
    taxonomy = Taxonomy.from_dict(manifest["taxonomy"], source=f"{args.bundle}#taxonomy")
    loaded = load_data(args.data, taxonomy)
    if loaded.skipped:
        print(loaded.report(), file=sys.stderr)
    samples = select_split(loaded.samples, args.split)
    has_splits = any(s.split is not None for s in loaded.samples)
    if not has_splits:
        print("warning: the data has no split column; calibrating on all of it (use held-out data)", file=sys.stderr)
    train_samples = [s for s in loaded.samples if s.split == args.centroid_split] if has_splits else []
    result = calibrate(
        args.bundle, samples, train_samples, target_purity=args.target_purity, min_support=args.min_support,
        spot_check=args.spot_check, seed=args.seed, bound=args.bound, confidence=args.confidence,
        unknown_fpr=args.unknown_fpr, unknown_method=args.unknown_method,
        centroid_max_per_class=args.centroid_max_per_class, split=args.split, sources=args.data,
        batch_size=args.batch_size, device=args.device, log=lambda m: print(m, file=sys.stderr),
    )
    print(format_table(result))
    out = Path(args.out) if args.out else Path(args.bundle) / "calibration"
    paths = write_reports(out, result, title=f"{manifest['model_version']} on split {args.split}")
    print(f"wrote {paths['calibration.json']} and {paths['risk_coverage.png']}")
    return 0
