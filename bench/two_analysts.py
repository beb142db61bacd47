"""Two analysts on one batch, in one order: how many of their keys save nothing (the window's claims, measured).

    python -m bench.two_analysts [--images 120] [--pace 0.45] [--look 0,30] [--out DIR]

Two real ``fma-judge`` windows (processes, offscreen Qt), ``alice`` and ``bob`` a second later, open the same folder
on one SQLite store, every image of it waiting for a person (a copy of the demo model whose routing judges nothing
alone), its predictions stored beforehand (``fma-judge classify``: the windows do not predict). Each presses Enter
at a steady pace (:mod:`bench.two_analysts_driver`: Enter on the image on screen, as an analyst who agrees with the
model) until nothing is left for it, and counts its keys: judgments saved (an Enter on an image the colleague had
decided, shown as theirs, saves an agreement), and keys refused because the colleague had decided the image
meanwhile ("judged meanwhile by …": the key saved nothing). The store's judgments per analyst are printed beside.

Each value of ``--look`` is a run of its own on a fresh store: the window's ``StoreUpkeep.LOOK_AHEAD``, how many
open images past its claimed five each claim reads the colleagues' claims and decisions of (0: as before
2026-12-07, when a colleague's block of claims was learnt one image at a time, on arriving at each, and their
decisions at the 30 s poll). The runs alternate as given. Both take the other change of that day: a window claims
from its first image, also while its model is still loading (before, two windows opened together claimed nothing
for their first seconds, and judged the same images).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, log, synth_images


def _nothing_alone(source: Path, out: Path) -> Path:
    """A copy of ``source`` whose routing auto-judges no type (every image to a person)."""
    import dataclasses

    from models.bundle.files import read_bundle_manifest, write_bundle_manifest

    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source, out)
    manifest = read_bundle_manifest(out)
    cal = manifest.calibration
    if cal is not None:
        cal = dataclasses.replace(cal, thresholds=dict.fromkeys(cal.thresholds), node_thresholds={})
        write_bundle_manifest(out, manifest.replace(calibration=cal, spectrum=None))
    (out / "spectrum_head.safetensors").unlink(missing_ok=True)
    return out


def _run(work: Path, folder: Path, bundle: Path, template: Path, look: int, pace: float,
         timeout_s: float) -> dict[str, Any]:
    run = work / f"look{look}"
    if run.exists():
        shutil.rmtree(run)
    run.mkdir(parents=True)
    db = run / "store.sqlite3"
    shutil.copyfile(template, db)
    procs = []
    for k, analyst in enumerate(("alice", "bob")):
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FMA_JUDGE_SETTINGS=str(run / f"{analyst}.ini"),
                   BENCH_TWO=json.dumps({"look": look, "pace_s": pace, "timeout_s": timeout_s}))
        cmd = [sys.executable, "-m", "bench.two_analysts_driver", str(folder), "--model", str(bundle),
               "--db", f"sqlite:///{db}", "--analyst", analyst, "--lang", "en"]
        procs.append(subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      text=True))
        if k == 0:
            time.sleep(1.0)  # bob opens the batch a moment after alice
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=timeout_s + 120)
        line = next((x for x in out.splitlines() if x.startswith("BENCH ")), None)
        results.append(json.loads(line[6:]) if line else {"error": f"no result (rc {proc.returncode})"})
    return {"look": look, "analysts": results, "store": _store_check(db)}


def _store_check(db: Path) -> dict[str, Any]:
    """From the store: the judgments each analyst's windows saved, and images decided twice by different people
    without the second having seen the first (a decision written over: must be 0)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        per = dict(c.execute(text("select analyst, count(*) from judgments group by analyst")).all())
        images = c.execute(text("select count(distinct image_id) from judgments")).scalar()
    engine.dispose()
    return {"judgments": {str(k): int(v) for k, v in per.items()}, "images_decided": int(images or 0)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.two_analysts", description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=120)
    p.add_argument("--pace", type=float, default=0.45, help="seconds between an analyst's keys")
    p.add_argument("--look", default="0,30", help="LOOK_AHEAD values, one run each, in this order")
    p.add_argument("--timeout", type=float, default=240.0)
    p.add_argument("--out", type=Path, default=ROOT / "bench_results")
    args = p.parse_args(argv)
    from app.demo import DEMO_MODEL

    work = Path(tempfile.mkdtemp(prefix="fma-two-"))
    try:
        folder = work / "batch"
        synth_images(folder, args.images)
        bundle = _nothing_alone(DEMO_MODEL, work / "model")
        template = work / "template.sqlite3"
        log(f"[two_analysts] classify {args.images} images once (the windows then predict nothing)")
        subprocess.run([sys.executable, "-m", "app", "classify", str(folder), "--model", str(bundle),
                        "--db", f"sqlite:///{template}"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        runs = []
        for look in [int(x) for x in args.look.split(",")]:
            log(f"[two_analysts] look ahead {look}: alice and bob press Enter every {args.pace} s")
            res = _run(work, folder, bundle, template, look, args.pace, args.timeout)
            keys = sum(a.get("keys", 0) for a in res["analysts"])
            refused = sum(a.get("refused", 0) for a in res["analysts"])
            saved = sum(a.get("saved", 0) for a in res["analysts"])
            res["summary"] = {"keys": keys, "saved": saved, "refused": refused,
                              "refused_per_100_keys": round(100 * refused / keys, 1) if keys else None}
            errors = [a.get("error") for a in res["analysts"] if a.get("error")]
            log(f"  {keys} keys: {saved} saved, {refused} refused as the colleague's ({res['summary']['refused_per_100_keys']}"
                f" per 100 keys); store: {res['store']['judgments']} on {res['store']['images_decided']} images"
                + (f"; errors: {errors}" if errors else ""))
            runs.append(res)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "two_analysts.json").write_text(json.dumps({"images": args.images, "pace_s": args.pace,
                                                                "runs": runs}, indent=2), encoding="utf-8")
        log(f"[two_analysts] wrote {args.out / 'two_analysts.json'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
