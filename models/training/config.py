"""The typed training configuration: YAML + dataclasses, unknown keys refused.

A config file mirrors :class:`TrainConfig`; nested sections are ``network``
(:class:`models.nn.network.NetworkConfig`), ``loss`` (:class:`models.nn.losses.LossConfig`)
and ``augment`` (:class:`models.data.transforms.AugmentConfig`). Command-line
overrides use dotted keys, ``--set network.backbone=resnet50 --set epochs=5``;
values are parsed as YAML scalars (so ``true``, ``3``, ``1e-3``, ``[1,2]`` work).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from models.bundle.manifest import INPUT_SIDE_RANGE
from models.data.transforms import AugmentConfig
from models.nn.config import IMBALANCE_METHODS, LossConfig, NetworkConfig

LR_SCHEDULES = ("cosine", "onecycle")


class ConfigError(ValueError):
    """A training config is invalid; the message names the file and key."""



# What each checked key takes, said in the message of a wrong value (``epochs='ten'`` alone did not say).
_EXPECTED = {
    "epochs": "a whole number of at least 1", "batch_size": "a whole number of at least 1",
    "grad_accum": "a whole number of at least 1", "lr": "a number above 0", "backbone_lr_scale": "a number of 0 or more",
    "weight_decay": "a number of 0 or more", "warmup_epochs": "a number of 0 or more", "min_lr": "a number of 0 or more",
    "schedule": f"one of {', '.join(sorted(LR_SCHEDULES))}",
    "early_stopping_patience": "a whole number of 0 or more", "precision": "auto, fp32, bf16 or fp16",
    "imbalance": f"one of {', '.join(sorted(IMBALANCE_METHODS))}", "imbalance_tau": "a number of 0 or more",
    "num_workers": "a whole number of 0 or more", "cache_images": "true or false", "seed": "a whole number",
    "channels_last": "true or false", "half_weights": "true or false",
    "input_size": f"null or a whole number from {INPUT_SIDE_RANGE[0]} to {INPUT_SIDE_RANGE[1]}",
    "max_steps_per_epoch": "null or a whole number of at least 1", "max_minutes": "null or a number above 0",
    "name": "a name that is not empty",
}

@dataclass
class TrainConfig:
    """Everything that defines a training run.

    Args:
        name: a short model name; becomes part of the bundle's ``model_version``.
        taxonomy: taxonomy YAML path (relative to the config file); None = the bundled demo taxonomy.
        network: backbone, head, CBAM, pretrained weights.
        loss: flat / layer / hierarchical loss and its options (incl. label smoothing).
        augment: training augmentations.
        input_size: square input side in pixels; None = the backbone's default from timm.
        epochs: number of epochs.
        batch_size: images per optimiser micro-step (per process under torchrun).
        grad_accum: micro-steps per optimiser step (gradient accumulation).
        lr: peak learning rate of AdamW (after warmup).
        backbone_lr_scale: the backbone's learning rate relative to ``lr`` (lower for pretrained features). The
            defaults, 2e-3 for the heads and 1e-3 for the backbone, replaced 1e-3 and 3e-4, under which
            EfficientNet-Lite0 reached 29 % leaf Top-1 in ``bench.regimes``' 6-epoch budget on the long-tail regime
            against 38 % (README, "Training on your own data").
        weight_decay: AdamW weight decay (not applied to norms and biases).
        warmup_epochs: linear warmup length, then cosine decay to ``min_lr`` (``schedule: cosine`` only).
        min_lr: final learning rate of the cosine schedule.
        schedule: the learning-rate schedule, ``"cosine"`` (warmup + cosine) or ``"onecycle"`` (the standard
            one-cycle recipe; see :mod:`models.training.schedule`).
        imbalance: class-imbalance handling, applied at every tree level with that level's training counts:
            "auto" (chosen from the training set's leaf counts, see :mod:`models.training.inspection`),
            "none", "balanced_sampling" (sample classes uniformly, weights 1/freq), "sqrt_sampling" (weights
            1/sqrt(freq)), "logit_adjust",
            "balanced_softmax" or "drw" (deferred re-weighting); the last three change the training loss
            (:mod:`models.nn.losses`), and "balanced_softmax" then, with validation images, gives part of the leaf
            prior back in the leaf classifier's bias (:func:`models.training.posthoc.adjust_on_validation`); "posthoc" trains as "none" and then shifts the
            leaf classifier's bias by ``-tau * log(prior)``, ``tau`` chosen on the validation images
            (:mod:`models.training.posthoc`); "crt" trains as "none" and then learns the leaf classifier again
            on the training images' features with every leaf equally often (:mod:`models.training.crt`).
            ``balanced_sampling: true|false``, the older key, is read as
            ``imbalance: balanced_sampling|none``.
        imbalance_tau: ``tau`` of "logit_adjust" (the logits get ``tau * log(prior)`` in training).
        early_stopping_patience: stop after this many epochs without validation improvement (0 = off).
        precision: "auto" (bf16, else fp16, autocast on CUDA; fp32 on CPUs, where bf16 training measured
            slower), "fp32", "bf16" (CUDA, or CPUs with native bf16), "fp16" (CUDA only).
        channels_last: use the channels-last memory format.
        num_workers: DataLoader worker processes.
        cache_images: keep every decoded training image in memory after its first read (in each worker,
            which then persist across epochs): later epochs only augment, which is what a GPU run waits
            for. Costs about width x height x 3 bytes per image per worker; off by default.
        seed: the random seed; the same seed and data give the same model on the same hardware.
        max_steps_per_epoch: cap on steps per epoch (smoke tests); None = full epochs.
        max_minutes: a time budget for the epochs (None = none): after the second epoch, ``train`` plans as many
            of ``epochs`` as fit in the time left at that epoch's pace and ends the learning-rate schedule there
            (later epochs can only shorten the plan; ``--resume`` keeps it), so a run on an unknown machine
            finishes in time with a whole schedule and a bundle (the steps after the epochs, such as ``posthoc``
            and writing the bundle, come on top).
        half_weights: store the bundle's weights as float16 (half the size).
        device: "auto" (cuda if available, else cpu), "cpu", "cuda", "cuda:N".
        init_from: a model bundle folder (relative to the working directory) whose weights start the run
            (fine-tuning, e.g. the current model on its training data plus the app's export); its
            taxonomy and network must match this config's. None = ImageNet/hub weights or random.
    """

    name: str = "fma-model"
    taxonomy: str | None = None
    network: NetworkConfig = field(default_factory=NetworkConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    input_size: int | None = None
    epochs: int = 30
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 2e-3
    backbone_lr_scale: float = 0.5
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    min_lr: float = 1e-6
    schedule: str = "onecycle"
    imbalance: str = "auto"
    imbalance_tau: float = 1.0
    early_stopping_patience: int = 0
    precision: str = "auto"
    channels_last: bool = True
    num_workers: int = 2
    cache_images: bool = False
    seed: int = 0
    max_steps_per_epoch: int | None = None
    max_minutes: float | None = None
    half_weights: bool = False
    device: str = "auto"
    init_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["network"] = self.network.to_dict()
        d["loss"] = self.loss.to_dict()
        d["augment"] = self.augment.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<config>") -> TrainConfig:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: a config must be a mapping of keys to values")
        data = _fold_balanced_sampling(data, source)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        nested = {"network": NetworkConfig, "loss": LossConfig, "augment": AugmentConfig}
        for key, value in data.items():
            if key in nested:
                if value is None:
                    continue
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{source}: '{key}' must be a mapping")
                try:
                    values[key] = nested[key].from_dict(dict(value))
                except (ValueError, TypeError) as exc:
                    raise ConfigError(f"{source}: in '{key}': {exc}") from exc
            else:
                values[key] = _coerce_float(key, value, source) if key in _FLOAT_KEYS else value
        try:
            cfg = cls(**values)
        except TypeError as exc:
            raise ConfigError(f"{source}: {exc}") from exc
        cfg.validate(source)
        # named, as recorded: the default changed once (2026-12-06); a checkpoint or best.yaml with null then meant
        # "equal" (a resume of such a run is refused as another config)
        cfg.loss.level_weights = cfg.loss.named_level_weights()
        return cfg

    def validate(self, source: str = "<config>") -> None:
        """Check types and ranges; raise :class:`ConfigError` naming the key."""
        checks: list[tuple[str, bool]] = [
            ("epochs", _whole(self.epochs, 1)),
            ("batch_size", _whole(self.batch_size, 1)),
            ("grad_accum", _whole(self.grad_accum, 1)),
            ("lr", _real(self.lr) and self.lr > 0),
            ("backbone_lr_scale", _real(self.backbone_lr_scale) and self.backbone_lr_scale >= 0),
            ("weight_decay", _real(self.weight_decay) and self.weight_decay >= 0),
            ("warmup_epochs", _real(self.warmup_epochs) and self.warmup_epochs >= 0),
            ("min_lr", _real(self.min_lr) and self.min_lr >= 0),
            ("schedule", self.schedule in LR_SCHEDULES),
            ("early_stopping_patience", _whole(self.early_stopping_patience, 0)),
            ("precision", self.precision in {"auto", "fp32", "bf16", "fp16"}),
            ("imbalance", self.imbalance in IMBALANCE_METHODS),
            ("imbalance_tau", _real(self.imbalance_tau) and self.imbalance_tau >= 0),
            ("num_workers", _whole(self.num_workers, 0)),
            ("cache_images", isinstance(self.cache_images, bool)),
            ("channels_last", isinstance(self.channels_last, bool)),  # ("false" in quotes wrote float16 weights)
            ("half_weights", isinstance(self.half_weights, bool)),
            ("seed", _whole(self.seed, -(2**63))),
            ("input_size", self.input_size is None or (_whole(self.input_size, INPUT_SIDE_RANGE[0])
                                                       and self.input_size <= INPUT_SIDE_RANGE[1])),
            ("max_steps_per_epoch", self.max_steps_per_epoch is None
             or _whole(self.max_steps_per_epoch, 1)),
            ("max_minutes", self.max_minutes is None or (_real(self.max_minutes) and self.max_minutes > 0)),
            ("name", isinstance(self.name, str) and bool(self.name.strip())),
            ("device", isinstance(self.device, str)),
        ]
        bad = [k for k, ok in checks if not ok]
        if bad:
            shown = "; ".join(f"{k}={getattr(self, k)!r}" + (f" (expected {_EXPECTED[k]})" if k in _EXPECTED else "")
                              for k in bad)
            raise ConfigError(f"{source}: invalid value(s): {shown}")


def _whole(value: Any, least: int) -> bool:
    """A whole number of at least ``least``; ``true`` is not one (YAML's ``yes`` gave batch_size=True, which passed
    and ended in a traceback once the data was read)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _real(value: Any) -> bool:
    """A finite number, not a bool (``lr=inf`` passed and trained an epoch into NaN, then a traceback)."""
    try:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:  # an integer of hundreds of digits
        return False


_FLOAT_KEYS = frozenset({"lr", "backbone_lr_scale", "weight_decay", "warmup_epochs", "min_lr", "imbalance_tau"})


def _fold_balanced_sampling(data: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    """Read the older ``balanced_sampling: true|false`` as ``imbalance: balanced_sampling|none``."""
    if "balanced_sampling" not in data:
        return data
    data = dict(data)
    flag = data.pop("balanced_sampling")
    if not isinstance(flag, bool):
        raise ConfigError(f"{source}: 'balanced_sampling' must be true or false, got {flag!r}")
    wanted = "balanced_sampling" if flag else "none"
    given = data.get("imbalance", "auto")
    if given not in ("auto", wanted):
        raise ConfigError(f"{source}: 'balanced_sampling: {str(flag).lower()}' contradicts 'imbalance: {given}' "
                          "(balanced_sampling is the older key: keep only imbalance)")
    data["imbalance"] = wanted
    return data


def _coerce_float(key: str, value: Any, source: str) -> Any:
    """YAML 1.1 reads ``3e-4`` (no dot) as a string; accept it as the number it obviously is."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{source}: '{key}' must be a number, got {value!r}") from None
    return value


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value (e.g. network.backbone=resnet50)")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides to a raw config mapping (unknown keys are caught later)."""
    data = dict(data)
    for item in overrides:
        keys, value = _parse_override(item)
        node = data
        for k in keys[:-1]:
            child = node.get(k)
            child = dict(child) if isinstance(child, Mapping) else {}
            node[k] = child
            node = child
        node[keys[-1]] = value
    return data


def load_config(path: str | Path | None, overrides: Sequence[str] = (),
                start: Mapping[str, Any] | None = None) -> tuple[TrainConfig, Path | None]:
    """Read a YAML config (or start from defaults when ``path`` is None, with ``start``'s values over them: a
    bundle's network for ``--init-from``) and apply overrides.

    Returns the config and the folder relative paths in it are resolved against.
    """
    data: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in (start or {}).items()}
    base: Path | None = None
    source = "<defaults>"
    if path is not None:
        path = Path(path)
        source = str(path)
        base = path.resolve().parent
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
        try:
            from models.taxonomy import line_loader

            loaded = yaml.load(text, Loader=line_loader())  # a SafeLoader that refuses a key given twice (the
            # second "epochs:" won unseen)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"{path}: a config must be a mapping of keys to values")
        data = dict(loaded)
    try:
        return TrainConfig.from_dict(apply_overrides(data, overrides), source=source), base
    except ConfigError as exc:
        if not overrides:
            raise
        try:  # the file (or the defaults) alone is fine: the mistake is a --set value's, and is said so
            TrainConfig.from_dict(data, source=source)
        except ConfigError:
            raise exc from None
        text = str(exc)
        raise ConfigError("--set" + text[len(source):] if text.startswith(f"{source}:") else text) from None
