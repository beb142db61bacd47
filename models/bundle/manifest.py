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
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from models.nn.config import LossConfig, NetworkConfig
from models.routing.policy import CALIBRATION_KEYS, Calibration, RoutingError
from models.taxonomy import Taxonomy, TaxonomyError

__all__ = [
    "FORMAT_VERSION",
    "SUPPORTED_FORMAT_VERSIONS",
    "BundleError",
    "BundleManifest",
    "InferenceRecord",
    "InitFrom",
    "OnnxGraph",
    "TrainInfo",
    "WeightsInfo",
    "taxonomy_from_json",
]

FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = frozenset({1})

T = TypeVar("T")


class BundleError(ValueError):
    """A model bundle cannot be written or read; the message says why."""


_SCALARS: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}


def _section(cls: type[T], data: Any, what: str) -> T:
    """Build the dataclass ``cls`` from the JSON object ``data``.

    Unknown keys are refused, and so is a value whose JSON type does not fit a scalar field (``str``, ``int``,
    ``float``, ``bool``, optionally ``| None``); nested objects are checked by their own sections.
    """
    if not isinstance(data, Mapping):
        raise BundleError(f"manifest '{what}' must be an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(map(str, set(data) - set(fields)))
    if unknown:
        raise BundleError(f"manifest '{what}' has unknown key(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(fields))}")
    for key, value in data.items():
        options = [o.strip() for o in str(fields[key].type).split("|")]
        scalars = [o for o in options if o != "None"]
        if not scalars or not all(o in _SCALARS for o in scalars):
            continue  # a nested or container field: checked where it is built
        allowed = tuple(kind for o in scalars for kind in _SCALARS[o])
        if value is None and "None" in options:
            continue
        if value is None or not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise BundleError(f"manifest '{what}.{key}' must be {' or '.join(options)}, got {value!r}")
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError(f"manifest '{what}': {exc}") from exc


@dataclass(frozen=True)
class WeightsInfo:
    """``weights``: the safetensors file and its sha256 (checked on every load when present)."""

    file: str = "weights.safetensors"
    sha256: str | None = None
    dtype: str = "float32"
    bytes: int = 0


@dataclass(frozen=True)
class InitFrom:
    """``train.init_from``: the bundle a fine-tuning run started from."""

    path: str
    model_version: str


@dataclass(frozen=True)
class TrainInfo:
    """``train``: how the weights were made (provenance; nothing here is needed to run the model).

    ``config`` is the training config as written by :meth:`models.training.config.TrainConfig.to_dict`,
    kept as plain JSON so that a bundle made by an older or newer trainer still loads.
    """

    config: Mapping[str, Any] = field(default_factory=dict)
    data_hash: str = ""
    data_sources: tuple[str, ...] = ()
    n_train: int = 0
    n_val: int = 0
    n_outliers: int = 0
    best_epoch: int | None = None
    epochs_run: int | None = None
    seconds: float | None = None
    device: str | None = None
    world_size: int | None = None
    torch: str | None = None
    init_from: InitFrom | None = None

    @classmethod
    def from_json(cls, data: Any) -> TrainInfo:
        info = _section(cls, data, "train")
        init = info.init_from
        return dataclasses.replace(
            info, data_sources=tuple(str(s) for s in info.data_sources),
            init_from=_section(InitFrom, init, "train.init_from") if isinstance(init, Mapping) else init)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["data_sources"] = list(self.data_sources)
        out["config"] = dict(self.config)
        return out


@dataclass(frozen=True)
class OnnxGraph:
    """``inference.onnx``: the stored ONNX graph of the chosen path (a protobuf, never a pickle)."""

    path: str
    file: str
    sha256: str
    bytes: int = 0


@dataclass(frozen=True)
class InferenceRecord:
    """``inference``: the inference path ``fma-model optimize`` measured and chose (see :mod:`models.inference.engine`).

    ``candidates``, ``tuning`` and ``thread_probe`` are the measurement tables (one JSON object per path,
    setting or thread count tried).
    """

    format: int
    path: str
    batch_size: int | None = None
    threads: int | None = None
    family: str = ""
    backbone: str = ""
    speedup_vs_eager: float | None = None
    images: int = 0
    criteria: Mapping[str, Any] = field(default_factory=dict)
    temperature: float = 1.0
    weights_sha256: str | None = None
    machine: Mapping[str, Any] = field(default_factory=dict)
    measured_at: str = ""
    candidates: tuple[Mapping[str, Any], ...] = ()
    tuning: tuple[Mapping[str, Any], ...] = ()
    thread_probe: tuple[Mapping[str, Any], ...] = ()
    onnx: OnnxGraph | None = None

    @classmethod
    def from_json(cls, data: Any) -> InferenceRecord:
        rec = _section(cls, data, "inference")
        return dataclasses.replace(
            rec, candidates=tuple(rec.candidates), tuning=tuple(rec.tuning), thread_probe=tuple(rec.thread_probe),
            onnx=_section(OnnxGraph, rec.onnx, "inference.onnx") if isinstance(rec.onnx, Mapping) else rec.onnx)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["candidates"] = [dict(c) for c in self.candidates]
        out["tuning"] = [dict(c) for c in self.tuning]
        out["thread_probe"] = [dict(c) for c in self.thread_probe]
        if self.onnx is None:
            del out["onnx"]
        return out


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
    def target_purity(self) -> float | None:
        return None if self.calibration is None else self.calibration.target_purity

    # -- JSON -------------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: Any, *, source: str = "manifest.json") -> BundleManifest:
        """Parse a manifest object.

        Raises:
            BundleError: not an object, an unsupported ``format_version``, a missing or unknown key, a
                malformed section, or a taxonomy that does not match its fingerprint.
        """
        if not isinstance(data, Mapping):
            raise BundleError(f"{source}: expected a JSON object")
        version = data.get("format_version")
        if version not in SUPPORTED_FORMAT_VERSIONS:
            raise BundleError(
                f"{source}: unsupported bundle format_version {version!r}; this fma-judge reads "
                f"{sorted(SUPPORTED_FORMAT_VERSIONS)}. Upgrade fma-judge or re-export the model.")
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise BundleError(f"{source}: missing keys {', '.join(missing)}")
        unknown = sorted(set(data) - _KNOWN)
        if unknown:
            raise BundleError(f"{source}: unknown key(s) {', '.join(unknown)}; a newer fma-judge may have "
                              "written this bundle")
        taxonomy = taxonomy_from_json(data, source=source)
        fingerprint = data.get("taxonomy_fingerprint")
        if fingerprint and fingerprint != taxonomy.fingerprint():
            raise BundleError(f"{source}: taxonomy_fingerprint does not match the embedded taxonomy "
                              "(the tree was edited after training; its weights no longer fit it)")
        try:
            network = NetworkConfig.from_dict(data["network"])
            loss = LossConfig.from_dict(data["loss"]) if data.get("loss") else None
        except (TypeError, ValueError) as exc:
            raise BundleError(f"{source}: cannot rebuild the network from the manifest: {exc}") from exc
        for key, value in (("backbone", network.backbone), ("head", network.head)):
            if key in data and data[key] != value:
                raise BundleError(f"{source}: '{key}' {data[key]!r} disagrees with network.{key} {value!r}")
        temperature = data.get("temperature")
        try:
            calibration = Calibration.from_manifest(data)
        except RoutingError as exc:
            raise BundleError(f"{source}: invalid calibration in the manifest: {exc}") from exc
        return cls(
            format_version=int(version),
            name=str(data.get("name") or "fma-model"),
            model_version=str(data["model_version"] or ""),
            created=str(data.get("created") or ""),
            taxonomy=taxonomy,
            network=network,
            loss=loss,
            input_size=_ints(data["input_size"], 3, "input_size", source),
            mean=_floats(data["mean"], 3, "mean", source),
            std=_floats(data["std"], 3, "std", source),
            interpolation=str(data.get("interpolation") or "bicubic"),
            train=TrainInfo.from_json(data["train"]) if data.get("train") is not None else None,
            metrics=dict(data.get("metrics") or {}),
            weights=None if data.get("weights") is None else _section(WeightsInfo, data["weights"], "weights"),
            temperature=None if temperature is None else _finite(temperature, "temperature", source),
            calibration=calibration,
            inference=None if data.get("inference") is None else InferenceRecord.from_json(data["inference"]),
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
        return out

    def replace(self, **changes: Any) -> BundleManifest:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


def taxonomy_from_json(data: Mapping[str, Any], *, source: str = "manifest.json") -> Taxonomy:
    """Only the embedded taxonomy of a manifest object (e.g. one stored with a model version in the database).

    Raises:
        BundleError: no taxonomy, or an invalid one.
    """
    try:
        return Taxonomy.from_dict(dict(data["taxonomy"]), source=f"{source}#taxonomy")
    except KeyError:
        raise BundleError(f"{source}: missing keys taxonomy") from None
    except (TaxonomyError, TypeError, ValueError) as exc:
        raise BundleError(f"{source}: the embedded taxonomy is invalid: {exc}") from exc


_REQUIRED = ("taxonomy", "network", "input_size", "mean", "std", "model_version")
_KNOWN = frozenset({
    "format_version", "name", "model_version", "created", "taxonomy", "taxonomy_fingerprint", "backbone", "head",
    "network", "loss", "input_size", "mean", "std", "interpolation", "train", "metrics", "weights", "inference",
    *CALIBRATION_KEYS,
})  # fmt: skip


def _finite(value: Any, what: str, source: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = math.nan
    if isinstance(value, bool) or not math.isfinite(out):
        raise BundleError(f"{source}: '{what}' must be a finite number, got {value!r}")
    return out


def _floats(values: Any, n: int, what: str, source: str) -> tuple[float, ...]:
    if not isinstance(values, list | tuple) or len(values) != n:
        raise BundleError(f"{source}: '{what}' must be a list of {n} numbers, got {values!r}")
    return tuple(_finite(v, what, source) for v in values)


def _ints(values: Any, n: int, what: str, source: str) -> tuple[int, ...]:
    if (not isinstance(values, list | tuple) or len(values) != n
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)):
        raise BundleError(f"{source}: '{what}' must be a list of {n} positive integers, got {values!r}")
    return tuple(int(v) for v in values)
