"""Engine: images/s of the bundle's chosen inference path vs PyTorch eager fp32 NCHW, same images.

For ConvNeXt-T and ResNet50+CBAM at 224 px (random weights, full size): run ``fma-model optimize`` on
the bundle (every path, 200 images), then time the chosen path (as the Predictor builds it from the
manifest) and eager fp32 NCHW in alternating rounds over the same preprocessed batches, and compare
their predictions. Target: >= 1.5x for ConvNeXt-T.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.common import FAMILIES, log, median, prepared_bundle, ratio_line, synth_images

TARGETS = {"convnext_tiny": 1.5}


def _side_by_side(bundle: Path, images: list[Path], rounds: int) -> dict[str, Any]:
    import torch

    from models.bundle import load_bundle
    from models.engine import agreement, build_engine
    from models.optimize import batched, preprocess_all
    from models.predictor import Predictor

    cores = torch.get_num_threads()
    chosen = Predictor(bundle)  # the manifest's choice, exactly as the app and `predict` build it
    eager_model = load_bundle(bundle).model  # a second copy: engines set the memory format in place
    eager = build_engine(eager_model, "eager", input_size=chosen.input_size)
    chosen_threads = torch.get_num_threads()
    tensors, _ = preprocess_all(chosen.preprocess, images)
    batches = batched(tensors, chosen.batch_size)

    def run(engine, threads: int) -> tuple[float, list]:
        torch.set_num_threads(threads)
        outs = []
        t0 = time.perf_counter()
        for b in batches:
            outs.append(engine(b))
        return len(tensors) / (time.perf_counter() - t0), outs

    for engine, threads in ((eager, cores), (chosen.engine, chosen_threads)):  # warm-up
        torch.set_num_threads(threads)
        engine(batches[0])
    eager_ips, chosen_ips = [], []
    outs_e = outs_c = []
    for _ in range(rounds):  # alternate, so a busy spell of the machine hits both
        ips, outs_e = run(eager, cores)
        eager_ips.append(ips)
        ips, outs_c = run(chosen.engine, chosen_threads)
        chosen_ips.append(ips)
    torch.set_num_threads(cores)
    probs_e = [chosen.postprocess(o).leaf_probs for o in outs_e]
    probs_c = [chosen.postprocess(o).leaf_probs for o in outs_c]
    import numpy as np

    agree = agreement(np.concatenate(probs_e), np.concatenate(probs_c))
    e, c = median(eager_ips), median(chosen_ips)
    return {
        "chosen_path": chosen.engine.path, "batch_size": chosen.batch_size, "threads": chosen_threads,
        "engine_note": chosen.engine_note, "images": len(tensors), "rounds": rounds,
        "eager_images_per_s": [round(v, 3) for v in eager_ips],
        "chosen_images_per_s": [round(v, 3) for v in chosen_ips],
        "eager_median": round(e, 3), "chosen_median": round(c, 3), "ratio": round(c / e, 3),
        "agreement": agree.to_dict(),
    }


def run(work: Path, quick: bool) -> dict[str, Any]:
    from models.bundle import read_manifest

    images = synth_images(work / "images_engine", 16 if quick else 64, seed=2)
    results: dict[str, Any] = {}
    for family in FAMILIES:
        log(f"[engine] {family}: optimize (measures every path; minutes for full-size models)")
        bundle, optimized = prepared_bundle(work, family, quick=quick)
        record = read_manifest(bundle)["inference"]
        log(f"[engine] {family}: chosen {record['path']} (batch {record['batch_size']}, threads {record['threads']}); "
            "side-by-side timing")
        res = _side_by_side(bundle, images, rounds=2 if quick else 3)
        res["optimize"] = optimized
        res["candidates"] = record["candidates"]
        res["tuning"] = record["tuning"]
        target = TARGETS.get(family)
        res["target_ratio"] = target
        res["meets_target"] = None if target is None else bool(res["ratio"] >= target)
        results[family] = res
        log(ratio_line(f"{family} {res['chosen_path']} vs eager fp32 NCHW", res["chosen_median"],
                       res["eager_median"], "img/s", f">= {target}x" if target else ""))
        a = res["agreement"]
        log(f"  {'':<44} agreement: Top-1 {a['top1_agreement']:.2%}, max confidence change "
            f"{a['max_prob_diff']:.4f} on {a['n']} images")
    return results
