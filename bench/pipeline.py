"""Pipeline: end-to-end pre-classification of a folder vs the engine's model-only throughput, same images.

End to end is the predicting service itself (:meth:`app.services.predicting.PredictingService.predict`, what
the app's model thread and ``fma-judge classify`` run): decode and preprocess on two threads while the model
runs, infer along the bundle's chosen path, route (a calibrated bundle: thresholds, unknown score, spot-check
hash of every file) and write every chunk of predictions to SQLite in one transaction, with the app's chunk
sizes. Model only is the same engine over the same images already preprocessed in memory, at its tuned batch
size, timed before and after the end-to-end run (the mean is the reference). Target: >= 0.85. Opening the
folder (hashing and registering the files) is timed separately.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import log, prepared_bundle, ratio_line, synth_images

FAMILY = "convnext_tiny"
APP_CHUNK = 8  # the main window's PredictingService chunk size (its first chunk is the service default)


def _calibrated_copy(bundle: Path, dest: Path) -> Path:
    """The bundle with routing data (per-leaf thresholds, an unknown score, 2 % spot checks)."""
    from models.bundle.files import read_bundle_manifest, write_bundle_manifest
    from models.routing.policy import Calibration
    from models.routing.unknown import UnknownDetector

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(bundle, dest)
    manifest = read_bundle_manifest(dest)
    leaves = manifest.taxonomy.leaves
    calibration = Calibration(thresholds={leaf: (0.6 if i % 5 else None) for i, leaf in enumerate(leaves)},
                              unknown=UnknownDetector("energy", threshold=-5.0), spot_check=0.02, seed=0,
                              target_purity=0.99)
    write_bundle_manifest(dest, manifest.replace(calibration=calibration))
    return dest


def _model_only(bundle: Path, images: list[Path]) -> dict[str, Any]:
    from models.inference.optimize import batched, preprocess_all
    from models.inference.predictor import Predictor

    p = Predictor(bundle)
    tensors, _ = preprocess_all(p.preprocess, images)
    batches = batched(tensors, p.batch_size)
    p.engine(batches[0])  # warm-up
    t0 = time.perf_counter()
    for b in batches:
        p.engine(b)
    secs = time.perf_counter() - t0
    return {"path": p.engine.path, "batch_size": p.batch_size, "images": len(tensors), "seconds": round(secs, 3),
            "images_per_s": round(len(tensors) / secs, 3)}


def _end_to_end(bundle: Path, folder: Path, db_dir: Path) -> dict[str, Any]:
    from app.services.batches import open_folder
    from app.services.predicting import PredictingService
    from app.store.db import init_db, make_engine

    engine = make_engine(f"sqlite:///{db_dir / 'pipeline.sqlite3'}")
    init_db(engine)
    service = PredictingService(engine, chunk_size=APP_CHUNK)
    info = service.load(bundle)
    t0 = time.perf_counter()
    opened = open_folder(engine, folder)
    open_s = time.perf_counter() - t0
    todo = service.todo(opened.items)
    service.warm_up(todo[0][1])  # the first pass is the slowest, on both sides of the ratio
    routes: dict[str, int] = {}
    first_s = None
    t0 = time.perf_counter()
    for chunk in service.predict(todo):
        if first_s is None:
            first_s = time.perf_counter() - t0
        for _image_id, record in chunk.items:
            routes[str(record.route)] = routes.get(str(record.route), 0) + 1
    secs = time.perf_counter() - t0
    engine.dispose()
    return {"images": len(todo), "seconds": round(secs, 3), "images_per_s": round(len(todo) / secs, 3),
            "first_chunk_s": round(first_s or 0.0, 3), "open_folder_s": round(open_s, 3), "routes": routes,
            "path": info.engine, "batch_size": service.chunk_size}


def _decode_only(bundle: Path, images: list[Path]) -> dict[str, Any]:
    from models.inference.optimize import preprocess_all
    from models.inference.predictor import Predictor

    p = Predictor(bundle, inference=False)
    t0 = time.perf_counter()
    tensors, _ = preprocess_all(p.preprocess, images, workers=1)
    secs = time.perf_counter() - t0
    return {"images": len(tensors), "images_per_s_one_thread": round(len(tensors) / secs, 1)}


def run(work: Path, quick: bool) -> dict[str, Any]:
    n = 40 if quick else 500
    log(f"[pipeline] {FAMILY}: bundle (optimised once, reused by the other benchmarks)")
    bundle, _ = prepared_bundle(work, FAMILY, quick=quick)
    bundle = _calibrated_copy(bundle, work / "bundles" / f"{FAMILY}_calibrated")
    folder = work / f"folder_{n}"
    images = synth_images(folder, n, seed=3)
    log(f"[pipeline] {n} images: model only, then end to end (decode, infer, route, SQLite)")
    before = _model_only(bundle, images)
    with tempfile.TemporaryDirectory(prefix="fma-bench-") as tmp:
        e2e = _end_to_end(bundle, folder, Path(tmp))
    after = _model_only(bundle, images)  # before and after: a busy spell of the machine hits both sides
    model = dict(after, images_per_s=round((before["images_per_s"] + after["images_per_s"]) / 2, 3),
                 runs_images_per_s=[before["images_per_s"], after["images_per_s"]])
    decode = _decode_only(bundle, images[: min(n, 100)])
    ratio = e2e["images_per_s"] / model["images_per_s"]
    log(ratio_line("end to end vs model only", e2e["images_per_s"], model["images_per_s"], "img/s", ">= 0.85"))
    log(f"  {'':<44} {e2e['seconds']:.1f} s end to end; "
        f"decode alone {decode['images_per_s_one_thread']:.0f} img/s per thread; "
        f"opening the folder {e2e['open_folder_s']:.2f} s (not in the ratio)")
    return {"family": FAMILY, "model_only": model, "end_to_end": e2e, "decode": decode,
            "ratio": round(ratio, 3), "target_ratio": 0.85, "meets_target": bool(ratio >= 0.85)}
