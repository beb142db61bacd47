"""UI: how the Qt event loop keeps up while a batch is classified, and how fast things appear.

* Stall: a 10 ms ``QTimer`` notes how late each tick is while the main window classifies a batch
  (500 images, ConvNeXt-T along its chosen path, predictions written to SQLite). p99 and max lateness.
  Every 2 s the benchmark also moves to the next image, as an analyst would, and times the move.
* First prediction: from opening the batch folder (``MainWindow.open_folder``: hashing and registering
  the files, then the model) to the first prediction handed to the window, the model already loaded.
* Window: from starting a fresh ``fma-judge`` process (``app.ui.app.run_app``, offscreen, with a model
  to load) to its main window being shown (:mod:`bench.ui_launch`).

Targets: p99 < 50 ms, first prediction < 1.5 s, window < 2 s. Offscreen: no real drawing to a screen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, StallProbe, log, offscreen_window, prepared_bundle, synth_images

FAMILY = "convnext_tiny"
TARGETS = {"stall_p99_ms": 50.0, "first_prediction_s": 1.5, "window_shown_s": 2.0}


def _launch(bundle: Path, tmp: Path) -> dict[str, Any]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FMA_JUDGE_SETTINGS=str(tmp / "launch.ini"),
               BENCH_T0=repr(time.time()))
    res = subprocess.run([sys.executable, "-m", "bench.ui_launch", "--model", str(bundle),
                          "--db", f"sqlite:///{tmp / 'launch.sqlite3'}", "--analyst", "bench", "--lang", "en"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or not lines:
        raise RuntimeError(f"launch probe failed (rc {res.returncode}): {res.stderr[-2000:]}")
    return json.loads(lines[-1])


def _classify(bundle: Path, folder: Path, tmp: Path, n: int) -> dict[str, Any]:
    from PySide6.QtCore import QEventLoop, QTimer

    app, engine, win, load_s = offscreen_window(tmp, "classify", bundle)

    probe = StallProbe(win)
    state = {"first": None, "t_open": 0.0}
    opened_at: list[float] = []
    real_opened = win._batch_opened

    def opened(batch) -> None:  # the folder is hashed and registered; the model starts now
        opened_at.append(time.perf_counter() - state["t_open"])
        real_opened(batch)

    win._batch_opened = opened  # looked up when open_folder connects its task

    def first(_run: int, _pairs: list) -> None:
        if state["first"] is None:
            state["first"] = time.perf_counter() - state["t_open"]

    win.worker.predicted.connect(first)
    done = QEventLoop()
    win.allPredicted.connect(done.quit)
    QTimer.singleShot(1_800_000, done.quit)
    probe.start()
    state["t_open"] = time.perf_counter()
    win.open_folder(folder)
    done.exec()
    run_s = time.perf_counter() - state["t_open"]
    probe.stop()
    predicted = sum(1 for it in win.items if it.prediction is not None and it.prediction.leaf)
    engine_path = win.model.engine if win.model else None
    win.close()
    app.processEvents()
    engine.dispose()
    return {
        "images": n, "predicted": predicted, "engine_path": engine_path, "model_load_s": round(load_s, 2),
        "classify_s": round(run_s, 2), **probe.figures(),
        "first_prediction_s": round(state["first"] or float("nan"), 3),
        "batch_opened_s": round(opened_at[0], 3) if opened_at else None,
    }


def run(work: Path, quick: bool) -> dict[str, Any]:
    n = 40 if quick else 500
    bundle, _ = prepared_bundle(work, FAMILY, quick=quick)
    folder = work / f"folder_{n}"
    synth_images(folder, n, seed=3)
    with tempfile.TemporaryDirectory(prefix="fma-bench-ui-") as tmp:
        log("[ui] launch: fresh fma-judge process until its window is shown")
        launch = _launch(bundle, Path(tmp))
        log(f"[ui] classify {n} images in the main window, measuring event-loop lateness")
        res = _classify(bundle, folder, Path(tmp), n)
    res.update(window_shown_s=launch["window_shown_s"], launch=launch)
    res["targets"] = TARGETS
    res["meets_target"] = {"stall_p99": res["stall_p99_ms"] < TARGETS["stall_p99_ms"],
                           "first_prediction": res["first_prediction_s"] < TARGETS["first_prediction_s"],
                           "window_shown": res["window_shown_s"] < TARGETS["window_shown_s"]}
    log(f"  {'event-loop stall p99 / max':<44} {res['stall_p99_ms']:7.1f} / {res['stall_max_ms']:.1f} ms "
        f"(p50 {res['stall_p50_ms']:.1f} ms, {res['ticks']} ticks over {res['classify_s']:.1f} s)   target p99 < 50 ms")
    log(f"  {'open batch -> first prediction':<44} {res['first_prediction_s']:7.3f} s   "
        f"(folder hashed and registered after {res['batch_opened_s']} s)   target < 1.5 s")
    log(f"  {'launch -> window shown':<44} {res['window_shown_s']:7.3f} s   (a model loading meanwhile)   "
        "target < 2 s")
    if res["move_next_ms_median"] is not None:
        log(f"  {'move to the next image (UI handler)':<44} {res['move_next_ms_median']:7.1f} ms median, "
            f"{res['move_next_ms_max']:.1f} ms max over {res['moves']} moves")
    return res
