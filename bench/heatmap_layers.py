"""Which heatmap points at the defect? The pointing game per CAM method, layer stride and flip averaging.

``python -m bench.heatmap_layers BUNDLE --data MANIFEST [--every 3] [--offset 1]``

Plays the pointing game (:mod:`models.evaluation.pointing`) on every ``--every``-th known image of the manifest
(with a defect box) that the bundle classifies correctly, for several heatmap recipes side by side on
the same images, and prints one line per recipe. This is how ``HEATMAP_STRIDE`` (models/nn/network.py)
and ``HEATMAP_FLIPS`` (models/inference/predictor.py) were chosen; rerun it when the backbone changes. CNN
backbones with timm ``feature_info`` only.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch

from models.data.manifest import load_data
from models.evaluation.pointing import peak_in_box
from models.imageio import load_image
from models.inference.heatmaps import HEATMAP_FLIPS, LevelLogits, cam_maps
from models.inference.predictor import Predictor


def _stage(net: torch.nn.Module, stride: int) -> torch.nn.Module:
    stage = net.stage_at_stride(stride)
    if stage is None:
        raise SystemExit(f"the backbone has no stage of stride {stride}")
    return stage


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.heatmap_layers", description=__doc__.split("\n")[0])
    p.add_argument("bundle")
    p.add_argument("--data", required=True, help="manifest with defect_bbox")
    p.add_argument("--every", type=int, default=3, help="use every N-th known image (default 3)")
    p.add_argument("--offset", type=int, default=1, help="first of them (default 1)")
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
        "LayerCAM, stride 4, + flips (the product)": recipe(LayerCAM, (_stage(net, 4), 4), HEATMAP_FLIPS),
    }
    samples = [s for s in load_data(args.data, predictor.taxonomy).samples if not s.is_unknown]
    samples = samples[args.offset :: args.every]
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
