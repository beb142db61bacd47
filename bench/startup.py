"""Cold start of the app as an analyst starts it: launch → window, launch → first prediction, side by side.

``python -m bench.startup [--rounds 5] [--out bench_results] [--frozen dist/fma-judge] [--busy]``

Variants, started in turn within each round (so machine noise hits all alike), each a new ``fma-judge`` process on
the demo batch with a new copy of an empty store at the current schema (no stored prediction to show; ``--new-db``:
no store at all, the very first start) and its own settings file:

* ``frozen``: the PyInstaller folder (``python installer/build.py``), torch-free, on its bundled demo model with
  runtime graphs (left out when the folder does not exist);
* ``dev-runtime``: the development install on the same exported demo model (ONNX Runtime, torch never imported);
* ``dev-torch``: the development install on the repository's demo model (``app.demo.DEMO_MODEL``; torch and timm
  imported on the model thread).

The app writes when its window first shows and when the panel first shows a prediction
(``FMA_JUDGE_STARTUP_LOG``, :mod:`app.ui.startup_log`); launch is ``time.time()`` just before the process starts.
Prints medians and ratios against ``dev-torch``; ``--busy`` runs one spinning process per core meanwhile.
Targets (issue #16, demo model, 2-core machine): frozen window <= 1.5 s, first prediction <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.demo import DEMO_MODEL
from bench.common import ROOT, exported_demo, load_average, log, machine, spinners

EXPORTED = exported_demo()  # made by installer/build.py
TARGETS = {"window_s": 1.5, "first_prediction_s": 2.0}
TIMEOUT_S = 120.0


def template_store(folder: Path) -> Path:
    """An empty store at the current schema: what every start after the very first finds (``--new-db``: none)."""
    from app.store.db import init_db, make_engine

    path = folder / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    engine.dispose()
    return path


def launch(cmd: list[str], tmp: Path, *, template: Path | None = None, batch: tuple[str, ...] = ("--demo",),
           timeout_s: float = TIMEOUT_S) -> dict[str, float | None]:
    """Start the app on ``batch`` (its arguments: the demo batch, or a folder), wait for its first prediction (or
    the timeout), stop it; the two times from launch.

    ``tmp`` is the variant's own folder: its settings file remembers the variant's model and nothing else's.
    Without ``template`` the database does not exist yet (the app creates it)."""
    tmp.mkdir(parents=True, exist_ok=True)
    log_file = tmp / "startup.jsonl"
    log_file.unlink(missing_ok=True)
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               FMA_JUDGE_SETTINGS=str(tmp / "settings.ini"), FMA_JUDGE_STARTUP_LOG=str(log_file))
    db = tmp / f"db-{time.monotonic_ns()}.sqlite3"
    if template is not None:
        shutil.copyfile(template, db)
    t0 = time.time()
    proc = subprocess.Popen([*cmd, *batch, "--db", f"sqlite:///{db}", "--analyst", "bench", "--lang", "en"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    events: dict[str, float] = {}
    try:
        while time.time() - t0 < timeout_s and "first_prediction" not in events and proc.poll() is None:
            time.sleep(0.02)
            if log_file.is_file():
                for line in log_file.read_text().splitlines():
                    with_t = json.loads(line)
                    events[with_t["event"]] = with_t["t"]
    finally:
        proc.kill()
        proc.wait()
    return {"window_s": round(events["window_shown"] - t0, 3) if "window_shown" in events else None,
            "first_prediction_s": round(events["first_prediction"] - t0, 3) if "first_prediction" in events else None}


def variants(frozen: Path | None) -> dict[str, list[str]]:
    dev = [sys.executable, "-m", "app"]
    out: dict[str, list[str]] = {}
    if frozen is not None and (frozen / "fma-judge").is_file():
        out["frozen"] = [str(frozen / "fma-judge")]
    if (EXPORTED / "runtime_predict.onnx").is_file():
        out["dev-runtime"] = [*dev, "--model", str(EXPORTED)]
    out["dev-torch"] = [*dev, "--model", str(DEMO_MODEL)]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--frozen", type=Path, default=ROOT / "dist" / "fma-judge")
    p.add_argument("--busy", action="store_true", help="one spinning process per core during the runs")
    p.add_argument("--new-db", action="store_true",
                   help="start on a database that does not exist yet (the very first start: the schema is created)")
    p.add_argument("--out", type=Path, help="write startup.json here")
    args = p.parse_args(argv)
    runs = variants(args.frozen)
    log(f"variants: {', '.join(runs)}; {args.rounds} rounds; load average {load_average()}")
    busy_procs = spinners(os.cpu_count() or 1) if args.busy else []
    results: dict[str, list[dict[str, float | None]]] = {name: [] for name in runs}
    try:
        with tempfile.TemporaryDirectory(prefix="fma-startup-") as tmp:
            template = None if args.new_db else template_store(Path(tmp))
            for r in range(args.rounds):
                for name, cmd in runs.items():
                    results[name].append(launch(cmd, Path(tmp) / name, template=template))
                log(f"round {r + 1}: " + "; ".join(f"{n} {v[-1]['window_s']} / {v[-1]['first_prediction_s']} s"
                                                   for n, v in results.items()))
    finally:
        for s in busy_procs:
            s.kill()
    summary: dict[str, dict[str, float | None]] = {}
    for name, rows in results.items():
        summary[name] = {}
        for key in ("window_s", "first_prediction_s"):
            values = [row[key] for row in rows if row[key] is not None]
            summary[name][key] = round(statistics.median(values), 3) if values else None
            summary[name][key.replace("_s", "_max_s")] = round(max(values), 3) if values else None
            summary[name][key.replace("_s", "_missing")] = len(rows) - len(values)
    ref = summary["dev-torch"]
    log(f"{'variant':<12} {'window p50':>10} {'first prediction p50':>21}   ratio to dev-torch (first prediction)")
    for name, s in summary.items():
        ratio = (ref["first_prediction_s"] / s["first_prediction_s"]) if s["first_prediction_s"] and \
            ref["first_prediction_s"] else None
        log(f"{name:<12} {s['window_s']!s:>9}s {s['first_prediction_s']!s:>20}s   "
            + (f"{ratio:.2f}x faster" if ratio else "-"))
    if "frozen" in summary:
        f = summary["frozen"]
        log(f"targets: frozen window {f['window_s']} s (<= {TARGETS['window_s']}), first prediction "
            f"{f['first_prediction_s']} s (<= {TARGETS['first_prediction_s']})")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        doc = {"benchmark": "startup", "busy": args.busy, "new_db": args.new_db, "rounds": args.rounds, "machine": machine(),
               "load_average_end": load_average(), "targets": TARGETS, "summary": summary, "runs": results}
        name = "startup" + ("_busy" if args.busy else "") + ("_new_db" if args.new_db else "")
        (args.out / f"{name}.json").write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
