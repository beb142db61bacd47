"""The typed ``manifest.json`` of a model bundle: frozen dataclasses, no torch.

:class:`BundleManifest` is read once from JSON (:meth:`BundleManifest.from_json`: unknown keys are
refused in every typed section, ``format_version`` is checked) and written once
(:meth:`BundleManifest.to_json`). Every other module reads attributes, never string keys. A calibration
is the ``temperature`` field and a :class:`models.routing.policy.Calibration`, whose ``from_manifest`` and
``to_manifest`` are the one reader and writer of the ``thresholds``, ``unknown`` and ``routing`` keys (the two
temperatures must agree). Measurement tables (``inference.candidates``, ``metrics``, ``train.config``) stay
plain JSON objects: they are reported, not interpreted.

This module imports neither torch nor timm, so the app's store and UI thread can hold a manifest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from models.bundle.records import (
    InferenceRecord,
    InitFrom,
    MultiLabelRecord,
    OnnxGraph,
    RuntimeGraph,
    RuntimeRecord,
    RuntimeReference,
    SpectrumRecord,
    TrainInfo,
    WeightsInfo,
)
from models.bundle.sections import INPUT_SIDE_RANGE, BundleError, section, short
from models.nn.config import LossConfig, NetworkConfig
from models.routing.policy import CALIBRATION_KEYS, Calibration, RoutingError
from models.routing.unknown import is_finite_number
from models.taxonomy import Taxonomy, TaxonomyError

__all__ = [
    "FORMAT_VERSION",
    "SUPPORTED_FORMAT_VERSIONS",
    "BundleError",
    "BundleManifest",
    "InferenceRecord",
    "InitFrom",
    "MultiLabelRecord",
    "OnnxGraph",
    "RuntimeGraph",
    "RuntimeRecord",
    "RuntimeReference",
    "SpectrumRecord",
    "TrainInfo",
    "WeightsInfo",
    "taxonomy_from_json",
]

FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = frozenset({1})


@dataclass(frozen=True)
class BundleManifest:
    """Everything a bundle says about its weights.

    Attributes:
        format_version: the bundle format (:data:`SUPPORTED_FORMAT_VERSIONS`).
        name: a short model name (part of ``model_version``).
        model_version: ``<name>-<yyyymmddHHMMSS>-<sha8>``; empty until the bundle is saved.
        created: ISO 8601 time of saving; empty until saved.
        taxonomy: the embedded taxonomy (its fingerprint is written beside it and checked on reading).
        network: how to rebuild the network.
        loss: the training loss (provenance; None when the bundle does not say).
        input_size: ``(channels, height, width)`` the network expects.
        mean, std: the input normalisation.
        interpolation: the resize filter of preprocessing.
        train: training provenance (None when the bundle does not say).
        metrics: validation metrics at the best epoch (the ``metrics.json`` keys of ``evaluate``).
        weights: the weights file and its hash; None until saved.
        temperature: the fitted softmax temperature (``calibrate``); None = 1.
        calibration: per-leaf thresholds, unknown-defect score and routing settings; None = not calibrated.
        inference: the measured inference path (``optimize``); None = not measured.
        runtime: the graphs of the torch-free workstation runtime (``export-runtime``); None = none exported.
        spectrum: the FTIR spectrum head fused with the image model, and its routing; None = image only.
        multilabel: a multi-label bundle's per-leaf presence thresholds; None = 0.5 for every leaf
            (:func:`models.inference.outputs.presence_thresholds`).
    """

    taxonomy: Taxonomy
    network: NetworkConfig
    input_size: tuple[int, int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"
    loss: LossConfig | None = None
    name: str = "fma-model"
    model_version: str = ""
    created: str = ""
    format_version: int = FORMAT_VERSION
    train: TrainInfo | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    weights: WeightsInfo | None = None
    temperature: float | None = None
    calibration: Calibration | None = None
    inference: InferenceRecord | None = None
    runtime: RuntimeRecord | None = None
    spectrum: SpectrumRecord | None = None
    multilabel: MultiLabelRecord | None = None

    def __post_init__(self) -> None:
        if self.calibration is not None and abs(self.effective_temperature - self.calibration.temperature) > 1e-12:
            raise BundleError(f"the manifest's temperature {self.effective_temperature} differs from its "
                              f"calibration's {self.calibration.temperature}")

    # -- derived ----------------------------------------------------------------------------------
    @property
    def n_outliers(self) -> int:
        """Outlier-exposure images the weights were trained with (0 when the bundle does not say)."""
        return self.train.n_outliers if self.train is not None else 0

    @property
    def hw(self) -> tuple[int, int]:
        """(height, width) of the network input."""
        return int(self.input_size[1]), int(self.input_size[2])

    @property
    def is_flat(self) -> bool:
        """One leaf classifier (its ancestor levels are marginals) instead of one head per level."""
        return self.network.head == "flat"

    @property
    def effective_temperature(self) -> float:
        """The temperature the Predictor divides logits by (1 when never calibrated)."""
        return float(self.temperature or 1.0)

    @property
    def fuses_spectra(self) -> bool:
        """Whether a prediction fuses the image's FTIR spectra: the bundle has a spectrum head, and either no
        routing or a fused one (a calibrated bundle whose head was never calibrated judges images alone: its
        routing promise was measured on images alone). A multi-label bundle does not: the fusion multiplies
        distributions over leaves, and its scores are not one; nor does a head whose fusion weight is 0 (the
        validation images were judged best by the image alone)."""
        return (self.spectrum is not None and not self.is_multilabel and self.spectrum.weight > 0
                and (self.calibration is None or self.spectrum.is_calibrated))

    @property
    def fused_calibration(self) -> Calibration | None:
        """The routing of a prediction fused with spectra: the calibration with the spectrum head's leaf and node
        thresholds and leaf floors (its temperature, unknown detector and other settings kept: the unknown score
        stays the image's); None when predictions do not fuse or the bundle is not calibrated."""
        if self.calibration is None or self.spectrum is None or not self.fuses_spectra:
            return None
        record = self.spectrum
        return dataclasses.replace(self.calibration, thresholds=dict(record.thresholds),
                                   node_thresholds=dict(record.node_thresholds), leaf_floor=dict(record.leaf_floor))

    @property
    def is_multilabel(self) -> bool:
        """Per-level sigmoid heads (``loss.kind: multilabel``): an image may show several leaves (issue #20)."""
        return self.loss is not None and self.loss.kind == "multilabel"

    @property
    def routing_stamp(self) -> str | None:
        """What this bundle's routing was made under, as a store compares it with a stored prediction's: the
        calibration's :attr:`~models.routing.policy.Calibration.stamp`, a calibrated multi-label bundle's
        ``sets <time>``, or None (not routed)."""
        if self.calibration is not None:
            return self.calibration.stamp
        if self.is_multilabel and self.multilabel is not None and self.multilabel.is_calibrated:
            return f"sets {self.multilabel.routing.get('created') or 'undated'}"
        return None

    @property
    def target_purity(self) -> float | None:
        return None if self.calibration is None else self.calibration.target_purity

    # -- JSON -------------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: Any, *, source: str = "manifest.json") -> BundleManifest:
        """Parse a manifest object, checking every field: its JSON type, and its range where it has one.

        Raises:
            BundleError: naming ``source`` and the field: not an object, an unsupported ``format_version``, a
                missing or unknown key, a value of the wrong type or out of range (``input_size``, ``mean``,
                ``std``, ``temperature``, the calibration ...), a malformed section, or a taxonomy that does not
                match its fingerprint.
        """
        _check_keys(data, source)
        taxonomy = taxonomy_from_json(data, source=source)
        fingerprint = _text(data, "taxonomy_fingerprint", source)
        if fingerprint and fingerprint != taxonomy.fingerprint():
            raise BundleError(f"{source}: taxonomy_fingerprint does not match the embedded taxonomy "
                              "(the tree was edited after training; its weights no longer fit it)")
        network, loss = _network(data, source)
        temperature = data.get("temperature")
        temperature = None if temperature is None else _finite(temperature, "temperature", source, positive=True)
        try:
            calibration = Calibration.from_manifest(data)
        except RoutingError as exc:
            raise BundleError(f"{source}: invalid calibration in the manifest: {exc}") from exc
        train, weights, inference = data.get("train"), data.get("weights"), data.get("inference")
        runtime, spectrum, multilabel = data.get("runtime"), data.get("spectrum"), data.get("multilabel")
        return cls(
            format_version=int(data["format_version"]),
            name=_text(data, "name", source) or "fma-model",
            model_version=_text(data, "model_version", source),
            created=_text(data, "created", source),
            taxonomy=taxonomy,
            network=network,
            loss=loss,
            input_size=_input_size(data["input_size"], source),
            mean=_floats(data["mean"], "mean", source),
            std=_floats(data["std"], "std", source, positive=True),
            interpolation=_text(data, "interpolation", source) or "bicubic",
            train=None if train is None else TrainInfo.from_json(train, source=source),
            metrics=dict(_object(data.get("metrics"), "metrics", source)),
            weights=None if weights is None else section(WeightsInfo, weights, "weights", source),
            temperature=temperature,
            calibration=calibration,
            inference=None if inference is None else InferenceRecord.from_json(inference, source=source),
            runtime=None if runtime is None else RuntimeRecord.from_json(runtime, source=source),
            spectrum=None if spectrum is None else SpectrumRecord.from_json(spectrum, source=source),
            multilabel=None if multilabel is None else MultiLabelRecord.from_json(multilabel, source=source),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``manifest.json`` object (the inverse of :meth:`from_json`)."""
        out: dict[str, Any] = {
            "format_version": self.format_version,
            "name": self.name,
            "model_version": self.model_version or None,
            "created": self.created or None,
            "taxonomy": self.taxonomy.to_dict(),
            "taxonomy_fingerprint": self.taxonomy.fingerprint(),
            "backbone": self.network.backbone,
            "head": self.network.head,
            "network": self.network.to_dict(),
            "loss": {} if self.loss is None else self.loss.to_dict(),
            "input_size": list(self.input_size),
            "mean": list(self.mean),
            "std": list(self.std),
            "interpolation": self.interpolation,
            "metrics": dict(self.metrics),
        }
        if self.train is not None:
            out["train"] = self.train.to_json()
        if self.weights is not None:
            out["weights"] = dataclasses.asdict(self.weights)
        if self.temperature is not None:
            out["temperature"] = self.temperature
        if self.calibration is not None:
            out.update(self.calibration.to_manifest())
        if self.inference is not None:
            out["inference"] = self.inference.to_json()
        if self.runtime is not None:
            out["runtime"] = self.runtime.to_json()
        if self.spectrum is not None:
            out["spectrum"] = self.spectrum.to_json()
        if self.multilabel is not None:
            out["multilabel"] = self.multilabel.to_json()
        return out

    def replace(self, **changes: Any) -> BundleManifest:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


def taxonomy_from_json(data: Mapping[str, Any], *, source: str = "manifest.json") -> Taxonomy:
    """Only the embedded taxonomy of a manifest object (e.g. one stored with a model version in the database).

    Raises:
        BundleError: no taxonomy, or an invalid one.
    """
    if "taxonomy" not in data:
        raise BundleError(f"{source}: missing keys taxonomy")
    tree = data["taxonomy"]
    if not isinstance(tree, Mapping):
        raise BundleError(f"{source}: 'taxonomy' must be an object (the defect tree), got {short(tree)}")
    try:
        return Taxonomy.from_dict(dict(tree), source=f"{source}#taxonomy")
    except (TaxonomyError, TypeError, ValueError) as exc:
        raise BundleError(f"{source}: the embedded taxonomy is invalid: {exc}") from exc


_REQUIRED = ("taxonomy", "network", "input_size", "mean", "std", "model_version")
_KNOWN = frozenset({
    "format_version", "name", "model_version", "created", "taxonomy", "taxonomy_fingerprint", "backbone", "head",
    "network", "loss", "input_size", "mean", "std", "interpolation", "train", "metrics", "weights", "inference",
    "runtime", "spectrum", "multilabel", *CALIBRATION_KEYS,
})  # fmt: skip
_TEXT = ("name", "model_version", "created", "taxonomy_fingerprint", "backbone", "head", "interpolation")
"""The top-level keys that hold a string (or null)."""


def _check_keys(data: Any, source: str) -> None:
    """The top level: an object of a supported ``format_version``, no key missing or unknown, strings as strings."""
    if not isinstance(data, Mapping):
        raise BundleError(f"{source}: expected a JSON object")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in SUPPORTED_FORMAT_VERSIONS:
        raise BundleError(
            f"{source}: unsupported bundle format_version {short(version)}; this fma-judge reads "
            f"{sorted(SUPPORTED_FORMAT_VERSIONS)}. Upgrade fma-judge or re-export the model.")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise BundleError(f"{source}: missing keys {', '.join(missing)}")
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise BundleError(f"{source}: unknown key(s) {', '.join(unknown)}; a newer fma-judge may have "
                          "written this bundle")
    for key in _TEXT:
        _text(data, key, source)


def _network(data: Mapping[str, Any], source: str) -> tuple[NetworkConfig, LossConfig | None]:
    """The network and loss configs; ``backbone`` and ``head`` beside them must agree with the network's."""
    try:
        network = NetworkConfig.from_dict(data["network"])
        loss = LossConfig.from_dict(data["loss"]) if data.get("loss") else None
    except (TypeError, ValueError, OverflowError) as exc:
        raise BundleError(f"{source}: cannot rebuild the network from the manifest: {exc}") from exc
    for key, value in (("backbone", network.backbone), ("head", network.head)):
        if key in data and data[key] != value:
            raise BundleError(f"{source}: '{key}' {short(data[key])} disagrees with network.{key} {value!r}")
    return network, loss


def _text(data: Mapping[str, Any], key: str, source: str) -> str:
    """The string at ``key`` ("" when absent or null)."""
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise BundleError(f"{source}: '{key}' must be a string, got {short(value)}")
    return value or ""


def _object(value: Any, what: str, source: str) -> Mapping[str, Any]:
    """A JSON object ({} for null)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BundleError(f"{source}: '{what}' must be an object, got {short(value)}")
    return value


def _finite(value: Any, what: str, source: str, *, positive: bool = False) -> float:
    """A finite JSON number (> 0 when ``positive``)."""
    if not is_finite_number(value) or (positive and value <= 0):
        kind = "a positive finite number" if positive else "a finite number"
        raise BundleError(f"{source}: '{what}' must be {kind}, got {short(value)}")
    return float(value)


def _floats(values: Any, what: str, source: str, *, positive: bool = False) -> tuple[float, float, float]:
    """Three finite numbers, one per colour channel (each > 0 when ``positive``)."""
    if not isinstance(values, list | tuple) or len(values) != 3:
        raise BundleError(f"{source}: '{what}' must be a list of 3 numbers (one per RGB channel), "
                          f"got {short(values)}")
    a, b, c = (_finite(v, what, source, positive=positive) for v in values)
    return a, b, c


def _input_size(values: Any, source: str) -> tuple[int, int, int]:
    """``[3, height, width]``, each side an integer within :data:`INPUT_SIDE_RANGE`."""
    low, high = INPUT_SIDE_RANGE
    if (not isinstance(values, list | tuple) or len(values) != 3 or values[0] != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in values)
            or not all(low <= v <= high for v in values[1:])):
        raise BundleError(f"{source}: 'input_size' must be [3, height, width] with height and width integers "
                          f"between {low} and {high}, got {short(values)}")
    return 3, int(values[1]), int(values[2])
