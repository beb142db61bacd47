"""Preprocessing and augmentation (torchvision transforms v2).

Evaluation resizes the whole image to the network's input size without
cropping: a defect may sit anywhere in a micrograph, and a centre crop could
cut it away. Training can add augmentations that suit micrographs: flips and
90° turns, focus blur, brightness/contrast jitter and sensor noise, and crops
that keep the defect. The defaults are light (flips, a defect-aware crop, and
colour jitter only on colour images): on the grayscale long-tail regime of
issue #14 (``python -m bench.regimes``) the old defaults, with 90° turns, blur,
brightness/contrast jitter and noise (and warmup + cosine, no label smoothing),
lost 7.5-8.4 points of Top-1 to the plain timm recipe at the same epoch budget.
Switch them on in the config when the data needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import InterpolationMode, v2

from models.config_keys import checked_kwargs

CROP_RATIO = (0.9, 1.1)
"""Aspect-ratio range (width / height) of the random resized crop."""
_INTERP = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}


AUTO_AUGMENT: dict[str, float] = {"crop_scale": 0.85, "saturation": 0.1, "hue": 0.02}
"""What a key left on "auto" means when nothing about the data says otherwise."""
_AUTO_RANGES = {"crop_scale": (0.05, 1.0), "saturation": (0.0, 1.0), "hue": (0.0, 0.5)}
# The keys without "auto": probabilities, and jitter strengths that torchvision takes from 0 up (1 = the image's
# brightness or contrast anywhere from 0 to twice its own).
_RANGES: dict[str, tuple[float, float]] = {
    "hflip": (0.0, 1.0), "vflip": (0.0, 1.0), "blur_p": (0.0, 1.0), "brightness": (0.0, 1.0),
    "contrast": (0.0, 1.0), "noise_std": (0.0, 1.0),
}


@dataclass
class AugmentConfig:
    """Training augmentations; every probability is per image.

    Args:
        hflip: probability of a horizontal flip.
        vflip: probability of a vertical flip.
        rot90: randomly turn by a multiple of 90 degrees.
        crop_scale: minimum area kept by the random resized crop (1.0 = no crop); "auto": chosen by
            ``fma-model train`` from the training data's defect sizes (no crop may cut away more than half of
            a defect's width or height), else :data:`AUTO_AUGMENT`'s value.
        brightness: colour jitter strength for brightness.
        contrast: colour jitter strength for contrast.
        saturation: colour jitter strength for saturation; "auto": 0 on grayscale training data, else
            :data:`AUTO_AUGMENT`'s value.
        hue: colour jitter strength for hue; "auto" as ``saturation``.
        blur_p: probability of a Gaussian (focus) blur.
        noise_std: standard deviation of additive Gaussian noise on the 0..1 image (0 = off).
    """

    hflip: float = 0.5
    vflip: float = 0.5
    rot90: bool = False
    crop_scale: float | str = "auto"
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float | str = "auto"
    hue: float | str = "auto"
    blur_p: float = 0.0
    noise_std: float = 0.0

    def __post_init__(self) -> None:
        for name, (low, high) in _RANGES.items():  # torchvision's own errors named none of these keys
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise ValueError(f"augment.{name} must be a number in [{low}, {high}], got {value!r}")
            setattr(self, name, float(value))
        if not isinstance(self.rot90, bool):
            raise ValueError(f"augment.rot90 must be true or false, got {self.rot90!r}")
        for name, (low, high) in _AUTO_RANGES.items():
            value = getattr(self, name)
            if value == "auto":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise ValueError(f"augment.{name} must be \"auto\" or a number in [{low}, {high}], got {value!r}")
            setattr(self, name, float(value))

    def value(self, name: str) -> float:
        """The number a key stands for: its own, or :data:`AUTO_AUGMENT`'s for one left on "auto"."""
        value = getattr(self, name)
        return AUTO_AUGMENT[name] if value == "auto" else value

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AugmentConfig:
        return cls(**checked_kwargs(cls, data or {}, "augmentation"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _each(inputs: tuple[Any, ...], fn) -> Any:
    """``fn`` applied to every input, each result of the input's tv_tensor type; one input gives one output.

    A training transform receives the image alone, or the image with its defect mask (a ``tv_tensors.Mask``,
    :class:`models.training.data.SampleDataset` with ``boxes=True``); geometric steps move both alike.
    """
    out = tuple(tv_tensors.wrap(fn(x), like=x) if isinstance(x, tv_tensors.TVTensor) else fn(x) for x in inputs)
    return out[0] if len(out) == 1 else out


class RandomRot90(torch.nn.Module):
    """Rotate by 0, 90, 180 or 270 degrees, uniformly (the image and its mask by the same turn)."""

    def forward(self, *inputs: torch.Tensor) -> Any:
        k = int(torch.randint(0, 4, (1,)).item())
        return _each(inputs, lambda x: torch.rot90(x, k, dims=(-2, -1)) if k else x)


class GaussianNoise(torch.nn.Module):
    """Additive sensor noise on a float image in 0..1, clamped back to range (a mask is left alone)."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, *inputs: torch.Tensor) -> Any:
        def noisy(x: torch.Tensor) -> torch.Tensor:
            if self.std <= 0 or isinstance(x, tv_tensors.Mask):
                return x
            return (x + torch.randn_like(x) * self.std).clamp_(0.0, 1.0)
        return _each(inputs, noisy)


def _interp(name: str) -> InterpolationMode:
    return _INTERP.get(name, InterpolationMode.BICUBIC)


def build_eval_transform(
    size: Sequence[int], mean: Sequence[float], std: Sequence[float], interpolation: str = "bicubic"
) -> v2.Compose:
    """PIL RGB image -> normalised float tensor (3, H, W) at ``size`` = (H, W)."""
    h, w = int(size[-2]), int(size[-1])
    return v2.Compose(
        [
            # Resized as a PIL image (torchvision calls Pillow for it): the torch-free workstation runtime
            # (models.inference.arrays.preprocess) resizes with Pillow too, so both see the same pixels.
            v2.Resize((h, w), interpolation=_interp(interpolation), antialias=True),
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean=list(mean), std=list(std)),
        ]
    )


def build_train_transform(
    aug: AugmentConfig,
    size: Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
    interpolation: str = "bicubic",
) -> v2.Compose:
    """The training pipeline: geometric + photometric augmentation, then normalisation."""
    h, w = int(size[-2]), int(size[-1])
    steps: list[Any] = [v2.ToImage()]
    crop_scale, saturation, hue = aug.value("crop_scale"), aug.value("saturation"), aug.value("hue")
    if crop_scale < 1.0:
        steps.append(
            v2.RandomResizedCrop((h, w), scale=(crop_scale, 1.0), ratio=CROP_RATIO,
                                 interpolation=_interp(interpolation), antialias=True)
        )
    else:
        steps.append(v2.Resize((h, w), interpolation=_interp(interpolation), antialias=True))
    if aug.hflip > 0:
        steps.append(v2.RandomHorizontalFlip(aug.hflip))
    if aug.vflip > 0:
        steps.append(v2.RandomVerticalFlip(aug.vflip))
    if aug.rot90:
        steps.append(RandomRot90())
    if any(v > 0 for v in (aug.brightness, aug.contrast, saturation, hue)):
        steps.append(v2.ColorJitter(aug.brightness, aug.contrast, saturation, hue))
    if aug.blur_p > 0:
        steps.append(v2.RandomApply([v2.GaussianBlur(5, sigma=(0.1, 1.5))], p=aug.blur_p))
    steps.append(v2.ToDtype(torch.float32, scale=True))
    if aug.noise_std > 0:
        steps.append(GaussianNoise(aug.noise_std))
    steps.append(v2.Normalize(mean=list(mean), std=list(std)))
    return v2.Compose(steps)


def preprocess(img: Image.Image, size: Sequence[int], mean: Sequence[float], std: Sequence[float],
               interpolation: str = "bicubic") -> torch.Tensor:
    """One-off evaluation preprocessing of a single RGB image."""
    return build_eval_transform(size, mean, std, interpolation)(img)
