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
    """Alternate timed passes of eager (default threads), eager (the chosen thread count) and the chosen path."""
    import numpy as np
    import torch

    from models.bundle.io import load_bundle
    from models.inference.engine import agreement, build_engine
    from models.inference.optimize import batched, preprocess_all
    from models.inference.predictor import Predictor

    cores = torch.get_num_threads()
    chosen = Predictor(bundle)  # the manifest's choice, exactly as the app and `predict` build it
    record = chosen.manifest.inference
    chosen_threads = int((record.threads if record is not None else None) or cores)
    eager_model = load_bundle(bundle).model  # a second copy: engines set the memory format in place
    eager = build_engine(eager_model, "eager", input_size=chosen.input_size)
    tensors, _ = preprocess_all(chosen.preprocess, images)
    batches = batched(tensors, chosen.batch_size)
    configs = {"eager": (eager, cores), "chosen": (chosen.engine, chosen_threads)}
    if chosen_threads != cores:
        configs["eager_same_threads"] = (eager, chosen_threads)
    speeds: dict[str, list[float]] = {k: [] for k in configs}
    outs: dict[str, list] = {}
    for engine, threads in configs.values():  # warm-up
        torch.set_num_threads(threads)
        engine(batches[0])
    for _ in range(rounds):  # alternate, so a busy spell of the machine hits every configuration
        for key, (engine, threads) in configs.items():
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            outs[key] = [engine(b) for b in batches]
            speeds[key].append(len(tensors) / (time.perf_counter() - t0))
    torch.set_num_threads(cores)
    probs = {k: np.concatenate([chosen.postprocess(o).leaf_probs for o in v]) for k, v in outs.items()}
    agree = agreement(probs["eager"], probs["chosen"])
    med = {k: median(v) for k, v in speeds.items()}
    res = {
        "chosen_path": chosen.engine.path, "batch_size": chosen.batch_size, "threads": chosen_threads,
        "default_threads": cores, "engine_note": chosen.engine_note, "images": len(tensors), "rounds": rounds,
        "images_per_s": {k: [round(x, 3) for x in v] for k, v in speeds.items()},
        "eager_median": round(med["eager"], 3), "chosen_median": round(med["chosen"], 3),
        "ratio": round(med["chosen"] / med["eager"], 3), "agreement": agree.to_dict(),
    }
    if "eager_same_threads" in med:
        res["eager_same_threads_median"] = round(med["eager_same_threads"], 3)
        res["ratio_same_threads"] = round(med["chosen"] / med["eager_same_threads"], 3)
    return res


def run(work: Path, quick: bool) -> dict[str, Any]:
    from models.bundle.files import read_bundle_manifest

    images = synth_images(work / "images_engine", 16 if quick else 64, seed=2)
    results: dict[str, Any] = {}
    for family in FAMILIES:
        log(f"[engine] {family}: optimize (measures every path; minutes for full-size models)")
        bundle, optimized = prepared_bundle(work, family, quick=quick)
        record = read_bundle_manifest(bundle).inference
        log(f"[engine] {family}: chosen {record.path} (batch {record.batch_size}, threads {record.threads}); "
            "side-by-side timing")
        res = _side_by_side(bundle, images, rounds=2 if quick else 3)
        res["optimize"] = optimized
        res["candidates"] = [dict(c) for c in record.candidates]
        res["tuning"] = [dict(c) for c in record.tuning]
        target = TARGETS.get(family)
        res["target_ratio"] = target
        res["meets_target"] = None if target is None else bool(res["ratio"] >= target)
        results[family] = res
        log(ratio_line(f"{family} {res['chosen_path']} vs eager fp32 NCHW", res["chosen_median"],
                       res["eager_median"], "img/s", f">= {target}x" if target else ""))
        if "ratio_same_threads" in res:
            log(ratio_line(f"  same, eager also at {res['threads']} thread(s)", res["chosen_median"],
                           res["eager_same_threads_median"], "img/s"))
        a = res["agreement"]
        log(f"  {'':<44} agreement: Top-1 {a['top1_agreement']:.2%}, max confidence change "
            f"{a['max_prob_diff']:.4f} on {a['n']} images")
    return results
