"""``python -m bench.drift_drill [--bundle B] [--work DIR] [--out DIR] [--per-class N] [--shares 0.02,0.05,0.1,0.2]``.

Issue #17's drift drill: how many wrong auto-judgments get through after the production line drifts, with and
without the purity monitor (:mod:`app.services.monitor`), and the spot-check share that needs.

The shipped demo model and its calibration judge a stream of synthetic batches rendered with seeds never used for
training or calibration: first a batch like the calibration data (difficulty 0.3, 20x, as the demo's training and calibration sets), then
the drifted line: ``--replays`` lots (default 6) of one shifted batch, the batch as rendered and then its predictions
replayed with new image identities, spot-check draws and order (a bootstrap of the drifted line):

- ``overlap``: harder sibling overlap (difficulty 0.5, the set on which issue #17 found purity 0.986): the same
  look, more confusable siblings;
- ``magnification``: the same defects at 50x;
- ``unseen``: a quarter of the images are defect kinds outside the tree.

The model runs once per batch; each spot-check share is then simulated through the real store and monitor: every
chunk of 8 predictions is saved as the app saves it (the pauses in force applied), the analyst judges each image
routed to a person at once with its true label (blind checks included), and the monitor checks after every chunk
(leaf purity and the batch's drift; the app checks after every blind decision). Counted per leaf over the drifted lots: wrong
auto-judgments made (the strict count: the pause's re-routing of earlier ones does not undo them), and those still
auto-judged at the end. A leaf is *affected* when its auto-judged images in the drifted lots are below what the
monitor holds it to without the monitor: the target purity, or the leaf's calibration floor
(``Calibration.purity_floor``) under a calibration with one promise over all leaves. The control arm (the like-calibration batch twice) counts needless pauses.

Writes ``OUT/drift_drill.json`` and ``OUT/drift_drill.md``; images and stores stay under ``WORK``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import ROOT, ROUTING_DEMO, log, write_result

CHUNK = 8
STREAMS: dict[str, list[str]] = {
    "control": ["--seed", "7101", "--difficulty", "0.3"],
    "overlap": ["--seed", "7102", "--difficulty", "0.5"],
    "magnification": ["--seed", "7103", "--difficulty", "0.3", "--magnifications", "50"],
    "unseen": ["--seed", "7104", "--difficulty", "0.3",
               "--unknown-types", "burn_mark,delamination_blister,bm_pinhole,sealant_intrusion"],
}
"""``fma-model synth`` options of each batch (seeds 71xx: never used by the demo's training or calibration, whose
images have difficulty 0.3 at 20x: ``resources/demo/README.md``)."""


def render(work: Path, name: str, per_class: int, taxonomy: Any) -> list[tuple[Path, str | None]]:
    """The batch's images with their true leaf (None: a defect kind outside the tree), in a fixed shuffled order."""
    import random

    from models.commands.cli import main as fma_model
    from models.data.manifest import read_manifest
    from models.data.samples import UNKNOWN_PREFIX

    folder = work / name
    if not (folder / "manifest.csv").is_file():
        extra = ["--unknown-per-class", str(max(1, per_class))] if name == "unseen" else []
        args = ["synth", str(folder), "--per-class", str(per_class), "--split", "0,0,1", "--workers", "2",
                *STREAMS[name], *extra]
        if fma_model(args) != 0:
            raise SystemExit(f"fma-model synth failed for {name}")
    rows = [(s.path, s.label) for s in read_manifest(folder / "manifest.csv", taxonomy, verify_images=False).samples]
    random.Random(7).shuffle(rows)
    return [(p, None if label.startswith(UNKNOWN_PREFIX) else label) for p, label in rows]


def predict(predictor: Any, images: list[tuple[Path, str | None]], cache: Path) -> list[dict[str, Any]]:
    """The model's answers as the app stores them (``PredictionRecord``), with the truth and the spot-check key;
    kept in ``cache`` (JSON, with the calibration it was routed by) so a rerun of the simulation does not run the
    model again; a recalibrated bundle (another ``routing.created``: temperature, detector and thresholds may all
    have moved) runs it again."""
    from app.store.records import PredictionRecord
    from models.routing.policy import image_key

    fields = ("leaf", "confidence", "path", "top5", "level_probs", "route", "reasons", "unknown_score", "error",
              "model_version", "path_scores")
    calibration = predictor.calibration
    made_by = None if calibration is None else calibration.created
    saved = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else None
    if isinstance(saved, dict) and saved.get("calibration") == made_by:
        rows = saved["rows"]
    else:
        rows = []
        for (path, truth), p in zip(images, predictor.iter_predict([str(p) for p, _ in images]), strict=True):
            rec = PredictionRecord.from_prediction(p)
            rows.append({"path": str(path), "truth": truth, "key": image_key(str(path)),
                         "record": {f: getattr(rec, f) for f in fields}})
        cache.write_text(json.dumps({"calibration": made_by, "rows": rows}), encoding="utf-8")
    for row in rows:
        r = row["record"]
        row["prediction"] = PredictionRecord(**{**r, "path": tuple(r["path"]), "reasons": tuple(r["reasons"]),
                                                "top5": tuple((t[0], tuple(t[1]), t[2]) for t in r["top5"]),
                                                "level_probs": tuple(map(tuple, r["level_probs"])),
                                                "path_scores": tuple(r["path_scores"])})
    return rows


def replay(rows: list[dict[str, Any]], r: int) -> list[dict[str, Any]]:
    """The shifted batch's predictions again as lot ``r`` of the drifted line: new image identities and spot-check
    draws, another order (a bootstrap of the shifted line; lot 0 is the batch as rendered)."""
    import hashlib
    import random

    if r == 0:
        return rows
    out = [{**row, "key": hashlib.sha256(f"{row['key']}:{r}".encode()).hexdigest()} for row in rows]
    random.Random(r).shuffle(out)
    return out


def simulate(manifest: dict[str, Any], calibration: Any, batches: list[tuple[str, list[dict[str, Any]]]],
             share: float, *, monitor_on: bool, store: Path) -> dict[str, Any]:
    """One stream through a fresh store; counts per leaf of the batches after the first (see the module doc)."""
    from app.services.monitor import MonitorSettings, PurityMonitor, apply_pauses
    from app.store import repo
    from app.store.db import make_engine, session_scope
    from models.routing.policy import spot_check_draw

    cal = dataclasses.replace(calibration, spot_check=share, spot_check_by_leaf={})
    engine = make_engine(f"sqlite:///{store}")
    from app.store.db import init_db

    init_db(engine)
    version = manifest["model_version"]
    with session_scope(engine) as s:
        repo.register_model_version(s, version=version, manifest=manifest)
    monitor = PurityMonitor(engine, MonitorSettings())
    made = Counter()  # (leaf) -> wrong auto-judgments made after the shift
    autos = Counter()
    paused_at: dict[str, int] = {}
    pauses = 0
    truth_of: dict[int, str | None] = {}
    for b, (name, rows) in enumerate(batches):
        with session_scope(engine) as s:
            batch_id = repo.create_batch(s, name=f"{b}-{name}", source_folder=f"/drill/{b}-{name}").id
        for start in range(0, len(rows), CHUNK):
            pairs = []
            with session_scope(engine, durable=False) as s:
                for row in rows[start:start + CHUNK]:
                    p = row["prediction"]
                    reasons = [r for r in p.reasons if r != "spot_check"]
                    if not reasons and share > 0 and spot_check_draw(row["key"], cal.seed) < share:
                        reasons = ["spot_check"]
                    rec = dataclasses.replace(p, reasons=tuple(reasons), route="rejudge" if reasons else "auto")
                    image = repo.get_or_create_image(s, f"{b:02d}" + row["key"][2:], f"/drill/{b}/{row['path']}",
                                                     64, 64)
                    repo.add_to_batch(s, batch_id, image.image_id, f"/drill/{b}/{row['path']}")
                    truth_of[image.image_id] = row["truth"]
                    pairs.append((image.image_id, rec))
                if monitor_on:
                    pairs = apply_pauses(s, version, cal, pairs)
                stored = repo.save_predictions(s, pairs)
                for image_id, rec in stored:  # the analyst keeps up with the line: this chunk is judged at once
                    truth = truth_of[image_id]
                    if rec.route == "auto":
                        if b > 0:
                            autos[rec.leaf] += 1
                            made[rec.leaf] += rec.leaf != truth
                        continue
                    repo.record_judgment(s, image_id=image_id, leaf=truth, action="picker" if truth else "unknown",
                                         analyst="drill", batch_id=batch_id)
            if monitor_on:  # after each chunk's blind decisions (the app checks after each one)
                report = monitor.check(version, cal, batch_ids=[batch_id])
                pauses += len(report.started)
                for pause in report.started:
                    paused_at.setdefault(f"batch:{name}" if pause.scope == "batch" else pause.target, b)
    left = Counter()
    with session_scope(engine) as s:
        ids = [i for i in truth_of if i > 0]
        for image_id, p in repo.latest_predictions(s, ids, model_version=version).items():
            if p.route == "auto" and p.leaf != truth_of[image_id]:
                left[p.leaf] += 1
    engine.dispose()
    return {"made": dict(made), "autos": dict(autos), "left_auto_wrong": dict(left), "pauses": pauses,
            "paused": paused_at}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drift_drill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "drift_drill")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results")
    parser.add_argument("--bundle", type=Path, default=ROUTING_DEMO,
                        help="the calibrated bundle (default: resources/demo/model)")
    parser.add_argument("--per-class", type=int, default=40, help="images per leaf in each batch (default 40)")
    parser.add_argument("--shares", default="0.02,0.05,0.1,0.2", help="spot-check shares to simulate")
    parser.add_argument("--replays", type=int, default=6,
                        help="lots of the drifted line after the shift: the shifted batch replayed (default 6)")
    parser.add_argument("--quick", action="store_true", help="8 per leaf, shares 0.1 (a smoke run)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    per_class = 8 if args.quick else args.per_class
    shares = [0.1] if args.quick else [float(v) for v in args.shares.split(",")]
    if args.quick:
        args.replays = 2
    work = args.work / f"d03-pc{per_class}"
    work.mkdir(parents=True, exist_ok=True)

    from models.bundle.io import load_bundle
    from models.inference.predictor import Predictor

    bundle = load_bundle(args.bundle)
    predictor = Predictor(bundle, batch_size=32)
    manifest = json.loads((args.bundle / "manifest.json").read_text(encoding="utf-8"))
    calibration = bundle.manifest.calibration
    target = calibration.target_purity
    batches = {}
    for name in STREAMS:
        log(f"[drift] rendering and predicting {name}")
        batches[name] = predict(predictor, render(work, name, per_class, bundle.manifest.taxonomy),
                                work / name / "predictions.json")
    results: dict[str, Any] = {"bundle": str(args.bundle), "per_class": per_class, "target_purity": target, "shares": shares,
                               "replays": args.replays, "arms": {}}
    lines = ["| shift | spot-check share | affected leaves | wrong auto-judgments per affected leaf, no monitor "
             "(max / total) | with the monitor: made (max / total) | still auto at the end (total) | "
             "leaves paused | drifted lots paused by drift |", "|---|---|---|---|---|---|---|---|"]
    scratch = Path("/dev/shm") if Path("/dev/shm").is_dir() else work
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        for shift in ("control", "overlap", "magnification", "unseen"):
            stream = [("control", batches["control"])] + [(f"{shift}-{r}", replay(batches[shift], r))
                                                          for r in range(args.replays)]
            for share in shares:
                off = simulate(manifest, calibration, stream, share, monitor_on=False,
                               store=Path(tmp) / f"{shift}-{share}-off.db")
                on = simulate(manifest, calibration, stream, share, monitor_on=True,
                              store=Path(tmp) / f"{shift}-{share}-on.db")
                affected = sorted(leaf for leaf, n in off["autos"].items()  # under what the monitor holds it to
                                  if n and (n - off["made"].get(leaf, 0)) / n < calibration.purity_floor(leaf))
                off_wrong = [off["made"].get(leaf, 0) for leaf in affected]
                on_wrong = [on["made"].get(leaf, 0) for leaf in affected]
                leaves_paused = sorted(k for k in on["paused"] if not k.startswith("batch:"))
                lots_paused = sum(k.startswith("batch:") for k in on["paused"])
                arm = {"affected": affected, "off": off, "on": on, "leaves_paused": leaves_paused,
                       "lots_paused": lots_paused}
                results["arms"][f"{shift}@{share}"] = arm
                lines.append(
                    f"| {shift} | {share:g} | {len(affected)} | {max(off_wrong, default=0)} / {sum(off_wrong)} | "
                    f"{max(on_wrong, default=0)} / {sum(on_wrong)} | {sum(on['left_auto_wrong'].values())} | "
                    f"{len(leaves_paused)} | {lots_paused} of {args.replays} |")
                log(lines[-1])
    results["table"] = lines
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "drift_drill.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_result(args.out, "drift_drill", args.quick, results, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
