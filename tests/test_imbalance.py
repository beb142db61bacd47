"""Class-imbalance handling (losses, config) and the data-aware defaults of ``train`` (models.training.inspection)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file
from test_train import TINY_SETS, _tiny_dataset

from models.commands.cli import main as cli_main
from models.data.samples import Sample
from models.data.transforms import AUTO_AUGMENT, AugmentConfig
from models.nn.config import LossConfig
from models.nn.losses import HierarchicalLoss, class_balanced_weights, drw_start_epoch
from models.training.config import ConfigError, TrainConfig, load_config
from models.training.inspection import (
    AUTO_IMBALANCE,
    AUTO_IMBALANCE_NO_VAL,
    DataProfile,
    choose_settings,
    crop_scale_for,
    level_counts,
    profile_data,
)

ROOT = Path(__file__).resolve().parents[1]


def _unsmoothed(**kw) -> LossConfig:
    """A loss config without label smoothing (the default is 0.1): the formulas below are the plain ones."""
    return LossConfig(**{"label_smoothing": 0.0, **kw})


def _flat_loss(imbalance: str, counts: list[float], **kw) -> HierarchicalLoss:
    return HierarchicalLoss(_unsmoothed(kind="flat"), [], imbalance=imbalance, level_counts=[counts], **kw)


# ------------------------------------------------------------------------------------------ losses


def test_logit_adjustment_is_ce_on_shifted_logits_and_pushes_rare_classes_up() -> None:
    counts = [90.0, 10.0]
    logits = torch.zeros(2, 2, requires_grad=True)
    targets = torch.tensor([[0], [1]])  # one image of each class
    plain, _ = _flat_loss("none", counts)([logits], targets)
    adjusted, _ = _flat_loss("logit_adjust", counts, tau=1.0)([logits], targets)
    log_prior = torch.log(torch.tensor([0.9, 0.1]))
    assert adjusted.item() == pytest.approx(F.cross_entropy(logits + log_prior, targets[:, 0]).item(), rel=1e-6)
    assert plain.item() == pytest.approx(np.log(2), rel=1e-6)
    g_plain = torch.autograd.grad(plain, logits)[0].sum(0)
    g_adj = torch.autograd.grad(adjusted, logits)[0].sum(0)
    assert g_plain[1].item() == pytest.approx(0.0, abs=1e-7)  # balanced batch, plain CE: no push either way
    assert g_adj[1].item() < -0.1 and g_adj[0].item() > 0.1  # gradient descent raises the rare logit
    half, _ = _flat_loss("logit_adjust", counts, tau=0.5)([logits], targets)
    assert plain.item() < half.item() < adjusted.item()


def test_balanced_softmax_is_ce_under_uniform_priors_and_logit_adjust_tau_1_otherwise(taxonomy) -> None:
    gen = torch.Generator().manual_seed(0)
    levels = [torch.randn(6, n, generator=gen) for n in taxonomy.level_sizes]
    targets = torch.as_tensor(taxonomy.leaf_level_index[[0, 3, 5, 8, 11, 17]])
    uniform = [np.full(n, 7.0) for n in taxonomy.level_sizes]
    skewed = level_counts(taxonomy, np.arange(1, len(taxonomy.leaves) + 1) ** 2)
    for kind in ("flat", "layer", "hierarchical"):
        cfg = _unsmoothed(kind=kind)
        plain, _ = HierarchicalLoss(cfg, taxonomy.masks)(levels, targets)
        bs, _ = HierarchicalLoss(cfg, taxonomy.masks, imbalance="balanced_softmax", level_counts=uniform)(
            levels, targets)
        assert bs.item() == pytest.approx(plain.item(), rel=1e-5)
        bs_skew, _ = HierarchicalLoss(cfg, taxonomy.masks, imbalance="balanced_softmax", level_counts=skewed,
                                      tau=3.0)(levels, targets)  # tau is logit_adjust's only
        la, _ = HierarchicalLoss(cfg, taxonomy.masks, imbalance="logit_adjust", level_counts=skewed)(levels, targets)
        assert bs_skew.item() == pytest.approx(la.item(), rel=1e-6)
        assert abs(la.item() - plain.item()) > 1e-3


def test_drw_switches_class_balanced_weights_on_after_two_thirds() -> None:
    assert [drw_start_epoch(e) for e in (1, 2, 3, 30)] == [0, 1, 2, 20]
    counts = [500.0, 20.0, 2.0]
    w = class_balanced_weights(counts)
    assert w.mean() == pytest.approx(1.0) and w[2] > w[1] > w[0]
    loss = _flat_loss("drw", counts)
    logits = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([[0], [0], [0], [1], [2]])
    plain = F.cross_entropy(logits, targets[:, 0])
    weighted = F.cross_entropy(logits, targets[:, 0], weight=torch.tensor(w, dtype=torch.float32))
    assert loss.class_weights(19, 30) is None
    assert loss([logits], targets, epoch=19, total_epochs=30)[0].item() == pytest.approx(plain.item(), rel=1e-6)
    assert loss.class_weights(20, 30) is not None
    assert loss([logits], targets, epoch=20, total_epochs=30)[0].item() == pytest.approx(weighted.item(), rel=1e-5)


def test_every_loss_kind_takes_every_method_with_outliers_and_bad_counts_are_refused(taxonomy) -> None:
    counts = level_counts(taxonomy, [40] * 9 + [2] * 9)
    gen = torch.Generator().manual_seed(2)
    targets = torch.as_tensor(taxonomy.leaf_level_index[[0, 9, 17, 4]])
    targets[3] = -1  # an outlier image
    for kind in ("flat", "layer", "hierarchical"):
        for method in ("none", "balanced_sampling", "logit_adjust", "balanced_softmax", "drw"):
            levels = [torch.randn(4, n, generator=gen, requires_grad=True) for n in taxonomy.level_sizes]
            loss_fn = HierarchicalLoss(_unsmoothed(kind=kind, outlier_weight=0.5), taxonomy.masks,
                                       imbalance=method, level_counts=counts)
            total, parts = loss_fn(levels, targets, epoch=2, total_epochs=3)
            total.backward()
            assert torch.isfinite(total) and parts["outlier"] > 0
            assert all(lv.grad is not None and torch.isfinite(lv.grad).all() for lv in levels)
    with pytest.raises(ValueError, match="class counts"):
        HierarchicalLoss(_unsmoothed(), taxonomy.masks, imbalance="logit_adjust")
    with pytest.raises(ValueError, match="level_counts\\[2\\]"):
        HierarchicalLoss(_unsmoothed(), taxonomy.masks, imbalance="drw", level_counts=[*counts[:2], np.ones(5)])
    with pytest.raises(ValueError, match="imbalance must be"):
        HierarchicalLoss(_unsmoothed(), taxonomy.masks, imbalance="auto")


# ------------------------------------------------------------------------------------------ config


def test_imbalance_config_keys_and_the_balanced_sampling_alias() -> None:
    assert load_config(None)[0].imbalance == "auto"
    assert load_config(None, ["imbalance=drw", "imbalance_tau=5e-1"])[0].imbalance_tau == 0.5
    with pytest.raises(ConfigError, match="imbalance='focal'"):
        load_config(None, ["imbalance=focal"])
    with pytest.raises(ConfigError, match="imbalance_tau"):
        load_config(None, ["imbalance_tau=-1"])
    assert load_config(None, ["balanced_sampling=true"])[0].imbalance == "balanced_sampling"
    assert load_config(None, ["balanced_sampling=false"])[0].imbalance == "none"
    assert load_config(None, ["balanced_sampling=true", "imbalance=balanced_sampling"])[0].imbalance == (
        "balanced_sampling")
    with pytest.raises(ConfigError, match="contradicts"):
        load_config(None, ["balanced_sampling=true", "imbalance=drw"])
    with pytest.raises(ConfigError, match="true or false"):
        load_config(None, ["balanced_sampling=3"])
    assert "balanced_sampling" not in TrainConfig().to_dict()
    for path in sorted((ROOT / "resources" / "demo").glob("*.yaml")):
        load_config(path)  # the shipped configs still load


def test_augment_auto_keys() -> None:
    aug = AugmentConfig()
    assert (aug.crop_scale, aug.saturation, aug.hue) == ("auto", "auto", "auto")
    assert aug.value("crop_scale") == AUTO_AUGMENT["crop_scale"]
    assert AugmentConfig.from_dict({"crop_scale": 1}).crop_scale == 1.0
    for bad in ({"crop_scale": 1.5}, {"hue": "big"}, {"saturation": True}):
        with pytest.raises(ValueError, match="auto"):
            AugmentConfig.from_dict(bad)


# ------------------------------------------------------------------------------------------ inspection


def _images(root: Path, taxonomy, kind: str, boxes: list[tuple[int, int, int, int] | None],
            counts: tuple[int, ...] = (3, 3)) -> list[Sample]:
    """Tiny 40x40 images of the first leaves: kind "L" (grayscale file), "grayrgb" (RGB, equal channels) or "rgb"."""
    rng = np.random.default_rng(0)
    out = []
    for leaf, n in zip(taxonomy.leaves, counts, strict=False):
        for j in range(n):
            gray = rng.integers(0, 255, (40, 40), dtype=np.uint8)
            if kind == "L":
                img = Image.fromarray(gray, mode="L")
            elif kind == "grayrgb":
                img = Image.fromarray(np.stack([gray] * 3, axis=-1))
            else:
                img = Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
            path = root / f"{leaf}_{j}.png"
            img.save(path)
            out.append(Sample(path=path, label=leaf, defect_bbox=boxes[j % len(boxes)], split="train"))
    return out


def test_inspection_sees_grayscale_and_turns_colour_jitter_off(tmp_path, taxonomy) -> None:
    for kind, gray in (("L", True), ("grayrgb", True), ("rgb", False)):
        folder = tmp_path / kind
        folder.mkdir()
        profile = profile_data(_images(folder, taxonomy, kind, [None]), taxonomy)
        assert profile.grayscale is gray and profile.images_checked >= 1
        assert profile.image_size == (40, 40) and profile.crop_bound is None
        cfg, choices = choose_settings(TrainConfig(), profile)
        hue = next(c for c in choices if c.key == "augment.hue")
        assert hue.source == "auto" and hue.reason.startswith("grayscale images" if gray else "colour images")
        assert cfg.augment.saturation == (0.0 if gray else AUTO_AUGMENT["saturation"])
        assert cfg.augment.hue == (0.0 if gray else AUTO_AUGMENT["hue"])
        assert cfg.augment.crop_scale == AUTO_AUGMENT["crop_scale"]
    explicit, _ = choose_settings(TrainConfig(augment=AugmentConfig(saturation=0.3)), profile_data(
        _images(tmp_path / "L", taxonomy, "L", [None]), taxonomy))
    assert explicit.augment.saturation == 0.3 and explicit.augment.hue == 0.0


def test_crop_scale_bound_from_defect_boxes_and_sizes(tmp_path, taxonomy) -> None:
    centred = crop_scale_for((100, 100), bbox=(45, 45, 55, 55))
    assert centred == pytest.approx(max(0.25 / 0.9, 0.25 * 1.1))  # the crop side must reach the centre
    near_edge = crop_scale_for((100, 100), bbox=(5, 45, 15, 55))  # centre at x = 0.1: side >= 0.9 of the width
    assert near_edge == pytest.approx(0.81 / 0.9)
    assert crop_scale_for((100, 100), bbox=(0, 0, 4, 4)) == 1.0  # a corner defect: no crop is safe
    assert crop_scale_for((200, 200), size_px=40) == pytest.approx(0.9 ** 2 / 0.9)  # any position: 20 px cut at most
    assert crop_scale_for((100, 100)) == 0.0
    edge = _images(tmp_path, taxonomy, "rgb", [(20, 18, 24, 22), (0, 0, 2, 3)])
    profile = profile_data(edge, taxonomy)
    assert profile.defects_checked == len(edge) and profile.smallest_defect == 2
    cfg, choices = choose_settings(TrainConfig(), profile)
    assert cfg.augment.crop_scale == 1.0
    crop = next(c for c in choices if c.key == "augment.crop_scale")
    assert crop.source == "auto" and "smallest defect 2 px" in crop.reason
    fixed, choices = choose_settings(TrainConfig(augment=AugmentConfig(crop_scale=0.6)), profile)
    assert fixed.augment.crop_scale == 0.6
    assert next(c for c in choices if c.key == "augment.crop_scale").source == "config"


def test_imbalance_is_chosen_from_counts_unless_the_config_says(taxonomy) -> None:
    def chosen(counts, **cfg):
        profile = DataProfile(leaf_counts=tuple(counts))
        cfg, choices = choose_settings(TrainConfig(**cfg), profile)
        return cfg.imbalance, choices[0]

    n = len(taxonomy.leaves)
    assert chosen([10] * (n - 1) + [4])[0] == "none"  # ratio 2.5
    assert chosen([10] * (n - 1) + [0])[0] == "none"  # a leaf without images is not a ratio
    value, choice = chosen([410] + [12] * (n - 1))
    assert value == AUTO_IMBALANCE
    assert choice.line().startswith(f"data: {n} leaves, counts 12..410 (ratio 34.2)") and choice.source == "auto"
    value, choice = chosen([410] + [12] * (n - 1), imbalance="drw")
    assert value == "drw" and choice.source == "config" and "set in the config" in choice.line()
    assert chosen([10] * n, imbalance="balanced_sampling")[0] == "balanced_sampling"


# ------------------------------------------------------------------------------------------ end to end


def test_train_with_logit_adjustment_exports_the_plain_network(tmp_path, taxonomy, capsys) -> None:
    from models.bundle.io import load_bundle
    from models.nn.network import build_network

    data = _tiny_dataset(tmp_path / "data", taxonomy)
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--no-progress"]
    for s in [*TINY_SETS, "epochs=1", "max_steps_per_epoch=2", "imbalance=logit_adjust", "imbalance_tau=0.5"]:
        args += ["--set", s]
    assert cli_main(args) == 0
    log = capsys.readouterr().out
    assert "imbalance logit_adjust (set in the config)" in log
    assert "-> augment.saturation 0.1" in log and "-> augment.crop_scale 0.85" in log
    manifest = json.loads((out / "manifest.json").read_text())
    train = manifest["train"]
    assert train["config"]["imbalance"] == "logit_adjust" and train["config"]["augment"]["crop_scale"] == 0.85
    assert train["data_choices"]["imbalance"]["source"] == "config"
    assert train["data_choices"]["augment.hue"] == {"value": 0.02, "source": "auto",
                                                   "reason": "colour images"}
    bundle = load_bundle(out)
    assert bundle.manifest.train is not None and bundle.manifest.train.data_choices["imbalance"]["value"] == (
        "logit_adjust")
    plain = build_network(bundle.manifest.network, taxonomy, load_pretrained=False)
    assert set(load_file(out / "weights.safetensors")) == set(plain.state_dict())  # no prior in the weights
    plain.load_state_dict(load_file(out / "weights.safetensors"))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        got, want = bundle.model.eval()(x), plain.eval()(x)
    for a, b in zip(got.levels, want.levels, strict=True):
        torch.testing.assert_close(a, b)


def test_train_chooses_an_imbalance_method_for_a_long_tail_and_runs_without_a_val_split(tmp_path, taxonomy, capsys) -> None:
    full = _tiny_dataset(tmp_path / "data", taxonomy, per_class=8)  # 6 train, 1 val, 1 test per leaf
    lines = full.read_text().splitlines()
    rare = set(taxonomy.leaves[::2])
    kept, seen = [lines[0]], set()
    for line in lines[1:]:
        label, split = line.split(",")[1:3]
        if split == "val" or (split == "train" and label in rare and label in seen):
            continue
        seen.add(label)
        kept.append(line)
    data = full.with_name("longtail.csv")
    data.write_text("\n".join(kept) + "\n")
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--no-progress"]
    for s in [*TINY_SETS, "epochs=1", "max_steps_per_epoch=2"]:
        args += ["--set", s]
    assert cli_main(args) == 0
    log = capsys.readouterr().out
    assert "data: 18 leaves, counts 1..6 (ratio 6), no validation images -> imbalance crt" in log
    assert "no validation images to measure it on" in log
    train = json.loads((out / "manifest.json").read_text())["train"]
    assert train["n_val"] == 0 and train["best_epoch"] == 1  # the train loss (> 1) scores the epoch
    assert AUTO_IMBALANCE_NO_VAL == "crt" and train["config"]["imbalance"] == AUTO_IMBALANCE_NO_VAL
    assert train["data_choices"]["imbalance"]["source"] == "auto"
    assert train["data_choices"]["imbalance_crt"]["validation"] is None


@pytest.mark.parametrize(("method", "power"), [("none", 0.0), ("balanced_sampling", 1.0), ("sqrt_sampling", 0.5)])
def test_sampling_methods_draw_each_leaf_by_its_count_to_the_power(tmp_path, taxonomy, method, power) -> None:
    from models.training.data import TrainingData, make_loader

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    counts = {taxonomy.leaves[0]: 64, taxonomy.leaves[1]: 16, taxonomy.leaves[2]: 4}
    samples = [Sample(path=tmp_path / "a.png", label=leaf) for leaf, n in counts.items() for _ in range(n)]
    cfg = TrainConfig(imbalance=method, batch_size=4, num_workers=0)
    data_cfg = {"input_size": (3, 8, 8), "mean": (0.5,) * 3, "std": (0.5,) * 3}
    _, sampler = make_loader(cfg, TrainingData(samples, [], [], [str(tmp_path)]), taxonomy, data_cfg, rank=0,
                             world=1, pin_memory=False)
    drawn = np.zeros(3)
    for epoch in range(40):
        sampler.set_epoch(epoch)
        for i in sampler:
            drawn[taxonomy.leaves.index(samples[i].label)] += 1
    want = np.array([n ** (1 - power) for n in counts.values()])
    np.testing.assert_allclose(drawn / drawn.sum(), want / want.sum(), atol=0.02)
