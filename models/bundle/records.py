"""The typed sections of a bundle's ``manifest.json`` beside the network: weights, training provenance, the measured
inference path, the workstation runtime's graphs and the spectrum head. Frozen dataclasses read by
:func:`models.bundle.sections.section`; no torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from models.bundle.sections import BundleError, section, short, within

__all__ = ["InferenceRecord", "InitFrom", "MultiLabelRecord", "OnnxGraph", "RuntimeGraph", "RuntimeRecord",
           "RuntimeReference", "SpectrumRecord", "TrainInfo", "WeightsInfo"]


@dataclass(frozen=True)
class WeightsInfo:
    """``weights``: the safetensors file and its sha256 (checked on every load when present)."""

    file: str = "weights.safetensors"
    sha256: str | None = None
    dtype: str = "float32"
    bytes: int = field(default=0, metadata=within(0))


@dataclass(frozen=True)
class InitFrom:
    """``train.init_from``: the bundle a fine-tuning run started from."""

    path: str
    model_version: str


@dataclass(frozen=True)
class TrainInfo:
    """``train``: how the weights were made (provenance; nothing here is needed to run the model).

    ``config`` is the training config as written by :meth:`models.training.config.TrainConfig.to_dict`,
    kept as plain JSON so that a bundle made by an older or newer trainer still loads. ``data_choices``: what
    ``train`` chose from its data for each setting (``{key: {value, source: "auto"|"config", reason}}``,
    see :mod:`models.training.inspection`), plain JSON for the same reason; empty in older bundles.
    """

    config: Mapping[str, Any] = field(default_factory=dict)
    data_hash: str = ""
    data_sources: tuple[str, ...] = ()
    n_train: int = field(default=0, metadata=within(0))
    n_val: int = field(default=0, metadata=within(0))
    n_outliers: int = field(default=0, metadata=within(0))
    best_epoch: int | None = field(default=None, metadata=within(0))
    epochs_run: int | None = field(default=None, metadata=within(0))
    seconds: float | None = field(default=None, metadata=within(0))
    device: str | None = None
    world_size: int | None = field(default=None, metadata=within(1))
    torch: str | None = None
    init_from: InitFrom | None = None
    data_choices: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any, *, source: str = "manifest.json") -> TrainInfo:
        info = section(cls, data, "train", source)
        init = info.init_from
        return dataclasses.replace(
            info, data_sources=tuple(info.data_sources),
            init_from=None if init is None else section(InitFrom, init, "train.init_from", source))

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["data_sources"] = list(self.data_sources)
        out["config"] = dict(self.config)
        if self.data_choices:
            out["data_choices"] = dict(self.data_choices)
        else:  # older bundles have none: they round-trip unchanged
            del out["data_choices"]
        return out


@dataclass(frozen=True)
class OnnxGraph:
    """``inference.onnx``: the stored ONNX graph of the chosen path (a protobuf, never a pickle)."""

    path: str
    file: str
    sha256: str
    bytes: int = field(default=0, metadata=within(0))


@dataclass(frozen=True)
class InferenceRecord:
    """``inference``: the inference path ``fma-model optimize`` measured and chose (see :mod:`models.inference.engine`).

    ``candidates``, ``tuning`` and ``thread_probe`` are the measurement tables (one JSON object per path,
    setting or thread count tried); ``interleaved`` the chosen setting timed in alternation with eager
    (:meth:`models.inference.interleave.Interleaved.to_json`; ``speedup_vs_eager`` is then its median per-round
    ratio), empty when eager won the screening or the bundle was optimised before issue #21. A path the check found
    no faster gives way to the next-fastest accepted one (up to three are checked): ``rejected_paths`` names those
    dropped (``rejected_path`` the first); when every one was dropped for eager, the timing is the last one's
    (``speedup_vs_eager`` is then 1).
    """

    format: int
    path: str
    batch_size: int | None = field(default=None, metadata=within(1, 4096))
    threads: int | None = field(default=None, metadata=within(1, 4096))
    family: str = ""
    backbone: str = ""
    speedup_vs_eager: float | None = field(default=None, metadata=within(0, strict=True))
    images: int = field(default=0, metadata=within(0))
    criteria: Mapping[str, Any] = field(default_factory=dict)
    temperature: float = field(default=1.0, metadata=within(0, strict=True))
    weights_sha256: str | None = None
    machine: Mapping[str, Any] = field(default_factory=dict)
    measured_at: str = ""
    candidates: tuple[Mapping[str, Any], ...] = ()
    tuning: tuple[Mapping[str, Any], ...] = ()
    thread_probe: tuple[Mapping[str, Any], ...] = ()
    onnx: OnnxGraph | None = None
    interleaved: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any, *, source: str = "manifest.json") -> InferenceRecord:
        rec = section(cls, data, "inference", source)
        return dataclasses.replace(
            rec, candidates=tuple(rec.candidates), tuning=tuple(rec.tuning), thread_probe=tuple(rec.thread_probe),
            onnx=None if rec.onnx is None else section(OnnxGraph, rec.onnx, "inference.onnx", source))

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["candidates"] = [dict(c) for c in self.candidates]
        out["tuning"] = [dict(c) for c in self.tuning]
        out["thread_probe"] = [dict(c) for c in self.thread_probe]
        if self.onnx is None:
            del out["onnx"]
        return out


@dataclass(frozen=True)
class RuntimeGraph:
    """One ONNX graph of the workstation runtime (a protobuf, never a pickle), checked by its sha256 on loading."""

    file: str
    sha256: str
    bytes: int = field(default=0, metadata=within(0))


@dataclass(frozen=True)
class RuntimeReference:
    """``runtime.reference``: an image kept in the bundle with the leaf and confidence the torch path gave it, so that
    ``fma-judge --self-test`` can check, on the workstation, that the installed model still predicts it."""

    file: str
    sha256: str
    leaf: str
    confidence: float = field(metadata=within(0, 1))


@dataclass(frozen=True)
class RuntimeRecord:
    """``runtime``: the graphs the torch-free workstation runtime runs (``fma-model export-runtime``).

    ``predict`` maps a preprocessed batch to the raw level logits, the embedding, the channel statistics of the
    ``stage_strides`` stages (the "stages" unknown score) and, with CBAM, the CBAM heatmap. ``heatmap`` (None when
    the network could not be exported with its gradient) maps ``heatmap_views`` images and one leaf index each to
    their LayerCAM at the stage of stride ``heatmap_stride``: the gradient is part of the graph. ``parity`` is what
    the export measured against the torch path. Made for the weights of ``weights_sha256`` only.
    """

    format: int
    weights_sha256: str
    predict: RuntimeGraph
    outputs: tuple[str, ...] = ()
    stage_strides: tuple[int, ...] = ()
    has_cbam: bool = False
    heatmap: RuntimeGraph | None = None
    heatmap_views: int = field(default=4, metadata=within(1, 64))
    heatmap_stride: int | None = field(default=None, metadata=within(1, 1024))
    parity: Mapping[str, Any] = field(default_factory=dict)
    reference: RuntimeReference | None = None
    exported_at: str = ""
    torch: str = ""

    @classmethod
    def from_json(cls, data: Any, *, source: str = "manifest.json") -> RuntimeRecord:
        rec = section(cls, data, "runtime", source)
        return dataclasses.replace(
            rec, outputs=tuple(rec.outputs), stage_strides=tuple(int(s) for s in rec.stage_strides),
            predict=section(RuntimeGraph, rec.predict, "runtime.predict", source),
            heatmap=None if rec.heatmap is None else section(RuntimeGraph, rec.heatmap, "runtime.heatmap", source),
            reference=None if rec.reference is None else section(RuntimeReference, rec.reference, "runtime.reference",
                                                                  source))

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["outputs"], out["stage_strides"], out["parity"] = list(self.outputs), list(self.stage_strides), dict(self.parity)
        if self.reference is None:
            del out["reference"]
        return out


@dataclass(frozen=True)
class SpectrumRecord:
    """``spectrum``: the FTIR spectrum head beside the image network (issue #20), made by ``fma-model train`` with
    ``network.spectrum: true`` or added to a trained bundle by ``fma-model spectrum``.

    ``file`` holds the head's weights (safetensors, checked by ``sha256``), ``features`` names the recipe its
    input is made with (:data:`models.spectra.head.FEATURES`; a bundle of another recipe is refused rather than
    fed the wrong numbers), ``weight`` is the fusion weight chosen on validation images. The fused routing
    (``fma-model calibrate`` on images with spectra) is ``thresholds`` (leaf), ``node_thresholds`` (group and
    subgroup) and ``leaf_floor``, in the meaning of :class:`models.routing.policy.Calibration`; empty until then,
    and an image with a spectrum is then routed by the image calibration on its image-only confidence.
    """

    file: str
    sha256: str
    features: str
    weight: float = field(metadata=within(0))
    bytes: int = field(default=0, metadata=within(0))
    epoch: int | None = field(default=None, metadata=within(0))
    n_train: int = field(default=0, metadata=within(0))
    n_val: int = field(default=0, metadata=within(0))
    val_top1_alone: float | None = field(default=None, metadata=within(0, 1))
    val_top1_by_weight: Mapping[str, Any] = field(default_factory=dict)
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    node_thresholds: Mapping[str, Any] = field(default_factory=dict)
    leaf_floor: Mapping[str, Any] = field(default_factory=dict)
    calibrated_on: Mapping[str, Any] = field(default_factory=dict)
    created: str = ""

    @classmethod
    def from_json(cls, data: Any, *, source: str = "manifest.json") -> SpectrumRecord:
        rec = section(cls, data, "spectrum", source)
        for name in ("thresholds", "node_thresholds", "leaf_floor"):
            for node, value in getattr(rec, name).items():
                if value is None and name != "leaf_floor":
                    continue
                if not (isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0):
                    raise BundleError(f"{source}: 'spectrum.{name}.{node}' must be a number in [0, 1]"
                                      f"{'' if name == 'leaf_floor' else ' or null'}, got {short(value)}")
        return rec

    @property
    def is_calibrated(self) -> bool:
        """Whether the fused routing was fitted (``fma-model calibrate`` on images with spectra)."""
        return bool(self.thresholds)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for name in ("val_top1_by_weight", "thresholds", "node_thresholds", "leaf_floor", "calibrated_on"):
            out[name] = dict(getattr(self, name))
        return out


@dataclass(frozen=True)
class MultiLabelRecord:
    """``multilabel``: a multi-label bundle's presence thresholds and set routing (issue #20).

    ``thresholds`` are chosen by ``fma-model train`` on the validation images: leaf id -> the presence score from
    which the leaf is in an image's predicted set (the best F1 of that leaf on the validation images; a leaf with
    fewer than ``min_positives`` validation images showing it keeps :data:`models.inference.outputs.PRESENT`).
    ``f1``: each chosen leaf's validation F1 at 0.5 and at its threshold (provenance). A bundle without the section
    uses 0.5 for every leaf.

    The routing is fitted by ``fma-model calibrate`` (:mod:`models.calibration.sets`): an image is auto-judged when
    its set confidence (:func:`models.inference.outputs.set_confidence`) reaches ``set_threshold``, chosen so that the
    auto-judged images' predicted sets are exactly right with purity ``target_purity`` (Learn-then-Test, at the
    confidence in ``routing``); None with a ``target_purity``: no threshold reached it, every image goes to a
    person. ``routing`` holds the figures behind it (plain JSON, reported). Without ``target_purity`` the bundle is
    not calibrated and its predictions are not routed.
    """

    thresholds: Mapping[str, Any] = field(default_factory=dict)
    n_val: int = field(default=0, metadata=within(0))
    min_positives: int = field(default=0, metadata=within(0))
    f1: Mapping[str, Any] = field(default_factory=dict)
    set_threshold: float | None = field(default=None, metadata=within(0, 1))
    target_purity: float | None = field(default=None, metadata=within(0, 1, strict=True))
    routing: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any, *, source: str = "manifest.json") -> MultiLabelRecord:
        rec = section(cls, data, "multilabel", source)
        for leaf, value in rec.thresholds.items():
            if not (isinstance(value, int | float) and not isinstance(value, bool) and 0.0 < value < 1.0):
                raise BundleError(f"{source}: 'multilabel.thresholds.{leaf}' must be a number between 0 and 1, "
                                  f"got {short(value)}")
        return rec

    @property
    def is_calibrated(self) -> bool:
        """Whether ``fma-model calibrate`` fitted the set routing."""
        return self.target_purity is not None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
