"""CBAM attention supervised by defect boxes (issue #15): the mask travels with the augmented image, the loss
pulls the spatial maps onto the box, and training with ``loss.attention_weight`` and ``--init-from`` a plain
bundle work from the command line."""

from __future__ import annotations

import copy
import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image
from test_train import TINY_SETS, _train
from torchvision import tv_tensors

from models.commands.cli import main as cli_main
from models.data.transforms import AugmentConfig, build_train_transform
from models.nn.cbam import attention_box_loss
from models.nn.config import NetworkConfig
from models.nn.network import CBAM_HEATMAP_STRIDES, build_network
from models.training.data import box_mask, collate

TINY_CONVNEXT = {"depths": [1, 1, 1, 1], "dims": [16, 32, 64, 128]}


def test_box_mask_covers_the_box_inclusively_and_clips_it() -> None:
    mask, has = box_mask((2, 1, 4, 3), (6, 5))
    assert has and isinstance(mask, tv_tensors.Mask) and mask.shape == (1, 5, 6)
    expected = np.zeros((5, 6), np.uint8)
    expected[1:4, 2:5] = 1
    np.testing.assert_array_equal(mask[0].numpy(), expected)
    clipped, has = box_mask((4, 3, 50, 50), (6, 5))
    assert has and int(clipped.sum()) == 2 * 2
    assert box_mask(None, (6, 5))[1] is False
    assert box_mask((10, 10, 12, 12), (6, 5))[1] is False  # wholly outside: no box
    assert box_mask((-10, -10, -5, -5), (6, 5))[1] is False  # also above and left of the image
    assert int(box_mask((-3, -3, 1, 1), (6, 5))[0].sum()) == 4  # partly: the part inside


@pytest.mark.parametrize("seed", range(6))
def test_the_mask_moves_with_the_image_through_every_augmentation(seed: int) -> None:
    """A white box on black, and its mask: after crops, flips, 90-degree turns, blur, jitter and noise, the mask
    still covers the white pixels (noise and colour never touch the mask)."""
    torch.manual_seed(seed)
    arr = np.zeros((96, 128, 3), np.uint8)
    box = (70, 20, 109, 49)
    arr[box[1]:box[3] + 1, box[0]:box[2] + 1] = 255
    aug = AugmentConfig(crop_scale=0.7, hflip=0.5, vflip=0.5, rot90=True, brightness=0.1, contrast=0.1,
                        saturation=0.1, hue=0.02, blur_p=0.5, noise_std=0.05)
    transform = build_train_transform(aug, (64, 64), [0.0] * 3, [1.0] * 3)
    mask, _ = box_mask(box, (128, 96))
    image, moved = transform(Image.fromarray(arr), mask)
    assert isinstance(moved, tv_tensors.Mask) and moved.dtype == torch.uint8 and moved.shape == (1, 64, 64)
    assert set(moved.unique().tolist()) <= {0, 1}
    bright = image.mean(0) > 0.5
    inside = moved[0].bool()
    iou = float((bright & inside).sum()) / max(1.0, float((bright | inside).sum()))
    assert iou > 0.85, iou
    # the image alone still goes through as one tensor
    assert build_train_transform(aug, (64, 64), [0.0] * 3, [1.0] * 3)(Image.fromarray(arr)).shape == (3, 64, 64)


def test_collate_keeps_masks_and_which_images_have_a_box() -> None:
    item = (torch.zeros(3, 4, 4), torch.zeros(3, dtype=torch.long), 0)
    masks = (torch.ones(1, 4, 4, dtype=torch.uint8), True), (torch.zeros(1, 4, 4, dtype=torch.uint8), False)
    x, _y, idx, (m, has) = collate([(*item, masks[0]), None, (*item, masks[1])])
    assert x.shape == (2, 3, 4, 4) and m.shape == (2, 1, 4, 4) and has.tolist() == [True, False]
    assert idx.tolist() == [0, 0]
    assert len(collate([item, item])) == 3


def test_the_attention_loss_rewards_maps_on_the_box() -> None:
    masks = torch.zeros(2, 1, 32, 32)
    masks[0, :, 4:12, 20:28] = 1
    masks[1, :, 16:20, 0:8] = 1
    has = torch.tensor([True, True])
    on_box = torch.logit(torch.nn.functional.adaptive_max_pool2d(masks, (8, 8)) * 0.98 + 0.01)  # logits
    flat = torch.zeros(2, 1, 8, 8)  # sigmoid 0.5
    off_box = -on_box
    losses = [float(attention_box_loss([(4, m)], masks, has)) for m in (on_box, flat, off_box)]
    assert losses[0] < 0.05 < losses[1] < losses[2]
    assert losses[1] == pytest.approx(np.log(2.0), rel=1e-4)  # the uniform start of a stage CBAM
    # images without a box pay nothing; a map at a stride outside the heatmap's is used only when nothing else is
    assert float(attention_box_loss([(4, off_box)], masks, torch.tensor([False, False]))) == 0.0
    assert float(attention_box_loss([(4, on_box), (32, off_box[:, :, :1, :1])], masks, has)) == pytest.approx(
        losses[0])
    live = flat.clone().requires_grad_(True)
    attention_box_loss([(8, live)], masks, has).backward()
    assert float(live.grad[0, 0, 1, 5]) < 0 < float(live.grad[0, 0, 7, 0])  # up inside the box, down outside
    # a cell saturated in half precision (its sigmoid rounds to 1.0) is still pulled down
    saturated = torch.full((2, 1, 8, 8), 12.0, dtype=torch.bfloat16, requires_grad=True)
    attention_box_loss([(8, saturated)], masks, has).backward()
    assert float(saturated.grad[0, 0, 7, 0]) > 0


def _pointing_game(net: torch.nn.Module, images: torch.Tensor, boxes: list[tuple[int, int, int, int]]) -> float:
    net.eval()
    with torch.no_grad():
        net(images)
        heat = net.cbam_heatmap()
    hits = 0
    for h, (x0, y0, x1, y1) in zip(heat[:, 0], boxes, strict=True):
        scale = images.shape[-1] / h.shape[-1]
        r, c = divmod(int(h.argmax()), h.shape[-1])
        hits += x0 <= (c + 0.5) * scale <= x1 + 1 and y0 <= (r + 0.5) * scale <= y1 + 1
    return hits / len(boxes)


def _spots(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int, int, int]]]:
    """Textured backgrounds with one bright 10x10 spot each, and the spots' boxes and masks."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 64, 64, generator=g) * 0.6
    masks = torch.zeros(n, 1, 64, 64)
    boxes = []
    for i in range(n):
        x0, y0 = (int(v) for v in torch.randint(0, 54, (2,), generator=g))
        images[i, :, y0:y0 + 10, x0:x0 + 10] += 0.8
        masks[i, :, y0:y0 + 10, x0:x0 + 10] = 1
        boxes.append((x0, y0, x0 + 9, y0 + 9))
    return images, masks, boxes


def test_supervised_stage_cbams_learn_to_point_at_the_defect(taxonomy) -> None:
    """Without supervision a new stage CBAM's map is flat; trained on the boxes alone for a few dozen steps (60:
    about 0.94 of the unseen images; 20 steps: 0.25), its combined heatmap's peak falls inside the box of most
    unseen images."""
    torch.manual_seed(0)
    net = build_network(NetworkConfig(backbone="convnext_tiny", cbam="stages", head_dim=16,
                                      backbone_kwargs=TINY_CONVNEXT), taxonomy, load_pretrained=False)
    test_images, _, test_boxes = _spots(48, seed=99)
    before = _pointing_game(net, test_images, test_boxes)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)  # the features learn with the gates, as in training
    net.train()
    for step in range(60):
        images, masks, _ = _spots(16, seed=step)
        net(images)
        loss = attention_box_loss(net.cbam_live_logits(), masks, torch.ones(16, dtype=torch.bool),
                                  CBAM_HEATMAP_STRIDES)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = _pointing_game(net, test_images, test_boxes)
    assert before < 0.3 and after >= 0.8, (before, after)
    net.eval()
    with torch.no_grad():
        net(test_images[:2])
    assert net.cbam_live_logits() == []  # no graph is kept outside training
    with torch.enable_grad():  # an explanation's forward records gradients, yet keeps nothing: the model still copies
        net(test_images[:1].requires_grad_(True))
    assert net.cbam_live_logits() == []
    copy.deepcopy(net)


# ------------------------------------------------------------------------------ from the command line


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, taxonomy):
    from test_train import _tiny_dataset

    return _tiny_dataset(tmp_path_factory.mktemp("boxes"), taxonomy)


def test_training_with_attention_weight_logs_the_term(tmp_path, dataset, capsys) -> None:
    assert _train(tmp_path / "run", dataset, "network.cbam=stages", "loss.attention_weight=0.5") == 0
    out = capsys.readouterr().out
    assert "have a defect box; their CBAM maps learn to attend it (weight 0.5)" in out
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    assert rows and all(float(r["train_attention"]) > 0 for r in rows)
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["loss"]["attention_weight"] == 0.5


def test_a_cbam_run_with_boxes_and_no_attention_weight_gets_a_hint(tmp_path, dataset, capsys) -> None:
    assert _train(tmp_path / "run", dataset, "network.cbam=stages", "epochs=1", "max_steps_per_epoch=1") == 0
    assert "--set loss.attention_weight=1 teaches the CBAM maps" in capsys.readouterr().out
    assert _train(tmp_path / "plain", dataset, "epochs=1", "max_steps_per_epoch=1") == 0
    assert "attention_weight" not in capsys.readouterr().out


def test_attention_weight_without_cbam_is_a_clear_error(tmp_path, dataset, capsys) -> None:
    assert _train(tmp_path / "run", dataset, "loss.attention_weight=1") == 2
    assert "set network.cbam to stages or blocks" in capsys.readouterr().err
    assert _train(tmp_path / "neg", dataset, "network.cbam=stages", "loss.attention_weight=-1") == 2
    assert "attention_weight must be >= 0" in capsys.readouterr().err


def test_init_from_a_plain_bundle_adds_stage_cbams(tmp_path, dataset, capsys) -> None:
    base = tmp_path / "plain"
    assert _train(base, dataset, "epochs=1", "max_steps_per_epoch=1") == 0
    capsys.readouterr()
    args = ["train", "--data", str(dataset), "--out", str(tmp_path / "cbam"), "--no-progress", "--init-from", str(base),
            *[a for s in (*TINY_SETS, "epochs=1", "max_steps_per_epoch=1", "network.cbam=stages",
                          "loss.attention_weight=1") for a in ("--set", s)]]
    assert cli_main(args) == 0
    assert "with a CBAM after each backbone stage added (20 new tensors)" in capsys.readouterr().out
    assert json.loads((tmp_path / "cbam" / "manifest.json").read_text())["network"]["cbam"] == "stages"
    # other CBAM changes still need a fresh start: blocks are not stages (and need a ResNet), and a CBAM network is
    # not made plain
    assert _train(tmp_path / "blocks", dataset, f"init_from={base}", "network.cbam=blocks") == 2
    assert "'blocks'" in capsys.readouterr().err
    assert _train(tmp_path / "back", dataset, f"init_from={tmp_path / 'cbam'}") == 2
    assert "cbam 'none' here, 'stages' in" in capsys.readouterr().err


def test_a_box_the_crop_cut_away_counts_as_no_box(taxonomy, tmp_path) -> None:
    from models.data.samples import Sample
    from models.training.data import SampleDataset

    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(image)
    leaf = taxonomy.leaves[0]
    samples = [Sample(path=image, label=leaf, defect_bbox=(0, 0, 3, 3)), Sample(path=image, label=leaf),
               Sample(path=image, label=leaf, defect_bbox=(10, 10, 20, 20))]

    def cut_corner(img, mask):  # stands for a crop that keeps the image's lower right part only
        return torch.zeros(3, 8, 8), mask[:, 20:28, 20:28]

    items = [SampleDataset(samples, taxonomy, cut_corner, boxes=True)[i] for i in range(3)]
    assert [item[3][1] for item in items] == [False, False, True]
