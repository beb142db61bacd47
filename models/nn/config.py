"""The network and loss configurations stored in model bundles: plain dataclasses, no torch.

They live apart from the modules they configure so that a bundle's manifest can be read (by the app's
store, the installer's self-test ...) without importing torch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from models.config_keys import checked_kwargs

__all__ = ["CBAM_MODES", "HEADS", "IMBALANCE_LOSSES", "IMBALANCE_METHODS", "KINDS", "MODES", "PICKLE_SUFFIXES",
           "SCHEDULES", "WEIGHT_SUFFIXES", "LossConfig", "NetworkConfig", "weight_file_problem"]

HEADS = ("flat", "independent", "shared")
CBAM_MODES = ("none", "blocks", "stages")
"""``NetworkConfig.cbam``: no CBAM, one in every residual block (timm ResNet family), or one after each stage
of any timm CNN. Older configs and bundles say ``true`` (blocks) or ``false`` (none)."""
_CBAM_ALIASES = {True: "blocks", False: "none", None: "none", "true": "blocks", "false": "none", "off": "none",
                 "": "none", "on": "blocks", "yes": "blocks", "no": "none"}
_CBAM_WRITTEN: dict[str, bool] = {"none": False, "blocks": True}
_RESERVED_BACKBONE_KWARGS = frozenset(
    {"pretrained", "num_classes", "pretrained_cfg_overlay", "features_only"}
)
KINDS = ("flat", "layer", "hierarchical", "multilabel")
"""``LossConfig.kind``; ``multilabel``: per-level sigmoid heads for images with more than one defect
(:mod:`models.nn.multilabel`)."""
LEVEL_WEIGHTINGS = ("leaf", "equal")
"""The named ``LossConfig.level_weights``."""
SCHEDULES = ("none", "bcnn")
MODES = ("reweight", "soft")
IMBALANCE_LOSSES = ("logit_adjust", "balanced_softmax", "drw")
"""The class-imbalance methods that change the loss (:class:`models.nn.losses.HierarchicalLoss`)."""
IMBALANCE_SAMPLING = {"balanced_sampling": 1.0, "sqrt_sampling": 0.5}
"""The class-imbalance methods that change the sampler: an image of a leaf with ``n`` training images is drawn with
weight ``n ** -power`` (1: every leaf equally often; 0.5: square-root sampling, between that and the data's own
frequencies)."""
IMBALANCE_METHODS = ("auto", "none", *IMBALANCE_SAMPLING, *IMBALANCE_LOSSES, "posthoc", "crt")
"""``TrainConfig.imbalance``: ``auto`` (chosen from the training data), ``none``, or one method (``posthoc`` and
``crt`` train as ``none`` and change the leaf classifier afterwards: :mod:`models.training.posthoc`,
:mod:`models.training.crt`; ``balanced_softmax`` changes the loss, then may give part of the prior back the same
way)."""
MAX_HEAD_DIM = 16384
"""The widest head a config may ask for (a wider one is a typo that would allocate gigabytes before any check)."""
WEIGHT_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = frozenset({".pth", ".pt", ".ckpt", ".bin", ".pkl", ".pickle", ".tar"})
"""Checkpoint files written by ``torch.save`` (pickles): refused, never opened (model bundles and pretrained weights)."""


class PretrainedFileError(ValueError):
    """A ``network.pretrained_file`` that cannot give the backbone its weights: a format that is refused, a file of
    another backbone (the message names the backbone and what to set)."""


def weight_file_problem(path: str | Path, *, read: bool = False) -> str | None:
    """Why ``network.pretrained_file`` cannot be read (None: it may be), from its name alone, and with ``read`` also
    from the file's first bytes: checked before a training reads its data, and again when the file is opened
    (:mod:`models.nn.pretrained`). A PyTorch checkpoint renamed ``.safetensors`` said "header too large", and a
    missing file was found only after the data were read."""
    path = Path(str(path)).expanduser()
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return (f"pretrained_file {path} is a pickle checkpoint ({path.suffix}): fma-model reads weights from "
                ".safetensors files only, because opening a pickle can run code hidden in it. " + _GET_SAFETENSORS)
    if path.suffix not in WEIGHT_SUFFIXES:  # exactly: timm reads any other ending, ".SAFETENSORS" too, as a pickle
        return (f"pretrained_file {path} must end in {' or '.join(WEIGHT_SUFFIXES)}, in lower case "
                f"(got {path.suffix!r})")
    return _content_problem(path) if read else None


_GET_SAFETENSORS = ("Download the backbone's model.safetensors from its Hugging Face page (timm publishes one for its "
                    "models), or convert the file once, on a machine where you trust it, with "
                    "safetensors.torch.save_file(state_dict, 'NAME.safetensors')")


def _content_problem(path: Path) -> str | None:
    """What the first bytes of a ``.safetensors`` file say against it: none, a zip (``torch.save``'s format), or a
    header length that does not fit the file (damaged, cut short, another format). Nothing in it is unpickled."""
    if not path.is_file():
        return f"pretrained_file not found: {path}" + (" (it is a folder)" if path.is_dir() else "")
    try:
        with path.open("rb") as f:
            head = f.read(9)
            size = f.seek(0, 2)
    except OSError as exc:
        return f"pretrained_file {path} cannot be read: {exc.strerror or exc}"
    if head[:4] == b"PK\x03\x04":
        return (f"pretrained_file {path} is a PyTorch checkpoint (torch.save's zip, a pickle inside) named "
                f".safetensors; it is not opened, because unpickling can run code hidden in it. {_GET_SAFETENSORS}")
    n = int.from_bytes(head[:8], "little") if len(head) >= 8 else 0
    if len(head) < 9 or n > size - 8 or head[8:9] != b"{":
        return (f"pretrained_file {path} is not a safetensors file ({size} bytes; its header does not read as one): "
                "damaged, cut short while copying, or another format")
    try:  # the header is JSON (its length checked above): the tensors' data must end where the file does
        with path.open("rb") as f:
            f.seek(8)
            header = json.loads(f.read(n))
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return f"pretrained_file {path} is not a safetensors file (its header is not the JSON one has): damaged?"
    if 8 + n + end != size:
        return (f"pretrained_file {path} is cut short or damaged: its header says {8 + n + end:,} bytes, the file has "
                f"{size:,}" + (" (copied only in part?)" if size < 8 + n + end else " (bytes after its data)"))
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _cbam_mode(value: Any) -> str:
    """The canonical ``cbam`` mode of a config value (``true``/``false`` of older configs included)."""
    key = value.strip().lower() if isinstance(value, str) else value
    if isinstance(key, bool) or key is None or isinstance(key, str):
        mode = key if key in CBAM_MODES else _CBAM_ALIASES.get(key)
        if mode is not None:
            return mode
    raise ValueError(f"NetworkConfig.cbam must be one of {', '.join(CBAM_MODES)} (true/false of older configs "
                     f"mean blocks/none), got {value!r:.60}")


@dataclass
class NetworkConfig:
    """Everything needed to rebuild the network (stored in model bundles).

    Args:
        backbone: timm model name, e.g. ``"convnext_tiny"`` or ``"resnet50"``.
        head: ``"flat"``, ``"independent"`` or ``"shared"`` (see the module docstring).
        cbam: Where CBAM goes (:data:`CBAM_MODES`): ``"blocks"``, into every residual block (timm ResNet
            family only, the paper's placement); ``"stages"``, one after each backbone stage (any timm CNN);
            ``"none"``. ``true``/``false`` of older configs and bundles read as ``"blocks"``/``"none"``.
        pretrained: Download the backbone's weights from timm's hub (needs internet).
        pretrained_file: Local weights, a ``.safetensors`` file (a pickle checkpoint, ``.pth``/``.pt``, is refused
            unopened); takes precedence over ``pretrained``.
        head_dim: Per-level feature width of the independent/shared heads.
        drop_rate: Dropout before every classifier.
        backbone_kwargs: Extra ``timm.create_model`` keyword arguments (``depths``, ``img_size`` ...).
        spectrum: Also train a spectrum head on the images' FTIR spectra, fused with the image model per tree level
            (issue #20, :mod:`models.training.spectrum`); the network itself is unchanged.
    """

    backbone: str = "convnext_tiny"
    head: str = "independent"
    cbam: str = "none"
    pretrained: bool = False
    pretrained_file: str | None = None
    head_dim: int = 256
    drop_rate: float = 0.0
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    spectrum: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.backbone, str) or not self.backbone.strip():
            raise ValueError(f"NetworkConfig.backbone must be a timm model name, got {self.backbone!r}")
        if self.head not in HEADS:
            raise ValueError(f"NetworkConfig.head must be one of {', '.join(HEADS)}; got {self.head!r}")
        self.cbam = _cbam_mode(self.cbam)
        if not isinstance(self.pretrained, bool):
            raise ValueError(f"NetworkConfig.pretrained must be true or false, got {self.pretrained!r}")
        if isinstance(self.pretrained_file, Path):
            self.pretrained_file = str(self.pretrained_file)
        if self.pretrained_file is not None and not isinstance(self.pretrained_file, str):
            raise ValueError(
                f"NetworkConfig.pretrained_file must be a path or null, got {self.pretrained_file!r}"
            )
        if (isinstance(self.head_dim, bool) or not isinstance(self.head_dim, int)
                or not 1 <= self.head_dim <= MAX_HEAD_DIM):
            raise ValueError(f"NetworkConfig.head_dim must be an integer between 1 and {MAX_HEAD_DIM}, "
                             f"got {self.head_dim!r:.60}")
        if isinstance(self.drop_rate, bool) or not isinstance(self.drop_rate, int | float):
            raise ValueError(f"NetworkConfig.drop_rate must be a number, got {self.drop_rate!r}")
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"NetworkConfig.drop_rate must be in [0, 1), got {self.drop_rate}")
        self.drop_rate = float(self.drop_rate)
        if not isinstance(self.backbone_kwargs, Mapping):
            raise ValueError(f"NetworkConfig.backbone_kwargs must be a mapping, got {self.backbone_kwargs!r}")
        self.backbone_kwargs = dict(self.backbone_kwargs)
        if not isinstance(self.spectrum, bool):
            raise ValueError(f"NetworkConfig.spectrum must be true or false, got {self.spectrum!r:.60}")
        reserved = sorted(_RESERVED_BACKBONE_KWARGS & self.backbone_kwargs.keys())
        if reserved:
            raise ValueError(
                f"NetworkConfig.backbone_kwargs may not set {', '.join(reserved)}; "
                "use the pretrained / pretrained_file fields instead"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON/YAML-safe when ``backbone_kwargs`` is).

        ``cbam`` is written as older versions wrote it where they can read it: ``true`` for ``blocks``, ``false``
        for ``none`` (their bundles round-trip unchanged, and they still load ours); ``"stages"`` as is. ``spectrum``
        is written only when true, for the same reason.
        """
        d = asdict(self)
        d["cbam"] = _CBAM_WRITTEN.get(self.cbam, self.cbam)
        if not self.spectrum:
            del d["spectrum"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NetworkConfig:
        """Build from a dict; unknown keys raise ``ValueError`` naming them."""
        return cls(**checked_kwargs(cls, d, "network"))


@dataclass
class LossConfig:
    """Loss configuration (stored in model bundles).

    Args:
        kind: ``"flat"``, ``"layer"``, ``"hierarchical"``, or ``"multilabel"`` (per-level sigmoid heads for images
            with more than one defect, :mod:`models.nn.multilabel`; the dependence and schedule terms do not apply).
        level_weights: Base weight per level: a list of numbers, ``"leaf"`` (0.25 for every level above the leaf,
            1 for the leaf: the default of ``layer`` and ``hierarchical`` since 2026-12-06, measured in the README's
            "The three synthetic regimes"), or ``"equal"`` (``1/L`` each: the default before, and of
            ``multilabel``); ``None`` = the kind's default.
        schedule: ``"none"`` or ``"bcnn"`` (see the module docstring for the exact schedule).
        label_smoothing: Label smoothing of every level's cross-entropy, in [0, 1).
        dependence_weight: ``beta`` of Gao et al. 2020.
        dependence_penalty: ``p`` of the indicator power terms (>= 1).
        dependence_mode: ``"reweight"`` or ``"soft"``.
        outlier_weight: ``lambda`` of the outlier-exposure term (0 = unknown images are not used).
        attention_weight: Weight of the CBAM attention-supervision term (0 = none): every training image with a
            defect box pays a balanced cross-entropy between each CBAM spatial map at the heatmap strides and the
            box (:func:`models.nn.cbam.attention_box_loss`), so the CBAM heatmap points at the defect.
    """

    kind: str = "layer"
    level_weights: list[float] | str | None = None
    schedule: str = "none"
    label_smoothing: float = 0.1
    dependence_weight: float = 1.0
    dependence_penalty: float = 2.0
    dependence_mode: str = "reweight"
    outlier_weight: float = 0.0
    attention_weight: float = 0.0

    def __post_init__(self) -> None:
        for name, allowed in (("kind", KINDS), ("schedule", SCHEDULES), ("dependence_mode", MODES)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"LossConfig.{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}"
                )
        if self.level_weights is not None and self.level_weights not in LEVEL_WEIGHTINGS:
            if isinstance(self.level_weights, str | bytes) or not all(
                _is_number(w) for w in self.level_weights
            ):
                raise ValueError(
                    f"LossConfig.level_weights must be a list of numbers, {' or '.join(map(repr, LEVEL_WEIGHTINGS))};"
                    f" got {self.level_weights!r}"
                )
            weights = [float(w) for w in self.level_weights]
            if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
                raise ValueError(
                    f"LossConfig.level_weights must be non-negative with a positive sum, got {weights}"
                )
            self.level_weights = weights
        for name in ("label_smoothing", "dependence_weight", "dependence_penalty", "outlier_weight",
                     "attention_weight"):
            if not _is_number(getattr(self, name)):
                raise ValueError(f"LossConfig.{name} must be a number, got {getattr(self, name)!r}")
            setattr(self, name, float(getattr(self, name)))
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"LossConfig.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.dependence_weight < 0:
            raise ValueError(f"LossConfig.dependence_weight must be >= 0, got {self.dependence_weight}")
        for name in ("outlier_weight", "attention_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"LossConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.dependence_penalty < 1:
            raise ValueError(f"LossConfig.dependence_penalty must be >= 1, got {self.dependence_penalty}")

    def named_level_weights(self) -> list[float] | str:
        """``level_weights``, with ``None`` named: ``"equal"`` for ``multilabel``, ``"leaf"`` for the other kinds."""
        if self.level_weights is not None:
            return self.level_weights
        return "equal" if self.kind == "multilabel" else "leaf"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON/YAML-safe). ``attention_weight`` only when it is used: a bundle without it reads in
        versions before it, and theirs round-trip unchanged."""
        d = asdict(self)
        if not self.attention_weight:
            del d["attention_weight"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LossConfig:
        """Build from a dict; unknown keys raise ``ValueError`` naming them."""
        return cls(**checked_kwargs(cls, d, "loss"))
