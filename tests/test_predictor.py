"""Predictor: path consistency, image formats, heatmaps, and `fma-model predict` on mixed folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, make_tiny_bundle, write_image
from PIL import Image

from models.commands.cli import main as cli_main
from models.inference.outputs import combine_levels, marginals
from models.inference.predictor import Predictor


def test_combine_levels_is_path_consistent(taxonomy):
    rng = np.random.default_rng(0)
    level_probs = [rng.dirichlet(np.ones(n), size=50).astype(np.float32) for n in taxonomy.level_sizes]
    leaf = combine_levels(level_probs, taxonomy.leaf_level_index)
    np.testing.assert_allclose(leaf.sum(1), 1.0, atol=1e-5)
    # p(leaf) is proportional to the product of its path's level probabilities
    i, j = 3, 7
    prod = [np.prod([level_probs[k][i, taxonomy.leaf_level_index[j, k]] for k in range(3)]) for j in range(18)]
    np.testing.assert_allclose(leaf[i, j], prod[j] / sum(prod), rtol=1e-4)
    # marginals of the combined distribution never grow from the root down the predicted path
    margs = marginals(leaf, taxonomy.leaf_level_index, taxonomy.level_sizes)
    for n in range(50):
        best = int(np.argmax(leaf[n]))
        idx = taxonomy.leaf_level_index[best]
        scores = [margs[k][n, idx[k]] for k in range(3)]
        assert scores[0] >= scores[1] - 1e-6 >= scores[2] - 2e-6


def test_predictions_are_consistent_dataclasses(tiny_bundle, taxonomy, tmp_path):
    imgs = [write_image(tmp_path / f"{i}.png", seed=i) for i in range(5)]
    preds = Predictor(tiny_bundle, batch_size=2).predict(imgs)
    assert [p.file for p in preds] == [str(p) for p in imgs]
    for p in preds:
        assert p.error is None
        assert p.leaf in taxonomy.leaves
        assert list(p.path) == taxonomy.path(p.leaf)
        assert p.top5[0].leaf == p.leaf and len(p.top5) == 5
        assert [r.score for r in p.top5] == sorted((r.score for r in p.top5), reverse=True)
        assert all(list(r.path) == taxonomy.path(r.leaf) for r in p.top5)
        assert p.path_scores[-1] == pytest.approx(p.confidence, abs=1e-6)
        assert list(p.path_scores) == sorted(p.path_scores, reverse=True)
        assert p.leaf_probs.sum() == pytest.approx(1.0, abs=1e-5)
        assert [len(lp) for lp in p.level_probs] == taxonomy.level_sizes
        assert p.embedding.ndim == 1 and p.embedding.size > 0
        assert p.model_version.startswith("tiny-convnext")


def test_batching_does_not_change_results(tiny_bundle, tmp_path):
    imgs = [write_image(tmp_path / f"{i}.png", seed=i) for i in range(5)]
    a = Predictor(tiny_bundle, batch_size=1).predict(imgs)
    b = Predictor(tiny_bundle, batch_size=4).predict(imgs)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.leaf_probs, y.leaf_probs, atol=1e-5)


@pytest.mark.parametrize("mode,size", [("L", (64, 64)), ("RGBA", (33, 90)), ("I;16", (120, 40)), ("RGB", (8, 8)),
                                       ("RGB", (900, 700))])
def test_any_image_mode_and_size(tiny_bundle, tmp_path, mode, size):
    path = write_image(tmp_path / f"img.{'tif' if mode == 'I;16' else 'png'}", mode=mode, size=size)
    (pred,) = Predictor(tiny_bundle).predict([path])
    assert pred.error is None and pred.leaf is not None


def test_pil_images_and_16bit_contrast_is_kept(tiny_bundle):
    from models.imageio import load_image

    arr = np.full((32, 32), 1000, dtype=np.uint16)
    arr[8:24, 8:24] = 1400  # a faint defect in a 16-bit frame that uses little of its range
    rgb = np.asarray(load_image(Image.fromarray(arr)))
    assert rgb[16, 16, 0] - rgb[0, 0, 0] > 200  # stretched, not divided by 257 into black
    (pred,) = Predictor(tiny_bundle).predict([Image.fromarray(arr)])
    assert pred.error is None


def test_heatmaps_cbam_and_gradcam(tmp_path, taxonomy):
    img = write_image(tmp_path / "x.png", size=(64, 64))
    for family, kind in [("resnet_cbam", "cbam"), ("convnext", "gradcam"), ("vit", "gradcam")]:
        bundle = make_tiny_bundle(tmp_path / family, taxonomy, family=family)
        predictor = Predictor(bundle)
        (pred,) = predictor.predict([img], heatmaps=True)
        assert pred.heatmap_kind == kind, family
        assert pred.heatmap.shape == (64, 64)
        assert pred.heatmap.min() >= 0.0 and pred.heatmap.max() <= 1.0
        hm, k = predictor.heatmap(img)
        assert k == kind and hm.shape == (64, 64)
        if kind == "gradcam":  # explaining another leaf gives another map
            other = next(leaf for leaf in taxonomy.leaves if leaf != pred.leaf)
            hm2, _ = predictor.heatmap(img, leaf=other)
            assert hm2.shape == hm.shape
        (plain,) = predictor.predict([img])
        assert plain.heatmap is None  # only on request


def _mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "batch"
    write_image(folder / "a_good.png", seed=1)
    write_image(folder / "b_gray.jpg", mode="L", seed=2)
    (folder / "c_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    good = (folder / "a_good.png").read_bytes()
    (folder / "d_truncated.png").write_bytes(good[: len(good) // 2])
    write_image(folder / "e_deep16.tif", mode="I;16", seed=3)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_predict_json_on_mixed_folder(tiny_bundle, tmp_path, capsys, taxonomy):
    folder = _mixed_folder(tmp_path)
    heat = tmp_path / "heat"
    rc = cli_main(["predict", str(tiny_bundle), str(folder), str(tmp_path / "missing.png"), "--json",
                   "--heatmaps", str(heat)])
    out = capsys.readouterr()
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert rc == 1  # some files failed, the rest were judged
    by_name = {Path(r["file"]).name: r for r in rows}
    assert set(by_name) == {"a_good.png", "b_gray.jpg", "c_corrupt.png", "d_truncated.png", "e_deep16.tif",
                            "missing.png"}
    for name in ("a_good.png", "b_gray.jpg", "e_deep16.tif"):
        r = by_name[name]
        assert r["error"] is None
        assert {"file", "leaf", "path", "level_probs", "top5", "route", "reasons", "unknown_score", "error"} <= set(r)
        assert r["path"] == taxonomy.path(r["leaf"])
        assert len(r["top5"]) == 5 and set(r["top5"][0]) == {"leaf", "path", "score"}
        assert [len(lp) for lp in r["level_probs"]] == taxonomy.level_sizes
        assert sum(r["level_probs"][0].values()) == pytest.approx(1.0, abs=1e-4)
    assert "not a recognised image" in by_name["c_corrupt.png"]["error"]
    assert "truncated" in by_name["d_truncated.png"]["error"]
    assert by_name["missing.png"]["error"] == "file not found"
    assert by_name["c_corrupt.png"]["leaf"] is None
    assert "skipped 1 non-image" in out.err
    assert sorted(p.name for p in heat.iterdir()) == ["a_good_heatmap.png", "b_gray_heatmap.png",
                                                      "e_deep16_heatmap.png"]


def test_predict_text_output_and_console_script(tiny_bundle, tmp_path):
    folder = _mixed_folder(tmp_path)
    exe = Path(sys.executable).parent / "fma-model"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "models.commands.cli"]
    res = subprocess.run([*cmd, "predict", str(tiny_bundle), str(folder)], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    lines = res.stdout.strip().splitlines()
    assert res.returncode == 1, res.stderr
    assert len(lines) == 5
    good = next(line for line in lines if "a_good.png" in line).split("\t")
    assert len(good) == 4 and good[2].endswith(good[1]) and 0 <= float(good[3]) <= 1
    assert "ERROR" in next(line for line in lines if "c_corrupt" in line)


def test_predict_bad_bundle_is_one_clear_line(tmp_path, capsys):
    rc = cli_main(["predict", str(tmp_path / "nope"), str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "model bundle not found" in err and "Traceback" not in err


@pytest.mark.parametrize("family", ["convnext", "vit"])
def test_fast_heatmaps_equal_the_plain_per_view_grad_cam(tmp_path, taxonomy, family, monkeypatch):
    """Heatmaps batch the flipped views in one pass and differentiate only from the target layer up (no weight
    gradients): the maps are those of one plain grad-cam pass per view, and the model is left as it was. The
    Predictor's own LayerCAM gives the same maps without importing grad-cam."""
    import torch
    import torchvision.transforms.v2.functional as TF
    from pytorch_grad_cam import LayerCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from models.inference.heatmaps import HEATMAP_FLIPS, LevelLogits, cam_maps, layercam, normalise_maps

    predictor = Predictor(make_tiny_bundle(tmp_path / family, taxonomy, family=family))
    x = torch.stack([predictor.preprocess(write_image(tmp_path / f"{i}.png", size=(64, 64), seed=i))
                     for i in range(3)])
    layer, reshape, stride = predictor.model.heatmap_layer()
    model = LevelLogits(predictor.model, level=-1)
    targets = [0, 5, 17]
    fast = cam_maps(LayerCAM, model, layer, x, targets, reshape=reshape, smooth_px=stride, flips=HEATMAP_FLIPS)

    total = np.zeros(fast.shape, dtype=np.float32)
    for dims in HEATMAP_FLIPS:  # the reference: one full grad-cam pass per view
        with LayerCAM(model=model, target_layers=[layer], reshape_transform=reshape) as cam:
            view = torch.flip(x, dims) if dims else x
            maps = torch.from_numpy(cam(input_tensor=view, targets=[ClassifierOutputTarget(t) for t in targets]))
        if stride:
            maps = TF.gaussian_blur(maps[:, None], [6 * stride + 1] * 2, [float(stride)] * 2)[:, 0]
        if dims:
            maps = torch.flip(maps, [d - 1 for d in dims])
        total += normalise_maps(maps.numpy())
    np.testing.assert_allclose(fast, normalise_maps(total), atol=1e-4)
    with monkeypatch.context() as m:  # the app's path: grad-cam (OpenCV, SciPy, scikit-learn) is not imported
        m.setitem(sys.modules, "pytorch_grad_cam", None)
        own = layercam(model, layer, x, targets, reshape=reshape, smooth_px=stride, flips=HEATMAP_FLIPS)
        np.testing.assert_allclose(own, fast, atol=1e-4)
        np.testing.assert_allclose(predictor._gradcam(x, targets), fast, atol=1e-4)
    if family == "convnext":  # (the tiny random ViT's maps are all zero, with or without this path)
        assert fast.max() > 0.99  # a real map, not a constant
    params = list(predictor.model.parameters())
    assert all(p.requires_grad for p in params)  # restored for training and other callers
    assert not layer._forward_hooks  # the leaf hook is removed
