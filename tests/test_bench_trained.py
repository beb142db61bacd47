"""bench.trained: the trained full-size bundle the engine benchmark judges its fast paths by (issue #21, part 2),
made here with a tiny recipe: synthetic data, two training stages (the second from the first), calibration."""

from __future__ import annotations

import pytest

import bench.trained as trained
from models.bundle.files import read_bundle_manifest

TINY = """name: tiny
network:
  backbone: convnext_tiny
  head: independent
  head_dim: 16
  backbone_kwargs: {{depths: [1, 1, 1, 1], dims: [8, 16, 32, 64]}}
input_size: {size}
epochs: 1
batch_size: 16
num_workers: 0
imbalance: none
schedule: cosine
"""


def test_make_trains_both_stages_calibrates_and_is_reused(tmp_path, monkeypatch):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "a.yaml").write_text(TINY.format(size=32), encoding="utf-8")
    (configs / "b.yaml").write_text(TINY.format(size=48), encoding="utf-8")
    monkeypatch.setattr(trained, "CONFIGS", configs)
    monkeypatch.setattr(trained, "RECIPES", {"convnext_tiny": ("a.yaml", "b.yaml")})
    monkeypatch.setattr(trained, "TRAIN_DATA", ["--per-class", "4", "--seed", "1", "--split", "0.75,0.25,0",
                                                "--size", "64"])
    monkeypatch.setattr(trained, "CALIB_DATA", ["--per-class", "3", "--seed", "3", "--unknown-classes", "1",
                                                "--unknown-per-class", "3", "--split", "0,1,0", "--size", "64"])
    work = tmp_path / "work"
    assert trained.ready(work, "convnext_tiny") is None
    bundle = trained.make(work, "convnext_tiny")
    assert bundle == trained.trained_path(work, "convnext_tiny") == trained.ready(work, "convnext_tiny")
    manifest = read_bundle_manifest(bundle)
    assert manifest.calibration is not None and manifest.hw == (48, 48)  # the last stage's size, calibrated
    stage1 = read_bundle_manifest(work / "trained" / "convnext_tiny" / "stage1")
    assert stage1.hw == (32, 32) and stage1.calibration is None
    init = manifest.train.init_from if manifest.train is not None else None
    assert init is not None and init.model_version == stage1.model_version  # stage 2 started from stage 1
    before = (bundle / "manifest.json").stat().st_mtime_ns
    assert trained.make(work, "convnext_tiny") == bundle  # made once: a rerun trains nothing
    assert (bundle / "manifest.json").stat().st_mtime_ns == before


def test_an_uncalibrated_bundle_is_not_ready_and_an_unknown_family_is_named(tmp_path, taxonomy):
    from conftest import make_tiny_bundle

    work = tmp_path / "work"
    make_tiny_bundle(trained.trained_path(work, "convnext_tiny"), taxonomy)  # trained, never calibrated
    assert trained.ready(work, "convnext_tiny") is None
    with pytest.raises(SystemExit, match="no recipe for 'vit_small'"):
        trained.make(work, "vit_small")
