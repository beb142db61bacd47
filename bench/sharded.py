"""Sharded: ``fma-judge classify`` in one process against ``torchrun --nproc_per_node 2`` (two CPU ranks, gloo).

The same folder (400 micrograph-like PNGs, 40 with ``--quick``) is pre-classified with the bundled demo model into two
fresh SQLite files, one after the other on the same machine: once by one process, once by two ranks that each predict
every other image. Reported: each command's wall time (start-up and model load included), the time from the model
loaded on every rank to the last prediction saved (registering the folder and predicting), their ratios, and whether
both stored the same predictions (leaf and route per image, confidences within :data:`CONFIDENCE_TOLERANCE`).

On the 2-core development machine the two ranks share the cores one process already uses (its 2 intra-op threads
against 1 each): the ratio says what sharding costs or gains on one machine; the gain comes from more machines
(``--nnodes``) or GPUs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, log, synth_images

CONFIDENCE_TOLERANCE = 1e-3
"""How far a confidence stored by the two ranks may be from the one process's (float rounding of another batch)."""


def _stored(db: Path) -> dict[str, tuple]:
    """sha256 -> (leaf, route, confidence) of the folder's batch, read through the batch service."""
    from app.services import batches
    from app.store.db import make_engine

    engine = make_engine(f"sqlite:///{db}")
    try:
        batch = batches.recent_batches(engine, 1)[0]
        return {it.image.sha256: (it.prediction.leaf, it.prediction.route, float(it.prediction.confidence or 0.0))
                for it in batches.batch_items(engine, batch.id) if it.prediction is not None}
    finally:
        engine.dispose()


def _classify(prefix: list[str], folder: Path, db: Path, tmp: Path) -> dict[str, Any]:
    env = dict(os.environ, FMA_JUDGE_SETTINGS=str(tmp / "settings.ini"))
    t0 = time.perf_counter()
    proc = subprocess.Popen([*prefix, "classify", str(folder), "--db", f"sqlite:///{db}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stamps: list[float] = []
    loaded = None
    assert proc.stderr is not None
    err = []
    for line in proc.stderr:  # "model ..." once every rank has it; "[rank r/w: ]predicted d/t" as chunks are saved
        err.append(line)
        if line.startswith("model ") and loaded is None:
            loaded = time.perf_counter() - t0
        if re.search(r"predicted \d+/\d+", line):
            stamps.append(time.perf_counter() - t0)
    out = proc.stdout.read() if proc.stdout else ""
    rc = proc.wait()
    wall = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"classify failed (rc {rc}): {''.join(err)[-2000:]}")
    work_s = stamps[-1] - loaded if stamps and loaded is not None else None
    return {"wall_s": round(wall, 2), "model_loaded_s": round(loaded, 2) if loaded is not None else None,
            "work_s": round(work_s, 2) if work_s else None, "summary": out.strip().splitlines()[-1]}


def run(work: Path, quick: bool) -> dict[str, Any]:
    n = 40 if quick else 400
    folder = work / f"sharded_{n}"
    synth_images(folder, n, size=256, seed=11)
    with tempfile.TemporaryDirectory(prefix="fma-bench-sharded-") as tmp_text:
        tmp = Path(tmp_text)
        log(f"[sharded] {n} images: one process")
        one = _classify([sys.executable, "-m", "app"], folder, tmp / "one.sqlite3", tmp)
        log("[sharded] torchrun --standalone --nproc_per_node 2")
        two = _classify([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                         "-m", "app"], folder, tmp / "two.sqlite3", tmp)
        a, b = _stored(tmp / "one.sqlite3"), _stored(tmp / "two.sqlite3")
    # The same type and route per image; the confidences differ in the last digits (a rank's batches hold other
    # images, so the same image is computed in another batch: 0.4495 against 0.4494 once in 400, 2026-12-06)
    same_calls = a.keys() == b.keys() and len(a) == n and all(a[k][:2] == b[k][:2] for k in a)
    drift = max((abs(a[k][2] - b[k][2]) for k in a.keys() & b.keys()), default=0.0)
    res: dict[str, Any] = {"images": n, "one_process": one, "two_ranks": two,
                           "same_predictions": same_calls and drift <= CONFIDENCE_TOLERANCE,
                           "same_type_and_route": same_calls, "largest_confidence_difference": drift,
                           "predictions": [len(a), len(b)], "wall_ratio": round(one["wall_s"] / two["wall_s"], 2)}
    if one["work_s"] and two["work_s"]:
        res["work_ratio"] = round(one["work_s"] / two["work_s"], 2)
        res["images_per_s"] = [round(n / one["work_s"], 1), round(n / two["work_s"], 1)]
    log(f"  {'wall time, one process / two ranks':<44} {one['wall_s']} / {two['wall_s']} s: "
        f"{res['wall_ratio']}x   (start-up, registering and model load included)")
    if "work_ratio" in res:
        log(f"  {'register + predict, one process / two ranks':<44} {one['work_s']} / {two['work_s']} s: "
            f"{res['work_ratio']}x   ({res['images_per_s'][0]} vs {res['images_per_s'][1]} img/s)")
    log(f"  {'same predictions':<44} {res['same_predictions']} ({len(a)} and {len(b)} stored; the same type and "
        f"route: {same_calls}; largest confidence difference {drift:.1e}, at most {CONFIDENCE_TOLERANCE:g} allowed)")
    return res
