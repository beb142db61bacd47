"""Judging: the loop as an analyst lives it, in a real ``fma-judge`` process started cold.

For each model (the bundled demo model, and a ConvNeXt-T bundle, each on torch and on the torch-free workstation
runtime the installer ships: ``demo-runtime``, ``convnext_tiny-runtime``) and each machine state (quiet, and
busy: one process spinning on every core), :mod:`bench.judging_driver` starts ``fma-judge`` on a batch of 500 images and
presses keys at a steady pace (accept, Top-k digits, arrows, undo): first while the rest of the batch is still
being classified, then after. It reports, from each key press:

* key → next image fully painted: the first paint of the viewer with the new image and of the panel with its
  file (p50 / p95 / max), over every press that changed the image;
* key → heatmap painted (p50 / p95), for images reached in judging order (accept and Top-k keys); a heatmap not
  painted before the next key counts as the pace (a lower bound) and is counted as missed;
* launch → window shown, launch → first prediction visible: of the driven start, and the median of ``starts``
  (5) more cold starts on the same batch, each a new process on a new database (:func:`cold_starts`);
* judgments acknowledged on screen vs found in the database (none may be lost).

Targets (2-core machine, demo model): image p95 <= 100 ms and max <= 250 ms, quiet and busy; heatmap p95 <= 250 ms;
first prediction <= 2 s cold (<= 4 s with ConvNeXt-T), on the median of the cold starts. Offscreen Qt: painting happens, but not to a screen.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, exported_demo, log, percentile, prepared_bundle, spinners, synth_images
from bench.startup import launch

TARGETS = {"image_p95_ms": 100.0, "image_max_ms": 250.0, "heatmap_p95_ms": 250.0, "first_prediction_s": 2.0,
           "first_prediction_convnext_s": 4.0}
JUDGING_ORDER = {"accept", "top2", "top3"}


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "n": 0}
    return {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1),
            "max": round(max(values), 1), "n": len(values)}


def _summary(presses: list[dict[str, Any]], pace_ms: float) -> dict[str, Any]:
    image = [p["image_ms"] for p in presses if p["image_ms"] is not None]
    missed_image = sum(1 for p in presses if p["image_ms"] is None)
    ordered = [p for p in presses if p["kind"] in JUDGING_ORDER]
    heat = [p["heatmap_ms"] if p["heatmap_ms"] is not None else pace_ms for p in ordered]
    out = {"image_ms": _stats(image), "image_missed": missed_image, "heatmap_ms": _stats(heat),
           "heatmap_missed": sum(1 for p in ordered if p["heatmap_ms"] is None), "presses": len(presses),
           # judging keys that found no prediction on screen yet: the analyst would have had to wait
           "judging_keys": len(ordered), "judging_keys_ignored": sum(1 for p in ordered if not p["judged"])}
    if any(p.get("spectrum_ms") is not None for p in presses):  # images with FTIR spectra (python -m bench spectra)
        # a spectrum not painted before the next key counts as the pace (a lower bound), as a heatmap does
        shown = [(p, pace_ms if p["spectrum_ms"] is None else p["spectrum_ms"]) for p in presses
                 if p["image_ms"] is not None]
        out["spectrum_ms"] = _stats([ms for _p, ms in shown])
        out["spectrum_extra_ms"] = _stats([ms - p["image_ms"] for p, ms in shown])
        out["spectrum_missed"] = sum(1 for p, _ms in shown if p["spectrum_ms"] is None)
        out["spectrum_missed_keys"] = sorted({p["kind"] for p, _ms in shown if p["spectrum_ms"] is None})
    return out


def _judgments_in_db(url: str, folder: Path, analyst: str) -> int:
    """Judgment rows the analyst left on the batch, read back through the services (the public API)."""
    from app.services.batches import open_folder
    from app.services.judging import JudgingService
    from app.store.db import make_engine

    engine = make_engine(url)
    service = JudgingService(engine, analyst)
    opened = open_folder(engine, folder)  # finds the batch the app made
    n = sum(1 for it in opened.items for row in service.history(it.image.image_id) if row.analyst == analyst)
    engine.dispose()
    return n


def cold_starts(bundle: Path, folder: Path, tmp: Path, count: int) -> dict[str, Any]:
    """``count`` more cold starts of the app on the batch, each a new process on a new database, timed to its first
    prediction and stopped (:func:`bench.startup.launch`): one start is one sample of a noisy figure, so the
    target is read on their median; the first start is kept apart (it alone may find the disk cache cold)."""
    starts = [launch([sys.executable, "-m", "app", "--model", str(bundle)], tmp / f"start{i}", batch=(str(folder),))
              for i in range(count)]
    out: dict[str, Any] = {"starts": starts}
    for key in ("window_s", "first_prediction_s"):
        values = [s[key] for s in starts if s[key] is not None]
        out[key] = {"median": round(statistics.median(values), 3) if values else None,
                    "max": max(values) if values else None, "missing": len(starts) - len(values)}
    return out


def run_one(bundle: Path, folder: Path, tmp: Path, *, options: dict[str, Any]) -> dict[str, Any]:
    """One cold start of the app, driven by :mod:`bench.judging_driver`; its timings and the database check."""
    url = f"sqlite:///{tmp / 'judging.sqlite3'}"
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               FMA_JUDGE_SETTINGS=str(tmp / "judging.ini"), BENCH_DRIVE=json.dumps({k: v for k, v in options.items() if k != "starts"}))
    env["BENCH_T0"] = repr(time.time())
    res = subprocess.run([sys.executable, "-m", "bench.judging_driver", str(folder), "--model", str(bundle),
                          "--db", url, "--analyst", "bench", "--lang", "en"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=options["timeout_s"] + 120)
    lines = [ln[len("BENCH "):] for ln in res.stdout.splitlines() if ln.startswith("BENCH ")]
    if res.returncode != 0 or not lines:
        kept = folder.parent / "driver_stderr.txt"  # all of it: the progress lines say when a crash happened
        kept.write_text(res.stdout + "\n--- stderr ---\n" + res.stderr)
        raise RuntimeError(f"judging driver failed (rc {res.returncode}; all of its output in {kept}): "
                           f"{res.stderr[-3000:]}")
    out = json.loads(lines[-1])
    if out["error"]:  # a store error, a timeout: the figures would hide a broken loop
        raise RuntimeError(f"judging driver: {out['error']}")
    pace_ms = options["pace_s"] * 1000
    phases = {phase: _summary([p for p in out["presses"] if p["phase"] == phase], pace_ms)
              for phase in ("during", "after")}
    in_db = _judgments_in_db(url, folder, "bench")
    return {"window_shown_s": round(out["window_shown_s"], 3), "first_prediction_s":
            None if out["first_prediction_s"] is None else round(out["first_prediction_s"], 3),
            "run_over_s": out["run_over_s"], "phases": phases, "all": _summary(out["presses"], pace_ms),
            "judgments": {"acknowledged": out["acknowledged"], "in_db": in_db,
                          "lost": out["acknowledged"] - in_db}, "error": out["error"]}


RUNTIME_DEMO = exported_demo()
"""The demo model with its workstation runtime graphs (``installer/build.py`` exports it): run as ``demo-runtime``
when it is there (``BENCH_JUDGING_ONLY=demo-runtime`` runs only it)."""


def runtime_copy(bundle: Path, images: Path) -> Path:
    """A copy of ``bundle`` beside it with its workstation runtime graphs (``fma-model export-runtime``, checked
    against torch on ``images``), as the installer ships a model: the app runs it without torch."""
    target = bundle.with_name(f"{bundle.name}-runtime")
    if not (target / "runtime_predict.onnx").is_file():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(bundle, target)
        subprocess.run([sys.executable, "-m", "models.commands.cli", "export-runtime", str(target), "--data",
                        str(images)], cwd=ROOT, check=True, timeout=1800)
    return target


def run(work: Path, quick: bool) -> dict[str, Any]:
    from app.demo import DEMO_MODEL

    n = 40 if quick else 500
    options = ({"pace_s": 0.25, "during": 3, "after": 4, "timeout_s": 240, "starts": 1} if quick
               else {"pace_s": 1.0, "during": 200, "after": 100, "timeout_s": 1500, "starts": 5})
    folder = work / f"folder_{n}"
    synth_images(folder, n, seed=3)
    only = os.environ.get("BENCH_JUDGING_ONLY", "").split(",") if os.environ.get("BENCH_JUDGING_ONLY") else None
    models: dict[str, Path] = {"demo": DEMO_MODEL}
    if not quick and (not only or "convnext_tiny" in only):
        models["convnext_tiny"] = prepared_bundle(work, "convnext_tiny", quick=quick)[0]
    if not quick and (RUNTIME_DEMO / "runtime_predict.onnx").is_file():
        models["demo-runtime"] = RUNTIME_DEMO
    if not quick and (not only or "convnext_tiny-runtime" in only):
        cnx = models.get("convnext_tiny") or prepared_bundle(work, "convnext_tiny", quick=quick)[0]
        models["convnext_tiny-runtime"] = runtime_copy(cnx, synth_images(work / "images_export", 8, seed=2))
    models = {k: v for k, v in models.items() if not only or k in only}
    results: dict[str, Any] = {"images": n, "options": options, "targets": TARGETS, "runs": {}}
    # --quick: the demo model on a quiet machine only (the busy runs' spinners would slow the tests beside it)
    plan = [("demo", False)] if quick else [(m, b) for m in models for b in (False, True)]
    plan = [(m, b) for m, b in plan if m in models]
    for name, busy in plan:
        bundle = models[name]
        label = f"{name}/{'busy' if busy else 'quiet'}"
        log(f"[judging] {label}: cold start, {n} images, a key every {options['pace_s']} s")
        busy_procs = spinners(os.cpu_count() or 1) if busy else []
        try:
            time.sleep(1.0 if busy else 0.0)  # let the load settle in
            with tempfile.TemporaryDirectory(prefix="fma-bench-judging-") as tmp:
                r = run_one(bundle, folder, Path(tmp), options=options)
                r["cold_starts"] = cold_starts(bundle, folder, Path(tmp), options["starts"])
        finally:
            for proc in busy_procs:
                proc.kill()
        results["runs"][label] = r
        a = r["all"]
        log(f"  key -> image painted  p50 {a['image_ms']['p50']} ms, p95 {a['image_ms']['p95']} ms, "
            f"max {a['image_ms']['max']} ms ({a['image_ms']['n']} presses)")
        log(f"  key -> heatmap painted (judging order)  p50 {a['heatmap_ms']['p50']} ms, "
            f"p95 {a['heatmap_ms']['p95']} ms ({a['heatmap_missed']} not before the next key)")
        log(f"  judging keys that found no prediction yet: {a['judging_keys_ignored']} of "
            f"{a['judging_keys']}")
        log(f"  launch -> window {r['window_shown_s']} s, -> first prediction {r['first_prediction_s']} s; "
            f"judgments acknowledged {r['judgments']['acknowledged']}, in the database "
            f"{r['judgments']['in_db']}")
        c = r["cold_starts"]
        log(f"  {options['starts']} more cold starts: launch -> window median {c['window_s']['median']} s, -> first "
            f"prediction median {c['first_prediction_s']['median']} s (slowest {c['first_prediction_s']['max']} s)")
    return results
