"""Routing: decide per prediction whether it is auto-judged or goes back to an analyst.

A calibrated bundle (``fma-model calibrate``) carries, in its manifest:

* ``temperature``: divides every level's logits before the softmax (the Predictor applies it);
* ``thresholds``: ``{leaf: float | null}``, the lowest confidence at which a prediction of that leaf
  reached the target purity on the calibration data; ``null`` = the leaf never reached it;
* ``unknown``: the unknown-defect score (``method``), its parameters and its ``threshold``;
* ``routing``: the target purity, the spot-check share and seed, and provenance.

:func:`route` turns one prediction into ``("auto" | "rejudge", reasons)``. The reason codes are
stable (the app stores and translates them), several may apply at once, in this order:

* ``low_confidence``: the confidence is below the predicted leaf's threshold;
* ``leaf_below_target``: the predicted leaf has no threshold (it cannot reach the purity);
* ``possible_unknown``: the unknown score is above the unknown threshold ("possible new defect type");
* ``spot_check``: a would-be-auto image drawn for quality assurance. The draw hashes the image content
  with a seed, so the same image always gets the same route, whatever its file name or batch.

Hierarchical routing (issue #17): ``routing.node_thresholds`` gives every group and subgroup its own purity
threshold on the node's marginal confidence (the sum of its leaves' scores, which is never lower than the
leaf's), fitted bottom-up on the images the climbing rule brings to the node
(:func:`models.calibration.calibrate._node_thresholds`). :meth:`Calibration.determined` climbs the predicted path from the leaf up and
returns the deepest node whose confidence meets its threshold (Goren, Galil and El-Yaniv's "climbing" rule), so
an image the model cannot judge alone still tells the analyst "Particles, determined: pick the type". An image
flagged as a possible unknown defect never has its leaf determined; its group or subgroup may be when the node
thresholds were fitted with flagged images climbing too (``routing.flagged_climb``, ``calibrate``'s default since
2026-12-04), else nothing is.

This module needs only numpy (no torch), so any layer can route stored predictions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from models.hashing import file_sha256, sha256_hex
from models.imageio import PictureFile
from models.routing.unknown import RoutingError, UnknownDetector, is_finite_number
from models.routing.views import FLIPS, flips_problem  # re-exported: the calibration's own key

if TYPE_CHECKING:
    from models.taxonomy import Taxonomy

__all__ = [
    "CALIBRATION_KEYS",
    "FLIPS",
    "REASONS",
    "CalibratedOn",
    "Calibration",
    "RoutingError",
    "UnknownFit",
    "determined_batch",
    "flips_problem",
    "image_key",
    "path_confidences",
    "route",
    "route_batch",
    "routing_decisions",
    "spot_check_draw",
]

REASONS: tuple[str, ...] = ("low_confidence", "leaf_below_target", "possible_unknown", "spot_check")
"""The routing reason codes, in the order :func:`route` gives them (the app stores and translates them)."""
AUTO, REJUDGE = "auto", "rejudge"
CALIBRATION_KEYS: tuple[str, ...] = ("temperature", "thresholds", "unknown", "routing")
"""The manifest keys a calibration occupies (written by ``fma-model calibrate``)."""
_DETECTOR_KEYS = frozenset({"method", "threshold", "classes", "centroids", "center", "variance", "members", "stages",
                            "references"})


# ------------------------------------------------------------------------------------------ keys
def image_key(source: Any) -> str:
    """A content key for the spot-check draw: sha256 of a file's bytes, or of a PIL image's pixels.

    Raises:
        OSError: the file cannot be read.
    """
    if hasattr(source, "tobytes") and hasattr(source, "mode"):
        return sha256_hex(f"{source.mode}:{source.size}:".encode() + source.tobytes())
    if isinstance(source, PictureFile):  # its bytes were checked against this when it was decoded (read once)
        return source.sha256
    return file_sha256(source)


def spot_check_draw(key: str, seed: int) -> float:
    """A uniform number in [0, 1) that depends only on (seed, key): the same image draws the same."""
    digest = sha256_hex(f"fma-spot-check:{int(seed)}:{key}")
    return int(digest[:16], 16) / 2.0**64


# -------------------------------------------------------------------------------- provenance
def _typed(cls: type, data: Any, what: str) -> Any:
    if not isinstance(data, Mapping):
        raise RoutingError(f"manifest '{what}' must be an object")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(map(str, set(data) - set(fields)))
    if unknown:
        raise RoutingError(f"manifest '{what}' has unknown key(s) {', '.join(unknown)}")
    for key, value in data.items():
        if str(fields[key].type).startswith("Mapping") and not isinstance(value, Mapping):
            raise RoutingError(f"manifest '{what}.{key}' must be an object, got {value!r:.60}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise RoutingError(f"manifest '{what}': {exc}") from exc


@dataclass(frozen=True)
class CalibratedOn:
    """``routing.calibrated_on``: the data the calibration was fitted on."""

    data_hash: str = ""
    split: str = ""
    n: int = 0
    n_unknown: int = 0
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnknownFit:
    """How the unknown score was chosen and how it did on the calibration data (``unknown``'s other keys).

    Attributes:
        selected_by: ``auroc`` (best on the calibration unknowns), ``option`` or ``default``.
        auroc: method -> AUROC on the calibration split (empty without unknown images).
        fpr_target: share of known images the threshold may flag.
        known_flag_rate, unknown_catch_rate: measured at the threshold (None when not measurable).
        centroids_fitted_on: ``{"split", "n"}`` of the images the class centroids came from.
    """

    selected_by: str = ""
    auroc: Mapping[str, float | None] = field(default_factory=dict)
    fpr_target: float | None = None
    known_flag_rate: float | None = None
    unknown_catch_rate: float | None = None
    centroids_fitted_on: Mapping[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------- routing
@dataclass(frozen=True)
class Calibration:
    """A calibrated bundle's routing: everything :func:`route` needs, and how it was fitted.

    :meth:`from_manifest` and :meth:`to_manifest` are the one reader and writer of the manifest's
    ``thresholds``, ``unknown`` and ``routing`` keys. The fourth key a calibration writes, ``temperature``, is
    the manifest's own field (:class:`models.bundle.manifest.BundleManifest`, which checks that the two agree);
    it is read here for the detector.

    Attributes:
        thresholds: leaf id -> lowest auto-judged confidence, or None (always re-judge).
        node_thresholds: group or subgroup id -> the lowest marginal confidence at which the node counts as
            determined at the target purity, or None (never); empty for a calibration made before #17.
        unknown: the unknown-defect detector, or None.
        spot_check: share of would-be-auto images sent to QA anyway (0 disables).
        spot_check_by_leaf: leaf id -> its own share, in place of ``spot_check`` for images predicted as that
            leaf (a leaf the line is changing for, or one the purity monitor watches closely).
        seed: seed of the spot-check draw.
        temperature: the fitted temperature.
        target_purity: the purity the thresholds were chosen for.
        notes: leaf -> why it has no threshold.
        min_support, bound, confidence, unknown_fpr: the options the thresholds were fitted with.
        calibrated_on: the calibration data.
        created: when it was fitted (ISO 8601).
        temperature_before: the bundle's temperature before this calibration.
        unknown_fit: how the unknown score was chosen and measured.
        method: how the thresholds were fitted: ``ltt`` (one promise over all auto-judged images) or
            ``per-leaf`` (one per leaf); None for a calibration made before the choice existed (per leaf).
        leaf_floor: leaf id -> the purity its calibration images showed at its threshold (the exact lower bound at
            ``confidence``), where that is below ``target_purity``: under one promise over all leaves (``ltt``) a
            leaf may be weaker than the target, and the purity monitor holds it to this instead
            (:meth:`purity_floor`).
        ltt_starts: the starting points of ``ltt``'s fixed sequence (``fma-model calibrate --ltt-starts``, the error
            budget split over them); None for one made before the option (one start).
        flagged_climb: the node thresholds were fitted with the images the unknown detector flags climbing too
            (:func:`models.calibration.ltt.node_thresholds`), so such an image may have its group or subgroup
            determined, never its leaf; False (a calibration made before the option): it has no determined node.
        flips: test-time flips (:data:`FLIPS`: ``h`` horizontal, ``v`` vertical, ``hv`` both): every image also
            goes through the network flipped so, and its level logits are the mean over the views
            (:meth:`models.inference.core.PredictorCore.forward_views`). The temperature and every threshold were
            fitted on those means, so they hold only for predictions made the same way; () = the image alone.
    """

    thresholds: Mapping[str, float | None]
    unknown: UnknownDetector | None = None
    spot_check: float = 0.0
    seed: int = 0
    temperature: float = 1.0
    target_purity: float | None = None
    notes: Mapping[str, str] = field(default_factory=dict)
    min_support: int | None = None
    bound: str | None = None
    confidence: float | None = None
    unknown_fpr: float | None = None
    calibrated_on: CalibratedOn | None = None
    created: str | None = None
    temperature_before: float | None = None
    unknown_fit: UnknownFit | None = None
    node_thresholds: Mapping[str, float | None] = field(default_factory=dict)
    spot_check_by_leaf: Mapping[str, float] = field(default_factory=dict)
    method: str | None = None
    leaf_floor: Mapping[str, float] = field(default_factory=dict)
    ltt_starts: int | None = None
    flagged_climb: bool = False
    flips: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if problem := flips_problem(self.flips):
            raise RoutingError(f"flips {problem}")
        for what, share in (("spot_check", self.spot_check), *(
                (f"spot_check_by_leaf.{k}", v) for k, v in self.spot_check_by_leaf.items())):
            if not (isinstance(share, int | float) and 0.0 <= float(share) <= 1.0):
                raise RoutingError(f"{what} must lie in [0, 1], got {share!r}")
        for what, table in (("leaf", self.thresholds), ("node", self.node_thresholds)):
            for node, value in table.items():
                if value is not None and not (isinstance(value, int | float) and math.isfinite(value)):
                    raise RoutingError(f"threshold of {what} {node!r} must be a number or null, got {value!r}")
        if self.unknown is not None and abs(self.unknown.temperature - self.temperature) > 1e-12:
            raise RoutingError(f"the unknown score's temperature {self.unknown.temperature} differs from the "
                               f"calibration's {self.temperature}")

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> Calibration | None:
        """The calibration of a bundle manifest (a JSON object), or None when it was never calibrated.

        Raises:
            RoutingError: a malformed value, or a key this version does not know.
        """
        thresholds = manifest.get("thresholds")
        if thresholds is None:
            orphans = [k for k in ("unknown", "routing") if manifest.get(k) is not None]
            if orphans:
                raise RoutingError(f"manifest has {' and '.join(map(repr, orphans))} but no 'thresholds' "
                                   "(an incomplete calibration: run fma-model calibrate again)")
            return None
        if not isinstance(thresholds, Mapping):
            raise RoutingError("manifest 'thresholds' must be an object {leaf: number or null}")
        routing = manifest.get("routing") or {}
        if not isinstance(routing, Mapping):
            raise RoutingError("manifest 'routing' must be an object")
        temperature = _number(manifest.get("temperature"), "temperature") or 1.0
        flat = (manifest.get("network") or {}).get("head") == "flat"
        unknown = manifest.get("unknown")
        detector = fit = None
        if unknown:
            if not isinstance(unknown, Mapping):
                raise RoutingError("manifest 'unknown' must be an object with a 'method'")
            fit_keys = {f.name for f in dataclasses.fields(UnknownFit)}
            extra = sorted(map(str, set(unknown) - _DETECTOR_KEYS - fit_keys))
            if extra:
                raise RoutingError(f"manifest 'unknown' has unknown key(s) {', '.join(extra)}")
            detector = UnknownDetector.from_manifest(unknown, temperature=temperature, flat=flat)
            fit_data = {k: v for k, v in unknown.items() if k in fit_keys}
            fit = _typed(UnknownFit, fit_data, "unknown") if fit_data else None
        settings = dict(routing)
        on = settings.pop("calibrated_on", None)
        try:
            keys = {"target_purity", "min_support", "spot_check", "spot_check_seed", "bound", "confidence",
                    "unknown_fpr", "created", "temperature_before", "notes", "node_thresholds",
                    "spot_check_by_leaf", "method", "leaf_floor", "ltt_starts", "flagged_climb", "flips"}
            nodes = settings.get("node_thresholds") or {}
            if not isinstance(nodes, Mapping):
                raise RoutingError("manifest 'routing.node_thresholds' must be an object {node: number or null}")
            by_leaf = settings.get("spot_check_by_leaf") or {}
            floors = settings.get("leaf_floor") or {}
            for what, table in (("spot_check_by_leaf", by_leaf), ("leaf_floor", floors)):
                if not isinstance(table, Mapping):
                    raise RoutingError(f"manifest 'routing.{what}' must be an object {{leaf: number}}")
            extra = sorted(map(str, set(settings) - keys))
            if extra:
                raise RoutingError(f"manifest 'routing' has unknown key(s) {', '.join(extra)}")
            return cls(
                thresholds={str(k): _number(v, f"thresholds.{k}", 0.0, 1.0) for k, v in thresholds.items()},
                unknown=detector,
                spot_check=_number(settings.get("spot_check"), "routing.spot_check", 0.0, 1.0) or 0.0,
                seed=_integer(settings.get("spot_check_seed"), "routing.spot_check_seed") or 0,
                temperature=temperature,
                target_purity=_number(settings.get("target_purity"), "routing.target_purity", 0.0, 1.0),
                notes=_notes(settings.get("notes")),
                min_support=_integer(settings.get("min_support"), "routing.min_support", 0),
                bound=_string(settings.get("bound"), "routing.bound"),
                confidence=_number(settings.get("confidence"), "routing.confidence", 0.0, 1.0),
                unknown_fpr=_number(settings.get("unknown_fpr"), "routing.unknown_fpr", 0.0, 1.0),
                calibrated_on=None if on is None else dataclasses.replace(
                    _typed(CalibratedOn, on, "routing.calibrated_on"),
                    sources=tuple(str(s) for s in (on.get("sources") or ()))),
                created=_string(settings.get("created"), "routing.created"),
                temperature_before=_number(settings.get("temperature_before"), "routing.temperature_before"),
                unknown_fit=fit,
                node_thresholds={str(k): _number(v, f"routing.node_thresholds.{k}", 0.0, 1.0)
                                 for k, v in nodes.items()},
                spot_check_by_leaf={str(k): _number(v, f"routing.spot_check_by_leaf.{k}", 0.0, 1.0) or 0.0
                                    for k, v in by_leaf.items()},
                method=_method(settings.get("method")),
                leaf_floor={str(k): _number(v, f"routing.leaf_floor.{k}", 0.0, 1.0) or 0.0 for k, v in floors.items()},
                ltt_starts=_integer(settings.get("ltt_starts"), "routing.ltt_starts", 1),
                flagged_climb=_flag(settings.get("flagged_climb"), "routing.flagged_climb"),
                flips=_flips(settings.get("flips")),
            )
        except (TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, RoutingError):
                raise
            raise RoutingError(f"manifest calibration holds malformed values ({exc})") from exc

    def to_manifest(self) -> dict[str, Any]:
        """The manifest's ``thresholds``, ``unknown`` and ``routing`` keys (the inverse of :meth:`from_manifest`)."""
        routing: dict[str, Any] = {
            "target_purity": self.target_purity, "min_support": self.min_support, "spot_check": self.spot_check,
            "spot_check_seed": self.seed, "bound": self.bound, "confidence": self.confidence,
            "unknown_fpr": self.unknown_fpr,
            "calibrated_on": None if self.calibrated_on is None else {
                **dataclasses.asdict(self.calibrated_on), "sources": list(self.calibrated_on.sources)},
            "created": self.created, "temperature_before": self.temperature_before, "notes": dict(self.notes),
            "node_thresholds": dict(self.node_thresholds) or None,
            "spot_check_by_leaf": dict(self.spot_check_by_leaf) or None, "method": self.method,
            "leaf_floor": dict(self.leaf_floor) or None, "ltt_starts": self.ltt_starts,
            "flagged_climb": self.flagged_climb or None, "flips": list(self.flips) or None,
        }
        out: dict[str, Any] = {
            "thresholds": dict(self.thresholds),
            "routing": {k: v for k, v in routing.items() if v is not None or k in ("spot_check", "notes")},
        }
        if self.unknown is not None:
            fit = {} if self.unknown_fit is None else {
                **dataclasses.asdict(self.unknown_fit), "auroc": dict(self.unknown_fit.auroc),
                "centroids_fitted_on": dict(self.unknown_fit.centroids_fitted_on)}
            out["unknown"] = {**self.unknown.to_manifest(), **fit}
        return out

    @property
    def stamp(self) -> str:
        """What a routing was made under: the calibration's time (``"undated"`` for one made before calibrations
        were dated). A store compares a stored prediction's stamp with the loaded bundle's to know whether its
        route, determined node and confidences are those of the calibration in use."""
        return self.created or "undated"

    @property
    def draws_spot_checks(self) -> bool:
        """True when some image can be drawn for a spot check (its content key is then needed)."""
        return self.spot_check > 0 or any(v > 0 for v in self.spot_check_by_leaf.values())

    def purity_floor(self, leaf: str) -> float:
        """The purity the monitor holds ``leaf``'s spot checks to: the target, or the leaf's lower floor."""
        target = float(self.target_purity or 0.0)
        return min(target, float(self.leaf_floor.get(leaf, target)))

    @property
    def starts_used(self) -> int | None:
        """The starting points ``ltt`` was fitted with: ``ltt_starts``, or 1 for an ltt calibration that does not
        record them (made when one start was the only kind); None for ``per-leaf``."""
        return self.ltt_starts or (1 if self.method == "ltt" else None)

    def spot_check_share(self, leaf: str) -> float:
        """The share of ``leaf``'s would-be-auto images drawn for a blind spot check."""
        return float(self.spot_check_by_leaf.get(leaf, self.spot_check))

    def route(
        self, *, leaf: str, confidence: float, unknown_score: float | None = None, key: str | None = None
    ) -> tuple[str, list[str]]:
        """Route one prediction; see :func:`route`."""
        return route(leaf=leaf, confidence=confidence, unknown_score=unknown_score, calibration=self, key=key)

    def determined(self, path: Sequence[str], path_scores: Sequence[float],
                   reasons: Sequence[str] = ()) -> tuple[str | None, int | None]:
        """The deepest node of a predicted path whose confidence meets its threshold, and its level (0 = group).

        Args:
            path: the predicted path, top-level group first, leaf last.
            path_scores: each node's confidence (the marginal of the leaf distribution).
            reasons: the image's routing reasons; ``possible_unknown`` means the leaf is not determined, and
                nothing is unless the node thresholds were fitted with flagged images climbing (``flagged_climb``).

        Returns:
            ``(node, level)``, or ``(None, None)`` when not even the group is determined.
        """
        last = len(path) - 1
        deepest = last
        if "possible_unknown" in reasons:
            if not self.flagged_climb:
                return None, None
            deepest = last - 1
        for level in range(deepest, -1, -1):
            node = path[level]
            cut = self.thresholds.get(node) if level == last else self.node_thresholds.get(node)
            if cut is not None and path_scores[level] >= cut:
                return node, level
        return None, None


def _number(value: Any, what: str, low: float = -math.inf, high: float = math.inf) -> float | None:
    """A finite JSON number within [low, high], or None for null."""
    if value is None:
        return None
    if not is_finite_number(value) or not low <= value <= high:
        bounds = "" if math.isinf(low) and math.isinf(high) else f" in [{low:g}, {high:g}]"
        raise RoutingError(f"manifest '{what}' must be a finite number{bounds} or null, got {value!r:.60}")
    return float(value)


def _integer(value: Any, what: str, low: int | None = None) -> int | None:
    """A JSON integer (>= ``low`` when given), or None for null."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
        bound = "" if low is None else f" >= {low}"
        raise RoutingError(f"manifest '{what}' must be an integer{bound} or null, got {value!r:.60}")
    return value


def _method(value: Any) -> str | None:
    """``routing.method``: ``ltt``, ``per-leaf`` or null (a calibration made before the choice existed)."""
    method = _string(value, "routing.method")
    if method not in (None, "ltt", "per-leaf"):
        raise RoutingError(f"manifest 'routing.method' must be 'ltt' or 'per-leaf', got {method!r:.60}")
    return method


def _flag(value: Any, what: str) -> bool:
    """A JSON boolean; null or absent is False."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RoutingError(f"manifest '{what}' must be true, false or null, got {value!r:.60}")
    return value


def _flips(value: Any) -> tuple[str, ...]:
    """``routing.flips``: a list of :data:`FLIPS` views; null or absent is none."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RoutingError(f"manifest 'routing.flips' must be a list of {', '.join(FLIPS)} or null, got {value!r:.60}")
    return tuple(value)


def _string(value: Any, what: str) -> str | None:
    """A JSON string, or None for null."""
    if value is not None and not isinstance(value, str):
        raise RoutingError(f"manifest '{what}' must be a string or null, got {value!r:.60}")
    return value


def _notes(value: Any) -> dict[str, str]:
    """``routing.notes``: leaf -> why it has no threshold."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RoutingError(f"manifest 'routing.notes' must be an object {{leaf: text}}, got {value!r:.60}")
    return {str(k): str(v) for k, v in value.items()}


def route(
    *,
    leaf: str,
    confidence: float,
    unknown_score: float | None,
    calibration: Calibration,
    key: str | None = None,
) -> tuple[str, list[str]]:
    """Route one prediction to ``"auto"`` or ``"rejudge"``, with the reason codes.

    Args:
        leaf: the predicted leaf id.
        confidence: its (temperature-scaled) confidence.
        unknown_score: the calibration's unknown score for the image, if computed.
        calibration: the bundle's calibration.
        key: the image's content key (:func:`image_key`) for the spot-check draw; without one, no
            spot check can be drawn.

    Returns:
        ``(route, reasons)``; ``reasons`` is empty exactly when the route is ``"auto"``.
    """
    reasons: list[str] = []
    threshold = calibration.thresholds.get(leaf)
    if threshold is None:
        reasons.append("leaf_below_target")
    elif confidence < threshold:
        reasons.append("low_confidence")
    detector = calibration.unknown
    if (
        unknown_score is not None
        and detector is not None
        and detector.threshold is not None
        and unknown_score > detector.threshold
    ):
        reasons.append("possible_unknown")
    share = calibration.spot_check_share(leaf)
    if not reasons and share > 0 and key is not None and spot_check_draw(key, calibration.seed) < share:
        reasons.append("spot_check")
    return (REJUDGE if reasons else AUTO), reasons


def route_batch(
    calibration: Calibration,
    leaves: Sequence[str],
    *,
    leaf_probs: np.ndarray,
    level_logits: Sequence[np.ndarray] | None = None,
    embeddings: np.ndarray | None = None,
    keys: Sequence[str | None] | None = None,
    stage_stats: Mapping[int, np.ndarray] | None = None,
    unknown_scores: np.ndarray | None = None,
) -> tuple[list[str], list[list[str]], np.ndarray | None]:
    """Route a batch: the unknown scores are computed at once, then :func:`route` per image.

    Args:
        calibration: the bundle's calibration.
        leaves: the taxonomy's leaf ids (column order of ``leaf_probs``).
        leaf_probs: (N, num_leaves) temperature-scaled leaf distribution.
        level_logits: raw logits per level (needed by the energy score).
        embeddings: (N, D) embeddings (needed by the embedding scores).
        keys: content keys for the spot-check draw (None: no spot check).
        stage_stats: stride -> (N, D_s) stage statistics (needed by the ``stages`` score).
        unknown_scores: the unknown scores when they are known already (a fused prediction keeps its image's).

    Returns:
        ``(routes, reasons, unknown_scores)``; the scores are None without an unknown detector.
    """
    probs = np.asarray(leaf_probs)
    scores = unknown_scores
    if scores is None and calibration.unknown is not None:
        scores = calibration.unknown.score(leaf_probs=probs, level_logits=level_logits, embeddings=embeddings,
                                           stage_stats=stage_stats)
    routes: list[str] = []
    reasons: list[list[str]] = []
    for i in range(len(probs)):
        best = int(np.argmax(probs[i]))
        r, why = route(
            leaf=leaves[best],
            confidence=float(probs[i, best]),
            unknown_score=None if scores is None else float(scores[i]),
            calibration=calibration,
            key=None if keys is None else keys[i],
        )
        routes.append(r)
        reasons.append(why)
    return routes, reasons, scores


def path_confidences(taxonomy: Taxonomy, leaf_probs: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The arg-max leaf of each row and, per tree level, the marginal confidence of its (padded) ancestor there.

    Returns:
        ``(best, scores)``: (N,) leaf indices, and per level an (N,) array.
    """
    probs = np.asarray(leaf_probs, dtype=np.float64)
    best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    scores = []
    for k in range(len(taxonomy.level_sizes)):
        column = taxonomy.leaf_level_index[:, k]
        same = column[None, :] == column[best][:, None]  # (N, leaves): leaves under the row's node at level k
        scores.append((probs * same).sum(axis=1))
    return best, scores


def determined_batch(calibration: Calibration, taxonomy: Taxonomy, leaf_probs: np.ndarray,
                     reasons: Sequence[Sequence[str]] | None = None) -> tuple[list[str | None], np.ndarray]:
    """:meth:`Calibration.determined` for every row of a leaf distribution.

    Returns:
        ``(nodes, levels)``: each row's determined node (None: nothing) and its level (-1: nothing).
    """
    best, scores = path_confidences(taxonomy, leaf_probs)
    nodes: list[str | None] = []
    levels = np.full(len(best), -1, dtype=np.int64)
    for i, b in enumerate(best):
        path = taxonomy.path(taxonomy.leaves[int(b)])
        node, level = calibration.determined(path, [float(scores[k][i]) for k in range(len(path))],
                                             () if reasons is None else reasons[i])
        nodes.append(node)
        if level is not None:
            levels[i] = level
    return nodes, levels


def routing_decisions(calibration: Calibration, taxonomy: Taxonomy, leaf_probs: np.ndarray,
                      unknown_scores: np.ndarray | None = None) -> list[tuple[str, str | None, tuple[str, ...]]]:
    """Per row of a temperature-scaled leaf distribution: ``(route, determined node, reasons)`` by the thresholds and,
    given the rows' ``unknown_scores``, the unknown detector's threshold (auto where the best leaf's confidence reaches
    its threshold and the score does not pass the detector's). The reasons are compared too: under
    ``flagged_climb`` a flag may move without the route or the node moving, and the analyst still sees "possible new
    type" come or go (and the queue filters by it); so does a flagged image's confidence crossing its threshold
    ("low_confidence"), under any calibration. What an inference path must not change
    (:func:`models.inference.agreement.agreement`); the spot-check draw is left out (it depends on the image's content
    only), and without ``unknown_scores`` so is the unknown score: a path that moves them across their threshold is
    then not caught here."""
    probs = np.asarray(leaf_probs)
    cal = calibration if unknown_scores is not None else dataclasses.replace(calibration, unknown=None)
    routes, reasons, _ = route_batch(cal, taxonomy.leaves, leaf_probs=probs, unknown_scores=unknown_scores)
    nodes, _ = determined_batch(calibration, taxonomy, probs, reasons)
    return [(route, node, tuple(why)) for route, node, why in zip(routes, nodes, reasons, strict=True)]
