"""The workstation runtime decision by numbers (issue #21, part 4): for one bundle, the torch-free workstation runtime
(ONNX Runtime fp32 on the graphs of ``fma-model export-runtime``, what the installer ships) against the fastest torch
path that keeps the bundle's decisions (from its ``fma-model optimize`` record), timed in alternation on the same
batches (:mod:`models.inference.interleave`), their agreement (Top-1, routing with the unknown score), and beside
them what each needs installed: the size on disk of ``onnxruntime`` and of ``torch`` + ``torchvision``, each with
the packages it pulls in that the app would not need anyway.
"""

from __future__ import annotations

import functools
import re
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import load_average

SHARED = {"numpy", "pillow", "packaging", "typing-extensions"}
"""Needed by the app whichever runtime it ships: not counted against either."""
GPU_ONLY = ("nvidia-", "triton", "cuda-")
"""What a CUDA build of torch pulls in and a CPU-only workstation install would not have (the CPU wheel)."""


def _requirements(name: str) -> list[str]:
    """The distributions ``name`` requires on this machine (markers evaluated, extras left out)."""
    from packaging.requirements import Requirement

    try:
        reqs = metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return []
    out = []
    for text in reqs:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(req.name)
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install_size(roots: list[str]) -> dict[str, Any]:
    """Bytes on disk of the installed distributions ``roots`` and everything they require (except :data:`SHARED`),
    per distribution and in all, from each distribution's own file list."""
    seen: dict[str, int] = {}
    todo = [_norm(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen or name in SHARED:
            continue
        try:
            files = metadata.files(name) or []
        except metadata.PackageNotFoundError:
            continue
        total = 0
        for f in files:
            try:
                total += Path(f.locate()).stat().st_size
            except OSError:
                continue
        seen[name] = total
        todo.extend(_norm(r) for r in _requirements(name))
    gpu = sum(v for k, v in seen.items() if k.startswith(GPU_ONLY))
    return {"total_mb": round(sum(seen.values()) / 1e6, 1), "without_gpu_libraries_mb": round(
        (sum(seen.values()) - gpu) / 1e6, 1),
            "packages_mb": {k: round(v / 1e6, 1) for k, v in sorted(seen.items(), key=lambda kv: -kv[1])}}


def fastest_torch_path(record: Any) -> str:
    """The fastest accepted path of an optimize record that runs on torch (eager when none other is)."""
    from models.inference.engine import ONNX_PATHS

    torch_paths = [c for c in record.candidates if c.get("accepted") and c.get("path") not in ONNX_PATHS]
    best = max(torch_paths, key=lambda c: float(c.get("images_per_s") or 0.0), default={"path": "eager"})
    return str(best["path"])


def runtime_decision(bundle: Path, images: list[Path], rounds: int, check_images: list[Path]) -> dict[str, Any]:
    """Export the bundle's runtime graphs (when it has none), then time the runtime against the fastest torch path
    that keeps decisions, in alternation over the same preprocessed batches, and compare their outputs."""
    import torch

    from models.bundle.files import read_bundle_manifest
    from models.bundle.io import load_bundle
    from models.inference.agreement import Scores, agreement
    from models.inference.engine import build_engine
    from models.inference.interleave import interleave, over
    from models.inference.optimize import batched, decider, guard_scores, preprocess_all, stages_needed
    from models.inference.predictor import Predictor
    from models.inference.runtime import RuntimePredictor, runtime_reason
    from models.inference.runtime_export import export_runtime

    manifest = read_bundle_manifest(bundle)
    if runtime_reason(manifest, bundle) is not None:
        export_runtime(load_bundle(bundle), images=check_images[:4], heatmap=False)
        manifest = read_bundle_manifest(bundle)
    path = fastest_torch_path(manifest.inference)
    threads = torch.get_num_threads()
    torch_side = Predictor(bundle, inference=False)
    torch_side.engine.close()
    torch_side.engine = build_engine(torch_side.model, path, input_size=torch_side.input_size,
                                     stage_strides=stages_needed(torch_side), batch_size=torch_side.batch_size)
    runtime = RuntimePredictor(bundle, batch_size=torch_side.batch_size, max_threads=threads)
    tensors, _ = preprocess_all(torch_side.preprocess, images)
    batches = batched(tensors, torch_side.batch_size)
    arrays = [b.numpy() for b in batches]
    outs: dict[str, list] = {"torch": [], "runtime": []}
    torch_pass = over(torch_side.forward_batch, batches, setup=functools.partial(torch.set_num_threads, threads),
                      keep=outs["torch"])
    runtime_pass = over(runtime.forward_batch, arrays, keep=outs["runtime"])

    torch_pass(), runtime_pass()  # warm-up
    load_before = load_average()
    timing = interleave(torch_pass, runtime_pass, rounds)
    scores = {k: Scores.concat([guard_scores(torch_side, o) for o in v]) for k, v in outs.items()}
    agree = agreement(scores["torch"], scores["runtime"], decider(torch_side))
    return {
        "torch_path": path, "threads": threads, "batch_size": torch_side.batch_size, "images": len(tensors),
        "rounds": rounds, "load_before": load_before, "load_after": load_average(),
        "interleaved": timing.to_json(), "ratio_runtime_vs_torch": round(timing.ratio, 3),
        "ratio_spread": [round(v, 3) for v in timing.spread], "torch_median": round(timing.median_speed("baseline"), 3),
        "runtime_median": round(timing.median_speed("candidate"), 3), "describe": timing.describe(),
        "agreement": agree.to_dict(),
        "install": {"onnxruntime": install_size(["onnxruntime"]), "torch": install_size(["torch", "torchvision"])},
    }


def describe(res: dict[str, Any]) -> str:
    """One line for the log."""
    a, inst = res["agreement"], res["install"]
    routing = f", routing {a['routing_agreement']:.2%}" if "routing_agreement" in a else ""
    return (f"workstation runtime (ONNX Runtime fp32) vs torch {res['torch_path']}: {res['describe']}; "
            f"{res['runtime_median']:.2f} vs {res['torch_median']:.2f} img/s; Top-1 {a['top1_agreement']:.2%}{routing}; "
            f"installed: onnxruntime {inst['onnxruntime']['total_mb']} MB, torch+torchvision "
            f"{inst['torch']['total_mb']} MB ({inst['torch']['without_gpu_libraries_mb']} MB without the CUDA "
            "libraries)")
