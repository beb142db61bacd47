"""``cache_images``: each training image is decoded once, and the loader keeps its workers (and their caches)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from models.data.manifest import Sample
from models.data.transforms import build_eval_transform
from models.training.config import ConfigError, TrainConfig, load_config
from models.training.data import SampleDataset, TrainingData, make_loader


def _samples(root: Path, taxonomy, n: int = 3) -> list[Sample]:
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        p = root / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(p)
        out.append(Sample(path=p, label=taxonomy.leaves[i]))
    return out


def test_cached_images_are_decoded_once_and_give_the_same_tensors(tmp_path, taxonomy):
    samples = _samples(tmp_path, taxonomy)
    transform = build_eval_transform((16, 16), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    plain = SampleDataset(samples, taxonomy, transform)
    cached = SampleDataset(samples, taxonomy, transform, cache=True)
    first = [cached[i][0] for i in range(len(samples))]
    for s in samples:
        s.path.unlink()  # a second read from disk would now fail
    for i in range(len(samples)):
        assert torch.equal(cached[i][0], first[i])
    assert plain[0] is None  # without the cache the deleted file is unreadable (skipped by collate)


def test_the_loader_keeps_its_workers_only_when_caching(tmp_path, taxonomy):
    samples = _samples(tmp_path, taxonomy)
    data = TrainingData(samples, [], [], [str(tmp_path)])
    data_cfg = {"input_size": (3, 16, 16), "mean": (0.5,) * 3, "std": (0.5,) * 3}
    for cache, workers, persistent in [(True, 1, True), (False, 1, False), (True, 0, False)]:
        cfg = TrainConfig(cache_images=cache, num_workers=workers, batch_size=2)
        loader, _ = make_loader(cfg, data, taxonomy, data_cfg, rank=0, world=1, pin_memory=False)
        assert loader.persistent_workers is persistent
        assert loader.dataset.cache is not None if cache else loader.dataset.cache is None


def test_cache_images_must_be_a_boolean(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("cache_images: 'yes'\n")
    with pytest.raises(ConfigError, match="cache_images"):
        load_config(bad)
