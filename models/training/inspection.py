"""A look at the training data before training, and the settings it calls for (those left on "auto").

:func:`profile_data` reads what a factory's data says about itself, cheaply: the training images per leaf,
whether the images are grayscale (a few decoded, :data:`COLOUR_SAMPLE`), their typical size and the defects'
geometry (image headers only, at most :data:`MAX_HEADERS`; ``defect_bbox`` or ``defect_size_px`` of the
manifest). :func:`choose_settings` turns that into the config of the run; a value written in the config always
wins over the data, and every choice comes back with its reason (``train`` prints one line per choice and
records them in the bundle's ``train.data_choices``):

* ``imbalance`` (:class:`models.training.config.TrainConfig`): ``none`` when the largest leaf has fewer than
  :data:`IMBALANCE_RATIO` times the images of the smallest (leaves without images aside), else
  :data:`AUTO_IMBALANCE` (which chooses its strength on the validation images), :data:`AUTO_IMBALANCE_NO_VAL`
  when the run has none, or :data:`AUTO_IMBALANCE_MULTILABEL` for multi-label sigmoid heads.
* ``augment.saturation`` and ``augment.hue``: 0 when every image looked at is grayscale (colour jitter changes
  nothing on a gray image but costs time), else :data:`models.data.transforms.AUTO_AUGMENT`'s values.
* ``augment.crop_scale``: the smallest crop area (fraction of the image, as ``RandomResizedCrop``'s scale) at
  which no crop can keep less than half of any known defect's width or height, and never below
  :data:`~models.data.transforms.AUTO_AUGMENT`'s 0.85. A crop keeps a fraction ``f`` of the image side and
  may sit anywhere, so with a box the side must reach the defect's centre from either edge,
  ``f >= max(c / W, 1 - c / W)`` per axis; with a size ``d`` alone (position unknown) the part cut away,
  ``1 - f``, must stay below half the defect, ``f >= 1 - d / (2 * side)``. The crop's aspect-ratio range
  (:data:`~models.data.transforms.CROP_RATIO`) and the image's aspect are taken into account. Without
  defect geometry the fallback stands.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from models.data.samples import Sample
from models.data.transforms import AUTO_AUGMENT, CROP_RATIO
from models.imageio import decode_or_reason, load_image, regular_file_reason
from models.taxonomy import Taxonomy
from models.training.config import TrainConfig

__all__ = ["AUTO_IMBALANCE", "AUTO_IMBALANCE_FLAT", "AUTO_IMBALANCE_MULTILABEL", "AUTO_IMBALANCE_NO_VAL", "COLOUR_SAMPLE", "IMBALANCE_RATIO", "MAX_HEADERS", "Choice", "DataProfile",
           "choose_settings", "crop_scale_for", "level_counts", "profile_data"]

IMBALANCE_RATIO = 3.0
"""Largest over smallest leaf count from which ``imbalance: auto`` does something."""
AUTO_IMBALANCE = "posthoc"
"""What ``imbalance: auto`` picks for imbalanced data with a validation split and per-level heads. Measured on the
long-tail regime of ``python -m bench.regimes`` (EfficientNet-Lite0, 128 px, 6 epochs, training seeds 0, 1, 2;
README, "Rare leaves"): with the hierarchical head ``posthoc`` keeps the Top-1 of the plain recipe (40.5 %, plain
39.3 %) and most of the frequent leaves' recall (52.2 % for the most frequent third); classifier re-training
(``crt``) predicts every leaf far more often (leaves at recall 0 on a 30-per-leaf test set: 1 over the three
seeds, ``posthoc`` 9) but falls a point under plain (38.3 %) and costs the most frequent third 7 more points."""
AUTO_IMBALANCE_FLAT = "crt"
"""... and with the flat head, when every leaf has training images: there ``crt`` (with part of the prior given
back on validation) measured better than ``posthoc`` on both test sets (Top-1 42.5 against 41.6 % on the
long-tailed split, 33.1 against 30.3 % on the 30-per-leaf set; leaves at recall 0 there 1 against 5 over the three
seeds), for 4.5 points of the most frequent third's recall (53.5 against 58.0 %). A leaf without training images
(fine-tuning on data that lack it) would never be predicted after ``crt``: ``posthoc`` then."""
AUTO_IMBALANCE_NO_VAL = "crt"
"""``posthoc`` chooses its strength on validation images; without them ``auto`` re-trains the leaf classifier with
every leaf equally often (``crt`` needs none; on the long-tail regime it kept more Top-1 than ``balanced_sampling``:
38.3 / 39.3 % against 35.5 / 30.8 % for the hierarchical / flat head, one run each). When a leaf has no training
images (fine-tuning on data that lack it), ``balanced_sampling`` instead: ``crt`` learns the leaf classifier anew
from the training images and would never predict that leaf again."""
AUTO_IMBALANCE_MULTILABEL = "balanced_sampling"
"""What ``auto`` picks for imbalanced multi-label data (``crt`` and ``posthoc`` change softmax levels)."""
COLOUR_SAMPLE = 24
"""Images decoded to tell grayscale from colour."""
MAX_HEADERS = 2000
"""Image headers read for sizes and defect geometry (evenly spread over the training images)."""
GRAY_SPREAD = 8
"""A pixel is gray when its channels differ by at most this many 8-bit levels (JPEG chroma noise)."""
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_THUMB = 128


@dataclass(frozen=True)
class DataProfile:
    """What the training data says about itself.

    Attributes:
        leaf_counts: training images per leaf, in the taxonomy's leaf order (zeros included).
        grayscale: every decoded image is gray; None when none could be decoded.
        images_checked: images looked at for ``grayscale`` (the first colour one ends the look).
        image_size: median (width, height) of the headers read; None when none could be read.
        crop_bound: the smallest crop area fraction that keeps half of every known defect (see the module
            docstring); None without defect geometry.
        defects_checked: images whose defect geometry ``crop_bound`` comes from.
        smallest_defect: the smallest defect side (or size) in pixels among them; None without geometry.
    """

    leaf_counts: tuple[int, ...]
    grayscale: bool | None = None
    images_checked: int = 0
    image_size: tuple[int, int] | None = None
    crop_bound: float | None = None
    defects_checked: int = 0
    smallest_defect: float | None = None

    @property
    def present(self) -> list[int]:
        """The counts of the leaves that have training images."""
        return [c for c in self.leaf_counts if c > 0]

    @property
    def ratio(self) -> float:
        """Largest over smallest count among leaves with images (1 with fewer than two such leaves)."""
        present = self.present
        return max(present) / min(present) if len(present) > 1 else 1.0


@dataclass(frozen=True)
class Choice:
    """One setting of the run: its value, whether the data (``auto``) or the config chose it, and why."""

    key: str
    value: Any
    source: str
    reason: str

    def line(self) -> str:
        """The log line ``train`` prints."""
        if self.source == "auto":
            return f"data: {self.reason} -> {self.key} {self.value}"
        return f"data: {self.reason}; {self.key} {self.value} (set in the config)"

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source, "reason": self.reason}


def profile_data(samples: Sequence[Sample], taxonomy: Taxonomy) -> DataProfile:
    """Look at the known-label training samples (see the module docstring); unreadable images are passed over."""
    known = [s for s in samples if not s.is_unknown]
    by_leaf = Counter(s.label for s in known)
    counts = tuple(by_leaf.get(leaf, 0) for leaf in taxonomy.leaves)
    gray, checked = _grayscale(_spread(known, COLOUR_SAMPLE))
    geometric = [s for s in known if s.defect_bbox is not None or s.defect_size_px]
    heads = [(s, _header(s)) for s in _spread(geometric or known, MAX_HEADERS)]
    sizes = [(s, head[0]) for s, head in heads if head is not None]
    image_size = None
    if sizes:
        ws, hs = zip(*(size for _, size in sizes), strict=True)
        image_size = (int(np.median(ws)), int(np.median(hs)))
    bounds, smallest = [], []
    for s, (w, h) in sizes:
        if s.defect_bbox is not None or s.defect_size_px:
            bounds.append(crop_scale_for((w, h), bbox=s.defect_bbox, size_px=s.defect_size_px))
            x0, y0, x1, y1 = s.defect_bbox or (0, 0, 0, 0)
            smallest.append(min(x1 - x0, y1 - y0) if s.defect_bbox is not None else float(s.defect_size_px or 0))
    return DataProfile(leaf_counts=counts, grayscale=gray, images_checked=checked, image_size=image_size,
                       crop_bound=max(bounds) if bounds else None, defects_checked=len(bounds),
                       smallest_defect=min(smallest) if smallest else None)


def crop_scale_for(image_size: tuple[int, int], *, bbox: tuple[int, int, int, int] | None = None,
                   size_px: float | None = None) -> float:
    """The smallest ``RandomResizedCrop`` scale at which every crop keeps half of this defect's width and height.

    Args:
        image_size: (width, height) of the image.
        bbox: the defect's ``(x0, y0, x1, y1)`` in pixels (its position is then known).
        size_px: the defect's size in pixels, used when there is no box (any position).

    Returns:
        A scale in (0, 1]; 1.0 when no crop smaller than the image is safe.
    """
    w, h = image_size
    if bbox is not None:
        cx, cy = (bbox[0] + bbox[2]) / 2 / w, (bbox[1] + bbox[3]) / 2 / h
        fx, fy = max(cx, 1 - cx), max(cy, 1 - cy)
    elif size_px:
        fx, fy = 1 - size_px / (2 * w), 1 - size_px / (2 * h)
    else:
        return 0.0
    fx, fy = min(max(fx, 0.0), 1.0), min(max(fy, 0.0), 1.0)
    # RandomResizedCrop: crop width / W = sqrt(s * r / a), height / H = sqrt(s * a / r), r in CROP_RATIO, a = W / H
    aspect = w / h
    scale = max(fx * fx * aspect / CROP_RATIO[0], fy * fy * CROP_RATIO[1] / aspect)
    return min(1.0, scale)


def level_counts(taxonomy: Taxonomy, leaf_counts: Sequence[int]) -> list[np.ndarray]:
    """Training images per class of every level, from the per-leaf counts."""
    counts = np.asarray(leaf_counts, dtype=np.float64)
    return [np.bincount(taxonomy.leaf_level_index[:, k], weights=counts, minlength=size)
            for k, size in enumerate(taxonomy.level_sizes)]


def choose_settings(cfg: TrainConfig, profile: DataProfile, *, validation: bool = True
                    ) -> tuple[TrainConfig, list[Choice]]:
    """The config with every "auto" setting chosen from ``profile``, and one :class:`Choice` per setting
    (``validation``: the run has validation images)."""
    choices = [_imbalance(cfg, profile, validation), *_colour(cfg, profile), _crop(cfg, profile)]
    values = {c.key: c.value for c in choices}
    augment = dataclasses.replace(cfg.augment, crop_scale=values["augment.crop_scale"],
                                  saturation=values["augment.saturation"], hue=values["augment.hue"])
    return dataclasses.replace(cfg, imbalance=values["imbalance"], augment=augment), choices


def _imbalance(cfg: TrainConfig, profile: DataProfile, validation: bool) -> Choice:
    present = profile.present
    if not present:
        facts = "no training images"
    else:
        facts = (f"{len(present)} leaves, counts {min(present)}..{max(present)} "
                 f"(ratio {profile.ratio:.3g})")
    if cfg.imbalance != "auto":
        return Choice("imbalance", cfg.imbalance, "config", facts)
    if cfg.loss.kind == "multilabel" and profile.ratio >= IMBALANCE_RATIO:  # the others adjust softmax levels
        return Choice("imbalance", AUTO_IMBALANCE_MULTILABEL, "auto", f"{facts}, multi-label sigmoid heads")
    if profile.ratio < IMBALANCE_RATIO:
        return Choice("imbalance", "none", "auto", f"{facts}, below {IMBALANCE_RATIO:g}")
    every_leaf = len(present) == len(profile.leaf_counts)  # crt learns the leaf classifier anew from these images
    if not validation:
        if not every_leaf:  # crt would never predict the leaves without images; a sampler keeps what was learned
            return Choice("imbalance", "balanced_sampling", "auto",
                          f"{facts}, no validation images, leaves without training images")
        return Choice("imbalance", AUTO_IMBALANCE_NO_VAL, "auto", f"{facts}, no validation images")
    if cfg.network.head == "flat" and every_leaf:
        return Choice("imbalance", AUTO_IMBALANCE_FLAT, "auto", f"{facts}, flat head")
    return Choice("imbalance", AUTO_IMBALANCE, "auto", facts)


def _colour(cfg: TrainConfig, profile: DataProfile) -> list[Choice]:
    if profile.grayscale is None:
        facts = "no image could be decoded"
    else:
        n = profile.images_checked
        facts = f"grayscale images ({n} checked)" if profile.grayscale else "colour images"
    out = []
    for key in ("saturation", "hue"):
        value = getattr(cfg.augment, key)
        if value != "auto":
            out.append(Choice(f"augment.{key}", value, "config", facts))
        else:
            out.append(Choice(f"augment.{key}", 0.0 if profile.grayscale else AUTO_AUGMENT[key], "auto", facts))
    return out


def _crop(cfg: TrainConfig, profile: DataProfile) -> Choice:
    size = f"images {profile.image_size[0]}x{profile.image_size[1]}" if profile.image_size else "no image size read"
    if profile.crop_bound is None:
        facts = f"{size}, no defect boxes or sizes"
    else:
        facts = (f"{size}, smallest defect {profile.smallest_defect:g} px, half of every defect kept from crop "
                 f"scale {profile.crop_bound:.3f} ({profile.defects_checked} images)")
    if cfg.augment.crop_scale != "auto":
        return Choice("augment.crop_scale", cfg.augment.crop_scale, "config", facts)
    fallback = AUTO_AUGMENT["crop_scale"]
    if profile.crop_bound is None or profile.crop_bound <= fallback:
        return Choice("augment.crop_scale", fallback, "auto", facts)
    return Choice("augment.crop_scale", min(1.0, math.ceil(profile.crop_bound * 1000) / 1000), "auto", facts)


def _spread(samples: Sequence[Sample], n: int) -> list[Sample]:
    """At most ``n`` samples evenly spaced over ``samples`` (deterministic)."""
    if len(samples) <= n:
        return list(samples)
    return [samples[i] for i in np.linspace(0, len(samples) - 1, n).round().astype(int)]


def _header(sample: Sample) -> tuple[tuple[int, int], str] | None:
    """(width, height) and mode from the image's header, None when it cannot be read."""
    if regular_file_reason(sample.path) is not None:
        return None
    try:
        with Image.open(sample.path) as img:
            return img.size, img.mode
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


def _grayscale(samples: Sequence[Sample]) -> tuple[bool | None, int]:
    """Whether every decodable image of ``samples`` is gray, and how many were decoded."""
    checked, gray = 0, True
    for s in samples:
        header = _header(s)
        if header is not None and header[1] in _GRAY_MODES:
            checked += 1
            continue
        img, _reason = decode_or_reason(load_image, s.path)
        if img is None:
            continue
        img.thumbnail((_THUMB, _THUMB))
        arr = np.asarray(img, dtype=np.int16)
        checked += 1
        if float(np.percentile(arr.max(axis=-1) - arr.min(axis=-1), 99)) > GRAY_SPREAD:
            gray = False
            break
    return (gray if checked else None), checked
