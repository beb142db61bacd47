"""The training data: which samples train, validate and expose outliers, and how they are fed to the model."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision import tv_tensors

from models.data.manifest import DataError, Sample, data_hash, load_data
from models.data.splits import held_out_copies
from models.data.transforms import build_train_transform
from models.imageio import decode_or_reason, load_image
from models.nn.config import IMBALANCE_SAMPLING
from models.taxonomy import Taxonomy
from models.training.config import TrainConfig

Log = Callable[[str], None]


class SampleDataset(Dataset):
    """Samples -> (image tensor, per-level targets, index). Unreadable images give None.

    An ``unknown:*`` sample (outlier exposure) has leaf index -1 and targets -1 at every level.
    With ``cache=True`` each decoded image is kept in memory after its first read, so later epochs only
    transform it (each DataLoader worker holds its own cache: use persistent workers). With ``boxes=True`` an
    item also carries the sample's defect box as a (1, H, W) mask that the transform moves with the image
    (crops, flips, turns) and whether the sample has a box at all (CBAM attention supervision,
    ``loss.attention_weight``).
    """

    def __init__(self, samples: Sequence[Sample], taxonomy: Taxonomy, transform: Callable,
                 cache: bool = False, boxes: bool = False) -> None:
        self.samples = list(samples)
        self.boxes = boxes
        self.cache: dict[int, Any] | None = {} if cache else None
        leaf_pos = {leaf: i for i, leaf in enumerate(taxonomy.leaves)}
        self.leaf_index = np.array([-1 if s.is_unknown else leaf_pos[s.label] for s in self.samples], dtype=np.int64)
        levels = len(taxonomy.levels)
        self.level_targets = np.full((len(self.samples), levels), -1, dtype=np.int64)
        known = self.leaf_index >= 0
        self.level_targets[known] = taxonomy.leaf_level_index[self.leaf_index[known]]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        img = self.cache.get(i) if self.cache is not None else None
        if img is None:
            img, _reason = decode_or_reason(load_image, self.samples[i].path)  # unreadable: skipped by ``collate``
            if img is None:
                return None
            if self.cache is not None:
                self.cache[i] = img
        if not self.boxes:
            return self.transform(img), torch.from_numpy(self.level_targets[i]), i
        mask, has_box = box_mask(self.samples[i].defect_bbox, img.size)
        x, mask = self.transform(img, mask)
        has_box = has_box and bool(mask.any())  # a crop that cut the whole box away leaves nothing to attend
        return x, torch.from_numpy(self.level_targets[i]), i, (mask.as_subclass(torch.Tensor), has_box)


def box_mask(box: tuple[int, int, int, int] | None, size: tuple[int, int]) -> tuple[tv_tensors.Mask, bool]:
    """The defect box as a (1, H, W) uint8 mask of an image of ``size`` = (W, H), and whether there is one.

    The box's far edge is inclusive (``x1``, ``y1`` are the last pixels of the defect); a box outside the image
    counts as none.
    """
    w, h = size
    mask = torch.zeros(1, h, w, dtype=torch.uint8)
    if box is not None:
        x0, y0, x1, y1 = (int(v) for v in box)
        if x1 >= 0 and y1 >= 0:  # wholly left of or above the image: none
            mask[:, max(0, y0):min(h, y1 + 1), max(0, x0):min(w, x1 + 1)] = 1
    return tv_tensors.Mask(mask), bool(mask.any())


def collate(items):
    """Stack a batch; unreadable images (None) are left out. ``(x, y, index)``, plus ``(masks, has_box)`` when
    the dataset carries boxes."""
    items = [it for it in items if it is not None]
    if not items:
        return None
    if len(items[0]) == 3:
        xs, ys, idx = zip(*items, strict=True)
        return torch.stack(xs), torch.stack(ys), torch.tensor(idx)
    xs, ys, idx, boxes = zip(*items, strict=True)
    masks, has_box = zip(*boxes, strict=True)
    return torch.stack(xs), torch.stack(ys), torch.tensor(idx), (torch.stack(masks), torch.tensor(has_box))


class EpochSampler(Sampler[int]):
    """Deterministic per-(seed, epoch) order, optionally class-balanced, sharded across ranks."""

    def __init__(self, n: int, *, seed: int, weights: np.ndarray | None = None, rank: int = 0, world: int = 1) -> None:
        self.n, self.seed, self.weights, self.rank, self.world = n, seed, weights, rank, world
        self.epoch = 0
        self.per_rank = math.ceil(n / world) if n else 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        total = self.per_rank * self.world
        if self.weights is not None:
            order = torch.multinomial(torch.as_tensor(self.weights, dtype=torch.double), total, replacement=True, generator=g)
        else:
            order = torch.randperm(self.n, generator=g)
            if total > self.n:
                order = torch.cat([order, order[: total - self.n]])
        return iter(order[self.rank :: self.world].tolist())

    def __len__(self) -> int:
        return self.per_rank


def split_for_training(samples: Sequence[Sample], seed: int, log: Log) -> dict[str, list[Sample]]:
    """Use the manifest's split column; make a deterministic split when there is none.

    ``unknown:*`` samples are kept apart under ``"outliers"`` (those of the train split, or without a
    split): they are outlier-exposure images, never validation or test classes.
    """
    known = [s for s in samples if not s.is_unknown]
    copies: set[int] = set()
    if known and all(s.split is None for s in known):
        from models.data.splits import split_samples

        log(f"no split column: making a stratified 70/15/15 split (seed {seed})")
        known = split_samples(known, seed=seed)
    elif unsplit := [s for s in known if s.split is None]:  # an app export beside the data's own manifest
        sources = sorted({Path(s.source).name for s in unsplit if s.source})
        copies = held_out_copies(samples)
        log(f"{len(unsplit)} image(s) without a split ({', '.join(sources[:3]) or 'no manifest'}) beside data with "
            "one: they are training images" + (
                f", but {len(copies)} image(s) without a split hold the same picture as a validation or test image "
                "and are left out "
                "(trained on, the held-out images would be seen under other names, e.g. "
                f"{samples[min(copies)].path.name})" if copies else ""))
        known = [s for i, s in enumerate(samples) if not s.is_unknown and i not in copies]
    parts: dict[str, list[Sample]] = {"train": [], "val": [], "test": []}
    for s in known:
        parts.setdefault(s.split or "train", []).append(s)
    parts["outliers"] = [s for i, s in enumerate(samples) if s.is_unknown and (s.split or "train") == "train"
                         and i not in copies]
    return parts


def outlier_samples(parts: dict[str, list[Sample]], cfg: TrainConfig, log: Log) -> list[Sample]:
    """The ``unknown:*`` training images to use as outlier exposure (none when ``loss.outlier_weight`` is 0)."""
    outliers = parts.get("outliers", [])
    if cfg.loss.outlier_weight > 0:
        kinds = sorted({s.label for s in outliers})
        if not outliers:
            log("warning: loss.outlier_weight > 0 but the training data has no unknown:* images of the train split")
        else:
            log(f"outlier exposure: {len(outliers)} unknown:* training images of {len(kinds)} kind(s) "
                f"({', '.join(kinds[:8])}{', ...' if len(kinds) > 8 else ''}), weight {cfg.loss.outlier_weight}")
        return outliers
    if outliers:
        log(f"{len(outliers)} unknown:* training images not used (set loss.outlier_weight > 0 to use them "
            "as outlier exposure)")
    return []


@dataclass
class TrainingData:
    """The samples of one run.

    Attributes:
        train: known-label training images.
        val: known-label validation images (may be empty).
        outliers: ``unknown:*`` training images used as outlier exposure (empty when not weighted).
        sources: the manifests or folders they came from.
    """

    train: list[Sample]
    val: list[Sample]
    outliers: list[Sample]
    sources: list[str]

    def hash(self) -> str:
        """:func:`models.data.manifest.data_hash` of everything the run sees."""
        return data_hash(self.train + self.val + self.outliers)


def load_training_data(cfg: TrainConfig, sources: Sequence[str | Path], taxonomy: Taxonomy, log: Log) -> TrainingData:
    """Read the data, split it and pick the outlier-exposure images.

    Raises:
        DataError: no training samples.
    """
    loaded = load_data(list(sources), taxonomy)
    if loaded.skipped:
        log(loaded.report())
    parts = split_for_training(loaded.samples, cfg.seed, log)
    data = TrainingData(parts.get("train", []), parts.get("val", []), outlier_samples(parts, cfg, log),
                        [str(s) for s in sources])
    if not data.train:
        raise DataError("no training samples (split 'train' is empty after loading the data)")
    missing = sorted(set(taxonomy.leaves) - {s.label for s in data.train})
    if missing:
        log(f"warning: {len(missing)} leaf class(es) have no training images: {', '.join(missing[:10])}"
            + (f", ... and {len(missing) - 10} more" if len(missing) > 10 else ""))
    if not data.val:  # (a lead's retraining on an 11-image export ran silently without any)
        log("warning: no validation images: the epoch kept is the one of the lowest training loss, training never "
            "stops early and the run reports no validation metric; give the data more images per type, or a split "
            "column with val rows")
    return data


def make_loader(cfg: TrainConfig, data: TrainingData, taxonomy: Taxonomy, data_cfg: dict, *, rank: int, world: int,
                pin_memory: bool) -> tuple[DataLoader, EpochSampler]:
    """The training loader (train + outlier images, optionally class-balanced) and its per-epoch sampler."""
    size = data_cfg["input_size"][1:]
    transform = build_train_transform(cfg.augment, size, data_cfg["mean"], data_cfg["std"],
                                      data_cfg.get("interpolation", "bicubic"))
    dataset = SampleDataset(data.train + data.outliers, taxonomy, transform, cache=cfg.cache_images,
                            boxes=cfg.loss.attention_weight > 0)
    weights = None
    if cfg.imbalance in IMBALANCE_SAMPLING:
        group = np.where(dataset.leaf_index >= 0, dataset.leaf_index, len(taxonomy.leaves))  # outliers: one group
        counts = np.bincount(group, minlength=len(taxonomy.leaves) + 1).astype(np.float64)
        weights = counts[group] ** -IMBALANCE_SAMPLING[cfg.imbalance]
    sampler = EpochSampler(len(dataset), seed=cfg.seed, weights=weights, rank=rank, world=world)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers,
                        collate_fn=collate, drop_last=len(dataset) > cfg.batch_size * world,
                        persistent_workers=cfg.cache_images and cfg.num_workers > 0, pin_memory=pin_memory)
    return loader, sampler
