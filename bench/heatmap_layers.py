"""Which heatmap points at the defect? The pointing game per CAM method, layer stride and flip averaging.

``python -m bench.heatmap_layers BUNDLE --data MANIFEST [--every 3] [--offset 1]``

Plays the pointing game (:mod:`models.evaluation.pointing`) on every ``--every``-th known image of the manifest
(with a defect box) that the bundle classifies correctly, for several heatmap recipes side by side on
the same images, and prints one line per recipe. This is how ``HEATMAP_STRIDE`` (models/nn/network.py)
and ``HEATMAP_FLIPS`` (models/inference/predictor.py) were chosen; rerun it when the backbone changes. CNN
backbones with timm ``feature_info`` only.

For a network with CBAM, the CBAM recipes (:data:`models.nn.cbam.CBAM_RECIPES`, from the forward pass, no
backward) are rows too, and the per-image cost of a prediction with its heatmap is timed against the
prediction alone (``--timing N`` images, interleaved, medians): how ``CBAM_RECIPE`` is chosen; so are the
means over single stages and pairs of them (:data:`CBAM_STRIDE_SETS`): how ``CBAM_HEATMAP_STRIDES`` is. Choose on a
validation split (``--split val``), report on the test images.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from models.data.manifest import load_data
from models.evaluation.pointing import peak_in_box
from models.imageio import load_image
from models.inference.heatmaps import HEATMAP_FLIPS, LevelLogits, cam_maps
from models.inference.predictor import Predictor
from models.nn.cbam import CBAM_RECIPES, combine_cbam_maps

CBAM_STRIDE_SETS = ((4,), (8,), (16,), (4, 8), (8, 16), (4, 8, 16))
"""The stride sets whose ``mean`` is a row beside the recipes (how ``CBAM_HEATMAP_STRIDES`` is chosen)."""


def _stage(net: torch.nn.Module, stride: int) -> torch.nn.Module:
    stage = net.stage_at_stride(stride)
    if stage is None:
        raise SystemExit(f"the backbone has no stage of stride {stride}")
    return stage


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.heatmap_layers", description=__doc__.split("\n")[0])
    p.add_argument("bundle")
    p.add_argument("--data", required=True, help="manifest with defect_bbox")
    p.add_argument("--split", default=None, choices=("train", "val", "test"),
                   help="only this split of the manifest (default: every image)")
    p.add_argument("--every", type=int, default=3, help="use every N-th known image (default 3)")
    p.add_argument("--offset", type=int, default=1, help="first of them (default 1)")
    p.add_argument("--timing", type=int, default=40, metavar="N",
                   help="time prediction with and without its heatmap on N images (default 40; 0: no timing)")
    args = p.parse_args(argv)

    from pytorch_grad_cam import GradCAM, HiResCAM, LayerCAM

    predictor = Predictor(args.bundle)
    net = predictor.model
    wrapper = LevelLogits(net, level=-1)
    output = (net.features_out, 32)

    def recipe(method: type, layer: tuple[torch.nn.Module, int], flips: tuple[tuple[int, ...], ...]) -> Callable:
        module, stride = layer
        smooth = stride if stride < 32 else None
        return lambda x, target: cam_maps(method, wrapper, module, x, [target], smooth_px=smooth, flips=flips)[0]

    one = ((),)
    recipes = {
        "Grad-CAM, stride 32 (output map)": recipe(GradCAM, output, one),
        "Grad-CAM, stride 16": recipe(GradCAM, (_stage(net, 16), 16), one),
        "HiResCAM, stride 16": recipe(HiResCAM, (_stage(net, 16), 16), one),
        "LayerCAM, stride 8": recipe(LayerCAM, (_stage(net, 8), 8), one),
        "LayerCAM, stride 4": recipe(LayerCAM, (_stage(net, 4), 4), one),
        "LayerCAM, stride 4, + flips": recipe(LayerCAM, (_stage(net, 4), 4), HEATMAP_FLIPS),
    }
    if net.num_cbam:
        for name in CBAM_RECIPES:
            recipes[f"CBAM attention, {name}"] = cbam_recipe(net, name)
        for strides in CBAM_STRIDE_SETS:  # which stages' maps to combine (CBAM_HEATMAP_STRIDES)
            recipes[f"CBAM attention, mean of stride {'+'.join(map(str, strides))}"] = cbam_recipe(net, "mean", strides)
    samples = [s for s in load_data(args.data, predictor.taxonomy).samples
               if not s.is_unknown and args.split in (None, s.split)]
    samples = samples[args.offset :: args.every]
    if not samples:
        p.error(f"no known image of {args.data}{' in split ' + args.split if args.split else ''} to play on")
    hits = dict.fromkeys(recipes, 0)
    played = 0
    for sample in samples:
        if sample.defect_bbox is None:
            continue
        image = load_image(sample.path)
        x = predictor.preprocess(image)[None]
        target = int(np.argmax(predictor.forward_batch(x).leaf_probs[0]))
        if predictor.taxonomy.leaves[target] != sample.label:
            continue
        played += 1
        for name, run in recipes.items():
            hits[name] += int(peak_in_box(run(x, target), image.size, sample.defect_bbox))
    print(f"pointing game on {played} correctly classified images ({len(samples)} sampled)")
    for name, h in hits.items():
        print(f"  {name:45s} {h / max(played, 1):6.1%}")
    if args.timing > 0:
        paths = [s.path for s in samples[: args.timing]]
        plain, with_map = time_heatmap_cost(predictor, paths)
        kind = "CBAM attention" if net.num_cbam else "LayerCAM"
        print(f"per image, median of {len(paths)} ({kind}): prediction {plain * 1e3:.1f} ms, "
              f"with its heatmap {with_map * 1e3:.1f} ms, ratio {with_map / plain:.2f}x")
    return 0


def cbam_recipe(net: torch.nn.Module, name: str, strides: tuple[int, ...] | None = None) -> Callable:
    """A heatmap recipe from the CBAM maps of one forward pass, combined by ``name`` (over ``strides``; default
    the network's :data:`~models.nn.network.CBAM_HEATMAP_STRIDES`)."""

    def run(x: torch.Tensor, _target: int) -> np.ndarray:
        with torch.no_grad():
            net(x)
            if strides is None:
                return net.cbam_heatmap(name)[0, 0].float().numpy()
            return combine_cbam_maps(net.cbam_maps(), name, strides)[0, 0].float().numpy()

    return run


def time_heatmap_cost(predictor: Predictor, paths: list) -> tuple[float, float]:
    """Median seconds per image of ``predict`` without and with heatmaps, one image at a time, interleaved
    (A, B, A, B ...) so that both see the same machine; one warm-up of each first."""
    plain, with_map = [], []
    for i, path in enumerate([paths[0], *paths]):
        for heatmaps, times in ((False, plain), (True, with_map)):
            t0 = time.perf_counter()
            predictor.predict([path], heatmaps=heatmaps)
            if i:
                times.append(time.perf_counter() - t0)
    return statistics.median(plain), statistics.median(with_map)


if __name__ == "__main__":
    raise SystemExit(main())
