"""``python -m bench.heatmap_speed [--images N] [--rounds N] [--no-runtime] [--model BUNDLE] [--out DIR]``: how long
the app's default heatmap of one image takes, side by side, on the demo model (or ``BUNDLE``) and the demo batch, on
one thread (the model thread's share of the 2-core machine). For a bundle with CBAM the app's heatmap is its
attention map, so ``torch`` and ``runtime`` below time that, and their pixel difference from ``grad-cam`` compares
two different maps.

Paths, each timed in alternation with the first (:mod:`models.inference.interleave`, the same images each round):

- ``grad-cam``: the flip-averaged LayerCAM made with the ``grad-cam`` package (the app's path until 2026-12-02);
- ``torch``: :meth:`models.inference.predictor.Predictor.heatmap`, whose LayerCAM is
  :func:`models.inference.heatmaps.layercam` (no ``grad-cam``);
- ``runtime``: :meth:`models.inference.runtime.RuntimePredictor.heatmap` on the graphs of ``fma-model
  export-runtime`` (written into ``DIR/work/heatmap_speed_bundle`` once for each demo model; about 35 s).

Every path makes the map of the predicted leaf from the image file (decode, preprocess, forward, map). The JSON
keeps every round and the largest pixel difference of each path's maps from ``grad-cam``'s. Writes
``DIR/heatmap_speed.json``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, load_average, log, same_model, write_result

DEMO = ROOT / "resources" / "demo"


def _grad_cam_path(predictor: Any) -> Callable[[Path], np.ndarray]:
    """The app's heatmap as it was made with the ``grad-cam`` package."""
    import torch
    from pytorch_grad_cam import LayerCAM

    from models.inference.heatmaps import HEATMAP_FLIPS, LevelLogits, cam_maps

    layer, reshape, stride = predictor.model.heatmap_layer()
    model = LevelLogits(predictor.model, level=-1)

    def one(path: Path) -> np.ndarray:
        x = predictor.preprocess(path)[None]
        target = int(np.argmax(predictor.forward_batch(x).leaf_probs[0]))
        x = x.contiguous(memory_format=torch.channels_last) if predictor.channels_last else x
        maps = cam_maps(LayerCAM, model, layer, x, [target], reshape=reshape, smooth_px=stride, flips=HEATMAP_FLIPS)
        predictor.model.zero_grad(set_to_none=True)
        return maps[0]
    return one


def _runtime_bundle(work: Path, images: Sequence[Path], model: Path) -> Path:
    from models.bundle.io import load_bundle
    from models.inference.runtime_export import export_runtime

    bundle = work / "heatmap_speed_bundle"
    if not (bundle / "runtime_heatmap.onnx").is_file() or not same_model(bundle, model):
        shutil.rmtree(bundle, ignore_errors=True)
        shutil.copytree(model, bundle)
        log(f"[heatmap_speed] exporting the runtime graphs of {model} (about 35 s)")
        export_runtime(load_bundle(bundle), images=list(images[:4]))
    return bundle


def run(n_images: int, rounds: int, runtime: bool, work: Path, model: Path = DEMO / "model") -> dict[str, Any]:
    import torch

    from models.inference.interleave import interleave
    from models.inference.predictor import Predictor

    torch.set_num_threads(1)
    images = sorted((DEMO / "batch").glob("*.png"))[:n_images]
    predictor = Predictor(model)
    paths: dict[str, Callable[[Path], np.ndarray]] = {
        "grad-cam": _grad_cam_path(predictor),
        "torch": lambda p: predictor.heatmap(p)[0],
    }
    if runtime:
        from models.inference.runtime import RuntimePredictor

        engine = RuntimePredictor(_runtime_bundle(work, images, model), decode_workers=1, max_threads=1)
        paths["runtime"] = lambda p: engine.heatmap(p)[0]
    reference = [paths["grad-cam"](p) for p in images]  # also the warm-up

    def timed(one: Callable[[Path], np.ndarray]) -> Callable[[], int]:
        def a_pass() -> int:
            for p in images:
                one(p)
            return len(images)
        return a_pass

    res: dict[str, Any] = {"model": str(model), "images": len(images), "rounds": rounds, "threads": 1,
                           "load_before": load_average(), "paths": {}}
    baseline = timed(paths["grad-cam"])
    for name, one in paths.items():
        if name == "grad-cam":
            continue
        maps = [one(p) for p in images]  # warm-up, and the maps compared
        timing = interleave(baseline, timed(one), rounds)
        base_ms = 1000 / float(np.median(timing.baseline))
        cand_ms = 1000 / float(np.median(timing.candidate))
        diff = max(float(np.abs(a - b).max()) for a, b in zip(maps, reference, strict=True))
        res["paths"][name] = {"ms_per_image": round(cand_ms, 1), "grad_cam_ms_per_image": round(base_ms, 1),
                              "speedup_vs_grad_cam": round(timing.ratio, 3),
                              "spread": [round(v, 3) for v in timing.spread],
                              "max_pixel_diff_vs_grad_cam": diff, "interleaved": timing.to_json()}
        log(f"[heatmap_speed] {name}: {cand_ms:.0f} ms an image against grad-cam's {base_ms:.0f} ms, "
            f"{timing.describe()}; largest pixel difference {diff:.2g}")
    res["load_after"] = load_average()
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--no-runtime", action="store_true", help="leave out the workstation runtime (no export)")
    p.add_argument("--out", type=Path, default=Path("bench_results"))
    p.add_argument("--model", type=Path, default=DEMO / "model",
                   help="the bundle (default: resources/demo/model, LayerCAM; resources/demo/model_cbam: its CBAM attention)")
    args = p.parse_args()
    from models.bundle.files import read_bundle_manifest
    from models.bundle.sections import BundleError

    try:
        read_bundle_manifest(args.model)
    except BundleError as exc:
        p.error(f"--model: {exc}")
    started = time.perf_counter()
    result = run(args.images, args.rounds, not args.no_runtime, args.out / "work", args.model)
    write_result(args.out, "heatmap_speed", False, result, started)


if __name__ == "__main__":
    main()
