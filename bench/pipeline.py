"""Pipeline: end-to-end pre-classification of a folder vs the engine's model-only throughput, same images.

End to end is what the app's model thread does for a batch (:class:`app.ui.workers.ModelWorker`, without
Qt): decode and preprocess on two threads while the model runs, infer along the bundle's chosen path,
route (a calibrated bundle: thresholds, unknown score, spot-check hash of every file) and write every
chunk of predictions to SQLite in one transaction (``JudgingService.save_predictions``). Model only is
the same engine over the same images already preprocessed in memory, at its tuned batch size, timed
before and after the end-to-end run (the mean is the reference). Target: >= 0.85. Opening the folder (hashing and registering the files) is timed separately.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import log, prepared_bundle, ratio_line, synth_images

FAMILY = "convnext_tiny"
APP_CHUNK, APP_FIRST_CHUNK = 8, 2  # ModelWorker's defaults in the main window


def _calibrated_copy(bundle: Path, dest: Path) -> Path:
    """The bundle with routing data (per-leaf thresholds, an unknown score, 2 % spot checks)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(bundle, dest)
    manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    leaves = manifest["taxonomy"]
    from models.taxonomy import Taxonomy

    tax = Taxonomy.from_dict(leaves)
    manifest["thresholds"] = {leaf: (0.6 if i % 5 else None) for i, leaf in enumerate(tax.leaves)}
    manifest["unknown"] = {"method": "energy", "threshold": -5.0}
    manifest["routing"] = {"target_purity": 0.99, "spot_check": 0.02, "spot_check_seed": 0}
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return dest


def _model_only(bundle: Path, images: list[Path]) -> dict[str, Any]:
    from models.optimize import batched, preprocess_all
    from models.predictor import Predictor

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
    from app.services.judging import JudgingService
    from app.store.db import init_db, make_engine
    from app.store.records import PredictionRecord
    from models.bundle import load_bundle
    from models.predictor import Predictor

    engine = make_engine(f"sqlite:///{db_dir / 'pipeline.sqlite3'}")
    init_db(engine)
    service = JudgingService(engine, "bench")
    loaded = load_bundle(bundle)
    service.register_model(loaded.manifest, bundle)
    t0 = time.perf_counter()
    opened = service.open_folder(folder)
    open_s = time.perf_counter() - t0
    items = [(it.image.image_id, it.image.path) for it in opened.items]
    predictor = Predictor(loaded, batch_size=APP_CHUNK, decode_workers=2)
    predictor.forward_batch(predictor.preprocess(items[0][1])[None])  # warm-up, as the app's first chunk
    version = loaded.model_version
    save_s = 0.0
    routes: dict[str, int] = {}
    t0 = time.perf_counter()
    first_s = None
    pairs: list[tuple[int, PredictionRecord]] = []
    target = APP_FIRST_CHUNK
    for (image_id, _), pred in zip(items, predictor.iter_predict([p for _, p in items], first_batch=target),
                                   strict=True):
        pairs.append((image_id, PredictionRecord.from_prediction(pred)))
        routes[str(pred.extra.get("route"))] = routes.get(str(pred.extra.get("route")), 0) + 1
        if len(pairs) >= target or image_id == items[-1][0]:
            ts = time.perf_counter()
            service.save_predictions(pairs, version)
            save_s += time.perf_counter() - ts
            if first_s is None:
                first_s = time.perf_counter() - t0
            pairs, target = [], APP_CHUNK
    secs = time.perf_counter() - t0
    engine.dispose()
    return {"images": len(items), "seconds": round(secs, 3), "images_per_s": round(len(items) / secs, 3),
            "db_write_s": round(save_s, 3), "first_chunk_s": round(first_s or 0.0, 3),
            "open_folder_s": round(open_s, 3), "routes": routes, "path": predictor.engine.path,
            "batch_size": predictor.batch_size}


def _decode_only(bundle: Path, images: list[Path]) -> dict[str, Any]:
    from models.optimize import preprocess_all
    from models.predictor import Predictor

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
    log(f"  {'':<44} of {e2e['seconds']:.1f} s end to end: SQLite writes {e2e['db_write_s']:.2f} s; "
        f"decode alone {decode['images_per_s_one_thread']:.0f} img/s per thread; "
        f"opening the folder {e2e['open_folder_s']:.2f} s (not in the ratio)")
    return {"family": FAMILY, "model_only": model, "end_to_end": e2e, "decode": decode,
            "ratio": round(ratio, 3), "target_ratio": 0.85, "meets_target": bool(ratio >= 0.85)}
