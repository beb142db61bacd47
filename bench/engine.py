"""Engine: images/s of the bundle's chosen inference path vs PyTorch eager fp32 NCHW, same images.

For ConvNeXt-T and ResNet50+CBAM at 224 px (random weights, full size), and the bundled demo model (trained and
calibrated: its paths are also judged by the routing they keep, on 216 held-out images in its look, 72 when timed):
run ``fma-model optimize`` on
the bundle (every path, 200 images), then time the chosen path (as the Predictor builds it from the
manifest) and eager fp32 NCHW interleaved over the same preprocessed batches (7 rounds, AB BA AB ...: the ratio is the
median of the per-round ratios, with its spread; :mod:`models.inference.interleave`), note the load average before
and after, and compare their predictions. Target: >= 1.5x for ConvNeXt-T. For ConvNeXt-T and the demo model (not
with --quick) also the workstation runtime decision: :mod:`bench.runtime_choice`. ``BENCH_ENGINE_ONLY=demo`` (or
any comma-separated families) measures only those rows.

A trained bundle at ``WORK/trained/FAMILY`` (``bench/device_engine.sh`` trains a full-size ConvNeXt-T on a GPU; its
parts unpack there) replaces that family's random weights: the row is then judged like the demo model's, on
held-out images of the demo's look and by the routing it keeps, and its JSON names the bundle under ``trained``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from bench.common import FAMILIES, load_average, log, prepared_bundle, synth_images

TARGETS = {"convnext_tiny": 1.5}
RUNTIME_DECISION = ("convnext_tiny", "demo")
"""The rows that also time the workstation runtime against the fastest torch path (:mod:`bench.runtime_choice`)."""


def _side_by_side(bundle: Path, images: list[Path], rounds: int) -> dict[str, Any]:
    """The chosen path against eager fp32 NCHW (default threads and, when they differ, the chosen thread count),
    interleaved round by round (:func:`models.inference.interleave.interleave`), with the machine load."""
    import torch

    from models.bundle.io import load_bundle
    from models.inference.agreement import Scores, agreement
    from models.inference.engine import build_engine
    from models.inference.interleave import interleave, over
    from models.inference.optimize import batched, decider, guard_scores, preprocess_all, stages_needed
    from models.inference.predictor import Predictor

    cores = torch.get_num_threads()
    chosen = Predictor(bundle)  # the manifest's choice, exactly as the app and `predict` build it
    record = chosen.manifest.inference
    chosen_threads = int((record.threads if record is not None else None) or cores)
    eager_model = load_bundle(bundle).model  # a second copy: engines set the memory format in place
    eager = build_engine(eager_model, "eager", input_size=chosen.input_size, stage_strides=stages_needed(chosen))
    tensors, _ = preprocess_all(chosen.preprocess, images)
    batches = batched(tensors, chosen.batch_size)
    outs: dict[str, list] = {"eager": [], "chosen": [], "eager_same_threads": []}

    def timed_pass(key: str, engine: Any, threads: int) -> Any:
        return over(engine, batches, setup=functools.partial(torch.set_num_threads, threads), keep=outs[key])

    passes = {"eager": timed_pass("eager", eager, cores), "chosen": timed_pass("chosen", chosen.engine, chosen_threads)}
    if chosen_threads != cores:
        passes["eager_same_threads"] = timed_pass("eager_same_threads", eager, chosen_threads)
    for engine, threads in ((eager, cores), (chosen.engine, chosen_threads)):  # warm-up
        torch.set_num_threads(threads)
        engine(batches[0])
    load_before = load_average()
    timing = interleave(passes["eager"], passes["chosen"], rounds)
    same = interleave(passes["eager_same_threads"], passes["chosen"], rounds) if "eager_same_threads" in passes \
        else None
    torch.set_num_threads(cores)
    scores = {k: Scores.concat([guard_scores(chosen, chosen.postprocess(o)) for o in v]) for k, v in outs.items() if v}
    agree = agreement(scores["eager"], scores["chosen"], decider(chosen))  # a calibrated bundle: the routing too
    res = {
        "chosen_path": chosen.engine.path, "batch_size": chosen.batch_size, "threads": chosen_threads,
        "default_threads": cores, "engine_note": chosen.engine_note, "images": len(tensors), "rounds": rounds,
        "load_before": load_before, "load_after": load_average(),
        "interleaved": timing.to_json(), "ratio": round(timing.ratio, 3), "ratio_spread": [
            round(v, 3) for v in timing.spread], "eager_median": round(timing.median_speed("baseline"), 3),
        "chosen_median": round(timing.median_speed("candidate"), 3), "agreement": agree.to_dict(),
        "describe": timing.describe(),
    }
    if same is not None:
        res["interleaved_same_threads"] = same.to_json()
        res["ratio_same_threads"] = round(same.ratio, 3)
        res["describe_same_threads"] = same.describe()
    return res


def _demo_images(work: Path, seed: int, per_class: int) -> list[Path]:
    """Images in the demo model's look it never saw (``fma-model synth``, another seed), ``per_class`` per leaf."""
    from models.data.synth import generate

    folder = work / f"images_demo_{seed}_{per_class}"
    if not (folder / "manifest.csv").is_file():
        generate(folder, per_class=per_class, seed=seed, difficulty=0.3, split=(0.0, 0.0, 1.0), overwrite=True)
    return sorted((folder / "images").rglob("*.png"))


def _trained(work: Path, family: str) -> Path | None:
    """``WORK/trained/FAMILY`` when it holds a bundle."""
    folder = work / "trained" / family
    return folder if (folder / "manifest.json").is_file() else None


def run(work: Path, quick: bool) -> dict[str, Any]:
    from app.demo import DEMO_MODEL
    from models.bundle.files import read_bundle_manifest

    only = [f for f in os.environ.get("BENCH_ENGINE_ONLY", "").split(",") if f]  # e.g. "demo": one row, minutes
    unknown = sorted(set(only) - {*FAMILIES, "demo"})
    if unknown:  # a typo would otherwise measure nothing and write an empty result
        raise SystemExit(f"BENCH_ENGINE_ONLY: unknown {', '.join(unknown)}; known: {', '.join((*FAMILIES, 'demo'))}")
    images = synth_images(work / "images_engine", 16 if quick else 64, seed=2)  # once the names are known good
    results: dict[str, Any] = {}
    for family in [f for f in (*FAMILIES, "demo") if not only or f in only]:
        log(f"[engine] {family}: optimize (measures every path; minutes for full-size models)")
        source = DEMO_MODEL if family == "demo" else _trained(work, family)
        trained = source is not None  # trained (and calibrated): judged on held-out images of the demo's look
        if trained and family != "demo":
            log(f"[engine] {family}: the trained bundle {source} instead of random weights")
        bundle, optimized = prepared_bundle(work, family, quick=quick, source=source,
                                            images=_demo_images(work, 2031, 2 if quick else 12) if trained else None)
        images = _demo_images(work, 2032, 1 if quick else 4) if trained else images
        record = read_bundle_manifest(bundle).inference
        log(f"[engine] {family}: chosen {record.path} (batch {record.batch_size}, threads {record.threads}); "
            "side-by-side timing")
        res = _side_by_side(bundle, images, rounds=3 if quick else 7)
        res["optimize"] = optimized
        res["trained"] = str(source) if trained else None
        res["candidates"] = [dict(c) for c in record.candidates]
        res["tuning"] = [dict(c) for c in record.tuning]
        target = TARGETS.get(family)
        res["target_ratio"] = target
        res["meets_target"] = None if target is None else bool(res["ratio"] >= target)
        results[family] = res
        log(f"[engine] {family}: {res['chosen_path']} vs eager fp32 NCHW, interleaved: {res['describe']}; "
            f"{res['chosen_median']:.2f} vs {res['eager_median']:.2f} img/s (medians; load {res['load_before']} -> "
            f"{res['load_after']}){'' if target is None else f', target >= {target}x'}")
        if res["engine_note"]:
            log(f"  note: {res['engine_note']}")
        if "describe_same_threads" in res:
            log(f"  same, eager also at {res['threads']} thread(s): {res['describe_same_threads']}")
        if family in RUNTIME_DECISION and not quick:
            from bench.runtime_choice import describe, runtime_decision

            res["runtime_decision"] = runtime_decision(bundle, images, rounds=7, check_images=images)
            log(f"  {describe(res['runtime_decision'])}")
        a = res["agreement"]
        log(f"  {'':<44} agreement: Top-1 {a['top1_agreement']:.2%}, max confidence change "
            f"{a['max_prob_diff']:.4f}" + (f", routing {a['routing_agreement']:.2%}" if "routing_agreement" in a
                                            else "") + f" on {a['n']} images")
    return results
